/* api.c: the auth JSON API (/api/users/...), as reference section 3.1. */
#include "auth/auth.h"
#include "core/errors.h"
#include "core/json.h"

#include <json.h>

/* {"email":..,"id":..} with status and the session cookie, or the errors. */
static int answer(const struct tx_req *req, struct tx_ctx *ctx,
		  struct tx_resp *resp, const struct auth_result *res, int status)
{
	if (res->verrs.n)
		return tx_resp_verrs(resp, &res->verrs);
	if (res->message)
		return tx_resp_error_message(resp, 400, res->message);
	int rc = tx_session_set(req, ctx, resp, res->id, res->email);
	if (rc < 0)
		return rc;
	tx_resp_json(resp, status);
	tx_buf_addlit(&resp->body, "{\"email\":\"");
	tx_buf_add_json_str(&resp->body, res->email);
	tx_buf_addlit(&resp->body, "\",\"id\":\"");
	tx_buf_add_json_str(&resp->body, res->id);
	tx_buf_addlit(&resp->body, "\"}");
	return 0;
}

static const char *field(const struct tx_req *req, struct tx_ctx *ctx,
			 const char *name)
{
	return tx_json_field_value(ctx->arena, req->json, name, NULL);
}

int auth_api_signup(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp)
{
	struct auth_result res;
	int rc = auth_signup(ctx, field(req, ctx, "email"),
			     field(req, ctx, "password"), &res);
	return rc < 0 ? rc : answer(req, ctx, resp, &res, 201);
}

int auth_api_signin(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp)
{
	struct auth_result res;
	int rc = auth_signin(ctx, field(req, ctx, "email"),
			     field(req, ctx, "password"), &res);
	return rc < 0 ? rc : answer(req, ctx, resp, &res, 200);
}

int auth_api_signout(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	int rc = tx_session_clear(req, ctx, resp);
	if (rc < 0)
		return rc;
	tx_resp_json(resp, 200);
	tx_buf_addlit(&resp->body, "{}");
	return 0;
}

int auth_api_currentuser(const struct tx_req *req, struct tx_ctx *ctx,
			 struct tx_resp *resp)
{
	(void)ctx;
	tx_resp_json(resp, 200);
	if (!req->user) {
		tx_buf_addlit(&resp->body, "{\"currentUser\":null}");
		return 0;
	}
	tx_buf_addlit(&resp->body, "{\"currentUser\":{\"id\":\"");
	tx_buf_add_json_str(&resp->body, req->user->id);
	tx_buf_addlit(&resp->body, "\",\"email\":\"");
	tx_buf_add_json_str(&resp->body, req->user->email);
	tx_buf_addf(&resp->body, "\",\"iat\":%lld}}", req->user->iat);
	return 0;
}
