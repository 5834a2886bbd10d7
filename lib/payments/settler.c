/* settler.c: the worker's settler of charge attempts nobody finished.
 *
 * The pay path commits an attempt before it calls the provider and
 * settles it in the transaction that records the payment or the refund
 * (payments.h). An attempt still open after PAYMENT_SETTLE_AFTER_MS means
 * the request died between the two (a crash, a lost database) or the
 * provider's answer was unknown and the client never retried: the card
 * may have been charged with no payment on record. The settler takes each
 * such attempt whose order is not being paid right now (the order's pay
 * lock, tried, not waited for), replays the charge under the attempt's own
 * idempotency key (the provider answers with the original charge if there
 * was one; otherwise this is the charge the customer asked for), and
 * settles it as the pay path would: the payment and payment:created if the
 * order can still take it, a refund if it was cancelled or paid otherwise,
 * the refusal if the provider refuses. Unknown answers stay open for the
 * next pass.
 */
#include "payments/payments.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_LOG_INTERVAL_US (30LL * 1000000)

TX_STMT(SQL_OPEN_ATTEMPTS, 2,
	"SELECT idempotency_key, order_id, amount_cents, token "
	"FROM payments.charge_attempts WHERE outcome IS NULL "
	"AND created_at < now() - make_interval(secs => $1::double precision / 1000) "
	"ORDER BY created_at LIMIT $2");
TX_STMT(SQL_STILL_OPEN, 1,
	"SELECT 1 FROM payments.charge_attempts "
	"WHERE idempotency_key = $1 AND outcome IS NULL");

struct payments_settler {
	struct tx_ctx ctx;
	long after_ms;
	int64_t last_err_log_us;
};

/* One attempt, under its order's pay lock: 1 settled, 0 left open (or
 * settled meanwhile), < 0 on a database error. */
static int settle_one(struct tx_ctx *ctx, const struct payments_attempt *a)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_STILL_OPEN, (const char *const[]){ a->key }, &r);
	if (rc < 0 || PQntuples(r) == 0)
		return rc;
	struct payments_outcome out;
	memset(&out, 0, sizeof(out));
	rc = payments_charge_attempt(ctx, a, &out);
	if (rc == -TX_E_UNAVAILABLE)
		return 0; /* unknown again: the next pass */
	if (rc < 0 && rc != -TX_E_BAD_REQUEST)
		return rc;
	tx_log("warn", "settler order=%s attempt=%s settled: %s", a->order_id, a->key,
	       out.payment_id ? "payment recorded" : out.refusal ? out.refusal : "failed");
	return 1;
}

int payments_settle_open(struct tx_ctx *ctx, long after_ms, int limit, int *settled)
{
	char after[24], lim[16];
	PGresult *r;
	snprintf(after, sizeof(after), "%ld", after_ms);
	snprintf(lim, sizeof(lim), "%d", limit);
	*settled = 0;
	int rc = tx_db_exec(ctx, &SQL_OPEN_ATTEMPTS, (const char *const[]){ after, lim }, &r);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		struct payments_attempt a = {
			.key = PQgetvalue(r, i, 0),
			.order_id = PQgetvalue(r, i, 1),
			.amount_cents = strtoll(PQgetvalue(r, i, 2), NULL, 10),
			.token = PQgetvalue(r, i, 3),
		};
		int locked = payments_pay_lock(ctx, a.order_id, false);
		if (locked != 0) { /* a payer has it (1), or the database is gone */
			rc = locked == -TX_E_UNAVAILABLE ? locked : 0;
			continue;
		}
		int one = settle_one(ctx, &a);
		payments_pay_unlock(ctx, a.order_id);
		if (one == -TX_E_UNAVAILABLE)
			rc = one;
		else if (one < 0) /* this one only: the others still get their turn */
			tx_log("error", "settler order=%s attempt=%s: %s", a.order_id, a.key,
			       ctx->db_error);
		*settled += one == 1;
	}
	return rc;
}

struct payments_settler *payments_settler_new(const struct tx_config *cfg)
{
	char url[1024];
	if (tx_config_schema_db_url(cfg, "payments", url, sizeof(url)) < 0)
		return NULL;
	struct payments_settler *s = tx_xcalloc(1, sizeof(*s));
	s->ctx.cfg = cfg;
	s->ctx.arena = tx_arena_new(16 << 10);
	s->ctx.db = tx_db_new(url);
	s->ctx.request_id = "settler";
	s->after_ms = cfg->settle_after_ms;
	return s;
}

void payments_settler_free(struct payments_settler *s)
{
	if (!s)
		return;
	tx_db_free(s->ctx.db);
	tx_arena_free(s->ctx.arena);
	free(s);
}

void payments_settler_run(struct payments_settler *s, const atomic_bool *stop)
{
	long interval = s->after_ms / 4;
	interval = interval < 250 ? 250 : interval > 5000 ? 5000 : interval;
	tx_log("info", "settler after=%ldms interval=%ldms started", s->after_ms, interval);
	while (!atomic_load(stop)) {
		int n = PAYMENTS_SETTLE_BATCH;
		int rc = 0;
		while (rc == 0 && n == PAYMENTS_SETTLE_BATCH && !atomic_load(stop)) {
			s->ctx.db_error[0] = '\0';
			rc = payments_settle_open(&s->ctx, s->after_ms, PAYMENTS_SETTLE_BATCH, &n);
			tx_arena_reset(s->ctx.arena);
		}
		int64_t now = tx_now_us();
		if (rc < 0 && now - s->last_err_log_us >= ERROR_LOG_INTERVAL_US) {
			s->last_err_log_us = now;
			tx_log("error", "settler error=%s", s->ctx.db_error);
		}
		tx_nap(interval, stop);
	}
	tx_log("info", "settler stopped");
}
