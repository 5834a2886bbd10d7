/* jwt.c: HS256 tokens through libjwt, plus the checks libjwt 1.10.2 lacks.
 *
 * This is the only file that includes <jwt.h>. libjwt (Debian 12: 1.10.2,
 * MAC through OpenSSL, JSON through jansson) verifies whatever alg the
 * header names and reads alg names case-insensitively ("hs256" is HS256
 * to it), ignores exp and iat, and its typed getters hide type errors
 * (jwt_get_grant_int answers 0 for "exp":"123"; jwt_get_grant answers NULL
 * for a non-string). So after jwt_decode has checked the MAC:
 *   - alg must be HS256 as libjwt read it (jwt_get_alg) and as the header
 *     spells it (jwt_get_header: exactly "HS256");
 *   - id and email are strings (jwt_get_grant) that fit struct tx_claims;
 *   - iat and exp are read from their own JSON text (jwt_get_grants_json),
 *     which must be a plain decimal integer of at most 18 digits: no 1.5,
 *     no "123", no 1e9, no 2^63 - 1;
 *   - exp lies in the future and iat at most IAT_SKEW seconds ahead.
 * Before libjwt sees a token, it must be at most TX_JWT_MAX_TOKEN bytes
 * (libjwt copies it and decodes it on the stack) of the base64url alphabet
 * in three parts: libjwt's decoder would skip stray characters. Every jwt_t and string libjwt hands out is freed before the
 * function returns; none outlives the call, so none goes to an arena.
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
#define MAX_DIGITS 18

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

/* Three non-empty parts of base64url (no padding), at most the bound. */
static bool token_shape_ok(const char *t)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_";
	size_t len = strnlen(t, TX_JWT_MAX_TOKEN + 1);
	if (len > TX_JWT_MAX_TOKEN)
		return false;
	for (int part = 0; part < 3; part++) {
		size_t n = strspn(t, alphabet);
		if (n == 0 || t[n] != (part < 2 ? '.' : '\0'))
			return false;
		t += n + 1;
	}
	return true;
}

static int add_claims(jwt_t *j, const struct tx_claims *c)
{
	if (jwt_add_grant(j, "id", c->id) || jwt_add_grant(j, "email", c->email) ||
	    jwt_add_grant_int(j, "iat", (long)c->iat) ||
	    jwt_add_grant_int(j, "exp", (long)c->exp))
		return TX_JWT_EINVALID; /* e.g. a string that is not UTF-8 */
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
		tx_oom(sizeof(j));
	rc = add_claims(j, c);
	if (rc)
		goto out;
	rc = TX_JWT_EKEY;
	if (jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, (int)keylen))
		goto out;
	rc = TX_JWT_EINVALID;
	tok = jwt_encode_str(j);
	if (!tok)
		goto out;
	size_t n = strlen(tok);
	rc = TX_JWT_ETOOLONG;
	if (n > TX_JWT_MAX_TOKEN || n >= cap)
		goto out;
	memcpy(out, tok, n + 1);
	rc = TX_JWT_OK;
out:
	free(tok);
	jwt_free(j);
	return rc;
}

/* Copy the string claim name into out[cap]: 1..cap-1 bytes. */
static bool claim_str(jwt_t *j, const char *name, char *out, size_t cap)
{
	const char *v = jwt_get_grant(j, name);
	if (!v || !str_ok(v, cap))
		return false;
	memcpy(out, v, strlen(v) + 1);
	return true;
}

/* The claim's JSON text must be -?[0-9]{1,18}. */
static bool claim_int(jwt_t *j, const char *name, long long *out)
{
	char *js = jwt_get_grants_json(j, name);
	bool ok = false;
	if (!js)
		return false;
	const char *p = js[0] == '-' ? js + 1 : js;
	size_t n = strspn(p, "0123456789");
	if (n >= 1 && n <= MAX_DIGITS && p[n] == '\0') {
		char *end;
		errno = 0;
		*out = strtoll(js, &end, 10);
		ok = errno == 0 && *end == '\0';
	}
	free(js);
	return ok;
}

static bool alg_ok(jwt_t *j)
{
	const char *alg = jwt_get_header(j, "alg");
	return jwt_get_alg(j) == JWT_ALG_HS256 && alg && strcmp(alg, "HS256") == 0;
}

static int check_claims(jwt_t *j, long long now, struct tx_claims *c)
{
	if (!alg_ok(j) || !claim_str(j, "id", c->id, sizeof(c->id)) ||
	    !claim_str(j, "email", c->email, sizeof(c->email)) ||
	    !claim_int(j, "iat", &c->iat) || !claim_int(j, "exp", &c->exp))
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

	memset(out, 0, sizeof(*out));
	if (!key_ok(key, keylen))
		return TX_JWT_EKEY;
	if (!token || !token_shape_ok(token))
		return TX_JWT_EINVALID;
	if (jwt_decode(&j, token, (const unsigned char *)key, (int)keylen) != 0)
		return TX_JWT_EINVALID; /* j is NULL then */
	memset(&c, 0, sizeof(c));
	int rc = check_claims(j, now, &c);
	jwt_free(j);
	if (rc == TX_JWT_OK)
		*out = c;
	return rc;
}
