/* test_ops.c: the ops program through nginx: health, Prometheus metrics,
 * the ops page, dead-letter replay; and health with Redis or Postgres
 * down, by running the same binary in CGI mode against a closed port (the
 * shared test stack keeps running undisturbed).
 *
 * The dead letter is made by XADDing a malformed event (valid id, data
 * that is not JSON) to ticket:created: the orders-service consumer sends
 * it to the dead-letter stream at once (no MAX_DELIVERIES wait).
 */
#include <check.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "support.h"
#include "core/redis.h"

#define FORM_TYPE "application/x-www-form-urlencoded"
#define TOKEN_ATTR "name=\"_csrf\" value=\""
#define TICKETS_2XX                                                            \
	"tx_http_requests_total{service=\"tickets\",method=\"GET\","           \
	"route=\"/api/tickets\",code=\"2xx\"} "


static struct tx_redis *rd;

static void setup(void)
{
	char err[256];
	const char *url = getenv("TEST_REDIS_URL"), *prefix = getenv("REDIS_PREFIX");
	ck_assert_msg(url && *url, "TEST_REDIS_URL must be set (make test sets it)");
	rd = tx_redis_new(url, prefix ? prefix : "", 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
}

static void teardown(void)
{
	tx_redis_free(rd);
	rd = NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- health ------------------------------------------------------------- */

static struct json_object *get_obj(struct json_object *o, const char *key,
				   json_type want)
{
	struct json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no field %s", key);
	ck_assert_msg(json_object_is_type(v, want), "field %s has type %d", key,
		      (int)json_object_get_type(v));
	return v;
}

START_TEST(health_ok_with_fields)
{
	struct tc_resp r;
	tc_get("/api/health", NULL, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	struct json_object *j = tc_json(&r);
	ck_assert_msg(j != NULL, "not JSON: %s", r.body);
	ck_assert_str_eq(json_object_get_string(get_obj(j, "status", json_type_string)), "ok");
	ck_assert(json_object_get_boolean(
		get_obj(get_obj(j, "postgres", json_type_object), "ok", json_type_boolean)));
	ck_assert(json_object_get_boolean(
		get_obj(get_obj(j, "redis", json_type_object), "ok", json_type_boolean)));
	struct json_object *backlog = get_obj(j, "relayBacklog", json_type_object);
	static const char *const schemas[] = { "tickets", "orders", "payments" };
	for (size_t i = 0; i < 3; i++)
		ck_assert(json_object_get_int64(get_obj(backlog, schemas[i], json_type_int)) >= 0);
	struct json_object *pending = get_obj(j, "pending", json_type_object);
	static const char *const groups[] = { "orders-service", "tickets-service",
					      "payments-service", "expiration-service" };
	for (size_t i = 0; i < 4; i++)
		ck_assert(json_object_get_int64(get_obj(pending, groups[i], json_type_int)) >= 0);
	ck_assert(json_object_get_int64(get_obj(j, "deadLetters", json_type_int)) >= 0);
	json_object_put(j);
	tc_resp_release(&r);
}
END_TEST

/* ---- metrics ------------------------------------------------------------ */

/* The value of the sample line starting with series, or 0 if absent. */
static long long sample(const char *body, const char *series)
{
	const char *p = strstr(body, series);
	return p ? strtoll(p + strlen(series), NULL, 10) : 0;
}

static long long tickets_count(void)
{
	struct tc_resp r;
	tc_get("/metrics", NULL, &r);
	ck_status(&r, 200);
	ck_assert_msg(r.content_type && strncmp(r.content_type, "text/plain", 10) == 0,
		      "content type %s", r.content_type ? r.content_type : "(none)");
	ck_assert(!r.truncated);
	long long n = sample(r.body, TICKETS_2XX);
	tc_resp_release(&r);
	return n;
}

START_TEST(metrics_count_requests_per_route)
{
	long long before = tickets_count();
	for (int i = 0; i < 3; i++) {
		struct tc_resp t;
		tc_get("/api/tickets", NULL, &t);
		ck_status(&t, 200);
		tc_resp_release(&t);
	}
	long long after = tickets_count();
	ck_assert_msg(after >= before + 3, "counter %lld -> %lld", before, after);

	struct tc_resp r;
	tc_get("/metrics", NULL, &r);
	ck_has(&r, "# TYPE tx_http_requests_total counter");
	ck_has(&r, "# TYPE tx_http_request_duration_seconds histogram");
	ck_has(&r, "tx_http_request_duration_seconds_bucket{service=\"tickets\","
		   "method=\"GET\",route=\"/api/tickets\",le=\"0.001\"}");
	ck_has(&r, "tx_http_request_duration_seconds_bucket{service=\"tickets\","
		   "method=\"GET\",route=\"/api/tickets\",le=\"10\"}");
	ck_has(&r, "tx_http_request_duration_seconds_bucket{service=\"tickets\","
		   "method=\"GET\",route=\"/api/tickets\",le=\"+Inf\"}");
	ck_has(&r, "tx_http_request_duration_seconds_count{service=\"tickets\","
		   "method=\"GET\",route=\"/api/tickets\"}");
	ck_has(&r, "tx_group_pending{stream=\"ticket:created\",group=\"orders-service\"}");
	ck_has(&r, "tx_group_lag_seconds{stream=\"order:created\",group=\"tickets-service\"}");
	/* tickets-service reads payment:created too (a paid order's ticket is sold) */
	ck_has(&r, "tx_group_pending{stream=\"payment:created\",group=\"tickets-service\"}");
	ck_has(&r, "tx_outbox_lag_seconds{schema=\"orders\"}");
	ck_has(&r, "tx_dead_letters ");
	ck_has(&r, "tx_up{dependency=\"redis\"} 1");
	tc_resp_release(&r);
}
END_TEST

/* ---- the ops page ------------------------------------------------------- */

START_TEST(ops_page_shows_streams_and_groups)
{
	struct tc_resp r;
	tc_get("/ops", NULL, &r);
	ck_status(&r, 200);
	ck_has(&r, "<h1>Operations</h1>");
	ck_has(&r, "data-stream=\"ticket:created\"");
	ck_has(&r, "data-stream=\"order:created\"");
	ck_has(&r, "data-group=\"orders-service\"");
	ck_has(&r, "data-group=\"expiration-service\"");
	ck_has(&r, "id=\"consumers\"");
	ck_has(&r, "id=\"dead-letters\"");
	tc_resp_release(&r);
}
END_TEST

/* Entries of a stream whose field id equals ev_id (latest 500). */
static int count_event(const char *name, const char *ev_id, char *entry_out,
		       size_t outlen)
{
	char key[256];
	ck_assert_int_eq(tx_redis_key(rd, name, key, sizeof(key)), 0);
	const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "500" };
	redisReply *r = tx_redis_cmd(rd, 6, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_ARRAY, "redis: %s", tx_redis_error(rd));
	int n = 0;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *f = r->element[i]->element[1];
		for (size_t k = 0; k + 1 < f->elements; k += 2)
			if (strcmp(f->element[k]->str, "id") == 0 &&
			    strcmp(f->element[k + 1]->str, ev_id) == 0) {
				if (n++ == 0 && entry_out)
					snprintf(entry_out, outlen, "%s", r->element[i]->element[0]->str);
			}
	}
	freeReplyObject(r);
	return n;
}

static void xadd_malformed(const char *ev_id)
{
	char key[256];
	ck_assert_int_eq(tx_redis_key(rd, "ticket:created", key, sizeof(key)), 0);
	const char *argv[] = { "XADD", key, "*", "id", ev_id, "data", "{not json" };
	redisReply *r = tx_redis_cmd(rd, 7, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_STRING, "XADD failed");
	freeReplyObject(r);
}

/* The hidden _csrf value of a page, malloc'd. */
static char *page_token(const struct tc_resp *r)
{
	const char *p = strstr(r->body, TOKEN_ATTR);
	ck_assert_msg(p != NULL, "no _csrf input in %.2000s", r->body);
	p += strlen(TOKEN_ATTR);
	size_t n = strcspn(p, "\"");
	char *t = malloc(n + 1);
	memcpy(t, p, n);
	t[n] = '\0';
	return t;
}

static long post_replay(const char *cookie, const char *token, const char *entry,
			struct tc_resp *r)
{
	char *body = token ? tc_strf("_csrf=%s&entry=%s", token, entry)
			   : tc_strf("entry=%s", entry);
	struct tc_opts o = { .content_type = FORM_TYPE, .body = body, .cookie = cookie };
	tc_request("POST", "/ops/replay", &o, r);
	free(body);
	return r->status;
}

START_TEST(dead_letter_shows_and_replays)
{
	char ev_id[37], dl[64] = "";
	tc_uuid(ev_id);
	xadd_malformed(ev_id);
	double deadline = now_s() + 20;
	while (count_event("dead-letter", ev_id, dl, sizeof(dl)) == 0 && now_s() < deadline)
		usleep(100 * 1000);
	ck_assert_msg(dl[0], "the malformed event never reached the dead-letter stream");

	struct tc_resp page;
	tc_get("/ops", NULL, &page);
	ck_status(&page, 200);
	ck_has(&page, ev_id);
	char *row = tc_strf("data-entry=\"%s\"", dl);
	ck_has(&page, row);
	ck_has(&page, "malformed event");
	char *cookie = tc_cookie_pair(&page, "csrf");
	char *token = page_token(&page);
	ck_assert(cookie != NULL);

	struct tc_resp r;
	ck_assert_int_eq(post_replay(cookie, NULL, dl, &r), 403); /* no token */
	tc_resp_release(&r);
	ck_assert_int_eq(count_event("dead-letter", ev_id, NULL, 0), 1);

	ck_assert_int_eq(post_replay(cookie, token, dl, &r), 303);
	ck_assert_msg(r.location && strncmp(r.location, "/ops?replayed=", 14) == 0,
		      "location %s", r.location ? r.location : "(none)");
	tc_resp_release(&r);
	/* Back on its stream with the same event id: the original and the
	 * replayed entry. The dead letter itself is gone. */
	ck_assert_int_eq(count_event("ticket:created", ev_id, NULL, 0), 2);
	char key[256];
	ck_assert_int_eq(tx_redis_key(rd, "dead-letter", key, sizeof(key)), 0);
	const char *argv[] = { "XRANGE", key, dl, dl };
	redisReply *x = tx_redis_cmd(rd, 4, argv, NULL);
	ck_assert(x && x->type == REDIS_REPLY_ARRAY);
	ck_assert_int_eq(x->elements, 0);
	freeReplyObject(x);
	/* A second click finds nothing to replay. */
	ck_assert_int_eq(post_replay(cookie, token, dl, &r), 404);
	tc_resp_release(&r);
	ck_assert_int_eq(count_event("ticket:created", ev_id, NULL, 0), 2);

	free(row);
	free(cookie);
	free(token);
	tc_resp_release(&page);
}
END_TEST

START_TEST(replay_rejects_malformed_entry_ids)
{
	struct tc_resp page, r;
	tc_get("/ops", NULL, &page);
	char *cookie = tc_cookie_pair(&page, "csrf");
	char *token = page_token(&page);
	static const char *const bad[] = { "x", "1-", "-1", "1-2-3", "0-0" };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(post_replay(cookie, token, bad[i], &r), 400);
		tc_resp_release(&r);
	}
	ck_assert_int_eq(post_replay(cookie, token, bad[4], &r), 404);
	tc_resp_release(&r);
	free(cookie);
	free(token);
	tc_resp_release(&page);
}
END_TEST

