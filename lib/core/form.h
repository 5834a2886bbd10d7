/* form.h: application/x-www-form-urlencoded bodies and query strings.
 *
 * Parses "a=1&b=x+y&c=%C3%A9" into name/value pairs allocated from the
 * arena. '+' means space, %XX is decoded. Rejected (returns -1, *out is
 * left empty): a malformed escape ("%", "%4", "%zz"), a decoded NUL,
 * invalid UTF-8 after decoding (same rules as json.h: no overlong forms, no
 * surrogates), or more than max_fields pairs. Empty pairs ("a=1&&b=2") are
 * skipped; a pair without '=' has value "".
 */
#ifndef TX_FORM_H
#define TX_FORM_H

#include <stdbool.h>
#include <stddef.h>

struct tx_arena;

struct tx_form_field {
	const char *name;
	const char *value;
};

struct tx_form {
	struct tx_form_field *fields;
	size_t n;
};

#define TX_FORM_MAX_FIELDS 64

int tx_form_parse(struct tx_arena *a, const char *s, size_t len,
		  size_t max_fields, struct tx_form *out);
/* First value for name, or NULL. */
const char *tx_form_get(const struct tx_form *f, const char *name);

/* Decode one component. Returns 0, or -1 on a bad escape, a NUL or bad
 * UTF-8. plus_is_space: '+' becomes ' ' (forms) or stays (paths). */
int tx_url_decode(struct tx_arena *a, const char *s, size_t len,
		  bool plus_is_space, char **out);

/* true when s[0..len) is valid UTF-8 by the rules above. */
bool tx_utf8_valid(const char *s, size_t len);

#endif
