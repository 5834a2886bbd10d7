/* event.h: reading event payloads in listeners. */
#ifndef TX_EVENT_H
#define TX_EVENT_H

#include "core/events.h"

struct tx_arena;

/* The string form of a top-level field, or of a field of a nested object
 * ("ticket", "id"); "" when absent. From the arena. */
const char *tx_event_str(struct tx_arena *a, const struct tx_event *ev,
			 const char *obj, const char *key);

#endif
