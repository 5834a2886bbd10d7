/* metrics.c: shared-memory request counters per route; see metrics.h.
 *
 * The file is a fixed struct: a header, then one slot per route. Labels
 * are written once under flock(2) when a process finds the file missing,
 * short, or laid out for another route table; counters are only ever
 * touched with relaxed atomic adds (lock-free for 64-bit integers on the
 * platforms we build for: checked below), so processes never block each
 * other. Readers map the file read-only and load the counters with relaxed
 * atomics: a scrape may see one request's count without its bucket, which
 * Prometheus tolerates.
 */
#include "metrics.h"
#include "buf.h"
#include "http.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "shared-memory counters need lock-free 64-bit atomics");

#define MAGIC 0x314d5854u /* "TXM1" */
#define NSTATUS 5
#define MAX_FILES 16

const double tx_metrics_buckets[TX_METRICS_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct mslot {
	char method[8];
	char route[120];
	_Atomic uint64_t status[NSTATUS]; /* 1xx .. 5xx */
	_Atomic uint64_t bucket[TX_METRICS_NBUCKETS + 1]; /* last: +Inf only */
	_Atomic uint64_t sum_us;
};

struct mfile {
	uint32_t magic;
	uint32_t nslots;
	uint32_t slot_size;
	uint32_t nbuckets;
	char service[32];
	struct mslot slots[TX_METRICS_SLOTS];
};

static struct mfile *mapped;

static const char *const method_names[TX_METHOD__MAX] = {
	[TX_GET] = "GET",     [TX_HEAD] = "HEAD",     [TX_POST] = "POST",
	[TX_PUT] = "PUT",     [TX_DELETE] = "DELETE", [TX_PATCH] = "PATCH",
	[TX_OTHER] = "OTHER",
};

/* The labels slot i should carry for svc (i == nroutes: unmatched). */
static void slot_labels(const struct tx_service *svc, size_t i, char *method,
			size_t mlen, char *route, size_t rlen)
{
	if (i < svc->nroutes) {
		snprintf(method, mlen, "%s", method_names[svc->routes[i].method]);
		snprintf(route, rlen, "%s", svc->routes[i].pattern);
	} else {
		snprintf(method, mlen, "-");
		snprintf(route, rlen, "(unmatched)");
	}
}

static bool layout_matches(const struct mfile *f, const struct tx_service *svc)
{
	char m[8], r[120];
	if (f->magic != MAGIC || f->nslots != svc->nroutes + 1 ||
	    f->slot_size != sizeof(struct mslot) ||
	    f->nbuckets != TX_METRICS_NBUCKETS ||
	    strncmp(f->service, svc->name, sizeof(f->service)) != 0)
		return false;
	for (size_t i = 0; i < f->nslots; i++) {
		slot_labels(svc, i, m, sizeof(m), r, sizeof(r));
		if (strcmp(f->slots[i].method, m) != 0 ||
		    strncmp(f->slots[i].route, r, sizeof(r)) != 0)
			return false;
	}
	return true;
}

static void layout_write(struct mfile *f, const struct tx_service *svc)
{
	memset(f, 0, sizeof(*f));
	f->nslots = (uint32_t)svc->nroutes + 1;
	f->slot_size = sizeof(struct mslot);
	f->nbuckets = TX_METRICS_NBUCKETS;
	snprintf(f->service, sizeof(f->service), "%s", svc->name);
	for (size_t i = 0; i < f->nslots; i++)
		slot_labels(svc, i, f->slots[i].method, sizeof(f->slots[i].method),
			    f->slots[i].route, sizeof(f->slots[i].route));
	atomic_thread_fence(memory_order_release);
	f->magic = MAGIC;
}

static struct mfile *map_private(void)
{
	void *p = mmap(NULL, sizeof(struct mfile), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Open (creating) and map path; labels checked and written under flock. */
static struct mfile *map_shared(const char *path, const struct tx_service *svc)
{
	struct mfile *f = NULL;
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return NULL;
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
		goto out;
	if (st.st_size != (off_t)sizeof(struct mfile) &&
	    (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct mfile)) < 0))
		goto out;
	void *p = mmap(NULL, sizeof(struct mfile), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	f = p;
	if (!layout_matches(f, svc))
		layout_write(f, svc);
out:
	/* Unlock explicitly: the mapping keeps the open file description,
	 * and with it a flock, alive after close. */
	flock(fd, LOCK_UN);
	close(fd);
	return f;
}

int tx_metrics_open(const struct tx_service *svc, const char *dir)
{
	char path[512];
	if (svc->nroutes + 1 > TX_METRICS_SLOTS || mapped)
		return -1;
	if (!dir || !*dir) {
		mapped = map_private();
		if (mapped)
			layout_write(mapped, svc);
		return mapped ? 0 : -1;
	}
	int n = snprintf(path, sizeof(path), "%s/%s.metrics", dir, svc->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	mapped = map_shared(path, svc);
	return mapped ? 0 : -1;
}

void tx_metrics_close(void)
{
	if (mapped)
		munmap(mapped, sizeof(*mapped));
	mapped = NULL;
}

void tx_metrics_observe(const struct tx_service *svc, const struct tx_route *rt,
			int status, int64_t micros)
{
	struct mfile *f = mapped;
	if (!f)
		return;
	size_t i = svc->nroutes;
	if (rt && rt >= svc->routes && rt < svc->routes + svc->nroutes)
		i = (size_t)(rt - svc->routes);
	if (i >= f->nslots)
		return;
	struct mslot *s = &f->slots[i];
	int cls = status / 100 - 1;
	if (cls >= 0 && cls < NSTATUS)
		atomic_fetch_add_explicit(&s->status[cls], 1, memory_order_relaxed);
	double secs = (double)(micros < 0 ? 0 : micros) / 1e6;
	size_t b = 0;
	while (b < TX_METRICS_NBUCKETS && secs > tx_metrics_buckets[b])
		b++;
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(micros < 0 ? 0 : micros),
				  memory_order_relaxed);
}

/* ---- rendering (the ops program) -------------------------------------- */

static uint64_t load(const _Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void add_label(struct tx_buf *b, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			tx_buf_addch(b, '\\');
		if (s[i] == '\n')
			tx_buf_addlit(b, "\\n");
		else
			tx_buf_addch(b, s[i]);
	}
}

static void add_labels(struct tx_buf *b, const struct mfile *f,
		       const struct mslot *s)
{
	tx_buf_addlit(b, "service=\"");
	add_label(b, f->service, sizeof(f->service));
	tx_buf_addlit(b, "\",method=\"");
	add_label(b, s->method, sizeof(s->method));
	tx_buf_addlit(b, "\",route=\"");
	add_label(b, s->route, sizeof(s->route));
	tx_buf_addch(b, '"');
}

static void render_counts(struct tx_buf *b, struct mfile *const *fs, size_t n)
{
	tx_buf_adds(b, "# HELP tx_http_requests_total HTTP responses by program, "
		       "route and status class.\n"
		       "# TYPE tx_http_requests_total counter\n");
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < fs[k]->nslots; i++)
			for (int c = 1; c < NSTATUS; c++) {
				tx_buf_addlit(b, "tx_http_requests_total{");
				add_labels(b, fs[k], &fs[k]->slots[i]);
				tx_buf_addf(b, ",code=\"%dxx\"} %llu\n", c + 1,
					    (unsigned long long)load(&fs[k]->slots[i].status[c]));
			}
}

static void render_histogram(struct tx_buf *b, const struct mfile *f,
			     const struct mslot *s)
{
	uint64_t cum = 0;
	for (size_t j = 0; j <= TX_METRICS_NBUCKETS; j++) {
		cum += load(&s->bucket[j]);
		tx_buf_addlit(b, "tx_http_request_duration_seconds_bucket{");
		add_labels(b, f, s);
		if (j < TX_METRICS_NBUCKETS)
			tx_buf_addf(b, ",le=\"%g\"} %llu\n", tx_metrics_buckets[j],
				    (unsigned long long)cum);
		else
			tx_buf_addf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	tx_buf_addlit(b, "tx_http_request_duration_seconds_sum{");
	add_labels(b, f, s);
	tx_buf_addf(b, "} %.6f\n", (double)load(&s->sum_us) / 1e6);
	tx_buf_addlit(b, "tx_http_request_duration_seconds_count{");
	add_labels(b, f, s);
	tx_buf_addf(b, "} %llu\n", (unsigned long long)cum);
}

static bool metrics_name(const char *name)
{
	size_t n = strlen(name), suffix = sizeof(".metrics") - 1;
	if (n <= suffix || n > 40 || strcmp(name + n - suffix, ".metrics") != 0)
		return false;
	for (size_t i = 0; i < n - suffix; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		      name[i] == '-'))
			return false;
	return true;
}

/* Map dir/name read-only if it is a whole, labelled metrics file. */
static struct mfile *map_reader(int dfd, const char *name)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == (off_t)sizeof(struct mfile))
		p = mmap(NULL, sizeof(struct mfile), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	struct mfile *f = p;
	if (f->magic != MAGIC || f->nslots == 0 || f->nslots > TX_METRICS_SLOTS ||
	    f->slot_size != sizeof(struct mslot) ||
	    f->nbuckets != TX_METRICS_NBUCKETS) {
		munmap(p, sizeof(struct mfile));
		return NULL;
	}
	return f;
}

int tx_metrics_render_dir(const char *dir, struct tx_buf *out)
{
	struct mfile *fs[MAX_FILES];
	size_t n = 0;
	DIR *d = dir && *dir ? opendir(dir) : NULL;
	if (!d)
		return -1;
	for (struct dirent *e; n < MAX_FILES && (e = readdir(d));)
		if (metrics_name(e->d_name) && (fs[n] = map_reader(dirfd(d), e->d_name)))
			n++;
	closedir(d);
	render_counts(out, fs, n);
	tx_buf_adds(out, "# HELP tx_http_request_duration_seconds Time from request "
			 "to response in the program.\n"
			 "# TYPE tx_http_request_duration_seconds histogram\n");
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < fs[k]->nslots; i++)
			render_histogram(out, fs[k], &fs[k]->slots[i]);
	for (size_t k = 0; k < n; k++)
		munmap(fs[k], sizeof(struct mfile));
	return (int)n;
}
