/* jwt.c: HS256 tokens through libjwt 1.10.2, plus the checks it lacks.
 *
 * This is the only file that includes <jwt.h>. libjwt verifies whatever alg
 * the header names and ignores exp/iat, and its typed getters hide type
 * errors (jwt_get_grant_int returns 0, errno 0, for "exp":"123";
 * jwt_get_grant returns NULL for a non-string). So strings are read with
 * jwt_get_grant and integers from their own JSON text (jwt_get_grants_json),
 * which must be a plain decimal integer.
 */
#include "core/jwt.h"

#include <errno.h>
#include <jwt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define IAT_SKEW 60 /* seconds a token's iat may lie in our future */

static bool key_ok(const char *key, size_t keylen)
{
	return key && keylen >= TX_JWT_MIN_KEY && keylen <= INT_MAX;
}

/* s fits in an array of cap bytes with at least one character. */
static bool str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	return n > 0 && n < cap;
}

static int sign_grants(jwt_t *j, const struct tx_claims *c)
{
	if (jwt_add_grant(j, "id", c->id) || jwt_add_grant(j, "email", c->email) ||
	    jwt_add_grant_int(j, "iat", (long)c->iat) ||
	    jwt_add_grant_int(j, "exp", (long)c->exp))
		return TX_JWT_EINVALID;
	return TX_JWT_OK;
}

int tx_jwt_sign(const char *key, size_t keylen, const struct tx_claims *c,
		char *out, size_t cap)
{
	jwt_t *j = NULL;
	char *tok = NULL;
	int rc;

	if (cap)
		out[0] = '\0';
	if (!key_ok(key, keylen))
		return TX_JWT_EKEY;
	if (!str_ok(c->id, sizeof(c->id)) || !str_ok(c->email, sizeof(c->email)))
		return TX_JWT_EINVALID;
	if (jwt_new(&j))
		tx_oom(0);
	rc = sign_grants(j, c);
	if (rc)
		goto out;
	if (jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, (int)keylen)) {
		rc = TX_JWT_EKEY;
		goto out;
	}
	tok = jwt_encode_str(j);
	if (!tok) {
		rc = TX_JWT_EINVALID;
		goto out;
	}
	size_t n = strlen(tok);
	if (n > TX_JWT_MAX_TOKEN || n >= cap) {
		rc = TX_JWT_ETOOLONG;
		goto out;
	}
	memcpy(out, tok, n + 1);
	rc = TX_JWT_OK;
out:
	free(tok);
	jwt_free(j);
	return rc;
}

/* Copy the string grant name into out[cap]; 1..cap-1 bytes. */
static bool grant_str(jwt_t *j, const char *name, char *out, size_t cap)
{
	const char *v = jwt_get_grant(j, name);
	if (!v || !str_ok(v, cap))
		return false;
	size_t n = strlen(v);
	memcpy(out, v, n + 1);
	return true;
}

/* The grant's JSON must be -?[0-9]{1,18}: an integer that fits, no 1.5,
 * no "123", no 1e9. */
static bool grant_int(jwt_t *j, const char *name, long long *out)
{
	char *js = jwt_get_grants_json(j, name);
	bool ok = false;
	if (!js)
		return false;
	const char *p = js[0] == '-' ? js + 1 : js;
	size_t n = strspn(p, "0123456789");
	if (n >= 1 && n <= 18 && p[n] == '\0') {
		errno = 0;
		char *end;
		*out = strtoll(js, &end, 10);
		ok = errno == 0 && *end == '\0';
	}
	free(js);
	return ok;
}

static int check_claims(jwt_t *j, long long now, struct tx_claims *c)
{
	if (jwt_get_alg(j) != JWT_ALG_HS256)
		return TX_JWT_EINVALID;
	if (!grant_str(j, "id", c->id, sizeof(c->id)) ||
	    !grant_str(j, "email", c->email, sizeof(c->email)) ||
	    !grant_int(j, "iat", &c->iat) || !grant_int(j, "exp", &c->exp))
		return TX_JWT_EINVALID;
	if (c->exp <= now || c->iat > now + IAT_SKEW)
		return TX_JWT_EINVALID;
	return TX_JWT_OK;
}

int tx_jwt_verify(const char *key, size_t keylen, const char *token,
		  long long now, struct tx_claims *out)
{
	struct tx_claims c;
	jwt_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!key_ok(key, keylen))
		return TX_JWT_EKEY;
	if (!token || strnlen(token, TX_JWT_MAX_TOKEN + 1) > TX_JWT_MAX_TOKEN)
		return TX_JWT_EINVALID;
	if (jwt_decode(&j, token, (const unsigned char *)key, (int)keylen) != 0)
		return TX_JWT_EINVALID; /* j is NULL on failure */
	memset(&c, 0, sizeof(c));
	rc = check_claims(j, now, &c);
	jwt_free(j);
	if (rc == TX_JWT_OK)
		*out = c;
	return rc;
}
