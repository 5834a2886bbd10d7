/* test_form.c: form bodies, percent-decoding and UTF-8 validation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/form.h"

#define L(s) s, sizeof(s) - 1
#define N(t) ((int)(sizeof(t) / sizeof((t)[0])))

struct formcase {
	const char *in;
	size_t len;
	int rc;
	const char *want; /* decoded pairs as "name=value|name=value" */
};

static const struct formcase form_cases[] = {
	{ L("a=1&b=x+y&c=%C3%A9"), 0, "a=1|b=x y|c=\xC3\xA9" },
	{ L(""), 0, "" },
	{ L("&&&"), 0, "" },
	{ L("a=1&&b=2"), 0, "a=1|b=2" },
	{ L("&a=1&"), 0, "a=1" },
	{ L("a"), 0, "a=" },
	{ L("a="), 0, "a=" },
	{ L("=x"), 0, "=x" },
	{ L("="), 0, "=" },
	{ L("a=b=c"), 0, "a=b=c" },
	{ L("a=1&a=2"), 0, "a=1|a=2" },
	{ L("%41%42=%7e%7E"), 0, "AB=~~" },
	{ L("a=%2B+%20"), 0, "a=+  " },
	{ L("a+b=c+d"), 0, "a b=c d" },
	{ L("a=%26%3D"), 0, "a=&=" },
	{ L("a=%F0%9F%98%80"), 0, "a=\xF0\x9F\x98\x80" },
	{ L("a=\xC3\xA9"), 0, "a=\xC3\xA9" },
	{ L("a=;b"), 0, "a=;b" },
	/* bad escapes */
	{ L("a=%"), -1, NULL },
	{ L("a=%4"), -1, NULL },
	{ L("a=%zz"), -1, NULL },
	{ L("a=%4g"), -1, NULL },
	{ L("a=%g4"), -1, NULL },
	{ L("%=1"), -1, NULL },
	{ L("a=1&b=%"), -1, NULL },
	{ L("a=%%41"), -1, NULL },
	{ L("a=% 4"), -1, NULL },
	/* NUL */
	{ L("a=%00"), -1, NULL },
	{ L("%00=a"), -1, NULL },
	{ L("a=x\0y"), -1, NULL },
	/* bad UTF-8 after decoding */
	{ L("a=%FF"), -1, NULL },
	{ L("a=%C0%AF"), -1, NULL },
	{ L("a=%ED%A0%80"), -1, NULL },
	{ L("a=%F4%90%80%80"), -1, NULL },
	{ L("a=%C3"), -1, NULL },
	{ L("a=\xFF"), -1, NULL },
	{ L("%E9=1"), -1, NULL },
};

static char *join_fields(const struct tx_form *f)
{
	struct tx_buf b = TX_BUF_INIT(0);
	for (size_t i = 0; i < f->n; i++)
		tx_buf_addf(&b, "%s%s=%s", i ? "|" : "", f->fields[i].name,
			    f->fields[i].value);
	char *s = strdup(b.buf);
	tx_buf_release(&b);
	return s;
}

START_TEST(form_table)
{
	const struct formcase *c = &form_cases[_i];
	struct tx_arena *a = tx_arena_new(256);
	char *p = malloc(c->len ? c->len : 1); /* exact size, no NUL */
	memcpy(p, c->in, c->len);
	struct tx_form f = { (struct tx_form_field *)1, 99 };
	int rc = tx_form_parse(a, p, c->len, TX_FORM_MAX_FIELDS, &f);
	ck_assert_msg(rc == c->rc, "case %d: rc %d", _i, rc);
	if (rc == 0) {
		char *got = join_fields(&f);
		ck_assert_msg(strcmp(got, c->want) == 0, "case %d: '%s'", _i,
			      got);
		free(got);
	} else {
		ck_assert_ptr_null(f.fields);
		ck_assert_uint_eq(f.n, 0);
	}
	free(p);
	tx_arena_free(a);
}
END_TEST

/* "f0=0&f1=1&..." with n fields, and empty pairs in between. */
static char *many_fields(size_t n)
{
	struct tx_buf b = TX_BUF_INIT(0);
	for (size_t i = 0; i < n; i++)
		tx_buf_addf(&b, "&&f%zu=%zu", i, i);
	char *s = strdup(b.buf);
	tx_buf_release(&b);
	return s;
}

START_TEST(form_max_fields)
{
	struct tx_arena *a = tx_arena_new(256);
	struct tx_form f;
	char *s = many_fields(TX_FORM_MAX_FIELDS);
	ck_assert_int_eq(tx_form_parse(a, s, strlen(s), TX_FORM_MAX_FIELDS, &f),
			 0);
	ck_assert_uint_eq(f.n, TX_FORM_MAX_FIELDS);
	ck_assert_str_eq(tx_form_get(&f, "f63"), "63");
	free(s);
	s = many_fields(TX_FORM_MAX_FIELDS + 1);
	ck_assert_int_eq(tx_form_parse(a, s, strlen(s), TX_FORM_MAX_FIELDS, &f),
			 -1);
	ck_assert_uint_eq(f.n, 0);
	free(s);
	ck_assert_int_eq(tx_form_parse(a, L("a&b&c"), 2, &f), -1);
	ck_assert_int_eq(tx_form_parse(a, L("a&&b&"), 2, &f), 0);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_int_eq(tx_form_parse(a, L("a"), 0, &f), -1);
	ck_assert_int_eq(tx_form_parse(a, L("&"), 0, &f), 0);
	tx_arena_free(a);
}
END_TEST

