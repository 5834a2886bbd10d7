/* json.h: strict parsing of untrusted JSON request bodies.
 *
 * json-c alone accepts NaN, Infinity, 1e400 (as inf), clamps huge integers,
 * accepts single quotes and only checks UTF-8 byte structure. So every body
 * first goes through tx_json_validate(), our own RFC 8259 scanner, and only
 * then through json-c (with JSON_TOKENER_STRICT):
 *
 *   - grammar exactly RFC 8259 (no comments, no single quotes, no trailing
 *     commas, no leading zeros, no bare words other than true/false/null);
 *   - strings: valid UTF-8 (no overlong forms, no surrogates U+D800..DFFF
 *     encoded directly, nothing above U+10FFFF), no raw control characters
 *     below 0x20, valid escapes; \u escapes must not produce a lone
 *     surrogate or U+0000;
 *   - numbers: finite as doubles (1e400 rejected), and integers (no '.',
 *     no exponent) must fit in int64;
 *   - nesting depth at most max_depth (arrays and objects);
 *   - nothing but whitespace after the value.
 *
 * Errors are negative enum values; tx_json_strerror names them for logs.
 */
#ifndef TX_JSON_H
#define TX_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct tx_arena;
struct json_object;

#define TX_JSON_MAX_DEPTH 32

enum tx_json_err {
	TX_JSON_OK = 0,
	TX_JSON_ESYNTAX = -1,
	TX_JSON_EDEPTH = -2,
	TX_JSON_EUTF8 = -3,
	TX_JSON_ENUMBER = -4,
	TX_JSON_ETRAILING = -5,
	TX_JSON_ENOTOBJECT = -6,
	TX_JSON_EEMPTY = -7,
};

int tx_json_validate(const char *s, size_t len, int max_depth);
const char *tx_json_strerror(int err);

/* Validate, then parse with json-c. The root must be an object. On success
 * *out is owned by the arena (json_object_put runs at reset). */
int tx_json_parse_object(struct tx_arena *a, const char *s, size_t len,
			 struct json_object **out);

/* The value of obj[key] as express-validator sees it: missing, null -> "";
 * string -> itself; true/false -> "true"/"false"; integer -> decimal;
 * double -> shortest round-trip text as JavaScript prints it (10.5, 1e+21);
 * array -> elements joined with ","; object -> "[object Object]".
 * Never NULL. Strings with an embedded NUL come back as NULL-free copies cut
 * at the NUL, and *has_nul (if given) is set. */
const char *tx_json_field_str(struct tx_arena *a, struct json_object *obj,
			      const char *key, bool *has_nul);

/* The value of a request field that must be a string or a number (every
 * field of every route): as tx_json_field_str, except that a value of any
 * other JSON type (array, object, true, false; null was already "") comes
 * back as "", as if the field were missing, so that the field's own
 * validation reports it (DESIGN.md: a field of the wrong JSON type is a
 * validation error of that field; express-validator would have read
 * [5] as "5"). */
const char *tx_json_field_value(struct tx_arena *a, struct json_object *obj,
				const char *key, bool *has_nul);

/* obj[key] is present, not null, and a JSON number or a string. */
bool tx_json_field_present(struct json_object *obj, const char *key);

#endif
