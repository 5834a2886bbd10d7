/* expiration.h: the expiration service: a clock in Redis that publishes
 * expiration:complete {orderId} when an order's time is up.
 *
 * It has no Postgres. Its listener (group expiration-service, Redis-only:
 * events.h) schedules each order:created at its expiresAt; the scheduler
 * (a worker role, any number of copies) moves due orders to the stream.
 *
 * Keys. The stream is the subject, REDIS_PREFIX + "expiration:complete"
 * (DESIGN.md: stream key = subject). The two sorted sets carry a hash tag
 * equal to the stream's whole key, so that a Lua script may touch them and
 * the stream in one Redis Cluster slot, while every key still starts with
 * the prefix:
 *     due:  <prefix>{<prefix>expiration:complete}:due    score: due ms,
 *                                                         member: order id
 *     seen: <prefix>{<prefix>expiration:complete}:seen   score: ms seen,
 *                                                         member: event id
 * (With the default empty prefix: "{expiration:complete}:due". A prefix
 * that itself holds a {tag} still works: Redis hashes the first tag, the
 * same in all three keys.)
 *
 * Exactly once, in two scripts:
 *   schedule  (listener)  if the event id is not in seen: add it, and
 *             ZADD NX the order at its due time. Atomic, so a redelivered
 *             order:created schedules once, even after the expiry fired.
 *             seen forgets ids after max(STREAM_RETENTION_SECONDS, 1 day).
 *   move      (scheduler) take up to a batch of members due by Redis's own
 *             clock (TIME), XADD each to the stream and ZREM it, in one
 *             script: a crash (of the worker, or of Redis with AOF) loses
 *             or doubles nothing, and concurrent schedulers never publish
 *             one member twice.
 * The event id of an expiry is a name-based UUID (version 5, SHA-1) of the
 * order id: an order expires once, and should a timer ever fire twice, the
 * second event has the same id and orders' processed_events drops it.
 *
 * Functions return 0 (or a count) or -TX_E_UNAVAILABLE when Redis is down
 * or answers with an error; calling again later is always safe.
 */
#ifndef TX_EXPIRATION_H
#define TX_EXPIRATION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/events.h"

struct tx_config;
struct tx_redis;

#define EXPIRATION_SUBJECT "expiration:complete"
#define EXPIRATION_BATCH 200	    /* members moved per script call */
#define EXPIRATION_MAX_SLEEP_MS 100 /* the scheduler's longest nap */

struct expiration_keys {
	char stream[256];
	char due[600];
	char seen[600];
};

/* The keys for r's prefix; 0, or -1 if the prefix is too long. */
int expiration_keys(const struct tx_redis *r, struct expiration_keys *k);

/* "2024-05-01T12:00:00.123Z" (a fraction of any length, or none; Z only)
 * -> ms since the epoch; 0 or -1. */
int expiration_parse_iso(const char *s, int64_t *ms);

/* The expiry event id of order_id (36 chars + NUL). */
void expiration_event_id(const char *order_id, char out[37]);

/* Schedule order_id at due_ms for the event event_id, once per event id:
 * 1 scheduled, 0 a duplicate, or -TX_E_UNAVAILABLE (err says why). */
int expiration_schedule(struct tx_redis *r, const struct tx_config *cfg,
			const char *event_id, const char *order_id,
			int64_t due_ms, char *err, size_t errlen);

/* ---- the scheduler (one per thread) --------------------------------------- */

struct expiration_scheduler;

/* NULL (err says why) if REDIS_URL or REDIS_PREFIX is bad. */
struct expiration_scheduler *expiration_scheduler_new(const struct tx_config *cfg,
						      char *err, size_t errlen);
void expiration_scheduler_free(struct expiration_scheduler *s);
/* One move: *moved gets the number of expiries published; *wait_ms how
 * long until the next member is due (capped at EXPIRATION_MAX_SLEEP_MS,
 * 0 when more are due now). 0 or -TX_E_UNAVAILABLE. */
int expiration_scheduler_tick(struct expiration_scheduler *s, int *moved,
			      int *wait_ms);
/* tick and sleep until *stop, backing off (max 1 s) while Redis is down. */
void expiration_scheduler_run(struct expiration_scheduler *s,
			      const atomic_bool *stop);
const char *expiration_scheduler_error(const struct expiration_scheduler *s);
long expiration_scheduler_moved(const struct expiration_scheduler *s);

/* listeners.c: order:created -> schedule (group expiration-service). */
extern const struct tx_listener expiration_listeners[];
extern const size_t expiration_nlisteners;

#endif
