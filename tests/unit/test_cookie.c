/* test_cookie.c: reading Cookie headers and formatting Set-Cookie values. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/cookie.h"

#define N(t) ((int)(sizeof(t) / sizeof((t)[0])))

struct getcase {
	const char *header, *name, *want; /* want NULL: absent */
};

static const struct getcase get_cases[] = {
	{ "a=1; b=2", "a", "1" },
	{ "a=1; b=2", "b", "2" },
	{ "a=1;b=2", "b", "2" },
	{ "a=1;\tb=2\t", "b", "2" },
	{ "  session = abc ; x=y", "session", "abc" },
	{ "session=\"quoted\"", "session", "quoted" },
	{ "session= \"q v\" ;x=1", "session", "q v" },
	{ "s=\"", "s", "\"" },
	{ "s=\"\"", "s", "" },
	{ "s=\"abc", "s", "\"abc" },
	{ "a=1", "b", NULL },
	{ "", "a", NULL },
	{ ";;;", "a", NULL },
	{ NULL, "a", NULL },
	{ "a=1", "", NULL },
	{ "a=1", NULL, NULL },
	{ "xa=1; a=2", "a", "2" },
	{ "ab=1; a=2", "a", "2" },
	{ "a=1; a=2", "a", "1" },
	{ "a; b=2", "b", "2" },
	{ "a", "a", NULL },
	{ "a=", "a", "" },
	{ "a=;b=1", "a", "" },
	{ "a=x=y", "a", "x=y" },
	{ "A=1", "a", NULL },
	{ "b=1;;a=2;", "a", "2" },
	{ "b=a=1; a=2", "a", "2" },
	{ "session=eyJhbGciOi.J9x_y-z; csrf=tok%3D", "csrf", "tok%3D" },
	{ "session=eyJhbGciOi.J9x_y-z; csrf=tok%3D", "session",
	  "eyJhbGciOi.J9x_y-z" },
};

START_TEST(get_table)
{
	const struct getcase *c = &get_cases[_i];
	struct tx_arena *a = tx_arena_new(256);
	const char *got = tx_cookie_get(a, c->header, c->name);
	if (!c->want)
		ck_assert_msg(got == NULL, "case %d: got '%s'", _i, got);
	else
		ck_assert_msg(got && strcmp(got, c->want) == 0,
			      "case %d: got '%s'", _i, got ? got : "(null)");
	tx_arena_free(a);
}
END_TEST

/* "a=1; pad=xxx..." exactly total bytes long. */
static char *padded_header(size_t total)
{
	char *h = malloc(total + 1);
	memset(h, 'x', total);
	memcpy(h, "a=1; pad=", 9);
	h[total] = '\0';
	return h;
}

START_TEST(get_oversize)
{
	struct tx_arena *a = tx_arena_new(256);
	char *h = padded_header(TX_COOKIE_MAX_HEADER);
	ck_assert_str_eq(tx_cookie_get(a, h, "a"), "1");
	free(h);
	h = padded_header(TX_COOKIE_MAX_HEADER + 1);
	ck_assert_ptr_null(tx_cookie_get(a, h, "a"));
	free(h);
	h = padded_header(TX_COOKIE_MAX_HEADER * 4);
	ck_assert_ptr_null(tx_cookie_get(a, h, "a"));
	free(h);
	/* value bounds: "v=" + value */
	char *v = malloc(TX_COOKIE_MAX_VALUE + 4);
	memcpy(v, "v=", 2);
	memset(v + 2, 'y', TX_COOKIE_MAX_VALUE + 1);
	v[TX_COOKIE_MAX_VALUE + 3] = '\0';
	ck_assert_ptr_null(tx_cookie_get(a, v, "v"));
	v[TX_COOKIE_MAX_VALUE + 2] = '\0';
	const char *got = tx_cookie_get(a, v, "v");
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), TX_COOKIE_MAX_VALUE);
	free(v);
	tx_arena_free(a);
}
END_TEST

struct fmtcase {
	const char *name, *value;
	struct tx_cookie_opts o;
	const char *want; /* NULL: refused */
};

#define CLEARED "session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT"

