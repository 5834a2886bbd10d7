/* json.c: a strict RFC 8259 validator in front of json-c, and field access.
 *
 * The validator is iterative: a stack of open containers ('{' or '[') at
 * most max_depth deep replaces recursion, so hostile nesting costs neither C
 * stack nor more than max_depth bytes. It reads bytes only through the scan
 * cursor, which never passes end; the input need not be NUL-terminated.
 * Only after it has accepted a body does json-c see it, and json-c then
 * never meets NaN, huge numbers, lone surrogates or trailing garbage.
 */
#include "core/json.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/form.h"
#include "core/mem.h"

#define TX_JSON_ERRORS(X)                                   \
	X(TX_JSON_OK, "ok")                                 \
	X(TX_JSON_ESYNTAX, "syntax error")                  \
	X(TX_JSON_EDEPTH, "nesting too deep")               \
	X(TX_JSON_EUTF8, "invalid string content")          \
	X(TX_JSON_ENUMBER, "number out of range")           \
	X(TX_JSON_ETRAILING, "trailing characters")         \
	X(TX_JSON_ENOTOBJECT, "top-level value not object") \
	X(TX_JSON_EEMPTY, "empty body")

#define STACK_LOCAL 64
#define NUM_LOCAL 128

struct scan {
	const unsigned char *p, *end;
	char *stack; /* '{' or '[' per open container */
	int depth, max_depth;
};

const char *tx_json_strerror(int err)
{
#define X(code, msg) \
	if (err == code) \
		return msg;
	TX_JSON_ERRORS(X)
#undef X
	return "unknown error";
}

static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The next byte after whitespace, consumed; -1 at the end. */
static int next_nonws(struct scan *sc)
{
	while (sc->p < sc->end && is_ws(*sc->p))
		sc->p++;
	return sc->p < sc->end ? *sc->p++ : -1;
}

static int peek_nonws(struct scan *sc)
{
	while (sc->p < sc->end && is_ws(*sc->p))
		sc->p++;
	return sc->p < sc->end ? *sc->p : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (is_digit(c))
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* One \uXXXX (the "\u" already consumed) and its low surrogate if any. */
static int scan_uescape(struct scan *sc)
{
	if (sc->end - sc->p < 4)
		return TX_JSON_ESYNTAX;
	int u = hex4(sc->p);
	if (u < 0)
		return TX_JSON_ESYNTAX;
	sc->p += 4;
	if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
		return TX_JSON_EUTF8;
	if (u < 0xD800 || u > 0xDBFF)
		return 0;
	if (sc->end - sc->p < 6 || sc->p[0] != '\\' || sc->p[1] != 'u')
		return TX_JSON_EUTF8;
	int lo = hex4(sc->p + 2);
	if (lo < 0)
		return TX_JSON_ESYNTAX;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return TX_JSON_EUTF8;
	sc->p += 6;
	return 0;
}

static int scan_escape(struct scan *sc)
{
	if (sc->p >= sc->end)
		return TX_JSON_ESYNTAX;
	int c = *sc->p++;
	if (c == 'u')
		return scan_uescape(sc);
	if (c != '\0' && strchr("\"\\/bfnrt", c))
		return 0;
	return TX_JSON_ESYNTAX;
}

/* A multi-byte UTF-8 sequence starting at sc->p. */
static int scan_utf8(struct scan *sc)
{
	unsigned char c = *sc->p;
	size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	if ((size_t)(sc->end - sc->p) < k || !tx_utf8_valid((const char *)sc->p, k))
		return TX_JSON_EUTF8;
	sc->p += k;
	return 0;
}

/* A string body; the opening quote is consumed. */
static int scan_string(struct scan *sc)
{
	while (sc->p < sc->end) {
		int c = *sc->p, rc = 0;
		if (c == '"') {
			sc->p++;
			return 0;
		}
		if (c < 0x20)
			return TX_JSON_ESYNTAX;
		if (c == '\\') {
			sc->p++;
			rc = scan_escape(sc);
		} else if (c >= 0x80) {
			rc = scan_utf8(sc);
		} else {
			sc->p++;
		}
		if (rc)
			return rc;
	}
	return TX_JSON_ESYNTAX;
}

static void skip_digits(struct scan *sc)
{
	while (sc->p < sc->end && is_digit(*sc->p))
		sc->p++;
}

/* Consumes the grammar of a number starting at sc->p; sets *is_int. */
static int scan_number_text(struct scan *sc, bool *is_int)
{
	if (sc->p < sc->end && *sc->p == '-')
		sc->p++;
	if (sc->p >= sc->end || !is_digit(*sc->p))
		return TX_JSON_ESYNTAX;
	if (*sc->p++ == '0' && sc->p < sc->end && is_digit(*sc->p))
		return TX_JSON_ESYNTAX; /* leading zero */
	skip_digits(sc);
	*is_int = true;
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (sc->p >= sc->end || !is_digit(*sc->p))
			return TX_JSON_ESYNTAX;
		skip_digits(sc);
		*is_int = false;
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (sc->p >= sc->end || !is_digit(*sc->p))
			return TX_JSON_ESYNTAX;
		skip_digits(sc);
		*is_int = false;
	}
	return 0;
}

