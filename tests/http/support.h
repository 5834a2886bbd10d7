/* support.h: helpers shared by the http-tests suites (tests/http/test_*.c).
 *
 * Unlike client.h, which the load and fault programs link too, this uses
 * check, libpq and Redis, so only http-tests links it (support.c).
 */
#ifndef TS_SUPPORT_H
#define TS_SUPPORT_H

#include <check.h>
#include <json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

#include "client.h"

/* Response checks. A suite that wants other widths in its messages
 * defines its own before including this header. */
#ifndef ck_status
#define ck_status(r, want)                                                    \
	ck_assert_msg((r)->status == (want), "status %ld, want %d; body: %.400s%s", \
		      (r)->status, (want), (r)->body, (r)->error)
#endif
#ifndef ck_body
#define ck_body(r, json)                                                      \
	ck_assert_msg(tc_json_is((r), (json)), "body %.400s, want %s", (r)->body, \
		      (json))
#endif
#ifndef ck_has
#define ck_has(r, text)                                                        \
	ck_assert_msg(strstr((r)->body, (text)) != NULL, "missing %s in: %.2000s", \
		      (text), (r)->body)
#endif
#ifndef ck_lacks
#define ck_lacks(r, text)                                                      \
	ck_assert_msg(strstr((r)->body, (text)) == NULL, "unexpected %s in: %.2000s", \
		      (text), (r)->body)
#endif

void ts_sleep_ms(long ms);

/* The test database (TEST_DATABASE_URL, a superuser): a checked fixture
 * that connects before each test and disconnects after it. */
void ts_db_setup(void);
void ts_db_teardown(void);
/* A query with up to three text parameters (the first NULL ends them);
 * it must succeed; the result is the caller's. */
PGresult *ts_q(const char *sql, const char *a, const char *b, const char *c);
/* The number in the single row of a query with up to two parameters. */
long ts_q_long(const char *sql, const char *a, const char *b);

/* Poll up to ~8 s (TEST_REDIS_URL, REDIS_PREFIX) for the Redis stream
 * `subject` to hold an entry whose field id is event_id and whose data is
 * JSON with "id" == id and, when version >= 0, "version" == version. */
bool ts_stream_has(const char *subject, const char *event_id, const char *id,
		   long version);

/* The value of a page's first _csrf input, malloc'd, or NULL. */
char *ts_page_token(const struct tc_resp *r);
/* Whether the content type is text/html. */
bool ts_is_html(const struct tc_resp *r);

/* o[key] or NULL (o may be NULL); o[key] when it is a string; whether
 * o[key] is a number equal to want. */
struct json_object *ts_jget(struct json_object *o, const char *key);
const char *ts_jstr(struct json_object *o, const char *key);
bool ts_jnum_is(struct json_object *o, const char *key, double want);

/* A forged session for a new random user id (test@test.com). */
struct ts_user {
	char id[37];
	char *cookie;
};
void ts_signin(struct ts_user *u);

#endif
