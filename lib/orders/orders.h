/* orders.h: the orders service: reservations, the replica of tickets, the
 * checkout pages, and the listeners that keep orders in step with tickets,
 * expiry and payments.
 *
 * A reservation is an order whose status is created, awaiting:payment or
 * complete; a partial unique index allows one per ticket, so the database,
 * not a read-then-write, decides who gets a ticket.
 */
#ifndef TX_ORDERS_H
#define TX_ORDERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/events.h"
#include "core/http.h"

extern const struct tx_service orders_service;

struct order {
	const char *id;
	const char *user_id;
	const char *status;
	const char *expires_at; /* ISO-8601 with milliseconds */
	int64_t expires_ms;
	long version;
	const char *ticket_id;
	const char *ticket_title;
	int64_t ticket_cents;
	long ticket_version;
};

/* model.c: 0 or -TX_E_... */
int orders_create(struct tx_ctx *ctx, const char *user_id, const char *ticket_id,
		  struct order *out);
int orders_get(struct tx_ctx *ctx, const char *id, struct order *out);
int orders_list(struct tx_ctx *ctx, const char *user_id, struct order **out,
		size_t *n);
/* Cancel (publishes order:cancelled); a complete order is BAD_REQUEST via
 * *complete = true; an already cancelled one is left alone. */
int orders_cancel(struct tx_ctx *ctx, const char *id, struct order *out);
void order_json(struct tx_buf *b, const struct order *o);
/* The replica's row, for pages that show a ticket. */
int orders_ticket(struct tx_ctx *ctx, const char *id, struct order *out);

/* POST /api/orders validation (reference 3.3): two entries for ticketId. */
void orders_validate(const char *ticket_id, struct tx_verrs *v);

tx_handler orders_api_create, orders_api_list, orders_api_show,
	orders_api_cancel;
tx_handler orders_page_create, orders_page_list, orders_page_show;

/* listeners.c */
extern const struct tx_listener orders_listeners[];
extern const size_t orders_nlisteners;
/* Expire an order: cancel it (version + 1, order:cancelled in the outbox)
 * unless it is complete or already cancelled, which is no effect and no
 * event. The path of the expiration:complete listener and the sweeper; the
 * listener's batch mode runs the same statement over many orders at once.
 * 0, -TX_E_NOT_FOUND (no such order), or another -TX_E_... */
int orders_expire(struct tx_ctx *ctx, const char *id);
/* The same over the orders ids[0..n) (uuids) in one statement, each
 * cancelled at most once: the number of ids that match no order, or
 * -TX_E_... (-TX_E_BAD_REQUEST when one is not a uuid). */
int orders_expire_many(struct tx_ctx *ctx, const char *const *ids, size_t n);

/* sweeper.c: cancels, through orders_expire_many, created orders whose
 * expires_at is older than now - EXPIRATION_GRACE_SECONDS, in case Redis
 * lost their timers. Batches of at most ORDERS_SWEEP_BATCH rows taken with
 * FOR UPDATE SKIP LOCKED, each batch one transaction: any number of
 * sweepers may run at once, and with the expiration:complete listener. */
#define ORDERS_SWEEP_BATCH 100
/* One batch on ctx (its own connection, no transaction open): *n gets the
 * number cancelled. 0 or -TX_E_... */
int orders_sweep(struct tx_ctx *ctx, long grace_s, int limit, int *n);

struct orders_sweeper;
struct tx_config;
/* A sweeper with its own connection (ORDERS_DATABASE_URL or DATABASE_URL). */
struct orders_sweeper *orders_sweeper_new(const struct tx_config *cfg);
void orders_sweeper_free(struct orders_sweeper *s);
/* Sweep every max(1/4 of the grace, 250 ms), at most 5 s, until *stop. */
void orders_sweeper_run(struct orders_sweeper *s, const atomic_bool *stop);

#endif