/* Integer text (grammar already checked) fits int64. */
static bool int64_fits(const unsigned char *p, size_t n)
{
	bool neg = *p == '-';
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	for (size_t i = neg; i < n; i++) {
		unsigned d = p[i] - '0';
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	return true;
}

/* Decimal or exponent text (grammar already checked) is a finite double. */
static bool double_finite(const unsigned char *p, size_t n)
{
	char local[NUM_LOCAL];
	char *copy = n < sizeof(local) ? local : tx_xmalloc(n + 1);
	memcpy(copy, p, n);
	copy[n] = '\0';
	/* Overflow gives ERANGE and HUGE_VAL, which isfinite() refuses;
	 * underflow gives ERANGE and a tiny value or 0, which is fine. */
	errno = 0;
	double d = strtod(copy, NULL);
	bool ok = isfinite(d) && !(errno == ERANGE && fabs(d) > 1.0);
	if (copy != local)
		free(copy);
	return ok;
}

/* A number; scan_value consumed its first byte, so step back onto it. */
static int scan_number(struct scan *sc)
{
	const unsigned char *start = --sc->p;
	bool is_int = false;
	int rc = scan_number_text(sc, &is_int);
	if (rc)
		return rc;
	size_t n = (size_t)(sc->p - start);
	bool ok = is_int ? int64_fits(start, n) : double_finite(start, n);
	return ok ? 0 : TX_JSON_ENUMBER;
}

/* The rest of true/false/null after its first byte. */
static int scan_word(struct scan *sc, const char *rest)
{
	size_t n = strlen(rest);
	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, rest, n) != 0)
		return TX_JSON_ESYNTAX;
	sc->p += n;
	return 0;
}

/* An object key and its colon; returns 1 so callers read the value next. */
static int scan_key(struct scan *sc)
{
	if (next_nonws(sc) != '"')
		return TX_JSON_ESYNTAX;
	int rc = scan_string(sc);
	if (rc)
		return rc;
	return next_nonws(sc) == ':' ? 1 : TX_JSON_ESYNTAX;
}

/* Opens a container. Returns 0 when it was empty (and is closed again), 1
 * when a value must follow (after the first key, for objects). */
static int scan_open(struct scan *sc, int c)
{
	if (sc->depth >= sc->max_depth)
		return TX_JSON_EDEPTH;
	int close = c == '{' ? '}' : ']';
	if (peek_nonws(sc) == close) {
		sc->p++;
		return 0;
	}
	sc->stack[sc->depth++] = (char)c;
	return c == '{' ? scan_key(sc) : 1;
}

/* One value: 0 when it is complete, 1 when a container was opened. */
static int scan_value(struct scan *sc)
{
	int c = next_nonws(sc);
	switch (c) {
	case '{':
	case '[':
		return scan_open(sc, c);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_word(sc, "rue");
	case 'f':
		return scan_word(sc, "alse");
	case 'n':
		return scan_word(sc, "ull");
	default:
		return c == '-' || is_digit(c) ? scan_number(sc) : TX_JSON_ESYNTAX;
	}
}

/* After a complete value: commas (and keys) and closers. Returns 1 when
 * another value must follow, 0 when the top-level value is complete. */
static int scan_after_value(struct scan *sc)
{
	while (sc->depth > 0) {
		int c = next_nonws(sc);
		char top = sc->stack[sc->depth - 1];
		if (c == ',')
			return top == '{' ? scan_key(sc) : 1;
		if (c != (top == '{' ? '}' : ']'))
			return TX_JSON_ESYNTAX;
		sc->depth--;
	}
	return 0;
}

static int scan_document(struct scan *sc)
{
	for (;;) {
		int rc = scan_value(sc);
		if (rc < 0)
			return rc;
		if (rc == 1)
			continue;
		rc = scan_after_value(sc);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
	}
	return peek_nonws(sc) < 0 ? TX_JSON_OK : TX_JSON_ETRAILING;
}

int tx_json_validate(const char *s, size_t len, int max_depth)
{
	char local[STACK_LOCAL];
	if (!s)
		return TX_JSON_EEMPTY;
	struct scan sc = { (const unsigned char *)s,
			   (const unsigned char *)s + len, local, 0,
			   max_depth < 0 ? 0 : max_depth };
	if (peek_nonws(&sc) < 0)
		return TX_JSON_EEMPTY;
	/* every level costs an input byte, so len also bounds the stack */
	size_t need = (size_t)sc.max_depth < len ? (size_t)sc.max_depth : len;
	if (need > STACK_LOCAL)
		sc.stack = tx_xmalloc(need);
	int rc = scan_document(&sc);
	if (sc.stack != local)
		free(sc.stack);
	return rc;
}

static void json_put(void *p)
{
	json_object_put(p);
}

