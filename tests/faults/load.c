/* load.c: the steady mixed load of the fault drills: browse, sell, buy, pay.
 *
 *   load SECONDS THREADS RECORD_FILE TAG
 *
 * THREADS client threads, each a user of its own (a session cookie forged
 * with JWT_KEY, as tests/load/concurrency.c does), each looping until
 * SECONDS have passed (and at most 100,000 actions) with a 20 ms pause:
 * 55 % browse (GET /api/tickets, every fourth time GET /), 15 % sell (POST
 * /api/tickets with the unique title "TAG-<thread>-<n>"), 30 % buy (GET
 * /api/tickets, POST /api/orders for a random listed ticket) and, for two
 * of three orders, pay (POST /api/payments, tok_visa), retried like a
 * client with an idempotency key would: on 0, 5xx or 404 (the payments
 * replica not there yet), the same body up to 10 times, 300 ms apart; the
 * provider's idempotency key comes from the order id, so a retry can never
 * charge twice.
 *
 * Every 201 is appended to RECORD_FILE at once: "ticket ID TITLE", "order
 * ID", "paid ORDER_ID" (tests/faults/check_invariants.sh reads it: I2).
 * Every request that got no answer or a 5xx is counted, never fatal:
 * faults are the point. The last line is
 *   load: requests=N get=N get_ok=N get_fail=N post=N post_5xx=N
 *         transport=N tickets=N orders=N paid=N 5xx=N 4xx=N
 * (one line). Exit 0 unless the program itself could not run. Environment:
 * TEST_BASE_URL, JWT_KEY, and LOAD_TIMELINE: a file that gets a line per
 * request, "<unix time, s.ms> <method> <status>" (scripts/failover.sh
 * measures outages with it).
 */
#include "../http/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_ACTIONS 100000
#define PAUSE_US 20000
#define PAY_TRIES 10
#define PAY_RETRY_US 300000

enum counter {
	C_REQ, C_GET, C_GET_OK, C_GET_FAIL, C_POST, C_POST_5XX, C_TRANSPORT,
	C_TICKETS, C_ORDERS, C_PAID, C_5XX, C_4XX, C__MAX
};
static const char *const counter_names[C__MAX] = {
	"requests", "get", "get_ok", "get_fail", "post", "post_5xx", "transport",
	"tickets", "orders", "paid", "5xx", "4xx",
};
static atomic_long counters[C__MAX];

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *record, *timeline;
static const char *tag;
static double deadline;

struct worker {
	pthread_t thread;
	int index;
	unsigned seed;
	char *cookie;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&record_lock);
	va_start(ap, fmt);
	vfprintf(record, fmt, ap);
	va_end(ap);
	fflush(record);
	pthread_mutex_unlock(&record_lock);
}

/* One counted request; the status (0: no answer). */
static long call(const char *method, const char *path, const char *body,
		 const char *cookie, struct tc_resp *out)
{
	struct tc_opts o = { body ? "application/json" : NULL, body, 0, cookie, NULL };
	bool get = strcmp(method, "GET") == 0;
	tc_request(method, path, &o, out);
	if (timeline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		pthread_mutex_lock(&record_lock);
		fprintf(timeline, "%lld.%03ld %s %ld\n", (long long)ts.tv_sec,
			ts.tv_nsec / 1000000, method, out->status);
		pthread_mutex_unlock(&record_lock);
	}
	atomic_fetch_add(&counters[C_REQ], 1);
	atomic_fetch_add(&counters[get ? C_GET : C_POST], 1);
	long st = out->status;
	if (st == 0)
		atomic_fetch_add(&counters[C_TRANSPORT], 1);
	else if (st >= 500)
		atomic_fetch_add(&counters[C_5XX], 1);
	else if (st >= 400)
		atomic_fetch_add(&counters[C_4XX], 1);
	if (get)
		atomic_fetch_add(&counters[st >= 200 && st < 400 ? C_GET_OK : C_GET_FAIL], 1);
	else if (st == 0 || st >= 500)
		atomic_fetch_add(&counters[C_POST_5XX], 1);
	return st;
}

/* The string member `key` of a JSON object body, copied into out. */
static bool json_str(const struct tc_resp *r, const char *key, char *out, size_t n)
{
	struct json_object *j = tc_json(r), *v;
	bool ok = j && json_object_object_get_ex(j, key, &v) &&
		  json_object_is_type(v, json_type_string);
	if (ok)
		snprintf(out, n, "%s", json_object_get_string(v));
	json_object_put(j);
	return ok;
}

static void browse(struct worker *w, int n)
{
	struct tc_resp r;
	call("GET", n % 4 == 0 ? "/" : "/api/tickets", NULL, w->cookie, &r);
	tc_resp_release(&r);
}

