/* csrf.h: signed double-submit CSRF tokens.
 *
 * Each browser gets a random seed in the HttpOnly `csrf` cookie (64 hex
 * chars). Every form carries the field _csrf = hex(HMAC-SHA256(key,
 * "csrf:" seed)). A POST is accepted when the seed is well-formed and the
 * field equals the HMAC (constant-time compare). An attacker on another
 * site can neither read the cookie nor compute the HMAC without the key.
 */
#ifndef TX_CSRF_H
#define TX_CSRF_H

#include <stdbool.h>
#include <stddef.h>

#define TX_CSRF_COOKIE "csrf"
#define TX_CSRF_FIELD "_csrf"
#define TX_CSRF_HEX 65 /* 64 hex chars + NUL */

void tx_csrf_new_seed(char out[TX_CSRF_HEX]);
bool tx_csrf_seed_ok(const char *seed);
void tx_csrf_token(const char *key, size_t keylen, const char *seed,
		   char out[TX_CSRF_HEX]);
bool tx_csrf_check(const char *key, size_t keylen, const char *seed,
		   const char *token);

#endif
