/* password.h: argon2id password hashing through libsodium.
 *
 * Costs come from the caller (config): production uses OWASP's m=19 MiB,
 * t=2; tests use libsodium's minimum. Hashes carry their own parameters,
 * so a hash made at one cost verifies at any other. sodium_init() must have
 * been called once before threads start (tx_password_init does it).
 */
#ifndef TX_PASSWORD_H
#define TX_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define TX_PASSWORD_HASH_MAX 128

int tx_password_init(void);
int tx_password_hash(const char *pw, size_t len, unsigned long long opslimit,
		     size_t memlimit, char out[TX_PASSWORD_HASH_MAX]);
bool tx_password_verify(const char *hash, const char *pw, size_t len);

#endif
