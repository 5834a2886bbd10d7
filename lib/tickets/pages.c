/* pages.c: the tickets pages: the landing list with its search, sort and
 * pages, the sell form, a ticket with its Purchase button, the seller's
 * own tickets and the form that edits one. Everything works without
 * JavaScript: the search is a GET form, the pages are links. */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/tmpl.h"

#include <stdio.h>
#include <string.h>

#define MSG_PRICE_NEW "Price must be greater than 0"
#define MSG_PRICE_EDIT "Price must be provided and must be greater than 0"
#define MSG_RESERVED "Cannot edit a reserved ticket"

/* The sort choice of the landing page, in the order it offers them. */
static const struct {
	enum tickets_sort sort;
	const char *label;
} sort_choices[] = {
	{ TICKETS_SORT_NEWEST, "Newest first" },
	{ TICKETS_SORT_OLDEST, "Oldest first" },
	{ TICKETS_SORT_PRICE_ASC, "Price: low to high" },
	{ TICKETS_SORT_PRICE_DESC, "Price: high to low" },
};

/* The messages of a listing's bad parameters, for the error box. */
static size_t param_errors(struct tx_ctx *ctx, const struct tx_verrs *v,
			   const char **msgs)
{
	for (size_t i = 0; i < v->n; i++)
		msgs[i] = tx_arena_join(ctx->arena, v->e[i].message, ": ", v->e[i].field,
					(char *)NULL);
	return v->n;
}

/* Previous and Next (pager.tpl) under a list, when there is somewhere
 * to go. prev "" is the first page. */
static void set_pager(struct tx_ctx *ctx, struct tmpl_dict *body,
		      const struct tickets_page_req *r, const char *next,
		      const char *prev)
{
	if (!next && !prev)
		return;
	struct tmpl_dict *pg = tmpl_add_include(body, "PAGER", "pager.tpl");
	if (prev)
		tmpl_set(tmpl_add_section(pg, "PREV"), "HREF",
			 tickets_page_path(ctx, r, false, "before", *prev ? prev : NULL));
	if (next)
		tmpl_set(tmpl_add_section(pg, "NEXT"), "HREF",
			 tickets_page_path(ctx, r, false, "after", next));
}

static void set_search(struct tmpl_dict *d, const struct tickets_page_req *r)
{
	tmpl_set(d, "Q", r->q);
	for (size_t i = 0; i < sizeof(sort_choices) / sizeof(sort_choices[0]); i++) {
		struct tmpl_dict *o = tmpl_add_section(d, "SORT");
		tmpl_set(o, "VALUE", tickets_sort_names[sort_choices[i].sort]);
		tmpl_set(o, "LABEL", sort_choices[i].label);
		if (sort_choices[i].sort == r->sort)
			tmpl_show_section(o, "SELECTED");
	}
	if (r->limit_given)
		tmpl_set_int(tmpl_add_section(d, "LIMIT"), "VALUE", r->limit);
}

int tickets_page_index(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	struct tickets_page_req r;
	struct tx_verrs v = { .n = 0 };
	const char *msgs[TX_MAX_VERRS], *next = NULL, *prev = NULL;
	tickets_page_parse(ctx, req->query, TICKETS_FOR_SALE, NULL, TICKETS_SORT_NEWEST,
			   &r, &v);
	struct tx_buf rows = TX_BUF_INIT(resp->body.cap);
	int rc = v.n ? 0 : tickets_list_render(ctx, &r, TICKETS_LIST_HTML, &rows, &next, &prev);
	if (rc == 0) {
		size_t nmsgs = param_errors(ctx, &v, msgs);
		struct tmpl_dict *d = tx_html_begin(req, ctx, "index.tpl", "Tickets", msgs, nmsgs);
		set_search(d, &r);
		if (!v.n) {
			tmpl_show_section(d, "LIST");
			tmpl_set(d, "ROWS", rows.buf);
			set_pager(ctx, d, &r, next, prev);
		}
		rc = tx_html_finish(ctx, resp, v.n ? 400 : 200);
	}
	tx_buf_release(&rows);
	return rc;
}

