/* concurrency.c: concurrency tests through nginx: the update race, a flash sale, event lag.
 *
 *   concurrency [scenario] [flash-sale] [event-lag]     (default: all three)
 *
 * scenario    reference 10: 200 create -> price 10 -> price 15 sequences in
 *             parallel (32 client threads) while a second worker process
 *             shares every consumer group; every orders.tickets replica must
 *             reach price 15, title 'ticket', version 2 within 60 s, and no
 *             entry of this run may stay pending or be dead-lettered.
 * flash-sale  10 tickets, 100 distinct buyers (10 per ticket) released at
 *             once by a barrier: exactly 10 orders, the rest 400 "Ticket is
 *             already reserved", never a 5xx; one live order per ticket.
 * event-lag   1,000 POSTs (16 threads); median and p99 of XADD time and of
 *             replica time minus the POST's response time. Measured, never
 *             asserted (only that every ticket got there).
 *
 * A standalone program rather than a Check suite: it owns a child process
 * and prints measurements. Each section counts as one check; failures are
 * printed as "concurrency.c:LINE:F:SECTION: ..." and the last line is
 * Check's own summary format, which scripts/test.sh's record() reads.
 *
 * Clocks: the client, Redis (stream entry ids) and Postgres (processed_at)
 * run on one machine, so CLOCK_REALTIME milliseconds compare directly.
 * "Replica visible" is orders.processed_events.processed_at, the start of
 * the consumer's transaction; its commit follows within a millisecond.
 *
 * Environment: TEST_BASE_URL, TEST_DATABASE_URL (superuser), TEST_REDIS_URL
 * (or REDIS_URL), JWT_KEY, and WORKER_BIN or BIN (the second worker; it
 * inherits REDIS_URL and the *_DATABASE_URL variables and logs to
 * $DATA/log/worker-2.log). Every loop has a count and a deadline.
 */
#include "../http/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCENARIO_N 200
#define SCENARIO_THREADS 32
#define CONVERGE_MS 60000.0
#define FLASH_TICKETS 10
#define FLASH_BUYERS 100
#define LAG_N 1000
#define LAG_THREADS 16
#define HTTP_PHASE_MS 60000.0
#define REPLICA_WAIT_MS 30000.0
#define PENDING_WAIT_MS 10000.0
#define WORKER_JOIN_MS 15000.0
#define WORKER_STOP_MS 20000.0
#define POLL_US 20000
#define ERR_MAX 512
#define GROUP "orders-service"
#define RESERVED "{\"errors\":[{\"message\":\"Ticket is already reserved\"}]}"
#define LIVE "('created', 'awaiting:payment', 'complete')"

static const char SQL_REPLICAS[] =
	"SELECT count(*), count(*) FILTER (WHERE price_cents = 1500 "
	"AND title = 'ticket' AND version = 2) "
	"FROM orders.tickets WHERE id = ANY($1::uuid[])";
static const char SQL_REPLICA_SHAPES[] =
	"SELECT version, price_cents, count(*) FROM orders.tickets "
	"WHERE id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2";
static const char SQL_SOURCES[] =
	"SELECT count(*), count(*) FILTER (WHERE price_cents = 1500 "
	"AND version = 2) FROM tickets.tickets WHERE id = ANY($1::uuid[])";
static const char SQL_REPLICA_COUNT[] =
	"SELECT count(*) FROM orders.tickets WHERE id = ANY($1::uuid[])";
static const char SQL_FLASH_ORDERS[] =
	"SELECT count(*), count(*) FILTER (WHERE status IN " LIVE "), "
	"count(DISTINCT ticket_id) FILTER (WHERE status IN " LIVE ") "
	"FROM orders.orders WHERE ticket_id = ANY($1::uuid[])";
/* When orders-service applied each ticket:created (ms since the epoch). */
static const char SQL_APPLIED_AT[] =
	"SELECT o.data->>'id', extract(epoch FROM p.processed_at) * 1000 "
	"FROM tickets.outbox o JOIN orders.processed_events p "
	"ON p.event_id = o.event_id AND p.group_name = '" GROUP "' "
	"WHERE o.subject = 'ticket:created' AND (o.data->>'id')::uuid = ANY($1::uuid[])";

/* ---- small things ------------------------------------------------------------ */

struct env {
	PGconn *pg;
	redisContext *redis;
};

/* One section's failures; fail() prints in Check's format. */
struct part {
	const char *name;
	int failures;
};

__attribute__((format(printf, 3, 4))) static void fail(struct part *p, int line,
							const char *fmt, ...)
{
	va_list ap;
	printf("concurrency.c:%d:F:%s: ", line, p->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	p->failures++;
}
#define FAIL(p, ...) fail((p), __LINE__, __VA_ARGS__)

static double clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
static double real_ms(void) { return clock_ms(CLOCK_REALTIME); }
static double mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

/* Structs below keep their ticket id first, so these compare elements by
 * id, and bsearch() takes the id itself as its key. */
static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorted here), nearest rank. */
static double quantile(double *v, size_t n, double q)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t k = (size_t)ceil(q * (double)n);
	return v[k ? k - 1 : 0];
}

