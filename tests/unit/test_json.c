/* test_json.c: the strict JSON validator, json-c parsing, field access. */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"

/* A literal with its exact length, so embedded NULs and bytes count. */
#define L(s) s, sizeof(s) - 1

struct vcase {
	const char *in;
	size_t len;
	int want;
};

static const struct vcase validate_cases[] = {
	/* accepted */
	{ L("{}"), TX_JSON_OK },
	{ L("[]"), TX_JSON_OK },
	{ L(" \t\r\n{ } \n"), TX_JSON_OK },
	{ L("{\"a\":1}"), TX_JSON_OK },
	{ L("{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":[]}}"), TX_JSON_OK },
	{ L("{ \"a\" : [ true , false , null ] }"), TX_JSON_OK },
	{ L("{\"a\":1,\"a\":2}"), TX_JSON_OK },
	{ L("true"), TX_JSON_OK },
	{ L("false"), TX_JSON_OK },
	{ L("null"), TX_JSON_OK },
	{ L("0"), TX_JSON_OK },
	{ L("-0"), TX_JSON_OK },
	{ L("1.5"), TX_JSON_OK },
	{ L("-1.5e10"), TX_JSON_OK },
	{ L("1E+2"), TX_JSON_OK },
	{ L("0.0e-0"), TX_JSON_OK },
	{ L("1e-400"), TX_JSON_OK }, /* underflow to 0 is fine */
	{ L("[1.7976931348623157e308]"), TX_JSON_OK },
	{ L("1234567890123456789012345678901.5"), TX_JSON_OK },
	{ L("9223372036854775807"), TX_JSON_OK },
	{ L("-9223372036854775808"), TX_JSON_OK },
	{ L("\"\""), TX_JSON_OK },
	{ L("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), TX_JSON_OK },
	{ L("\"\\u00e9\\u20AC\""), TX_JSON_OK },
	{ L("\"\\ud83d\\ude00\""), TX_JSON_OK },
	{ L("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""), TX_JSON_OK },
	{ L("\"\xF4\x8F\xBF\xBF\""), TX_JSON_OK },
	{ L("\"\x7F\""), TX_JSON_OK },
	/* empty */
	{ L(""), TX_JSON_EEMPTY },
	{ L("   "), TX_JSON_EEMPTY },
	{ L("\n\t\r "), TX_JSON_EEMPTY },
	/* not JSON numbers or words */
	{ L("NaN"), TX_JSON_ESYNTAX },
	{ L("Infinity"), TX_JSON_ESYNTAX },
	{ L("-Infinity"), TX_JSON_ESYNTAX },
	{ L("{\"a\":NaN}"), TX_JSON_ESYNTAX },
	{ L("[-Infinity]"), TX_JSON_ESYNTAX },
	{ L("TRUE"), TX_JSON_ESYNTAX },
	{ L("True"), TX_JSON_ESYNTAX },
	{ L("nul"), TX_JSON_ESYNTAX },
	{ L("tru"), TX_JSON_ESYNTAX },
	{ L("nulll"), TX_JSON_ETRAILING },
	{ L("undefined"), TX_JSON_ESYNTAX },
	/* numbers out of range */
	{ L("1e400"), TX_JSON_ENUMBER },
	{ L("-1e400"), TX_JSON_ENUMBER },
	{ L("{\"a\":1e400}"), TX_JSON_ENUMBER },
	{ L("[1.8e308]"), TX_JSON_ENUMBER },
	{ L("123456789012345678901234567890"), TX_JSON_ENUMBER },
	{ L("{\"a\":123456789012345678901234567890}"), TX_JSON_ENUMBER },
	{ L("9223372036854775808"), TX_JSON_ENUMBER },
	{ L("-9223372036854775809"), TX_JSON_ENUMBER },
	{ L("18446744073709551616"), TX_JSON_ENUMBER },
	/* number grammar */
	{ L("[012]"), TX_JSON_ESYNTAX },
	{ L("01"), TX_JSON_ESYNTAX },
	{ L("-01"), TX_JSON_ESYNTAX },
	{ L("00"), TX_JSON_ESYNTAX },
	{ L("1."), TX_JSON_ESYNTAX },
	{ L("[1.]"), TX_JSON_ESYNTAX },
	{ L(".5"), TX_JSON_ESYNTAX },
	{ L("-"), TX_JSON_ESYNTAX },
	{ L("-a"), TX_JSON_ESYNTAX },
	{ L("+1"), TX_JSON_ESYNTAX },
	{ L("1e"), TX_JSON_ESYNTAX },
	{ L("1e+"), TX_JSON_ESYNTAX },
	{ L("[1e-]"), TX_JSON_ESYNTAX },
	{ L("0x10"), TX_JSON_ETRAILING },
	{ L("1.5.2"), TX_JSON_ETRAILING },
	/* strings: UTF-8 */
	{ L("\"\xFF\""), TX_JSON_EUTF8 },
	{ L("{\"a\":\"\xFF\"}"), TX_JSON_EUTF8 },
	{ L("{\"\xFF\":1}"), TX_JSON_EUTF8 },
	{ L("\"\xC0\xAF\""), TX_JSON_EUTF8 },
	{ L("\"\xC1\xBF\""), TX_JSON_EUTF8 },
	{ L("\"\xE0\x80\xAF\""), TX_JSON_EUTF8 },
	{ L("\"\xF0\x80\x80\xAF\""), TX_JSON_EUTF8 },
	{ L("\"\xED\xA0\x80\""), TX_JSON_EUTF8 },
	{ L("\"\xED\xBF\xBF\""), TX_JSON_EUTF8 },
	{ L("\"\xF4\x90\x80\x80\""), TX_JSON_EUTF8 },
	{ L("\"\xF5\x80\x80\x80\""), TX_JSON_EUTF8 },
	{ L("\"\x80\""), TX_JSON_EUTF8 },
	{ L("\"\xC3\""), TX_JSON_EUTF8 },
	{ L("\"\xE2\x82\""), TX_JSON_EUTF8 },
	{ L("\"\xC3\x28\""), TX_JSON_EUTF8 },
	{ L("\"\xE2\x82"), TX_JSON_EUTF8 }, /* sequence cut by the end */
	/* strings: escapes */
	{ L("\"\\ud800\""), TX_JSON_EUTF8 },
	{ L("\"\\uDBFF\""), TX_JSON_EUTF8 },
	{ L("\"\\udc00\""), TX_JSON_EUTF8 },
	{ L("\"\\ude00\\ud83d\""), TX_JSON_EUTF8 },
	{ L("\"\\ud800\\u0041\""), TX_JSON_EUTF8 },
	{ L("\"\\ud800\\ud800\""), TX_JSON_EUTF8 },
	{ L("\"\\ud800x\""), TX_JSON_EUTF8 },
	{ L("\"\\u0000\""), TX_JSON_EUTF8 },
	{ L("{\"a\\u0000\":1}"), TX_JSON_EUTF8 },
	{ L("\"\\ud800\\uZZZZ\""), TX_JSON_ESYNTAX },
	{ L("\"\\x41\""), TX_JSON_ESYNTAX },
	{ L("\"\\'\""), TX_JSON_ESYNTAX },
	{ L("\"\\u12\""), TX_JSON_ESYNTAX },
	{ L("\"\\u12G4\""), TX_JSON_ESYNTAX },
	{ L("\"\\"), TX_JSON_ESYNTAX },
	{ L("\"\\u00"), TX_JSON_ESYNTAX },
	{ L("\"\\\0\""), TX_JSON_ESYNTAX },
	/* strings: raw control characters */
	{ L("\"a\tb\""), TX_JSON_ESYNTAX },
	{ L("\"a\nb\""), TX_JSON_ESYNTAX },
	{ L("\"\x01\""), TX_JSON_ESYNTAX },
	{ L("\"\x1F\""), TX_JSON_ESYNTAX },
	{ L("\"a\0b\""), TX_JSON_ESYNTAX },
	/* trailing bytes */
	{ L("{} {}"), TX_JSON_ETRAILING },
	{ L("{\"a\":1} x"), TX_JSON_ETRAILING },
	{ L("{\"a\":1}xyz"), TX_JSON_ETRAILING },
	{ L("[]]"), TX_JSON_ETRAILING },
	{ L("{}}"), TX_JSON_ETRAILING },
	{ L("{}\0"), TX_JSON_ETRAILING },
	{ L("[1]//c"), TX_JSON_ETRAILING },
	{ L("1 2"), TX_JSON_ETRAILING },
	/* grammar */
	{ L("{'a':1}"), TX_JSON_ESYNTAX },
	{ L("{\"a\":'b'}"), TX_JSON_ESYNTAX },
	{ L("'a'"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1,}"), TX_JSON_ESYNTAX },
	{ L("[1,]"), TX_JSON_ESYNTAX },
	{ L("[,1]"), TX_JSON_ESYNTAX },
	{ L("[,]"), TX_JSON_ESYNTAX },
	{ L("{,}"), TX_JSON_ESYNTAX },
	{ L("[1,,2]"), TX_JSON_ESYNTAX },
	{ L("[1 2]"), TX_JSON_ESYNTAX },
	{ L("{a:1}"), TX_JSON_ESYNTAX },
	{ L("{1:2}"), TX_JSON_ESYNTAX },
	{ L("{\"a\" 1}"), TX_JSON_ESYNTAX },
	{ L("{\"a\"::1}"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1 \"b\":2}"), TX_JSON_ESYNTAX },
	{ L("{\"a\"}"), TX_JSON_ESYNTAX },
	{ L("[}"), TX_JSON_ESYNTAX },
	{ L("{]"), TX_JSON_ESYNTAX },
	{ L("[1}"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1]"), TX_JSON_ESYNTAX },
	{ L("]"), TX_JSON_ESYNTAX },
	{ L("}"), TX_JSON_ESYNTAX },
	{ L(":"), TX_JSON_ESYNTAX },
	{ L("/*x*/[1]"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1 /*c*/}"), TX_JSON_ESYNTAX },
	{ L("# c\n{}"), TX_JSON_ESYNTAX },
	{ L("\xEF\xBB\xBF{}"), TX_JSON_ESYNTAX }, /* BOM */
	{ L("\f{}"), TX_JSON_ESYNTAX },
	{ L("\v{}"), TX_JSON_ESYNTAX },
	{ L("\0"), TX_JSON_ESYNTAX },
	/* truncated */
	{ L("{"), TX_JSON_ESYNTAX },
	{ L("["), TX_JSON_ESYNTAX },
	{ L("{\"a\""), TX_JSON_ESYNTAX },
	{ L("{\"a\":"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1,"), TX_JSON_ESYNTAX },
	{ L("{\"a"), TX_JSON_ESYNTAX },
	{ L("[1,2"), TX_JSON_ESYNTAX },
	{ L("[[[]]"), TX_JSON_ESYNTAX },
	{ L("\"abc"), TX_JSON_ESYNTAX },
	{ L("\""), TX_JSON_ESYNTAX },
	{ L("fals"), TX_JSON_ESYNTAX },
};

/* Copy to a buffer of exactly len bytes (no NUL) so ASan catches any read
 * past the end. */
static int validate_exact(const char *in, size_t len, int depth)
{
	char *p = malloc(len ? len : 1);
	memcpy(p, in, len);
	int rc = tx_json_validate(p, len, depth);
	free(p);
	return rc;
}

START_TEST(validate_table)
{
	const struct vcase *c = &validate_cases[_i];
	int rc = validate_exact(c->in, c->len, TX_JSON_MAX_DEPTH);
	ck_assert_msg(rc == c->want, "case %d: got %d (%s), want %d (%s)", _i,
		      rc, tx_json_strerror(rc), c->want,
		      tx_json_strerror(c->want));
}
END_TEST

START_TEST(validate_respects_len)
{
	ck_assert_int_eq(tx_json_validate("{}garbage", 2, 32), TX_JSON_OK);
	ck_assert_int_eq(tx_json_validate("\"abc\"", 4, 32), TX_JSON_ESYNTAX);
	ck_assert_int_eq(tx_json_validate("123", 2, 32), TX_JSON_OK);
	ck_assert_int_eq(tx_json_validate("truex", 4, 32), TX_JSON_OK);
	ck_assert_int_eq(tx_json_validate("true", 3, 32), TX_JSON_ESYNTAX);
	ck_assert_int_eq(tx_json_validate("\"\\u1234\"", 6, 32),
			 TX_JSON_ESYNTAX);
	ck_assert_int_eq(tx_json_validate("1e5", 2, 32), TX_JSON_ESYNTAX);
	ck_assert_int_eq(tx_json_validate(NULL, 0, 32), TX_JSON_EEMPTY);
	ck_assert_int_eq(tx_json_validate("x", 0, 32), TX_JSON_EEMPTY);
}
END_TEST

/* n levels of '[' (or of {"a": when obj), a 1, and the closers. */
static char *nested(int n, bool obj, size_t *len)
{
	size_t open = obj ? 5 : 1, cap = (size_t)n * (open + 1) + 2;
	char *s = malloc(cap);
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		memcpy(s + k, obj ? "{\"a\":" : "[", open);
		k += open;
	}
	s[k++] = '1';
	for (int i = 0; i < n; i++)
		s[k++] = obj ? '}' : ']';
	*len = k;
	return s;
}

START_TEST(validate_depth)
{
	size_t len;
	for (int obj = 0; obj < 2; obj++) {
		char *s = nested(32, obj, &len);
		ck_assert_int_eq(validate_exact(s, len, 32), TX_JSON_OK);
		ck_assert_int_eq(validate_exact(s, len, 31), TX_JSON_EDEPTH);
		free(s);
		s = nested(33, obj, &len);
		ck_assert_int_eq(validate_exact(s, len, 32), TX_JSON_EDEPTH);
		ck_assert_int_eq(validate_exact(s, len, 100), TX_JSON_OK);
		free(s);
	}
	char *s = nested(100000, false, &len);
	ck_assert_int_eq(validate_exact(s, len, 32), TX_JSON_EDEPTH);
	ck_assert_int_eq(validate_exact(s, len, 200000), TX_JSON_OK);
	free(s);
	ck_assert_int_eq(tx_json_validate("[]", 2, 0), TX_JSON_EDEPTH);
	ck_assert_int_eq(tx_json_validate("1", 1, 0), TX_JSON_OK);
	/* siblings do not add depth */
	ck_assert_int_eq(tx_json_validate(L("[[],[],{},[[]]]"), 3), TX_JSON_OK);
	ck_assert_int_eq(tx_json_validate(L("[[],[],{},[[[]]]]"), 3),
			 TX_JSON_EDEPTH);
}
END_TEST

START_TEST(validate_long_number)
{
	/* longer than any local copy buffer: 0.000...1 and 1000...0.0 */
	char s[700];
	memset(s, '0', sizeof(s));
	s[1] = '.';
	s[sizeof(s) - 1] = '1';
	ck_assert_int_eq(validate_exact(s, sizeof(s), 32), TX_JSON_OK);
	s[0] = '1';
	s[1] = '0';
	s[sizeof(s) - 3] = '.';
	ck_assert_int_eq(validate_exact(s, sizeof(s), 32), TX_JSON_ENUMBER);
	s[0] = '0';
	ck_assert_int_eq(validate_exact(s, sizeof(s), 32), TX_JSON_ESYNTAX);
}
END_TEST

START_TEST(strerror_names)
{
	for (int e = TX_JSON_EEMPTY; e <= TX_JSON_OK; e++)
		ck_assert_str_ne(tx_json_strerror(e), "unknown error");
	ck_assert_str_eq(tx_json_strerror(-100), "unknown error");
	ck_assert_str_eq(tx_json_strerror(TX_JSON_EDEPTH), "nesting too deep");
}
END_TEST

struct pcase {
	const char *in;
	size_t len;
	int want;
};

static const struct pcase parse_cases[] = {
	{ L("{}"), TX_JSON_OK },
	{ L("  {\"a\":1}  \n"), TX_JSON_OK },
	{ L("{\"a\":[1,{\"b\":\"c\"}],\"d\":1e-400}"), TX_JSON_OK },
	{ L("[]"), TX_JSON_ENOTOBJECT },
	{ L("[{}]"), TX_JSON_ENOTOBJECT },
	{ L("1"), TX_JSON_ENOTOBJECT },
	{ L("\"x\""), TX_JSON_ENOTOBJECT },
	{ L("null"), TX_JSON_ENOTOBJECT },
	{ L("true"), TX_JSON_ENOTOBJECT },
	{ L(""), TX_JSON_EEMPTY },
	{ L("{} {}"), TX_JSON_ETRAILING },
	{ L("{\"a\":1} x"), TX_JSON_ETRAILING },
	{ L("{'a':1}"), TX_JSON_ESYNTAX },
	{ L("{\"a\":NaN}"), TX_JSON_ESYNTAX },
	{ L("{\"a\":1e400}"), TX_JSON_ENUMBER },
	{ L("{\"a\":123456789012345678901234567890}"), TX_JSON_ENUMBER },
	{ L("{\"a\":\"\xFF\"}"), TX_JSON_EUTF8 },
	{ L("{\"a\":\"\xC0\xAF\"}"), TX_JSON_EUTF8 },
	{ L("{\"a\":\"\\ud800\"}"), TX_JSON_EUTF8 },
	{ L("{\"a\":\"\\u0000\"}"), TX_JSON_EUTF8 },
	{ L("{\"a\":1"), TX_JSON_ESYNTAX },
};

START_TEST(parse_table)
{
	const struct pcase *c = &parse_cases[_i];
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o = (struct json_object *)1;
	int rc = tx_json_parse_object(a, c->in, c->len, &o);
	ck_assert_msg(rc == c->want, "case %d: got %d, want %d", _i, rc,
		      c->want);
	if (rc == 0)
		ck_assert(json_object_is_type(o, json_type_object));
	else
		ck_assert_ptr_null(o);
	tx_arena_free(a);
}
END_TEST

START_TEST(parse_depth_with_jsonc)
{
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o;
	size_t len;
	char *s = nested(32, true, &len);
	ck_assert_int_eq(tx_json_parse_object(a, s, len, &o), TX_JSON_OK);
	free(s);
	s = nested(33, true, &len);
	ck_assert_int_eq(tx_json_parse_object(a, s, len, &o), TX_JSON_EDEPTH);
	free(s);
	tx_arena_free(a);
}
END_TEST

START_TEST(parse_values_and_arena_release)
{
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o, *v;
	const char *in = "{\"s\":\"caf\\u00e9 \\ud83d\\ude00\",\"i\":-42,"
			 "\"a\":\"1\",\"a\":\"2\"}";
	ck_assert_int_eq(tx_json_parse_object(a, in, strlen(in), &o), 0);
	ck_assert(json_object_object_get_ex(o, "s", &v));
	ck_assert_str_eq(json_object_get_string(v),
			 "caf\xC3\xA9 \xF0\x9F\x98\x80");
	ck_assert(json_object_object_get_ex(o, "i", &v));
	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_eq(json_object_get_int64(v), -42);
	ck_assert(json_object_object_get_ex(o, "a", &v));
	ck_assert_str_eq(json_object_get_string(v), "2");
	/* not NUL-terminated input */
	char raw[7] = { '{', '"', 'k', '"', ':', '7', '}' };
	ck_assert_int_eq(tx_json_parse_object(a, raw, sizeof(raw), &o), 0);
	ck_assert(json_object_object_get_ex(o, "k", &v));
	ck_assert_int_eq(json_object_get_int(v), 7);
	tx_arena_reset(a); /* puts both objects; LeakSanitizer would see */
	tx_arena_free(a);
}
END_TEST

struct fcase {
	const char *key, *want;
};

static const char field_doc[] =
	"{\"s\":\"abc\",\"e\":\"\",\"n\":null,\"t\":true,\"f\":false,"
	"\"i\":42,\"neg\":-7,\"i0\":0,\"imin\":-9223372036854775808,"
	"\"d\":10.5,\"big\":1e21,\"big20\":1e20,\"h\":100.0,\"nd\":-2.5,"
	"\"nz\":-0.0,\"third\":0.3333333333333333,\"tenth\":0.1,"
	"\"u6\":0.000001,\"u7\":1e-7,\"u7b\":1.5e-7,\"dmin\":5e-324,"
	"\"dmax\":1.7976931348623157e308,\"e18\":123e-20,\"pi\":3.14159,"
	"\"x21\":123456789012345678901.5,\"g\":1.23456789e25,"
	"\"arr\":[1,\"a\",null,[2,3],{\"x\":1},true,1.5],\"ea\":[],"
	"\"an\":[null],\"o\":{\"x\":1},\"eo\":{},\"uni\":\"\\u00e9\"}";

static const struct fcase field_cases[] = {
	{ "s", "abc" },
	{ "e", "" },
	{ "n", "" },
	{ "missing", "" },
	{ "t", "true" },
	{ "f", "false" },
	{ "i", "42" },
	{ "neg", "-7" },
	{ "i0", "0" },
	{ "imin", "-9223372036854775808" },
	{ "d", "10.5" },
	{ "big", "1e+21" },
	{ "big20", "100000000000000000000" },
	{ "h", "100" },
	{ "nd", "-2.5" },
	{ "nz", "0" },
	{ "third", "0.3333333333333333" },
	{ "tenth", "0.1" },
	{ "u6", "0.000001" },
	{ "u7", "1e-7" },
	{ "u7b", "1.5e-7" },
	{ "dmin", "5e-324" },
	{ "dmax", "1.7976931348623157e+308" },
	{ "e18", "1.23e-18" },
	{ "pi", "3.14159" },
	{ "x21", "123456789012345680000" },
	{ "g", "1.23456789e+25" },
	{ "arr", "1,a,,2,3,[object Object],true,1.5" },
	{ "ea", "" },
	{ "an", "" },
	{ "o", "[object Object]" },
	{ "eo", "[object Object]" },
	{ "uni", "\xC3\xA9" },
};

START_TEST(field_str_table)
{
	const struct fcase *c = &field_cases[_i];
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o;
	ck_assert_int_eq(
		tx_json_parse_object(a, field_doc, sizeof(field_doc) - 1, &o),
		0);
	bool nul = true;
	const char *got = tx_json_field_str(a, o, c->key, &nul);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strcmp(got, c->want) == 0, "%s: got '%s', want '%s'",
		      c->key, got, c->want);
	ck_assert(!nul);
	tx_arena_free(a);
}
END_TEST

START_TEST(field_str_nul_and_null_object)
{
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "z", json_object_new_string_len("a\0b", 3));
	struct json_object *arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string_len("x\0y", 3));
	json_object_object_add(o, "za", arr);
	bool nul = false;
	ck_assert_str_eq(tx_json_field_str(a, o, "z", &nul), "a");
	ck_assert(nul);
	nul = false;
	ck_assert_str_eq(tx_json_field_str(a, o, "za", &nul), "x");
	ck_assert(nul);
	ck_assert_str_eq(tx_json_field_str(a, o, "z", NULL), "a");
	ck_assert_str_eq(tx_json_field_str(a, NULL, "z", &nul), "");
	ck_assert(!nul);
	json_object_put(o);
	tx_arena_free(a);
}
END_TEST

START_TEST(field_present)
{
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o;
	ck_assert_int_eq(
		tx_json_parse_object(a, field_doc, sizeof(field_doc) - 1, &o),
		0);
	ck_assert(tx_json_field_present(o, "s"));
	ck_assert(tx_json_field_present(o, "e"));
	ck_assert(tx_json_field_present(o, "i"));
	ck_assert(tx_json_field_present(o, "d"));
	ck_assert(!tx_json_field_present(o, "n"));
	ck_assert(!tx_json_field_present(o, "missing"));
	ck_assert(!tx_json_field_present(o, "t"));
	ck_assert(!tx_json_field_present(o, "arr"));
	ck_assert(!tx_json_field_present(o, "o"));
	ck_assert(!tx_json_field_present(NULL, "s"));
	tx_arena_free(a);
}
END_TEST

/* A request field of the wrong JSON type reads as missing (""), so that
 * its own validation reports it: price [5] is not 5, title ["a"] not
 * "a", password true not "true". Strings and numbers read as before. */
START_TEST(field_value_refuses_wrong_types)
{
	static const struct {
		const char *key, *want;
	} cases[] = {
		{ "s", "abc" },   { "i", "42" },  { "d", "10.5" }, { "h", "100" },
		{ "n", "" },	  { "missing", "" }, { "t", "" },   { "f", "" },
		{ "arr", "" },	  { "ea", "" },	  { "an", "" },	    { "o", "" },
		{ "eo", "" },
	};
	struct tx_arena *a = tx_arena_new(1024);
	struct json_object *o;
	ck_assert_int_eq(tx_json_parse_object(a, field_doc, sizeof(field_doc) - 1, &o), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool nul = true;
		const char *got = tx_json_field_value(a, o, cases[i].key, &nul);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: got '%s', want '%s'",
			      cases[i].key, got, cases[i].want);
		ck_assert(!nul);
	}
	const char one[] = "{\"price\":[5],\"title\":[\"a\"]}";
	ck_assert_int_eq(tx_json_parse_object(a, one, sizeof(one) - 1, &o), 0);
	ck_assert_str_eq(tx_json_field_value(a, o, "price", NULL), "");
	ck_assert_str_eq(tx_json_field_value(a, o, "title", NULL), "");
	tx_arena_free(a);
}
END_TEST

#define N(t) ((int)(sizeof(t) / sizeof((t)[0])))

Suite *suite_json(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("validate");
	tcase_add_loop_test(tc, validate_table, 0, N(validate_cases));
	tcase_add_test(tc, validate_respects_len);
	tcase_add_test(tc, validate_depth);
	tcase_add_test(tc, validate_long_number);
	tcase_add_test(tc, strerror_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_loop_test(tc, parse_table, 0, N(parse_cases));
	tcase_add_test(tc, parse_depth_with_jsonc);
	tcase_add_test(tc, parse_values_and_arena_release);
	suite_add_tcase(s, tc);
	tc = tcase_create("fields");
	tcase_add_loop_test(tc, field_str_table, 0, N(field_cases));
	tcase_add_test(tc, field_str_nul_and_null_object);
	tcase_add_test(tc, field_present);
	tcase_add_test(tc, field_value_refuses_wrong_types);
	suite_add_tcase(s, tc);
	return s;
}
