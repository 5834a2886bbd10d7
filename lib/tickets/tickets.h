/* tickets.h: the tickets service: tickets for sale, the site's landing
 * page, a seller's own tickets, and the 404 page for paths no other
 * service owns.
 *
 * Prices are whole cents everywhere inside; the API takes any number or
 * numeric string > 0 and <= 1,000,000 (more than two decimals are rounded)
 * and answers with a JSON number (10.5 stays 10.5). Every change bumps the
 * ticket's version through an optimistic UPDATE ... WHERE version = $n and
 * writes its event into tickets.outbox in the same statement. A title is
 * 1 to 200 characters.
 *
 * Listings (DESIGN.md, "Contract additions: listings at marketplace
 * scale") are keyset pages: a page is the rows after (or before) a cursor
 * in the listing's order, one indexed query, never OFFSET. "Listing time"
 * is seq, the order in which tickets were listed: unique, so it breaks
 * every tie by itself. A cursor names one row's place in one listing; it
 * is signed (query.c), so a client can neither forge a place nor carry a
 * cursor from one listing, sort, search or user to another.
 */
#ifndef TX_TICKETS_H
#define TX_TICKETS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/events.h"
#include "core/http.h"
#include "core/money.h"

extern const struct tx_service tickets_service;

struct pg_result; /* libpq's PGresult */
struct tx_config;
struct tx_gencache;

struct ticket {
	const char *id;
	const char *title;
	int64_t price_cents;
	const char *user_id;
	const char *order_id; /* NULL when not reserved */
	long version;
	int64_t seq; /* listing order */
	bool sold;   /* its order was paid (sold_at) */
};

#define TICKETS_TITLE_MAX 200 /* characters */

/* model.c: each returns 0 or -TX_E_... (404 for no such ticket). */
int tickets_create(struct tx_ctx *ctx, const char *title, int64_t cents,
		   const char *user_id, struct ticket *out);
int tickets_get(struct tx_ctx *ctx, const char *id, struct ticket *out);
/* Update if still at version and unreserved; a lost race is BAD_REQUEST. */
int tickets_update(struct tx_ctx *ctx, const char *id, long version,
		   const char *title, int64_t cents, struct ticket *out);
/* Row i of a result whose columns are id, title, price_cents, user_id,
 * order_id, version, seq, sold (the statements of model.c and listing.c);
 * the strings point into the result. */
void ticket_from_row(const struct pg_result *r, int i, struct ticket *t);
void ticket_json(struct tx_buf *b, const struct ticket *t);
/* The same with "status" (ticket_status) last: a seller's own listing. */
void ticket_json_status(struct tx_buf *b, const struct ticket *t);
/* "available", "reserved" or "sold". */
const char *ticket_status(const struct ticket *t);

/* ---- listings: query.c (parameters, cursors), listing.c (a page) ---- */

enum tickets_listing {
	TICKETS_FOR_SALE, /* GET /api/tickets, / */
	TICKETS_MINE,	  /* GET /api/tickets/mine, /tickets/mine */
	TICKETS_LISTING__MAX
};

enum tickets_sort {
	TICKETS_SORT_OLDEST,
	TICKETS_SORT_NEWEST,
	TICKETS_SORT_PRICE_ASC,
	TICKETS_SORT_PRICE_DESC,
	TICKETS_SORT__MAX
};

#define TICKETS_LIMIT_DEFAULT 50
#define TICKETS_LIMIT_MAX 100
#define TICKETS_Q_MAX 100 /* characters */
#define TICKETS_Q_MAX_WORDS (TICKETS_Q_MAX / 2 + 1)

/* One page request, checked. Strings are the request's (arena). */
struct tickets_page_req {
	enum tickets_listing listing;
	enum tickets_sort sort; /* TICKETS_MINE: always newest */
	long limit;
	bool limit_given;       /* ?limit= was in the request */
	const char *q;		/* the words joined by single spaces; "" */
	const char *words[TICKETS_Q_MAX_WORDS];
	size_t nwords;
	const char *user_id; /* TICKETS_MINE: whose (from the session) */
	bool cursor;	     /* after or before was given */
	bool before;	     /* the page before the cursor, not after */
	int64_t cur_price, cur_seq; /* the cursor's row */
	const char *cursor_text;    /* as given */
};

extern const char *const tickets_sort_names[TICKETS_SORT__MAX];

/* Read limit, sort, q, after and before from a query string (raw, as in
 * the URL) into r, for listing (user: the signed-in user's id, or NULL)
 * with default_sort. Each parameter that is repeated, empty (q excepted:
 * empty means no search), out of range, not valid UTF-8, badly
 * percent-encoded or (a cursor) not one of ours for this very listing,
 * sort, search and user adds "Invalid value" for its field to v. Other
 * parameters are ignored. TICKETS_MINE reads only limit, after, before. */
void tickets_page_parse(struct tx_ctx *ctx, const char *query,
			enum tickets_listing listing, const char *user,
			enum tickets_sort default_sort, struct tickets_page_req *r,
			struct tx_verrs *v);
/* The cursor of row t in r's listing (base64url, arena). */
const char *tickets_cursor(struct tx_ctx *ctx, const struct tickets_page_req *r,
			   const struct ticket *t);
/* The path of r's listing (api: /api/tickets..., else the page) with its
 * q, sort (TICKETS_FOR_SALE) and limit, and after= or before= cursor
 * when cursor is not NULL; percent-encoded, arena. */
const char *tickets_page_path(struct tx_ctx *ctx, const struct tickets_page_req *r,
			      bool api, const char *param, const char *cursor);

/* One page: its rows in the listing's order and the cursors of the rows
 * that open the pages next to it (NULL when there is none). */
struct tickets_page {
	struct ticket *rows;
	size_t n;
	const char *next; /* ?after=: more follow */
	const char *prev; /* ?before=: there is a page before this one; "":
			   * the page before is the first page (no cursor) */
};
int tickets_page_load(struct tx_ctx *ctx, const struct tickets_page_req *r,
		      struct tickets_page *p);
/* EXPLAIN of the statement r runs (the plan as text lines, arena), for
 * the plan checks (tests/unit/test_plans.c). */
int tickets_page_explain(struct tx_ctx *ctx, const struct tickets_page_req *r,
			 const char **plan);

/* list.c: a page of tickets for sale, rendered, through ctx->cache. */
enum tickets_list_format {
	TICKETS_LIST_JSON, /* the API's array */
	TICKETS_LIST_HTML, /* the landing page's rows (ticket_rows.tpl) */
	TICKETS_LIST__MAX
};
/* Append r's page in format f to out; its neighbours' cursors into
 * *next and *prev (NULL when none). 0 or -TX_E_... */
int tickets_list_render(struct tx_ctx *ctx, const struct tickets_page_req *r,
			enum tickets_list_format f, struct tx_buf *out,
			const char **next, const char **prev);
/* The service's cache_new: the list cache, following ticket:created and
 * ticket:updated in Redis. */
struct tx_gencache *tickets_cache_new(const struct tx_config *cfg);

/* Validation shared by the API and the form pages. */
void tickets_validate(const char *title, const char *price,
		      const char *price_msg, struct tx_verrs *v, int64_t *cents);

tx_handler tickets_api_create, tickets_api_list, tickets_api_mine,
	tickets_api_show, tickets_api_update;
tx_handler tickets_page_index, tickets_page_mine, tickets_page_new,
	tickets_page_new_post, tickets_page_show, tickets_page_edit,
	tickets_page_edit_post;

/* listeners.c */
extern const struct tx_listener tickets_listeners[];
extern const size_t tickets_nlisteners;

#endif
