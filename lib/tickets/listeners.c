/* listeners.c: the tickets service's listeners (group tickets-service):
 * an order locks its ticket, a cancellation unlocks it, each change bumps
 * the version and publishes ticket:updated through the outbox; a payment
 * marks the ticket its order holds as sold (sold_at: no version change,
 * no event, since no other service needs it; the seller's own listing
 * shows it). All three also come in batches (a flash sale, a mass
 * expiry): set-based statements over the batch. */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

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
/* Unlock only if this order holds the ticket; remember the cancellation.
 * A ticket sold to the order is not sold any more: the order was
 * cancelled before its payment reached orders, and payments refunds the
 * charge (lib/payments/listeners.c). */
TX_STMT(SQL_UNLOCK, 2,
	"WITH t AS (UPDATE tickets.tickets SET order_id = NULL, sold_at = NULL, "
	"version = version + 1 "
	"WHERE id = $1 AND order_id = $2 RETURNING *), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM t), "
	"c AS (INSERT INTO tickets.order_cancellations (order_id) VALUES ($2) "
	"ON CONFLICT DO NOTHING) "
	"SELECT count(*) FROM t");

/* The batch form of the unlock: $1 tickets and $2 the orders cancelled,
 * pair by pair. l locks the tickets in id order and reads, having waited
 * for a lock held by order:created, who holds each one now (as the single
 * path's first statement does); each ticket held by its pair's order is
 * unlocked with its ticket:updated; every cancellation is remembered. The
 * answer: the tickets that do not exist (yet). */
TX_STMT(SQL_UNLOCK_MANY, 2,
	"WITH l AS (SELECT id, order_id FROM tickets.tickets "
	"WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE), "
	"c AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS c (ticket, order_id)), "
	"t AS (UPDATE tickets.tickets t SET order_id = NULL, sold_at = NULL, "
	"version = t.version + 1 "
	"FROM l JOIN c ON c.ticket = l.id AND c.order_id = l.order_id "
	"WHERE t.id = l.id RETURNING t.*), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM t), "
	"x AS (INSERT INTO tickets.order_cancellations (order_id) "
	"SELECT DISTINCT order_id FROM c ON CONFLICT DO NOTHING) "
	"SELECT unnest($1::uuid[]) EXCEPT SELECT id FROM l");

/* The batch form of the lock, in two statements as the single path: the
 * first locks the batch's tickets in id order (two batches that share
 * one wait for each other rather than deadlock; a lock held by
 * order:cancelled makes it wait), so that the second, with a snapshot
 * taken after the wait, sees who holds each ticket now and every
 * cancellation committed meanwhile. $1 the tickets and $2 the orders,
 * pair by pair, in the batch's order. As one by one: a free ticket goes
 * to the first of its events whose order is not cancelled (w), with one
 * ticket:updated; an event whose order holds the ticket (now, or after w)
 * or is cancelled is done. The answer: the (1-based) positions of the
 * events to go alone, to wait: a ticket held by another order, or one
 * that does not exist (yet). */
TX_STMT(SQL_ROW_LOCK_MANY, 1,
	"SELECT 1 FROM tickets.tickets WHERE id = ANY($1::uuid[]) ORDER BY id "
	"FOR UPDATE");
TX_STMT(SQL_LOCK_MANY, 2,
	"WITH c AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) "
	"WITH ORDINALITY AS c (ticket, order_id, i)), "
	"k AS (SELECT c.*, t.id IS NOT NULL AS found, t.order_id AS holder, "
	"EXISTS (SELECT 1 FROM tickets.order_cancellations x "
	"WHERE x.order_id = c.order_id) AS gone "
	"FROM c LEFT JOIN tickets.tickets t ON t.id = c.ticket), "
	"w AS (SELECT DISTINCT ON (ticket) ticket, order_id FROM k "
	"WHERE found AND holder IS NULL AND NOT gone ORDER BY ticket, i), "
	"u AS (UPDATE tickets.tickets t SET order_id = w.order_id, "
	"version = t.version + 1 FROM w WHERE t.id = w.ticket RETURNING t.*), "
	"e AS (INSERT INTO tickets.outbox (subject, data) SELECT 'ticket:updated', "
	"tickets.ticket_event(id, version, title, price_cents, user_id, order_id) "
	"FROM u) "
	"SELECT k.i FROM k LEFT JOIN w ON w.ticket = k.ticket WHERE NOT k.found "
	"OR (NOT k.gone AND coalesce(k.holder, w.order_id) <> k.order_id)");

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

