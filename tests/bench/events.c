/* events.c: the event figures of `make bench`, through nginx.
 *
 *   bench-events cookie [USER_ID]  a forged session cookie (for wrk), for a
 *                                  new user or the given one
 *   bench-events lag N RATE        N tickets POSTed at RATE per second; prints
 *                                  "n p50_ms p99_ms max_ms": commit of the
 *                                  ticket (its transaction's start, which
 *                                  makes the figure an upper bound) to the
 *                                  orders consumer applying it (the start of
 *                                  the transaction that makes the replica,
 *                                  processed_events.processed_at), both on
 *                                  Postgres's clock
 *   bench-events flash BUYERS TICKETS
 *                                  TICKETS new tickets, replicated to orders,
 *                                  then BUYERS distinct buyers released at once
 *                                  (FLASH_THREADS threads) on them; prints
 *                                  "decided_per_s created reserved other doubles"
 * Environment: TEST_BASE_URL, TEST_DATABASE_URL (superuser), JWT_KEY.
 * Every wait has a deadline.
 */
#include "../http/client.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLASH_THREADS 250
#define WAIT_MS 60000.0
#define LAG_THREADS 4

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static PGconn *pg(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	PGconn *c = PQconnectdb(url ? url : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench-events: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

/* The first column of the first row of a one-parameter query, as a long. */
static long pg_long(PGconn *c, const char *sql, const char *param)
{
	const char *const params[1] = { param };
	PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	long v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		fprintf(stderr, "bench-events: %s", PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

/* POST /api/tickets; the new id into id[37]. 0 or -1. */
static int create_ticket(const char *cookie, char id[37])
{
	struct tc_resp r;
	tc_post_json("/api/tickets", "{\"title\":\"bench event\",\"price\":20}", cookie, &r);
	int rc = -1;
	const char *p = r.status == 201 ? strstr(r.body, "\"id\":\"") : NULL;
	if (p && strlen(p + 6) >= 36) {
		memcpy(id, p + 6, 36);
		id[36] = '\0';
		rc = 0;
	} else {
		fprintf(stderr, "bench-events: POST /api/tickets: %ld %.200s%s\n",
			r.status, r.body, r.error);
	}
	tc_resp_release(&r);
	return rc;
}

/* Comma-separated ids as a Postgres array literal; malloc'd. */
static char *id_array(char (*ids)[37], size_t n)
{
	char *s = malloc(n * 38 + 3), *o = s;
	if (!s)
		abort();
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		memcpy(o, ids[i], 36);
		o += 36;
	}
	*o++ = '}';
	*o = '\0';
	return s;
}

static int wait_replicas(PGconn *c, const char *arr, long want)
{
	double deadline = mono_ms() + WAIT_MS;
	long have = 0;
	while ((have = pg_long(c, "SELECT count(*) FROM orders.tickets WHERE id = ANY($1::uuid[])",
			       arr)) < want &&
	       have >= 0 && mono_ms() < deadline)
		usleep(10000);
	if (have != want)
		fprintf(stderr, "bench-events: %ld of %ld replicas after %.0f s\n", have,
			want, WAIT_MS / 1e3);
	return have == want ? 0 : -1;
}

/* ---- event lag -------------------------------------------------------------- */

struct lag {
	char (*ids)[37];
	size_t n;
	double start, interval_ms;
	atomic_size_t next;
	const char *cookie;
	atomic_int failed;
};

static void *lag_main(void *arg)
{
	struct lag *l = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&l->next, 1);
		if (i >= l->n)
			return NULL;
		double due = l->start + (double)i * l->interval_ms, now = mono_ms();
		if (due > now)
			usleep((useconds_t)((due - now) * 1e3));
		if (create_ticket(l->cookie, l->ids[i]) < 0)
			atomic_fetch_add(&l->failed, 1);
	}
}

static const char SQL_LAG[] =
	"WITH d AS (SELECT extract(epoch FROM pe.processed_at - t.created_at) * 1000 AS ms "
	"FROM tickets.tickets t "
	"JOIN tickets.outbox o ON o.subject = 'ticket:created' AND (o.data->>'id')::uuid = t.id "
	"JOIN orders.processed_events pe ON pe.event_id = o.event_id "
	"AND pe.group_name = 'orders-service' "
	"WHERE t.id = ANY($1::uuid[])) "
	"SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1), "
	"round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), "
	"round(max(ms)::numeric, 1) FROM d";

static int cmd_lag(long n, long rate)
{
	struct lag l = { .n = (size_t)n, .interval_ms = 1000.0 / (double)rate };
	l.ids = calloc((size_t)n, sizeof(*l.ids));
	l.cookie = tc_forge_cookie("lag@bench.test", NULL);
	l.start = mono_ms();
	pthread_t th[LAG_THREADS];
	for (int i = 0; i < LAG_THREADS; i++)
		pthread_create(&th[i], NULL, lag_main, &l);
	for (int i = 0; i < LAG_THREADS; i++)
		pthread_join(th[i], NULL);
	if (l.failed)
		return 1;
	PGconn *c = pg();
	char *arr = id_array(l.ids, l.n);
	if (wait_replicas(c, arr, n) < 0)
		return 1;
	const char *const params[1] = { arr };
	PGresult *r = PQexecParams(c, SQL_LAG, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench-events: %s", PQresultErrorMessage(r));
		return 1;
	}
	printf("%s %s %s %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
	       PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
	PQclear(r);
	PQfinish(c);
	free(arr);
	return 0;
}

/* ---- flash sale ------------------------------------------------------------- */

struct buyer {
	const char *ticket;
	char *cookie;
	long status;
};

struct sale {
	struct buyer *b;
	size_t n;
	atomic_size_t next;
	pthread_barrier_t go;
};

static void *buyer_main(void *arg)
{
	struct sale *s = arg;
	pthread_barrier_wait(&s->go);
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->n)
			return NULL;
		char body[80];
		snprintf(body, sizeof(body), "{\"ticketId\":\"%s\"}", s->b[i].ticket);
		struct tc_resp r;
		tc_post_json("/api/orders", body, s->b[i].cookie, &r);
		s->b[i].status = r.status;
		tc_resp_release(&r);
	}
}

