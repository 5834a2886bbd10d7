/* test_consumer.c: the consumer runtime against real Postgres and Redis
 * (TEST_DATABASE_URL, TEST_REDIS_URL: the tests fail without them). Each
 * test has its own schema and Redis prefix (tests/unit/evtest.h). */
#include "core/arena.h"
#include "core/config.h"
#include "core/consumer.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/events.h"
#include "core/http.h"
#include "core/json.h"
#include "core/log.h"
#include "core/redis.h"
#include "evtest.h"
#include "tickets/tickets.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int calls, batch_calls;

static void exec_ok(const char *sql)
{
	evtest_exec(evt.pg, sql);
}

static long long q_int(const char *fmt, const char *arg)
{
	char sql[512];
	snprintf(sql, sizeof(sql), fmt, evt.schema, arg);
	PGresult *r = PQexec(evt.pg, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(evt.pg));
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void setup(void)
{
	evtest_setup('c');
	atomic_store(&calls, 0);
	atomic_store(&batch_calls, 0);
}

static void teardown(void)
{
	evtest_teardown();
}

static void key(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s%s", evt.prefix, name);
}

/* XADD an event as the relay would; returns the entry id in out. */
static void add_event(const char *subject, const char *id, const char *data,
		      char *out, size_t outlen)
{
	char k[128];
	key(k, sizeof(k), subject);
	const char *argv[] = { "XADD", k, "*", "id", id, "data", data };
	redisReply *r = evtest_rcmd(id ? 7 : 5, id ? argv : (const char *[]){ "XADD", k, "*", "data", data });
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	if (out)
		snprintf(out, outlen, "%s", r->str);
	freeReplyObject(r);
}

static void new_uuid(char *out, size_t n)
{
	PGresult *r = PQexec(evt.pg, "SELECT gen_random_uuid()");
	snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void add_mode(const char *mode, char *id, size_t idlen)
{
	char data[64], uuid[40];
	new_uuid(uuid, sizeof(uuid));
	snprintf(data, sizeof(data), "{\"mode\":\"%s\"}", mode);
	add_event("ev:a", uuid, data, NULL, 0);
	if (id)
		snprintf(id, idlen, "%s", uuid);
}

/* Writes an effect; mode "fail" fails, "retry" asks for a retry once,
 * "never" always asks for a retry. */
static int handler(struct tx_ctx *ctx, const struct tx_event *ev, char *err,
		   size_t errlen)
{
	int n = atomic_fetch_add(&calls, 1) + 1;
	const char *mode = tx_json_field_str(ctx->arena, ev->json, "mode", NULL);
	if (strcmp(mode, "fail") == 0 || strcmp(mode, "poison") == 0) {
		snprintf(err, errlen, "boom %d", n);
		return -TX_E_INTERNAL;
	}
	const char *p[] = { ev->id };
	int rc = tx_db_exec(ctx, &evt.st_effect, p, NULL);
	if (rc < 0)
		return rc;
	if (strcmp(mode, "never") == 0 || (strcmp(mode, "retry") == 0 && n == 1))
		return TX_EV_RETRY;
	return 0;
}

/* Batch mode: one set-based INSERT for the batch. Mode "fail" is refused
 * (no effect; it fails again alone), "poison" breaks the statement and
 * so the whole batch (it fails alone too). */
static char effects_sql[256];
static struct tx_stmt st_effects;

static int batch_handler(struct tx_ctx *ctx, const struct tx_event *evs, size_t n,
			 bool *ok, char *err, size_t errlen)
{
	const char **ids = tx_arena_alloc(ctx->arena, n * sizeof(*ids));
	size_t k = 0;
	bool poison = false;
	atomic_fetch_add(&batch_calls, 1);
	for (size_t i = 0; i < n; i++) {
		const char *mode = tx_json_field_str(ctx->arena, evs[i].json, "mode", NULL);
		ok[i] = strcmp(mode, "fail") != 0;
		poison |= strcmp(mode, "poison") == 0;
		if (ok[i])
			ids[k++] = evs[i].id;
	}
	const char *arr = poison ? "{poison}" : tx_db_uuid_array(ctx->arena, ids, k);
	int rc = tx_db_exec(ctx, &st_effects, (const char *const[]){ arr }, NULL);
	if (rc < 0)
		snprintf(err, errlen, "batch: %s", ctx->db_error);
	return rc;
}

static struct tx_listener listeners[2];

static struct tx_consumer *consumer(void)
{
	char err[256];
	listeners[0] = (struct tx_listener){ "ev:a", "g1", evt.schema, handler, NULL };
	listeners[1] = (struct tx_listener){ "ev:b", "g1", evt.schema, handler, NULL };
	struct tx_consumer *c = tx_consumer_new(&evt.cfg, "g1", listeners, 2, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* ev:a in batch mode, ev:b one at a time, in one group. */
static struct tx_consumer *batch_consumer(void)
{
	char err[256];
	snprintf(effects_sql, sizeof(effects_sql),
		 "INSERT INTO %s.effects (event_id) SELECT unnest($1::uuid[])", evt.schema);
	st_effects = (struct tx_stmt){ "effects", effects_sql, 1 };
	listeners[0] = (struct tx_listener){ "ev:a", "g1", evt.schema, handler, batch_handler };
	listeners[1] = (struct tx_listener){ "ev:b", "g1", evt.schema, handler, NULL };
	struct tx_consumer *c = tx_consumer_new(&evt.cfg, "g1", listeners, 2, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

#define POLL_UNTIL(c, cond, ms)                                            \
	do {                                                               \
		int64_t end_ = tx_now_us() + (int64_t)(ms) * 1000;         \
		while (!(cond) && tx_now_us() < end_)                      \
			tx_consumer_poll((c), 50);                         \
	} while (0)

static long long effects(void)
{
	return q_int("SELECT count(*) FROM %s.effects", "");
}

static long long pending_in(const char *subject, const char *group)
{
	char k[128];
	key(k, sizeof(k), subject);
	const char *argv[] = { "XPENDING", k, group };
	redisReply *r = evtest_rcmd(3, argv);
	long long n = r->type == REDIS_REPLY_ARRAY ? r->element[0]->integer : -1;
	freeReplyObject(r);
	return n;
}

static long long pending(const char *subject)
{
	return pending_in(subject, "g1");
}

static long long xlen(const char *name)
{
	char k[128];
	key(k, sizeof(k), name);
	const char *argv[] = { "XLEN", k };
	redisReply *r = evtest_rcmd(2, argv);
	long long n = r->integer;
	freeReplyObject(r);
	return n;
}

START_TEST(applied_once_and_acked)
{
	struct tx_consumer *c = consumer();
	char id[40];
	add_mode("ok", id, sizeof(id));
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 1, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 1);
	ck_assert_int_eq(effects(), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM %s.processed_events "
			       "WHERE event_id = '%s' AND group_name = 'g1'", id), 1);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_consumer_free(c);
}
END_TEST

START_TEST(duplicate_acked_without_effect)
{
	struct tx_consumer *c = consumer();
	char id[40];
	new_uuid(id, sizeof(id));
	add_event("ev:a", id, "{\"mode\":\"ok\"}", NULL, 0);
	add_event("ev:a", id, "{\"mode\":\"ok\"}", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->duplicates == 1, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 1);
	ck_assert_int_eq(tx_consumer_stats(c)->duplicates, 1);
	ck_assert_int_eq(effects(), 1);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_consumer_free(c);
}
END_TEST

START_TEST(retry_redelivered_after_ack_wait)
{
	struct tx_consumer *c = consumer();
	add_mode("retry", NULL, 0);
	int64_t start = tx_now_us();
	POLL_UNTIL(c, tx_consumer_stats(c)->retried == 1, 3000);
	ck_assert_int_eq(effects(), 0); /* rolled back */
	ck_assert_int_eq(pending("ev:a"), 1);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 1, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 1);
	ck_assert_int_ge(tx_now_us() - start, evt.cfg.ack_wait_ms * 1000);
	ck_assert_int_eq(atomic_load(&calls), 2);
	ck_assert_int_eq(effects(), 1);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_consumer_free(c);
}
END_TEST

/* The dead-letter entry's field name, or NULL. */
static const char *dl_field(const redisReply *entry, const char *name)
{
	const redisReply *f = entry->element[1];
	for (size_t i = 0; i + 1 < f->elements; i += 2)
		if (strcmp(f->element[i]->str, name) == 0)
			return f->element[i + 1]->str;
	return NULL;
}

static redisReply *dead_letters(void)
{
	char k[128];
	key(k, sizeof(k), "dead-letter");
	const char *argv[] = { "XRANGE", k, "-", "+" };
	return evtest_rcmd(4, argv);
}

START_TEST(failing_handler_dead_lettered)
{
	struct tx_consumer *c = consumer();
	char id[40], entry[64], k[128];
	new_uuid(id, sizeof(id));
	add_event("ev:a", id, "{\"mode\":\"fail\"}", entry, sizeof(entry));
	POLL_UNTIL(c, tx_consumer_stats(c)->dead == 1, 5000);
	ck_assert_int_eq(tx_consumer_stats(c)->dead, 1);
	ck_assert_int_eq(atomic_load(&calls), 3); /* MAX_DELIVERIES */
	redisReply *r = dead_letters();
	ck_assert_int_eq(r->elements, 1);
	ck_assert_str_eq(dl_field(r->element[0], "subject"), "ev:a");
	ck_assert_str_eq(dl_field(r->element[0], "group"), "g1");
	ck_assert_str_eq(dl_field(r->element[0], "id"), id);
	ck_assert_str_eq(dl_field(r->element[0], "data"), "{\"mode\":\"fail\"}");
	ck_assert_str_eq(dl_field(r->element[0], "error"), "boom 3");
	ck_assert_str_eq(dl_field(r->element[0], "entry"), entry);
	freeReplyObject(r);
	ck_assert_int_eq(pending("ev:a"), 0);
	ck_assert_int_eq(effects(), 0);
	key(k, sizeof(k), "event-errors:g1");
	const char *hlen[] = { "HLEN", k };
	r = evtest_rcmd(2, hlen);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	tx_consumer_free(c);
}
END_TEST

START_TEST(malformed_dead_lettered_at_once)
{
	struct tx_consumer *c = consumer();
	char id[40];
	new_uuid(id, sizeof(id));
	add_event("ev:a", id, "{not json", NULL, 0);
	add_event("ev:b", NULL, "{\"mode\":\"ok\"}", NULL, 0); /* no id */
	add_event("ev:b", "not-a-uuid", "{\"mode\":\"ok\"}", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->dead == 3, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->dead, 3);
	ck_assert_int_eq(atomic_load(&calls), 0);
	redisReply *r = dead_letters();
	ck_assert_int_eq(r->elements, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(strstr(dl_field(r->element[i], "error"), "malformed"));
	freeReplyObject(r);
	ck_assert_int_eq(pending("ev:a") + pending("ev:b"), 0);
	tx_consumer_free(c);
}
END_TEST

static void *consume_thread(void *arg)
{
	struct tx_consumer *c = arg;
	int64_t end = tx_now_us() + 15 * 1000000LL;
	while (atomic_load(&calls) < 200 && tx_now_us() < end)
		tx_consumer_poll(c, 50);
	return NULL;
}

START_TEST(two_consumers_share_a_group)
{
	struct tx_consumer *a = consumer(), *b = consumer();
	ck_assert_str_ne(tx_consumer_name(a), tx_consumer_name(b));
	tx_consumer_poll(a, 10); /* creates the group */
	tx_consumer_poll(b, 10);
	pthread_t ta, tb;
	pthread_create(&ta, NULL, consume_thread, a);
	pthread_create(&tb, NULL, consume_thread, b);
	for (int i = 0; i < 200; i++)
		add_mode("ok", NULL, 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	long sa = tx_consumer_stats(a)->applied, sb = tx_consumer_stats(b)->applied;
	ck_assert_int_eq(sa + sb, 200);
	ck_assert_int_eq(effects(), 200);
	ck_assert_int_eq(q_int("SELECT count(DISTINCT event_id) FROM %s.effects", ""), 200);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_log("info", "two consumers: %ld + %ld events", sa, sb);
	tx_consumer_free(a);
	tx_consumer_free(b);
}
END_TEST

START_TEST(restart_resumes_where_the_group_left_off)
{
	struct tx_consumer *c = consumer();
	for (int i = 0; i < 3; i++)
		add_mode("ok", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 3, 3000);
	tx_consumer_free(c);
	for (int i = 0; i < 2; i++)
		add_mode("ok", NULL, 0);
	c = consumer();
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 2, 3000);
	tx_consumer_poll(c, 300); /* nothing more comes */
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 2);
	ck_assert_int_eq(tx_consumer_stats(c)->duplicates, 0);
	ck_assert_int_eq(effects(), 5);
	tx_consumer_free(c);
}
END_TEST

static bool stream_has(const char *subject, const char *entry)
{
	char k[128];
	key(k, sizeof(k), subject);
	const char *argv[] = { "XRANGE", k, entry, entry };
	redisReply *r = evtest_rcmd(4, argv);
	bool has = r->elements == 1;
	freeReplyObject(r);
	return has;
}

START_TEST(trim_keeps_pending_entries)
{
	evt.cfg.stream_retention_s = 0; /* everything is old enough */
	evt.cfg.max_deliveries = 1000;
	struct tx_consumer *c = consumer();
	char entries[5][64], uuid[40], k[128];
	const char *modes[] = { "ok", "ok", "never", "ok", "ok" };
	for (int i = 0; i < 5; i++) {
		char data[64];
		new_uuid(uuid, sizeof(uuid));
		snprintf(data, sizeof(data), "{\"mode\":\"%s\"}", modes[i]);
		add_event("ev:a", uuid, data, entries[i], sizeof(entries[i]));
	}
	key(k, sizeof(k), "ev:a");
	const char *lag[] = { "XGROUP", "CREATE", k, "lagging", "0" };
	freeReplyObject(evtest_rcmd(5, lag));
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 4, 3000);
	ck_assert_int_eq(pending("ev:a"), 1);
	ck_assert_int_eq(tx_consumer_trim(c), 0);
	ck_assert_int_eq(xlen("ev:a"), 5); /* the lagging group needs them all */
	const char *destroy[] = { "XGROUP", "DESTROY", k, "lagging" };
	freeReplyObject(evtest_rcmd(4, destroy));
	ck_assert_int_eq(tx_consumer_trim(c), 0);
	ck_assert_int_eq(xlen("ev:a"), 3); /* from the pending entry on */
	ck_assert(stream_has("ev:a", entries[2]));
	ck_assert(!stream_has("ev:a", entries[1]));
	evt.cfg.stream_retention_s = 86400;
	ck_assert_int_eq(tx_consumer_trim(c), 0);
	ck_assert_int_eq(xlen("ev:a"), 3);
	tx_consumer_free(c);
}
END_TEST

START_TEST(group_recreated_after_redis_lost_it)
{
	struct tx_consumer *c = consumer();
	add_mode("ok", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 1, 3000);
	char k[128];
	key(k, sizeof(k), "ev:a");
	const char *del[] = { "DEL", k };
	freeReplyObject(evtest_rcmd(2, del)); /* a restart without persistence */
	tx_consumer_poll(c, 10);       /* NOGROUP */
	add_mode("ok", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 2, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 2);
	ck_assert_int_eq(effects(), 2);
	tx_consumer_free(c);
}
END_TEST

START_TEST(bad_listener_tables_rejected)
{
	char err[256];
	struct tx_listener bad[] = {
		{ "ev:a", "g1", "evtest_x; drop", handler, NULL },
	};
	ck_assert_ptr_null(tx_consumer_new(&evt.cfg, "g1", bad, 1, err, sizeof(err)));
	struct tx_listener mixed[] = {
		{ "ev:a", "g1", "tickets", handler, NULL },
		{ "ev:b", "g1", "orders", handler, NULL },
	};
	ck_assert_ptr_null(tx_consumer_new(&evt.cfg, "g1", mixed, 2, err, sizeof(err)));
	ck_assert_ptr_null(tx_consumer_new(&evt.cfg, "nobody", mixed, 2, err, sizeof(err)));
}
END_TEST

/* ---- batch mode ------------------------------------------------------------------- */

static void record_processed(const char *id)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "INSERT INTO %s.processed_events (event_id, group_name) "
		 "VALUES ('%s', 'g1')", evt.schema, id);
	exec_ok(sql);
}

