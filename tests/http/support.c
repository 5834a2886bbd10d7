/* support.c: helpers shared by the http-tests suites (see support.h). */
#include "support.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <time.h>

#include "core/redis.h"

#define TOKEN_ATTR "name=\"_csrf\" value=\""

void ts_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- the database ------------------------------------------------------- */

static PGconn *pg;

void ts_db_setup(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	pg = PQconnectdb(url);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
}

void ts_db_teardown(void)
{
	PQfinish(pg);
	pg = NULL;
}

PGresult *ts_q(const char *sql, const char *a, const char *b, const char *c)
{
	const char *p[3] = { a, b, c };
	int n = c ? 3 : b ? 2 : a ? 1 : 0;
	PGresult *r = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(pg));
	return r;
}

long ts_q_long(const char *sql, const char *a, const char *b)
{
	PGresult *r = ts_q(sql, a, b, NULL);
	ck_assert_int_eq(PQntuples(r), 1);
	long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* ---- Redis: relayed events ---------------------------------------------- */

static bool stream_scan(struct tx_redis *rd, const char *subject,
			const char *event_id, const char *id, long version)
{
	char key[256];
	ck_assert_int_eq(tx_redis_key(rd, subject, key, sizeof(key)), 0);
	const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "2000" };
	redisReply *r = tx_redis_cmd(rd, 6, argv, NULL);
	ck_assert_msg(r != NULL, "redis: %s", tx_redis_error(rd));
	bool found = false;
	for (size_t i = 0; !found && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *fields = r->element[i]->element[1];
		const char *eid = NULL, *data = NULL;
		for (size_t k = 0; k + 1 < fields->elements; k += 2) {
			if (strcmp(fields->element[k]->str, "id") == 0)
				eid = fields->element[k + 1]->str;
			else if (strcmp(fields->element[k]->str, "data") == 0)
				data = fields->element[k + 1]->str;
		}
		if (!eid || !data || strcmp(eid, event_id) != 0)
			continue;
		struct json_object *o = json_tokener_parse(data), *v;
		found = o && json_object_object_get_ex(o, "id", &v) &&
			strcmp(json_object_get_string(v), id) == 0 &&
			(version < 0 ||
			 (json_object_object_get_ex(o, "version", &v) &&
			  json_object_get_int64(v) == version));
		json_object_put(o);
	}
	freeReplyObject(r);
	return found;
}

bool ts_stream_has(const char *subject, const char *event_id, const char *id,
		   long version)
{
	const char *url = getenv("TEST_REDIS_URL"), *prefix = getenv("REDIS_PREFIX");
	ck_assert_msg(url && *url, "TEST_REDIS_URL must be set (make test sets it)");
	char err[128];
	struct tx_redis *rd = tx_redis_new(url, prefix ? prefix : "", 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "redis: %s", err);
	bool found = false;
	for (int i = 0; i < 80 && !found; i++) {
		found = stream_scan(rd, subject, event_id, id, version);
		if (!found)
			ts_sleep_ms(100);
	}
	tx_redis_free(rd);
	return found;
}

/* ---- pages and JSON ----------------------------------------------------- */

char *ts_page_token(const struct tc_resp *r)
{
	const char *p = strstr(r->body, TOKEN_ATTR);
	if (!p)
		return NULL;
	p += strlen(TOKEN_ATTR);
	return tc_strf("%.*s", (int)strcspn(p, "\""), p);
}

bool ts_is_html(const struct tc_resp *r)
{
	return r->content_type && strncmp(r->content_type, "text/html", 9) == 0;
}

struct json_object *ts_jget(struct json_object *o, const char *key)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *ts_jstr(struct json_object *o, const char *key)
{
	struct json_object *v = ts_jget(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool ts_jnum_is(struct json_object *o, const char *key, double want)
{
	struct json_object *v = ts_jget(o, key);
	return v && (json_object_is_type(v, json_type_int) ||
		     json_object_is_type(v, json_type_double)) &&
	       json_object_get_double(v) == want;
}

void ts_signin(struct ts_user *u)
{
	u->cookie = tc_forge_cookie("test@test.com", u->id);
}
