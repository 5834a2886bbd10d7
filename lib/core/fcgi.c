/* fcgi.c: the only file that knows FastCGI exists.
 *
 * tx_main() is the whole life of a service program:
 *   prog --socket PATH [--threads N] [--socket-group G]
 *       FastCGI on a unix socket (mode 0660; only nginx's group may
 *       connect), N threads, each with its own arena, response buffer and
 *       Postgres connection, all blocking in accept() on the socket.
 *   prog            (started by a web server as CGI, fd 0 not a socket)
 *       answers exactly one request from the environment and stdin.
 *   prog            (fd 0 is a listening socket, spawn-fcgi style)
 *       FastCGI on fd 0.
 * SIGTERM or SIGINT: stop accepting, let every thread finish the request in
 * hand, close connections, exit 0. The signals are blocked in all threads
 * and taken by sigwait() in the main thread, since libfcgi installs its own
 * handlers that would otherwise swallow them.
 */
#include "arena.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "gencache.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "page.h"
#include "password.h"
#include "redis.h"
#include "tmpl.h"

#include <errno.h>
#include <fcgiapp.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 256

/* Where a request's parameters and body come from, and where it goes. */
struct io {
	const char *(*param)(void *src, const char *name);
	int (*read)(void *src, char *buf, int n);
	int (*write)(void *src, const char *buf, int n);
	void *src;
};

struct worker {
	pthread_t thread;
	struct tx_ctx ctx;
	struct tx_resp resp;
	struct tx_buf body;
	unsigned long seq;
	int index;
};

static struct tx_config config;
static int listen_fd = -1;

/* ---- request in --------------------------------------------------------- */

static const char *param_or_empty(const struct io *io, const char *name)
{
	const char *v = io->param(io->src, name);
	return v ? v : "";
}

static bool is_https(const struct io *io)
{
	const char *https = param_or_empty(io, "HTTPS");
	const char *proto = param_or_empty(io, "HTTP_X_FORWARDED_PROTO");
	return strcmp(https, "on") == 0 || strcmp(https, "1") == 0 ||
	       strcmp(proto, "https") == 0;
}

static void req_from_params(struct tx_req *req, const struct io *io,
			    struct worker *w)
{
	memset(req, 0, sizeof(*req));
	req->method_name = param_or_empty(io, "REQUEST_METHOD");
	req->method = tx_method_parse(req->method_name);
	req->path = param_or_empty(io, "DOCUMENT_URI");
	if (!*req->path)
		req->path = param_or_empty(io, "SCRIPT_NAME");
	if (!*req->path)
		req->path = "/";
	req->query = param_or_empty(io, "QUERY_STRING");
	req->content_type = param_or_empty(io, "CONTENT_TYPE");
	req->cookies = param_or_empty(io, "HTTP_COOKIE");
	req->remote_addr = param_or_empty(io, "REMOTE_ADDR");
	req->https = is_https(io);
	req->request_id = io->param(io->src, "REQUEST_ID");
	if (!req->request_id || !*req->request_id)
		req->request_id = tx_arena_printf(w->ctx.arena, "%d-%d-%lu",
						  (int)getpid(), w->index, w->seq);
}

/* The body, bounded by MAX_BODY_BYTES. 0, or a negative error. */
static int read_body(struct tx_req *req, const struct io *io, struct worker *w)
{
	const char *cl = param_or_empty(io, "CONTENT_LENGTH");
	long n = 0;
	if (*cl && tx_parse_long(cl, 0, 1L << 40, &n) < 0)
		return -TX_E_BAD_REQUEST;
	if (n > config.max_body_bytes)
		return -TX_E_TOO_LARGE;
	tx_buf_reset(&w->body);
	char chunk[8192];
	while ((long)w->body.len < n) {
		long want = n - (long)w->body.len;
		int got = io->read(io->src, chunk,
				   want < (long)sizeof(chunk) ? (int)want : (int)sizeof(chunk));
		if (got <= 0)
			return -TX_E_BAD_REQUEST; /* the client sent less than it said */
		if (tx_buf_add(&w->body, chunk, (size_t)got) < 0)
			return -TX_E_TOO_LARGE;
	}
	req->body = w->body.buf;
	req->body_len = w->body.len;
	return 0;
}

/* ---- response out ------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Unknown";
	}
}

/* Appends to a bounded header block; false once it no longer fits. */
struct head {
	char buf[4096];
	size_t len;
	bool full;
};