/* New, already applied elsewhere, and delivered twice in the batch: one
 * transaction, one effect per event, everything acked. The single stream
 * of the group goes on one at a time beside it. */
START_TEST(batch_applies_once_with_duplicates)
{
	struct tx_consumer *c = batch_consumer();
	char a[40], b[40], old[40];
	add_mode("ok", a, sizeof(a));
	add_mode("ok", b, sizeof(b));
	new_uuid(old, sizeof(old));
	record_processed(old); /* applied by another consumer */
	add_event("ev:a", old, "{\"mode\":\"ok\"}", NULL, 0);
	add_event("ev:a", a, "{\"mode\":\"ok\"}", NULL, 0); /* the relay sent it twice */
	add_mode("ok", NULL, 0);
	add_event("ev:b", NULL, "{\"mode\":\"ok\"}", NULL, 0); /* malformed: no id */
	char single[40];
	new_uuid(single, sizeof(single));
	add_event("ev:b", single, "{\"mode\":\"ok\"}", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 4, 3000);
	const struct tx_consumer_stats *st = tx_consumer_stats(c);
	ck_assert_int_eq(st->applied, 4); /* a, b, the third, and the single */
	ck_assert_int_eq(st->duplicates, 2);
	ck_assert_int_eq(st->dead, 1);
	ck_assert_int_eq(st->batches, 1);
	ck_assert_int_eq(atomic_load(&batch_calls), 1);
	ck_assert_int_eq(atomic_load(&calls), 1); /* the single stream's event */
	ck_assert_int_eq(effects(), 4);
	ck_assert_int_eq(q_int("SELECT count(DISTINCT event_id) FROM %s.effects", ""), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM %s.effects WHERE event_id = '%s'", old), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM %s.processed_events", ""), 5);
	ck_assert_int_eq(pending("ev:a") + pending("ev:b"), 0);
	tx_consumer_free(c);
}
END_TEST

