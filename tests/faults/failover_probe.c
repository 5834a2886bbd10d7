/* failover_probe.c: how long the programs' own clients cannot write,
 * measured through lib/core/db.c and lib/core/redis.c during a failover.
 *
 *   failover_probe SECONDS OUTFILE
 *
 * Two threads, each a write every 100 ms until SECONDS have passed (or
 * SIGTERM/SIGINT): one INSERTs a row into public.failover_probe through
 * tx_db (DATABASE_URL: the multi-host conninfo), the other SETs a key
 * through tx_redis (REDIS_URL, or REDIS_SENTINELS and REDIS_MASTER_NAME,
 * read by tx_config as the programs read them). Each attempt is a line
 * of OUTFILE, "<unix time s.ms> pg|redis ok|fail [reason]"; scripts/
 * failover.sh reads the outages from it. Exit 0 unless it could not start.
 */
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/http.h"
#include "core/redis.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_US 100000

TX_STMT(SQL_PROBE, 0, "INSERT INTO public.failover_probe (t) VALUES (now())");

static struct tx_config cfg;
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static double deadline;
static volatile sig_atomic_t stopping;

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool running(void)
{
	return !stopping && wall() < deadline;
}

static void line(const char *what, bool ok, const char *why)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "%s", ok || !why ? "" : why);
	reason[strcspn(reason, "\r\n")] = '\0';
	pthread_mutex_lock(&out_lock);
	fprintf(out, "%.3f %s %s%s%s\n", wall(), what, ok ? "ok" : "fail",
		reason[0] ? " " : "", reason);
	fflush(out);
	pthread_mutex_unlock(&out_lock);
}

static void *pg_main(void *arg)
{
	(void)arg;
	struct tx_ctx ctx = { .cfg = &cfg, .request_id = "probe" };
	ctx.arena = tx_arena_new(0);
	ctx.db = tx_db_new(cfg.database_url);
	while (running()) {
		int rc = tx_db_exec(&ctx, &SQL_PROBE, NULL, NULL);
		line("pg", rc == 0, ctx.db_error);
		tx_arena_reset(ctx.arena);
		usleep(PERIOD_US);
	}
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
	return NULL;
}

static void *redis_main(void *arg)
{
	(void)arg;
	char err[256];
	struct tx_redis *r = tx_redis_new(cfg.redis_url, "", 1000, err, sizeof(err));
	if (!r) {
		line("redis", false, err);
		return NULL;
	}
	while (running()) {
		char v[32];
		snprintf(v, sizeof(v), "%.3f", wall());
		const char *argv[] = { "SET", "failover-probe", v };
		redisReply *rep = tx_redis_cmd(r, 3, argv, NULL);
		bool ok = rep && rep->type == REDIS_REPLY_STATUS;
		line("redis", ok, rep && rep->type == REDIS_REPLY_ERROR ? rep->str
									 : tx_redis_error(r));
		if (rep)
			freeReplyObject(rep);
		usleep(PERIOD_US);
	}
	tx_redis_free(r);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	char err[256], *end;
	long secs = argc == 3 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 3 || *end || secs <= 0 || secs > 86400) {
		fputs("usage: failover_probe SECONDS OUTFILE\n", stderr);
		return 2;
	}
	if (tx_config_load_flags(&cfg, NULL, TX_CONFIG_NO_JWT_KEY, err, sizeof(err)) < 0) {
		fprintf(stderr, "failover_probe: %s\n", err);
		return 1;
	}
	if (!(out = fopen(argv[2], "a"))) {
		perror(argv[2]);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	deadline = wall() + (double)secs;
	pthread_t pg, rd;
	if (pthread_create(&pg, NULL, pg_main, NULL) != 0 ||
	    pthread_create(&rd, NULL, redis_main, NULL) != 0)
		return 1;
	pthread_join(pg, NULL);
	pthread_join(rd, NULL);
	fclose(out);
	return 0;
}
