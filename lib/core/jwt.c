/* jwt.c: HS256 tokens with libsodium's HMAC-SHA256 and json-c.
 *
 * A token is base64url(header) "." base64url(claims) "." base64url(MAC),
 * without padding, the MAC being HMAC-SHA256 over the first two parts.
 * Verification checks the MAC first (constant time), then reads the header
 * (alg must be "HS256", whatever else it says) and the claims as strict
 * JSON; integers must be JSON integers of at most 18 digits (no 1.5, no
 * "123", no 1e9).
 *
 * This used to go through libjwt 1.10.2, which trusts the header's alg,
 * ignores exp and computes its MAC through OpenSSL 3: the first HMAC makes
 * OpenSSL load its provider tables, 2 MB of memory in every program that
 * reads a session, and each verification fetched the algorithm again.
 * libsodium is already loaded (passwords, CSRF) and does neither.
 */
#include "core/jwt.h"

#include <json.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define IAT_SKEW 60 /* seconds a token's iat may lie in our future */
#define MAX_INT_CLAIM 999999999999999999LL /* 18 digits */
#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define MAC_BYTES crypto_auth_hmacsha256_BYTES

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

static void mac(const char *key, size_t keylen, const char *msg, size_t len,
		unsigned char out[MAC_BYTES])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Append base64url(p, n) at out + *len (cap bytes in all). */
static bool put_b64(char *out, size_t cap, size_t *len, const void *p, size_t n)
{
	size_t need = sodium_base64_ENCODED_LEN(n, B64URL); /* with the NUL */
	if (need > cap - *len)
		return false;
	sodium_bin2base64(out + *len, cap - *len, p, n, B64URL);
	*len += need - 1;
	return true;
}

/* The claims as compact JSON; NULL if they do not fit (never, in practice:
 * id and email are bounded by struct tx_claims). Caller json_object_puts
 * the holder. */
static const char *claims_json(const struct tx_claims *c, struct json_object **holder)
{
	struct json_object *o = json_object_new_object();
	*holder = o;
	if (!o || json_object_object_add(o, "id", json_object_new_string(c->id)) ||
	    json_object_object_add(o, "email", json_object_new_string(c->email)) ||
	    json_object_object_add(o, "iat", json_object_new_int64(c->iat)) ||
	    json_object_object_add(o, "exp", json_object_new_int64(c->exp)))
		return NULL;
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
}

int tx_jwt_sign(const char *key, size_t keylen, const struct tx_claims *c,
		char *out, size_t cap)
{
	char tok[TX_JWT_MAX_TOKEN + 1];
	size_t len = 0;
	unsigned char m[MAC_BYTES];

	if (cap)
		out[0] = '\0';
	if (!key_ok(key, keylen))
		return TX_JWT_EKEY;
	if (!str_ok(c->id, sizeof(c->id)) || !str_ok(c->email, sizeof(c->email)))
		return TX_JWT_EINVALID;
	struct json_object *holder = NULL;
	const char *claims = claims_json(c, &holder);
	bool ok = claims && put_b64(tok, sizeof(tok), &len, HEADER, strlen(HEADER)) &&
		  len + 1 < sizeof(tok);
	if (ok) {
		tok[len++] = '.';
		ok = put_b64(tok, sizeof(tok), &len, claims, strlen(claims)) &&
		     len + 1 < sizeof(tok);
	}
	json_object_put(holder);
	if (!claims)
		return TX_JWT_EINVALID;
	if (ok) {
		mac(key, keylen, tok, len, m);
		tok[len++] = '.';
		ok = put_b64(tok, sizeof(tok), &len, m, sizeof(m));
	}
	if (!ok || len >= cap)
		return TX_JWT_ETOOLONG;
	memcpy(out, tok, len + 1);
	return TX_JWT_OK;
}

