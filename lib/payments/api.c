/* api.c: POST /api/payments (reference 3.4 with DESIGN.md's fixes: no
 * second payment, no payment after expiresAt, the provider's decline
 * message). */
#include "payments/payments.h"
#include "core/errors.h"
#include "core/json.h"

void payments_validate(const char *token, const char *order_id, struct tx_verrs *v)
{
	if (!*token)
		tx_verrs_add(v, "token", "Invalid value");
	if (!*order_id)
		tx_verrs_add(v, "orderId", "Invalid value");
}

int payments_api_create(const struct tx_req *req, struct tx_ctx *ctx,
			struct tx_resp *resp)
{
	struct tx_verrs v = { .n = 0 };
	const char *token = tx_json_field_value(ctx->arena, req->json, "token", NULL);
	const char *order_id = tx_json_field_value(ctx->arena, req->json, "orderId", NULL);
	payments_validate(token, order_id, &v);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	struct payments_outcome out;
	int rc = payments_pay(ctx, req->user->id, order_id, token, &out);
	if (rc < 0)
		return rc;
	if (out.refusal)
		return tx_resp_error_message(resp, 400, out.refusal);
	tx_resp_json(resp, 201);
	tx_buf_addf(&resp->body, "{\"id\":\"%s\"}", out.payment_id);
	return 0;
}
