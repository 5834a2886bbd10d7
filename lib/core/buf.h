/* buf.h: the one growable byte buffer, with a hard size cap.
 *
 * Promises (git's strbuf): b->buf is never NULL and always NUL-terminated,
 * even when empty; TX_BUF_INIT allocates nothing. Memory is malloc'd (not
 * arena) so a buffer may outlive a request; tx_buf_release frees it.
 *
 * Every buffer has a cap (curl's "toobig"): an append that would make len
 * exceed cap appends nothing, sets b->toobig and returns -1. Later appends
 * keep failing until tx_buf_reset. cap 0 means TX_BUF_DEFAULT_CAP.
 */
#ifndef TX_BUF_H
#define TX_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define TX_BUF_DEFAULT_CAP (16u << 20)

extern char tx_buf_empty[];

struct tx_buf {
	char *buf;
	size_t len, alloc, cap;
	bool toobig;
};

#define TX_BUF_INIT(c) { tx_buf_empty, 0, 0, (c), false }

void tx_buf_init(struct tx_buf *b, size_t cap);
void tx_buf_release(struct tx_buf *b);
/* Empty the buffer, keep its memory, clear toobig. */
void tx_buf_reset(struct tx_buf *b);

int tx_buf_add(struct tx_buf *b, const void *p, size_t n);
int tx_buf_adds(struct tx_buf *b, const char *s);
int tx_buf_addch(struct tx_buf *b, char c);
int tx_buf_addf(struct tx_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int tx_buf_vaddf(struct tx_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Append v in decimal (what "%lld" prints). */
int tx_buf_add_int(struct tx_buf *b, long long v);
/* Append s as the body of a JSON string (no quotes), escaping as RFC 8259. */
int tx_buf_add_json_str(struct tx_buf *b, const char *s);
/* Append s with & < > " ' escaped for HTML text and attributes. */
int tx_buf_add_html(struct tx_buf *b, const char *s);

#define tx_buf_addlit(b, lit) tx_buf_add((b), (lit), sizeof(lit) - 1)

#endif
