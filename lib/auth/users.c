/* users.c: the auth model: sign-up and sign-in against auth.users. */
#include "auth/auth.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/password.h"

#include <string.h>

TX_STMT(SQL_USER_INSERT, 2,
	"INSERT INTO auth.users (email, password_hash) VALUES ($1, $2) "
	"RETURNING id");
TX_STMT(SQL_USER_BY_EMAIL, 1,
	"SELECT id, email, password_hash FROM auth.users "
	"WHERE lower(email) = lower($1)");

#define MSG_EMAIL "Email must be valid"
#define MSG_PASSWORD_LEN "Password must be between 4 and 20 characters"
#define MSG_PASSWORD_REQUIRED "You must supply a password"

int auth_signup(struct tx_ctx *ctx, const char *email, const char *password,
		struct auth_result *out)
{
	memset(out, 0, sizeof(*out));
	const char *pw = auth_trim(ctx->arena, password);
	size_t len = auth_js_length(pw);
	if (!auth_email_valid(email))
		tx_verrs_add(&out->verrs, "email", MSG_EMAIL);
	if (len < 4 || len > 20)
		tx_verrs_add(&out->verrs, "password", MSG_PASSWORD_LEN);
	if (out->verrs.n)
		return 0;

	char *hash = tx_arena_alloc(ctx->arena, TX_PASSWORD_HASH_MAX);
	if (tx_password_hash(pw, strlen(pw), ctx->cfg->pw_opslimit,
			     ctx->cfg->pw_memlimit, hash) < 0)
		return -TX_E_UNAVAILABLE;
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_USER_INSERT,
			    (const char *const[]){ email, hash }, &r);
	if (rc == -TX_E_CONFLICT) {
		out->message = "Email in use";
		return 0;
	}
	if (rc < 0)
		return rc;
	out->id = PQgetvalue(r, 0, 0);
	out->email = email;
	return 0;
}

int auth_signin(struct tx_ctx *ctx, const char *email, const char *password,
		struct auth_result *out)
{
	memset(out, 0, sizeof(*out));
	const char *pw = auth_trim(ctx->arena, password);
	if (!auth_email_valid(email))
		tx_verrs_add(&out->verrs, "email", MSG_EMAIL);
	if (!*pw)
		tx_verrs_add(&out->verrs, "password", MSG_PASSWORD_REQUIRED);
	if (out->verrs.n)
		return 0;

	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_USER_BY_EMAIL, (const char *const[]){ email }, &r);
	if (rc == -TX_E_NOT_FOUND) {
		out->message = "Invalid credentials";
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!tx_password_verify(PQgetvalue(r, 0, 2), pw, strlen(pw))) {
		out->message = "Invalid Credentials"; /* sic: the original's case */
		return 0;
	}
	out->id = PQgetvalue(r, 0, 0);
	out->email = PQgetvalue(r, 0, 1);
	return 0;
}
