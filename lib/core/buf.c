/* buf.c: capped growable buffer; see buf.h. */
#include "buf.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char tx_buf_empty[1];

void tx_buf_init(struct tx_buf *b, size_t cap)
{
	*b = (struct tx_buf)TX_BUF_INIT(cap);
}

void tx_buf_release(struct tx_buf *b)
{
	if (b->alloc)
		free(b->buf);
	tx_buf_init(b, b->cap);
}

void tx_buf_reset(struct tx_buf *b)
{
	b->len = 0;
	b->toobig = false;
	if (b->alloc)
		b->buf[0] = '\0';
}

static int grow(struct tx_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : TX_BUF_DEFAULT_CAP;
	if (b->toobig || extra > cap || b->len > cap - extra) {
		b->toobig = true;
		return -1;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n *= 2;
	if (b->alloc) {
		b->buf = tx_xrealloc(b->buf, n);
	} else {
		b->buf = tx_xmalloc(n);
		b->buf[0] = '\0';
	}
	b->alloc = n;
	return 0;
}

int tx_buf_add(struct tx_buf *b, const void *p, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
	if (b->alloc)
		b->buf[b->len] = '\0';
	return 0;
}

int tx_buf_adds(struct tx_buf *b, const char *s)
{
	return tx_buf_add(b, s, strlen(s));
}

int tx_buf_addch(struct tx_buf *b, char c)
{
	return tx_buf_add(b, &c, 1);
}

int tx_buf_add_int(struct tx_buf *b, long long v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	return tx_buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

int tx_buf_vaddf(struct tx_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return tx_buf_add(b, small, (size_t)n);
	if (grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int tx_buf_addf(struct tx_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = tx_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int tx_buf_add_json_str(struct tx_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char u[7];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				memcpy(u, "\\u00", 4);
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
			}
		}
		if (!esc)
			continue;
		if (tx_buf_add(b, run, (size_t)(s - run)) < 0 || tx_buf_adds(b, esc) < 0)
			return -1;
		run = s + 1;
	}
	return tx_buf_add(b, run, (size_t)(s - run));
}

int tx_buf_add_html(struct tx_buf *b, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *esc;
		switch (*s) {
		case '&': esc = "&amp;"; break;
		case '<': esc = "&lt;"; break;
		case '>': esc = "&gt;"; break;
		case '"': esc = "&quot;"; break;
		case '\'': esc = "&#39;"; break;
		default: continue;
		}
		if (tx_buf_add(b, run, (size_t)(s - run)) < 0 || tx_buf_adds(b, esc) < 0)
			return -1;
		run = s + 1;
	}
	return tx_buf_add(b, run, (size_t)(s - run));
}