/* Dead letters and pending entries of ev:a. */
static void assert_dead_letter(const char *id, const char *error)
{
	redisReply *r = dead_letters();
	ck_assert_int_eq(r->elements, 1);
	ck_assert_str_eq(dl_field(r->element[0], "id"), id);
	ck_assert_str_eq(dl_field(r->element[0], "error"), error);
	freeReplyObject(r);
	ck_assert_int_eq(pending("ev:a"), 0);
}

/* An entry the batch refuses (no effect) is forgotten by the batch, which
 * commits the others; alone, it fails, is retried and dead-lettered. */
START_TEST(batch_refused_entry_fails_alone)
{
	struct tx_consumer *c = batch_consumer();
	char bad[40];
	add_mode("ok", NULL, 0);
	add_mode("fail", bad, sizeof(bad));
	add_mode("ok", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 2, 3000);
	ck_assert_int_eq(effects(), 2); /* committed before the refused one's retries */
	ck_assert_int_eq(tx_consumer_stats(c)->fallbacks, 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM %s.processed_events "
			       "WHERE event_id = '%s'", bad), 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->dead == 1, 5000);
	ck_assert_int_eq(tx_consumer_stats(c)->dead, 1);
	ck_assert_int_eq(atomic_load(&calls), 3); /* alone, MAX_DELIVERIES times */
	ck_assert_int_eq(atomic_load(&batch_calls), 1);
	assert_dead_letter(bad, "boom 3");
	ck_assert_int_eq(effects(), 2);
	tx_consumer_free(c);
}
END_TEST

