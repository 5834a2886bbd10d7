/* cookie.h: reading the Cookie header and writing Set-Cookie values.
 *
 * tx_cookie_get scans "a=1; b=2" for name and returns a copy of its value
 * from the arena (surrounding double quotes removed), or NULL when absent.
 * Header and values are bounded: a header over TX_COOKIE_MAX_HEADER bytes
 * or a value over TX_COOKIE_MAX_VALUE yields NULL. The first occurrence of
 * a name wins.
 *
 * tx_cookie_format writes a Set-Cookie header value in the lower-case style
 * of Node's cookie-session: "name=value; path=/; samesite=lax; httponly"
 * (+ "; secure"). With clear=true it writes the deletion form
 * "name=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
 * (+ "; secure"), exactly as the original app's tests expect. It returns
 * NULL (writes nothing) when the name is empty, holds '=' or fails
 * tx_cookie_value_ok, or, unless clearing, the value fails it: no header
 * injection through a value. o may be NULL (all flags false).
 */
#ifndef TX_COOKIE_H
#define TX_COOKIE_H

#include <stdbool.h>

struct tx_arena;

#define TX_COOKIE_MAX_HEADER 8192
#define TX_COOKIE_MAX_VALUE 4096

struct tx_cookie_opts {
	bool secure;
	bool clear;
	bool samesite_lax;
	bool httponly;
};

const char *tx_cookie_get(struct tx_arena *a, const char *header,
			  const char *name);
char *tx_cookie_format(struct tx_arena *a, const char *name, const char *value,
		       const struct tx_cookie_opts *o);

/* true for a cookie name or value made only of the bytes RFC 6265 allows. */
bool tx_cookie_value_ok(const char *v);

#endif
