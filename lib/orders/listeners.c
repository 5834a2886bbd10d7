/* listeners.c: the orders service's listeners (group orders-service):
 * the tickets replica (applied strictly in version order), expiry, and
 * payment. */
#include "orders/orders.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"
#include "core/money.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

TX_STMT(SQL_REPLICA_INSERT, 4,
	"INSERT INTO orders.tickets (id, title, price_cents, version) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING");
/* The batch form: $1 a JSON array of {id, title, cents, version}. In id
 * order (two batches that share a ticket wait for each other rather than
 * deadlock), and within one id in the batch's order: the first of two
 * events for one ticket is inserted, the second is a no-op, as one by
 * one. */
TX_STMT(SQL_REPLICA_INSERT_MANY, 1,
	"INSERT INTO orders.tickets (id, title, price_cents, version) "
	"SELECT (j->>'id')::uuid, j->>'title', (j->>'cents')::bigint, "
	"(j->>'version')::integer FROM json_array_elements($1::json) "
	"WITH ORDINALITY AS e (j, i) ORDER BY 1, i ON CONFLICT (id) DO NOTHING");
/* Only the next version applies; the second value tells a stale
 * duplicate (already applied) from an early one (wait for its turn). */
TX_STMT(SQL_REPLICA_UPDATE, 4,
	"WITH u AS (UPDATE orders.tickets SET title = $2, price_cents = $3, "
	"version = $4 WHERE id = $1 AND version = $4::integer - 1 RETURNING 1) "
	"SELECT (SELECT count(*) FROM u), "
	"(SELECT version FROM orders.tickets WHERE id = $1)");
/* The batch form of SQL_REPLICA_UPDATE: $1 a JSON array of {id, title,
 * cents, version}. l locks the tickets in id order and reads their
 * version as it is now; each event that is the next version is applied
 * (one per ticket: the next of the one after is then early). The answer:
 * the (1-based) positions of the events that are early, or whose ticket
 * has not arrived, to be retried alone; the others are applied or stale
 * duplicates. */
TX_STMT(SQL_REPLICA_UPDATE_MANY, 1,
	"WITH c AS (SELECT i, (j->>'id')::uuid AS id, j->>'title' AS title, "
	"(j->>'cents')::bigint AS cents, (j->>'version')::integer AS version "
	"FROM json_array_elements($1::json) WITH ORDINALITY AS e (j, i)), "
	"l AS (SELECT id, version FROM orders.tickets WHERE id IN (SELECT id FROM c) "
	"ORDER BY id FOR UPDATE), "
	"u AS (UPDATE orders.tickets t SET title = c.title, price_cents = c.cents, "
	"version = c.version FROM l JOIN c ON c.id = l.id AND c.version = l.version + 1 "
	"WHERE t.id = l.id RETURNING t.id) "
	"SELECT c.i FROM c LEFT JOIN l ON l.id = c.id "
	"WHERE l.version IS NULL OR l.version + 1 < c.version");

/* Expire the orders $1 (a uuid[]), single or a batch: cancel each one
 * still created or awaiting payment, with its order:cancelled event; the
 * answer is the ids that match no order. l locks the orders in id order
 * (two batches that share one wait for each other rather than deadlock)
 * and, having waited, reads their status as it is now; the UPDATE goes
 * by that, which the lock keeps true. (A status test on the UPDATE's own
 * rows would let stale statistics, "no created orders", drive a nested
 * loop over every created order: seconds per batch.) The event's
 * created_at is when the order was cancelled, not when the (longer)
 * batch transaction began. */
