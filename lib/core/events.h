/* events.h: the event runtime's contract with the services.
 *
 * Publishing: a handler never publishes. It inserts a row into its
 * schema's outbox (<schema>.outbox: id bigserial, event_id uuid,
 * subject, data json, created_at, published_at) in the same transaction as
 * its own writes; the relay (worker) XADDs unpublished rows to the Redis
 * stream named by the subject (REDIS_PREFIX + subject) with fields
 * `id` (event_id) and `data` (the JSON text), then marks them published.
 *
 * Consuming: a service declares listeners as (subject, group, schema,
 * handler). The runtime (worker) reads the group with XREADGROUP, opens a
 * Postgres transaction on the service's own connection
 * (<SCHEMA>_DATABASE_URL or DATABASE_URL), records the event id in
 * <schema>.processed_events (event_id, group_name) — a duplicate is acked
 * with no second effect — calls the handler, commits, then XACKs.
 *
 * A handler returns:
 *   0              applied; commit and ack
 *   TX_EV_RETRY    cannot be applied yet (an out-of-order version, a row
 *                  that has not arrived): roll back, leave pending; it is
 *                  redelivered after ACK_WAIT_MS
 *   < 0            failure (-TX_E_...): roll back, leave pending; after
 *                  MAX_DELIVERIES deliveries the entry goes to the
 *                  dead-letter stream with subject, group, id, data and the
 *                  last error (err)
 * Handlers write their effects and any events they publish (outbox rows)
 * through ctx->db inside the transaction the runtime opened.
 *
 * Redis-only listeners (schema NULL; every listener of the group must be
 * so): for a service with no Postgres (expiration). The runtime opens no
 * transaction and records nothing; ctx->db is NULL. The handler makes its
 * effect idempotent itself, by recording the event id atomically with the
 * effect (one Lua script), and returns as above: 0 acks, anything else
 * leaves the entry pending.
 *
 * Batch mode (optional, Postgres listeners only): a listener that also
 * has handle_batch gets its events in batches of up to TX_CONSUMER_BATCH
 * (consumer.h), to apply with set-based SQL in one transaction and one
 * WAL flush instead of one each. The runtime opens the transaction and
 * records every id of the batch in processed_events in one statement;
 * duplicates (redelivered, or already applied by another consumer) are
 * left out and acked. handle_batch(ctx, evs, n, ok, ...) then applies
 * evs[0..n), which have distinct ids, and returns:
 *   0              commit. ok[i] (true on entry) set to false for an
 *                  event it did not apply, and for which it made no
 *                  effect at all (an order that does not exist): the
 *                  runtime forgets that event's id before committing and
 *                  then gives it to handle, alone, so that it gets its
 *                  own retries, error and dead letter.
 *   anything else  the whole batch is rolled back and each event goes
 *                  through handle in a transaction of its own, so one
 *                  poison event never holds up the others.
 * Either way handle stays the reference: for every event, the batch's
 * effect must be what handle would have done (one order:cancelled per
 * cancelled order, no effect for a duplicate).
 *
 * Every handler may use ctx->redis, the consumer's own connection (keys
 * with REDIS_PREFIX: tx_redis_key). Leave no pipelined replies unread.
 */
#ifndef TX_EVENTS_H
#define TX_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

struct tx_ctx;
struct json_object;

#define TX_EV_RETRY 1

struct tx_event {
	const char *subject;
	const char *id;	  /* the event's unique id (uuid) */
	const char *data; /* the JSON text */
	struct json_object *json; /* parsed data (an object) */
};

typedef int tx_listener_fn(struct tx_ctx *ctx, const struct tx_event *ev,
			   char *err, size_t errlen);
typedef int tx_batch_fn(struct tx_ctx *ctx, const struct tx_event *evs,
			size_t n, bool *ok, char *err, size_t errlen);

struct tx_listener {
	const char *subject; /* "order:created" */
	const char *group;   /* "tickets-service" */
	const char *schema;  /* "tickets": processed_events and DB URL;
			      * NULL: Redis only (see above) */
	tx_listener_fn *handle;
	tx_batch_fn *handle_batch; /* NULL: one event per transaction */
};

#endif
