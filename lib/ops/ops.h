/* ops.h: the operations program: health, Prometheus metrics, the ops page
 * and dead-letter replay.
 *
 * Routes (nginx: /api/health is public; /ops and /metrics only from the
 * addresses of OPS_ALLOW, loopback by default):
 *   GET  /api/health   JSON, 200 when Postgres and Redis answer, else 503
 *   GET  /metrics      Prometheus text: every program's request counters
 *                      (METRICS_DIR, core/metrics.h) and the event gauges
 *   GET  /ops          streams, groups, consumers, pending, dead letters
 *   POST /ops/replay   (CSRF) put a dead letter back on its stream
 *
 * Data: Redis through ctx->redis (one connection per thread, 1 s command
 * timeout); Postgres as role `ops` (OPS_DATABASE_URL), which may read only
 * the id, created_at and published_at columns of each service's outbox
 * (sql/006_ops.sql), never payloads or business tables.
 */
#ifndef TX_OPS_H
#define TX_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/http.h"

extern const struct tx_service ops_service;

#define OPS_MAX_STREAMS 12
#define OPS_MAX_GROUPS 8
#define OPS_MAX_CONSUMERS 16
#define OPS_MAX_OUTBOXES 4
#define OPS_MAX_DEAD 50

struct ops_consumer {
	const char *name;
	long long pending, idle_ms;
};

struct ops_group {
	const char *name;
	long long consumers, pending;
	long long lag;		    /* entries not yet delivered; -1 unknown */
	double lag_seconds;	    /* age of the oldest entry not yet acked */
	const char *last_delivered;
	const char *oldest_pending; /* XPENDING summary: lowest id, or NULL */
	const char *newest_pending;
	struct ops_consumer consumers_list[OPS_MAX_CONSUMERS];
	size_t nconsumers;
};

struct ops_stream {
	const char *subject;
	long long length;
	const char *first_id, *last_id; /* NULL when empty */
	struct ops_group groups[OPS_MAX_GROUPS];
	size_t ngroups;
};

struct ops_outbox {
	const char *schema;
	long long unpublished;
	double oldest_seconds; /* age of the oldest unpublished row, 0 if none */
};

struct ops_dead {
	const char *entry, *subject, *group, *id, *error;
};

struct ops_state {
	bool pg_ok, redis_ok;
	double pg_ms, redis_ms;
	struct ops_outbox outbox[OPS_MAX_OUTBOXES];
	size_t noutbox;
	/* payments.charge_attempts not settled yet, and the age of the oldest:
	 * requests in flight, or died around the provider call and waiting
	 * for the worker's settler (PAYMENT_SETTLE_AFTER_MS). */
	long long open_attempts;
	double open_attempts_oldest_seconds;
	struct ops_stream streams[OPS_MAX_STREAMS];
	size_t nstreams;
	long long dead_letters; /* -1 unknown */
	struct ops_dead dead[OPS_MAX_DEAD];
	size_t ndead;
};

/* What to load from Redis besides stream and group summaries. */
enum ops_detail {
	OPS_SUMMARY = 0,
	OPS_FULL = 1, /* consumers, pending ranges, the latest dead letters */
};

/* state.c: fill st (strings in the arena). Never fails: what could not be
 * read is marked (pg_ok, redis_ok false). */
void ops_load(struct tx_ctx *ctx, struct ops_state *st, enum ops_detail d);
/* The subjects every service listens to (the streams), from the listener
 * tables; *n of them. */
const char *const *ops_subjects(size_t *n);
bool ops_is_subject(const char *s);
/* Total pending of group over every stream. */
long long ops_group_pending(const struct ops_state *st, const char *group);

/* The directory of the programs' metrics files (METRICS_DIR), or NULL. */
const char *ops_metrics_dir(void);

tx_handler ops_health, ops_metrics, ops_page, ops_replay;

#endif