TX_STMT(SQL_ORDERS_EXPIRE, 1,
	"WITH l AS (SELECT id, status FROM orders.orders WHERE id = ANY($1::uuid[]) "
	"ORDER BY id FOR UPDATE), "
	"o AS (UPDATE orders.orders o SET status = 'cancelled', "
	"version = o.version + 1 FROM l WHERE o.id = l.id "
	"AND l.status IN ('created', 'awaiting:payment') RETURNING o.*), "
	"e AS (INSERT INTO orders.outbox (subject, data, created_at) "
	"SELECT 'order:cancelled', json_build_object('id', o.id, "
	"'version', o.version, 'ticket', json_build_object('id', o.ticket_id)), "
	"clock_timestamp() FROM o) "
	"SELECT unnest($1::uuid[]) EXCEPT SELECT id FROM l");
TX_STMT(SQL_ORDER_COMPLETE, 1,
	"WITH o AS (UPDATE orders.orders SET status = 'complete', "
	"version = version + 1 WHERE id = $1 "
	"AND status IN ('created', 'awaiting:payment') RETURNING 1) "
	"SELECT EXISTS (SELECT 1 FROM orders.orders WHERE id = $1)");
/* The batch form of SQL_ORDER_COMPLETE, $1 a uuid[], with the locking of
 * SQL_ORDERS_EXPIRE (for the same reasons): each order still created or
 * awaiting payment is completed, once; the answer is the ids that match
 * no order. */
TX_STMT(SQL_ORDERS_COMPLETE_MANY, 1,
	"WITH l AS (SELECT id, status FROM orders.orders WHERE id = ANY($1::uuid[]) "
	"ORDER BY id FOR UPDATE), "
	"o AS (UPDATE orders.orders o SET status = 'complete', "
	"version = o.version + 1 FROM l WHERE o.id = l.id "
	"AND l.status IN ('created', 'awaiting:payment')) "
	"SELECT unnest($1::uuid[]) EXCEPT SELECT id FROM l");

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

/* One ticket event as an element of SQL_REPLICA_UPDATE_MANY's array;
 * false (nothing added) when it is malformed. */
static bool ticket_json(struct tx_ctx *ctx, const struct tx_event *ev,
			struct tx_buf *b)
{
	const char *v[4];
	char cents[24];
	long version;
	if (ticket_fields(ctx, ev, v, cents, sizeof(cents)) < 0 ||
	    !tx_db_is_uuid(v[0]) || tx_parse_long(v[3], 0, 2147483647L, &version) < 0)
		return false;
	tx_buf_addf(b, "%s{\"id\":\"%s\",\"cents\":%s,\"version\":%ld,\"title\":\"",
		    b->len > 1 ? "," : "", v[0], cents, version);
	tx_buf_add_json_str(b, v[1]);
	tx_buf_addlit(b, "\"}");
	return true;
}

/* ticket:created for a batch, in one statement: each ticket inserted
 * once, a duplicate is a no-op. A malformed event is refused, with no
 * effect, and fails alone in on_ticket_created. */
static int on_ticket_created_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				   size_t n, bool *ok, char *err, size_t errlen)
{
	int rc = tx_event_batch_exec(ctx, &SQL_REPLICA_INSERT_MANY, evs, n, ticket_json,
				     ok, NULL, NULL);
	return rc < 0 ? fail(ctx, rc, err, errlen, "replica insert") : 0;
}

/* The same for a batch, in one statement. Malformed events, early ones
 * and those whose ticket has not arrived are refused, with no effect, and
 * go through on_ticket_updated alone (a failure or a retry, as above). */
static int on_ticket_updated_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				   size_t n, bool *ok, char *err, size_t errlen)
{
	size_t *pos = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*pos));
	PGresult *r;
	int k = tx_event_batch_exec(ctx, &SQL_REPLICA_UPDATE_MANY, evs, n, ticket_json,
				    ok, pos, &r);
	if (k < 0)
		return fail(ctx, k, err, errlen, "replica update");
	for (int m = 0; r && m < PQntuples(r); m++) {
		long i = strtol(PQgetvalue(r, m, 0), NULL, 10);
		if (i >= 1 && i <= k)
			ok[pos[i - 1]] = false;
	}
	return 0;
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

