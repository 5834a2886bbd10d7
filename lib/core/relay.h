/* relay.h: the outbox relay of one schema (see events.h for the pattern).
 *
 * tx_relay_publish() moves one batch of unpublished rows of <schema>.outbox
 * to Redis, in one Postgres transaction:
 *     SELECT ... WHERE published_at IS NULL ORDER BY id LIMIT n
 *         FOR UPDATE SKIP LOCKED;
 *     XADD <prefix><subject> * id <event_id> data <data>   (pipelined)
 *     WAIT n ms                                (REDIS_WAIT_REPLICAS=n > 0)
 *     UPDATE ... SET published_at = now() WHERE id = ANY(ids); COMMIT
 * If Redis fails, or WAIT counts fewer than n replicas within
 * REDIS_WAIT_TIMEOUT_MS, the transaction rolls back and the rows stay
 * unpublished (their entries are sent again: a replica may not have them).
 * If the process dies after the XADDs and before the COMMIT, the rows are
 * published again later: delivery is at least once and consumers dedupe by
 * event id. Any number of relays may run on one schema at once.
 *
 * Schemas come from a whitelist in relay.c (tickets, orders, payments); the
 * per-schema SQL is built once from it. Tests may use schemas named
 * evtest_[a-z0-9_]+ through tx_relay_new_test() and nothing else does.
 *
 * Failure: functions return 0 or -TX_E_... (UNAVAILABLE when Postgres or
 * Redis is down); the reason is in tx_relay_error(). Nothing is lost:
 * every function can simply be called again.
 */
#ifndef TX_RELAY_H
#define TX_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct tx_config;
struct tx_relay;

#define TX_RELAY_BATCH 100
/* The relay polls (no NOTIFY: a notifying transaction takes a global lock
 * through its commit's WAL flush, so writers could not share flushes).
 * After a batch that found rows it looks again at once (a full batch) or
 * after TX_RELAY_POLL_MIN_MS; each empty look doubles the pause, up to
 * TX_RELAY_POLL_MAX_MS: the most an event committed to a quiet outbox
 * waits. A quiet relay costs one cheap query (tx_relay_pending) per
 * TX_RELAY_POLL_MAX_MS. */
#define TX_RELAY_POLL_MIN_MS 1
#define TX_RELAY_POLL_MAX_MS 20

/* The whitelist: every schema with an outbox. */
extern const char *const tx_relay_schemas[];
extern const size_t tx_relay_nschemas;

/* A relay for schema (whitelisted) on db_url, publishing to cfg's Redis.
 * NULL (err says why) for a schema off the whitelist or a bad REDIS_URL. */
struct tx_relay *tx_relay_new(const struct tx_config *cfg, const char *schema,
			      const char *db_url, char *err, size_t errlen);
/* Test only: schema must match evtest_[a-z0-9_]{1,40}. */
struct tx_relay *tx_relay_new_test(const struct tx_config *cfg,
				   const char *schema, const char *db_url,
				   char *err, size_t errlen);
void tx_relay_free(struct tx_relay *r);

/* One batch (at most TX_RELAY_BATCH rows); *published gets the count. */
int tx_relay_publish(struct tx_relay *r, size_t *published);
/* Delete published rows older than cfg->outbox_retention_s. */
int tx_relay_cleanup(struct tx_relay *r, long long *deleted);
/* Mark rows with id in [from, to] unpublished (Redis lost them). */
int tx_relay_republish(struct tx_relay *r, long long from, long long to,
		       long long *count);
/* Whether the outbox has unpublished rows: one statement, no transaction
 * and no locks (a row locked by another relay's batch counts). */
int tx_relay_pending(struct tx_relay *r, bool *pending);
/* The pause before the next look, after a look that published n rows and
 * a previous pause of prev_ms (see TX_RELAY_POLL_MIN_MS). */
int tx_relay_next_pause(int prev_ms, size_t n);
/* publish / pause / cleanup until *stop; finishes the batch in hand. */
void tx_relay_run(struct tx_relay *r, const atomic_bool *stop);

const char *tx_relay_error(const struct tx_relay *r);

/* Test only: simulate a crash after the XADDs (roll back, don't commit). */
void tx_relay_set_crash_after_xadd(struct tx_relay *r, bool on);

#endif
