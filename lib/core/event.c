/* event.c: field access for event payloads (json-c objects). */
#include "event.h"
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
