/* relay.c: the transactional outbox relay: Postgres outbox -> Redis streams.
 *
 * Design. Rows are claimed with FOR UPDATE SKIP LOCKED inside one
 * transaction, XADDed (pipelined, one round trip per batch), then marked
 * published and committed. The lock, not a "last id seen" cursor, is what
 * decides who publishes a row: bigserial ids become visible in commit
 * order, not id order, so a cursor would skip a row whose transaction
 * committed late. SKIP LOCKED lets any number of relays share a schema:
 * each row is in at most one open batch, and a batch either commits (rows
 * published) or rolls back (rows stay unpublished, to be sent again). A
 * crash between XADD and COMMIT therefore duplicates, never loses; the
 * consumers' processed_events table absorbs the duplicate.
 *
 * Waking up. The relay polls, adaptively (relay.h): at once after a full
 * batch, soon after a partial one, then backing off to TX_RELAY_POLL_MAX_MS
 * while the outbox stays empty; a quiet relay looks with one cheap
 * statement (EXISTS on the partial index of unpublished rows, no
 * transaction) rather than a whole BEGIN / SELECT FOR UPDATE / ROLLBACK.
 * It used to sleep on LISTEN with a NOTIFY trigger on the outbox, but
 * Postgres serialises the commits of notifying transactions (a global
 * lock held through the WAL flush), which cost the write path its group
 * commit: half its throughput. Identifiers cannot be parameters, so the
 * statements of each schema are built once at start-up from a whitelist;
 * input never reaches SQL text.
 */
#include "relay.h"
#include "arena.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "failpoint.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDIS_TIMEOUT_MS 5000
#define CLEANUP_INTERVAL_US (300LL * 1000000)
#define ERROR_LOG_INTERVAL_US (30LL * 1000000)

const char *const tx_relay_schemas[] = { "tickets", "orders", "payments" };
const size_t tx_relay_nschemas = sizeof(tx_relay_schemas) / sizeof(*tx_relay_schemas);

enum relay_stmt { ST_SELECT, ST_MARK, ST_CLEANUP, ST_REPUBLISH, ST_PENDING, ST__MAX };

struct tx_relay {
	const struct tx_config *cfg;
	char schema[64];
	struct tx_ctx ctx;
	struct tx_redis *redis;
	struct tx_stmt st[ST__MAX];
	char sql[ST__MAX][512];
	bool crash_after_xadd;
	int64_t next_cleanup_us;
	int64_t last_err_log_us;
	bool failing; /* errors since the last success: log every 30 s */
	char error[512];
};

