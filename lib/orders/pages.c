/* pages.c: the orders pages: buying (the Purchase button's POST), my
 * orders, and the checkout page with its countdown and payment form. */
#include "orders/orders.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/page.h"
#include "core/tmpl.h"

#include <stdio.h>
#include <string.h>

/* The ticket page again, with the reason the purchase failed. */
static int ticket_with_error(const struct tx_req *req, struct tx_ctx *ctx,
			     struct tx_resp *resp, const char *ticket_id,
			     const char *message, int status)
{
	struct order t;
	int rc = orders_ticket(ctx, ticket_id, &t);
	if (rc < 0)
		return rc == -TX_E_BAD_REQUEST ? -TX_E_NOT_FOUND : rc;
	char price[32];
	tx_price_format(t.ticket_cents, price, sizeof(price));
	struct tmpl_dict *d = tx_html_begin(req, ctx, "show_ticket.tpl",
					    t.ticket_title, &message, 1);
	tmpl_set(d, "TITLE", t.ticket_title);
	tmpl_set(d, "PRICE", price);
	tmpl_set(d, "ID", t.ticket_id);
	tmpl_show_section(d, "PURCHASE");
	return tx_html_finish(ctx, resp, status);
}

int orders_page_create(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	const char *ticket_id = tx_form_get(&req->form, "ticketId");
	struct tx_verrs v = { .n = 0 };
	orders_validate(ticket_id ? ticket_id : "", &v);
	if (v.n)
		return -TX_E_NOT_FOUND;
	struct order o;
	int rc = orders_create(ctx, req->user->id, ticket_id, &o);
	if (rc == -TX_E_CONFLICT)
		return ticket_with_error(req, ctx, resp, ticket_id,
					 "Ticket is already reserved", 400);
	if (rc < 0)
		return rc;
	return tx_resp_redirect(ctx, resp, tx_arena_printf(ctx->arena, "/orders/%s", o.id));
}

int orders_page_list(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	struct order *os;
	size_t n;
	int rc = orders_list(ctx, req->user->id, &os, &n);
	if (rc < 0)
		return rc;
	struct tmpl_dict *d = tx_html_begin(req, ctx, "orders.tpl", "My Orders", NULL, 0);
	for (size_t i = 0; i < n; i++) {
		struct tmpl_dict *row = tmpl_add_section(d, "ORDER");
		tmpl_set(row, "ID", os[i].id);
		tmpl_set(row, "TITLE", os[i].ticket_title);
		tmpl_set(row, "STATUS", os[i].status);
	}
	if (n == 0)
		tmpl_show_section(d, "NO_ORDERS");
	return tx_html_finish(ctx, resp, 200);
}

/* What the checkout page shows: the countdown and the payment form while
 * the order can be paid, or the outcome in words. */
static void checkout_state(struct tmpl_dict *d, const struct order *o,
			   const struct tx_config *cfg, int64_t now_ms)
{
	long long left_ms = (long long)(o->expires_ms - now_ms);
	if (strcmp(o->status, "complete") == 0) {
		tmpl_show_section(d, "PAID");
	} else if (left_ms <= 0) {
		/* By the clock, not the rounded seconds: the expiry may cancel
		 * the order within half a second of expiresAt, and that order
		 * expired, it was not cancelled by its buyer. */
		tmpl_show_section(d, "EXPIRED");
	} else if (strcmp(o->status, "cancelled") == 0) {
		tmpl_show_section(d, "CANCELLED");
	} else {
		struct tmpl_dict *p = tmpl_add_section(d, "PAYABLE");
		char num[32];
		snprintf(num, sizeof(num), "%lld", (left_ms + 500) / 1000);
		tmpl_set(p, "SECONDS", num);
		snprintf(num, sizeof(num), "%lld", (long long)now_ms);
		tmpl_set(p, "NOW_MS", num);
		tmpl_set(p, "EXPIRES_AT", o->expires_at);
		tx_page_card_field(p, cfg);
	}
}

int orders_page_show(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	struct order o;
	int rc = orders_get(ctx, req->params[0], &o);
	if (rc == -TX_E_BAD_REQUEST)
		rc = -TX_E_NOT_FOUND;
	if (rc == 0 && strcmp(o.user_id, req->user->id) != 0)
		rc = -TX_E_NOT_FOUND; /* someone else's order: no such page for you */
	if (rc < 0)
		return rc;
	char price[32];
	tx_price_format(o.ticket_cents, price, sizeof(price));
	struct tmpl_dict *d = tx_html_begin(req, ctx, "order.tpl", "Checkout", NULL, 0);
	tmpl_set(d, "ID", o.id);
	tmpl_set(d, "TITLE", o.ticket_title);
	tmpl_set(d, "PRICE", price);
	tmpl_set(d, "STATUS", o.status);
	checkout_state(d, &o, ctx->cfg, ctx->now_ms);
	return tx_html_finish(ctx, resp, 200);
}
