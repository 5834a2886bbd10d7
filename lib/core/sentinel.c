/* sentinel.c: the Redis Sentinel client side: URL, discovery, role
 * check; see sentinel.h. */
#include "sentinel.h"
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEME "redis-sentinel://"
#define DEFAULT_TIMEOUT_MS 500

bool tx_sentinel_is_url(const char *url)
{
	return url && strncmp(url, SCHEME, sizeof(SCHEME) - 1) == 0;
}

/* Appends to a bounded message; never overflows, may cut. */
__attribute__((format(printf, 3, 4)))
static void addf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	if (used + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* Where the host part of "[userinfo@]hosts[/path]" (n bytes) starts and
 * ends: after the last '@', up to the first '/' after that. */
static void split_authority(const char *s, size_t n, size_t *hstart, size_t *hend)
{
	*hstart = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@')
			*hstart = i + 1;
	const char *slash = memchr(s + *hstart, '/', n - *hstart);
	*hend = slash ? (size_t)(slash - s) : n;
}

static bool name_ok(const char *s, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	if (n == 0 || n >= sizeof(((struct tx_sentinels *)0)->master))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr(ok, s[i]))
			return false;
	return true;
}

/* One "host[:port]" of n bytes into a. */
static int parse_addr(const char *s, size_t n, struct tx_sentinel_addr *a)
{
	const char *colon = memchr(s, ':', n);
	size_t hlen = colon ? (size_t)(colon - s) : n;
	long port = TX_SENTINEL_PORT;
	if (hlen == 0 || hlen >= sizeof(a->host))
		return -1;
	if (colon) {
		char p[8];
		size_t plen = n - hlen - 1;
		if (plen == 0 || plen >= sizeof(p))
			return -1;
		memcpy(p, colon + 1, plen);
		p[plen] = '\0';
		if (tx_parse_long(p, 1, 65535, &port) < 0)
			return -1;
	}
	memcpy(a->host, s, hlen);
	a->host[hlen] = '\0';
	a->port = (int)port;
	return 0;
}

/* The comma-separated list of n bytes into s->addr. */
static int parse_list(const char *s, size_t n, struct tx_sentinels *st)
{
	st->n = 0;
	for (size_t i = 0; i <= n;) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - s) : n;
		if (st->n == TX_SENTINEL_MAX || parse_addr(s + i, end - i, &st->addr[st->n]) < 0)
			return -1;
		st->n++;
		i = end + 1;
		if (!comma)
			break;
	}
	return st->n ? 0 : -1;
}

int tx_sentinel_parse_url(const char *url, struct tx_sentinels *s, char *plain,
			  size_t plainlen, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->timeout_ms = DEFAULT_TIMEOUT_MS;
	const char *body = tx_sentinel_is_url(url) ? url + sizeof(SCHEME) - 1 : NULL;
	const char *hash = body ? strrchr(body, '#') : NULL;
	if (!hash || !name_ok(hash + 1, strlen(hash + 1))) {
		snprintf(err, errlen, "a sentinel URL is redis-sentinel://host:port"
			 "[,host:port...][/db]#master-name");
		return -1;
	}
	size_t n = (size_t)(hash - body), hs, he;
	split_authority(body, n, &hs, &he);
	if (parse_list(body + hs, he - hs, s) < 0) {
		snprintf(err, errlen, "sentinels must be host[:port], comma-separated, "
			 "at most %d", TX_SENTINEL_MAX);
		return -1;
	}
	memcpy(s->master, hash + 1, strlen(hash + 1) + 1);
	int w = snprintf(plain, plainlen, "redis://%.*ssentinel%.*s", (int)hs, body,
			 (int)(n - he), body + he);
	if (w < 0 || (size_t)w >= plainlen) {
		snprintf(err, errlen, "sentinel URL too long");
		return -1;
	}
	return 0;
}

