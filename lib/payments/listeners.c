/* listeners.c: the payments service's listeners (group payments-service):
 * the replica of orders, and refunds.
 *
 * order:created inserts the replica at the event's version (a duplicate is
 * a no-op), one event or a batch in one statement. order:cancelled applies
 * only version = replica.version + 1: an early one (its predecessor has not
 * arrived) is retried, a stale one is acked. When it applies and the order
 * has a payment not yet refunded, the charge is refunded inside the same
 * transaction (Idempotency-Key refund-<charge id>, so a redelivery after a
 * crash refunds once) and the refund recorded; if the provider cannot
 * refund now, the whole event rolls back and is redelivered, and after
 * MAX_DELIVERIES it is visible on the dead-letter stream. How a paid
 * order comes to be cancelled: orders cancelled it (expiry, the user)
 * before payment:created reached it, so orders will never mark it
 * complete; the charge must go back. A pay
 * request holding the replica's lock makes this listener wait, so the
 * payment it commits is seen here (the lookup is its own statement, with
 * a snapshot taken after the wait).
 */
#include "payments/payments.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/event.h"
#include "core/log.h"
#include "core/money.h"

#include <stdio.h>
#include <stdlib.h>

TX_STMT(SQL_REPLICA_INSERT, 6,
	"INSERT INTO payments.orders (id, version, user_id, price_cents, status, "
	"expires_at) VALUES ($1, $2, $3, $4, $5, payments.parse_ts($6)) "
	"ON CONFLICT (id) DO NOTHING");
/* The batch form: $1 a JSON array of {id, version, user, cents, status,
 * expires}. In id order (two batches that share an order wait for each
 * other rather than deadlock), and within one id in the batch's order:
 * the first of two events for one order is inserted, the second is a
 * no-op, as one by one. */
TX_STMT(SQL_REPLICA_INSERT_MANY, 1,
	"INSERT INTO payments.orders (id, version, user_id, price_cents, status, "
	"expires_at) SELECT (j->>'id')::uuid, (j->>'version')::integer, "
	"(j->>'user')::uuid, (j->>'cents')::bigint, j->>'status', "
	"payments.parse_ts(j->>'expires') FROM json_array_elements($1::json) "
	"WITH ORDINALITY AS e (j, i) ORDER BY 1, i ON CONFLICT (id) DO NOTHING");
TX_STMT(SQL_REPLICA_CANCEL, 2,
	"WITH u AS (UPDATE payments.orders SET status = 'cancelled', "
	"version = $2 WHERE id = $1 AND version = $2::integer - 1 RETURNING 1) "
	"SELECT (SELECT count(*) FROM u), "
	"(SELECT version FROM payments.orders WHERE id = $1)");
TX_STMT(SQL_PAYMENT_TO_REFUND, 1,
	"SELECT id, provider_charge_id FROM payments.payments "
	"WHERE order_id = $1 AND refund_id IS NULL FOR UPDATE");
TX_STMT(SQL_PAYMENT_REFUNDED, 2,
	"UPDATE payments.payments SET refund_id = $2, refunded_at = now() "
	"WHERE id = $1");

/* The batch form of order:cancelled, in two statements as the single
 * path: the first locks the batch's replica rows in id order (waiting for
 * a pay request that holds one), so that the second, with a snapshot
 * taken after the wait, sees every payment committed meanwhile. $1 the
 * orders, $2 their versions, pair by pair. The second cancels each order
 * whose replica is at the version before and that has no payment to
 * refund, and answers the (1-based) positions of the events to go alone:
 * a payment to refund, an early version, an order not replicated yet. */
TX_STMT(SQL_REPLICA_LOCK_MANY, 1,
	"SELECT id FROM payments.orders WHERE id = ANY($1::uuid[]) ORDER BY id "
	"FOR UPDATE");
