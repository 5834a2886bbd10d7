/* session.c: the session cookie, base64({"jwt":"<token>"}); see session.h.
 *
 * Decoding is strict and bounded: the cookie may be at most COOKIE_MAX
 * bytes, must be canonical padded standard base64 (libsodium rejects stray
 * characters and non-zero padding bits), and must decode to one JSON object
 * (json-c in strict mode, no trailing bytes) whose "jwt" is a string
 * without embedded NULs; the token inside then goes through tx_jwt_verify.
 */
#include "core/session.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define JSON_MAX (TX_JWT_MAX_TOKEN + 64) /* room for {"jwt":""} and spaces */
#define COOKIE_MAX (sodium_base64_ENCODED_LEN(JSON_MAX, B64) - 1)

char *tx_session_encode(struct tx_arena *a, const char *key, size_t keylen,
			const struct tx_claims *c)
{
	char tok[TX_JWT_MAX_TOKEN + 1];
	char json[JSON_MAX];

	if (tx_jwt_sign(key, keylen, c, tok, sizeof(tok)) != TX_JWT_OK)
		return NULL;
	/* A compact JWS is base64url and dots only: nothing to escape. */
	int n = snprintf(json, sizeof(json), "{\"jwt\":\"%s\"}", tok);
	if (n < 0 || (size_t)n >= sizeof(json))
		return NULL;
	size_t cap = sodium_base64_ENCODED_LEN((size_t)n, B64);
	char *out = tx_arena_alloc(a, cap);
	sodium_bin2base64(out, cap, (const unsigned char *)json, (size_t)n, B64);
	return out;
}

/* Copy the "jwt" string of the JSON object in buf[len] into tok[cap]. */
static int extract_jwt(const char *buf, size_t len, char *tok, size_t cap)
{
	struct json_tokener *t = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	struct json_object *o, *v;
	int rc = TX_JWT_EINVALID;

	if (!t)
		return TX_JWT_EINVALID;
	json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(t, buf, (int)len);
	if (!o || json_tokener_get_error(t) != json_tokener_success ||
	    json_tokener_get_parse_end(t) != len)
		goto out;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "jwt", &v) ||
	    !json_object_is_type(v, json_type_string))
		goto out;
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (n == 0 || n >= cap || strlen(s) != n)
		goto out;
	memcpy(tok, s, n + 1);
	rc = TX_JWT_OK;
out:
	json_object_put(o);
	json_tokener_free(t);
	return rc;
}

int tx_session_decode(const char *key, size_t keylen, const char *cookie,
		      long long now, struct tx_claims *out)
{
	unsigned char bin[JSON_MAX];
	char tok[TX_JWT_MAX_TOKEN + 1];
	size_t binlen = 0;

	memset(out, 0, sizeof(*out));
	if (!key || keylen < TX_JWT_MIN_KEY)
		return TX_JWT_EKEY; /* a configuration error, not a bad cookie */
	if (!cookie)
		return TX_JWT_EINVALID;
	size_t clen = strnlen(cookie, COOKIE_MAX + 1);
	if (clen == 0 || clen > COOKIE_MAX)
		return TX_JWT_EINVALID;
	if (sodium_base642bin(bin, sizeof(bin), cookie, clen, NULL, &binlen, NULL,
			      B64) != 0 || binlen == 0)
		return TX_JWT_EINVALID;
	if (extract_jwt((const char *)bin, binlen, tok, sizeof(tok)) != TX_JWT_OK)
		return TX_JWT_EINVALID;
	return tx_jwt_verify(key, keylen, tok, now, out);
}