static void head_add(struct head *h, const char *s)
{
	size_t n = strlen(s);
	if (h->full || n > sizeof(h->buf) - h->len) {
		h->full = true;
		return;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
}

static void head_num(struct head *h, unsigned long long v)
{
	char d[24], *p = d + sizeof(d) - 1;
	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	head_add(h, p);
}

static void write_resp(const struct io *io, const struct tx_resp *r)
{
	struct head h = { .len = 0, .full = false };
	bool nobody = r->status == 204 || r->status == 304;
	head_add(&h, "Status: ");
	head_num(&h, (unsigned)r->status);
	head_add(&h, " ");
	head_add(&h, reason(r->status));
	head_add(&h, "\r\n");
	if (!nobody && r->content_type) {
		head_add(&h, "Content-Type: ");
		head_add(&h, r->content_type);
		head_add(&h, "\r\n");
	}
	for (size_t i = 0; i < r->nheaders; i++) {
		head_add(&h, r->headers[i]);
		head_add(&h, "\r\n");
	}
	head_add(&h, "Content-Length: ");
	head_num(&h, nobody ? 0 : r->body.len);
	head_add(&h, "\r\n\r\n");
	if (h.full) {
		static const char fallback[] = "Status: 500 Internal Server Error\r\n\r\n";
		io->write(io->src, fallback, (int)sizeof(fallback) - 1);
		return;
	}
	io->write(io->src, h.buf, (int)h.len);
	if (!nobody && r->body.len)
		io->write(io->src, r->body.buf, (int)r->body.len);
}

/* One request, start to finish, whatever the transport. */
static void serve_one(struct worker *w, const struct io *io)
{
	int64_t start = tx_now_us();
	struct tx_req req;
	w->seq++;
	req_from_params(&req, io, w);
	int rc = read_body(&req, io, w);
	if (rc < 0) {
		w->ctx.request_id = req.request_id;
		w->ctx.db_error[0] = '\0';
		tx_resp_reset(&w->resp);
		tx_resp_error_message(&w->resp, tx_err_status(rc), tx_err_message(rc));
	} else {
		tx_http_handle(&req, &w->ctx, &w->resp);
	}
	tx_db_rollback(&w->ctx); /* a handler that bailed mid-transaction */
	/* Counted before the response leaves (libfcgi sends it at Finish), so
	 * a client that has its answer also sees it in /metrics. */
	tx_metrics_observe(w->ctx.svc, req.route, w->resp.status,
			   tx_now_us() - start);
	write_resp(io, &w->resp);
	tx_log_request(&w->ctx, &req, &w->resp, tx_now_us() - start);
	tx_arena_reset(w->ctx.arena);
	/* Don't keep a rare large body or response around: each of the
	 * THREADS workers would hold its largest one for good (a list of
	 * thousands of tickets is megabytes). The common sizes stay. */
	if (w->body.alloc > (size_t)64 << 10)
		tx_buf_release(&w->body);
	if (w->resp.body.alloc > (size_t)256 << 10)
		tx_buf_release(&w->resp.body);
}

/* ---- workers ------------------------------------------------------------ */

static void worker_init(struct worker *w, const struct tx_service *svc, int index,
			struct tx_gencache *cache)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->ctx.cfg = &config;
	w->ctx.svc = svc;
	w->ctx.cache = cache;
	w->ctx.arena = tx_arena_new(64 << 10);
	w->ctx.db = tx_db_new(config.database_url);
	if (svc->needs_redis) {
		char err[256];
		/* 1 s per command: a stalled Redis must not hang a request. */
		w->ctx.redis = tx_redis_new(config.redis_url, config.redis_prefix,
					    1000, err, sizeof(err));
		if (!w->ctx.redis)
			tx_log("error", "redis: %s", err);
	}
	tx_buf_init(&w->resp.body, 4u << 20);
	tx_buf_init(&w->body, (size_t)config.max_body_bytes);
}

static void worker_release(struct worker *w)
{
	tx_db_free(w->ctx.db);
	tx_redis_free(w->ctx.redis);
	tx_arena_free(w->ctx.arena);
	tx_buf_release(&w->resp.body);
	tx_buf_release(&w->body);
}

static const char *fcgi_param(void *src, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)src)->envp);
}

static int fcgi_read(void *src, char *buf, int n)
{
	return FCGX_GetStr(buf, n, ((FCGX_Request *)src)->in);
}

static int fcgi_write(void *src, const char *buf, int n)
{
	return FCGX_PutStr(buf, n, ((FCGX_Request *)src)->out);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	FCGX_Request rq;
	if (FCGX_InitRequest(&rq, listen_fd, 0) != 0)
		return NULL;
	struct io io = { fcgi_param, fcgi_read, fcgi_write, &rq };
	for (;;) {
		/* No lock around it: on Linux threads may block in accept() on
		 * one socket together (libfcgi only locks where they may not),
		 * and the kernel hands each connection to one of them. A mutex
		 * here cost two futex calls a request. */
		if (FCGX_Accept_r(&rq) < 0)
			break;
		serve_one(w, &io);
		FCGX_Finish_r(&rq);
	}
	FCGX_Free(&rq, 1);
	return NULL;
}

/* libfcgi reads "host:port" (or ":port") as TCP: a colon followed by a
 * number, in a name without '/'. Its peers are then limited by
 * FCGI_WEB_SERVER_ADDRS; there is no file to unlink, chown or chmod. */
static bool is_tcp(const char *path)
{
	const char *colon = strrchr(path, ':');
	return !strchr(path, '/') && colon && colon[1] >= '1' && colon[1] <= '9';
}