TX_STMT(SQL_REPLICA_CANCEL_MANY, 2,
	"WITH c AS (SELECT * FROM unnest($1::uuid[], $2::integer[]) "
	"WITH ORDINALITY AS c (id, version, i)), "
	"r AS (SELECT c.i, c.id, c.version, o.version AS have, "
	"EXISTS (SELECT 1 FROM payments.payments p WHERE p.order_id = c.id "
	"AND p.refund_id IS NULL) AS paid "
	"FROM c LEFT JOIN payments.orders o ON o.id = c.id), "
	"u AS (UPDATE payments.orders o SET status = 'cancelled', version = r.version "
	"FROM r WHERE o.id = r.id AND r.have = r.version - 1 AND NOT r.paid) "
	"SELECT i FROM r WHERE paid OR have IS NULL OR have + 1 < version");

static int fail(struct tx_ctx *ctx, int rc, char *err, size_t errlen,
		const char *what)
{
	snprintf(err, errlen, "%s: %s", what, ctx->db_error);
	return rc;
}

static bool is_version(const char *s, long *out)
{
	return tx_parse_long(s, 0, 2147483647L, out) == 0;
}

static int on_order_created(struct tx_ctx *ctx, const struct tx_event *ev,
			    char *err, size_t errlen)
{
	int64_t c;
	long v;
	char cents[24];
	const char *p[6] = {
		tx_event_str(ctx->arena, ev, NULL, "id"),
		tx_event_str(ctx->arena, ev, NULL, "version"),
		tx_event_str(ctx->arena, ev, NULL, "userId"),
		cents,
		tx_event_str(ctx->arena, ev, NULL, "status"),
		tx_event_str(ctx->arena, ev, NULL, "expiresAt"),
	};
	if (tx_price_parse(tx_event_str(ctx->arena, ev, "ticket", "price"), &c) < 0 ||
	    !is_version(p[1], &v) || !*p[4]) {
		snprintf(err, errlen, "malformed order:created");
		return -TX_E_BAD_REQUEST;
	}
	snprintf(cents, sizeof(cents), "%lld", (long long)c);
	int rc = tx_db_exec(ctx, &SQL_REPLICA_INSERT, p, NULL);
	return rc < 0 ? fail(ctx, rc, err, errlen, "replica insert") : 0;
}

/* One order:created as an element of SQL_REPLICA_INSERT_MANY's array;
 * false (nothing added) when on_order_created would fail on it. */
static bool order_json(struct tx_ctx *ctx, const struct tx_event *ev,
		       struct tx_buf *b)
{
	int64_t c;
	long v;
	const char *id = tx_event_str(ctx->arena, ev, NULL, "id");
	const char *user = tx_event_str(ctx->arena, ev, NULL, "userId");
	const char *status = tx_event_str(ctx->arena, ev, NULL, "status");
	if (tx_price_parse(tx_event_str(ctx->arena, ev, "ticket", "price"), &c) < 0 ||
	    !is_version(tx_event_str(ctx->arena, ev, NULL, "version"), &v) ||
	    !*status || !tx_db_is_uuid(id) || !tx_db_is_uuid(user))
		return false;
	tx_buf_addf(b, "%s{\"id\":\"%s\",\"version\":%ld,\"user\":\"%s\","
		    "\"cents\":%lld,\"status\":\"", b->len > 1 ? "," : "", id, v,
		    user, (long long)c);
	tx_buf_add_json_str(b, status);
	tx_buf_addlit(b, "\",\"expires\":\"");
	tx_buf_add_json_str(b, tx_event_str(ctx->arena, ev, NULL, "expiresAt"));
	tx_buf_addlit(b, "\"}");
	return true;
}

/* The same for a batch, in one statement: each order inserted once, a
 * duplicate is a no-op. A malformed event is refused, with no effect,
 * and fails alone in on_order_created. */
static int on_order_created_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				  size_t n, bool *ok, char *err, size_t errlen)
{
	int rc = tx_event_batch_exec(ctx, &SQL_REPLICA_INSERT_MANY, evs, n, order_json,
				     ok, NULL, NULL);
	return rc < 0 ? fail(ctx, rc, err, errlen, "replica insert") : 0;
}