static bool is_test_schema(const char *s)
{
	static const char pfx[] = "evtest_";
	size_t n = strlen(s);
	if (n <= sizeof(pfx) - 1 || n > sizeof(pfx) - 1 + 40 ||
	    strncmp(s, pfx, sizeof(pfx) - 1) != 0)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool is_whitelisted(const char *s)
{
	for (size_t i = 0; i < tx_relay_nschemas; i++)
		if (strcmp(s, tx_relay_schemas[i]) == 0)
			return true;
	return false;
}

/* The schema's statements; s is a checked identifier ([a-z0-9_]). */
static void build_sql(struct tx_relay *r)
{
	const char *s = r->schema;
	snprintf(r->sql[ST_SELECT], sizeof(r->sql[0]),
		 "SELECT id, event_id, subject, data FROM %s.outbox "
		 "WHERE published_at IS NULL ORDER BY id LIMIT $1::int "
		 "FOR UPDATE SKIP LOCKED", s);
	snprintf(r->sql[ST_MARK], sizeof(r->sql[0]),
		 "UPDATE %s.outbox SET published_at = now() "
		 "WHERE id = ANY($1::bigint[])", s);
	snprintf(r->sql[ST_CLEANUP], sizeof(r->sql[0]),
		 "DELETE FROM %s.outbox WHERE id IN (SELECT id FROM %s.outbox "
		 "WHERE published_at < now() - make_interval(secs => $1::bigint) "
		 "LIMIT 10000)", s, s);
	snprintf(r->sql[ST_REPUBLISH], sizeof(r->sql[0]),
		 "UPDATE %s.outbox SET published_at = NULL WHERE id BETWEEN "
		 "$1::bigint AND $2::bigint AND published_at IS NOT NULL", s);
	snprintf(r->sql[ST_PENDING], sizeof(r->sql[0]),
		 "SELECT EXISTS (SELECT 1 FROM %s.outbox "
		 "WHERE published_at IS NULL)", s);
	static const int nparams[ST__MAX] = { 1, 1, 1, 2, 0 };
	for (int i = 0; i < ST__MAX; i++)
		r->st[i] = (struct tx_stmt){ "relay", r->sql[i], nparams[i] };
}

static struct tx_relay *relay_make(const struct tx_config *cfg,
				   const char *schema, const char *db_url,
				   char *err, size_t errlen)
{
	struct tx_relay *r = tx_xcalloc(1, sizeof(*r));
	r->redis = tx_redis_new(cfg->redis_url, cfg->redis_prefix,
				REDIS_TIMEOUT_MS, err, errlen);
	if (!r->redis) {
		free(r);
		return NULL;
	}
	r->cfg = cfg;
	snprintf(r->schema, sizeof(r->schema), "%s", schema);
	r->ctx.cfg = cfg;
	r->ctx.arena = tx_arena_new(64 << 10);
	r->ctx.db = tx_db_new(db_url);
	build_sql(r);
	return r;
}

struct tx_relay *tx_relay_new(const struct tx_config *cfg, const char *schema,
			      const char *db_url, char *err, size_t errlen)
{
	if (!is_whitelisted(schema)) {
		snprintf(err, errlen, "no outbox schema named %s", schema);
		return NULL;
	}
	return relay_make(cfg, schema, db_url, err, errlen);
}

struct tx_relay *tx_relay_new_test(const struct tx_config *cfg,
				   const char *schema, const char *db_url,
				   char *err, size_t errlen)
{
	if (!is_test_schema(schema)) {
		snprintf(err, errlen, "test schemas are named evtest_*");
		return NULL;
	}
	return relay_make(cfg, schema, db_url, err, errlen);
}

void tx_relay_free(struct tx_relay *r)
{
	if (!r)
		return;
	tx_db_free(r->ctx.db);
	tx_arena_free(r->ctx.arena);
	tx_redis_free(r->redis);
	free(r);
}

const char *tx_relay_error(const struct tx_relay *r)
{
	return r->error;
}

void tx_relay_set_crash_after_xadd(struct tx_relay *r, bool on)
{
	r->crash_after_xadd = on;
}

__attribute__((format(printf, 2, 3)))
static void set_error(struct tx_relay *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static int db_failed(struct tx_relay *r, const char *what, int rc)
{
	r->ctx.db_error[strcspn(r->ctx.db_error, "\n")] = '\0'; /* one line */
	set_error(r, "%s: %s", what, r->ctx.db_error);
	return rc;
}

/* ---- publishing ----------------------------------------------------------- */

/* Read n pipelined replies; all must be stream ids. Always drains. */
static int xadd_replies(struct tx_relay *r, int n)
{
	int rc = 0;
	for (int i = 0; i < n; i++) {
		redisReply *rep = tx_redis_get_reply(r->redis);
		if (!rep) {
			set_error(r, "XADD: %s",
				 tx_redis_error(r->redis));
			return -TX_E_UNAVAILABLE; /* connection dropped */
		}
		if (rep->type != REDIS_REPLY_STRING && rc == 0) {
			set_error(r, "XADD: %s",
				 rep->str ? rep->str : "unexpected reply");
			rc = -TX_E_UNAVAILABLE;
		}
		freeReplyObject(rep);
	}
	return rc;
}

/* XADD every row of res (id, event_id, subject, data), pipelined. */
static int xadd_rows(struct tx_relay *r, PGresult *res)
{
	int n = PQntuples(res);
	char key[512];
	for (int i = 0; i < n; i++) {
		if (tx_redis_key(r->redis, PQgetvalue(res, i, 2), key, sizeof(key)) < 0) {
			set_error(r, "subject too long (row %s)",
				 PQgetvalue(res, i, 0));
			return -TX_E_INTERNAL; /* nothing appended yet is sent */
		}
		const char *argv[] = { "XADD", key, "*", "id", PQgetvalue(res, i, 1),
				       "data", PQgetvalue(res, i, 3) };
		size_t lens[] = { 4, strlen(key), 1, 2, strlen(argv[4]), 4,
				  (size_t)PQgetlength(res, i, 3) };
		if (tx_redis_append(r->redis, 7, argv, lens) < 0) {
			set_error(r, "XADD: %s",
				 tx_redis_error(r->redis));
			return -TX_E_UNAVAILABLE;
		}
	}
	return xadd_replies(r, n);
}

/* Redis replicates asynchronously: a master that dies right after an XADD
 * may take the entry with it, and the replica promoted in its place never
 * had it. With REDIS_WAIT_REPLICAS, a batch counts as published only once
 * WAIT says that many replicas have every entry of it (WAIT counts this
 * connection's writes); otherwise the batch rolls back and is sent again
 * later, so its entries may reach the stream twice: consumers dedupe by
 * event id. WAIT is no consensus (Sentinel may still promote a replica
 * that missed a write), but it closes the common window. */
static int confirm_replicated(struct tx_relay *r)
{
	long want = r->cfg->redis_wait_replicas;
	if (want <= 0)
		return 0;
	int got = tx_redis_wait(r->redis, (int)want, (int)r->cfg->redis_wait_timeout_ms);
	if (got < 0) {
		set_error(r, "WAIT: %s", tx_redis_error(r->redis));
		return -TX_E_UNAVAILABLE;
	}
	if (got < want) {
		set_error(r, "WAIT: %d of %ld replicas in %ld ms; not published, "
			  "will be sent again", got, want, r->cfg->redis_wait_timeout_ms);
		return -TX_E_UNAVAILABLE;
	}
	return 0;
}

/* "{1,2,3}": the ids of res as a Postgres array literal. */
static const char *id_array(struct tx_relay *r, PGresult *res)
{
	struct tx_buf b = TX_BUF_INIT(0);
	tx_buf_addch(&b, '{');
	for (int i = 0; i < PQntuples(res); i++)
		tx_buf_addf(&b, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
	tx_buf_addch(&b, '}');
	const char *s = tx_arena_strdup(r->ctx.arena, b.buf);
	tx_buf_release(&b);
	return s;
}

static int publish_locked(struct tx_relay *r, size_t *published)
{
	PGresult *res;
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", TX_RELAY_BATCH);
	const char *p1[] = { limit };
	int rc = tx_db_exec(&r->ctx, &r->st[ST_SELECT], p1, &res);
	if (rc < 0)
		return db_failed(r, "select outbox", rc);
	if (PQntuples(res) == 0)
		return 0;
	TX_FAILPOINT("relay_before_xadd");
	rc = xadd_rows(r, res);
	if (rc == 0)
		rc = confirm_replicated(r);
	if (rc < 0)
		return rc;
	TX_FAILPOINT("relay_after_xadd");
	if (r->crash_after_xadd) {
		set_error(r, "simulated crash after XADD");
		return -TX_E_INTERNAL;
	}
	const char *p2[] = { id_array(r, res) };
	rc = tx_db_exec(&r->ctx, &r->st[ST_MARK], p2, NULL);
	if (rc < 0)
		return db_failed(r, "mark published", rc);
	rc = tx_db_commit(&r->ctx);
	if (rc < 0)
		return db_failed(r, "commit", rc);
	*published = (size_t)PQntuples(res);
	return 0;
}

int tx_relay_publish(struct tx_relay *r, size_t *published)
{
	*published = 0;
	r->error[0] = '\0';
	int rc = tx_db_begin(&r->ctx);
	if (rc < 0)
		rc = db_failed(r, "begin", rc);
	else
		rc = publish_locked(r, published);
	tx_db_rollback(&r->ctx); /* no-op after a commit */
	tx_arena_reset(r->ctx.arena);
	return rc;
}

/* ---- maintenance ---------------------------------------------------------- */

static int exec_count(struct tx_relay *r, enum relay_stmt st,
		      const char *const *params, long long *count)
{
	PGresult *res;
	int rc = tx_db_exec(&r->ctx, &r->st[st], params, &res);
	if (rc < 0)
		rc = db_failed(r, st == ST_CLEANUP ? "cleanup" : "republish", rc);
	else if (count)
		*count = strtoll(PQcmdTuples(res), NULL, 10);
	tx_arena_reset(r->ctx.arena);
	return rc;
}

int tx_relay_cleanup(struct tx_relay *r, long long *deleted)
{
	char secs[24];
	snprintf(secs, sizeof(secs), "%ld", r->cfg->outbox_retention_s);
	const char *p[] = { secs };
	return exec_count(r, ST_CLEANUP, p, deleted);
}

int tx_relay_republish(struct tx_relay *r, long long from, long long to,
		       long long *count)
{
	char a[24], b[24];
	snprintf(a, sizeof(a), "%lld", from);
	snprintf(b, sizeof(b), "%lld", to);
	const char *p[] = { a, b };
	return exec_count(r, ST_REPUBLISH, p, count); /* the relays poll */
}

/* ---- waiting for work ------------------------------------------------------- */

int tx_relay_pending(struct tx_relay *r, bool *pending)
{
	PGresult *res;
	*pending = false;
	r->error[0] = '\0';
	int rc = tx_db_exec(&r->ctx, &r->st[ST_PENDING], NULL, &res);
	if (rc < 0)
		rc = db_failed(r, "pending", rc);
	else
		*pending = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	tx_arena_reset(r->ctx.arena);
	return rc;
}

int tx_relay_next_pause(int prev_ms, size_t n)
{
	if (n >= TX_RELAY_BATCH)
		return 0;
	if (n > 0 || prev_ms < TX_RELAY_POLL_MIN_MS)
		return TX_RELAY_POLL_MIN_MS;
	return prev_ms * 2 > TX_RELAY_POLL_MAX_MS ? TX_RELAY_POLL_MAX_MS : prev_ms * 2;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* One look: a relay that found nothing last time asks the cheap question
 * first. */
static int look(struct tx_relay *r, bool quiet, size_t *published)
{
	bool pending = true;
	*published = 0;
	if (quiet) {
		int rc = tx_relay_pending(r, &pending);
		if (rc < 0)
			return rc;
	}
	return pending ? tx_relay_publish(r, published) : 0;
}

/* ---- the loop ---------------------------------------------------------------- */

/* Log the first error of a failing spell, then one every 30 s. */
static void log_error(struct tx_relay *r)
{
	int64_t now = tx_now_us();
	if (r->failing && now - r->last_err_log_us < ERROR_LOG_INTERVAL_US)
		return;
	r->failing = true;
	r->last_err_log_us = now;
	tx_log("error", "relay schema=%s error=%s", r->schema, r->error);
}

static void maybe_cleanup(struct tx_relay *r)
{
	long long deleted = 0;
	if (tx_now_us() < r->next_cleanup_us)
		return;
	r->next_cleanup_us = tx_now_us() + CLEANUP_INTERVAL_US;
	if (tx_relay_cleanup(r, &deleted) < 0)
		log_error(r);
	else if (deleted > 0)
		tx_log("info", "relay schema=%s deleted=%lld", r->schema, deleted);
}

/* A sleep that ends early on stop. */
static void backoff_sleep(int ms, const atomic_bool *stop)
{
	for (int slept = 0; slept < ms && !atomic_load(stop); slept += 50)
		sleep_ms(50);
}

void tx_relay_run(struct tx_relay *r, const atomic_bool *stop)
{
	int backoff = 0, pause = 0;
	bool quiet = false; /* the last look found nothing */
	tx_log("info", "relay schema=%s started", r->schema);
	while (!atomic_load(stop)) {
		maybe_cleanup(r);
		size_t n = 0;
		int64_t start = tx_now_us();
		if (look(r, quiet, &n) < 0) {
			log_error(r);
			backoff = backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 50;
			backoff_sleep(backoff, stop);
			continue;
		}
		backoff = 0;
		if (r->failing)
			tx_log("info", "relay schema=%s recovered", r->schema);
		r->failing = false;
		if (n > 0)
			tx_log("info", "relay schema=%s published=%zu us=%lld", r->schema,
			       n, (long long)(tx_now_us() - start));
		quiet = n == 0;
		pause = tx_relay_next_pause(pause, n);
		if (pause > 0)
			sleep_ms(pause);
	}
	tx_log("info", "relay schema=%s stopped", r->schema);
}