int tx_sentinel_url(const char *redis_url, const char *sentinels,
		    const char *master, char *out, size_t outlen)
{
	static const char plain[] = "redis://";
	const char *body = "";
	size_t n = 0, hs = 0, he = 0;
	if (redis_url && *redis_url) {
		if (strncmp(redis_url, plain, sizeof(plain) - 1) != 0)
			return -1;
		body = redis_url + sizeof(plain) - 1;
		n = strlen(body);
		split_authority(body, n, &hs, &he);
	}
	int w = snprintf(out, outlen, SCHEME "%.*s%s%.*s#%s", (int)hs, body, sentinels,
			 (int)(n - he), body + he, master);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/* A connection to one sentinel; NULL with the reason appended to why. */
static redisContext *sentinel_connect(const struct tx_sentinels *s,
				      const struct tx_sentinel_addr *a, char *why,
				      size_t whylen)
{
	redisContext *c = redisConnectWithTimeout(a->host, a->port, ms_tv(s->timeout_ms));
	if (!c || c->err) {
		addf(why, whylen, "%s:%d: %s; ", a->host, a->port,
		     c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, ms_tv(s->timeout_ms));
	return c;
}

/* AUTH [user] password on c; 0 or -1 with the reason appended. */
static int authenticate(redisContext *c, const struct tx_sentinel_addr *a,
			const char *user, const char *password, char *why,
			size_t whylen)
{
	const char *argv[3] = { "AUTH" };
	int argc = 1;
	if (user && *user)
		argv[argc++] = user;
	argv[argc++] = password;
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	bool ok = r && r->type != REDIS_REPLY_ERROR;
	if (!ok)
		addf(why, whylen, "%s:%d: AUTH: %s; ", a->host, a->port,
		     r ? r->str : c->errstr);
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* The question, answered; authenticated first if the sentinel asks for
 * it (NOAUTH), with the credentials the Redis nodes get: a sentinel may
 * have the same users, or none. NULL on I/O error (c->err set) or when
 * AUTH is refused (the reason appended to why). */
static redisReply *question(const struct tx_sentinels *s, redisContext *c,
			    const struct tx_sentinel_addr *a, const char *user,
			    const char *password, char *why, size_t whylen)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", s->master };
	redisReply *r = redisCommandArgv(c, 3, argv, NULL);
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0 &&
	    password && *password) {
		freeReplyObject(r);
		r = NULL;
		if (authenticate(c, a, user, password, why, whylen) == 0)
			r = redisCommandArgv(c, 3, argv, NULL);
	}
	return r;
}

/* [host, port] from the sentinel at a on c; 0 or -1 with the reason
 * appended. */
static int ask(const struct tx_sentinels *s, redisContext *c,
	       const struct tx_sentinel_addr *a, const char *user,
	       const char *password, char *host, size_t hostlen, int *port,
	       char *why, size_t whylen)
{
	redisReply *r = question(s, c, a, user, password, why, whylen);
	long p = 0;
	int rc = -1;
	if (!r) {
		if (c->err)
			addf(why, whylen, "%s:%d: %s; ", a->host, a->port, c->errstr);
	} else if (r->type == REDIS_REPLY_NIL)
		addf(why, whylen, "%s:%d: no master named %s; ", a->host, a->port, s->master);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		 r->element[0]->type != REDIS_REPLY_STRING ||
		 r->element[1]->type != REDIS_REPLY_STRING ||
		 r->element[0]->len >= hostlen ||
		 tx_parse_long(r->element[1]->str, 1, 65535, &p) < 0)
		addf(why, whylen, "%s:%d: %s; ", a->host, a->port,
		     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	else {
		memcpy(host, r->element[0]->str, r->element[0]->len + 1);
		*port = (int)p;
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

void tx_sentinels_release(struct tx_sentinels *s)
{
	if (s->c)
		redisFree(s->c);
	s->c = NULL;
}

int tx_sentinel_master(struct tx_sentinels *s, const char *user,
		       const char *password, char *host, size_t hostlen,
		       int *port, char *err, size_t errlen)
{
	char why[512] = "";
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (s->first + k) % s->n;
		bool kept = k == 0 && s->c;
		redisContext *c = kept ? s->c : sentinel_connect(s, &s->addr[i], why, sizeof(why));
		if (c && ask(s, c, &s->addr[i], user, password, host, hostlen, port, why,
			     sizeof(why)) == 0) {
			if (!kept) {
				tx_sentinels_release(s);
				s->c = c;
			}
			s->first = i;
			return 0;
		}
		if (kept)
			tx_sentinels_release(s);
		else if (c)
			redisFree(c);
	}
	why[strcspn(why, "\r\n")] = '\0';
	snprintf(err, errlen, "sentinel: master %s not found (%s)", s->master, why);
	return -1;
}

int tx_sentinel_check_master(redisContext *c, const char *host, int port,
			     char *err, size_t errlen)
{
	redisReply *r = redisCommand(c, "ROLE");
	int rc = -1;
	if (!r)
		snprintf(err, errlen, "ROLE %s:%d: %s", host, port, c->errstr);
	else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		 r->element[0]->type == REDIS_REPLY_STRING &&
		 strcmp(r->element[0]->str, "master") == 0)
		rc = 0;
	else
		snprintf(err, errlen, "%s:%d is not a master (%s)", host, port,
			 r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
					 r->element[0]->type == REDIS_REPLY_STRING
				 ? r->element[0]->str
				 : r->type == REDIS_REPLY_ERROR ? r->str : "?");
	if (r)
		freeReplyObject(r);
	return rc;
}