START_TEST(form_get_first_wins)
{
	struct tx_arena *a = tx_arena_new(256);
	struct tx_form f;
	ck_assert_int_eq(tx_form_parse(a, L("a=1&b&a=2"), 8, &f), 0);
	ck_assert_str_eq(tx_form_get(&f, "a"), "1");
	ck_assert_str_eq(tx_form_get(&f, "b"), "");
	ck_assert_ptr_null(tx_form_get(&f, "c"));
	ck_assert_ptr_null(tx_form_get(&f, "A"));
	struct tx_form empty = { NULL, 0 };
	ck_assert_ptr_null(tx_form_get(&empty, "a"));
	ck_assert_int_eq(tx_form_parse(a, NULL, 0, 8, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	/* len bounds the input */
	ck_assert_int_eq(tx_form_parse(a, "a=1&b=%zz", 3, 8, &f), 0);
	ck_assert_str_eq(tx_form_get(&f, "a"), "1");
	tx_arena_free(a);
}
END_TEST

struct deccase {
	const char *in;
	size_t len;
	bool plus;
	int rc;
	const char *want;
};

static const struct deccase decode_cases[] = {
	{ L(""), true, 0, "" },
	{ L("abc"), true, 0, "abc" },
	{ L("a+b"), true, 0, "a b" },
	{ L("a+b"), false, 0, "a+b" },
	{ L("%2B"), false, 0, "+" },
	{ L("%2f%2F"), false, 0, "//" },
	{ L("%e2%82%ac"), true, 0, "\xE2\x82\xAC" },
	{ L("%"), true, -1, NULL },
	{ L("ab%"), false, -1, NULL },
	{ L("ab%2"), false, -1, NULL },
	{ L("%x1"), false, -1, NULL },
	{ L("%00"), false, -1, NULL },
	{ L("a\0"), false, -1, NULL },
	{ L("%ff"), false, -1, NULL },
	{ L("%C0%80"), false, -1, NULL },
	{ L("%ED%BF%BF"), false, -1, NULL },
};

START_TEST(decode_table)
{
	const struct deccase *c = &decode_cases[_i];
	struct tx_arena *a = tx_arena_new(256);
	char *p = malloc(c->len ? c->len : 1);
	memcpy(p, c->in, c->len);
	char *out = (char *)1;
	int rc = tx_url_decode(a, p, c->len, c->plus, &out);
	ck_assert_msg(rc == c->rc, "case %d: rc %d", _i, rc);
	if (rc == 0)
		ck_assert_str_eq(out, c->want);
	else
		ck_assert_ptr_null(out);
	free(p);
	tx_arena_free(a);
}
END_TEST

struct utf8case {
	const char *in;
	size_t len;
	bool ok;
};

static const struct utf8case utf8_cases[] = {
	{ L(""), true },
	{ L("abc"), true },
	{ L("a\0b"), true },
	{ L("\x7F"), true },
	{ L("\xC2\x80"), true },
	{ L("\xC3\xA9"), true },
	{ L("\xDF\xBF"), true },
	{ L("\xE0\xA0\x80"), true },
	{ L("\xE2\x82\xAC"), true },
	{ L("\xED\x9F\xBF"), true }, /* U+D7FF */
	{ L("\xEE\x80\x80"), true }, /* U+E000 */
	{ L("\xEF\xBF\xBF"), true },
	{ L("\xF0\x90\x80\x80"), true },
	{ L("\xF0\x9F\x98\x80"), true },
	{ L("\xF4\x8F\xBF\xBF"), true }, /* U+10FFFF */
	{ L("\x80"), false },
	{ L("\xBF"), false },
	{ L("\xC0\x80"), false },
	{ L("\xC0\xAF"), false },
	{ L("\xC1\xBF"), false },
	{ L("\xE0\x80\xAF"), false },
	{ L("\xE0\x9F\xBF"), false },
	{ L("\xED\xA0\x80"), false },
	{ L("\xED\xBF\xBF"), false },
	{ L("\xF0\x8F\xBF\xBF"), false },
	{ L("\xF4\x90\x80\x80"), false },
	{ L("\xF5\x80\x80\x80"), false },
	{ L("\xF8\x88\x80\x80\x80"), false },
	{ L("\xFE"), false },
	{ L("\xFF"), false },
	{ L("\xC3"), false },
	{ L("\xE2\x82"), false },
	{ L("\xF0\x9F\x98"), false },
	{ L("\xC3\x28"), false },
	{ L("\xE2\x28\xA1"), false },
	{ L("\xE2\x82\x28"), false },
	{ L("ok\xC3\xA9then\xFF"), false },
};

START_TEST(utf8_table)
{
	const struct utf8case *c = &utf8_cases[_i];
	char *p = malloc(c->len ? c->len : 1);
	memcpy(p, c->in, c->len);
	ck_assert_msg(tx_utf8_valid(p, c->len) == c->ok, "case %d", _i);
	free(p);
}
END_TEST

Suite *suite_form(void)
{
	Suite *s = suite_create("form");
	TCase *tc = tcase_create("form");
	tcase_add_loop_test(tc, form_table, 0, N(form_cases));
	tcase_add_test(tc, form_max_fields);
	tcase_add_test(tc, form_get_first_wins);
	tcase_add_loop_test(tc, decode_table, 0, N(decode_cases));
	tcase_add_loop_test(tc, utf8_table, 0, N(utf8_cases));
	suite_add_tcase(s, tc);
	return s;
}
