/* model.c: payments.orders (the replica) and payments.payments: the pay
 * path of payments.h, with the payment and its payment:created event
 * written in one statement. */
#include "payments/payments.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/failpoint.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Waiting payers give up a little after the payer holding the lock would
 * have given up on the provider. */
TX_STMT(SQL_LOCK_TIMEOUT, 1, "SELECT set_config('lock_timeout', $1, true)");
/* One payer per order at a time: a session-level advisory lock (class
 * 'pa'), held across the attempt's commit, the provider call and the
 * transaction that settles it, so no row lock is held while the provider
 * is being called. */
TX_STMT(SQL_PAY_LOCK, 1, "SELECT pg_advisory_lock(28769, hashtext($1::text))");
TX_STMT(SQL_PAY_TRYLOCK, 1,
	"SELECT pg_try_advisory_lock(28769, hashtext($1::text))");
TX_STMT(SQL_PAY_UNLOCK, 1, "SELECT pg_advisory_unlock(28769, hashtext($1::text))");
TX_STMT(SQL_ORDER_LOCK, 1,
	"SELECT 1 FROM payments.orders WHERE id = $1 FOR UPDATE");
/* A statement of its own after the lock: a fresh snapshot. */
TX_STMT(SQL_ORDER_STATE, 1,
	"SELECT o.id, o.user_id, o.status, o.price_cents, o.version, o.attempts, "
	"coalesce(o.expires_at <= now(), false), "
	"EXISTS (SELECT 1 FROM payments.payments p WHERE p.order_id = o.id) "
	"FROM payments.orders o WHERE o.id = $1");
TX_STMT(SQL_PAYMENT_OF, 1,
	"SELECT id, provider_charge_id FROM payments.payments WHERE order_id = $1");
TX_STMT(SQL_ATTEMPT_OPEN, 1,
	"SELECT idempotency_key, token, amount_cents FROM payments.charge_attempts "
	"WHERE order_id = $1 AND outcome IS NULL ORDER BY created_at LIMIT 1");
TX_STMT(SQL_ATTEMPT_INSERT, 4,
	"INSERT INTO payments.charge_attempts "
	"(idempotency_key, order_id, amount_cents, token) VALUES ($1, $2, $3, $4)");
TX_STMT(SQL_ATTEMPT_SETTLE, 4,
	"UPDATE payments.charge_attempts SET outcome = $2, charge_id = $3, "
	"refund_id = $4, token = NULL, settled_at = now() "
	"WHERE idempotency_key = $1 AND outcome IS NULL");
/* Definitely not charged: settle it and count it, so the next card gets a
 * new key. */
TX_STMT(SQL_ATTEMPT_REFUSED, 2,
	"WITH a AS (UPDATE payments.charge_attempts SET outcome = $2, "
	"token = NULL, settled_at = now() "
	"WHERE idempotency_key = $1 AND outcome IS NULL RETURNING order_id) "
	"UPDATE payments.orders SET attempts = attempts + 1 "
	"WHERE id IN (SELECT order_id FROM a)");
TX_STMT(SQL_PAYMENT_CREATE, 3,
	"WITH p AS (INSERT INTO payments.payments "
	"(order_id, provider_charge_id, amount_cents) VALUES ($1, $2, $3) "
	"RETURNING id, order_id, provider_charge_id), "
	"e AS (INSERT INTO payments.outbox (subject, data) "
	"SELECT 'payment:created', json_build_object('id', p.id, "
	"'orderId', p.order_id, 'stripeId', p.provider_charge_id) FROM p) "
	"SELECT id FROM p");

static void row(PGresult *r, struct payments_order *o)
{
	o->id = PQgetvalue(r, 0, 0);
	o->user_id = PQgetvalue(r, 0, 1);
	o->status = PQgetvalue(r, 0, 2);
	o->price_cents = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	o->version = strtol(PQgetvalue(r, 0, 4), NULL, 10);
	o->attempts = strtol(PQgetvalue(r, 0, 5), NULL, 10);
	o->expired = PQgetvalue(r, 0, 6)[0] == 't';
	o->paid = PQgetvalue(r, 0, 7)[0] == 't';
}

