/* fuzz_cookie.c: libFuzzer harness for Cookie header parsing.
 *
 * The first line of the input is the cookie name, the rest the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *nl = memchr(buf, '\n', size);
	const char *name = "session", *header = buf;
	if (nl) {
		*nl = '\0';
		name = buf;
		header = nl + 1;
	}
	struct tx_arena *a = tx_arena_new(4096);
	const char *v = tx_cookie_get(a, header, name);
	if (v && strlen(v) > TX_COOKIE_MAX_VALUE)
		abort();
	struct tx_cookie_opts o = { .secure = size & 1, .samesite_lax = true };
	if (v && tx_cookie_value_ok(v) && tx_cookie_format(a, "s", v, &o) == NULL)
		abort();
	tx_arena_free(a);
	free(buf);
	return 0;
}
