/* fuzz_form.c: libFuzzer harness for form bodies and percent-decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tx_arena *a = tx_arena_new(4096);
	const char *s = (const char *)data;
	struct tx_form f;
	if (tx_form_parse(a, s, size, TX_FORM_MAX_FIELDS, &f) == 0) {
		for (size_t i = 0; i < f.n; i++) {
			if (!tx_utf8_valid(f.fields[i].value,
					   strlen(f.fields[i].value)))
				abort();
			if (tx_form_get(&f, f.fields[i].name) == NULL)
				abort();
		}
	} else if (f.n != 0 || f.fields != NULL) {
		abort();
	}
	char *out;
	for (int plus = 0; plus < 2; plus++)
		if (tx_url_decode(a, s, size, plus, &out) == 0 &&
		    strlen(out) > size)
			abort();
	tx_arena_free(a);
	return 0;
}