int payments_order_get(struct tx_ctx *ctx, const char *id, struct payments_order *o)
{
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_ORDER_STATE, (const char *const[]){ id }, &r);
	if (rc == 0)
		row(r, o);
	return rc;
}

/* Lock the replica row and read it afresh. */
static void lock_timeout(const struct tx_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "%ldms", ctx->cfg->stripe_timeout_ms + 5000);
}

/* Lock the replica row and read it afresh. */
static int lock_order(struct tx_ctx *ctx, const char *id, struct payments_order *o)
{
	char timeout[32];
	lock_timeout(ctx, timeout, sizeof(timeout));
	int rc = tx_db_exec(ctx, &SQL_LOCK_TIMEOUT, (const char *const[]){ timeout }, NULL);
	if (rc == 0)
		rc = tx_db_one(ctx, &SQL_ORDER_LOCK, (const char *const[]){ id }, NULL);
	if (rc == 0)
		rc = payments_order_get(ctx, id, o);
	return rc;
}

/* The contract's refusal for this order, or NULL when it may be paid. */
static const char *refusal(const struct payments_order *o)
{
	if (strcmp(o->status, "cancelled") == 0)
		return PAY_MSG_CANCELLED;
	if (o->paid || strcmp(o->status, "complete") == 0)
		return PAY_MSG_PAID;
	if (o->expired)
		return PAY_MSG_EXPIRED;
	return NULL;
}

enum payments_status payments_refund(struct tx_ctx *ctx, const char *charge_id,
				     struct payments_result *r)
{
	const struct payments_provider *p = payments_provider(ctx->cfg);
	char key[192];
	if (!p) {
		memset(r, 0, sizeof(*r));
		r->status = PAY_FAILED;
		snprintf(r->message, sizeof(r->message), "unknown payment provider");
		return r->status;
	}
	snprintf(key, sizeof(key), "refund-%.160s", charge_id);
	return p->refund(ctx->cfg, charge_id, key, r);
}

int payments_pay_lock(struct tx_ctx *ctx, const char *order_id, bool wait)
{
	PGresult *r;
	if (!wait) {
		int rc = tx_db_one(ctx, &SQL_PAY_TRYLOCK, (const char *const[]){ order_id }, &r);
		return rc < 0 ? rc : PQgetvalue(r, 0, 0)[0] == 't' ? 0 : 1;
	}
	int rc = tx_db_exec(ctx, &SQL_PAY_LOCK, (const char *const[]){ order_id }, NULL);
	if (rc == -TX_E_BAD_REQUEST && strcmp(tx_db_sqlstate(ctx->db), "55P03") == 0)
		rc = -TX_E_UNAVAILABLE; /* another payment of this order is still going */
	return rc;
}

void payments_pay_unlock(struct tx_ctx *ctx, const char *order_id)
{
	/* If the connection was lost the lock went with it. */
	if (tx_db_exec(ctx, &SQL_PAY_UNLOCK, (const char *const[]){ order_id }, NULL) < 0)
		tx_log("warn", "rid=%s order=%s advisory unlock: %s", ctx->request_id,
		       order_id, ctx->db_error);
}

static int settle(struct tx_ctx *ctx, const char *key, const char *outcome,
		  const char *charge_id, const char *refund_id)
{
	return tx_db_exec(ctx, &SQL_ATTEMPT_SETTLE,
			  (const char *const[]){ key, outcome, charge_id, refund_id }, NULL);
}

/* Give the charge back and settle the attempt as refunded (inside the
 * caller's transaction if there is one). 0, or -TX_E_UNAVAILABLE when the
 * provider could not refund now: the attempt stays open for the settler. */
static int refund_attempt(struct tx_ctx *ctx, const char *order_id, const char *key,
			  const char *charge_id, const char *why)
{
	struct payments_result r;
	enum payments_status st = payments_refund(ctx, charge_id, &r);
	tx_log(st == PAY_OK ? "warn" : "error", "rid=%s order=%s charge=%s %s: refund %s %s",
	       ctx->request_id, order_id, charge_id, why, st == PAY_OK ? "ok" : "FAILED",
	       st == PAY_OK ? r.id : r.message);
	if (st != PAY_OK)
		return -TX_E_UNAVAILABLE;
	return settle(ctx, key, "refunded", charge_id, r.id);
}

