/* listeners.c: the tickets service's listeners (group tickets-service):
 * an order locks its ticket, a cancellation unlocks it, each change bumps
 * the version and publishes ticket:updated through the outbox. */
#include "tickets/tickets.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"

#include <stdio.h>

/* Lock, unless this order's cancellation was already seen. */
TX_STMT(SQL_LOCK, 2,
	"WITH t AS (UPDATE tickets.tickets SET order_id = $2, version = version + 1 "
	"WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM tickets.order_cancellations "
	"WHERE order_id = $2) RETURNING *), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM t) "
	"SELECT (SELECT count(*) FROM t), "
	"EXISTS (SELECT 1 FROM tickets.tickets WHERE id = $1)");
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

static int on_order_created(struct tx_ctx *ctx, const struct tx_event *ev,
			    char *err, size_t errlen)
{
	const char *ticket = tx_event_str(ctx->arena, ev, "ticket", "id");
	const char *order = tx_event_str(ctx->arena, ev, NULL, "id");
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_LOCK, (const char *const[]){ ticket, order }, &r);
	if (rc < 0) {
		snprintf(err, errlen, "lock: %s", ctx->db_error);
		return rc;
	}
	if (PQgetvalue(r, 0, 1)[0] != 't') {
		snprintf(err, errlen, "Ticket not found");
		return TX_EV_RETRY; /* its ticket:created may still be on the way */
	}
	return 0;
}

static int on_order_cancelled(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	const char *ticket = tx_event_str(ctx->arena, ev, "ticket", "id");
	const char *order = tx_event_str(ctx->arena, ev, NULL, "id");
	int rc = tx_db_exec(ctx, &SQL_UNLOCK, (const char *const[]){ ticket, order }, NULL);
	if (rc < 0)
		snprintf(err, errlen, "unlock: %s", ctx->db_error);
	return rc;
}

const struct tx_listener tickets_listeners[] = {
	{ "order:created", "tickets-service", "tickets", on_order_created },
	{ "order:cancelled", "tickets-service", "tickets", on_order_cancelled },
};
const size_t tickets_nlisteners = sizeof(tickets_listeners) / sizeof(tickets_listeners[0]);