/* ---- health with a dependency down: the binary in CGI mode -------------- */

/* A loopback port with nothing listening on it. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The ops binary next to this test binary. */
static void ops_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert(n > 0);
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	ck_assert(slash != NULL);
	*slash = '\0';
	snprintf(out, len, "%s/ops", self);
	ck_assert_msg(access(out, X_OK) == 0, "%s not built", out);
}

static char *env_kv(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return tc_strf("%s=%s", name, v ? v : dflt);
}

/* Run one CGI request GET /api/health; its stdout into out. */
static void run_cgi_health(const char *db_url, const char *redis_url, char *out,
			   size_t outlen, double *secs)
{
	char prog[PATH_MAX + 8];
	ops_path(prog, sizeof(prog));
	char *envp[] = {
		"REQUEST_METHOD=GET", "DOCUMENT_URI=/api/health", "GATEWAY_INTERFACE=CGI/1.1",
		tc_strf("OPS_DATABASE_URL=%s", db_url), tc_strf("REDIS_URL=%s", redis_url),
		env_kv("JWT_KEY", ""), env_kv("TEMPLATE_DIR", "templates"),
		env_kv("ASAN_OPTIONS", ""), env_kv("UBSAN_OPTIONS", ""), NULL,
	};
	int pipefd[2];
	ck_assert(pipe(pipefd) == 0);
	double t0 = now_s();
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		int devnull = open("/dev/null", 0);
		dup2(devnull, 0);
		char *argv[] = { prog, NULL };
		execve(prog, argv, envp);
		_exit(127);
	}
	close(pipefd[1]);
	size_t got = 0;
	struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
	while (got + 1 < outlen && poll(&p, 1, 10000) == 1) {
		ssize_t n = read(pipefd[0], out + got, outlen - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(pipefd[0]);
	int status;
	kill(pid, SIGKILL); /* no-op if it exited: it is not yet reaped */
	waitpid(pid, &status, 0);
	*secs = now_s() - t0;
	for (size_t i = 3; envp[i]; i++)
		free(envp[i]);
}

START_TEST(health_503_when_redis_down)
{
	char out[4096], redis_url[64];
	double secs;
	const char *db = getenv("OPS_DATABASE_URL");
	db = db && *db ? db : getenv("TEST_DATABASE_URL");
	snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d/0", closed_port());
	run_cgi_health(db, redis_url, out, sizeof(out), &secs);
	ck_assert_msg(strncmp(out, "Status: 503", 11) == 0, "got: %s", out);
	ck_assert_msg(strstr(out, "\"status\":\"degraded\""), "got: %s", out);
	ck_assert_msg(strstr(out, "\"redis\":{\"ok\":false"), "got: %s", out);
	ck_assert_msg(strstr(out, "\"postgres\":{\"ok\":true"), "got: %s", out);
	ck_assert_msg(secs < 3.0, "took %.2f s", secs);
}
END_TEST

START_TEST(health_503_when_postgres_down)
{
	char out[4096];
	double secs;
	run_cgi_health("host=/nonexistent-pg-dir dbname=ticketing user=ops",
		       getenv("TEST_REDIS_URL"), out, sizeof(out), &secs);
	ck_assert_msg(strncmp(out, "Status: 503", 11) == 0, "got: %s", out);
	ck_assert_msg(strstr(out, "\"postgres\":{\"ok\":false"), "got: %s", out);
	ck_assert_msg(strstr(out, "\"redis\":{\"ok\":true"), "got: %s", out);
	ck_assert_msg(secs < 3.0, "took %.2f s", secs);
}
END_TEST

/* A charge attempt left open (stamped a few seconds ahead, so the settler
 * leaves it alone while we look) is counted by /api/health and /metrics;
 * then the worker's settler takes it: its order is unknown to payments, so
 * the charge it replays is refunded and the attempt settled as such. */
START_TEST(open_charge_attempt_counted_then_settled)
{
	char order[37];
	tc_uuid(order);
	char *key = tc_strf("pay-%s-500-0", order);
	ck_assert_int_eq(ts_q_long("WITH i AS (INSERT INTO payments.charge_attempts "
				   "(idempotency_key, order_id, amount_cents, token, created_at) "
				   "VALUES ($1, $2, 500, 'tok_visa', now() + interval '3 seconds') "
				   "RETURNING 1) SELECT count(*) FROM i", key, order), 1);
	struct tc_resp r;
	tc_get("/api/health", NULL, &r);
	ck_status(&r, 200);
	struct json_object *j = tc_json(&r);
	ck_assert_msg(j != NULL, "not JSON: %s", r.body);
	ck_assert(json_object_get_int64(get_obj(j, "openChargeAttempts", json_type_int)) >= 1);
	json_object_put(j);
	tc_resp_release(&r);
	tc_get("/metrics", NULL, &r);
	ck_status(&r, 200);
	ck_assert(sample(r.body, "\ntx_payment_attempts_open ") >= 1);
	ck_has(&r, "\ntx_payment_attempts_open_oldest_seconds ");
	tc_resp_release(&r);
	long settled = 0;
	for (int i = 0; i < 250 && !settled; i++) {
		settled = ts_q_long("SELECT count(*) FROM payments.charge_attempts "
				    "WHERE idempotency_key = $1 AND outcome = 'refunded' "
				    "AND refund_id IS NOT NULL", key, NULL);
		if (!settled)
			ts_sleep_ms(100);
	}
	ck_assert_msg(settled, "the settler never settled attempt %s", key);
	free(key);
}
END_TEST

Suite *suite_ops_http(void)
{
	Suite *s = suite_create("ops_http");
	TCase *tc = tcase_create("ops");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, health_ok_with_fields);
	tcase_add_test(tc, metrics_count_requests_per_route);
	tcase_add_test(tc, ops_page_shows_streams_and_groups);
	tcase_add_test(tc, dead_letter_shows_and_replays);
	tcase_add_test(tc, replay_rejects_malformed_entry_ids);
	tcase_add_test(tc, health_503_when_redis_down);
	tcase_add_test(tc, health_503_when_postgres_down);
	suite_add_tcase(s, tc);

	tc = tcase_create("payments attempts");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_charge_attempt_counted_then_settled);
	suite_add_tcase(s, tc);
	return s;
}
