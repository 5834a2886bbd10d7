/* evtest.c: the event runtime tests' fixture (evtest.h). */
#include "evtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct evtest evt;
static int seq;

void evtest_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		      PQerrorMessage(c));
	PQclear(r);
}

redisReply *evtest_rcmd(int argc, const char **argv)
{
	redisReply *r = tx_redis_cmd(evt.rd, argc, argv, NULL);
	ck_assert_msg(r != NULL, "redis: %s", tx_redis_error(evt.rd));
	return r;
}

void evtest_setup(char tag)
{
	const char *db = getenv("TEST_DATABASE_URL"), *ru = getenv("TEST_REDIS_URL");
	ck_assert_msg(db && *db, "TEST_DATABASE_URL must be set");
	ck_assert_msg(ru && *ru, "TEST_REDIS_URL must be set");
	seq++;
	memset(&evt, 0, sizeof(evt));
	snprintf(evt.schema, sizeof(evt.schema), "evtest_%c%d_%d", tag, (int)getpid(), seq);
	snprintf(evt.prefix, sizeof(evt.prefix), "t%d-%d:", (int)getpid(), seq);
	evt.cfg.redis_url = ru;
	evt.cfg.redis_prefix = evt.prefix;
	evt.cfg.payment_provider = "test";
	snprintf(evt.cfg.database_url, sizeof(evt.cfg.database_url), "%s", db);
	evt.cfg.ack_wait_ms = 200;
	evt.cfg.max_deliveries = 3;
	evt.cfg.outbox_retention_s = 604800;
	evt.cfg.stream_retention_s = 86400;
	evt.pg = PQconnectdb(db);
	ck_assert_msg(PQstatus(evt.pg) == CONNECTION_OK, "%s", PQerrorMessage(evt.pg));
	char sql[512];
	snprintf(sql, sizeof(sql), "SET client_min_messages = warning; "
		 "DROP SCHEMA IF EXISTS %s CASCADE; "
		 "SELECT public.tx_create_event_tables('%s', 'postgres'); "
		 "CREATE TABLE %s.effects (event_id uuid NOT NULL)",
		 evt.schema, evt.schema, evt.schema);
	evtest_exec(evt.pg, sql);
	snprintf(evt.effect_sql, sizeof(evt.effect_sql),
		 "INSERT INTO %s.effects (event_id) VALUES ($1::uuid)", evt.schema);
	evt.st_effect = (struct tx_stmt){ "effect", evt.effect_sql, 1 };
	char err[128];
	evt.rd = tx_redis_new(ru, "", 5000, err, sizeof(err));
	ck_assert_msg(evt.rd && tx_redis_connect(evt.rd) == 0, "redis: %s", err);
}

void evtest_teardown(void)
{
	char sql[256], pat[80];
	if (!evt.pg || !evt.rd)
		return; /* setup failed */
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", evt.schema);
	PQclear(PQexec(evt.pg, sql));
	PQfinish(evt.pg);
	evt.pg = NULL;
	snprintf(pat, sizeof(pat), "%s*", evt.prefix);
	const char *keys[] = { "KEYS", pat };
	redisReply *r = tx_redis_cmd(evt.rd, 2, keys, NULL);
	for (size_t i = 0; r && i < r->elements; i++) {
		const char *del[] = { "DEL", r->element[i]->str };
		freeReplyObject(evtest_rcmd(2, del));
	}
	if (r)
		freeReplyObject(r);
	tx_redis_free(evt.rd);
	evt.rd = NULL;
}
