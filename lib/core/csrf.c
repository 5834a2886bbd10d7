/* csrf.c: signed double-submit CSRF tokens (HMAC-SHA256); see csrf.h.
 *
 * A NULL or empty key, or a malformed seed, yields the empty token from
 * tx_csrf_token, which tx_csrf_check never accepts.
 */
#include "core/csrf.h"

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init etc.: see mac() */
#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

#define SEED_BYTES 32
#define PREFIX "csrf:"

_Static_assert(TX_CSRF_HEX == 2 * SEED_BYTES + 1, "seed is 32 bytes in hex");
_Static_assert(TX_CSRF_HEX == 2 * crypto_auth_hmacsha256_BYTES + 1,
	       "token is one HMAC-SHA256 in hex");

/* Random bytes drawn 64 seeds at a time per thread: randombytes_buf makes
 * a system call (getrandom) each time, and every first visit needs a
 * seed. The programs never fork, so no two processes share a pool. */
#define POOL_SEEDS 64
static _Thread_local struct {
	unsigned char bytes[POOL_SEEDS * SEED_BYTES];
	size_t used; /* 0 when empty, as it starts */
} pool;

static void pool_take(unsigned char out[SEED_BYTES])
{
	if (pool.used == 0) {
		randombytes_buf(pool.bytes, sizeof(pool.bytes));
		pool.used = sizeof(pool.bytes);
	}
	pool.used -= SEED_BYTES;
	memcpy(out, pool.bytes + pool.used, SEED_BYTES);
	sodium_memzero(pool.bytes + pool.used, SEED_BYTES);
}

void tx_csrf_new_seed(char out[TX_CSRF_HEX])
{
	unsigned char b[SEED_BYTES];
	pool_take(b);
	sodium_bin2hex(out, TX_CSRF_HEX, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
}

bool tx_csrf_seed_ok(const char *seed)
{
	if (!seed || strnlen(seed, TX_CSRF_HEX) != TX_CSRF_HEX - 1)
		return false;
	return strspn(seed, "0123456789abcdef") == TX_CSRF_HEX - 1;
}

/* HMAC-SHA256 (RFC 2104) by hand over OpenSSL's SHA256_* functions, which
 * run the CPU's SHA instructions with no set-up per call: every page makes
 * a token, and libsodium's portable SHA-256 made it a fifth of a cached
 * landing page (EVP_MAC, with its context copies and provider dispatch,
 * cost as much). Those functions are deprecated in OpenSSL 3 in favour of
 * EVP, hence the define. The states after the padded key (and, inside,
 * PREFIX) are kept per thread for the last key used. */
#define KEYED_MAX 512
static _Thread_local struct {
	size_t keylen; /* 0: nothing kept */
	unsigned char key[KEYED_MAX];
	SHA256_CTX inner, outer;
} keyed;

static void keyed_init(const char *key, size_t keylen)
{
	unsigned char k[SHA256_CBLOCK] = { 0 }, pad[SHA256_CBLOCK];
	if (keylen > SHA256_CBLOCK)
		SHA256((const unsigned char *)key, keylen, k);
	else
		memcpy(k, key, keylen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&keyed.inner);
	SHA256_Update(&keyed.inner, pad, sizeof(pad));
	SHA256_Update(&keyed.inner, PREFIX, strlen(PREFIX));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&keyed.outer);
	SHA256_Update(&keyed.outer, pad, sizeof(pad));
	memcpy(keyed.key, key, keylen);
	keyed.keylen = keylen;
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
}

static void mac(const char *key, size_t keylen, const char *seed,
		unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	if (keylen > KEYED_MAX) { /* never kept: the plain way */
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, keylen);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)PREFIX,
					      strlen(PREFIX));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)seed,
					      TX_CSRF_HEX - 1);
		crypto_auth_hmacsha256_final(&st, out);
		return;
	}
	if (keyed.keylen != keylen || memcmp(keyed.key, key, keylen) != 0)
		keyed_init(key, keylen);
	SHA256_CTX c = keyed.inner;
	SHA256_Update(&c, seed, TX_CSRF_HEX - 1);
	SHA256_Final(out, &c);
	c = keyed.outer;
	SHA256_Update(&c, out, SHA256_DIGEST_LENGTH);
	SHA256_Final(out, &c);
}

void tx_csrf_token(const char *key, size_t keylen, const char *seed,
		   char out[TX_CSRF_HEX])
{
	unsigned char m[crypto_auth_hmacsha256_BYTES];

	out[0] = '\0';
	if (!key || keylen == 0 || !tx_csrf_seed_ok(seed))
		return;
	mac(key, keylen, seed, m);
	sodium_bin2hex(out, TX_CSRF_HEX, m, sizeof(m));
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
