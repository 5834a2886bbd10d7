/* log.h: one line per event on stderr, written with a single write(2) so
 * lines from different threads never interleave. Lines are logfmt:
 * "ts=2026-11-21T22:00:00.123Z level=info svc=auth rid=.. msg=..". Values
 * from requests are quoted and escaped, and cut at 256 bytes.
 */
#ifndef TX_LOG_H
#define TX_LOG_H

#include <stdatomic.h>
#include <stdint.h>

struct tx_req;
struct tx_resp;
struct tx_ctx;

void tx_log_set_service(const char *svc);
void tx_log(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The request line: rid, method, path, status, microseconds. */
void tx_log_request(const struct tx_ctx *ctx, const struct tx_req *req,
		    const struct tx_resp *resp, int64_t micros);
int64_t tx_now_us(void);
/* Sleep ms milliseconds in steps of at most 50 ms, returning early once
 * *stop is set (background loops that must stop promptly on SIGTERM). */
void tx_nap(long ms, const atomic_bool *stop);

#endif
