/* test_expiration.c: the expiration clock (listener, move script, several
 * schedulers at once) and the orders sweeper, against real Redis and
 * Postgres (TEST_REDIS_URL, TEST_DATABASE_URL). Each test has its own
 * Redis prefix; the sweeper tests use the real orders schema with rows of
 * their own. */
#include "core/arena.h"
#include "core/config.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/http.h"
#include "core/log.h"
#include "core/redis.h"
#include "expiration/expiration.h"
#include "orders/orders.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tx_config cfg;
static char prefix[64];
static struct tx_redis *rd; /* with the test's prefix */
static struct expiration_keys keys;
static int seq;

static void setup(void)
{
	const char *ru = getenv("TEST_REDIS_URL");
	char err[128];
	ck_assert_msg(ru && *ru, "TEST_REDIS_URL must be set");
	snprintf(prefix, sizeof(prefix), "te%d-%d:", (int)getpid(), ++seq);
	memset(&cfg, 0, sizeof(cfg));
	cfg.redis_url = ru;
	cfg.redis_prefix = prefix;
	cfg.ack_wait_ms = 200;
	cfg.max_deliveries = 3;
	cfg.stream_retention_s = 86400;
	cfg.expiration_grace_s = 30;
	rd = tx_redis_new(ru, prefix, 5000, err, sizeof(err));
	ck_assert_msg(rd && tx_redis_connect(rd) == 0, "redis: %s", err);
	ck_assert_int_eq(expiration_keys(rd, &keys), 0);
}

static redisReply *rcmd(int argc, const char **argv)
{
	redisReply *r = tx_redis_cmd(rd, argc, argv, NULL);
	ck_assert_msg(r != NULL, "redis: %s", tx_redis_error(rd));
	return r;
}

