/* password.c: argon2id hashing and verification through libsodium. */
#include "core/password.h"

#include <sodium.h>
#include <string.h>

_Static_assert(TX_PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES,
	       "password.h's buffer must match libsodium's");

int tx_password_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int tx_password_hash(const char *pw, size_t len, unsigned long long opslimit,
		     size_t memlimit, char out[TX_PASSWORD_HASH_MAX])
{
	out[0] = '\0';
	if (!pw && len)
		return -1;
	if (crypto_pwhash_str_alg(out, pw ? pw : "", len, opslimit, memlimit,
				  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

bool tx_password_verify(const char *hash, const char *pw, size_t len)
{
	if (!hash || (!pw && len))
		return false;
	/* libsodium reads hash as a C string; refuse anything unterminated. */
	if (strnlen(hash, TX_PASSWORD_HASH_MAX) >= TX_PASSWORD_HASH_MAX)
		return false;
	return crypto_pwhash_str_verify(hash, pw ? pw : "", len) == 0;
}