/* A batch in two statements: lock takes the rows in id order, apply
 * (parameters p, the same) answers the (1-based) positions among the k
 * events it was given (pos: their places in the batch) that it refused,
 * with no effect: they go alone. */
static int lock_then_apply(struct tx_ctx *ctx, const struct tx_stmt *lock,
			   const struct tx_stmt *apply, const char *const *p,
			   const size_t *pos, size_t k, bool *ok, const char *what,
			   char *err, size_t errlen)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, lock, p, NULL);
	if (rc == 0)
		rc = tx_db_exec(ctx, apply, p, &r);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", what, ctx->db_error);
		return rc;
	}
	for (int m = 0; m < PQntuples(r); m++) {
		long i = strtol(PQgetvalue(r, m, 0), NULL, 10);
		if (i >= 1 && (size_t)i <= k)
			ok[pos[i - 1]] = false;
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

/* The same for a batch. Events whose ids are not uuids, whose ticket has
 * not arrived or is held by another order are refused, with no effect,
 * and go through on_order_created alone (a failure or a retry). */
static int on_order_created_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				  size_t n, bool *ok, char *err, size_t errlen)
{
	const char **tk = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*tk));
	const char **od = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*od));
	size_t *pos = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*pos)), k = 0;
	for (size_t i = 0; i < n; i++) {
		tk[k] = tx_event_str(ctx->arena, &evs[i], "ticket", "id");
		od[k] = tx_event_str(ctx->arena, &evs[i], NULL, "id");
		ok[i] = tx_db_is_uuid(tk[k]) && tx_db_is_uuid(od[k]);
		if (ok[i])
			pos[k++] = i;
	}
	if (k == 0)
		return 0;
	const char *p[] = { tx_db_uuid_array(ctx->arena, tk, k),
			    tx_db_uuid_array(ctx->arena, od, k) };
	return lock_then_apply(ctx, &SQL_ROW_LOCK_MANY, &SQL_LOCK_MANY, p, pos, k, ok,
			       "lock", err, errlen);
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

/* The same for a batch, in one statement. An event whose ticket does not
 * exist yet (or whose ids are not uuids) is refused, with no effect, and
 * goes through on_order_cancelled alone: a retry, as above. */
static int on_order_cancelled_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				    size_t n, bool *ok, char *err, size_t errlen)
{
	const char **ticket = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*ticket));
	const char **order = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*order));
	const char **tk = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*tk));
	const char **od = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*od));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		ticket[i] = tx_event_str(ctx->arena, &evs[i], "ticket", "id");
		order[i] = tx_event_str(ctx->arena, &evs[i], NULL, "id");
		ok[i] = tx_db_is_uuid(ticket[i]) && tx_db_is_uuid(order[i]);
		if (ok[i]) {
			tk[k] = ticket[i];
			od[k++] = order[i];
		}
	}
	if (k == 0)
		return 0;
	PGresult *r;
	const char *p[] = { tx_db_uuid_array(ctx->arena, tk, k),
			    tx_db_uuid_array(ctx->arena, od, k) };
	int rc = tx_db_exec(ctx, &SQL_UNLOCK_MANY, p, &r);
	if (rc < 0) {
		snprintf(err, errlen, "unlock: %s", ctx->db_error);
		return rc;
	}
	for (int m = 0; m < PQntuples(r); m++)
		for (size_t i = 0; i < n; i++)
			if (ok[i] && strcasecmp(ticket[i], PQgetvalue(r, m, 0)) == 0)
				ok[i] = false;
	return 0;
}