/* ---- a seller's own tickets ------------------------------------------------ */

static const char *status_label(const struct ticket *t)
{
	return t->sold ? "Sold" : t->order_id ? "Reserved" : "Available";
}

int tickets_page_mine(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct tickets_page_req r;
	struct tickets_page p = { 0 };
	struct tx_verrs v = { .n = 0 };
	const char *msgs[TX_MAX_VERRS];
	tickets_page_parse(ctx, req->query, TICKETS_MINE, req->user->id,
			   TICKETS_SORT_NEWEST, &r, &v);
	int rc = v.n ? 0 : tickets_page_load(ctx, &r, &p);
	if (rc < 0)
		return rc;
	size_t nmsgs = param_errors(ctx, &v, msgs);
	struct tmpl_dict *d = tx_html_begin(req, ctx, "my_tickets.tpl", "My Tickets", msgs,
					    nmsgs);
	if (v.n)
		return tx_html_finish(ctx, resp, 400);
	tmpl_show_section(d, "LIST");
	for (size_t i = 0; i < p.n; i++) {
		char price[32];
		struct tmpl_dict *row = tmpl_add_section(d, "TICKET");
		tx_price_format(p.rows[i].price_cents, price, sizeof(price));
		tmpl_set(row, "TITLE", p.rows[i].title);
		tmpl_set(row, "PRICE", price);
		tmpl_set(row, "ID", p.rows[i].id);
		tmpl_set(row, "STATUS", ticket_status(&p.rows[i]));
		tmpl_set(row, "STATUS_LABEL", status_label(&p.rows[i]));
		if (!p.rows[i].order_id)
			tmpl_show_section(row, "EDIT");
	}
	if (p.n == 0)
		tmpl_show_section(d, r.cursor ? "NO_MORE" : "NO_TICKETS");
	set_pager(ctx, d, &r, p.next, p.prev);
	return tx_html_finish(ctx, resp, 200);
}

/* ---- selling ---------------------------------------------------------------- */

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

/* title and price of a form post, and their errors' messages. */
static size_t read_form(const struct tx_req *req, const char *price_msg,
			const char **title, const char **price, int64_t *cents,
			const char **msgs)
{
	struct tx_verrs v = { .n = 0 };
	*title = tx_form_get(&req->form, "title");
	*price = tx_form_get(&req->form, "price");
	*title = *title ? *title : "";
	*price = *price ? *price : "";
	tickets_validate(*title, *price, price_msg, &v, cents);
	for (size_t i = 0; i < v.n; i++)
		msgs[i] = v.e[i].message;
	return v.n;
}

int tickets_page_new_post(const struct tx_req *req, struct tx_ctx *ctx,
			  struct tx_resp *resp)
{
	const char *title, *price, *msgs[TX_MAX_VERRS];
	int64_t cents = 0;
	size_t n = read_form(req, MSG_PRICE_NEW, &title, &price, &cents, msgs);
	if (n)
		return new_form(req, ctx, resp, title, price, msgs, n, 400);
	struct ticket t;
	int rc = tickets_create(ctx, title, cents, req->user->id, &t);
	return rc < 0 ? rc : tx_resp_redirect(ctx, resp, "/");
}

/* ---- a ticket ----------------------------------------------------------------- */

/* The ticket of the page's URL; a malformed id is no such page. */
static int load(struct tx_ctx *ctx, const char *id, struct ticket *t)
{
	int rc = tickets_get(ctx, id, t);
	return rc == -TX_E_BAD_REQUEST ? -TX_E_NOT_FOUND : rc;
}