/* "{id,id,...}" over the non-empty ids of n structs of size `size`. */
static char *uuid_array(const void *base, size_t n, size_t size)
{
	char *s = malloc(n * 37 + 3), *o = s;
	if (!s)
		abort();
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		const char *id = (const char *)base + i * size;
		if (!*id)
			continue;
		if (o[-1] != '{')
			*o++ = ',';
		memcpy(o, id, 36);
		o += 36;
	}
	*o++ = '}';
	*o = '\0';
	return s;
}

/* The string "id" of a JSON text, into out[37]; -1 if it has none. */
static int json_text_id(const char *text, size_t len, char out[37])
{
	struct json_tokener *t = json_tokener_new();
	struct json_object *o = t ? json_tokener_parse_ex(t, text, (int)len) : NULL, *id;
	int rc = -1;
	if (o && json_object_object_get_ex(o, "id", &id) &&
	    json_object_is_type(id, json_type_string) &&
	    json_object_get_string_len(id) == 36) {
		memcpy(out, json_object_get_string(id), 37);
		rc = 0;
	}
	json_object_put(o);
	if (t)
		json_tokener_free(t);
	return rc;
}

/* ---- Postgres and Redis -------------------------------------------------------- */

/* sql with one parameter; NULL (and a failure) unless it returns rows. */
static PGresult *pg_query(struct env *e, struct part *p, const char *sql,
			  const char *param)
{
	const char *v[1] = { param };
	PGresult *r = PQexecParams(e->pg, sql, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	FAIL(p, "query failed: %s", PQerrorMessage(e->pg));
	PQclear(r);
	return NULL;
}

/* The first row's first n columns as numbers; -1 on failure. */
static int pg_numbers(struct env *e, struct part *p, const char *sql,
		      const char *param, long *out, int n)
{
	PGresult *r = pg_query(e, p, sql, param);
	if (!r)
		return -1;
	int rc = PQntuples(r) == 1 && PQnfields(r) >= n ? 0 : -1;
	for (int i = 0; rc == 0 && i < n; i++)
		out[i] = strtol(PQgetvalue(r, 0, i), NULL, 10);
	PQclear(r);
	return rc;
}

static redisReply *redis_cmd(struct env *e, struct part *p, int argc,
			     const char **argv)
{
	redisReply *r = redisCommandArgv(e->redis, argc, argv, NULL);
	if (!r) {
		FAIL(p, "redis %s: %s", argv[0], e->redis->errstr);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		FAIL(p, "redis %s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* redis://[[user]:password@]host:port[/db] (the stacks' passwords need
 * no %-escapes, so none are decoded); AUTHs when there is a password. */
static redisContext *redis_open(const char *url)
{
	char host[256], user[128] = "", pass[256] = "";
	const char *h = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
	const char *at = strrchr(h, '@');
	if (at) {
		const char *colon = memchr(h, ':', (size_t)(at - h));
		size_t ul = colon ? (size_t)(colon - h) : 0;
		size_t pl = colon ? (size_t)(at - colon - 1) : 0;
		if (!colon || ul >= sizeof(user) || pl >= sizeof(pass))
			return NULL;
		memcpy(user, h, ul);
		user[ul] = '\0';
		memcpy(pass, colon + 1, pl);
		pass[pl] = '\0';
		h = at + 1;
	}
	size_t hl = strcspn(h, ":/");
	long port = 6379;
	if (hl == 0 || hl >= sizeof(host))
		return NULL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (h[hl] == ':')
		port = strtol(h + hl + 1, NULL, 10);
	struct timeval tv = { 10, 0 };
	redisContext *c = redisConnectWithTimeout(host, (int)port, tv);
	if (c && !c->err)
		redisSetTimeout(c, tv);
	if (c && !c->err && *pass) {
		redisReply *r = *user ? redisCommand(c, "AUTH %s %s", user, pass)
				      : redisCommand(c, "AUTH %s", pass);
		if (!r || r->type == REDIS_REPLY_ERROR)
			snprintf(c->errstr, sizeof(c->errstr), "AUTH: %s",
				 r && r->str ? r->str : "no answer");
		if (r && r->type == REDIS_REPLY_ERROR)
			c->err = REDIS_ERR_OTHER;
		if (r)
			freeReplyObject(r);
	}
	return c;
}

static const char *field(const redisReply *f, const char *name)
{
	for (size_t i = 0; f && i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING)
			return f->element[i + 1]->str;
	return NULL;
}

typedef void scan_fn(void *arg, long long ms, const redisReply *fields);

/* Every entry of stream from start_ms on, XRANGE in pages; 0 or -1. */
static int stream_scan(struct env *e, struct part *p, const char *stream,
		       double start_ms, scan_fn *fn, void *arg)
{
	char from[64];
	snprintf(from, sizeof(from), "%lld-0", (long long)start_ms);
	for (int page = 0; page < 100; page++) {
		const char *argv[] = { "XRANGE", stream, from, "+", "COUNT", "500" };
		redisReply *r = redis_cmd(e, p, 6, argv);
		if (!r)
			return -1;
		size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		for (size_t i = 0; i < n; i++) {
			const redisReply *ent = r->element[i];
			if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2)
				continue;
			fn(arg, strtoll(ent->element[0]->str, NULL, 10), ent->element[1]);
			if (i + 1 == n)
				snprintf(from, sizeof(from), "(%s", ent->element[0]->str);
		}
		freeReplyObject(r);
		if (n < 500)
			return 0;
	}
	FAIL(p, "%s: more than 100 pages of entries", stream);
	return -1;
}

/* Entries of `stream` pending in GROUP with ids from start_ms; -1 on error. */
static long pending_since(struct env *e, struct part *p, const char *stream,
			  double start_ms)
{
	char from[64];
	snprintf(from, sizeof(from), "%lld-0", (long long)start_ms);
	const char *argv[] = { "XPENDING", stream, GROUP, from, "+", "1000" };
	redisReply *r = redis_cmd(e, p, 6, argv);
	if (!r)
		return -1;
	long n = r->type == REDIS_REPLY_ARRAY ? (long)r->elements : -1;
	freeReplyObject(r);
	return n;
}

/* ---- a bounded thread pool --------------------------------------------------- */

struct pool {
	void (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next;
};

static void *pool_main(void *arg)
{
	struct pool *p = arg;
	for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;)
		p->fn(p->arg, i);
	return NULL;
}

/* fn(arg, 0..n) on nthreads threads; returns when all are done. */
static void pool_run(size_t nthreads, size_t n, void (*fn)(void *, size_t), void *arg)
{
	struct pool p = { fn, arg, n, 0 };
	pthread_t t[64];
	size_t started = 0;
	for (; started < nthreads && started < 64; started++)
		if (pthread_create(&t[started], NULL, pool_main, &p) != 0)
			break;
	if (!started)
		pool_main(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
}

/* ---- HTTP ------------------------------------------------------------------------ */

/* POST /api/tickets; the new id into id[37]. The status, or 0. */
static long create_ticket(const char *cookie, int price, char id[37],
			  char *err, size_t errlen)
{
	struct tc_resp r;
	char *body = tc_strf("{\"title\":\"ticket\",\"price\":%d}", price);
	tc_post_json("/api/tickets", body, cookie, &r);
	long st = r.status;
	if (st != 201 || json_text_id(r.body, r.body_len, id) < 0) {
		snprintf(err, errlen, "POST /api/tickets: %ld %.200s%.200s", st, r.body, r.error);
		id[0] = '\0';
		st = st == 201 ? 0 : st;
	}
	tc_resp_release(&r);
	free(body);
	return st;
}

static long update_ticket(const char *cookie, const char *id, int price,
			  char *err, size_t errlen)
{
	struct tc_resp r;
	char *path = tc_strf("/api/tickets/%s", id);
	char *body = tc_strf("{\"title\":\"ticket\",\"price\":%d}", price);
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .cookie = cookie };
	tc_request("PUT", path, &o, &r);
	if (r.status != 200)
		snprintf(err, errlen, "PUT %s price %d: %ld %.200s%.200s", path, price,
			 r.status, r.body, r.error);
	long st = r.status;
	tc_resp_release(&r);
	free(body);
	free(path);
	return st;
}

/* ---- the second worker -------------------------------------------------------- */

struct worker {
	pid_t pid;
	char *log;     /* its stdout and stderr */
	off_t log_at;  /* where this run's lines start */
	bool log_tmp;  /* ours to remove */
};

/* The log: $DATA/log/worker-2.log (the sanitizer check of scripts/test.sh
 * reads $DATA/log), else a temporary file. -1 on failure. */
static int worker_log(struct worker *w)
{
	const char *data = getenv("DATA");
	int fd;
	if (data && *data) {
		w->log = tc_strf("%s/log/worker-2.log", data);
		fd = open(w->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	} else {
		w->log = tc_strf("/tmp/concurrency-worker.XXXXXX");
		fd = mkostemp(w->log, O_APPEND | O_CLOEXEC);
		w->log_tmp = fd >= 0;
	}
	w->log_at = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	return fd;
}

static int worker_start(struct part *p, struct worker *w)
{
	const char *bin = getenv("WORKER_BIN"), *dir = getenv("BIN");
	char *path = bin && *bin ? tc_strf("%s", bin) : tc_strf("%s/worker", dir ? dir : ".");
	pid_t parent = getpid();
	int fd = -1;
	w->pid = -1;
	if (access(path, X_OK) != 0)
		FAIL(p, "no worker program at %s (set BIN or WORKER_BIN)", path);
	else if ((fd = worker_log(w)) < 0)
		FAIL(p, "worker log %s: %s", w->log, strerror(errno));
	if (fd >= 0) {
		fflush(NULL);
		w->pid = fork();
	}
	if (w->pid == 0) {
		/* Never outlive this program, even when it is killed. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(path, "worker", (char *)NULL);
		_exit(127);
	}
	if (fd >= 0 && w->pid < 0)
		FAIL(p, "fork: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
	return w->pid > 0 ? 0 : -1;
}

/* Whether the worker has logged that its GROUP consumer started (its
 * consumer name is host-pid-n). Reads at most 1 MB of this run's log. */
static bool worker_joined(const struct worker *w)
{
	char needle[32], *buf = malloc(1 << 20);
	int fd = open(w->log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 && buf ? pread(fd, buf, (1 << 20) - 1, w->log_at) : -1;
	bool found = false;
	snprintf(needle, sizeof(needle), "-%d-", (int)w->pid);
	for (char *line = buf, *end; n > 0 && !found && line < buf + n; line = end + 1) {
		buf[n] = '\0';
		end = strchr(line, '\n');
		if (!end)
			break; /* a line still being written */
		*end = '\0';
		found = strstr(line, "group=" GROUP " ") && strstr(line, needle) &&
			strstr(line, " started");
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return found;
}

/* Whether the worker's consumer received entries of stream (Redis makes
 * a group's consumer on its first delivery). */
static bool worker_served(struct env *e, struct part *p, const struct worker *w,
			  const char *stream)
{
	char needle[32];
	snprintf(needle, sizeof(needle), "-%d-", (int)w->pid);
	const char *argv[] = { "XINFO", "CONSUMERS", stream, GROUP };
	redisReply *r = redis_cmd(e, p, 4, argv);
	bool found = false;
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *name = field(r->element[i], "name");
		found = found || (name && strstr(name, needle));
	}
	freeReplyObject(r);
	return found;
}

/* SIGTERM, wait (bounded), SIGKILL if it must; a failure unless it exits 0. */
static void worker_stop(struct part *p, struct worker *w)
{
	int status = 0;
	pid_t got = w->pid > 0 ? waitpid(w->pid, &status, WNOHANG) : -1;
	if (got == w->pid) {
		FAIL(p, "the second worker died during the run (status 0x%x); see %s",
		     status, w->log);
	} else if (got == 0) {
		kill(w->pid, SIGTERM);
		double deadline = mono_ms() + WORKER_STOP_MS;
		while ((got = waitpid(w->pid, &status, WNOHANG)) == 0 &&
		       mono_ms() < deadline)
			usleep(POLL_US);
		if (got == 0) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
			FAIL(p, "the second worker ignored SIGTERM for %.0f s",
			     WORKER_STOP_MS / 1e3);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			FAIL(p, "the second worker exited with status 0x%x; see %s", status,
			     w->log);
		}
	}
	if (w->log_tmp)
		unlink(w->log);
	free(w->log);
}

/* ---- 1. the course's scenario (reference 10) --------------------------------------- */

struct seq {
	char id[37]; /* first: see cmp_id */
	double t_done;
	bool ok;
	char err[ERR_MAX];
};

struct scenario {
	const char *cookie;
	struct seq *seqs;
	double deadline;
};

static void scenario_seq(void *arg, size_t i)
{
	struct scenario *s = arg;
	struct seq *q = &s->seqs[i];
	if (mono_ms() > s->deadline) {
		snprintf(q->err, sizeof(q->err), "not started before the deadline");
		return;
	}
	if (create_ticket(s->cookie, 5, q->id, q->err, sizeof(q->err)) != 201 ||
	    update_ticket(s->cookie, q->id, 10, q->err, sizeof(q->err)) != 200 ||
	    update_ticket(s->cookie, q->id, 15, q->err, sizeof(q->err)) != 200)
		return;
	q->t_done = real_ms();
	q->ok = true;
}

/* Prints what the replicas look like (after a timeout). */
static void scenario_shapes(struct env *e, struct part *p, const char *ids)
{
	PGresult *r = pg_query(e, p, SQL_REPLICA_SHAPES, ids);
	for (int i = 0; r && i < PQntuples(r); i++)
		printf("scenario:   %s replicas at version %s, %s cents\n",
		       PQgetvalue(r, i, 2), PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
}

/* Polls until every replica is price 15, version 2; ms after last_put. */
static double scenario_converge(struct env *e, struct part *p, const char *ids,
				long n, double last_put)
{
	long c[2] = { 0, 0 };
	double deadline = mono_ms() + CONVERGE_MS - (real_ms() - last_put);
	while (pg_numbers(e, p, SQL_REPLICAS, ids, c, 2) == 0) {
		if (c[1] == n)
			return real_ms() - last_put;
		if (mono_ms() > deadline)
			break;
		usleep(POLL_US);
	}
	FAIL(p, "after %.0f s, %ld of %ld replicas exist and %ld have price 15, "
	     "title 'ticket', version 2", CONVERGE_MS / 1e3, c[0], n, c[1]);
	scenario_shapes(e, p, ids);
	return -1;
}

struct dead_scan {
	const struct seq *seqs;
	size_t n;
	long hits;
};

static void dead_entry(void *arg, long long ms, const redisReply *fields)
{
	struct dead_scan *d = arg;
	const char *data = field(fields, "data"), *group = field(fields, "group");
	char id[37];
	(void)ms;
	if (data && group && strcmp(group, GROUP) == 0 &&
	    json_text_id(data, strlen(data), id) == 0 &&
	    bsearch(id, d->seqs, d->n, sizeof(*d->seqs), cmp_id))
		d->hits++;
}

/* No ticket event of this run pending in GROUP (bounded wait: the ack
 * follows the commit) and none dead-lettered. */
static void scenario_settled(struct env *e, struct part *p, struct seq *seqs,
			     size_t n, double start)
{
	static const char *const streams[] = { "ticket:created", "ticket:updated" };
	double deadline = mono_ms() + PENDING_WAIT_MS;
	for (size_t i = 0; i < 2; i++) {
		long k;
		while ((k = pending_since(e, p, streams[i], start)) > 0 &&
		       mono_ms() < deadline)
			usleep(POLL_US);
		if (k != 0)
			FAIL(p, "%ld entries of %s still pending in %s", k, streams[i], GROUP);
	}
	struct dead_scan d = { seqs, n, 0 };
	qsort(seqs, n, sizeof(*seqs), cmp_id);
	stream_scan(e, p, "dead-letter", start, dead_entry, &d);
	if (d.hits)
		FAIL(p, "%ld events of these tickets were dead-lettered", d.hits);
}

static void scenario_check_db(struct env *e, struct part *p, struct seq *seqs,
			      size_t n, double start, double last_put)
{
	long src[2] = { 0, 0 }, nok = 0;
	for (size_t i = 0; i < n; i++) /* judge only the complete sequences */
		if (seqs[i].ok)
			nok++;
		else
			seqs[i].id[0] = '\0';
	char *ids = uuid_array(seqs, n, sizeof(*seqs));
	if (pg_numbers(e, p, SQL_SOURCES, ids, src, 2) == 0 && src[1] != nok)
		FAIL(p, "tickets.tickets: %ld of %ld at price 15, version 2", src[1], nok);
	double t = nok ? scenario_converge(e, p, ids, nok, last_put) : -1;
	if (t >= 0)
		printf("scenario: all %ld replicas at price 15, version 2 %.0f ms after "
		       "the last PUT\n", nok, t);
	free(ids);
	if (t >= 0)
		scenario_settled(e, p, seqs, n, start);
}

static void scenario_http(struct part *p, struct seq *seqs, size_t n,
			  double *last_put)
{
	char *cookie = tc_forge_cookie("scenario@test.com", NULL);
	struct scenario s = { cookie, seqs, mono_ms() + HTTP_PHASE_MS };
	double t0 = mono_ms();
	pool_run(SCENARIO_THREADS, n, scenario_seq, &s);
	double wall = mono_ms() - t0;
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (!seqs[i].ok && bad++ < 5)
			FAIL(p, "sequence %zu: %s", i, seqs[i].err);
		if (seqs[i].t_done > *last_put)
			*last_put = seqs[i].t_done;
	}
	if (bad)
		FAIL(p, "%zu of %zu sequences failed", bad, n);
	printf("scenario: %zu sequences (%zu requests) in %.0f ms, %.0f requests/s\n",
	       n, 3 * n, wall, 3.0 * (double)n / (wall / 1e3));
	free(cookie);
}

static int run_scenario(struct env *e)
{
	struct part p = { "scenario", 0 };
	struct worker w = { 0 };
	struct seq *seqs = calloc(SCENARIO_N, sizeof(*seqs));
	double start = real_ms(), last_put = 0, deadline = mono_ms() + WORKER_JOIN_MS;
	if (!seqs)
		abort();
	if (worker_start(&p, &w) < 0)
		goto stop;
	while (!worker_joined(&w) && waitpid(w.pid, NULL, WNOHANG) == 0 &&
	       mono_ms() < deadline)
		usleep(POLL_US);
	if (!worker_joined(&w)) {
		FAIL(&p, "the second worker (pid %d) never started its %s consumer; "
		     "see %s", (int)w.pid, GROUP, w.log);
		goto stop;
	}
	scenario_http(&p, seqs, SCENARIO_N, &last_put);
	scenario_check_db(e, &p, seqs, SCENARIO_N, start, last_put ? last_put : real_ms());
	bool c = worker_served(e, &p, &w, "ticket:created"),
	     u = worker_served(e, &p, &w, "ticket:updated");
	printf("scenario: the second worker received ticket:created entries: %s, "
	       "ticket:updated entries: %s\n", c ? "yes" : "no", u ? "yes" : "no");
	if (!c && !u)
		FAIL(&p, "the second worker received no entry: the group was not shared");
stop:
	worker_stop(&p, &w);
	free(seqs);
	return p.failures;
}

/* ---- 2. the flash sale ------------------------------------------------------------ */

struct flash_ticket {
	char id[37]; /* first: see cmp_id */
	int wins;
};

struct buyer {
	const char *ticket;
	char *cookie;
	pthread_barrier_t *go;
	double t_start, t_end;
	long status;
	bool reserved_msg;
	char err[ERR_MAX];
};

static void *buyer_main(void *arg)
{
	struct buyer *b = arg;
	struct tc_resp r;
	char *body = tc_strf("{\"ticketId\":\"%s\"}", b->ticket);
	pthread_barrier_wait(b->go);
	b->t_start = real_ms();
	tc_post_json("/api/orders", body, b->cookie, &r);
	b->t_end = real_ms();
	b->status = r.status;
	b->reserved_msg = r.status == 400 && tc_json_is(&r, RESERVED);
	snprintf(b->err, sizeof(b->err), "%ld %.200s%.200s", r.status, r.body, r.error);
	tc_resp_release(&r);
	free(body);
	return NULL;
}

/* Creates the tickets and waits until orders has every replica. */
static int flash_setup(struct env *e, struct part *p, struct flash_ticket *t)
{
	char *seller = tc_forge_cookie("seller@test.com", NULL), err[ERR_MAX];
	int rc = 0;
	for (size_t i = 0; i < FLASH_TICKETS && rc == 0; i++)
		if (create_ticket(seller, 20, t[i].id, err, sizeof(err)) != 201) {
			FAIL(p, "%s", err);
			rc = -1;
		}
	free(seller);
	char *ids = uuid_array(t, FLASH_TICKETS, sizeof(*t));
	long have = 0;
	double deadline = mono_ms() + REPLICA_WAIT_MS;
	while (rc == 0 && pg_numbers(e, p, SQL_REPLICA_COUNT, ids, &have, 1) == 0 &&
	       have < FLASH_TICKETS && mono_ms() < deadline)
		usleep(POLL_US);
	if (rc == 0 && have != FLASH_TICKETS) {
		FAIL(p, "only %ld of %d tickets replicated to orders in %.0f s", have,
		     FLASH_TICKETS, REPLICA_WAIT_MS / 1e3);
		rc = -1;
	}
	free(ids);
	return rc;
}

/* Runs every buyer at once; the wall time from the first send to the last
 * answer, in ms. */
static double flash_buy(struct part *p, struct flash_ticket *t, struct buyer *b)
{
	pthread_barrier_t go;
	pthread_t th[FLASH_BUYERS];
	size_t n = 0;
	pthread_barrier_init(&go, NULL, FLASH_BUYERS);
	for (size_t i = 0; i < FLASH_BUYERS; i++) {
		char *email = tc_strf("buyer-%zu@test.com", i);
		b[i].ticket = t[i % FLASH_TICKETS].id;
		b[i].cookie = tc_forge_cookie(email, NULL);
		b[i].go = &go;
		free(email);
	}
	for (; n < FLASH_BUYERS; n++)
		if (pthread_create(&th[n], NULL, buyer_main, &b[n]) != 0)
			break;
	if (n < FLASH_BUYERS) { /* the barrier would never open */
		FAIL(p, "could only start %zu buyer threads", n);
		abort();
	}
	double first = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		first = i == 0 || b[i].t_start < first ? b[i].t_start : first;
		last = b[i].t_end > last ? b[i].t_end : last;
	}
	pthread_barrier_destroy(&go);
	return last - first;
}

static void flash_check(struct env *e, struct part *p, struct flash_ticket *t,
			struct buyer *b)
{
	size_t created = 0, reserved = 0, other = 0;
	for (size_t i = 0; i < FLASH_BUYERS; i++) {
		if (b[i].status == 201) {
			created++;
			t[i % FLASH_TICKETS].wins++;
		} else if (b[i].reserved_msg) {
			reserved++;
		} else if (other++ < 5) {
			FAIL(p, "buyer %zu: %s", i, b[i].err);
		}
	}
	if (created != FLASH_TICKETS || reserved != FLASH_BUYERS - FLASH_TICKETS || other)
		FAIL(p, "%zu orders, %zu \"already reserved\", %zu other answers; want %d, "
		     "%d, 0", created, reserved, other, FLASH_TICKETS,
		     FLASH_BUYERS - FLASH_TICKETS);
	for (size_t i = 0; i < FLASH_TICKETS; i++)
		if (t[i].wins != 1)
			FAIL(p, "ticket %s sold %d times", t[i].id, t[i].wins);
	long c[3] = { 0, 0, 0 };
	char *ids = uuid_array(t, FLASH_TICKETS, sizeof(*t));
	if (pg_numbers(e, p, SQL_FLASH_ORDERS, ids, c, 3) == 0 &&
	    (c[0] != FLASH_TICKETS || c[1] != FLASH_TICKETS || c[2] != FLASH_TICKETS))
		FAIL(p, "orders.orders holds %ld orders, %ld live, on %ld tickets; want "
		     "%d each", c[0], c[1], c[2], FLASH_TICKETS);
	free(ids);
}

static int run_flash_sale(struct env *e)
{
	struct part p = { "flash-sale", 0 };
	struct flash_ticket t[FLASH_TICKETS];
	struct buyer *b = calloc(FLASH_BUYERS, sizeof(*b));
	if (!b)
		abort();
	memset(t, 0, sizeof(t));
	if (flash_setup(e, &p, t) == 0) {
		double wall = flash_buy(&p, t, b);
		flash_check(e, &p, t, b);
		printf("flash-sale: %d buyers on %d tickets decided in %.0f ms: %.0f "
		       "orders decided/s\n", FLASH_BUYERS, FLASH_TICKETS, wall,
		       FLASH_BUYERS / (wall / 1e3));
	}
	for (size_t i = 0; i < FLASH_BUYERS; i++)
		free(b[i].cookie);
	free(b);
	return p.failures;
}

/* ---- 3. event lag ------------------------------------------------------------------ */

struct post {
	char id[37]; /* first: see cmp_id */
	double t_send, t_resp, t_xadd, t_applied;
	long status;
	char err[ERR_MAX];
};

struct lag {
	const char *cookie;
	struct post *posts;
	double deadline;
};

static void lag_post(void *arg, size_t i)
{
	struct lag *l = arg;
	struct post *q = &l->posts[i];
	if (mono_ms() > l->deadline) {
		snprintf(q->err, sizeof(q->err), "not sent before the deadline");
		return;
	}
	q->t_send = real_ms();
	q->status = create_ticket(l->cookie, 7, q->id, q->err, sizeof(q->err));
	q->t_resp = real_ms();
}

struct xadd_scan {
	struct post *posts;
	size_t n;
};

static void xadd_entry(void *arg, long long ms, const redisReply *fields)
{
	struct xadd_scan *x = arg;
	const char *data = field(fields, "data");
	char id[37];
	struct post *q;
	if (data && json_text_id(data, strlen(data), id) == 0 &&
	    (q = bsearch(id, x->posts, x->n, sizeof(*x->posts), cmp_id)) &&
	    q->t_xadd == 0) /* the first copy, if the relay sent two */
		q->t_xadd = (double)ms;
}

/* Waits (bounded) until orders applied every ticket:created, then reads
 * the times; the number of posts with both times. */
static size_t lag_collect(struct env *e, struct part *p, struct post *q, size_t n,
			  size_t want, double start)
{
	char *ids = uuid_array(q, n, sizeof(*q));
	PGresult *r = NULL;
	double deadline = mono_ms() + REPLICA_WAIT_MS;
	for (;;) {
		PQclear(r);
		r = pg_query(e, p, SQL_APPLIED_AT, ids);
		if (!r || (size_t)PQntuples(r) >= want || mono_ms() > deadline)
			break;
		usleep(POLL_US * 5);
	}
	for (int i = 0; r && i < PQntuples(r); i++) {
		struct post *hit = bsearch(PQgetvalue(r, i, 0), q, n, sizeof(*q), cmp_id);
		if (hit)
			hit->t_applied = strtod(PQgetvalue(r, i, 1), NULL);
	}
	PQclear(r);
	free(ids);
	struct xadd_scan x = { q, n };
	stream_scan(e, p, "ticket:created", start, xadd_entry, &x);
	size_t both = 0;
	for (size_t i = 0; i < n; i++)
		both += q[i].t_xadd > 0 && q[i].t_applied > 0;
	return both;
}

static void lag_print(const char *what, double *v, size_t n)
{
	printf("event-lag: %-32s p50 %7.1f ms   p99 %7.1f ms\n", what,
	       quantile(v, n, 0.5), quantile(v, n, 0.99));
}

static void lag_report(struct post *q, size_t n, double wall)
{
	double *resp = calloc(n, sizeof(double)), *sent = calloc(n, sizeof(double)),
	       *xadd = calloc(n, sizeof(double)), *repl = calloc(n, sizeof(double));
	size_t k = 0;
	if (!resp || !sent || !xadd || !repl)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!q[i].t_xadd || !q[i].t_applied)
			continue;
		resp[k] = q[i].t_resp - q[i].t_send;
		sent[k] = q[i].t_xadd - q[i].t_send;
		xadd[k] = q[i].t_xadd - q[i].t_resp;
		repl[k++] = q[i].t_applied - q[i].t_resp;
	}
	printf("event-lag: %zu tickets posted in %.0f ms (%.0f/s, %d client threads)\n",
	       n, wall, (double)n / (wall / 1e3), LAG_THREADS);
	lag_print("POST response time", resp, k);
	lag_print("XADD - POST sent", sent, k);
	lag_print("XADD - POST response", xadd, k);
	lag_print("replica applied - POST response", repl, k);
	double first = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		if (!q[i].t_applied)
			continue;
		first = !first || q[i].t_applied < first ? q[i].t_applied : first;
		last = q[i].t_applied > last ? q[i].t_applied : last;
	}
	printf("event-lag: %s applied %zu ticket:created in %.0f ms (%.0f/s)\n", GROUP,
	       k, last - first, last > first ? (double)k / ((last - first) / 1e3) : 0.0);
	free(resp);
	free(sent);
	free(xadd);
	free(repl);
}

static int run_event_lag(struct env *e)
{
	struct part p = { "event-lag", 0 };
	struct post *q = calloc(LAG_N, sizeof(*q));
	char *cookie = tc_forge_cookie("lag@test.com", NULL);
	if (!q)
		abort();
	struct lag l = { cookie, q, mono_ms() + HTTP_PHASE_MS };
	double start = real_ms(), t0 = mono_ms();
	pool_run(LAG_THREADS, LAG_N, lag_post, &l);
	double wall = mono_ms() - t0;
	size_t bad = 0;
	for (size_t i = 0; i < LAG_N; i++)
		if (q[i].status != 201 && bad++ < 5)
			FAIL(&p, "ticket %zu: %s", i, q[i].err);
	if (bad)
		FAIL(&p, "%zu of %d POSTs failed", bad, LAG_N);
	qsort(q, LAG_N, sizeof(*q), cmp_id);
	size_t both = lag_collect(e, &p, q, LAG_N, LAG_N - bad, start);
	if (both != LAG_N - bad)
		FAIL(&p, "only %zu of %zu tickets reached the stream and the replica",
		     both, LAG_N - bad);
	lag_report(q, LAG_N, wall);
	free(cookie);
	free(q);
	return p.failures;
}

/* ---- main ----------------------------------------------------------------------------- */

struct section {
	const char *name;
	int (*run)(struct env *e);
};

static const struct section sections[] = {
	{ "scenario", run_scenario },
	{ "flash-sale", run_flash_sale },
	{ "event-lag", run_event_lag },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static int env_open(struct env *e)
{
	const char *db = getenv("TEST_DATABASE_URL"), *redis = getenv("TEST_REDIS_URL");
	if (!redis || !*redis)
		redis = getenv("REDIS_URL");
	if (!db || !*db || !redis || !*redis) {
		fputs("concurrency: TEST_DATABASE_URL and TEST_REDIS_URL must be set\n", stderr);
		return -1;
	}
	e->pg = PQconnectdb(db);
	if (PQstatus(e->pg) != CONNECTION_OK) {
		fprintf(stderr, "concurrency: postgres: %s", PQerrorMessage(e->pg));
		return -1;
	}
	e->redis = redis_open(redis);
	if (!e->redis || e->redis->err) {
		fprintf(stderr, "concurrency: redis %s: %s\n",
			strrchr(redis, '@') ? strrchr(redis, '@') + 1 : redis, /* no password */
			e->redis ? e->redis->errstr : "bad URL");
		return -1;
	}
	return 0;
}

/* Which sections argv names (all when none); -1 on an unknown name. */
static int pick(int argc, char **argv, bool want[NSECTIONS])
{
	for (size_t s = 0; s < NSECTIONS; s++)
		want[s] = argc < 2;
	for (int i = 1; i < argc; i++) {
		size_t s = 0;
		while (s < NSECTIONS && strcmp(argv[i], sections[s].name) != 0)
			s++;
		if (s == NSECTIONS)
			return -1;
		want[s] = true;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool want[NSECTIONS];
	struct env e = { NULL, NULL };
	int checks = 0, failed = 0;
	if (pick(argc, argv, want) < 0) {
		fputs("usage: concurrency [scenario] [flash-sale] [event-lag]\n", stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (env_open(&e) < 0) {
		failed = checks = 1;
		goto out;
	}
	for (size_t s = 0; s < NSECTIONS; s++) {
		if (!want[s])
			continue;
		checks++;
		int f = sections[s].run(&e);
		failed += f > 0;
		printf("%s: %s\n", sections[s].name, f ? "FAILED" : "ok");
	}
out:
	printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n",
	       checks ? 100 * (checks - failed) / checks : 0, checks, failed);
	if (e.redis)
		redisFree(e.redis);
	PQfinish(e.pg);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
