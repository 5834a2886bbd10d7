/* pages.c: the tickets pages: the landing list, the sell form, a ticket
 * with its Purchase button. */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/tmpl.h"

#include <stdio.h>

int tickets_page_index(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	struct tx_buf rows = TX_BUF_INIT(resp->body.cap);
	int rc = tickets_list_render(ctx, TICKETS_LIST_HTML, &rows);
	if (rc == 0) {
		struct tmpl_dict *d = tx_html_begin(req, ctx, "index.tpl", "Tickets", NULL, 0);
		tmpl_set(d, "ROWS", rows.buf);
		rc = tx_html_finish(ctx, resp, 200);
	}
	tx_buf_release(&rows);
	return rc;
}

static int new_form(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp, const char *title, const char *price,
		    const char *const *errors, size_t nerrors, int status)
{
	struct tmpl_dict *d = tx_html_begin(req, ctx, "new_ticket.tpl",
					    "Create a Ticket", errors, nerrors);
	tmpl_set(d, "TITLE", title);
	tmpl_set(d, "PRICE", price);
	return tx_html_finish(ctx, resp, status);
}

int tickets_page_new(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	return new_form(req, ctx, resp, "", "", NULL, 0, 200);
}

int tickets_page_new_post(const struct tx_req *req, struct tx_ctx *ctx,
			  struct tx_resp *resp)
{
	const char *title = tx_form_get(&req->form, "title");
	const char *price = tx_form_get(&req->form, "price");
	title = title ? title : "";
	price = price ? price : "";
	struct tx_verrs v = { .n = 0 };
	int64_t cents = 0;
	tickets_validate(title, price, "Price must be greater than 0", &v, &cents);
	if (v.n) {
		const char *msgs[TX_MAX_VERRS];
		for (size_t i = 0; i < v.n; i++)
			msgs[i] = v.e[i].message;
		return new_form(req, ctx, resp, title, price, msgs, v.n, 400);
	}
	struct ticket t;
	int rc = tickets_create(ctx, title, cents, req->user->id, &t);
	return rc < 0 ? rc : tx_resp_redirect(ctx, resp, "/");
}

int tickets_page_show(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct ticket t;
	int rc = tickets_get(ctx, req->params[0], &t);
	if (rc == -TX_E_BAD_REQUEST)
		rc = -TX_E_NOT_FOUND; /* a malformed id in a page URL: no such page */
	if (rc < 0)
		return rc;
	char price[32];
	tx_price_format(t.price_cents, price, sizeof(price));
	struct tmpl_dict *d = tx_html_begin(req, ctx, "show_ticket.tpl", t.title, NULL, 0);
	tmpl_set(d, "TITLE", t.title);
	tmpl_set(d, "PRICE", price);
	tmpl_set(d, "ID", t.id);
	if (t.order_id)
		tmpl_show_section(d, "RESERVED");
	return tx_html_finish(ctx, resp, 200);
}