static int open_socket(const char *path, const char *group)
{
	if (is_tcp(path))
		return FCGX_OpenSocket(path, 1024);
	unlink(path); /* a stale socket from a killed run */
	mode_t old = umask(0117);
	int fd = FCGX_OpenSocket(path, 1024);
	umask(old);
	if (fd < 0)
		return -1;
	if (group) {
		struct group *g = getgrnam(group);
		if (!g || chown(path, (uid_t)-1, g->gr_gid) < 0) {
			tx_log("error", "cannot give socket to group %s", group);
			return -1;
		}
	}
	return chmod(path, 0660) < 0 ? -1 : fd;
}

static int serve_fcgi(const struct tx_service *svc, int nthreads)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct tx_gencache *cache = svc->cache_new ? svc->cache_new(&config) : NULL;
	struct worker *workers = tx_xcalloc((size_t)nthreads, sizeof(*workers));
	int started = 0;
	for (; started < nthreads; started++) {
		worker_init(&workers[started], svc, started, cache);
		if (pthread_create(&workers[started].thread, NULL, worker_main,
				   &workers[started]) != 0) {
			worker_release(&workers[started]);
			break;
		}
	}
	tx_log("info", "serving with %d threads", started);
	int sig = 0;
	if (started > 0)
		sigwait(&set, &sig);
	tx_log("info", "signal %d: finishing requests in hand", sig);
	FCGX_ShutdownPending();
	shutdown(listen_fd, SHUT_RDWR);
	for (int i = 0; i < started; i++) {
		pthread_join(workers[i].thread, NULL);
		worker_release(&workers[i]);
	}
	free(workers);
	tx_gencache_free(cache);
	close(listen_fd);
	tx_log("info", "stopped");
	return started > 0 ? 0 : 1;
}

/* ---- plain CGI ---------------------------------------------------------- */

static const char *cgi_param(void *src, const char *name)
{
	(void)src;
	return getenv(name);
}

static int cgi_read(void *src, char *buf, int n)
{
	(void)src;
	size_t got = fread(buf, 1, (size_t)n, stdin);
	return (int)got;
}

static int cgi_write(void *src, const char *buf, int n)
{
	(void)src;
	return (int)fwrite(buf, 1, (size_t)n, stdout);
}

static int serve_cgi(const struct tx_service *svc)
{
	struct worker w;
	worker_init(&w, svc, 0, NULL);
	struct io io = { cgi_param, cgi_read, cgi_write, NULL };
	serve_one(&w, &io);
	fflush(stdout);
	worker_release(&w);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

struct args {
	const char *socket;
	const char *group;
	long threads;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	a->socket = NULL;
	a->group = NULL;
	a->threads = 8;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--socket") == 0 && v)
			a->socket = v;
		else if (strcmp(argv[i], "--socket-group") == 0 && v)
			a->group = v;
		else if (strcmp(argv[i], "--threads") == 0 && v) {
			if (tx_parse_long(v, 1, MAX_THREADS, &a->threads) < 0)
				return -1;
		} else
			return -1;
		i++;
	}
	return 0;
}

static int start_up(const struct tx_service *svc)
{
	char err[256];
	if (tx_config_load(&config, svc->env_prefix, err, sizeof(err)) < 0) {
		tx_log("error", "configuration: %s", err);
		return -1;
	}
	if (tx_password_init() < 0 || tmpl_set_root(config.template_dir) < 0 ||
	    tmpl_preload(tx_page_templates, tx_page_ntemplates) < 0) {
		tx_log("error", "start-up failed (libsodium or templates in %s)",
		       config.template_dir);
		return -1;
	}
	if (svc->init && svc->init(&config) < 0)
		return -1;
	/* Request counters shared by every process of this program (ops
	 * renders them); without METRICS_DIR they stay in this process. */
	const char *mdir = getenv("METRICS_DIR");
	if (tx_metrics_open(svc, mdir) < 0)
		tx_log("warn", "metrics: cannot map %s/%s.metrics: %s",
		       mdir ? mdir : "-", svc->name, strerror(errno));
	return 0;
}

int tx_main(int argc, char **argv, const struct tx_service *svc)
{
	struct args a;
	tx_log_set_service(svc->name);
	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: %s [--socket PATH] [--threads N] "
				"[--socket-group GROUP]\n", argv[0]);
		return 2;
	}
	if (start_up(svc) < 0)
		return 1;
	if (FCGX_Init() != 0)
		return 1;
	if (a.socket) {
		listen_fd = open_socket(a.socket, a.group);
		if (listen_fd < 0) {
			tx_log("error", "cannot listen on %s: %s", a.socket, strerror(errno));
			return 1;
		}
		return serve_fcgi(svc, (int)a.threads);
	}
	if (FCGX_IsCGI())
		return serve_cgi(svc);
	listen_fd = 0;
	return serve_fcgi(svc, (int)a.threads);
}
