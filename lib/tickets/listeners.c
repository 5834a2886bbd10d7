/* listeners.c: the tickets service's listeners (group tickets-service):
 * an order locks its ticket, a cancellation unlocks it, each change bumps
 * the version and publishes ticket:updated through the outbox. */
#include "tickets/tickets.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"

#include <stdio.h>

/* Both listeners first take the ticket's row lock in a statement of its
 * own: order:created and order:cancelled of one order travel on different
 * streams and may run at once in two consumers, and the lock makes the
 * second wait for the first to commit; its next statement then sees the
 * first's effects (READ COMMITTED takes a snapshot per statement). */
TX_STMT(SQL_ROW_LOCK, 1, "SELECT 1 FROM tickets.tickets WHERE id = $1 FOR UPDATE");

/* Lock a free ticket, unless this order's cancellation was already seen.
 * The answer tells why nothing happened: already held by this order or
 * cancelled (done: ack) or held by another order whose cancellation has
 * not arrived yet (wait for it: retry). */
TX_STMT(SQL_LOCK, 2,
	"WITH t AS (UPDATE tickets.tickets SET order_id = $2, version = version + 1 "
	"WHERE id = $1 AND order_id IS NULL AND NOT EXISTS (SELECT 1 FROM "
	"tickets.order_cancellations WHERE order_id = $2) RETURNING *), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM t) "
	"SELECT (SELECT count(*) FROM t) > 0 "
	"OR EXISTS (SELECT 1 FROM tickets.tickets WHERE id = $1 AND order_id = $2) "
	"OR EXISTS (SELECT 1 FROM tickets.order_cancellations WHERE order_id = $2)");
/* Unlock only if this order holds the ticket; remember the cancellation. */
TX_STMT(SQL_UNLOCK, 2,
	"WITH t AS (UPDATE tickets.tickets SET order_id = NULL, version = version + 1 "
	"WHERE id = $1 AND order_id = $2 RETURNING *), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM t), "
	"c AS (INSERT INTO tickets.order_cancellations (order_id) VALUES ($2) "
	"ON CONFLICT DO NOTHING) "
	"SELECT count(*) FROM t");

/* 0 with the ticket's row locked, TX_EV_RETRY if it does not exist (yet). */
static int row_lock(struct tx_ctx *ctx, const char *ticket, char *err, size_t errlen)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_ROW_LOCK, (const char *const[]){ ticket }, &r);
	if (rc < 0) {
		snprintf(err, errlen, "row lock: %s", ctx->db_error);
		return rc;
	}
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "Ticket not found");
		return TX_EV_RETRY;
	}
	return 0;
}

static int on_order_created(struct tx_ctx *ctx, const struct tx_event *ev,
			    char *err, size_t errlen)
{
	const char *ticket = tx_event_str(ctx->arena, ev, "ticket", "id");
	const char *order = tx_event_str(ctx->arena, ev, NULL, "id");
	int rc = row_lock(ctx, ticket, err, errlen);
	if (rc != 0)
		return rc;
	PGresult *r;
	rc = tx_db_exec(ctx, &SQL_LOCK, (const char *const[]){ ticket, order }, &r);
	if (rc < 0) {
		snprintf(err, errlen, "lock: %s", ctx->db_error);
		return rc;
	}
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		snprintf(err, errlen, "Ticket held by another order");
		return TX_EV_RETRY; /* its order:cancelled is still on the way */
	}
	return 0;
}

static int on_order_cancelled(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	const char *ticket = tx_event_str(ctx->arena, ev, "ticket", "id");
	const char *order = tx_event_str(ctx->arena, ev, NULL, "id");
	int rc = row_lock(ctx, ticket, err, errlen);
	if (rc != 0)
		return rc;
	rc = tx_db_exec(ctx, &SQL_UNLOCK, (const char *const[]){ ticket, order }, NULL);
	if (rc < 0)
		snprintf(err, errlen, "unlock: %s", ctx->db_error);
	return rc;
}

const struct tx_listener tickets_listeners[] = {
	{ "order:created", "tickets-service", "tickets", on_order_created, NULL },
	{ "order:cancelled", "tickets-service", "tickets", on_order_cancelled, NULL },
};
const size_t tickets_nlisteners = sizeof(tickets_listeners) / sizeof(tickets_listeners[0]);
