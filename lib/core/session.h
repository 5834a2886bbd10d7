/* session.h: the `session` cookie: base64 (standard, padded) of
 * {"jwt":"<token>"}, as Node's cookie-session writes it.
 *
 * tx_session_encode signs the claims and returns the cookie value from the
 * arena. tx_session_decode reverses it; any malformation (bad base64, not
 * JSON, no "jwt" string, bad token) is TX_JWT_EINVALID and the request
 * simply counts as signed out.
 */
#ifndef TX_SESSION_H
#define TX_SESSION_H

#include <stddef.h>

#include "core/jwt.h"

struct tx_arena;

#define TX_SESSION_COOKIE "session"

char *tx_session_encode(struct tx_arena *a, const char *key, size_t keylen,
			const struct tx_claims *c);
int tx_session_decode(const char *key, size_t keylen, const char *cookie,
		      long long now, struct tx_claims *out);

#endif
