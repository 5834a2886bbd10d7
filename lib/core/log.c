/* log.c: logfmt lines on stderr, one write(2) each. */
#include "log.h"
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *service = "-";

void tx_log_set_service(const char *svc)
{
	service = svc;
}

int64_t tx_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tx_nap(long ms, const atomic_bool *stop)
{
	while (ms > 0 && !atomic_load(stop)) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* A line being built on the stack: appends past the end are dropped (the
 * newline always fits), so a line is never longer than LINE_MAX_BYTES.
 * Hand-formatted: this runs once per request. */
#define LINE_MAX_BYTES 4096
struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_num(struct line *l, long long v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	put(l, p, (size_t)(d + sizeof(d) - p));
}

/* "ts=2026-11-21T22:00:00.123Z"; the seconds are formatted once per
 * second per thread. */
static void add_ts(struct line *l)
{
	static _Thread_local time_t sec = -1;
	static _Thread_local char ymdhms[32];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(ymdhms, sizeof(ymdhms), "%Y-%m-%dT%H:%M:%S", &tm);
		sec = ts.tv_sec;
	}
	long ms = ts.tv_nsec / 1000000;
	char frac[6] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
			 (char)('0' + ms % 10), 'Z', '\0' };
	puts_(l, "ts=");
	puts_(l, ymdhms);
	put(l, frac, 5);
}

/* A quoted value with control bytes, quotes and backslashes escaped. */
static void add_quoted(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	put(l, "\"", 1);
	size_t i = 0, run = 0;
	for (; s && s[i] && i < 256; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
			continue;
		put(l, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(l, e, 2);
		} else {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
			put(l, e, 4);
		}
	}
	if (s)
		put(l, s + run, i - run);
	put(l, "\"", 1);
}

static void emit(struct line *l)
{
	l->buf[l->len++] = '\n'; /* put() always leaves room for it */
	ssize_t n = write(STDERR_FILENO, l->buf, l->len);
	(void)n;
}

void tx_log(const char *level, const char *fmt, ...)
{
	struct line l = { .len = 0 };
	add_ts(&l);
	puts_(&l, " level=");
	puts_(&l, level);
	puts_(&l, " svc=");
	puts_(&l, service);
	puts_(&l, " msg=");
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_quoted(&l, msg);
	emit(&l);
}

void tx_log_request(const struct tx_ctx *ctx, const struct tx_req *req,
		    const struct tx_resp *resp, int64_t micros)
{
	struct line l = { .len = 0 };
	add_ts(&l);
	puts_(&l, " level=info svc=");
	puts_(&l, service);
	puts_(&l, " rid=");
	add_quoted(&l, req->request_id);
	puts_(&l, " method=");
	puts_(&l, req->method_name);
	puts_(&l, " path=");
	add_quoted(&l, req->path);
	puts_(&l, " status=");
	put_num(&l, resp->status);
	puts_(&l, " us=");
	put_num(&l, (long long)micros);
	if (ctx->db_error[0]) {
		puts_(&l, " db_error=");
		add_quoted(&l, ctx->db_error);
	}
	emit(&l);
}
