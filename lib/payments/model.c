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
TX_STMT(SQL_ORDER_LOCK, 1,
	"SELECT 1 FROM payments.orders WHERE id = $1 FOR UPDATE");
/* A statement of its own after the lock: a fresh snapshot. */
TX_STMT(SQL_ORDER_STATE, 1,
	"SELECT o.id, o.user_id, o.status, o.price_cents, o.version, o.attempts, "
	"coalesce(o.expires_at <= now(), false), "
	"EXISTS (SELECT 1 FROM payments.payments p WHERE p.order_id = o.id) "
	"FROM payments.orders o WHERE o.id = $1");
TX_STMT(SQL_ATTEMPT, 1,
	"UPDATE payments.orders SET attempts = attempts + 1 WHERE id = $1");
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
static int lock_order(struct tx_ctx *ctx, const char *id, struct payments_order *o)
{
	char timeout[32];
	snprintf(timeout, sizeof(timeout), "%ldms", ctx->cfg->stripe_timeout_ms + 5000);
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

/* Charged, but the payment could not be recorded. A definite database
 * error: refund now. A lost connection (the COMMIT may have happened):
 * leave it; a retry replays the same charge under the same key. */
static int after_charge_failure(struct tx_ctx *ctx, const char *order_id,
				const char *charge_id, int rc)
{
	tx_db_rollback(ctx);
	if (rc == -TX_E_UNAVAILABLE) {
		tx_log("error", "rid=%s order=%s charge=%s not recorded (%s); "
			"a retry replays it", ctx->request_id, order_id, charge_id,
			ctx->db_error);
		return rc;
	}
	struct payments_result r;
	enum payments_status st = payments_refund(ctx, charge_id, &r);
	tx_log(st == PAY_OK ? "warn" : "error",
	       "rid=%s order=%s charge=%s not recorded (%s): refund %s %s",
	       ctx->request_id, order_id, charge_id, ctx->db_error,
	       st == PAY_OK ? "ok" : "FAILED", st == PAY_OK ? r.id : r.message);
	return rc;
}

static int charged(struct tx_ctx *ctx, const struct payments_order *o,
		   const char *charge_id, struct payments_outcome *out)
{
	char cents[32];
	snprintf(cents, sizeof(cents), "%lld", (long long)o->price_cents);
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_PAYMENT_CREATE,
			   (const char *const[]){ o->id, charge_id, cents }, &r);
	if (rc == 0)
		out->payment_id = PQgetvalue(r, 0, 0);
	if (rc == 0)
		rc = tx_db_commit(ctx);
	return rc < 0 ? after_charge_failure(ctx, o->id, charge_id, rc) : 0;
}

/* The provider's answer when it did not charge. */
static int not_charged(struct tx_ctx *ctx, const struct payments_order *o,
		       const struct payments_result *r, struct payments_outcome *out)
{
	static const char *const names[PAY__MAX] = {
		[PAY_OK] = "ok", [PAY_DECLINED] = "declined",
		[PAY_FAILED] = "failed", [PAY_UNAVAILABLE] = "unavailable",
	};
	tx_log(r->status == PAY_DECLINED ? "info" : "error",
	       "rid=%s order=%s not charged: %s type=%s code=%s decline_code=%s "
	       "http=%ld message=%s", ctx->request_id, o->id, names[r->status],
	       r->type, r->code, r->decline_code, r->http_status, r->message);
	if (r->status == PAY_UNAVAILABLE) {
		tx_db_rollback(ctx);
		return -TX_E_UNAVAILABLE;
	}
	if (r->status == PAY_FAILED) {
		tx_db_rollback(ctx);
		return -TX_E_BAD_REQUEST;
	}
	int rc = tx_db_exec(ctx, &SQL_ATTEMPT, (const char *const[]){ o->id }, NULL);
	if (rc == 0)
		rc = tx_db_commit(ctx);
	if (rc < 0)
		return rc;
	out->refusal = tx_arena_strdup(ctx->arena, r->message);
	return 0;
}

static int pay_locked(struct tx_ctx *ctx, const struct payments_provider *p,
		      const struct payments_order *o, const char *token,
		      struct payments_outcome *out)
{
	char key[160];
	snprintf(key, sizeof(key), "pay-%s-%lld-%ld", o->id,
		 (long long)o->price_cents, o->attempts);
	struct payments_charge c = { token, o->price_cents, o->id, key };
	struct payments_result r;
	if (p->charge(ctx->cfg, &c, &r) != PAY_OK)
		return not_charged(ctx, o, &r, out);
	TX_FAILPOINT("pay_after_provider");
	return charged(ctx, o, tx_arena_strdup(ctx->arena, r.id), out);
}

int payments_pay(struct tx_ctx *ctx, const char *user_id, const char *order_id,
		 const char *token, struct payments_outcome *out)
{
	const struct payments_provider *p = payments_provider(ctx->cfg);
	struct payments_order o;
	memset(out, 0, sizeof(*out));
	if (!p)
		return -TX_E_INTERNAL;
	int rc = tx_db_begin(ctx);
	if (rc == 0)
		rc = lock_order(ctx, order_id, &o);
	if (rc == 0 && strcmp(o.user_id, user_id) != 0)
		rc = -TX_E_NOT_AUTHORIZED;
	if (rc < 0) {
		tx_db_rollback(ctx);
		return rc;
	}
	out->price_cents = o.price_cents;
	if ((out->refusal = refusal(&o))) {
		tx_db_rollback(ctx);
		return 0;
	}
	return pay_locked(ctx, p, &o, token, out);
}
