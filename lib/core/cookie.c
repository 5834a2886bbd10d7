/* cookie.c: reading the Cookie header and formatting Set-Cookie values. */
#include "core/cookie.h"

#include <stddef.h>
#include <string.h>

#include "core/arena.h"

#define CLEAR_EXPIRES "; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT"

struct span {
	const char *p;
	size_t n;
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct span trim(const char *p, size_t n)
{
	while (n && is_ows(*p)) {
		p++;
		n--;
	}
	while (n && is_ows(p[n - 1]))
		n--;
	return (struct span){ p, n };
}

/* The value of one "name=value" pair if its name is the one wanted. */
static bool pair_match(const char *p, size_t n, const char *name,
		       size_t name_len, struct span *value)
{
	const char *eq = memchr(p, '=', n);
	if (!eq)
		return false;
	struct span k = trim(p, (size_t)(eq - p));
	if (k.n != name_len || memcmp(k.p, name, name_len) != 0)
		return false;
	*value = trim(eq + 1, n - (size_t)(eq - p) - 1);
	if (value->n >= 2 && value->p[0] == '"' && value->p[value->n - 1] == '"') {
		value->p++;
		value->n -= 2;
	}
	return true;
}

const char *tx_cookie_get(struct tx_arena *a, const char *header,
			  const char *name)
{
	if (!header || !name || !*name)
		return NULL;
	size_t len = strnlen(header, TX_COOKIE_MAX_HEADER + 1);
	size_t name_len = strlen(name);
	if (len > TX_COOKIE_MAX_HEADER)
		return NULL;
	const char *p = header, *end = header + len;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		struct span v;
		if (pair_match(p, (size_t)(stop - p), name, name_len, &v))
			return v.n > TX_COOKIE_MAX_VALUE ?
				       NULL :
				       tx_arena_strndup(a, v.p, v.n);
		p = stop + 1;
	}
	return NULL;
}

/* cookie-octet of RFC 6265 section 4.1.1. */
static bool cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) ||
	       (c >= 0x2D && c <= 0x3A) || (c >= 0x3C && c <= 0x5B) ||
	       (c >= 0x5D && c <= 0x7E);
}

bool tx_cookie_value_ok(const char *v)
{
	if (!v || strnlen(v, TX_COOKIE_MAX_VALUE + 1) > TX_COOKIE_MAX_VALUE)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (!cookie_octet(*p))
			return false;
	return true;
}

static bool name_ok(const char *name)
{
	return name && *name && tx_cookie_value_ok(name) && !strchr(name, '=');
}

char *tx_cookie_format(struct tx_arena *a, const char *name, const char *value,
		       const struct tx_cookie_opts *o)
{
	static const struct tx_cookie_opts none;
	if (!o)
		o = &none;
	if (!name_ok(name) || (!o->clear && !tx_cookie_value_ok(value)))
		return NULL;
	if (o->clear)
		return tx_arena_join(a, name, "=" CLEAR_EXPIRES "; httponly",
				     o->secure ? "; secure" : "", (char *)NULL);
	return tx_arena_join(a, name, "=", value, "; path=/",
			     o->samesite_lax ? "; samesite=lax" : "",
			     o->httponly ? "; httponly" : "",
			     o->secure ? "; secure" : "", (char *)NULL);
}
