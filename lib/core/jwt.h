/* jwt.h: HS256 JSON Web Tokens, a thin wrapper over libjwt.
 *
 * Verification requires:
 *   - a key of at least TX_JWT_MIN_KEY bytes (else TX_JWT_EKEY, both ways);
 *   - a token of at most TX_JWT_MAX_TOKEN bytes;
 *   - alg HS256 exactly (not "hs256", not HS384 or HS512 with the same
 *     key, not none), and a valid signature;
 *   - claims id (string, 1..63 bytes) and email (string, 1..255 bytes);
 *   - iat and exp as integers, with exp > now and iat <= now + 60.
 * Anything else is TX_JWT_EINVALID. Nothing here logs token contents.
 */
#ifndef TX_JWT_H
#define TX_JWT_H

#include <stddef.h>

#define TX_JWT_MIN_KEY 32
#define TX_JWT_MAX_TOKEN 2048

struct tx_claims {
	char id[64];
	char email[256];
	long long iat;
	long long exp;
};

enum {
	TX_JWT_OK = 0,
	TX_JWT_EKEY = -1,
	TX_JWT_EINVALID = -2,
	TX_JWT_ETOOLONG = -3,
};

/* Write the compact token into out (NUL-terminated). */
int tx_jwt_sign(const char *key, size_t keylen, const struct tx_claims *c,
		char *out, size_t cap);
int tx_jwt_verify(const char *key, size_t keylen, const char *token,
		  long long now, struct tx_claims *out);

#endif
