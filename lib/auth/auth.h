/* auth.h: the auth service: users, sign-up, sign-in, sign-out.
 *
 * The JSON API (api.c) and the pages (pages.c) share the same two
 * operations below, so a browser form and an API call behave alike.
 */
#ifndef TX_AUTH_H
#define TX_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/http.h"

extern const struct tx_service auth_service;

/* The result of signing up or in. On failure either verrs holds field
 * errors, or message holds the contract's 400 text ("Email in use",
 * "Invalid credentials", "Invalid Credentials"), or the function returned a
 * negative error (database down...). */
struct auth_result {
	struct tx_verrs verrs;
	const char *message;
	const char *id;
	const char *email;
};

int auth_signup(struct tx_ctx *ctx, const char *email, const char *password,
		struct auth_result *out);
int auth_signin(struct tx_ctx *ctx, const char *email, const char *password,
		struct auth_result *out);

/* Validators, as the original's express-validator chains. */
bool auth_email_valid(const char *email);
/* Trim JavaScript whitespace from both ends into the arena. */
const char *auth_trim(struct tx_arena *a, const char *s);
/* Length in UTF-16 code units, as JavaScript's String.length. */
size_t auth_js_length(const char *s);

/* Route handlers. */
tx_handler auth_api_signup, auth_api_signin, auth_api_signout,
	auth_api_currentuser;
tx_handler auth_page_signup, auth_page_signup_post, auth_page_signin,
	auth_page_signin_post, auth_page_signout, auth_page_signout_post;

#endif
