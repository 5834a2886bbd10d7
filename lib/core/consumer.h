/* consumer.h: the consumer-group runtime that feeds listeners (events.h).
 *
 * One struct tx_consumer serves one group: every listener of that group
 * (they must share one schema: a group is one service), one Redis
 * connection, one Postgres connection (<SCHEMA>_DATABASE_URL, else
 * DATABASE_URL), one thread. Several consumers (threads, processes,
 * machines) may serve the same group; each entry reaches one of them at a
 * time and its effect is applied at most once (processed_events).
 * A group whose listeners have no schema (NULL) is Redis-only: no Postgres
 * connection, no processed_events; its handlers dedupe by themselves
 * (events.h).
 *
 * Keys (all with REDIS_PREFIX): the streams are the listeners' subjects;
 * "dead-letter" receives entries that failed MAX_DELIVERIES times or are
 * malformed (fields subject, group, id, data, error, entry);
 * "event-errors:<group>" is a hash of the last error of each pending entry
 * (field "<subject> <entry id>"), cleared when the entry is acked.
 *
 * Functions return 0 (or a count) or -TX_E_UNAVAILABLE when Redis or
 * Postgres is down; calling again later continues where it stopped.
 */
#ifndef TX_CONSUMER_H
#define TX_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>

struct tx_config;
struct tx_listener;
struct tx_consumer;

#define TX_CONSUMER_MAX_STREAMS 16
#define TX_CONSUMER_COUNT 32 /* entries per XREADGROUP */
/* Batch mode (events.h): a full read of a batch listener's stream is
 * topped up to this many entries, applied in one transaction. */
#define TX_CONSUMER_BATCH 512

/* Counters since creation (for logs and tests). */
struct tx_consumer_stats {
	long applied, duplicates, retried, failed, dead, claimed;
	long batches, fallbacks; /* batch mode: batches, and those rolled back */
};

/* A consumer for the listeners of ls[0..n) whose group is group. NULL
 * (err says why) if there are none, they span schemas, a schema is not an
 * identifier, two share a subject, or REDIS_URL is malformed. */
struct tx_consumer *tx_consumer_new(const struct tx_config *cfg,
				    const char *group,
				    const struct tx_listener *ls, size_t n,
				    char *err, size_t errlen);
void tx_consumer_free(struct tx_consumer *c);

/* One round: create missing groups, reclaim idle pending entries if due
 * (every ACK_WAIT_MS/2), then one XREADGROUP (BLOCK block_ms) and process
 * what it returns. The number of entries handled, or negative. */
int tx_consumer_poll(struct tx_consumer *c, int block_ms);
/* Reclaim now: entries idle >= ACK_WAIT_MS are dead-lettered (delivered
 * MAX_DELIVERIES times) or claimed and processed again. */
int tx_consumer_reclaim(struct tx_consumer *c);
/* XTRIM MINID each stream below every group's lowest pending and last
 * delivered id, and below now - STREAM_RETENTION_SECONDS. */
int tx_consumer_trim(struct tx_consumer *c);
/* poll until *stop, with back-off (max 1 s) on errors and a trim now
 * and then; finishes the batch in hand. */
void tx_consumer_run(struct tx_consumer *c, const atomic_bool *stop);

const char *tx_consumer_name(const struct tx_consumer *c);
const struct tx_consumer_stats *tx_consumer_stats(const struct tx_consumer *c);
/* The block time run() uses: ACK_WAIT_MS/2, within [10, 1000] ms. */
int tx_consumer_block_ms(const struct tx_consumer *c);

#endif
