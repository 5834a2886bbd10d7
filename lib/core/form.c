/* form.c: x-www-form-urlencoded parsing, percent-decoding, UTF-8 checks.
 *
 * tx_utf8_valid follows the well-formed byte sequences of Unicode table 3-7,
 * which rules out overlong forms, encoded surrogates and anything above
 * U+10FFFF in one pass; json.c uses it too.
 */
#include "core/form.h"

#include <string.h>

#include "core/arena.h"

/* Length of the sequence a lead byte starts, 0 when it cannot start one. */
static size_t utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 0;
}

/* The allowed range of the byte after lead c (table 3-7). */
static bool utf8_second_ok(unsigned char c, unsigned char c1)
{
	unsigned char lo = 0x80, hi = 0xBF;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	return c1 >= lo && c1 <= hi;
}

/* Length of the valid sequence at p (at most n bytes), or 0. */
static size_t utf8_one(const unsigned char *p, size_t n)
{
	size_t k = utf8_seq_len(p[0]);
	if (k == 0 || k > n)
		return 0;
	if (k == 1)
		return 1;
	if (!utf8_second_ok(p[0], p[1]))
		return 0;
	for (size_t i = 2; i < k; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return k;
}

bool tx_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t k = utf8_one(p + i, len - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..len) into d (room for len bytes); returns the decoded length
 * or -1 on a malformed escape or a NUL. */
static long decode_into(char *d, const char *s, size_t len, bool plus_is_space)
{
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			return -1;
		d[j++] = c;
	}
	return (long)j;
}

int tx_url_decode(struct tx_arena *a, const char *s, size_t len,
		  bool plus_is_space, char **out)
{
	*out = NULL;
	char *d = tx_arena_alloc(a, len + 1);
	long n = len ? decode_into(d, s, len, plus_is_space) : 0;
	if (n < 0 || !tx_utf8_valid(d, (size_t)n))
		return -1;
	d[n] = '\0';
	*out = d;
	return 0;
}

/* Number of non-empty '&'-separated pairs in s[0..len). */
static size_t count_pairs(const char *s, size_t len)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '&') {
			n += i > start;
			start = i + 1;
		}
	}
	return n;
}

static int parse_pair(struct tx_arena *a, const char *p, size_t n,
		      struct tx_form_field *f)
{
	const char *eq = memchr(p, '=', n);
	size_t nlen = eq ? (size_t)(eq - p) : n;
	char *name, *value;
	if (tx_url_decode(a, p, nlen, true, &name) < 0)
		return -1;
	if (!eq)
		value = tx_arena_strdup(a, "");
	else if (tx_url_decode(a, eq + 1, n - nlen - 1, true, &value) < 0)
		return -1;
	f->name = name;
	f->value = value;
	return 0;
}

static int parse_pairs(struct tx_arena *a, const char *s, size_t len,
		       struct tx_form *out)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '&')
			continue;
		if (i > start &&
		    parse_pair(a, s + start, i - start, &out->fields[out->n++]) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

int tx_form_parse(struct tx_arena *a, const char *s, size_t len,
		  size_t max_fields, struct tx_form *out)
{
	out->fields = NULL;
	out->n = 0;
	size_t n = len ? count_pairs(s, len) : 0;
	if (n > max_fields)
		return -1;
	if (n == 0)
		return 0;
	struct tx_form f = { tx_arena_alloc(a, n * sizeof(*f.fields)), 0 };
	if (parse_pairs(a, s, len, &f) < 0)
		return -1;
	*out = f;
	return 0;
}

const char *tx_form_get(const struct tx_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}
