/* metrics.h: per-route request counters and latency histograms, shared by
 * every process of one program on one host.
 *
 * Each FastCGI program maps one file, METRICS_DIR/<service>.metrics, with
 * MAP_SHARED and counts into it with lock-free atomics: every thread and
 * every process of the program (several FastCGI processes, a restart, or
 * one short-lived process per request under CGI/fcgiwrap) adds to the same
 * counters, and a restart does not reset them. The file describes itself
 * (service name, each slot's method and route pattern), so the ops program
 * renders every *.metrics file of the directory as Prometheus text without
 * knowing the route tables. Without METRICS_DIR the counters live in
 * private memory and are not exported.
 *
 * One slot per route of the table, in order, and one more for requests
 * that matched no route. A slot counts responses by status class
 * (1xx..5xx), a latency histogram (buckets in seconds: TX_METRICS_BUCKETS,
 * then +Inf) and the latency sum in microseconds.
 *
 * A file whose layout does not match the running program's route table
 * (another version) is re-initialised under flock(2) at start-up: that is
 * a counter reset, which Prometheus's rate() expects.
 *
 * The mapping is process-wide state on purpose (counters of all threads);
 * it holds no request data.
 */
#ifndef TX_METRICS_H
#define TX_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct tx_buf;
struct tx_route;
struct tx_service;

#define TX_METRICS_SLOTS 48 /* routes per program, with the unmatched slot */
#define TX_METRICS_NBUCKETS 13
extern const double tx_metrics_buckets[TX_METRICS_NBUCKETS]; /* seconds */

/* Map METRICS_DIR/<svc->name>.metrics (dir NULL or "": private memory).
 * Once at start-up, before threads. 0, or -1 (the caller logs; requests
 * are then not counted). */
int tx_metrics_open(const struct tx_service *svc, const char *dir);
void tx_metrics_close(void);

/* Count one response of route (NULL: no route matched). Thread-safe,
 * lock-free; does nothing when nothing is mapped. */
void tx_metrics_observe(const struct tx_service *svc, const struct tx_route *rt,
			int status, int64_t micros);

/* Append, as Prometheus text (families tx_http_requests_total and
 * tx_http_request_duration_seconds), every valid *.metrics file of dir.
 * The number of files rendered, or -1 if dir cannot be read. */
int tx_metrics_render_dir(const char *dir, struct tx_buf *out);

#endif