/* The settling transaction failed. A definite database error: refund now
 * (the settler would fail the same way). A lost connection (the COMMIT
 * may have happened): leave the attempt open; a retry or the settler
 * replays it under the same key. */
static int after_settle_failure(struct tx_ctx *ctx, const char *order_id,
				const char *key, const char *charge_id, int rc)
{
	tx_db_rollback(ctx);
	if (rc == -TX_E_UNAVAILABLE) {
		tx_log("error", "rid=%s order=%s charge=%s not recorded (%s); "
		       "left open for a replay", ctx->request_id, order_id, charge_id,
		       ctx->db_error);
		return rc;
	}
	char why[160];
	snprintf(why, sizeof(why), "not recorded (%.120s)", ctx->db_error);
	refund_attempt(ctx, order_id, key, charge_id, why);
	return rc;
}

/* Charged. Under the order's row lock: record the payment and its
 * payment:created event, unless the order was cancelled (or paid with
 * another charge) meanwhile, in which case the charge goes back. The
 * attempt is settled in the same transaction either way. */
int payments_settle_charge(struct tx_ctx *ctx, const char *order_id, const char *key,
			   int64_t cents, const char *charge_id,
			   struct payments_outcome *out)
{
	struct payments_order o;
	PGresult *r;
	int rc = tx_db_begin(ctx);
	if (rc == 0)
		rc = lock_order(ctx, order_id, &o);
	if (rc == 0 && o.paid)
		rc = tx_db_one(ctx, &SQL_PAYMENT_OF, (const char *const[]){ order_id }, &r);
	if (rc < 0)
		return after_settle_failure(ctx, order_id, key, charge_id, rc);
	if (o.paid && strcmp(PQgetvalue(r, 0, 1), charge_id) == 0) {
		out->payment_id = PQgetvalue(r, 0, 0); /* recorded already */
		rc = settle(ctx, key, "charged", charge_id, NULL);
	} else if (o.paid || strcmp(o.status, "cancelled") == 0) {
		out->refusal = o.paid ? PAY_MSG_PAID : PAY_MSG_CANCELLED;
		rc = refund_attempt(ctx, order_id, key, charge_id,
				    o.paid ? "paid by another charge" : "order cancelled meanwhile");
	} else {
		char c[32];
		snprintf(c, sizeof(c), "%lld", (long long)cents);
		rc = tx_db_one(ctx, &SQL_PAYMENT_CREATE,
			       (const char *const[]){ order_id, charge_id, c }, &r);
		if (rc == 0)
			out->payment_id = PQgetvalue(r, 0, 0);
		if (rc == 0)
			rc = settle(ctx, key, "charged", charge_id, NULL);
	}
	if (rc == 0)
		rc = tx_db_commit(ctx);
	if (rc == 0)
		return 0;
	out->payment_id = NULL;
	if (!out->refusal)
		return after_settle_failure(ctx, order_id, key, charge_id, rc);
	/* The refund or its record failed: the attempt stays open, and the
	 * settler replays the charge (same id) and the refund (same key). */
	out->refusal = NULL;
	tx_db_rollback(ctx);
	return rc;
}

/* The provider's answer when it did not charge. */
int payments_settle_refused(struct tx_ctx *ctx, const char *order_id, const char *key,
			    const struct payments_result *r, struct payments_outcome *out)
{
	static const char *const names[PAY__MAX] = {
		[PAY_OK] = "ok", [PAY_DECLINED] = "declined",
		[PAY_FAILED] = "failed", [PAY_UNAVAILABLE] = "unavailable",
	};
	tx_log(r->status == PAY_DECLINED ? "info" : "error",
	       "rid=%s order=%s not charged: %s type=%s code=%s decline_code=%s "
	       "http=%ld message=%s", ctx->request_id, order_id, names[r->status],
	       r->type, r->code, r->decline_code, r->http_status, r->message);
	if (r->status == PAY_UNAVAILABLE)
		return -TX_E_UNAVAILABLE; /* unknown: the attempt stays open */
	int rc = tx_db_exec(ctx, &SQL_ATTEMPT_REFUSED,
			    (const char *const[]){ key, names[r->status] }, NULL);
	if (rc < 0)
		return rc;
	if (r->status == PAY_FAILED)
		return -TX_E_BAD_REQUEST;
	out->refusal = tx_arena_strdup(ctx->arena, r->message);
	return 0;
}

