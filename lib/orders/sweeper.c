/* sweeper.c: the orders sweeper, Postgres's backstop for the Redis clock.
 *
 * If Redis lost a timer (a flush, a restore from an old file), an order
 * would hold its ticket forever. Every few seconds the sweeper takes the
 * created orders overdue by more than EXPIRATION_GRACE_SECONDS (the
 * partial index orders_created_expiry makes that cheap), locks them with
 * SKIP LOCKED so that concurrent sweepers split the work, and expires them
 * all in one statement through orders_expire_many: the statement of the
 * expiration:complete listener (and of its batch mode), with the same
 * order:cancelled event. A row the listener holds is skipped; once that
 * commits the order is no longer created. The grace keeps the sweeper out
 * of the way of a healthy clock.
 */
#include "orders/orders.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ERROR_LOG_INTERVAL_US (30LL * 1000000)

TX_STMT(SQL_SWEEP_PICK, 2,
	"SELECT id FROM orders.orders WHERE status = 'created' "
	"AND expires_at < now() - make_interval(secs => $1) "
	"ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED");

struct orders_sweeper {
	struct tx_ctx ctx;
	long grace_s;
	int64_t last_err_log_us;
};

int orders_sweep(struct tx_ctx *ctx, long grace_s, int limit, int *n)
{
	char grace[24], lim[16];
	PGresult *r;
	snprintf(grace, sizeof(grace), "%ld", grace_s);
	snprintf(lim, sizeof(lim), "%d", limit);
	*n = 0;
	int rc = tx_db_begin(ctx);
	if (rc == 0)
		rc = tx_db_exec(ctx, &SQL_SWEEP_PICK, (const char *const[]){ grace, lim }, &r);
	int picked = rc == 0 ? PQntuples(r) : 0;
	const char **ids = tx_arena_alloc(ctx->arena, ((size_t)picked + 1) * sizeof(*ids));
	for (int i = 0; i < picked; i++)
		ids[i] = PQgetvalue(r, i, 0);
	if (picked > 0)
		rc = orders_expire_many(ctx, ids, (size_t)picked);
	if (rc >= 0) {
		*n = picked - rc; /* locked: all of them exist */
		rc = tx_db_commit(ctx);
	}
	if (rc < 0) {
		tx_db_rollback(ctx);
		*n = 0;
	}
	return rc;
}

struct orders_sweeper *orders_sweeper_new(const struct tx_config *cfg)
{
	char url[1024];
	if (tx_config_schema_db_url(cfg, "orders", url, sizeof(url)) < 0)
		return NULL;
	struct orders_sweeper *s = tx_xcalloc(1, sizeof(*s));
	s->ctx.cfg = cfg;
	s->ctx.arena = tx_arena_new(16 << 10);
	s->ctx.db = tx_db_new(url);
	s->ctx.request_id = "sweeper";
	s->grace_s = cfg->expiration_grace_s;
	return s;
}

void orders_sweeper_free(struct orders_sweeper *s)
{
	if (!s)
		return;
	tx_db_free(s->ctx.db);
	tx_arena_free(s->ctx.arena);
	free(s);
}

/* Whole batches until one comes back short; the number cancelled or < 0. */
static long sweep_all(struct orders_sweeper *s, const atomic_bool *stop)
{
	long total = 0;
	int n = ORDERS_SWEEP_BATCH;
	while (n == ORDERS_SWEEP_BATCH && !atomic_load(stop)) {
		s->ctx.db_error[0] = '\0';
		int rc = orders_sweep(&s->ctx, s->grace_s, ORDERS_SWEEP_BATCH, &n);
		tx_arena_reset(s->ctx.arena);
		if (rc < 0)
			return rc;
		total += n;
	}
	return total;
}

void orders_sweeper_run(struct orders_sweeper *s, const atomic_bool *stop)
{
	long interval = s->grace_s * 1000 / 4;
	interval = interval < 250 ? 250 : interval > 5000 ? 5000 : interval;
	tx_log("info", "sweeper grace=%lds interval=%ldms started", s->grace_s, interval);
	while (!atomic_load(stop)) {
		long n = sweep_all(s, stop);
		int64_t now = tx_now_us();
		if (n > 0)
			tx_log("warn", "sweeper cancelled=%ld (overdue by more than %lds: "
			       "timers lost or late)", n, s->grace_s);
		else if (n < 0 && now - s->last_err_log_us >= ERROR_LOG_INTERVAL_US) {
			s->last_err_log_us = now;
			tx_log("error", "sweeper error=%s", s->ctx.db_error);
		}
		tx_nap(interval, stop);
	}
	tx_log("info", "sweeper stopped");
}
