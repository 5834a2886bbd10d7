/* redis.c: hiredis 0.14 connection with URL parsing, prefixing, timeouts
 * and self-healing reconnects; see redis.h. */
#include "redis.h"
#include "config.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 2000

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
	if (parse_url(r, url) < 0) {
		snprintf(err, errlen,
			 "REDIS_URL must be redis://[[user]:password@]host[:port][/db]");
		free(r);
		return NULL;
	}
	if (strlen(prefix) >= sizeof(r->prefix)) {
		snprintf(err, errlen, "REDIS_PREFIX too long");
		free(r);
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
	    setup_cmd(r, 2, sel) < 0) {
		drop(r);
		return -1;
	}
	r->error[0] = '\0';
	return 0;
}

int tx_redis_connect(struct tx_redis *r)
{
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
	return rep;
}

bool tx_redis_is_error(const redisReply *reply, const char *code)
{
	size_t n = strlen(code);
	return reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
	       strncmp(reply->str, code, n) == 0;
}
