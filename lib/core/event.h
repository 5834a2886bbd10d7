/* event.h: reading event payloads in listeners. */
#ifndef TX_EVENT_H
#define TX_EVENT_H

#include "core/events.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct tx_arena;
struct tx_buf;
struct tx_stmt;

/* The string form of a top-level field, or of a field of a nested object
 * ("ticket", "id"); "" when absent. From the arena. */
const char *tx_event_str(struct tx_arena *a, const struct tx_event *ev,
			 const char *obj, const char *key);

/* Batch mode, one statement for the batch: each event is appended by elem
 * as an element of a JSON array (elem returns false, having added nothing,
 * to refuse it: ok[i] = false, it goes the one-by-one path), then st runs
 * with the array as $1 when any event was accepted. pos (NULL: not
 * wanted, else n entries) gets, for each element of the array, the index
 * of its event; *res (NULL: not wanted) the statement's result, NULL when
 * it did not run. Returns the number of elements, or tx_db_exec's
 * negative status (-TX_E_INTERNAL for an array too large to build). */
typedef bool tx_event_json_fn(struct tx_ctx *ctx, const struct tx_event *ev,
			      struct tx_buf *b);
int tx_event_batch_exec(struct tx_ctx *ctx, const struct tx_stmt *st,
			const struct tx_event *evs, size_t n, tx_event_json_fn *elem,
			bool *ok, size_t *pos, PGresult **res);

#endif
