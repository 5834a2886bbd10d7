/* api.c: the tickets JSON API (/api/tickets), as reference section 3.2. */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/json.h"

#include <string.h>

#define MSG_TITLE "Title is required"
#define MSG_TITLE_LONG "Title must be at most 200 characters"
#define MSG_PRICE_NEW "Price must be greater than 0"
#define MSG_PRICE_EDIT "Price must be provided and must be greater than 0"

/* Characters (code points) of valid UTF-8. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void tickets_validate(const char *title, const char *price,
		      const char *price_msg, struct tx_verrs *v, int64_t *cents)
{
	if (!*title)
		tx_verrs_add(v, "title", MSG_TITLE);
	else if (utf8_chars(title) > TICKETS_TITLE_MAX)
		tx_verrs_add(v, "title", MSG_TITLE_LONG);
	if (tx_price_parse(price, cents) < 0)
		tx_verrs_add(v, "price", price_msg);
}

/* title and price from the JSON body, checked; 0 with v->n > 0 on errors.
 * A value of the wrong JSON type is one that is missing (json.h). */
static void read_body(const struct tx_req *req, struct tx_ctx *ctx,
		      const char *price_msg, struct tx_verrs *v,
		      const char **title, int64_t *cents)
{
	bool nul = false;
	*title = tx_json_field_value(ctx->arena, req->json, "title", &nul);
	const char *price = tx_json_field_value(ctx->arena, req->json, "price", NULL);
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

/* Link (RFC 8288) to the pages next to this one, when there are any. */
static int link_header(struct tx_ctx *ctx, struct tx_resp *resp,
		       const struct tickets_page_req *r, const char *next,
		       const char *prev)
{
	const char *n = next ? tickets_page_path(ctx, r, true, "after", next) : NULL;
	const char *p = prev ? tickets_page_path(ctx, r, true, "before",
						 *prev ? prev : NULL) : NULL;
	if (!n && !p)
		return 0;
	return tx_resp_header(ctx, resp, "Link",
			      tx_arena_join(ctx->arena, n ? "<" : "", n ? n : "",
					    n ? ">; rel=\"next\"" : "", n && p ? ", " : "",
					    p ? "<" : "", p ? p : "",
					    p ? ">; rel=\"prev\"" : "", (char *)NULL));
}

int tickets_api_list(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	struct tickets_page_req r;
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(ctx, req->query, TICKETS_FOR_SALE, NULL, TICKETS_SORT_OLDEST,
			   &r, &v);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	const char *next, *prev;
	tx_resp_json(resp, 200);
	int rc = tickets_list_render(ctx, &r, TICKETS_LIST_JSON, &resp->body, &next, &prev);
	return rc < 0 ? rc : link_header(ctx, resp, &r, next, prev);
}

/* The caller's own tickets, newest first, each with its status. */
int tickets_api_mine(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	struct tickets_page_req r;
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(ctx, req->query, TICKETS_MINE, req->user->id,
			   TICKETS_SORT_NEWEST, &r, &v);
	if (v.n)
		return tx_resp_verrs(resp, &v);
	struct tickets_page p;
	int rc = tickets_page_load(ctx, &r, &p);
	if (rc < 0)
		return rc;
	tx_resp_json(resp, 200);
	tx_buf_addch(&resp->body, '[');
	for (size_t i = 0; i < p.n; i++) {
		if (i)
			tx_buf_addch(&resp->body, ',');
		ticket_json_status(&resp->body, &p.rows[i]);
	}
	tx_buf_addch(&resp->body, ']');
	return link_header(ctx, resp, &r, p.next, p.prev);
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
