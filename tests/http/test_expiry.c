/* test_expiry.c: order expiry through the whole stack (tag "expiry": run
 * by scripts/test.sh in its second phase, with EXPIRATION_WINDOW_SECONDS=3,
 * EXPIRATION_GRACE_SECONDS=2, ACK_WAIT_MS=1000). Orders are made through
 * the API; the results are read from the orders schema (TEST_DATABASE_URL)
 * and the expiration:complete stream (TEST_REDIS_URL). One test kills the
 * stack's worker (kill -9, found as the child of the supervisor whose pid
 * is in $RUN_DIR/worker.pid) and one flushes Redis.
 */
#include <check.h>
#include <dirent.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "support.h"
#include "core/redis.h"
#include "expiration/expiration.h"

#define UUID_LEN 37
#define KILLED_ORDERS 20

static PGconn *pg;
static struct tx_redis *rd;

static void setup(void)
{
	const char *db = getenv("TEST_DATABASE_URL"), *ru = getenv("TEST_REDIS_URL");
	char err[128];
	ck_assert_msg(db && ru, "TEST_DATABASE_URL and TEST_REDIS_URL must be set");
	pg = PQconnectdb(db);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
	rd = tx_redis_new(ru, "", 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
}

static void teardown(void)
{
	if (pg)
		PQfinish(pg);
	tx_redis_free(rd);
	pg = NULL;
	rd = NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first column of the first row of sql($1), or "" (static buffer). */
static const char *q1(const char *sql, const char *p1)
{
	static char out[256];
	PGresult *r = PQexecParams(pg, sql, p1 ? 1 : 0, NULL, (const char *const[]){ p1 },
				   NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(pg));
	snprintf(out, sizeof(out), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return out;
}

static long q1l(const char *sql, const char *p1)
{
	return strtol(q1(sql, p1), NULL, 10);
}

/* A string field of the response's JSON object into out. */
static void field(const struct tc_resp *r, const char *name, char *out, size_t n)
{
	struct json_object *j = tc_json(r), *v;
	ck_assert_msg(j && json_object_object_get_ex(j, name, &v), "no %s in %s", name,
		      r->body);
	snprintf(out, n, "%s", json_object_get_string(v));
	json_object_put(j);
}

struct order {
	char id[UUID_LEN], ticket[UUID_LEN];
	char *cookie;
	double expires; /* seconds since the epoch */
};

/* A ticket by a new seller, then an order for it by a new buyer (retried
 * until the orders replica has the ticket). */
static void make_order(struct order *o)
{
	struct tc_resp r;
	char *seller = tc_forge_cookie("seller@test.com", NULL);
	o->cookie = tc_forge_cookie("buyer@test.com", NULL);
	tc_post_json("/api/tickets", "{\"title\":\"expiry\",\"price\":12}", seller, &r);
	ck_assert_msg(r.status == 201, "ticket: %ld %s", r.status, r.body);
	field(&r, "id", o->ticket, sizeof(o->ticket));
	tc_resp_release(&r);
	free(seller);
	char *body = tc_strf("{\"ticketId\":\"%s\"}", o->ticket);
	for (int i = 0; i < 200; i++) {
		tc_post_json("/api/orders", body, o->cookie, &r);
		if (r.status == 201)
			break;
		tc_resp_release(&r);
		ts_sleep_ms(25);
	}
	free(body);
	ck_assert_msg(r.status == 201, "order: %ld %s", r.status, r.body);
	field(&r, "id", o->id, sizeof(o->id));
	tc_resp_release(&r);
	o->expires = strtod(q1("SELECT extract(epoch FROM expires_at) FROM orders.orders "
			       "WHERE id = $1", o->id), NULL);
}

static const char *status_of(const struct order *o)
{
	return q1("SELECT status FROM orders.orders WHERE id = $1", o->id);
}

static long cancelled_events(const struct order *o)
{
	return q1l("SELECT count(*) FROM orders.outbox WHERE subject = 'order:cancelled' "
		   "AND (data->>'id')::uuid = $1", o->id);
}

/* Seconds from expiresAt to the cancellation (its outbox row), or -1e9. */
static double lateness(const struct order *o)
{
	const char *s = q1("SELECT extract(epoch FROM e.created_at - o.expires_at) "
			   "FROM orders.orders o JOIN orders.outbox e ON e.subject = "
			   "'order:cancelled' AND (e.data->>'id')::uuid = o.id "
			   "WHERE o.id = $1", o->id);
	return *s ? strtod(s, NULL) : -1e9;
}

/* Wait until orders-service has processed the order's expiry event. */
static void wait_expiry_processed(const struct order *o, double deadline)
{
	char id[37];
	expiration_event_id(o->id, id);
	while (now_s() < deadline &&
	       q1l("SELECT count(*) FROM orders.processed_events WHERE event_id = $1", id) == 0)
		ts_sleep_ms(50);
	ck_assert_msg(q1l("SELECT count(*) FROM orders.processed_events WHERE "
			  "event_id = $1", id) == 1, "expiry of %s never processed", o->id);
}

static bool ticket_listed(const struct order *o)
{
	struct tc_resp r;
	tc_get("/api/tickets?sort=newest&limit=100", NULL, &r); /* a page it is on */
	bool found = r.status == 200 && strstr(r.body, o->ticket) != NULL;
	tc_resp_release(&r);
	return found;
}

static void wait_listed(const struct order *o, double deadline)
{
	while (now_s() < deadline && !ticket_listed(o))
		ts_sleep_ms(100);
	ck_assert_msg(ticket_listed(o), "ticket %s not listed again", o->ticket);
}

START_TEST(unpaid_order_cancelled_within_a_second)
{
	struct order o;
	make_order(&o);
	while (now_s() < o.expires + 1.0 && strcmp(status_of(&o), "created") == 0)
		ts_sleep_ms(20);
	ck_assert_str_eq(status_of(&o), "cancelled");
	double late = lateness(&o);
	ck_assert_msg(late >= 0 && late <= 1.0, "cancelled %.3f s after expiresAt", late);
	ck_assert_int_eq(cancelled_events(&o), 1);
	wait_listed(&o, o.expires + 6);
	free(o.cookie);
}
END_TEST

START_TEST(paid_order_stays_complete)
{
	struct order o;
	make_order(&o);
	/* What the payment:created listener does. */
	q1("UPDATE orders.orders SET status = 'complete', version = version + 1 "
	   "WHERE id = $1", o.id);
	wait_expiry_processed(&o, o.expires + 4);
	ck_assert_str_eq(status_of(&o), "complete");
	ck_assert_int_eq(cancelled_events(&o), 0);
	ck_assert(!ticket_listed(&o));
	free(o.cookie);
}
END_TEST

START_TEST(cancelled_order_expiry_has_no_effect)
{
	struct order o;
	struct tc_resp r;
	make_order(&o);
	char *path = tc_strf("/api/orders/%s", o.id);
	tc_request("DELETE", path, &(struct tc_opts){ .cookie = o.cookie }, &r);
	ck_assert_msg(r.status == 204, "cancel: %ld %s", r.status, r.body);
	tc_resp_release(&r);
	free(path);
	wait_expiry_processed(&o, o.expires + 4);
	ck_assert_str_eq(status_of(&o), "cancelled");
	ck_assert_int_eq(q1l("SELECT version FROM orders.orders WHERE id = $1", o.id), 1);
	ck_assert_int_eq(cancelled_events(&o), 1);
	free(o.cookie);
}
END_TEST

static bool scheduled(const struct order *o)
{
	const char *argv[] = { "ZSCORE", "{expiration:complete}:due", o->id };
	redisReply *r = tx_redis_cmd(rd, 3, argv, NULL);
	bool yes = r && r->type == REDIS_REPLY_STRING;
	if (r)
		freeReplyObject(r);
	return yes;
}

START_TEST(flushed_redis_is_covered_by_the_sweeper)
{
	struct order o;
	make_order(&o);
	/* Let the order lock its ticket and be scheduled, then lose Redis. */
	double t0 = now_s();
	while (now_s() < t0 + 2 && (!scheduled(&o) ||
	       q1l("SELECT count(*) FROM tickets.tickets WHERE id = $1 AND order_id "
		   "IS NOT NULL", o.ticket) == 0))
		ts_sleep_ms(20);
	ck_assert(scheduled(&o));
	const char *flush[] = { "FLUSHALL" };
	freeReplyObject(tx_redis_cmd(rd, 1, flush, NULL));
	while (now_s() < o.expires + 8 && strcmp(status_of(&o), "created") == 0)
		ts_sleep_ms(50);
	ck_assert_str_eq(status_of(&o), "cancelled");
	double late = lateness(&o);
	ck_assert_msg(late >= 2.0, "cancelled %.3f s late: not by the sweeper?", late);
	ck_assert_int_eq(cancelled_events(&o), 1);
	wait_listed(&o, now_s() + 8);
	free(o.cookie);
}
END_TEST

/* The pid of the worker under the supervisor of $DATA/run/worker.pid. */
static pid_t worker_pid(void)
{
	char path[512], buf[512];
	const char *run = getenv("RUN_DIR");
	ck_assert_msg(run, "RUN_DIR must be set (stack.sh writes it to $DATA/env)");
	snprintf(path, sizeof(path), "%s/worker.pid", run);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f && fgets(buf, sizeof(buf), f), "no %s", path);
	fclose(f);
	long sup = strtol(buf, NULL, 10);
	pid_t found = 0;
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && !found && (e = readdir(d));) {
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *s = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
		if (!s)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, s);
		fclose(s);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		char *end;
		if (p && strstr(buf, "(worker)") && p[1] == ' ' && p[2] && p[3] == ' ' &&
		    strtol(p + 4, &end, 10) == sup)
			found = (pid_t)strtol(e->d_name, NULL, 10);
	}
	if (d)
		closedir(d);
	return found;
}