int tickets_page_show(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct ticket t;
	int rc = load(ctx, req->params[0], &t);
	if (rc < 0)
		return rc;
	char price[32];
	tx_price_format(t.price_cents, price, sizeof(price));
	struct tmpl_dict *d = tx_html_begin(req, ctx, "show_ticket.tpl", t.title, NULL, 0);
	tmpl_set(d, "TITLE", t.title);
	tmpl_set(d, "PRICE", price);
	tmpl_set(d, "ID", t.id);
	if (t.sold)
		tmpl_show_section(d, "SOLD");
	else
		tmpl_show_section(d, "PURCHASE");
	if (t.order_id && !t.sold)
		tmpl_show_section(d, "RESERVED");
	if (!t.order_id && req->user && strcmp(req->user->id, t.user_id) == 0)
		tmpl_show_section(d, "EDIT");
	return tx_html_finish(ctx, resp, 200);
}

/* ---- editing ------------------------------------------------------------------- */

/* The edit page: the form (with these values and errors), or, for a
 * ticket that cannot be edited now, the reason without a form. */
static int edit_form(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp,
		     const struct ticket *t, const char *title, const char *price,
		     const char *const *errors, size_t nerrors, int status)
{
	struct tmpl_dict *d = tx_html_begin(req, ctx, "edit_ticket.tpl", "Edit Ticket",
					    errors, nerrors);
	tmpl_set(d, "ID", t->id);
	tmpl_set(d, "TITLE", title);
	tmpl_set(d, "PRICE", price);
	tmpl_show_section(d, t->order_id ? "LOCKED" : "FORM");
	return tx_html_finish(ctx, resp, status);
}

/* The ticket to edit, if it is the user's: 0, a -TX_E_ (404), or 1 when
 * the answer (not yours) is already in resp. */
static int editable(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp, struct ticket *t)
{
	int rc = load(ctx, req->params[0], t);
	if (rc < 0)
		return rc;
	if (strcmp(t->user_id, req->user->id) == 0)
		return 0;
	const char *msg = tx_err_message(-TX_E_NOT_AUTHORIZED);
	tx_html_begin(req, ctx, "error.tpl", "Error", &msg, 1);
	rc = tx_html_finish(ctx, resp, 401);
	return rc < 0 ? rc : 1;
}

int tickets_page_edit(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	struct ticket t;
	int rc = editable(req, ctx, resp, &t);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	char price[32];
	tx_price_format(t.price_cents, price, sizeof(price));
	const char *msg = MSG_RESERVED;
	return edit_form(req, ctx, resp, &t, t.title, price, &msg, t.order_id ? 1 : 0, 200);
}

/* The API's rules in the order a page wants them: no such ticket, not
 * yours, reserved (or sold), then the fields. */
int tickets_page_edit_post(const struct tx_req *req, struct tx_ctx *ctx,
			   struct tx_resp *resp)
{
	struct ticket t;
	int rc = editable(req, ctx, resp, &t);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	const char *title, *price, *msgs[TX_MAX_VERRS];
	int64_t cents = 0;
	if (t.order_id) {
		msgs[0] = MSG_RESERVED;
		return edit_form(req, ctx, resp, &t, t.title, "", msgs, 1, 400);
	}
	size_t n = read_form(req, MSG_PRICE_EDIT, &title, &price, &cents, msgs);
	if (n)
		return edit_form(req, ctx, resp, &t, title, price, msgs, n, 400);
	rc = tickets_update(ctx, t.id, t.version, title, cents, &t);
	if (rc == -TX_E_BAD_REQUEST) { /* reserved (or edited) since we looked */
		rc = load(ctx, req->params[0], &t);
		msgs[0] = t.order_id ? MSG_RESERVED : tx_err_message(-TX_E_BAD_REQUEST);
		return rc < 0 ? rc : edit_form(req, ctx, resp, &t, title, price, msgs, 1, 400);
	}
	return rc < 0 ? rc : tx_resp_redirect(ctx, resp, "/tickets/mine");
}
