/* csrf.c: signed double-submit CSRF tokens (HMAC-SHA256); see csrf.h.
 *
 * A NULL or empty key, or a malformed seed, yields the empty token from
 * tx_csrf_token, which tx_csrf_check never accepts.
 */
#include "core/csrf.h"

#include <sodium.h>
#include <string.h>

#define SEED_BYTES 32
#define PREFIX "csrf:"

_Static_assert(TX_CSRF_HEX == 2 * SEED_BYTES + 1, "seed is 32 bytes in hex");
_Static_assert(TX_CSRF_HEX == 2 * crypto_auth_hmacsha256_BYTES + 1,
	       "token is one HMAC-SHA256 in hex");

void tx_csrf_new_seed(char out[TX_CSRF_HEX])
{
	unsigned char b[SEED_BYTES];
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, TX_CSRF_HEX, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
}

bool tx_csrf_seed_ok(const char *seed)
{
	if (!seed || strnlen(seed, TX_CSRF_HEX) != TX_CSRF_HEX - 1)
		return false;
	return strspn(seed, "0123456789abcdef") == TX_CSRF_HEX - 1;
}

/* The HMAC state after the key and PREFIX, kept per thread for the last
 * key used: every page makes a token, and hashing the padded key is a
 * third of the work. */
#define KEYED_MAX 512
static _Thread_local struct {
	size_t keylen; /* 0: nothing kept */
	unsigned char key[KEYED_MAX];
	crypto_auth_hmacsha256_state st;
} keyed;

static void keyed_init(crypto_auth_hmacsha256_state *st, const char *key,
		       size_t keylen)
{
	crypto_auth_hmacsha256_init(st, (const unsigned char *)key, keylen);
	crypto_auth_hmacsha256_update(st, (const unsigned char *)PREFIX,
				      strlen(PREFIX));
}

static void keyed_state(crypto_auth_hmacsha256_state *st, const char *key,
			size_t keylen)
{
	if (keylen > KEYED_MAX) {
		keyed_init(st, key, keylen);
		return;
	}
	if (keyed.keylen != keylen || memcmp(keyed.key, key, keylen) != 0) {
		keyed_init(&keyed.st, key, keylen);
		memcpy(keyed.key, key, keylen);
		keyed.keylen = keylen;
	}
	*st = keyed.st;
}

void tx_csrf_token(const char *key, size_t keylen, const char *seed,
		   char out[TX_CSRF_HEX])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	out[0] = '\0';
	if (!key || keylen == 0 || !tx_csrf_seed_ok(seed))
		return;
	keyed_state(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)seed,
				      TX_CSRF_HEX - 1);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, TX_CSRF_HEX, mac, sizeof(mac));
}

bool tx_csrf_check(const char *key, size_t keylen, const char *seed,
		   const char *token)
{
	char want[TX_CSRF_HEX];

	if (!token || strnlen(token, TX_CSRF_HEX) != TX_CSRF_HEX - 1)
		return false;
	tx_csrf_token(key, keylen, seed, want);
	if (want[0] == '\0')
		return false;
	return sodium_memcmp(want, token, TX_CSRF_HEX - 1) == 0;
}
