/* bare.c: the bare libfcgi + libpq ceiling for `make bench`.
 *
 *   bench-bare SOCKET NPROC
 *
 * NPROC processes (forked here; the parent only waits and forwards
 * SIGTERM) accept on one FastCGI unix socket, one request at a time each,
 * with one libpq connection per process (DATABASE_URL) and simple,
 * unprepared statements: what a first C program would do. Routes on
 * DOCUMENT_URI:
 *   /bare/hello         "hello"
 *   /bare/list          the list page's query, rows escaped into an HTML table
 *   /bare/list.json     the same rows as a JSON array (escaped by hand)
 *   /bare/one/UUID      the show query by primary key, as JSON
 *   /bare/insert-xadd   INSERT ... RETURNING into bench_insert, then XADD
 *                       (REDIS_PORT, AUTH with REDISCLI_AUTH if set) of the
 *                       new id: "a write plus its event"
 * It shares no code with the app on purpose.
 */
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_SQL                                                            \
	"SELECT id, title, price_cents, user_id, order_id, version "        \
	"FROM tickets.tickets WHERE order_id IS NULL ORDER BY seq"
#define ONE_SQL                                                             \
	"SELECT id, title, price_cents, user_id, order_id, version "        \
	"FROM tickets.tickets WHERE id = $1"
#define INSERT_SQL "INSERT INTO bench_insert (title, price_cents) VALUES ($1, $2) RETURNING id"

struct out {
	char *p;
	size_t n, cap;
};

static PGconn *db;
static redisContext *redis;

static void put(struct out *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		while (b->n + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 8192;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(struct out *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_html(struct out *b, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *e;
		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		put(b, run, (size_t)(s - run));
		puts_(b, e);
		run = s + 1;
	}
	put(b, run, (size_t)(s - run));
}

static void put_json(struct out *b, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		char e[8];
		snprintf(e, sizeof(e), "\\u%04x", c);
		put(b, run, (size_t)(s - run));
		puts_(b, e);
		run = s + 1;
	}
	put(b, run, (size_t)(s - run));
}

static void put_price(struct out *b, const char *cents)
{
	long long c = strtoll(cents, NULL, 10);
	char p[32];
	if (c % 100)
		snprintf(p, sizeof(p), "%lld.%02lld", c / 100, c % 100);
	else
		snprintf(p, sizeof(p), "%lld", c / 100);
	puts_(b, p);
}

static void respond(FCGX_Request *rq, const char *status, const char *type,
		    const struct out *b)
{
	char h[256];
	int n = snprintf(h, sizeof(h),
			 "Status: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			 status, type, b->n);
	FCGX_PutStr(h, n, rq->out);
	FCGX_PutStr(b->p, (int)b->n, rq->out);
}

static int db_ready(void)
{
	if (db && PQstatus(db) == CONNECTION_OK)
		return 1;
	if (db)
		PQfinish(db);
	const char *url = getenv("DATABASE_URL");
	db = PQconnectdb(url ? url : "");
	return PQstatus(db) == CONNECTION_OK;
}

static int redis_ready(void)
{
	if (redis && !redis->err)
		return 1;
	if (redis)
		redisFree(redis);
	const char *p = getenv("REDIS_PORT"), *pw = getenv("REDISCLI_AUTH");
	redis = redisConnect("127.0.0.1", p ? (int)strtol(p, NULL, 10) : 6379);
	if (!redis || redis->err)
		return 0;
	if (pw && *pw) { /* the stack's default user (its env file), as ours AUTH once */
		redisReply *r = redisCommand(redis, "AUTH %s", pw);
		int ok = r && r->type != REDIS_REPLY_ERROR;
		if (r)
			freeReplyObject(r);
		if (!ok) {
			redisFree(redis);
			redis = NULL;
			return 0;
		}
	}
	return 1;
}

static void ticket_json(struct out *b, PGresult *r, int i)
{
	puts_(b, "{\"title\":\"");
	put_json(b, PQgetvalue(r, i, 1));
	puts_(b, "\",\"price\":");
	put_price(b, PQgetvalue(r, i, 2));
	puts_(b, ",\"userId\":\"");
	puts_(b, PQgetvalue(r, i, 3));
	if (!PQgetisnull(r, i, 4)) {
		puts_(b, "\",\"orderId\":\"");
		puts_(b, PQgetvalue(r, i, 4));
	}
	puts_(b, "\",\"version\":");
	puts_(b, PQgetvalue(r, i, 5));
	puts_(b, ",\"id\":\"");
	puts_(b, PQgetvalue(r, i, 0));
	puts_(b, "\"}");
}

static void list(FCGX_Request *rq, struct out *b, int html)
{
	PGresult *r = db_ready() ? PQexec(db, LIST_SQL) : NULL;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		puts_(b, "db error");
		respond(rq, "500 Internal Server Error", "text/plain", b);
		return;
	}
	int n = PQntuples(r);
	if (html)
		puts_(b, "<!doctype html><html><head><title>Tickets</title></head><body>"
			 "<table><tr><th>Title</th><th>Price</th><th>Link</th></tr>");
	else
		puts_(b, "[");
	for (int i = 0; i < n; i++) {
		if (html) {
			puts_(b, "<tr><td>");
			put_html(b, PQgetvalue(r, i, 1));
			puts_(b, "</td><td>");
			put_price(b, PQgetvalue(r, i, 2));
			puts_(b, "</td><td><a href=\"/tickets/");
			put_html(b, PQgetvalue(r, i, 0));
			puts_(b, "\">View</a></td></tr>");
		} else {
			if (i)
				puts_(b, ",");
			ticket_json(b, r, i);
		}
	}
	puts_(b, html ? "</table></body></html>" : "]");
	PQclear(r);
	respond(rq, "200 OK", html ? "text/html; charset=utf-8" : "application/json", b);
}

static void one(FCGX_Request *rq, struct out *b, const char *id)
{
	const char *params[1] = { id };
	PGresult *r = db_ready() ? PQexecParams(db, ONE_SQL, 1, NULL, params, NULL, NULL, 0)
				 : NULL;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		puts_(b, "not found");
		respond(rq, "404 Not Found", "text/plain", b);
		return;
	}
	ticket_json(b, r, 0);
	PQclear(r);
	respond(rq, "200 OK", "application/json", b);
}

