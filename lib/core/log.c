/* log.c: logfmt lines on stderr, one write(2) each. */
#include "log.h"
#include "buf.h"
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

static void add_ts(struct tx_buf *b)
{
	struct timespec ts;
	struct tm tm;
	char t[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	tx_buf_addf(b, "ts=%s.%03ldZ", t, ts.tv_nsec / 1000000);
}

/* A quoted value with control bytes, quotes and backslashes escaped. */
static void add_quoted(struct tx_buf *b, const char *s)
{
	tx_buf_addch(b, '"');
	for (size_t i = 0; s && s[i] && i < 256; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			tx_buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			tx_buf_addf(b, "\\x%02x", c);
		else
			tx_buf_addch(b, (char)c);
	}
	tx_buf_addch(b, '"');
}

static void emit(struct tx_buf *b)
{
	tx_buf_addch(b, '\n');
	ssize_t n = write(STDERR_FILENO, b->buf, b->len);
	(void)n;
}

void tx_log(const char *level, const char *fmt, ...)
{
	struct tx_buf b = TX_BUF_INIT(2048);
	add_ts(&b);
	tx_buf_addf(&b, " level=%s svc=%s msg=", level, service);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_quoted(&b, msg);
	b.toobig = false;
	emit(&b);
	tx_buf_release(&b);
}

void tx_log_request(const struct tx_ctx *ctx, const struct tx_req *req,
		    const struct tx_resp *resp, int64_t micros)
{
	struct tx_buf b = TX_BUF_INIT(2048);
	add_ts(&b);
	tx_buf_addf(&b, " level=info svc=%s rid=", service);
	add_quoted(&b, req->request_id);
	tx_buf_addf(&b, " method=%s path=", req->method_name);
	add_quoted(&b, req->path);
	tx_buf_addf(&b, " status=%d us=%lld", resp->status, (long long)micros);
	if (ctx->db_error[0]) {
		tx_buf_adds(&b, " db_error=");
		add_quoted(&b, ctx->db_error);
	}
	b.toobig = false;
	emit(&b);
	tx_buf_release(&b);
}