/* A poison entry breaks the batch's statement: the batch rolls back and
 * every entry goes alone; the others commit, the poison is dead-lettered. */
START_TEST(batch_poison_rolls_back_then_one_by_one)
{
	struct tx_consumer *c = batch_consumer();
	char bad[40];
	for (int i = 0; i < 3; i++)
		add_mode("ok", NULL, 0);
	add_mode("poison", bad, sizeof(bad));
	add_mode("ok", NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 4, 3000);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, 4);
	ck_assert_int_eq(tx_consumer_stats(c)->fallbacks, 1);
	ck_assert_int_eq(effects(), 4);
	ck_assert_int_eq(pending("ev:a"), 1); /* the poison, waiting for its retry */
	POLL_UNTIL(c, tx_consumer_stats(c)->dead == 1, 5000);
	ck_assert_int_eq(tx_consumer_stats(c)->dead, 1);
	ck_assert_int_eq(atomic_load(&batch_calls), 1);
	ck_assert_int_eq(atomic_load(&calls), 4 + 3);
	assert_dead_letter(bad, "boom 7");
	ck_assert_int_eq(effects(), 4);
	ck_assert_int_eq(q_int("SELECT count(DISTINCT event_id) FROM %s.effects", ""), 4);
	tx_consumer_free(c);
}
END_TEST

