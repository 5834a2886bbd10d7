/* listeners.c: the orders service's listeners (group orders-service):
 * the tickets replica (applied strictly in version order), expiry, and
 * payment. */
#include "orders/orders.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"
#include "core/money.h"

#include <stdio.h>
#include <stdlib.h>

TX_STMT(SQL_REPLICA_INSERT, 4,
	"INSERT INTO orders.tickets (id, title, price_cents, version) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING");
/* Only the next version applies; the second value tells a stale
 * duplicate (already applied) from an early one (wait for its turn). */
TX_STMT(SQL_REPLICA_UPDATE, 4,
	"WITH u AS (UPDATE orders.tickets SET title = $2, price_cents = $3, "
	"version = $4 WHERE id = $1 AND version = $4::integer - 1 RETURNING 1) "
	"SELECT (SELECT count(*) FROM u), "
	"(SELECT version FROM orders.tickets WHERE id = $1)");
TX_STMT(SQL_ORDER_EXPIRE, 1,
	"WITH o AS (UPDATE orders.orders SET status = 'cancelled', "
	"version = version + 1 WHERE id = $1 "
	"AND status IN ('created', 'awaiting:payment') RETURNING *), "
	"e AS (INSERT INTO orders.outbox (subject, data) SELECT 'order:cancelled', "
	"json_build_object('id', o.id, 'version', o.version, "
	"'ticket', json_build_object('id', o.ticket_id)) FROM o) "
	"SELECT EXISTS (SELECT 1 FROM orders.orders WHERE id = $1)");
TX_STMT(SQL_ORDER_COMPLETE, 1,
	"WITH o AS (UPDATE orders.orders SET status = 'complete', "
	"version = version + 1 WHERE id = $1 "
	"AND status IN ('created', 'awaiting:payment') RETURNING 1) "
	"SELECT EXISTS (SELECT 1 FROM orders.orders WHERE id = $1)");

static int fail(struct tx_ctx *ctx, int rc, char *err, size_t errlen,
		const char *what)
{
	snprintf(err, errlen, "%s: %s", what, ctx->db_error);
	return rc;
}

/* id, title, cents and version of a ticket event; -1 when malformed. */
static int ticket_fields(struct tx_ctx *ctx, const struct tx_event *ev,
			 const char *v[4], char *cents, size_t cap)
{
	int64_t c;
	v[0] = tx_event_str(ctx->arena, ev, NULL, "id");
	v[1] = tx_event_str(ctx->arena, ev, NULL, "title");
	v[3] = tx_event_str(ctx->arena, ev, NULL, "version");
	if (tx_price_parse(tx_event_str(ctx->arena, ev, NULL, "price"), &c) < 0)
		return -1;
	snprintf(cents, cap, "%lld", (long long)c);
	v[2] = cents;
	return 0;
}

static int on_ticket_created(struct tx_ctx *ctx, const struct tx_event *ev,
			     char *err, size_t errlen)
{
	const char *v[4];
	char cents[24];
	if (ticket_fields(ctx, ev, v, cents, sizeof(cents)) < 0) {
		snprintf(err, errlen, "malformed ticket:created");
		return -TX_E_BAD_REQUEST;
	}
	int rc = tx_db_exec(ctx, &SQL_REPLICA_INSERT, v, NULL);
	return rc < 0 ? fail(ctx, rc, err, errlen, "replica insert") : 0;
}

static int on_ticket_updated(struct tx_ctx *ctx, const struct tx_event *ev,
			     char *err, size_t errlen)
{
	const char *v[4];
	char cents[24];
	if (ticket_fields(ctx, ev, v, cents, sizeof(cents)) < 0) {
		snprintf(err, errlen, "malformed ticket:updated");
		return -TX_E_BAD_REQUEST;
	}
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_REPLICA_UPDATE, v, &r);
	if (rc < 0)
		return fail(ctx, rc, err, errlen, "replica update");
	if (PQgetvalue(r, 0, 0)[0] != '0')
		return 0;
	long have = PQgetisnull(r, 0, 1) ? -1 : strtol(PQgetvalue(r, 0, 1), NULL, 10);
	if (have >= strtol(v[3], NULL, 10))
		return 0; /* already applied */
	snprintf(err, errlen, "Ticket not found (version %s after %ld)", v[3], have);
	return TX_EV_RETRY;
}

/* Run an order statement that answers "does the order exist?". */
static int order_step(struct tx_ctx *ctx, const struct tx_stmt *st,
		      const char *order, char *err, size_t errlen)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, st, (const char *const[]){ order }, &r);
	if (rc < 0)
		return fail(ctx, rc, err, errlen, st->name);
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		snprintf(err, errlen, "Order not found");
		return -TX_E_NOT_FOUND;
	}
	return 0;
}

/* The expiry path, shared with the sweeper (orders.h). */
int orders_expire(struct tx_ctx *ctx, const char *id)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_ORDER_EXPIRE, (const char *const[]){ id }, &r);
	if (rc < 0)
		return rc;
	return PQgetvalue(r, 0, 0)[0] == 't' ? 0 : -TX_E_NOT_FOUND;
}

/* Cancel unless complete or already cancelled (then: no effect, no event). */
static int on_expiration_complete(struct tx_ctx *ctx, const struct tx_event *ev,
				  char *err, size_t errlen)
{
	const char *order = tx_event_str(ctx->arena, ev, NULL, "orderId");
	int rc = orders_expire(ctx, order);
	if (rc == -TX_E_NOT_FOUND)
		snprintf(err, errlen, "Order not found");
	else if (rc < 0)
		fail(ctx, rc, err, errlen, SQL_ORDER_EXPIRE.name);
	return rc;
}

static int on_payment_created(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	const char *order = tx_event_str(ctx->arena, ev, NULL, "orderId");
	return order_step(ctx, &SQL_ORDER_COMPLETE, order, err, errlen);
}

const struct tx_listener orders_listeners[] = {
	{ "ticket:created", "orders-service", "orders", on_ticket_created, NULL },
	{ "ticket:updated", "orders-service", "orders", on_ticket_updated, NULL },
	{ "expiration:complete", "orders-service", "orders", on_expiration_complete, NULL },
	{ "payment:created", "orders-service", "orders", on_payment_created, NULL },
};
const size_t orders_nlisteners = sizeof(orders_listeners) / sizeof(orders_listeners[0]);