static void sell(struct worker *w, int n)
{
	struct tc_resp r;
	char title[128], id[64];
	snprintf(title, sizeof(title), "%s-%d-%d", tag, w->index, n);
	char *body = tc_strf("{\"title\":\"%s\",\"price\":%d}", title,
			     10 + (int)(rand_r(&w->seed) % 90));
	if (call("POST", "/api/tickets", body, w->cookie, &r) == 201 &&
	    json_str(&r, "id", id, sizeof(id))) {
		atomic_fetch_add(&counters[C_TICKETS], 1);
		note("ticket %s %s\n", id, title);
	}
	tc_resp_release(&r);
	free(body);
}

/* A random ticket id from the listing into out; false when none. */
static bool pick_ticket(struct worker *w, char *out, size_t n)
{
	struct tc_resp r;
	bool ok = false;
	if (call("GET", "/api/tickets", NULL, w->cookie, &r) == 200) {
		struct json_object *j = tc_json(&r), *t, *id;
		size_t len = j && json_object_is_type(j, json_type_array)
				     ? json_object_array_length(j) : 0;
		if (len > 0) {
			t = json_object_array_get_idx(j, rand_r(&w->seed) % len);
			ok = json_object_object_get_ex(t, "id", &id);
			if (ok)
				snprintf(out, n, "%s", json_object_get_string(id));
		}
		json_object_put(j);
	}
	tc_resp_release(&r);
	return ok;
}

static void pay(struct worker *w, const char *order)
{
	char *body = tc_strf("{\"token\":\"tok_visa\",\"orderId\":\"%s\"}", order);
	for (int i = 0; i < PAY_TRIES && now_s() < deadline + 5; i++) {
		struct tc_resp r;
		long st = call("POST", "/api/payments", body, w->cookie, &r);
		tc_resp_release(&r);
		if (st == 201) {
			atomic_fetch_add(&counters[C_PAID], 1);
			note("paid %s\n", order);
			break;
		}
		if (st != 0 && st < 500 && st != 404)
			break;
		usleep(PAY_RETRY_US);
	}
	free(body);
}

static void buy(struct worker *w)
{
	char ticket[64], id[64];
	struct tc_resp r;
	if (!pick_ticket(w, ticket, sizeof(ticket)))
		return;
	char *body = tc_strf("{\"ticketId\":\"%s\"}", ticket);
	bool created = call("POST", "/api/orders", body, w->cookie, &r) == 201 &&
		       json_str(&r, "id", id, sizeof(id));
	tc_resp_release(&r);
	free(body);
	if (!created)
		return;
	atomic_fetch_add(&counters[C_ORDERS], 1);
	note("order %s\n", id);
	if (rand_r(&w->seed) % 3 != 0)
		pay(w, id);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int n = 0; n < MAX_ACTIONS && now_s() < deadline; n++) {
		unsigned r = rand_r(&w->seed) % 100;
		if (r < 55)
			browse(w, n);
		else if (r < 70)
			sell(w, n);
		else
			buy(w);
		usleep(PAUSE_US);
	}
	return NULL;
}

static long parse_pos(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v > 0 && v <= max ? v : -1;
}

int main(int argc, char **argv)
{
	long secs = argc == 5 ? parse_pos(argv[1], 3600) : -1;
	long nthreads = argc == 5 ? parse_pos(argv[2], MAX_THREADS) : -1;
	if (secs < 0 || nthreads < 0) {
		fputs("usage: load SECONDS THREADS RECORD_FILE TAG\n", stderr);
		return 2;
	}
	if (!(record = fopen(argv[3], "a"))) {
		perror(argv[3]);
		return 1;
	}
	tag = argv[4];
	const char *tl = getenv("LOAD_TIMELINE");
	if (tl && *tl && !(timeline = fopen(tl, "a"))) {
		perror(tl);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	deadline = now_s() + (double)secs;
	struct worker w[MAX_THREADS];
	long started = 0, made = 0;
	for (long i = 0; i < nthreads; i++, made++) {
		char *email = tc_strf("%s-%ld@load.test", tag, i);
		w[i] = (struct worker){ .index = (int)i,
					.seed = (unsigned)(time(NULL) ^ (i * 7919)),
					.cookie = tc_forge_cookie(email, NULL) };
		free(email);
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			made++;
			break;
		}
		started++;
	}
	for (long i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	printf("load:");
	for (int c = 0; c < C__MAX; c++)
		printf(" %s=%ld", counter_names[c], atomic_load(&counters[c]));
	putchar('\n');
	for (long i = 0; i < made; i++)
		free(w[i].cookie);
	fclose(record);
	if (timeline)
		fclose(timeline);
	curl_global_cleanup();
	return started == nthreads ? 0 : 1;
}