static void kill_worker(void)
{
	pid_t p = 0;
	for (int i = 0; i < 100 && !(p = worker_pid()); i++)
		ts_sleep_ms(50); /* being restarted */
	ck_assert_msg(p > 0, "worker not found");
	ck_assert_int_eq(kill(p, SIGKILL), 0);
}

/* Expiry entries for order id in the stream. */
static long expiries_of(const redisReply *range, const char *id)
{
	long n = 0;
	for (size_t i = 0; i < range->elements; i++) {
		const redisReply *f = range->element[i]->element[1];
		for (size_t j = 0; j + 1 < f->elements; j += 2)
			if (strcmp(f->element[j]->str, "data") == 0 &&
			    strstr(f->element[j + 1]->str, id))
				n++;
	}
	return n;
}

START_TEST(worker_killed_while_orders_are_due)
{
	static struct order o[KILLED_ORDERS];
	for (int i = 0; i < KILLED_ORDERS; i++)
		make_order(&o[i]);
	double first = o[0].expires, last = o[KILLED_ORDERS - 1].expires;
	/* Kill it as they fall due, and again while it restarts. */
	while (now_s() < first - 0.1)
		ts_sleep_ms(10);
	for (double t = first - 0.1; t < last + 0.6; t += 0.4) {
		kill_worker();
		while (now_s() < t + 0.4)
			ts_sleep_ms(10);
	}
	for (int i = 0; i < KILLED_ORDERS; i++) {
		while (now_s() < last + 20 && strcmp(status_of(&o[i]), "created") == 0)
			ts_sleep_ms(100);
		ck_assert_msg(strcmp(status_of(&o[i]), "cancelled") == 0, "order %d: %s", i,
			      status_of(&o[i]));
	}
	/* Let late duplicates, if any, arrive before counting. */
	ts_sleep_ms(2500);
	const char *argv[] = { "XRANGE", "expiration:complete", "-", "+" };
	redisReply *r = tx_redis_cmd(rd, 4, argv, NULL);
	ck_assert(r && r->type == REDIS_REPLY_ARRAY);
	for (int i = 0; i < KILLED_ORDERS; i++) {
		ck_assert_msg(cancelled_events(&o[i]) == 1, "order %d: %ld cancellations", i,
			      cancelled_events(&o[i]));
		ck_assert_msg(expiries_of(r, o[i].id) == 1, "order %d: %ld expiries", i,
			      expiries_of(r, o[i].id));
		free(o[i].cookie);
	}
	freeReplyObject(r);
}
END_TEST

Suite *suite_expiry(void)
{
	Suite *s = suite_create("expiry");
	TCase *tc = tcase_create("expiry");
	tcase_set_tags(tc, "expiry");
	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unpaid_order_cancelled_within_a_second);
	tcase_add_test(tc, paid_order_stays_complete);
	tcase_add_test(tc, cancelled_order_expiry_has_no_effect);
	tcase_add_test(tc, worker_killed_while_orders_are_due);
	tcase_add_test(tc, flushed_redis_is_covered_by_the_sweeper);
	suite_add_tcase(s, tc);
	return s;
}