/* A full read (TX_CONSUMER_COUNT) is topped up from the stream: one poll,
 * one transaction of TX_CONSUMER_BATCH events. */
START_TEST(batch_tops_up_a_full_read)
{
	struct tx_consumer *c = batch_consumer();
	for (int i = 0; i < TX_CONSUMER_BATCH + 10; i++)
		add_mode("ok", NULL, 0);
	ck_assert_int_eq(tx_consumer_poll(c, 50), TX_CONSUMER_BATCH);
	ck_assert_int_eq(tx_consumer_stats(c)->applied, TX_CONSUMER_BATCH);
	ck_assert_int_eq(tx_consumer_stats(c)->batches, 1);
	ck_assert_int_eq(effects(), TX_CONSUMER_BATCH);
	ck_assert_int_eq(tx_consumer_poll(c, 50), 10);
	ck_assert_int_eq(effects(), TX_CONSUMER_BATCH + 10);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_consumer_free(c);
}
END_TEST

/* A consumer that died holding a whole batch: one reclaim pass takes a
 * batch's worth of it back (RECLAIM_COUNT at a time), the next the rest. */
START_TEST(reclaim_takes_back_a_whole_batch)
{
	struct tx_consumer *c = batch_consumer();
	char k[128];
	tx_consumer_poll(c, 10); /* creates the group */
	for (int i = 0; i < TX_CONSUMER_BATCH + 40; i++)
		add_mode("ok", NULL, 0);
	key(k, sizeof(k), "ev:a");
	const char *ghost[] = { "XREADGROUP", "GROUP", "g1", "ghost", "COUNT", "1000",
				"STREAMS", k, ">" };
	freeReplyObject(evtest_rcmd(9, ghost)); /* ...and it dies */
	ck_assert_int_eq(pending("ev:a"), TX_CONSUMER_BATCH + 40);
	usleep((useconds_t)(evt.cfg.ack_wait_ms + 50) * 1000);
	ck_assert_int_eq(tx_consumer_reclaim(c), 0);
	ck_assert_int_eq(effects(), TX_CONSUMER_BATCH);
	ck_assert_int_eq(tx_consumer_reclaim(c), 0);
	ck_assert_int_eq(effects(), TX_CONSUMER_BATCH + 40);
	ck_assert_int_eq(pending("ev:a"), 0);
	ck_assert_int_eq(tx_consumer_stats(c)->claimed, TX_CONSUMER_BATCH + 40);
	tx_consumer_free(c);
}
END_TEST

