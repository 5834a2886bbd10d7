/* client.h: a small libcurl client for the HTTP end-to-end tests.
 *
 * Every request goes to TEST_BASE_URL (default http://127.0.0.1:8080) on a
 * fresh connection, never follows redirects, and fills a struct tc_resp
 * that the caller releases with tc_resp_release. The body is bounded
 * (TC_BODY_MAX; more is dropped and `truncated` set); headers are kept up
 * to TC_MAX_HEADERS, Set-Cookie values up to TC_MAX_COOKIES. Out of memory
 * aborts: these are tests.
 *
 * Sessions are forged as the original tests do: a JWT signed here with
 * JWT_KEY (HMAC from libsodium, base64url by hand), wrapped as
 * base64({"jwt":"<token>"}) in the `session` cookie. Nothing here uses the
 * app's own JWT or session code, so the tests stay independent of it.
 */
#ifndef TC_CLIENT_H
#define TC_CLIENT_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

#define TC_BODY_MAX (1u << 20)
#define TC_MAX_COOKIES 8
#define TC_MAX_HEADERS 32

struct tc_resp {
	long status;		/* 0 when the transfer failed */
	char *body;		/* NUL-terminated, never NULL after a request */
	size_t body_len;
	bool truncated;
	char *content_type;	/* NULL when absent */
	char *location;		/* NULL when absent */
	char *set_cookie[TC_MAX_COOKIES]; /* values, without "Set-Cookie: " */
	size_t ncookies;
	char *headers[TC_MAX_HEADERS]; /* "Name: value", without CR LF */
	size_t nheaders;
	char error[256];	/* curl's message when status is 0 */
};

struct tc_opts {
	const char *content_type; /* NULL: no Content-Type header */
	const char *body;	  /* NULL: no body */
	size_t body_len;	  /* 0 with a body: strlen(body) */
	const char *cookie;	  /* the whole Cookie header value, or NULL */
	const char *const *headers; /* extra "Name: value" lines, NULL-ended */
};

/* The base URL, from TEST_BASE_URL. */
const char *tc_base_url(void);

/* One request; out is overwritten (not released first). 0, or -1 when the
 * transfer failed (out->status is then 0 and out->error says why). */
int tc_request(const char *method, const char *path, const struct tc_opts *o,
	       struct tc_resp *out);
void tc_resp_release(struct tc_resp *r);

/* Shorthands: JSON POST (strlen body) and plain GET, with an optional
 * Cookie header value. */
int tc_post_json(const char *path, const char *body, const char *cookie,
		 struct tc_resp *out);
int tc_get(const char *path, const char *cookie, struct tc_resp *out);

/* The value of the first header called name (case-insensitive), or NULL;
 * it points into r. */
const char *tc_header(const struct tc_resp *r, const char *name);

/* The Set-Cookie line for cookie `name`, or NULL; it points into r. */
const char *tc_set_cookie_line(const struct tc_resp *r, const char *name);
/* "name=value" of that cookie, malloc'd, ready for a Cookie header, or
 * NULL when the response did not set it. */
char *tc_cookie_pair(const struct tc_resp *r, const char *name);

/* The response body parsed as JSON (caller puts it), or NULL. */
struct json_object *tc_json(const struct tc_resp *r);
/* Whether the body equals the JSON text `want` (json_object_equal). */
bool tc_json_is(const struct tc_resp *r, const char *want);
/* Whether the body is {"errors":[...]}: a non-empty array of objects, each
 * with a string "message" and at most a string "field" besides. */
bool tc_is_errors(const struct tc_resp *r);
/* Whether the content type is application/json (any parameters). */
bool tc_is_json_type(const struct tc_resp *r);

/* A unique address like "t-<16 hex>@test.com" (prefix replaces "t");
 * malloc'd. */
char *tc_unique_email(const char *prefix);
/* A random version-4 UUID into out[37]. */
void tc_uuid(char out[37]);

/* base64url without padding of data[n]; malloc'd. */
char *tc_b64url(const void *data, size_t n);

/* A compact JWS with the given header and payload JSON texts. alg is
 * "HS256", "HS512" or "none" (empty signature); key/keylen sign it. */
char *tc_jwt(const char *header_json, const char *payload_json,
	     const char *alg, const char *key, size_t keylen);
/* "session=" + base64({"jwt":"<token>"}); malloc'd. */
char *tc_session_cookie(const char *token);
/* JWT_KEY from the environment (the stack's key); aborts when unset. */
const char *tc_jwt_key(void);
/* A valid session cookie for a new random id and this email, signed HS256
 * with JWT_KEY, iat now and exp now + 1 h; the id goes to id_out[37] when
 * it is not NULL. malloc'd. */
char *tc_forge_cookie(const char *email, char id_out[37]);

/* Form-urlencoding of s (application/x-www-form-urlencoded); malloc'd. */
char *tc_urlencode(const char *s);
/* printf into a new malloc'd string. */
char *tc_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