static const struct fmtcase fmt_cases[] = {
	{ "session", "abc", { false, false, true, true },
	  "session=abc; path=/; samesite=lax; httponly" },
	{ "session", "abc", { true, false, true, true },
	  "session=abc; path=/; samesite=lax; httponly; secure" },
	{ "session", "abc", { false, false, false, false },
	  "session=abc; path=/" },
	{ "session", "abc", { true, false, false, false },
	  "session=abc; path=/; secure" },
	{ "session", "abc", { false, false, false, true },
	  "session=abc; path=/; httponly" },
	{ "session", "abc", { false, false, true, false },
	  "session=abc; path=/; samesite=lax" },
	{ "session", "", { false, false, false, false }, "session=; path=/" },
	{ "s", "a.b-c_d~e=", { false, false, false, false },
	  "s=a.b-c_d~e=; path=/" },
	{ "session", NULL, { false, true, true, true }, CLEARED "; httponly" },
	{ "session", "ignored", { false, true, false, false },
	  CLEARED "; httponly" },
	{ "session", "", { true, true, true, true },
	  CLEARED "; httponly; secure" },
	/* refused */
	{ "session", "a;b", { false, false, false, false }, NULL },
	{ "session", "a b", { false, false, false, false }, NULL },
	{ "session", "a,b", { false, false, false, false }, NULL },
	{ "session", "a\"b", { false, false, false, false }, NULL },
	{ "session", "a\\b", { false, false, false, false }, NULL },
	{ "session", "x\r\nSet-Cookie: y=1", { false, false, false, false },
	  NULL },
	{ "session", "\xC3\xA9", { false, false, false, false }, NULL },
	{ "session", NULL, { false, false, false, false }, NULL },
	{ "", "v", { false, false, false, false }, NULL },
	{ NULL, "v", { false, false, false, false }, NULL },
	{ "a=b", "v", { false, false, false, false }, NULL },
	{ "a;b", "v", { false, true, false, false }, NULL },
};

START_TEST(format_table)
{
	const struct fmtcase *c = &fmt_cases[_i];
	struct tx_arena *a = tx_arena_new(256);
	char *got = tx_cookie_format(a, c->name, c->value, &c->o);
	if (!c->want)
		ck_assert_msg(got == NULL, "case %d: got '%s'", _i, got);
	else
		ck_assert_msg(got && strcmp(got, c->want) == 0,
			      "case %d: got '%s'", _i, got ? got : "(null)");
	tx_arena_free(a);
}
END_TEST

START_TEST(format_defaults_and_roundtrip)
{
	struct tx_arena *a = tx_arena_new(256);
	ck_assert_str_eq(tx_cookie_format(a, "a", "b", NULL), "a=b; path=/");
	struct tx_cookie_opts o = { .samesite_lax = true, .httponly = true };
	char *set = tx_cookie_format(a, "session", "t0k.en", &o);
	/* the part before the first ';' reads back as a Cookie header */
	char *semi = strchr(set, ';');
	*semi = '\0';
	ck_assert_str_eq(tx_cookie_get(a, set, "session"), "t0k.en");
	tx_arena_free(a);
}
END_TEST

START_TEST(value_ok)
{
	ck_assert(tx_cookie_value_ok(""));
	ck_assert(tx_cookie_value_ok("abcXYZ019!#$%&'()*+-./:<=>?@[]^_`{|}~"));
	ck_assert(!tx_cookie_value_ok(NULL));
	const char *bad[] = { " ", "\"", ",", ";", "\\", "\x7F", "\x1F",
			      "\t", "\xC3\xA9", "\r", "\n" };
	for (int i = 0; i < N(bad); i++)
		ck_assert_msg(!tx_cookie_value_ok(bad[i]), "bad %d", i);
	char *big = malloc(TX_COOKIE_MAX_VALUE + 2);
	memset(big, 'a', TX_COOKIE_MAX_VALUE + 1);
	big[TX_COOKIE_MAX_VALUE + 1] = '\0';
	ck_assert(!tx_cookie_value_ok(big));
	big[TX_COOKIE_MAX_VALUE] = '\0';
	ck_assert(tx_cookie_value_ok(big));
	free(big);
}
END_TEST

Suite *suite_cookie(void)
{
	Suite *s = suite_create("cookie");
	TCase *tc = tcase_create("cookie");
	tcase_add_loop_test(tc, get_table, 0, N(get_cases));
	tcase_add_test(tc, get_oversize);
	tcase_add_loop_test(tc, format_table, 0, N(fmt_cases));
	tcase_add_test(tc, format_defaults_and_roundtrip);
	tcase_add_test(tc, value_ok);
	suite_add_tcase(s, tc);
	return s;
}