static void insert_xadd(FCGX_Request *rq, struct out *b)
{
	const char *params[2] = { "bench", "1000" };
	PGresult *r = db_ready() ? PQexecParams(db, INSERT_SQL, 2, NULL, params, NULL, NULL, 0)
				 : NULL;
	redisReply *x = NULL;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && redis_ready())
		x = redisCommand(redis, "XADD bench:events MAXLEN ~ 100000 * id %s",
				 PQgetvalue(r, 0, 0));
	if (!x || x->type != REDIS_REPLY_STRING) {
		puts_(b, "error");
		respond(rq, "500 Internal Server Error", "text/plain", b);
	} else {
		puts_(b, "{\"id\":\"");
		puts_(b, PQgetvalue(r, 0, 0));
		puts_(b, "\"}");
		respond(rq, "201 Created", "application/json", b);
	}
	if (x)
		freeReplyObject(x);
	else if (redis && redis->err) {
		redisFree(redis);
		redis = NULL;
	}
	PQclear(r);
}

static void serve(int fd)
{
	FCGX_Request rq;
	struct out b = { 0 };
	FCGX_InitRequest(&rq, fd, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		const char *uri = FCGX_GetParam("DOCUMENT_URI", rq.envp);
		uri = uri ? uri : "";
		b.n = 0;
		if (strcmp(uri, "/bare/hello") == 0) {
			puts_(&b, "hello");
			respond(&rq, "200 OK", "text/plain", &b);
		} else if (strcmp(uri, "/bare/list") == 0) {
			list(&rq, &b, 1);
		} else if (strcmp(uri, "/bare/list.json") == 0) {
			list(&rq, &b, 0);
		} else if (strncmp(uri, "/bare/one/", 10) == 0) {
			one(&rq, &b, uri + 10);
		} else if (strcmp(uri, "/bare/insert-xadd") == 0) {
			insert_xadd(&rq, &b);
		} else {
			puts_(&b, "not found");
			respond(&rq, "404 Not Found", "text/plain", &b);
		}
		FCGX_Finish_r(&rq);
	}
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET NPROC\n", argv[0]);
		return 2;
	}
	long nproc = strtol(argv[2], NULL, 10);
	if (nproc < 1 || nproc > 64 || FCGX_Init() != 0)
		return 2;
	unlink(argv[1]);
	int fd = FCGX_OpenSocket(argv[1], 1024);
	if (fd < 0 || chmod(argv[1], 0666) < 0)
		return 1;
	pid_t kids[64];
	for (long i = 0; i < nproc; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			serve(fd);
			_exit(0);
		}
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stopping)
		pause();
	for (long i = 0; i < nproc; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	unlink(argv[1]);
	return 0;
}