/* The open attempt of the order (one whose outcome nobody recorded:
 * replay it under its key), else a new one under the order's next key. */
static int take_attempt(struct tx_ctx *ctx, const struct payments_order *o,
			const char *token, struct payments_attempt *a)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_ATTEMPT_OPEN, (const char *const[]){ o->id }, &r);
	if (rc < 0)
		return rc;
	a->order_id = o->id;
	if (PQntuples(r) == 1) {
		a->key = PQgetvalue(r, 0, 0);
		a->token = PQgetvalue(r, 0, 1);
		a->amount_cents = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		tx_log("info", "rid=%s order=%s replaying open attempt %s", ctx->request_id,
		       o->id, a->key);
		return 0;
	}
	char cents[32];
	snprintf(cents, sizeof(cents), "%lld", (long long)o->price_cents);
	a->key = tx_arena_printf(ctx->arena, "pay-%s-%s-%ld", o->id, cents, o->attempts);
	a->token = token;
	a->amount_cents = o->price_cents;
	return tx_db_exec(ctx, &SQL_ATTEMPT_INSERT,
			  (const char *const[]){ a->key, o->id, cents, token }, NULL);
}

int payments_charge_attempt(struct tx_ctx *ctx, const struct payments_attempt *a,
			    struct payments_outcome *out)
{
	const struct payments_provider *p = payments_provider(ctx->cfg);
	if (!p)
		return -TX_E_INTERNAL;
	struct payments_charge c = { a->token, a->amount_cents, a->order_id, a->key };
	struct payments_result r;
	if (p->charge(ctx->cfg, &c, &r) != PAY_OK)
		return payments_settle_refused(ctx, a->order_id, a->key, &r, out);
	TX_FAILPOINT("pay_after_provider");
	return payments_settle_charge(ctx, a->order_id, a->key, a->amount_cents,
				      tx_arena_strdup(ctx->arena, r.id), out);
}

/* Under the order's advisory lock: check the order afresh and commit the
 * attempt, so that whatever happens after the provider is called, the
 * charge is on record. */
static int begin_attempt(struct tx_ctx *ctx, const char *user_id, const char *order_id,
			 const char *token, bool *locked, struct payments_attempt *a,
			 struct payments_outcome *out)
{
	struct payments_order o;
	char timeout[32];
	lock_timeout(ctx, timeout, sizeof(timeout));
	int rc = tx_db_begin(ctx);
	if (rc == 0)
		rc = payments_order_get(ctx, order_id, &o);
	if (rc == 0 && strcmp(o.user_id, user_id) != 0)
		rc = -TX_E_NOT_AUTHORIZED;
	if (rc == 0)
		rc = tx_db_exec(ctx, &SQL_LOCK_TIMEOUT, (const char *const[]){ timeout }, NULL);
	if (rc == 0)
		*locked = (rc = payments_pay_lock(ctx, order_id, true)) == 0;
	if (rc == 0)
		rc = payments_order_get(ctx, order_id, &o); /* after the wait */
	if (rc == 0)
		out->price_cents = o.price_cents;
	if (rc == 0 && !(out->refusal = refusal(&o)))
		rc = take_attempt(ctx, &o, token, a);
	if (rc == 0 && !out->refusal && !*a->token)
		out->refusal = PAY_MSG_NO_CARD; /* a form without a card: ask, charge nothing */
	if (rc == 0 && !out->refusal)
		return tx_db_commit(ctx);
	tx_db_rollback(ctx);
	return rc;
}

int payments_pay(struct tx_ctx *ctx, const char *user_id, const char *order_id,
		 const char *token, struct payments_outcome *out)
{
	struct payments_attempt a;
	bool locked = false;
	memset(out, 0, sizeof(*out));
	if (!payments_provider(ctx->cfg))
		return -TX_E_INTERNAL;
	int rc = begin_attempt(ctx, user_id, order_id, token, &locked, &a, out);
	if (rc == 0 && !out->refusal)
		rc = payments_charge_attempt(ctx, &a, out);
	if (locked)
		payments_pay_unlock(ctx, order_id);
	return rc;
}
