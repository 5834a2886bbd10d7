/* worker.c: the event runtime program: outbox relays, consumer groups,
 * the expiration scheduler, the orders sweeper and the payments settler.
 *
 *   worker [--roles relay,consumers,scheduler,sweeper,settler]
 *          [--only-group NAME] [--consumers N]
 *       one relay thread per outbox schema, N consumer threads (default
 *       2, each its own consumer with its own connections) per group of
 *       the listener table, one scheduler thread (expiration clock), one
 *       sweeper thread (overdue orders), one settler thread (charge
 *       attempts left open); all roles by default. SIGTERM/
 *       SIGINT: every thread finishes the batch or event in hand, then the
 *       program exits 0.
 *   worker republish SCHEMA FROM TO
 *       mark outbox rows FROM..TO of SCHEMA unpublished (Redis lost them);
 *       the running relays send them again, consumers dedupe.
 */
#include "core/config.h"
#include "core/consumer.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/relay.h"
#include "expiration/expiration.h"
#include "orders/orders.h"
#include "payments/payments.h"
#include "tickets/tickets.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JOBS 64
/* Consumers per group. Every listener has a batch mode (up to 512 events
 * per transaction), so a burst costs a few WAL flushes, not one per event;
 * a second consumer still overlaps one's commit with the other's read and
 * keeps a group going while one waits on a lock. Measured with make
 * bench's event sections, 2 against 4: the same lag (p99 6 ms) and expiry
 * (p99 ~100 ms), the flash sale faster (2,700 against 2,500 orders/s), a
 * burst of POSTs 1-2 ms later at the median; and 8 fewer Postgres
 * connections. Events of one aggregate that arrive out of order are put
 * right by the version checks and redelivery, as with two workers. */
#define DEFAULT_CONSUMERS 2
#define MAX_CONSUMERS 16

struct job {
	pthread_t thread;
	struct tx_relay *relay;
	struct tx_consumer *consumer;
	struct expiration_scheduler *scheduler;
	struct orders_sweeper *sweeper;
	struct payments_settler *settler;
	const atomic_bool *stop;
};

struct args {
	bool relay, consumers, scheduler, sweeper, settler;
	const char *only_group;
	long nconsumers;
};

static int usage(void)
{
	fprintf(stderr, "usage: worker [--roles relay,consumers,scheduler,sweeper,settler] "
			"[--only-group NAME] [--consumers N]\n"
			"       worker republish SCHEMA FROM TO\n");
	return 2;
}

static int parse_roles(const char *s, struct args *a)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	a->relay = a->consumers = a->scheduler = a->sweeper = a->settler = false;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "relay") == 0)
			a->relay = true;
		else if (strcmp(t, "consumers") == 0)
			a->consumers = true;
		else if (strcmp(t, "scheduler") == 0)
			a->scheduler = true;
		else if (strcmp(t, "sweeper") == 0)
			a->sweeper = true;
		else if (strcmp(t, "settler") == 0)
			a->settler = true;
		else
			return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	a->relay = a->consumers = a->scheduler = a->sweeper = a->settler = true;
	a->only_group = NULL;
	a->nconsumers = DEFAULT_CONSUMERS;
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -1;
		if (strcmp(argv[i], "--roles") == 0) {
			if (parse_roles(v, a) < 0)
				return -1;
		} else if (strcmp(argv[i], "--only-group") == 0) {
			a->only_group = v;
		} else if (strcmp(argv[i], "--consumers") == 0) {
			if (tx_parse_long(v, 1, MAX_CONSUMERS, &a->nconsumers) < 0)
				return -1;
		} else
			return -1;
	}
	return 0;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	if (j->relay)
		tx_relay_run(j->relay, j->stop);
	else if (j->scheduler)
		expiration_scheduler_run(j->scheduler, j->stop);
	else if (j->sweeper)
		orders_sweeper_run(j->sweeper, j->stop);
	else if (j->settler)
		payments_settler_run(j->settler, j->stop);
	else
		tx_consumer_run(j->consumer, j->stop);
	return NULL;
}

static size_t add_relays(const struct tx_config *cfg, struct job *jobs, size_t n)
{
	char url[1024], err[256];
	for (size_t i = 0; i < tx_relay_nschemas && n < MAX_JOBS; i++) {
		const char *schema = tx_relay_schemas[i];
		if (tx_config_schema_db_url(cfg, schema, url, sizeof(url)) < 0 ||
		    !(jobs[n].relay = tx_relay_new(cfg, schema, url, err, sizeof(err)))) {
			tx_log("error", "relay %s: %s", schema, err);
			continue;
		}
		n++;
	}
	return n;
}

/* Each service's listeners form one consumer group. */
struct listener_set {
	const struct tx_listener *listeners;
	const size_t *n;
};

static const struct listener_set listener_sets[] = {
	{ tickets_listeners, &tickets_nlisteners },
	{ orders_listeners, &orders_nlisteners },
	{ expiration_listeners, &expiration_nlisteners },
	{ payments_listeners, &payments_nlisteners },
};

