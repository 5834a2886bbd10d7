/* fuzz_json.c: libFuzzer harness for the JSON validator and json-c parse.
 *
 * Beyond "no crash": whatever the validator accepts, json-c must parse, and
 * both entry points must agree on the error. Any accepted value is also
 * wrapped as {"k":VALUE} so json-c sees scalars and arrays too.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"

static void check_wrapped(struct tx_arena *a, const uint8_t *data, size_t size)
{
	if (tx_json_validate((const char *)data, size, TX_JSON_MAX_DEPTH - 1))
		return;
	char *w = malloc(size + 7);
	memcpy(w, "{\"k\":", 5);
	memcpy(w + 5, data, size);
	w[size + 5] = '}';
	struct json_object *o;
	if (tx_json_parse_object(a, w, size + 6, &o) != 0)
		abort();
	if (!json_object_object_get_ex(o, "k", NULL))
		abort();
	tx_json_field_str(a, o, "k", NULL);
	tx_json_field_present(o, "k");
	free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tx_arena *a = tx_arena_new(4096);
	const char *s = (const char *)data;
	int v = tx_json_validate(s, size, TX_JSON_MAX_DEPTH);
	struct json_object *o = NULL;
	int p = tx_json_parse_object(a, s, size, &o);
	if (v != 0 && p != v)
		abort();
	if (v == 0 && p != 0 && p != TX_JSON_ENOTOBJECT)
		abort(); /* validator accepted what json-c refused */
	if (p == 0) {
		json_object_object_foreach(o, key, val)
		{
			(void)val;
			tx_json_field_str(a, o, key, NULL);
		}
	}
	check_wrapped(a, data, size);
	tx_arena_free(a);
	return 0;
}