/* payment:created carries the order, not the ticket: the ticket held by
 * that order is sold, once. The answer says whether the event is done:
 * the ticket is (now) sold, or the order was cancelled before its
 * payment came (no sale: the charge is refunded). Otherwise the order's
 * order:created, on another stream, has not locked its ticket yet: wait
 * for it (retry). A cancellation racing with this waits on the row's lock
 * and then undoes the sale (SQL_UNLOCK). */
TX_STMT(SQL_SELL, 1,
	"WITH s AS (UPDATE tickets.tickets SET sold_at = now() "
	"WHERE order_id = $1 AND sold_at IS NULL) "
	"SELECT EXISTS (SELECT 1 FROM tickets.tickets WHERE order_id = $1) "
	"OR EXISTS (SELECT 1 FROM tickets.order_cancellations WHERE order_id = $1)");
/* The batch form, $1 the orders, after their tickets are locked in id
 * order (as the other batches do, so that two batches wait rather than
 * deadlock); the answer: the (1-based) positions of the events to go
 * alone, to wait, as above. */
TX_STMT(SQL_SELL_LOCK_MANY, 1,
	"SELECT 1 FROM tickets.tickets WHERE order_id = ANY($1::uuid[]) "
	"ORDER BY id FOR UPDATE");
TX_STMT(SQL_SELL_MANY, 1,
	"WITH c AS (SELECT * FROM unnest($1::uuid[]) WITH ORDINALITY AS c (order_id, i)), "
	"s AS (UPDATE tickets.tickets t SET sold_at = now() FROM c "
	"WHERE t.order_id = c.order_id AND t.sold_at IS NULL) "
	"SELECT c.i FROM c WHERE NOT EXISTS (SELECT 1 FROM tickets.tickets t "
	"WHERE t.order_id = c.order_id) AND NOT EXISTS (SELECT 1 FROM "
	"tickets.order_cancellations x WHERE x.order_id = c.order_id)");

static int on_payment_created(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	const char *order = tx_event_str(ctx->arena, ev, NULL, "orderId");
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_SELL, (const char *const[]){ order }, &r);
	if (rc < 0) {
		snprintf(err, errlen, "sell: %s", ctx->db_error);
		return rc;
	}
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		snprintf(err, errlen, "No ticket held by order %.40s yet", order);
		return TX_EV_RETRY; /* its order:created is still on the way */
	}
	return 0;
}

/* The same for a batch. Events whose orderId is not a uuid, or whose
 * order holds no ticket yet, are refused, with no effect, and go through
 * on_payment_created alone (a failure or a retry). */
static int on_payment_created_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				    size_t n, bool *ok, char *err, size_t errlen)
{
	const char **od = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*od));
	size_t *pos = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*pos)), k = 0;
	for (size_t i = 0; i < n; i++) {
		od[k] = tx_event_str(ctx->arena, &evs[i], NULL, "orderId");
		ok[i] = tx_db_is_uuid(od[k]);
		if (ok[i])
			pos[k++] = i;
	}
	if (k == 0)
		return 0;
	const char *p[] = { tx_db_uuid_array(ctx->arena, od, k) };
	return lock_then_apply(ctx, &SQL_SELL_LOCK_MANY, &SQL_SELL_MANY, p, pos, k, ok,
			       "sell", err, errlen);
}

const struct tx_listener tickets_listeners[] = {
	{ "order:created", "tickets-service", "tickets", on_order_created,
	  on_order_created_batch },
	{ "order:cancelled", "tickets-service", "tickets", on_order_cancelled,
	  on_order_cancelled_batch },
	{ "payment:created", "tickets-service", "tickets", on_payment_created,
	  on_payment_created_batch },
};
const size_t tickets_nlisteners = sizeof(tickets_listeners) / sizeof(tickets_listeners[0]);