#define SHARED_EVENTS 1000
static atomic_bool all_sent;

/* Poll until everything was sent and a poll finds nothing. */
static void *consume_batches(void *arg)
{
	struct tx_consumer *c = arg;
	int64_t end = tx_now_us() + 20 * 1000000LL;
	while (tx_now_us() < end)
		if (tx_consumer_poll(c, 50) == 0 && atomic_load(&all_sent))
			break;
	return NULL;
}

/* Two batch consumers in one group, every event sent twice (as a relay
 * that crashed after XADD would): each applied once, all acked. */
START_TEST(two_batch_consumers_share_a_group)
{
	struct tx_consumer *a = batch_consumer(), *b = batch_consumer();
	tx_consumer_poll(a, 10); /* creates the group */
	atomic_store(&all_sent, false);
	pthread_t ta, tb;
	pthread_create(&ta, NULL, consume_batches, a);
	pthread_create(&tb, NULL, consume_batches, b);
	for (int i = 0; i < SHARED_EVENTS; i++) {
		char id[40];
		add_mode("ok", id, sizeof(id));
		add_event("ev:a", id, "{\"mode\":\"ok\"}", NULL, 0);
	}
	atomic_store(&all_sent, true);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	const struct tx_consumer_stats *sa = tx_consumer_stats(a), *sb = tx_consumer_stats(b);
	ck_assert_int_eq(effects(), SHARED_EVENTS);
	ck_assert_int_eq(q_int("SELECT count(DISTINCT event_id) FROM %s.effects", ""),
			 SHARED_EVENTS);
	ck_assert_int_eq(sa->applied + sb->applied, SHARED_EVENTS);
	ck_assert_int_ge(sa->duplicates + sb->duplicates, SHARED_EVENTS); /* + reclaimed */
	ck_assert_int_eq(sa->fallbacks + sb->fallbacks, 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
	ck_assert_int_eq(pending("ev:a"), 0);
	tx_log("info", "two batch consumers: %ld + %ld events in %ld + %ld batches",
	       sa->applied, sb->applied, sa->batches, sb->batches);
	tx_consumer_free(a);
	tx_consumer_free(b);
}
END_TEST

/* The tickets service's real listeners through the runtime: a
 * payment:created that comes before its order's order:created (they are
 * on different streams) is left pending, redelivered after the ack wait,
 * and sells the ticket once the lock is in: the ticket ends sold to that
 * order, nothing is pending, nothing is dead. */
START_TEST(tickets_sold_whichever_stream_comes_first)
{
	char err[256], ticket[40], order[40], pay[40], e1[40], e2[40], data[256];
	PGresult *r = PQexec(evt.pg, "INSERT INTO tickets.tickets (title, price_cents, "
				     "user_id) VALUES ('consumer test', 100, "
				     "gen_random_uuid()) RETURNING id");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(ticket, sizeof(ticket), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	new_uuid(order, sizeof(order));
	new_uuid(pay, sizeof(pay));
	new_uuid(e1, sizeof(e1));
	new_uuid(e2, sizeof(e2));
	struct tx_consumer *c = tx_consumer_new(&evt.cfg, "tickets-service", tickets_listeners,
						tickets_nlisteners, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	snprintf(data, sizeof(data), "{\"id\":\"%s\",\"orderId\":\"%s\",\"stripeId\":\"ch_1\"}",
		 pay, order);
	add_event("payment:created", e1, data, NULL, 0);
	POLL_UNTIL(c, tx_consumer_stats(c)->retried >= 1, 3000);
	ck_assert_int_eq(pending_in("payment:created", "tickets-service"), 1);
	snprintf(data, sizeof(data), "{\"id\":\"%s\",\"version\":0,\"status\":\"created\","
		 "\"userId\":\"u\",\"expiresAt\":\"x\",\"ticket\":{\"id\":\"%s\",\"price\":1}}",
		 order, ticket);
	add_event("order:created", e2, data, NULL, 0);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets.tickets WHERE id = '%s' "
		 "AND order_id = '%s' AND sold_at IS NOT NULL AND version = 1", ticket, order);
	POLL_UNTIL(c, tx_consumer_stats(c)->applied == 2, 5000);
	r = PQexec(evt.pg, sql);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	ck_assert_int_eq(pending_in("payment:created", "tickets-service"), 0);
	ck_assert_int_eq(pending_in("order:created", "tickets-service"), 0);
	ck_assert_int_eq(tx_consumer_stats(c)->dead, 0);
	ck_assert_int_eq(xlen("dead-letter"), 0);
	tx_consumer_free(c);
}
END_TEST

Suite *suite_consumer(void)
{
	Suite *s = suite_create("consumer");
	TCase *tc = tcase_create("consumer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, applied_once_and_acked);
	tcase_add_test(tc, duplicate_acked_without_effect);
	tcase_add_test(tc, retry_redelivered_after_ack_wait);
	tcase_add_test(tc, failing_handler_dead_lettered);
	tcase_add_test(tc, malformed_dead_lettered_at_once);
	tcase_add_test(tc, two_consumers_share_a_group);
	tcase_add_test(tc, restart_resumes_where_the_group_left_off);
	tcase_add_test(tc, trim_keeps_pending_entries);
	tcase_add_test(tc, group_recreated_after_redis_lost_it);
	tcase_add_test(tc, bad_listener_tables_rejected);
	tcase_add_test(tc, batch_applies_once_with_duplicates);
	tcase_add_test(tc, batch_refused_entry_fails_alone);
	tcase_add_test(tc, batch_poison_rolls_back_then_one_by_one);
	tcase_add_test(tc, batch_tops_up_a_full_read);
	tcase_add_test(tc, reclaim_takes_back_a_whole_batch);
	tcase_add_test(tc, two_batch_consumers_share_a_group);
	tcase_add_test(tc, tickets_sold_whichever_stream_comes_first);
	suite_add_tcase(s, tc);
	return s;
}
