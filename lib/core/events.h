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
 * Every handler may use ctx->redis, the consumer's own connection (keys
 * with REDIS_PREFIX: tx_redis_key). Leave no pipelined replies unread.
 */
#ifndef TX_EVENTS_H
#define TX_EVENTS_H

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

struct tx_listener {
	const char *subject; /* "order:created" */
	const char *group;   /* "tickets-service" */
	const char *schema;  /* "tickets": processed_events and DB URL;
			      * NULL: Redis only (see above) */
	tx_listener_fn *handle;
};

#endif