static long long rint_(int argc, const char **argv)
{
	redisReply *r = rcmd(argc, argv);
	ck_assert_msg(r->type == REDIS_REPLY_INTEGER, "%s: not an integer", argv[0]);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

static void teardown(void)
{
	char pat[80];
	if (!rd)
		return;
	snprintf(pat, sizeof(pat), "%s*", prefix);
	const char *ks[] = { "KEYS", pat };
	redisReply *r = rcmd(2, ks);
	for (size_t i = 0; i < r->elements; i++) {
		const char *del[] = { "DEL", r->element[i]->str };
		freeReplyObject(rcmd(2, del));
	}
	freeReplyObject(r);
	tx_redis_free(rd);
	rd = NULL;
}

static void uuid(char out[37])
{
	unsigned char b[16];
	FILE *f = fopen("/dev/urandom", "rb");
	ck_assert(f && fread(b, 1, 16, f) == 16);
	fclose(f);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static long long zcard(const char *key)
{
	const char *argv[] = { "ZCARD", key };
	return rint_(2, argv);
}

static long long xlen(void)
{
	const char *argv[] = { "XLEN", keys.stream };
	return rint_(2, argv);
}

static int64_t now_ms(void)
{
	return tx_now_us() / 1000;
}

/* ---- parsing and ids ------------------------------------------------------- */

START_TEST(parse_iso)
{
	static const struct {
		const char *s;
		int ok;
		int64_t ms;
	} cases[] = {
		{ "1970-01-01T00:00:00.000Z", 1, 0 },
		{ "2024-05-01T12:00:00.123Z", 1, 1714564800123LL },
		{ "2024-05-01T12:00:00Z", 1, 1714564800000LL },
		{ "2024-05-01T12:00:00.5Z", 1, 1714564800500LL },
		{ "2024-05-01T12:00:00.123456Z", 1, 1714564800123LL },
		{ "2024-05-01T12:00:00.123", 0, 0 },
		{ "2024-05-01T12:00:00.Z", 0, 0 },
		{ "2024-05-01 12:00:00Z", 0, 0 },
		{ "2024-13-01T12:00:00Z", 0, 0 },
		{ "2024-05-01T24:00:00Z", 0, 0 },
		{ "alskdjf", 0, 0 },
		{ "", 0, 0 },
		{ "2024-05-01T12:00:00.123Zx", 0, 0 },
		{ "+2024-05-01T12:00:00Z", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -1;
		int rc = expiration_parse_iso(cases[i].s, &ms);
		ck_assert_msg((rc == 0) == cases[i].ok, "%s", cases[i].s);
		if (cases[i].ok)
			ck_assert_msg(ms == cases[i].ms, "%s: %lld", cases[i].s, (long long)ms);
	}
}
END_TEST

START_TEST(keys_share_a_slot_tag)
{
	/* The stream is the subject; the sets hash on the stream's whole key. */
	char want[256];
	snprintf(want, sizeof(want), "%sexpiration:complete", prefix);
	ck_assert_str_eq(keys.stream, want);
	snprintf(want, sizeof(want), "%s{%sexpiration:complete}:due", prefix, prefix);
	ck_assert_str_eq(keys.due, want);
	snprintf(want, sizeof(want), "%s{%sexpiration:complete}:seen", prefix, prefix);
	ck_assert_str_eq(keys.seen, want);
}
END_TEST

/* ---- scheduling ---------------------------------------------------------------- */

START_TEST(schedule_once_per_event)
{
	char ev[37], ev2[37], order[37], err[128];
	uuid(ev);
	uuid(ev2);
	uuid(order);
	int64_t due = now_ms() + 60000;
	ck_assert_int_eq(expiration_schedule(rd, &cfg, ev, order, due, err, sizeof(err)), 1);
	ck_assert_int_eq(expiration_schedule(rd, &cfg, ev, order, due + 5, err, sizeof(err)), 0);
	/* Another event for the same order keeps the first due time. */
	ck_assert_int_eq(expiration_schedule(rd, &cfg, ev2, order, due + 9, err, sizeof(err)), 1);
	ck_assert_int_eq(zcard(keys.due), 1);
	const char *argv[] = { "ZSCORE", keys.due, order };
	redisReply *r = rcmd(3, argv);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_int_eq(strtoll(r->str, NULL, 10), due);
	freeReplyObject(r);
}
END_TEST

/* Move everything due now; the total moved. */
static long drain(struct expiration_scheduler *s)
{
	long total = 0;
	int moved, wait;
	do {
		ck_assert_int_eq(expiration_scheduler_tick(s, &moved, &wait), 0);
		total += moved;
	} while (moved == EXPIRATION_BATCH);
	return total;
}

static struct expiration_scheduler *scheduler(void)
{
	char err[128];
	struct expiration_scheduler *s = expiration_scheduler_new(&cfg, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

START_TEST(move_publishes_due_only)
{
	char order[3][37], err[128], ev[37], late[37];
	for (int i = 0; i < 3; i++) {
		uuid(order[i]);
		uuid(ev);
		ck_assert_int_eq(expiration_schedule(rd, &cfg, ev, order[i], now_ms() - 10 * i,
						     err, sizeof(err)), 1);
	}
	uuid(late);
	uuid(ev);
	expiration_schedule(rd, &cfg, ev, late, now_ms() + 60, err, sizeof(err));
	struct expiration_scheduler *s = scheduler();
	int moved, wait;
	ck_assert_int_eq(expiration_scheduler_tick(s, &moved, &wait), 0);
	ck_assert_int_eq(moved, 3);
	ck_assert_msg(wait > 0 && wait <= 60, "wait %d", wait);
	ck_assert_int_eq(zcard(keys.due), 1);
	/* Each entry: id = the order's v5 id, data = {"orderId": ...}. */
	const char *argv[] = { "XRANGE", keys.stream, "-", "+" };
	redisReply *r = rcmd(4, argv);
	ck_assert_int_eq(r->elements, 3);
	for (size_t i = 0; i < 3; i++) {
		redisReply *f = r->element[i]->element[1];
		char data[160], id[37];
		ck_assert_int_eq(f->elements, 4);
		ck_assert_str_eq(f->element[0]->str, "id");
		ck_assert_str_eq(f->element[2]->str, "data");
		int found = 0;
		for (int j = 0; j < 3; j++) {
			snprintf(data, sizeof(data), "{\"orderId\":\"%s\"}", order[j]);
			if (strcmp(f->element[3]->str, data) == 0) {
				expiration_event_id(order[j], id);
				ck_assert_str_eq(f->element[1]->str, id);
				ck_assert_int_eq(id[14], '5');
				found = 1;
			}
		}
		ck_assert_msg(found, "unexpected entry %s", f->element[3]->str);
	}
	freeReplyObject(r);
	/* Nothing more until the late one is due, then it goes too. */
	ck_assert_int_eq(drain(s), 0);
	usleep(80 * 1000);
	ck_assert_int_eq(drain(s), 1);
	ck_assert_int_eq(expiration_scheduler_tick(s, &moved, &wait), 0);
	ck_assert_int_eq(wait, EXPIRATION_MAX_SLEEP_MS);
	ck_assert_int_eq(xlen(), 4);
	expiration_scheduler_free(s);
}
END_TEST

START_TEST(move_survives_script_flush)
{
	char order[37], ev[37], err[128];
	uuid(order);
	uuid(ev);
	expiration_schedule(rd, &cfg, ev, order, now_ms() - 1, err, sizeof(err));
	const char *flush[] = { "SCRIPT", "FLUSH" };
	freeReplyObject(rcmd(2, flush));
	struct expiration_scheduler *s = scheduler();
	ck_assert_int_eq(drain(s), 1);
	freeReplyObject(rcmd(2, flush));
	uuid(order);
	uuid(ev);
	ck_assert_int_eq(expiration_schedule(rd, &cfg, ev, order, now_ms() - 1, err,
					     sizeof(err)), 1);
	ck_assert_int_eq(drain(s), 1);
	expiration_scheduler_free(s);
}
END_TEST

/* ---- the listener through the consumer runtime (Redis-only group) ------------ */

static void add_order_created(const char *ev, const char *order, int64_t due_ms)
{
	char k[128], data[256], iso[40];
	time_t t = (time_t)(due_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(data, sizeof(data), "{\"id\":\"%s\",\"version\":0,\"status\":\"created\","
		 "\"expiresAt\":\"%s.%03dZ\",\"ticket\":{\"id\":\"x\",\"price\":1}}",
		 order, iso, (int)(due_ms % 1000));
	snprintf(k, sizeof(k), "%sorder:created", prefix);
	const char *argv[] = { "XADD", k, "*", "id", ev, "data", data };
	freeReplyObject(rcmd(7, argv));
}

static struct tx_consumer *expiration_consumer(void)
{
	char err[256];
	struct tx_consumer *c = tx_consumer_new(&cfg, "expiration-service",
						expiration_listeners,
						expiration_nlisteners, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(listener_schedules_once)
{
	char ev[37], order[37];
	uuid(ev);
	uuid(order);
	int64_t due = now_ms() - 5; /* already due */
	struct tx_consumer *c = expiration_consumer();
	add_order_created(ev, order, due);
	ck_assert_int_eq(tx_consumer_poll(c, 50), 1);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 1);
	ck_assert_int_eq(zcard(keys.due), 1);
	struct expiration_scheduler *s = scheduler();
	ck_assert_int_eq(drain(s), 1);
	/* The same event again (a redelivery) after the expiry fired: acked,
	 * nothing scheduled, nothing published twice. */
	add_order_created(ev, order, due);
	ck_assert_int_eq(tx_consumer_poll(c, 50), 1);
	ck_assert_int_eq(zcard(keys.due), 0);
	ck_assert_int_eq(drain(s), 0);
	ck_assert_int_eq(xlen(), 1);
	/* Malformed: not applied, left pending. */
	uuid(ev);
	add_order_created(ev, "not-a-uuid", due);
	tx_consumer_poll(c, 50);
	ck_assert_int_eq(tx_consumer_stats(c)->failed, 1);
	expiration_scheduler_free(s);
	tx_consumer_free(c);
}
END_TEST

/* ---- several schedulers at once ------------------------------------------------ */

#define MANY 3000
#define THREADS 4

static void *drain_thread(void *arg)
{
	long *moved = arg;
	char err[128];
	struct expiration_scheduler *s = expiration_scheduler_new(&cfg, err, sizeof(err));
	int m, wait;
	*moved = 0;
	while (s && expiration_scheduler_tick(s, &m, &wait) == 0 && (m || wait == 0))
		*moved += m;
	expiration_scheduler_free(s);
	return NULL;
}

START_TEST(concurrent_schedulers_publish_each_once)
{
	char order[37];
	int64_t due = now_ms() - 1;
	char score[24];
	snprintf(score, sizeof(score), "%lld", (long long)due);
	for (int i = 0; i < MANY; i++) {
		uuid(order);
		const char *argv[] = { "ZADD", keys.due, score, order };
		ck_assert_int_eq(tx_redis_append(rd, 4, argv, NULL), 0);
	}
	for (int i = 0; i < MANY; i++)
		freeReplyObject(tx_redis_get_reply(rd));
	ck_assert_int_eq(zcard(keys.due), MANY);
	pthread_t t[THREADS];
	long moved[THREADS], total = 0;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, drain_thread, &moved[i]);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += moved[i];
	}
	ck_assert_int_eq(total, MANY);
	ck_assert_int_eq(zcard(keys.due), 0);
	ck_assert_int_eq(xlen(), MANY);
	/* Distinct ids: count them in a set. */
	const char *argv[] = { "XRANGE", keys.stream, "-", "+" };
	redisReply *r = rcmd(4, argv);
	char set[128];
	snprintf(set, sizeof(set), "%sids", prefix);
	for (size_t i = 0; i < r->elements; i++) {
		const char *sadd[] = { "SADD", set, r->element[i]->element[1]->element[1]->str };
		tx_redis_append(rd, 3, sadd, NULL);
	}
	for (size_t i = 0; i < r->elements; i++)
		freeReplyObject(tx_redis_get_reply(rd));
	freeReplyObject(r);
	const char *scard[] = { "SCARD", set };
	ck_assert_int_eq(rint_(2, scard), MANY);
}
END_TEST

/* ---- the sweeper ------------------------------------------------------------------ */

static PGconn *pg;
static struct tx_ctx sctx;

static void sweeper_setup(void)
{
	const char *db = getenv("TEST_DATABASE_URL");
	ck_assert_msg(db && *db, "TEST_DATABASE_URL must be set");
	pg = PQconnectdb(db);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
	memset(&sctx, 0, sizeof(sctx));
	sctx.cfg = &cfg;
	sctx.arena = tx_arena_new(16 << 10);
	sctx.db = tx_db_new(db);
	sctx.request_id = "test";
}

static void sweeper_teardown(void)
{
	if (pg)
		PQfinish(pg);
	pg = NULL;
	tx_db_free(sctx.db);
	if (sctx.arena)
		tx_arena_free(sctx.arena);
	memset(&sctx, 0, sizeof(sctx));
}

static char *q1(const char *sql, const char *p1)
{
	static char out[128];
	const char *params[] = { p1 };
	PGresult *r = PQexecParams(pg, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(pg));
	snprintf(out, sizeof(out), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return out;
}

/* An order of a ticket of its own, with status and expires_at = now +
 * offset seconds; its id into id. */
static void seed_order(const char *status, const char *offset_s, char id[37])
{
	char ticket[37];
	uuid(ticket);
	uuid(id);
	const char *p[] = { ticket, id, status, offset_s };
	PGresult *r = PQexecParams(pg,
		"WITH t AS (INSERT INTO orders.tickets (id, title, price_cents, version) "
		"VALUES ($1, 'sweep', 100, 1) RETURNING id) "
		"INSERT INTO orders.orders (id, user_id, status, expires_at, ticket_id) "
		"SELECT $2, gen_random_uuid(), $3, now() + make_interval(secs => $4), id "
		"FROM t", 4, NULL, p, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
	PQclear(r);
	/* payments' replica, so that its order:cancelled listener has one. */
	if (strcmp(q1("SELECT to_regclass('payments.orders') IS NOT NULL", NULL), "t") == 0) {
		PGresult *pr = PQexecParams(pg,
			"INSERT INTO payments.orders (id, version, user_id, price_cents, status) "
			"SELECT id, version, user_id, 100, status FROM orders.orders "
			"WHERE id = $1", 1, NULL, (const char *const[]){ id }, NULL, NULL, 0);
		PQclear(pr);
	}
}

static const char *status_of(const char *id)
{
	return q1("SELECT status || ' v' || version FROM orders.orders WHERE id = $1", id);
}

static long cancelled_events(const char *id)
{
	return strtol(q1("SELECT count(*) FROM orders.outbox WHERE subject = "
			 "'order:cancelled' AND (data->>'id')::uuid = $1", id), NULL, 10);
}

static void sweep_until_done(void)
{
	int n = 0;
	do {
		ck_assert_int_eq(orders_sweep(&sctx, 30, 2, &n), 0);
		tx_arena_reset(sctx.arena);
	} while (n == 2);
}

START_TEST(sweeper_cancels_only_overdue_created)
{
	char overdue[37], overdue2[37], graced[37], fresh[37], complete[37], gone[37];
	seed_order("created", "-3600", overdue);
	seed_order("created", "-31", overdue2);
	seed_order("created", "-5", graced); /* within the grace */
	seed_order("created", "600", fresh);
	seed_order("complete", "-3600", complete);
	seed_order("cancelled", "-3600", gone);
	sweep_until_done();
	/* Another worker's sweeper may have done it: the result is the same. */
	ck_assert_str_eq(status_of(overdue), "cancelled v1");
	ck_assert_str_eq(status_of(overdue2), "cancelled v1");
	ck_assert_str_eq(status_of(graced), "created v0");
	ck_assert_str_eq(status_of(fresh), "created v0");
	ck_assert_str_eq(status_of(complete), "complete v0");
	ck_assert_str_eq(status_of(gone), "cancelled v0");
	ck_assert_int_eq(cancelled_events(overdue), 1);
	ck_assert_int_eq(cancelled_events(overdue2), 1);
	ck_assert_int_eq(cancelled_events(complete), 0);
	ck_assert_int_eq(cancelled_events(gone), 0);
	/* The event is the listener's: id, version, ticket.id. */
	ck_assert_str_eq(q1("SELECT (data->>'version') || ' ' || (data->'ticket'->>'id' = "
			    "(SELECT ticket_id::text FROM orders.orders WHERE id = $1))::text "
			    "FROM orders.outbox WHERE subject = 'order:cancelled' "
			    "AND (data->>'id')::uuid = $1", overdue),
			 "1 true");
	/* Again: nothing more. */
	sweep_until_done();
	ck_assert_int_eq(cancelled_events(overdue), 1);
	/* Cleanup of the rows that would otherwise wait for a later sweep. */
	q1("UPDATE orders.orders SET status = 'cancelled' WHERE id = $1", graced);
	q1("UPDATE orders.orders SET status = 'cancelled' WHERE id = $1", fresh);
}
END_TEST

/* One sweep expires every order it picks, in one statement: each once,
 * with its own order:cancelled (version 1, its ticket). Grace 5 s and
 * orders 10 s overdue: the stack's own sweepers (grace 30 s) leave them
 * to this one. */
START_TEST(sweep_expires_its_whole_batch)
{
	char id[5][37];
	int n, total = 0;
	for (int i = 0; i < 5; i++)
		seed_order("created", "-10", id[i]);
	do {
		ck_assert_int_eq(orders_sweep(&sctx, 5, ORDERS_SWEEP_BATCH, &n), 0);
		tx_arena_reset(sctx.arena);
		total += n;
	} while (n == ORDERS_SWEEP_BATCH);
	ck_assert_int_ge(total, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_str_eq(status_of(id[i]), "cancelled v1");
		ck_assert_int_eq(cancelled_events(id[i]), 1);
		ck_assert_str_eq(q1("SELECT (data->>'version') || ' ' || (data->'ticket'->>'id' "
				    "= (SELECT ticket_id::text FROM orders.orders WHERE id = $1))"
				    "::text FROM orders.outbox WHERE subject = 'order:cancelled' "
				    "AND (data->>'id')::uuid = $1", id[i]),
				 "1 true");
	}
}
END_TEST

/* The expiry path itself: the listener's statement on each status. */
START_TEST(expire_is_the_listener_path)
{
	char created[37], complete[37], missing[37];
	seed_order("created", "600", created);
	seed_order("complete", "-1", complete);
	uuid(missing);
	ck_assert_int_eq(tx_db_begin(&sctx), 0);
	ck_assert_int_eq(orders_expire(&sctx, created), 0);
	ck_assert_int_eq(orders_expire(&sctx, created), 0); /* no second effect */
	ck_assert_int_eq(orders_expire(&sctx, complete), 0);
	ck_assert_int_eq(orders_expire(&sctx, missing), -TX_E_NOT_FOUND);
	ck_assert_int_eq(tx_db_commit(&sctx), 0);
	tx_arena_reset(sctx.arena);
	ck_assert_str_eq(status_of(created), "cancelled v1");
	ck_assert_str_eq(status_of(complete), "complete v0");
	ck_assert_int_eq(cancelled_events(created), 1);
	ck_assert_int_eq(cancelled_events(complete), 0);
}
END_TEST

Suite *suite_expiration(void)
{
	Suite *s = suite_create("expiration");
	TCase *tc = tcase_create("clock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_iso);
	tcase_add_test(tc, keys_share_a_slot_tag);
	tcase_add_test(tc, schedule_once_per_event);
	tcase_add_test(tc, move_publishes_due_only);
	tcase_add_test(tc, move_survives_script_flush);
	tcase_add_test(tc, listener_schedules_once);
	tcase_add_test(tc, concurrent_schedulers_publish_each_once);
	suite_add_tcase(s, tc);
	tc = tcase_create("sweeper");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, sweeper_setup, sweeper_teardown);
	tcase_add_test(tc, sweeper_cancels_only_overdue_created);
	tcase_add_test(tc, sweep_expires_its_whole_batch);
	tcase_add_test(tc, expire_is_the_listener_path);
	suite_add_tcase(s, tc);
	return s;
}
