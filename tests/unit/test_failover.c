/* test_failover.c: the clients' side of a failover, against real servers:
 * Redis with a replica and three sentinels, a Postgres primary with a
 * streaming standby (tests/stack/failover_fixture.sh; its DIR/env gives
 * TEST_SENTINELS, TEST_REDIS_MASTER_NAME, TEST_REDIS_NODES, TEST_PG_HOST,
 * TEST_PG_PORTS, TEST_FAILOVER_CTL). Like the other integration tests
 * they fail, not skip, without it. Roles are asked (ROLE,
 * pg_is_in_recovery), never assumed: the switchover tests swap them.
 */
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/http.h"
#include "core/redis.h"
#include "core/relay.h"
#include "core/sentinel.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *env(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set: these tests need "
			       "tests/stack/failover_fixture.sh (scripts/test.sh starts it)", name);
	return v;
}

/* A decimal number (a port, a count) from text the servers gave. */
static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	ck_assert_msg(end != s && v >= 0 && v <= 1L << 30, "not a number: %s", s);
	return (int)v;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- URLs and configuration (no servers) ------------------------------------ */

START_TEST(sentinel_url_forms)
{
	struct tx_sentinels s;
	char plain[256], err[256], out[256];
	ck_assert_int_eq(tx_sentinel_parse_url("redis-sentinel://a:1,b,c.example:3/2#m-1.x",
					       &s, plain, sizeof(plain), err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.addr[0].host, "a");
	ck_assert_int_eq(s.addr[0].port, 1);
	ck_assert_str_eq(s.addr[1].host, "b");
	ck_assert_int_eq(s.addr[1].port, TX_SENTINEL_PORT);
	ck_assert_str_eq(s.addr[2].host, "c.example");
	ck_assert_int_eq(s.addr[2].port, 3);
	ck_assert_str_eq(s.master, "m-1.x");
	ck_assert_str_eq(plain, "redis://sentinel/2");
	ck_assert_int_eq(tx_sentinel_parse_url("redis-sentinel://:p#w@h:7#mm", &s, plain,
					       sizeof(plain), err, sizeof(err)), 0);
	ck_assert_str_eq(plain, "redis://:p#w@sentinel");
	ck_assert_str_eq(s.addr[0].host, "h");
	ck_assert_str_eq(s.master, "mm");

	static const char *const bad[] = {
		"redis://h:1#m", "redis-sentinel://h:1", "redis-sentinel://h:1#",
		"redis-sentinel://h:1#m!", "redis-sentinel://h:0#m",
		"redis-sentinel://h:x#m", "redis-sentinel://,h#m", "redis-sentinel://#m",
		"redis-sentinel://h:1,#m", "redis-sentinel://a,b,c,d,e,f,g,h,i#m",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(tx_sentinel_parse_url(bad[i], &s, plain, sizeof(plain), err,
						    sizeof(err)) < 0, "accepted %s", bad[i]);

	ck_assert_int_eq(tx_sentinel_url("redis://:pw@h:6379/3", "s1:1,s2:2", "m", out,
					 sizeof(out)), 0);
	ck_assert_str_eq(out, "redis-sentinel://:pw@s1:1,s2:2/3#m");
	ck_assert_int_eq(tx_sentinel_url(NULL, "s1", "m", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "redis-sentinel://s1#m");
	ck_assert_int_lt(tx_sentinel_url("http://h", "s1", "m", out, sizeof(out)), 0);
	ck_assert_int_lt(tx_sentinel_url(NULL, "s1", "m", out, 12), 0);

	struct tx_redis *r = tx_redis_new("redis-sentinel://:pw@h:1/3#m", "p:", 100, err,
					  sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(tx_redis_prefix(r), "p:");
	tx_redis_free(r);
	ck_assert_ptr_null(tx_redis_new("redis-sentinel://h:1", "", 100, err, sizeof(err)));
}
END_TEST

START_TEST(config_builds_the_sentinel_url)
{
	struct tx_config c;
	char err[256];
	setenv("REDIS_URL", "redis://:secret@ignored:1/4", 1);
	setenv("REDIS_SENTINELS", "10.0.0.1:26379,10.0.0.2", 1);
	setenv("REDIS_MASTER_NAME", "ticketing", 1);
	setenv("REDIS_WAIT_REPLICAS", "1", 1);
	ck_assert_msg(tx_config_load_flags(&c, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(c.redis_url,
			 "redis-sentinel://:secret@10.0.0.1:26379,10.0.0.2/4#ticketing");
	ck_assert_int_eq(c.redis_wait_replicas, 1);
	ck_assert_int_eq(c.redis_wait_timeout_ms, 1000);
	unsetenv("REDIS_MASTER_NAME");
	unsetenv("REDIS_URL");
	ck_assert_int_eq(tx_config_load_flags(&c, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)), 0);
	ck_assert_str_eq(c.redis_url, "redis-sentinel://10.0.0.1:26379,10.0.0.2#mymaster");
	setenv("REDIS_SENTINELS", "10.0.0.1:99999", 1);
	ck_assert_int_lt(tx_config_load_flags(&c, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "REDIS_SENTINELS"));
	unsetenv("REDIS_SENTINELS");
	setenv("REDIS_WAIT_REPLICAS", "17", 1);
	ck_assert_int_lt(tx_config_load_flags(&c, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)), 0);
	unsetenv("REDIS_WAIT_REPLICAS");
	ck_assert_int_eq(tx_config_load_flags(&c, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)), 0);
	ck_assert_str_eq(c.redis_url, "redis://127.0.0.1:6379/0");
	ck_assert_int_eq(c.redis_wait_replicas, 0);
}
END_TEST

/* ---- Redis through the sentinels ---------------------------------------------- */

/* The fixture's sentinel URL for master name (NULL: the fixture's), with
 * first (NULL: none) put before its sentinels. */
static void sentinel_url(char *out, size_t n, const char *first, const char *name)
{
	char list[512];
	snprintf(list, sizeof(list), "%s%s%s", first ? first : "", first ? "," : "",
		 env("TEST_SENTINELS"));
	ck_assert_int_eq(tx_sentinel_url(NULL, list, name ? name : env("TEST_REDIS_MASTER_NAME"),
					 out, n), 0);
}

static struct tx_redis *sentinel_redis(const char *first, const char *name)
{
	char url[768], err[256];
	sentinel_url(url, sizeof(url), first, name);
	struct tx_redis *r = tx_redis_new(url, "", 2000, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

/* A direct connection to "host:port" (the first sentinel if NULL). */
static redisContext *direct(const char *hostport)
{
	char hp[128];
	snprintf(hp, sizeof(hp), "%s", hostport ? hostport : env("TEST_SENTINELS"));
	hp[strcspn(hp, ",")] = '\0';
	char *colon = strrchr(hp, ':');
	ck_assert_ptr_nonnull(colon);
	*colon = '\0';
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout(hp, num(colon + 1), tv);
	ck_assert_msg(c && !c->err, "connect %s", hostport);
	redisSetTimeout(c, tv);
	return c;
}

/* The port the sentinels name as master now. */
static int sentinel_master_port(void)
{
	redisContext *c = direct(NULL);
	redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
				     env("TEST_REDIS_MASTER_NAME"));
	ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
	int port = num(r->element[1]->str);
	freeReplyObject(r);
	redisFree(c);
	return port;
}

/* "host:port" of the fixture node whose ROLE is role, into out. */
static void node_with_role(const char *role, char *out, size_t n)
{
	char nodes[256];
	snprintf(nodes, sizeof(nodes), "%s", env("TEST_REDIS_NODES"));
	for (char *save = NULL, *u = strtok_r(nodes, " ", &save); u;
	     u = strtok_r(NULL, " ", &save)) {
		char hp[128];
		snprintf(hp, sizeof(hp), "%s", u + strlen("redis://"));
		hp[strcspn(hp, "/")] = '\0';
		redisContext *c = direct(hp);
		redisReply *r = redisCommand(c, "ROLE");
		bool match = r && r->type == REDIS_REPLY_ARRAY &&
			     strcmp(r->element[0]->str, role) == 0;
		if (r)
			freeReplyObject(r);
		redisFree(c);
		if (match) {
			snprintf(out, n, "%s", hp);
			return;
		}
	}
	ck_abort_msg("no fixture node is a %s", role);
}

/* The port of the server r is connected to (a command on r). */
static int connected_port(struct tx_redis *r)
{
	const char *argv[] = { "CONFIG", "GET", "port" };
	redisReply *rep = tx_redis_cmd(r, 3, argv, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2, "%s",
		      tx_redis_error(r));
	int port = num(rep->element[1]->str);
	freeReplyObject(rep);
	return port;
}

static const char *role_of(struct tx_redis *r, char *out, size_t n)
{
	const char *argv[] = { "ROLE" };
	redisReply *rep = tx_redis_cmd(r, 1, argv, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_ARRAY, "%s", tx_redis_error(r));
	snprintf(out, n, "%s", rep->element[0]->str);
	freeReplyObject(rep);
	return out;
}

/* A sentinel that does not answer (nothing listens on port 1) is skipped. */
START_TEST(sentinel_finds_the_master)
{
	struct tx_redis *r = sentinel_redis("127.0.0.1:1", NULL);
	char role[16];
	ck_assert_str_eq(role_of(r, role, sizeof(role)), "master");
	ck_assert_int_eq(connected_port(r), sentinel_master_port());
	const char *set[] = { "SET", "tx-failover-test", "v" };
	redisReply *rep = tx_redis_cmd(r, 3, set, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STATUS, "%s", tx_redis_error(r));
	freeReplyObject(rep);
	tx_redis_free(r);
}
END_TEST

START_TEST(sentinel_unknown_master_fails_fast)
{
	struct tx_redis *r = sentinel_redis(NULL, "no-such-master");
	double t0 = now_s();
	ck_assert_int_lt(tx_redis_connect(r), 0);
	ck_assert_msg(now_s() - t0 < 2.0, "took %.2f s", now_s() - t0);
	ck_assert_ptr_nonnull(strstr(tx_redis_error(r), "not found"));
	ck_assert_ptr_nonnull(strstr(tx_redis_error(r), "no master named no-such-master"));
	const char *ping[] = { "PING" };
	ck_assert_ptr_null(tx_redis_cmd(r, 1, ping, NULL));
	tx_redis_free(r);
}
END_TEST

/* A sentinel that names a replica (it has not seen a failover yet): the
 * ROLE check refuses it rather than writing to a replica. */
START_TEST(sentinel_naming_a_replica_is_refused)
{
	char replica[128], name[64], first[128];
	node_with_role("slave", replica, sizeof(replica));
	snprintf(name, sizeof(name), "stale%d", (int)getpid());
	redisContext *s = direct(NULL);
	char *colon = strrchr(replica, ':');
	redisReply *rep = redisCommand(s, "SENTINEL MONITOR %s 127.0.0.1 %s 2", name, colon + 1);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STATUS, "%s", rep ? rep->str : s->errstr);
	freeReplyObject(rep);

	snprintf(first, sizeof(first), "%s", env("TEST_SENTINELS"));
	first[strcspn(first, ",")] = '\0';
	char url[256], err[256];
	ck_assert_int_eq(tx_sentinel_url(NULL, first, name, url, sizeof(url)), 0);
	struct tx_redis *r = tx_redis_new(url, "", 2000, err, sizeof(err));
	ck_assert_int_lt(tx_redis_connect(r), 0);
	ck_assert_msg(strstr(tx_redis_error(r), "is not a master (slave)"), "%s",
		      tx_redis_error(r));
	tx_redis_free(r);
	rep = redisCommand(s, "SENTINEL REMOVE %s", name);
	freeReplyObject(rep);
	redisFree(s);
}
END_TEST

/* REDIS_URL's user and password reach the sentinels too: one that wants
 * a password (NOAUTH) gets AUTH with the program's ACL user, as the nodes
 * do; the user may run its commands (ROLE among them) and no others. */
START_TEST(sentinel_and_nodes_with_an_acl_user)
{
	char url[512], err[256], role[16];
	const char *acl = env("TEST_REDIS_ACL"), *name = env("TEST_REDIS_MASTER_NAME");
	const char *set[] = { "SET", "tx-failover-acl", "v" }, *get[] = { "GET", "tx-failover-acl" };
	snprintf(url, sizeof(url), "redis-sentinel://%s@%s/0#%s", acl,
		 env("TEST_AUTH_SENTINEL"), name);
	struct tx_redis *r = tx_redis_new(url, "", 2000, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	redisReply *rep = tx_redis_cmd(r, 3, set, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STATUS, "%s",
		      rep ? rep->str : tx_redis_error(r));
	freeReplyObject(rep);
	ck_assert_str_eq(role_of(r, role, sizeof(role)), "master");
	rep = tx_redis_cmd(r, 2, get, NULL); /* not one of fx-app's commands */
	ck_assert(tx_redis_is_error(rep, "NOPERM"));
	freeReplyObject(rep);
	tx_redis_free(r);

	snprintf(url, sizeof(url), "redis-sentinel://%s@%s/0#%s", acl, env("TEST_SENTINELS"), name);
	r = tx_redis_new(url, "", 2000, err, sizeof(err));
	rep = tx_redis_cmd(r, 3, set, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STATUS, "%s",
		      rep ? rep->str : tx_redis_error(r));
	freeReplyObject(rep);
	tx_redis_free(r);

	snprintf(url, sizeof(url), "redis-sentinel://fx-app:wrong@%s/0#%s",
		 env("TEST_AUTH_SENTINEL"), name);
	r = tx_redis_new(url, "", 2000, err, sizeof(err));
	ck_assert_int_lt(tx_redis_connect(r), 0);
	ck_assert_msg(strstr(tx_redis_error(r), "AUTH: WRONGPASS"), "%s", tx_redis_error(r));
	tx_redis_free(r);
}
END_TEST

/* READONLY (a write on a replica) drops the connection like a lost one. */
START_TEST(readonly_reply_drops_the_connection)
{
	char replica[128], url[160], err[256];
	node_with_role("slave", replica, sizeof(replica));
	snprintf(url, sizeof(url), "redis://%s/0", replica);
	struct tx_redis *r = tx_redis_new(url, "", 2000, err, sizeof(err));
	const char *set[] = { "SET", "tx-failover-test", "v" };
	ck_assert_ptr_null(tx_redis_cmd(r, 3, set, NULL));
	ck_assert_ptr_nonnull(strstr(tx_redis_error(r), "READONLY"));
	ck_assert(!tx_redis_connected(r));
	/* pipelined: the reply is a failure too, and the rest is dropped */
	const char *get[] = { "GET", "tx-failover-test" };
	ck_assert_int_eq(tx_redis_append(r, 3, set, NULL), 0);
	ck_assert_int_eq(tx_redis_append(r, 2, get, NULL), 0);
	ck_assert_ptr_null(tx_redis_get_reply(r));
	ck_assert_ptr_null(tx_redis_get_reply(r));
	ck_assert(!tx_redis_connected(r));
	redisReply *rep = tx_redis_cmd(r, 2, get, NULL); /* reads still work there */
	ck_assert_ptr_nonnull(rep);
	freeReplyObject(rep);
	tx_redis_free(r);
}
END_TEST

START_TEST(wait_counts_the_replicas)
{
	struct tx_redis *r = sentinel_redis(NULL, NULL);
	ck_assert_int_eq(tx_redis_wait(r, 1, 100), -1); /* not connected */
	const char *xadd[] = { "XADD", "tx-failover-stream", "MAXLEN", "100", "*", "k", "v" };
	redisReply *rep = tx_redis_cmd(r, 7, xadd, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STRING, "%s", tx_redis_error(r));
	freeReplyObject(rep);
	ck_assert_int_eq(tx_redis_wait(r, 1, 2000), 1);
	double t0 = now_s();
	ck_assert_int_eq(tx_redis_wait(r, 2, 200), 1); /* there is one replica */
	ck_assert_msg(now_s() - t0 >= 0.15, "WAIT 2 came back in %.3f s", now_s() - t0);
	tx_redis_free(r);
}
END_TEST

/* The relay, with REDIS_WAIT_REPLICAS=1 and a real replica, publishes; with
 * 2 (one replica exists), it must not: the rows stay unpublished. */
START_TEST(relay_waits_for_the_replica)
{
	const char *db = env("TEST_DATABASE_URL");
	char url[768], err[256], schema[64], sql[512];
	sentinel_url(url, sizeof(url), NULL, NULL);
	snprintf(schema, sizeof(schema), "evtest_f%d", (int)getpid());
	PGconn *pg = PQconnectdb(db);
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "SET client_min_messages = warning; "
		 "DROP SCHEMA IF EXISTS %s CASCADE; "
		 "SELECT public.tx_create_event_tables('%s', 'postgres'); "
		 "INSERT INTO %s.outbox (subject, data) VALUES ('ev:f', '{}')",
		 schema, schema, schema);
	PQclear(PQexec(pg, sql));
	struct tx_config cfg = { .redis_url = url, .redis_prefix = "txf:",
				 .outbox_retention_s = 3600, .redis_wait_replicas = 2,
				 .redis_wait_timeout_ms = 100 };
	struct tx_relay *rl = tx_relay_new_test(&cfg, schema, db, err, sizeof(err));
	ck_assert_msg(rl != NULL, "%s", err);
	size_t n = 0;
	ck_assert_int_eq(tx_relay_publish(rl, &n), -TX_E_UNAVAILABLE);
	ck_assert_msg(strstr(tx_relay_error(rl), "WAIT: 1 of 2 replicas"), "%s",
		      tx_relay_error(rl));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.outbox WHERE published_at IS NULL",
		 schema);
	PGresult *res = PQexec(pg, sql);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	cfg.redis_wait_replicas = 1;
	ck_assert_msg(tx_relay_publish(rl, &n) == 0, "%s", tx_relay_error(rl));
	ck_assert_uint_eq(n, 1);
	res = PQexec(pg, sql);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	tx_relay_free(rl);
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
	PQclear(PQexec(pg, sql));
	PQfinish(pg);
	struct tx_redis *r = sentinel_redis(NULL, NULL);
	const char *del[] = { "DEL", "txf:ev:f" };
	redisReply *rep = tx_redis_cmd(r, 2, del, NULL);
	ck_assert_int_eq(rep->integer, 1);
	freeReplyObject(rep);
	tx_redis_free(r);
}
END_TEST

/* Ask a sentinel for a failover (what it does when the master dies, minus
 * the wait); retried while one is in progress. */
static void sentinel_failover(void)
{
	redisContext *s = direct(NULL);
	for (int i = 0; i < 100; i++) {
		redisReply *rep = redisCommand(s, "SENTINEL FAILOVER %s",
					       env("TEST_REDIS_MASTER_NAME"));
		bool ok = rep && rep->type == REDIS_REPLY_STATUS;
		if (rep)
			freeReplyObject(rep);
		if (ok)
			break;
		usleep(100000);
	}
	redisFree(s);
}

/* Until the old master is a replica of the new one: the pair is whole. */
static void wait_whole(int old_port)
{
	char hp[64], role[16] = "";
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", old_port);
	for (int i = 0; i < 150 && strcmp(role, "slave") != 0; i++) {
		redisContext *c = direct(hp);
		redisReply *r = redisCommand(c, "ROLE");
		if (r && r->type == REDIS_REPLY_ARRAY)
			snprintf(role, sizeof(role), "%s", r->element[0]->str);
		if (r)
			freeReplyObject(r);
		redisFree(c);
		usleep(100000);
	}
	ck_assert_str_eq(role, "slave");
}

/* A failover: a client in use loses a few commands and finds the new
 * master by itself; a client that sat idle meanwhile checks with the
 * sentinels before its next command, so that command already goes to the
 * new master (without the check it would hit the old one, a replica by
 * then, with READONLY). */
START_TEST(clients_follow_a_failover)
{
	struct tx_redis *busy = sentinel_redis(NULL, NULL), *idle = sentinel_redis(NULL, NULL);
	int old = connected_port(busy);
	ck_assert_int_eq(connected_port(idle), old);
	const char *set[] = { "SET", "tx-failover-test", "v" };
	double t0 = now_s();
	sentinel_failover();
	int failed = 0, port = old;
	while (now_s() - t0 < 20) {
		redisReply *rep = tx_redis_cmd(busy, 3, set, NULL);
		if (rep && rep->type == REDIS_REPLY_STATUS && (port = connected_port(busy)) != old) {
			freeReplyObject(rep);
			break;
		}
		failed += rep == NULL;
		if (rep)
			freeReplyObject(rep);
		usleep(20000);
	}
	ck_assert_msg(port != old, "still on %d after %.1f s", old, now_s() - t0);
	ck_assert_int_eq(port, sentinel_master_port());
	char role[16];
	ck_assert_str_eq(role_of(busy, role, sizeof(role)), "master");
	fprintf(stderr, "failover: new master after %.2f s, %d commands failed\n",
		now_s() - t0, failed);

	wait_whole(old);
	sleep(1); /* idle past the check interval */
	redisReply *rep = tx_redis_cmd(idle, 3, set, NULL);
	ck_assert_msg(rep && rep->type == REDIS_REPLY_STATUS, "idle client: %s",
		      rep ? rep->str : tx_redis_error(idle));
	freeReplyObject(rep);
	ck_assert_int_eq(connected_port(idle), port);
	tx_redis_free(busy);
	tx_redis_free(idle);
}
END_TEST

/* ---- Postgres: several hosts in the conninfo --------------------------------- */

TX_STMT(SQL_IN_RECOVERY, 0, "SELECT pg_is_in_recovery()::text, current_setting('port')");
TX_STMT(SQL_FO_INSERT, 1, "INSERT INTO public.tx_failover_test (v) VALUES ($1)");
TX_STMT(SQL_FO_COUNT, 1, "SELECT count(*) FROM public.tx_failover_test WHERE v = $1");

static struct tx_ctx ctx;

static void ctx_open(const char *conninfo)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = tx_arena_new(0);
	ctx.db = tx_db_new(conninfo);
	ctx.request_id = "test-failover";
}

static void ctx_close(void)
{
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
}

/* The fixture's ports, the standby's first (or the primary's). */
static void pg_ports(int *primary, int *standby)
{
	int p[2];
	char *second;
	p[0] = (int)strtol(env("TEST_PG_PORTS"), &second, 10);
	p[1] = num(second);
	for (int i = 0; i < 2; i++) {
		char info[512];
		snprintf(info, sizeof(info), "host=%s port=%d dbname=postgres user=postgres "
			 "target_session_attrs=any", env("TEST_PG_HOST"), p[i]);
		PGconn *c = PQconnectdb(info);
		PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
		bool rec = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		*(rec ? standby : primary) = p[i];
		PQclear(r);
		PQfinish(c);
	}
}

static void pair_conninfo(char *out, size_t n, int first, int second, const char *extra)
{
	snprintf(out, n, "host=%s,%s port=%d,%d dbname=postgres user=postgres %s",
		 env("TEST_PG_HOST"), env("TEST_PG_HOST"), first, second, extra);
}

static const char *in_recovery(PGresult **r)
{
	ck_assert_msg(tx_db_exec(&ctx, &SQL_IN_RECOVERY, NULL, r) == 0, "%s", ctx.db_error);
	return PQgetvalue(*r, 0, 0);
}

/* The standby listed first: the session is still on the primary (our
 * default target_session_attrs=read-write). */
START_TEST(pg_conninfo_finds_the_primary)
{
	int primary = 0, standby = 0;
	char info[512];
	PGresult *r;
	pg_ports(&primary, &standby);
	pair_conninfo(info, sizeof(info), standby, primary, "");
	ctx_open(info);
	ck_assert_str_eq(in_recovery(&r), "false");
	ck_assert_int_eq(num(PQgetvalue(r, 0, 1)), primary);
	ctx_close();
}
END_TEST

/* A session that ends up on a server that takes no writes (the conninfo
 * allows any): 503 with 25006, never 500. */
START_TEST(pg_write_on_a_standby_is_unavailable)
{
	int primary = 0, standby = 0;
	char info[512];
	PGresult *r;
	pg_ports(&primary, &standby);
	pair_conninfo(info, sizeof(info), primary, primary, "");
	ctx_open(info);
	ck_assert_int_eq(tx_db_exec_script(ctx.db, "CREATE TABLE IF NOT EXISTS "
					   "public.tx_failover_test (v text)"), 0);
	ctx_close();
	pair_conninfo(info, sizeof(info), standby, standby, "target_session_attrs=any");
	ctx_open(info);
	ck_assert_str_eq(in_recovery(&r), "true");
	for (int i = 0; i < 100; i++) { /* until the table has replicated */
		int rc = tx_db_exec(&ctx, &SQL_FO_INSERT, (const char *const[]){ "x" }, NULL);
		if (strcmp(tx_db_sqlstate(ctx.db), "42P01") != 0) {
			ck_assert_int_eq(rc, -TX_E_UNAVAILABLE);
			break;
		}
		usleep(50000);
	}
	ck_assert_str_eq(tx_db_sqlstate(ctx.db), "25006");
	ctx_close();
}
END_TEST

/* A failover under a connected client: the primary stops (immediate),
 * the standby is promoted (TEST_FAILOVER_CTL). The next write goes to the
 * new primary on a new connection, at once. */
START_TEST(pg_client_follows_a_promotion)
{
	int primary = 0, standby = 0;
	char info[512], tag[48];
	PGresult *r;
	pg_ports(&primary, &standby);
	pair_conninfo(info, sizeof(info), primary, standby, "");
	ctx_open(info);
	ck_assert_int_eq(tx_db_exec_script(ctx.db, "CREATE TABLE IF NOT EXISTS "
					   "public.tx_failover_test (v text)"), 0);
	ck_assert_str_eq(in_recovery(&r), "false");
	ck_assert_int_eq(num(PQgetvalue(r, 0, 1)), primary);
	tx_arena_reset(ctx.arena);
	ck_assert_int_eq(system(env("TEST_FAILOVER_CTL")), 0);
	snprintf(tag, sizeof(tag), "promo-%d-%ld", (int)getpid(), (long)time(NULL));
	ck_assert_msg(tx_db_exec(&ctx, &SQL_FO_INSERT, (const char *const[]){ tag }, NULL) == 0,
		      "%s", ctx.db_error);
	ck_assert_str_eq(in_recovery(&r), "false");
	ck_assert_int_eq(num(PQgetvalue(r, 0, 1)), standby);
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_FO_COUNT, (const char *const[]){ tag }, &r), 0);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	ctx_close();
}
END_TEST

Suite *suite_failover(void)
{
	Suite *s = suite_create("failover");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, sentinel_url_forms);
	tcase_add_test(tc, config_builds_the_sentinel_url);
	suite_add_tcase(s, tc);

	tc = tcase_create("redis");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sentinel_finds_the_master);
	tcase_add_test(tc, sentinel_unknown_master_fails_fast);
	tcase_add_test(tc, sentinel_naming_a_replica_is_refused);
	tcase_add_test(tc, sentinel_and_nodes_with_an_acl_user);
	tcase_add_test(tc, readonly_reply_drops_the_connection);
	tcase_add_test(tc, wait_counts_the_replicas);
	tcase_add_test(tc, relay_waits_for_the_replica);
	tcase_add_test(tc, clients_follow_a_failover);
	suite_add_tcase(s, tc);

	tc = tcase_create("postgres");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pg_conninfo_finds_the_primary);
	tcase_add_test(tc, pg_write_on_a_standby_is_unavailable);
	tcase_add_test(tc, pg_client_follows_a_promotion);
	suite_add_tcase(s, tc);
	return s;
}