static bool root_is_object(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && is_ws((unsigned char)s[i]))
		i++;
	return i < len && s[i] == '{';
}

/* json-c on a body the validator accepted; NULL only on a json-c surprise. */
static struct json_object *jsonc_parse(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(TX_JSON_MAX_DEPTH + 1);
	if (!tok)
		tx_oom(sizeof(*tok));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int tx_json_parse_object(struct tx_arena *a, const char *s, size_t len,
			 struct json_object **out)
{
	*out = NULL;
	int rc = tx_json_validate(s, len, TX_JSON_MAX_DEPTH);
	if (rc)
		return rc;
	if (!root_is_object(s, len))
		return TX_JSON_ENOTOBJECT;
	if (len > INT_MAX)
		return TX_JSON_ESYNTAX;
	struct json_object *o = jsonc_parse(s, len);
	if (!o)
		return TX_JSON_ESYNTAX;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return TX_JSON_ENOTOBJECT;
	}
	tx_arena_defer(a, json_put, o);
	*out = o;
	return TX_JSON_OK;
}

/* Shortest digits that read back as d > 0 (at most 17), and the decimal
 * point position n such that d = 0.DIGITS x 10^n. Returns the digit count. */
static int shortest_digits(double d, char digits[18], int *n)
{
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	int k = 0;
	const char *p = tmp;
	for (; *p && *p != 'e' && k < 17; p++)
		if (is_digit(*p))
			digits[k++] = *p;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	p = strchr(tmp, 'e');
	*n = p ? (int)strtol(p + 1, NULL, 10) + 1 : 1;
	return k;
}

static void add_zeros(struct tx_buf *b, int count)
{
	for (int i = 0; i < count; i++)
		tx_buf_addch(b, '0');
}

/* Number.prototype.toString for a finite d > 0 (ECMA-262 Number::toString). */
static void js_positive(struct tx_buf *b, double d)
{
	char digits[18];
	int n, k = shortest_digits(d, digits, &n);
	if (k <= n && n <= 21) {
		tx_buf_add(b, digits, (size_t)k);
		add_zeros(b, n - k);
	} else if (n > 0 && n <= 21) {
		tx_buf_addf(b, "%.*s.%s", n, digits, digits + n);
	} else if (n > -6 && n <= 0) {
		tx_buf_addlit(b, "0.");
		add_zeros(b, -n);
		tx_buf_adds(b, digits);
	} else {
		tx_buf_addch(b, digits[0]);
		if (k > 1)
			tx_buf_addf(b, ".%s", digits + 1);
		tx_buf_addf(b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
}

static void js_double(struct tx_buf *b, double d)
{
	if (isnan(d)) {
		tx_buf_addlit(b, "NaN");
		return;
	}
	if (d == 0) {
		tx_buf_addch(b, '0'); /* -0 too */
		return;
	}
	if (d < 0) {
		tx_buf_addch(b, '-');
		d = -d;
	}
	if (isinf(d))
		tx_buf_addlit(b, "Infinity");
	else
		js_positive(b, d);
}

static void js_string(struct tx_buf *b, struct json_object *v, bool *has_nul)
{
	const char *s = json_object_get_string(v);
	size_t n = strlen(s);
	if (n != (size_t)json_object_get_string_len(v))
		*has_nul = true;
	tx_buf_add(b, s, n);
}

/* String(v) in JavaScript, appended to b; arrays join their elements. */
static void js_value(struct tx_buf *b, struct json_object *v, bool *has_nul)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		break;
	case json_type_boolean:
		tx_buf_adds(b, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int:
		tx_buf_addf(b, "%" PRId64, json_object_get_int64(v));
		break;
	case json_type_double:
		js_double(b, json_object_get_double(v));
		break;
	case json_type_string:
		js_string(b, v, has_nul);
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				tx_buf_addch(b, ',');
			js_value(b, json_object_array_get_idx(v, i), has_nul);
		}
		break;
	case json_type_object:
		tx_buf_addlit(b, "[object Object]");
		break;
	}
}

const char *tx_json_field_str(struct tx_arena *a, struct json_object *obj,
			      const char *key, bool *has_nul)
{
	struct json_object *v = NULL;
	bool nul = false;
	struct tx_buf b = TX_BUF_INIT(0);
	if (json_object_object_get_ex(obj, key, &v) && v)
		js_value(&b, v, &nul);
	if (has_nul)
		*has_nul = nul;
	char *s = tx_arena_strndup(a, b.buf, b.len);
	tx_buf_release(&b);
	return s;
}

const char *tx_json_field_value(struct tx_arena *a, struct json_object *obj,
				const char *key, bool *has_nul)
{
	if (has_nul)
		*has_nul = false;
	return tx_json_field_present(obj, key) ? tx_json_field_str(a, obj, key, has_nul)
					       : tx_arena_strdup(a, "");
}

bool tx_json_field_present(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return false;
	enum json_type t = json_object_get_type(v);
	return t == json_type_int || t == json_type_double ||
	       t == json_type_string;
}