static int cmd_flash(long buyers, long tickets)
{
	char(*ids)[37] = calloc((size_t)tickets, sizeof(*ids));
	char *seller = tc_forge_cookie("seller@bench.test", NULL);
	for (long i = 0; i < tickets; i++)
		if (create_ticket(seller, ids[i]) < 0)
			return 1;
	PGconn *c = pg();
	char *arr = id_array(ids, (size_t)tickets);
	if (wait_replicas(c, arr, tickets) < 0)
		return 1;
	struct sale s = { .n = (size_t)buyers };
	s.b = calloc((size_t)buyers, sizeof(*s.b));
	for (long i = 0; i < buyers; i++) {
		char email[64];
		snprintf(email, sizeof(email), "buyer-%ld@bench.test", i);
		s.b[i].ticket = ids[i % tickets];
		s.b[i].cookie = tc_forge_cookie(email, NULL);
	}
	int nth = buyers < FLASH_THREADS ? (int)buyers : FLASH_THREADS;
	pthread_t th[FLASH_THREADS];
	pthread_barrier_init(&s.go, NULL, (unsigned)nth + 1);
	for (int i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, buyer_main, &s) != 0)
			abort();
	double t0 = mono_ms();
	pthread_barrier_wait(&s.go);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	double secs = (mono_ms() - t0) / 1e3;
	long created = 0, reserved = 0, other = 0;
	for (long i = 0; i < buyers; i++) {
		if (s.b[i].status == 201)
			created++;
		else if (s.b[i].status == 400)
			reserved++;
		else
			other++;
	}
	long doubles = pg_long(c,
			       "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n "
			       "FROM orders.orders WHERE ticket_id = ANY($1::uuid[]) AND status "
			       "IN ('created', 'awaiting:payment', 'complete') "
			       "GROUP BY ticket_id) x",
			       arr);
	printf("%.0f %ld %ld %ld %ld\n", (double)buyers / secs, created, reserved, other,
	       doubles);
	PQfinish(c);
	return 0;
}

/* A session for user id (an hour long, as tc_forge_cookie's). */
static char *cookie_for(const char *id)
{
	long long now = (long long)time(NULL);
	char *payload = tc_strf("{\"id\":\"%s\",\"email\":\"seller@bench.test\","
				"\"iat\":%lld,\"exp\":%lld}", id, now, now + 3600);
	const char *key = tc_jwt_key();
	char *tok = tc_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256", key,
			   strlen(key));
	char *cookie = tc_session_cookie(tok);
	free(payload);
	free(tok);
	return cookie;
}

int main(int argc, char **argv)
{
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "cookie") == 0) {
		char *c = argc == 2 ? tc_forge_cookie("bench@bench.test", NULL)
				    : cookie_for(argv[2]);
		puts(c);
		free(c);
		return 0;
	}
	long a = argc == 4 ? strtol(argv[2], NULL, 10) : 0;
	long b = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
	if (a > 0 && b > 0 && a <= 100000 && b <= 100000) {
		if (strcmp(argv[1], "lag") == 0)
			return cmd_lag(a, b);
		if (strcmp(argv[1], "flash") == 0)
			return cmd_flash(a, b);
	}
	fprintf(stderr, "usage: %s cookie [USER_ID] | lag N RATE | flash BUYERS TICKETS\n",
		argv[0]);
	return 2;
}
