/* test_buf.c: the capped buffer and the arena. */
#include <check.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"

START_TEST(buf_empty_is_terminated)
{
	struct tx_buf b = TX_BUF_INIT(16);
	ck_assert_ptr_nonnull(b.buf);
	ck_assert_str_eq(b.buf, "");
	tx_buf_release(&b);
}
END_TEST

START_TEST(buf_cap_is_enforced)
{
	struct tx_buf b = TX_BUF_INIT(8);
	ck_assert_int_eq(tx_buf_adds(&b, "12345678"), 0);
	ck_assert_int_eq(tx_buf_addch(&b, '9'), -1);
	ck_assert(b.toobig);
	ck_assert_str_eq(b.buf, "12345678");
	ck_assert_int_eq(tx_buf_adds(&b, ""), -1); /* sticky until reset */
	tx_buf_reset(&b);
	ck_assert_int_eq(tx_buf_addf(&b, "%d-%s", 42, "x"), 0);
	ck_assert_str_eq(b.buf, "42-x");
	tx_buf_reset(&b);
	ck_assert_int_eq(tx_buf_add_int(&b, -7), 0);
	ck_assert_int_eq(tx_buf_add_int(&b, 0), 0);
	ck_assert_int_eq(tx_buf_add_int(&b, 905), 0);
	ck_assert_str_eq(b.buf, "-70905");
	ck_assert_int_eq(tx_buf_add_int(&b, -9223372036854775807LL - 1), -1); /* cap 8 */
	tx_buf_release(&b);
}
END_TEST

START_TEST(buf_long_printf)
{
	struct tx_buf b = TX_BUF_INIT(0);
	char big[1000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(tx_buf_addf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, 1001);
	ck_assert_int_eq(b.buf[1000], '>');
	tx_buf_release(&b);
}
END_TEST

START_TEST(buf_json_and_html_escape)
{
	struct tx_buf b = TX_BUF_INIT(0);
	tx_buf_add_json_str(&b, "a\"b\\c\n\x01</");
	ck_assert_str_eq(b.buf, "a\\\"b\\\\c\\n\\u0001</");
	tx_buf_reset(&b);
	tx_buf_add_html(&b, "<img src=x onerror='a'>&\"");
	ck_assert_str_eq(b.buf, "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;");
	tx_buf_release(&b);
}
END_TEST

static int cleanups_run;
static void count_cleanup(void *p)
{
	(void)p;
	cleanups_run++;
}

START_TEST(arena_grows_and_resets)
{
	struct tx_arena *a = tx_arena_new(1024);
	char *s = tx_arena_strdup(a, "hello");
	ck_assert_str_eq(s, "hello");
	for (int i = 0; i < 100; i++) {
		char *p = tx_arena_alloc(a, 500);
		memset(p, 'x', 500);
		ck_assert_uint_eq((unsigned long)p % 16, 0);
	}
	ck_assert_str_eq(tx_arena_printf(a, "%s-%d", "n", 7), "n-7");
	tx_arena_defer(a, count_cleanup, NULL);
	tx_arena_defer(a, count_cleanup, NULL);
	cleanups_run = 0;
	tx_arena_reset(a);
	ck_assert_int_eq(cleanups_run, 2);
	ck_assert_uint_eq(tx_arena_used(a), 0);
	tx_arena_free(a);
}
END_TEST

Suite *suite_buf(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, buf_empty_is_terminated);
	tcase_add_test(tc, buf_cap_is_enforced);
	tcase_add_test(tc, buf_long_printf);
	tcase_add_test(tc, buf_json_and_html_escape);
	tcase_add_test(tc, arena_grows_and_resets);
	suite_add_tcase(s, tc);
	return s;
}
