/* redis.c: hiredis 0.14 connection with URL parsing, prefixing, timeouts
 * and self-healing reconnects; see redis.h. */
#include "redis.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "sentinel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 2000
/* Sentinel mode: how often a connection is checked against the sentinels
 * (see follow_failover). */
#define RECHECK_US 1000000

struct tx_redis {
	redisContext *c;
	char host[256];
	char user[128]; /* ACL user; "" means AUTH with the password alone */
	char password[256];
	int port;
	long db;
	char prefix[128];
	int cmd_timeout_ms;
	int pending; /* pipelined replies not yet read */
	char error[256];
	struct tx_sentinels *sentinels; /* NULL: one Redis at host:port */
	int64_t checked_us;		/* sentinel mode: the last check */
};

__attribute__((format(printf, 2, 3)))
static void set_error(struct tx_redis *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/* "host[:port]" of the URL into r. */
static int parse_hostport(struct tx_redis *r, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hlen = colon ? (size_t)(colon - s) : n;
	if (hlen == 0 || hlen >= sizeof(r->host))
		return -1;
	memcpy(r->host, s, hlen);
	r->host[hlen] = '\0';
	r->port = 6379;
	if (colon) {
		char port[8];
		size_t plen = n - hlen - 1;
		long p;
		if (plen == 0 || plen >= sizeof(port))
			return -1;
		memcpy(port, colon + 1, plen);
		port[plen] = '\0';
		if (tx_parse_long(port, 1, 65535, &p) < 0)
			return -1;
		r->port = (int)p;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20); /* lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n bytes of a URL's user or password, %XX-decoded, into out (NUL-ended);
 * -1 if malformed, if it would hold a NUL byte or if it does not fit. */
static int url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++, o++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi < 0 ? -1 : hexval(s[i + 2]);
			if (lo < 0 || (hi | lo) == 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* redis://[[user]:password@]host[:port][/db]; user and password may be
 * %-escaped (an '@', ':' or '/' in them must be). */
static int parse_url(struct tx_redis *r, const char *url)
{
	static const char scheme[] = "redis://";
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return -1;
	const char *s = url + sizeof(scheme) - 1;
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	const char *at = memrchr(s, '@', n);
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		if (!colon ||
		    url_decode(s, (size_t)(colon - s), r->user, sizeof(r->user)) < 0 ||
		    url_decode(colon + 1, (size_t)(at - colon - 1), r->password,
			       sizeof(r->password)) < 0 ||
		    !r->password[0])
			return -1;
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (parse_hostport(r, s, n) < 0)
		return -1;
	r->db = 0;
	if (slash && slash[1] && tx_parse_long(slash + 1, 0, 1 << 16, &r->db) < 0)
		return -1;
	return 0;
}

struct tx_redis *tx_redis_new(const char *url, const char *prefix,
			      int cmd_timeout_ms, char *err, size_t errlen)
{
	struct tx_redis *r = tx_xcalloc(1, sizeof(*r));
	char plain[1024];
	if (tx_sentinel_is_url(url)) {
		r->sentinels = tx_xcalloc(1, sizeof(*r->sentinels));
		if (tx_sentinel_parse_url(url, r->sentinels, plain, sizeof(plain),
					  err, errlen) < 0) {
			tx_redis_free(r);
			return NULL;
		}
		url = plain; /* its credentials and database */
	}
	if (parse_url(r, url) < 0) {
		snprintf(err, errlen,
			 "REDIS_URL must be redis://[[user]:password@]host[:port][/db]");
		tx_redis_free(r);
		return NULL;
	}
	if (strlen(prefix) >= sizeof(r->prefix)) {
		snprintf(err, errlen, "REDIS_PREFIX too long");
		tx_redis_free(r);
		return NULL;
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	r->cmd_timeout_ms = cmd_timeout_ms;
	return r;
}

static void drop(struct tx_redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	r->pending = 0;
}

void tx_redis_free(struct tx_redis *r)
{
	if (!r)
		return;
	drop(r);
	if (r->sentinels)
		tx_sentinels_release(r->sentinels);
	free(r->sentinels);
	free(r);
}

bool tx_redis_connected(const struct tx_redis *r)
{
	return r->c != NULL;
}

const char *tx_redis_error(const struct tx_redis *r)
{
	return r->error;
}

const char *tx_redis_prefix(const struct tx_redis *r)
{
	return r->prefix;
}

int tx_redis_key(const struct tx_redis *r, const char *name, char *out,
		 size_t outlen)
{
	int n = snprintf(out, outlen, "%s%s", r->prefix, name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- Sentinel (sentinel.h) ------------------------------------------------ */

/* The master's address from the sentinels into host and port. */
static int locate_master(struct tx_redis *r)
{
	char err[sizeof(r->error)];
	if (tx_sentinel_master(r->sentinels, r->user, r->password, r->host,
			       sizeof(r->host), &r->port, err, sizeof(err)) < 0) {
		set_error(r, "%s", err);
		return -1;
	}
	return 0;
}

/* The node we reached must be a master: a sentinel may not know of a
 * failover yet, and an old master restarted from its own configuration
 * would take writes that its resync later throws away. */
static int verify_master(struct tx_redis *r)
{
	char err[sizeof(r->error)];
	if (tx_sentinel_check_master(r->c, r->host, r->port, err, sizeof(err)) < 0) {
		set_error(r, "%s", err);
		return -1;
	}
	return 0;
}

/* Before a command, at most once a second: if the sentinels now name
 * another master, drop this connection. A master that died is noticed
 * anyway (I/O errors), but one that is merely replaced (a switchover, a
 * partition that heals) keeps taking writes until the sentinels get round
 * to demoting it, about ten seconds later, and its resync then throws
 * those writes away. One question on the connection kept to a sentinel;
 * when none answers, the connection is kept. */
static void follow_failover(struct tx_redis *r)
{
	char host[sizeof(r->host)], err[sizeof(r->error)];
	int port;
	if (!r->sentinels || !r->c || r->pending ||
	    tx_now_us() - r->checked_us < RECHECK_US)
		return;
	r->checked_us = tx_now_us();
	if (tx_sentinel_master(r->sentinels, r->user, r->password, host, sizeof(host),
			       &port, err, sizeof(err)) == 0 &&
	    (port != r->port || strcmp(host, r->host) != 0))
		drop(r);
}

/* Error replies that mean "not the master (any more)": a write on a
 * replica, a node loading its data, a replica cut off from its master, a
 * blocked command ended by a role change. The connection is dropped and
 * the call fails as if it were lost; the next one finds the master. */
static bool moved_on(struct tx_redis *r, redisReply *rep)
{
	static const char *const codes[] = { "READONLY", "LOADING", "MASTERDOWN",
					     "UNBLOCKED" };
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++)
		if (tx_redis_is_error(rep, codes[i])) {
			set_error(r, "redis: %s", rep->str);
			freeReplyObject(rep);
			drop(r);
			return true;
		}
	return false;
}

/* A setup command (AUTH, SELECT) on a fresh connection; 0 or -1. */
static int setup_cmd(struct tx_redis *r, int argc, const char **argv)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	int ok = rep && rep->type != REDIS_REPLY_ERROR;
	set_error(r, "%s: %s", argv[0],
		 rep ? (rep->str ? rep->str : "?") : r->c->errstr);
	if (rep)
		freeReplyObject(rep);
	return ok ? 0 : -1;
}

static int open_conn(struct tx_redis *r)
{
	char db[16];
	if (r->sentinels && locate_master(r) < 0)
		return -1;
	r->c = redisConnectWithTimeout(r->host, r->port, ms_tv(CONNECT_TIMEOUT_MS));
	if (!r->c || r->c->err) {
		set_error(r, "connect %s:%d: %s", r->host,
			 r->port, r->c ? r->c->errstr : "out of memory");
		drop(r);
		return -1;
	}
	/* Set on every connection: hiredis forgets it on reconnect. */
	redisSetTimeout(r->c, ms_tv(r->cmd_timeout_ms));
	redisEnableKeepAlive(r->c);
	snprintf(db, sizeof(db), "%ld", r->db);
	/* AUTH user password (an ACL user) or AUTH password (the default
	 * user, requirepass). */
	const char *auth[] = { "AUTH", r->user, r->password };
	const char *auth1[] = { "AUTH", r->password };
	const char *sel[] = { "SELECT", db };
	if ((r->password[0] &&
	     (r->user[0] ? setup_cmd(r, 3, auth) : setup_cmd(r, 2, auth1)) < 0) ||
	    setup_cmd(r, 2, sel) < 0 || (r->sentinels && verify_master(r) < 0)) {
		drop(r);
		return -1;
	}
	r->error[0] = '\0';
	r->checked_us = tx_now_us();
	return 0;
}

int tx_redis_connect(struct tx_redis *r)
{
	follow_failover(r);
	return r->c ? 0 : open_conn(r);
}

/* After an I/O error the context is unusable: remember why, drop it. */
static void io_failed(struct tx_redis *r)
{
	set_error(r, "redis: %s",
		 r->c && r->c->errstr[0] ? r->c->errstr : "I/O error");
	drop(r);
}

redisReply *tx_redis_cmd(struct tx_redis *r, int argc, const char **argv,
			 const size_t *lens)
{
	if (tx_redis_connect(r) < 0)
		return NULL;
	redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
	if (!rep)
		io_failed(r);
	else if (moved_on(r, rep))
		return NULL;
	return rep;
}

int tx_redis_append(struct tx_redis *r, int argc, const char **argv,
		    const size_t *lens)
{
	if (tx_redis_connect(r) < 0)
		return -1;
	if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK) {
		io_failed(r);
		return -1;
	}
	r->pending++;
	return 0;
}

redisReply *tx_redis_get_reply(struct tx_redis *r)
{
	void *rep = NULL;
	if (!r->c || r->pending == 0)
		return NULL;
	if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
		io_failed(r);
		return NULL;
	}
	r->pending--;
	return moved_on(r, rep) ? NULL : rep;
}

int tx_redis_wait(struct tx_redis *r, int replicas, int timeout_ms)
{
	char n[16], ms[16];
	snprintf(n, sizeof(n), "%d", replicas);
	snprintf(ms, sizeof(ms), "%d", timeout_ms);
	if (!r->c) { /* WAIT on a new connection confirms nothing */
		set_error(r, "WAIT: not connected");
		return -1;
	}
	const char *argv[] = { "WAIT", n, ms };
	redisReply *rep = tx_redis_cmd(r, 3, argv, NULL);
	if (!rep)
		return -1;
	int got = rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
	if (got < 0)
		set_error(r, "WAIT: %s", rep->str ? rep->str : "unexpected reply");
	freeReplyObject(rep);
	return got;
}

bool tx_redis_is_error(const redisReply *reply, const char *code)
{
	size_t n = strlen(code);
	return reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
	       strncmp(reply->str, code, n) == 0;
}
