/* api.c: the orders JSON API (/api/orders), as reference section 3.3 with
 * DESIGN.md's fixes (a complete order cannot be cancelled). */
#include "orders/orders.h"
#include "core/errors.h"
#include "core/json.h"

#include <ctype.h>
#include <string.h>

static bool uuid_valid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

void orders_validate(const char *ticket_id, struct tx_verrs *v)
{
	if (!*ticket_id)
		tx_verrs_add(v, "ticketId", "Invalid value");
	if (!uuid_valid(ticket_id))
		tx_verrs_add(v, "ticketId", "TicketId must be provided");
}

static int reply(struct tx_resp *resp, int status, const struct order *o)
{
	tx_resp_json(resp, status);
	order_json(&resp->body, o);
	return 0;
}

int orders_api_create(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct tx_verrs v = { .n = 0 };
	const char *ticket_id = tx_json_field_value(ctx->arena, req->json, "ticketId", NULL);
	orders_validate(ticket_id, &v);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	struct order o;
	int rc = orders_create(ctx, req->user->id, ticket_id, &o);
	if (rc == -TX_E_CONFLICT)
		return tx_resp_error_message(resp, 400, "Ticket is already reserved");
	return rc < 0 ? rc : reply(resp, 201, &o);
}

int orders_api_list(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp)
{
	struct order *os;
	size_t n;
	int rc = orders_list(ctx, req->user->id, &os, &n);
	if (rc < 0)
		return rc;
	tx_resp_json(resp, 200);
	tx_buf_addch(&resp->body, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			tx_buf_addch(&resp->body, ',');
		order_json(&resp->body, &os[i]);
	}
	tx_buf_addch(&resp->body, ']');
	return 0;
}

/* The order, if it exists (404) and belongs to the user (401). */
static int own_order(const struct tx_req *req, struct tx_ctx *ctx, struct order *o)
{
	int rc = orders_get(ctx, req->params[0], o);
	if (rc < 0)
		return rc;
	return strcmp(o->user_id, req->user->id) == 0 ? 0 : -TX_E_NOT_AUTHORIZED;
}

int orders_api_show(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp)
{
	struct order o;
	int rc = own_order(req, ctx, &o);
	return rc < 0 ? rc : reply(resp, 200, &o);
}

int orders_api_cancel(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct order o = { .id = NULL };
	int rc = own_order(req, ctx, &o);
	if (rc == 0 && strcmp(o.status, "complete") != 0 &&
	    strcmp(o.status, "cancelled") != 0)
		rc = orders_cancel(ctx, o.id, &o);
	if (rc == -TX_E_NOT_FOUND && o.id) /* changed under us: look again */
		rc = orders_get(ctx, o.id, &o);
	if (rc < 0)
		return rc;
	if (strcmp(o.status, "complete") == 0)
		return tx_resp_error_message(resp, 400, "Cannot cancel a completed order");
	resp->status = 204;
	return 0;
}