/* Run st (SQL_ORDERS_EXPIRE or SQL_ORDERS_COMPLETE_MANY) over the orders
 * ids[0..n) (uuids); *missing gets the result whose rows are the ids that
 * match no order. */
static int orders_many(struct tx_ctx *ctx, const struct tx_stmt *st,
		       const char *const *ids, size_t n, PGresult **missing)
{
	const char *arr = tx_db_uuid_array(ctx->arena, ids, n);
	if (!arr) {
		snprintf(ctx->db_error, sizeof(ctx->db_error), "not a uuid");
		return -TX_E_BAD_REQUEST;
	}
	return tx_db_exec(ctx, st, (const char *const[]){ arr }, missing);
}

/* The expiry path, shared with the sweeper (orders.h). */
int orders_expire_many(struct tx_ctx *ctx, const char *const *ids, size_t n)
{
	PGresult *r;
	int rc = orders_many(ctx, &SQL_ORDERS_EXPIRE, ids, n, &r);
	return rc < 0 ? rc : PQntuples(r);
}

int orders_expire(struct tx_ctx *ctx, const char *id)
{
	int rc = orders_expire_many(ctx, &id, 1);
	return rc <= 0 ? rc : -TX_E_NOT_FOUND;
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
		fail(ctx, rc, err, errlen, SQL_ORDERS_EXPIRE.name);
	return rc;
}

/* The batch form of an event about an order (orderId), in one statement
 * st over the orders: an event whose order does not exist (or whose
 * orderId is not a uuid) has no effect here and is refused: alone, it
 * fails (Order not found) and is retried, then dead-lettered. */
static int order_batch(struct tx_ctx *ctx, const struct tx_stmt *st,
		       const struct tx_event *evs, size_t n, bool *ok, char *err,
		       size_t errlen)
{
	const char **order = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*order));
	const char **ids = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*ids));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		order[i] = tx_event_str(ctx->arena, &evs[i], NULL, "orderId");
		ok[i] = tx_db_is_uuid(order[i]);
		if (ok[i])
			ids[k++] = order[i];
	}
	PGresult *r;
	int rc = k ? orders_many(ctx, st, ids, k, &r) : 0;
	if (rc < 0)
		return fail(ctx, rc, err, errlen, st->name);
	for (int m = 0; k && m < PQntuples(r); m++)
		for (size_t i = 0; i < n; i++)
			if (ok[i] && strcasecmp(order[i], PQgetvalue(r, m, 0)) == 0)
				ok[i] = false;
	return 0;
}

static int on_expiration_complete_batch(struct tx_ctx *ctx,
					const struct tx_event *evs, size_t n,
					bool *ok, char *err, size_t errlen)
{
	return order_batch(ctx, &SQL_ORDERS_EXPIRE, evs, n, ok, err, errlen);
}

static int on_payment_created(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	const char *order = tx_event_str(ctx->arena, ev, NULL, "orderId");
	return order_step(ctx, &SQL_ORDER_COMPLETE, order, err, errlen);
}

/* The same for a batch: each live order completed once, the others left
 * alone; an order that does not exist is refused, to fail alone. */
static int on_payment_created_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				    size_t n, bool *ok, char *err, size_t errlen)
{
	return order_batch(ctx, &SQL_ORDERS_COMPLETE_MANY, evs, n, ok, err, errlen);
}

const struct tx_listener orders_listeners[] = {
	{ "ticket:created", "orders-service", "orders", on_ticket_created,
	  on_ticket_created_batch },
	{ "ticket:updated", "orders-service", "orders", on_ticket_updated,
	  on_ticket_updated_batch },
	{ "expiration:complete", "orders-service", "orders", on_expiration_complete,
	  on_expiration_complete_batch },
	{ "payment:created", "orders-service", "orders", on_payment_created,
	  on_payment_created_batch },
};
const size_t orders_nlisteners = sizeof(orders_listeners) / sizeof(orders_listeners[0]);
