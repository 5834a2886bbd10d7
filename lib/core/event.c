/* event.c: field access for event payloads (json-c objects). */
#include "event.h"
#include "buf.h"
#include "db.h"
#include "errors.h"
#include "json.h"

#include <json.h>

const char *tx_event_str(struct tx_arena *a, const struct tx_event *ev,
			 const char *obj, const char *key)
{
	struct json_object *o = ev->json;
	if (obj && (!json_object_object_get_ex(o, obj, &o) ||
		    !json_object_is_type(o, json_type_object)))
		return "";
	return tx_json_field_str(a, o, key, NULL);
}

int tx_event_batch_exec(struct tx_ctx *ctx, const struct tx_stmt *st,
			const struct tx_event *evs, size_t n, tx_event_json_fn *elem,
			bool *ok, size_t *pos, PGresult **res)
{
	struct tx_buf b = TX_BUF_INIT(0);
	size_t k = 0;
	if (res)
		*res = NULL;
	tx_buf_addch(&b, '[');
	for (size_t i = 0; i < n; i++) {
		ok[i] = elem(ctx, &evs[i], &b);
		if (ok[i] && pos)
			pos[k] = i;
		k += ok[i];
	}
	tx_buf_addch(&b, ']');
	int rc = b.toobig ? -TX_E_INTERNAL
			  : k ? tx_db_exec(ctx, st, (const char *const[]){ b.buf }, res) : 0;
	tx_buf_release(&b);
	return rc < 0 ? rc : (int)k;
}
