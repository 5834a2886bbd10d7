/* tickets.h: the tickets service: tickets for sale, the site's landing
 * page, and the 404 page for paths no other service owns.
 *
 * Prices are whole cents everywhere inside; the API takes any number or
 * numeric string > 0 and <= 1,000,000 (more than two decimals are rounded)
 * and answers with a JSON number (10.5 stays 10.5). Every change bumps the
 * ticket's version through an optimistic UPDATE ... WHERE version = $n and
 * writes its event into tickets.outbox in the same statement.
 */
#ifndef TX_TICKETS_H
#define TX_TICKETS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/events.h"
#include "core/http.h"
#include "core/money.h"

extern const struct tx_service tickets_service;

struct tx_config;
struct tx_gencache;

struct ticket {
	const char *id;
	const char *title;
	int64_t price_cents;
	const char *user_id;
	const char *order_id; /* NULL when not reserved */
	long version;
};


/* model.c: each returns 0 or -TX_E_... (404 for no such ticket). */
int tickets_create(struct tx_ctx *ctx, const char *title, int64_t cents,
		   const char *user_id, struct ticket *out);
int tickets_get(struct tx_ctx *ctx, const char *id, struct ticket *out);
/* Update if still at version and unreserved; a lost race is BAD_REQUEST. */
int tickets_update(struct tx_ctx *ctx, const char *id, long version,
		   const char *title, int64_t cents, struct ticket *out);
/* Unreserved tickets in insertion order; *n rows in *out (arena). */
int tickets_list(struct tx_ctx *ctx, struct ticket **out, size_t *n);
void ticket_json(struct tx_buf *b, const struct ticket *t);

/* list.c: the unreserved tickets, rendered, through ctx->cache when the
 * program has one. */
enum tickets_list_format {
	TICKETS_LIST_JSON, /* the API's array */
	TICKETS_LIST_HTML, /* the landing page's rows (ticket_rows.tpl) */
	TICKETS_LIST__MAX
};
/* Append the list in format f to out; 0 or -TX_E_... */
int tickets_list_render(struct tx_ctx *ctx, enum tickets_list_format f,
			struct tx_buf *out);
/* The service's cache_new: the list cache, following ticket:created and
 * ticket:updated in Redis. */
struct tx_gencache *tickets_cache_new(const struct tx_config *cfg);

/* Validation shared by the API and the form pages. */
void tickets_validate(const char *title, const char *price,
		      const char *price_msg, struct tx_verrs *v, int64_t *cents);

tx_handler tickets_api_create, tickets_api_list, tickets_api_show,
	tickets_api_update;
tx_handler tickets_page_index, tickets_page_new, tickets_page_new_post,
	tickets_page_show;

/* listeners.c */
extern const struct tx_listener tickets_listeners[];
extern const size_t tickets_nlisteners;

#endif