/* Refund the order's payment, if it has one not refunded yet. */
static int refund_if_paid(struct tx_ctx *ctx, const char *order, char *err,
			  size_t errlen)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_PAYMENT_TO_REFUND, (const char *const[]){ order }, &r);
	if (rc < 0)
		return fail(ctx, rc, err, errlen, "payment lookup");
	if (PQntuples(r) == 0)
		return 0;
	const char *payment = PQgetvalue(r, 0, 0), *charge = PQgetvalue(r, 0, 1);
	struct payments_result res;
	if (payments_refund(ctx, charge, &res) != PAY_OK) {
		snprintf(err, errlen, "refund of %s for cancelled order %s: %s",
			 charge, order, res.message);
		return -TX_E_UNAVAILABLE;
	}
	tx_log("info", "order=%s cancelled after payment: charge %s refunded (%s)",
	       order, charge, res.id);
	rc = tx_db_exec(ctx, &SQL_PAYMENT_REFUNDED,
			(const char *const[]){ payment, res.id }, NULL);
	return rc < 0 ? fail(ctx, rc, err, errlen, "refund record") : 0;
}

static int on_order_cancelled(struct tx_ctx *ctx, const struct tx_event *ev,
			      char *err, size_t errlen)
{
	long v;
	const char *p[2] = { tx_event_str(ctx->arena, ev, NULL, "id"),
			     tx_event_str(ctx->arena, ev, NULL, "version") };
	if (!is_version(p[1], &v) || v < 1) {
		snprintf(err, errlen, "malformed order:cancelled");
		return -TX_E_BAD_REQUEST;
	}
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_REPLICA_CANCEL, p, &r);
	if (rc < 0)
		return fail(ctx, rc, err, errlen, "replica cancel");
	if (PQgetvalue(r, 0, 0)[0] != '0')
		return refund_if_paid(ctx, p[0], err, errlen);
	long have = PQgetisnull(r, 0, 1) ? -1 : strtol(PQgetvalue(r, 0, 1), NULL, 10);
	if (have >= v)
		return 0; /* already applied */
	snprintf(err, errlen, "Order not found (version %ld after %ld)", v, have);
	return TX_EV_RETRY;
}

/* The same for a batch. Events that are malformed, early, not
 * replicated yet or whose order was paid are refused, with no effect, and
 * go through on_order_cancelled alone (a failure, a retry or a refund). */
static int on_order_cancelled_batch(struct tx_ctx *ctx, const struct tx_event *evs,
				    size_t n, bool *ok, char *err, size_t errlen)
{
	const char **id = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*id));
	size_t *pos = tx_arena_alloc(ctx->arena, (n + 1) * sizeof(*pos)), k = 0;
	struct tx_buf versions = TX_BUF_INIT(0);
	tx_buf_addch(&versions, '{');
	for (size_t i = 0; i < n; i++) {
		long v;
		const char *order = tx_event_str(ctx->arena, &evs[i], NULL, "id");
		ok[i] = tx_db_is_uuid(order) &&
			is_version(tx_event_str(ctx->arena, &evs[i], NULL, "version"), &v) &&
			v >= 1;
		if (!ok[i])
			continue;
		tx_buf_addf(&versions, "%s%ld", k ? "," : "", v);
		id[k] = order;
		pos[k++] = i;
	}
	tx_buf_addch(&versions, '}');
	const char *p[] = { tx_db_uuid_array(ctx->arena, id, k),
			    tx_arena_strdup(ctx->arena, versions.buf) };
	tx_buf_release(&versions);
	PGresult *r;
	int rc = k ? tx_db_exec(ctx, &SQL_REPLICA_LOCK_MANY, p, NULL) : 0;
	if (rc == 0 && k)
		rc = tx_db_exec(ctx, &SQL_REPLICA_CANCEL_MANY, p, &r);
	if (rc < 0)
		return fail(ctx, rc, err, errlen, "replica cancel");
	for (int m = 0; k && m < PQntuples(r); m++) {
		long i = strtol(PQgetvalue(r, m, 0), NULL, 10);
		if (i >= 1 && (size_t)i <= k)
			ok[pos[i - 1]] = false;
	}
	return 0;
}

const struct tx_listener payments_listeners[] = {
	{ "order:created", "payments-service", "payments", on_order_created,
	  on_order_created_batch },
	{ "order:cancelled", "payments-service", "payments", on_order_cancelled,
	  on_order_cancelled_batch },
};
const size_t payments_nlisteners =
	sizeof(payments_listeners) / sizeof(payments_listeners[0]);
