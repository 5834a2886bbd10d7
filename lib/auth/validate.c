/* validate.c: the auth service's input rules (validator.js isEmail, trim,
 * JavaScript string length). */
#include "auth/auth.h"
#include "core/arena.h"

#include <string.h>

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* The local part: atext characters and single dots, not at either end. */
static bool local_ok(const char *s, size_t n)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (!is_alnum(c) && c != '.' && !memchr(atext, c, sizeof(atext) - 1))
			return false;
	}
	return true;
}

/* A domain of dot-separated labels (letters, digits, inner hyphens), with
 * a top-level label of at least two letters: "a@b" fails, as in the
 * original. */
static bool domain_ok(const char *s, size_t n)
{
	size_t label = 0, labels = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			labels++;
			label = 0;
		} else if (is_alnum(c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	const char *tld = (const char *)memrchr(s, '.', n);
	if (labels < 2 || !tld || s + n - (tld + 1) < 2)
		return false;
	for (const char *p = tld + 1; p < s + n; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

bool auth_email_valid(const char *email)
{
	size_t n = strlen(email);
	const char *at = strrchr(email, '@');
	if (n > 254 || !at)
		return false;
	return local_ok(email, (size_t)(at - email)) &&
	       domain_ok(at + 1, n - (size_t)(at - email) - 1);
}

/* Bytes of the JavaScript whitespace character at s, or 0. */
static size_t js_space(const unsigned char *s)
{
	if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		return 1;
	if (s[0] == 0xC2 && s[1] == 0xA0) /* U+00A0 */
		return 2;
	if (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) /* U+FEFF */
		return 3;
	if (s[0] == 0xE2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 ||
	     s[2] == 0xAF))
		return 3;
	if ((s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) ||
	    (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) ||
	    (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80))
		return 3;
	return 0;
}

const char *auth_trim(struct tx_arena *a, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;
	while (*p && (k = js_space(p)) > 0)
		p += k;
	const unsigned char *start = p, *end = p;
	while (*p) {
		if ((k = js_space(p)) > 0) {
			p += k;
			continue;
		}
		p++;
		while (*p && (*p & 0xC0) == 0x80)
			p++;
		end = p;
	}
	return tx_arena_strndup(a, (const char *)start, (size_t)(end - start));
}

size_t auth_js_length(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;
		n += *p >= 0xF0 ? 2 : 1; /* beyond the BMP: a surrogate pair */
	}
	return n;
}
