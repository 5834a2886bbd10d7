/* api.c: the tickets JSON API (/api/tickets), as reference section 3.2. */
#include "tickets/tickets.h"
#include "core/errors.h"
#include "core/json.h"

#include <string.h>

#define MSG_TITLE "Title is required"
#define MSG_PRICE_NEW "Price must be greater than 0"
#define MSG_PRICE_EDIT "Price must be provided and must be greater than 0"

void tickets_validate(const char *title, const char *price,
		      const char *price_msg, struct tx_verrs *v, int64_t *cents)
{
	if (!*title)
		tx_verrs_add(v, "title", MSG_TITLE);
	if (tx_price_parse(price, cents) < 0)
		tx_verrs_add(v, "price", price_msg);
}

/* title and price from the JSON body, checked; 0 with v->n > 0 on errors. */
static void read_body(const struct tx_req *req, struct tx_ctx *ctx,
		      const char *price_msg, struct tx_verrs *v,
		      const char **title, int64_t *cents)
{
	bool nul = false;
	*title = tx_json_field_str(ctx->arena, req->json, "title", &nul);
	const char *price = tx_json_field_str(ctx->arena, req->json, "price", NULL);
	tickets_validate(nul ? "" : *title, price, price_msg, v, cents);
}

static int reply(struct tx_resp *resp, int status, const struct ticket *t)
{
	tx_resp_json(resp, status);
	ticket_json(&resp->body, t);
	return 0;
}

int tickets_api_create(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	struct tx_verrs v = { .n = 0 };
	const char *title;
	int64_t cents = 0;
	read_body(req, ctx, MSG_PRICE_NEW, &v, &title, &cents);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	struct ticket t;
	int rc = tickets_create(ctx, title, cents, req->user->id, &t);
	return rc < 0 ? rc : reply(resp, 201, &t);
}

int tickets_api_list(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	(void)req;
	tx_resp_json(resp, 200);
	return tickets_list_render(ctx, TICKETS_LIST_JSON, &resp->body);
}

int tickets_api_show(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	struct ticket t;
	int rc = tickets_get(ctx, req->params[0], &t);
	return rc < 0 ? rc : reply(resp, 200, &t);
}

/* Checks in the original's order: validation, 404, reserved, owner. */
int tickets_api_update(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	struct tx_verrs v = { .n = 0 };
	const char *title;
	int64_t cents = 0;
	read_body(req, ctx, MSG_PRICE_EDIT, &v, &title, &cents);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	struct ticket t;
	int rc = tickets_get(ctx, req->params[0], &t);
	if (rc < 0)
		return rc;
	if (t.order_id)
		return tx_resp_error_message(resp, 400, "Cannot edit a reserved ticket");
	if (strcmp(t.user_id, req->user->id) != 0)
		return -TX_E_NOT_AUTHORIZED;
	rc = tickets_update(ctx, t.id, t.version, title, cents, &t);
	return rc < 0 ? rc : reply(resp, 200, &t);
}