/* Decode the base64url part [p, p + n) into out[cap]; its length or -1. */
static long b64_part(const char *p, size_t n, unsigned char *out, size_t cap)
{
	size_t got = 0;
	const char *end = NULL;
	if (n == 0 || sodium_base642bin(out, cap, p, n, NULL, &got, &end, B64URL) != 0 ||
	    end != p + n)
		return -1;
	return (long)got;
}

/* Strict JSON object from a decoded part (not NUL-terminated); NULL if not. */
static struct json_object *json_part(const unsigned char *s, long n)
{
	struct json_tokener *t = json_tokener_new_ex(8);
	if (!t)
		return NULL;
	json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(t, (const char *)s, (int)n);
	bool ok = o && json_tokener_get_error(t) == json_tokener_success &&
		  json_tokener_get_parse_end(t) == (size_t)n &&
		  json_object_is_type(o, json_type_object);
	json_tokener_free(t);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* o[name] is a string of 1..cap-1 bytes without NUL: copy it to out. */
static bool claim_str(struct json_object *o, const char *name, char *out, size_t cap)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n >= cap || strlen(s) != n)
		return false;
	memcpy(out, s, n + 1);
	return true;
}

/* o[name] is a JSON integer of at most 18 digits (no leading zeros in
 * strict JSON, so |v| <= 10^18 - 1). */
static bool claim_int(struct json_object *o, const char *name, long long *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return false;
	int64_t x = json_object_get_int64(v);
	if (x > MAX_INT_CLAIM || x < -MAX_INT_CLAIM)
		return false;
	*out = (long long)x;
	return true;
}

static bool header_ok(const unsigned char *s, long n)
{
	struct json_object *h = json_part(s, n), *alg;
	bool ok = h && json_object_object_get_ex(h, "alg", &alg) &&
		  json_object_is_type(alg, json_type_string) &&
		  strcmp(json_object_get_string(alg), "HS256") == 0 &&
		  json_object_get_string_len(alg) == 5;
	json_object_put(h);
	return ok;
}

static int check_claims(const unsigned char *s, long n, long long now,
			struct tx_claims *c)
{
	struct json_object *o = json_part(s, n);
	bool ok = o && claim_str(o, "id", c->id, sizeof(c->id)) &&
		  claim_str(o, "email", c->email, sizeof(c->email)) &&
		  claim_int(o, "iat", &c->iat) && claim_int(o, "exp", &c->exp);
	json_object_put(o);
	if (!ok || c->exp <= now || c->iat > now + IAT_SKEW)
		return TX_JWT_EINVALID;
	return TX_JWT_OK;
}

int tx_jwt_verify(const char *key, size_t keylen, const char *token,
		  long long now, struct tx_claims *out)
{
	unsigned char part[TX_JWT_MAX_TOKEN], want[MAC_BYTES];
	struct tx_claims c;

	memset(out, 0, sizeof(*out));
	if (!key_ok(key, keylen))
		return TX_JWT_EKEY;
	if (!token)
		return TX_JWT_EINVALID;
	size_t len = strnlen(token, TX_JWT_MAX_TOKEN + 1);
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (len > TX_JWT_MAX_TOKEN || !dot2)
		return TX_JWT_EINVALID;
	const char *sig = dot2 + 1;
	size_t siglen = len - (size_t)(sig - token);
	if (memchr(sig, '.', siglen) ||
	    b64_part(sig, siglen, part, sizeof(part)) != MAC_BYTES)
		return TX_JWT_EINVALID;
	mac(key, keylen, token, (size_t)(dot2 - token), want);
	if (sodium_memcmp(part, want, MAC_BYTES) != 0)
		return TX_JWT_EINVALID;
	long n = b64_part(token, (size_t)(dot1 - token), part, sizeof(part));
	if (n < 0 || !header_ok(part, n))
		return TX_JWT_EINVALID;
	n = b64_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), part, sizeof(part));
	memset(&c, 0, sizeof(c));
	if (n < 0 || check_claims(part, n, now, &c) != TX_JWT_OK)
		return TX_JWT_EINVALID;
	*out = c;
	return TX_JWT_OK;
}