static size_t add_consumers(const struct tx_config *cfg, const struct args *a,
			    struct job *jobs, size_t n)
{
	char err[256];
	size_t nsets = sizeof(listener_sets) / sizeof(listener_sets[0]);
	for (size_t i = 0; i < nsets; i++) {
		const struct listener_set *set = &listener_sets[i];
		const char *group = set->listeners[0].group;
		if (a->only_group && strcmp(a->only_group, group) != 0)
			continue;
		for (long k = 0; k < a->nconsumers && n < MAX_JOBS; k++) {
			jobs[n].consumer = tx_consumer_new(cfg, group, set->listeners,
							   *set->n, err, sizeof(err));
			if (!jobs[n].consumer) {
				tx_log("error", "consumer %s: %s", group, err);
				break;
			}
			n++;
		}
	}
	return n;
}

/* The expiration clock, the orders sweeper and the payments settler, one
 * thread each. */
static size_t add_clock(const struct tx_config *cfg, const struct args *a,
			struct job *jobs, size_t n)
{
	char err[256];
	if (a->scheduler && n < MAX_JOBS) {
		jobs[n].scheduler = expiration_scheduler_new(cfg, err, sizeof(err));
		if (jobs[n].scheduler)
			n++;
		else
			tx_log("error", "scheduler: %s", err);
	}
	if (a->sweeper && n < MAX_JOBS) {
		jobs[n].sweeper = orders_sweeper_new(cfg);
		if (jobs[n].sweeper)
			n++;
		else
			tx_log("error", "sweeper: ORDERS_DATABASE_URL too long");
	}
	if (a->settler && n < MAX_JOBS) {
		jobs[n].settler = payments_settler_new(cfg);
		if (jobs[n].settler)
			n++;
		else
			tx_log("error", "settler: PAYMENTS_DATABASE_URL too long");
	}
	return n;
}

static void release_job(struct job *j)
{
	tx_relay_free(j->relay);
	tx_consumer_free(j->consumer);
	expiration_scheduler_free(j->scheduler);
	orders_sweeper_free(j->sweeper);
	payments_settler_free(j->settler);
}

/* The settler charges and refunds, the payments listeners refund: either
 * needs a payment provider, and there is no default one. */
static bool needs_provider(const struct args *a)
{
	const char *group = payments_listeners[0].group;
	return a->settler ||
	       (a->consumers && (!a->only_group || strcmp(a->only_group, group) == 0));
}

static int serve(const struct tx_config *cfg, const struct args *a)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	atomic_bool stop = false;
	struct job *jobs = tx_xcalloc(MAX_JOBS, sizeof(*jobs));
	size_t n = a->relay ? add_relays(cfg, jobs, 0) : 0;
	if (a->consumers)
		n = add_consumers(cfg, a, jobs, n);
	n = add_clock(cfg, a, jobs, n);
	size_t started = 0;
	for (; started < n; started++) {
		jobs[started].stop = &stop;
		if (pthread_create(&jobs[started].thread, NULL, job_main,
				   &jobs[started]) != 0)
			break;
	}
	tx_log("info", "worker running %zu threads", started);
	int sig = 0;
	sigwait(&set, &sig);
	tx_log("info", "signal %d: finishing the work in hand", sig);
	atomic_store(&stop, true);
	for (size_t i = 0; i < started; i++)
		pthread_join(jobs[i].thread, NULL);
	for (size_t i = 0; i < n; i++)
		release_job(&jobs[i]);
	free(jobs);
	tx_log("info", "stopped");
	return 0;
}

static int republish(const struct tx_config *cfg, char **argv)
{
	long from, to;
	char url[1024], err[256];
	if (tx_parse_long(argv[3], 1, __LONG_MAX__, &from) < 0 ||
	    tx_parse_long(argv[4], from, __LONG_MAX__, &to) < 0)
		return usage();
	if (tx_config_schema_db_url(cfg, argv[2], url, sizeof(url)) < 0)
		return 1;
	struct tx_relay *r = tx_relay_new(cfg, argv[2], url, err, sizeof(err));
	if (!r) {
		tx_log("error", "republish: %s", err);
		return 1;
	}
	long long count = 0;
	int rc = tx_relay_republish(r, from, to, &count);
	if (rc < 0)
		tx_log("error", "republish: %s", tx_relay_error(r));
	else
		tx_log("info", "republish schema=%s from=%ld to=%ld rows=%lld", argv[2],
		       from, to, count);
	tx_relay_free(r);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct tx_config cfg;
	struct args a;
	char err[256];
	tx_log_set_service("worker");
	bool is_republish = argc > 1 && strcmp(argv[1], "republish") == 0;
	if (is_republish ? argc != 5 : parse_args(argc, argv, &a) < 0)
		return usage();
	if (tx_config_load_flags(&cfg, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)) < 0) {
		tx_log("error", "configuration: %s", err);
		return 1;
	}
	if (!is_republish && needs_provider(&a) && payments_init(&cfg) < 0)
		return 1;
	return is_republish ? republish(&cfg, argv) : serve(&cfg, &a);
}
