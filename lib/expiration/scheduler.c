/* scheduler.c: the loop that publishes due expiries (see expiration.h).
 *
 * Each tick runs the move script once: it publishes up to a batch of due
 * orders and answers how long until the next one. The loop goes again at
 * once while whole batches come back, otherwise naps until the next due
 * time, at most EXPIRATION_MAX_SLEEP_MS (an order scheduled meanwhile for
 * an earlier time is then at most that late). Redis errors back off from
 * 50 ms to 1 s and are logged once, then every 30 s.
 */
#include "expiration/expiration.h"
#include "core/config.h"
#include "core/errors.h"
#include "core/failpoint.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/redis.h"
#include "expiration/script.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD_TIMEOUT_MS 5000
#define ERROR_LOG_INTERVAL_US (30LL * 1000000)

struct expiration_scheduler {
	struct tx_redis *redis;
	struct expiration_keys keys;
	long moved;
	char error[256];
	bool failing;
	int64_t last_err_log_us;
};

__attribute__((format(printf, 2, 3)))
static void set_error(struct expiration_scheduler *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

struct expiration_scheduler *expiration_scheduler_new(const struct tx_config *cfg,
						      char *err, size_t errlen)
{
	struct expiration_scheduler *s = tx_xcalloc(1, sizeof(*s));
	s->redis = tx_redis_new(cfg->redis_url, cfg->redis_prefix, CMD_TIMEOUT_MS,
				err, errlen);
	if (s->redis && expiration_keys(s->redis, &s->keys) < 0)
		snprintf(err, errlen, "REDIS_PREFIX too long");
	else if (s->redis)
		return s;
	expiration_scheduler_free(s);
	return NULL;
}

void expiration_scheduler_free(struct expiration_scheduler *s)
{
	if (!s)
		return;
	tx_redis_free(s->redis);
	free(s);
}

const char *expiration_scheduler_error(const struct expiration_scheduler *s)
{
	return s->error;
}

long expiration_scheduler_moved(const struct expiration_scheduler *s)
{
	return s->moved;
}

static bool int_reply(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER;
}

int expiration_scheduler_tick(struct expiration_scheduler *s, int *moved,
			      int *wait_ms)
{
	char batch[16];
	snprintf(batch, sizeof(batch), "%d", EXPIRATION_BATCH);
	const char *kv[] = { s->keys.due, s->keys.stream, batch,
			     (const char *)expiration_id_namespace() };
	const size_t lens[] = { 0, 0, 0, 16 };
	*moved = 0;
	*wait_ms = EXPIRATION_MAX_SLEEP_MS;
	redisReply *r = expiration_eval(s->redis, expiration_move_lua, 2, 2, kv, lens);
	if (!r) {
		set_error(s, "move: %s", tx_redis_error(s->redis));
		return -TX_E_UNAVAILABLE;
	}
	bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		  int_reply(r->element[0]) && int_reply(r->element[1]) &&
		  int_reply(r->element[2]);
	if (!ok) {
		set_error(s, "move: %s", r->type == REDIS_REPLY_ERROR ? r->str
								      : "unexpected reply");
		freeReplyObject(r);
		return -TX_E_UNAVAILABLE;
	}
	*moved = (int)r->element[0]->integer;
	long long next = r->element[2]->integer;
	if (*moved == EXPIRATION_BATCH || (r->element[1]->integer && next <= 0))
		*wait_ms = 0;
	else if (r->element[1]->integer && next < EXPIRATION_MAX_SLEEP_MS)
		*wait_ms = (int)next;
	s->moved += *moved;
	freeReplyObject(r);
	return 0;
}

static void log_error(struct expiration_scheduler *s)
{
	int64_t now = tx_now_us();
	if (s->failing && now - s->last_err_log_us < ERROR_LOG_INTERVAL_US)
		return;
	s->failing = true;
	s->last_err_log_us = now;
	tx_log("error", "scheduler error=%s", s->error);
}

void expiration_scheduler_run(struct expiration_scheduler *s,
			      const atomic_bool *stop)
{
	int backoff = 0;
	tx_log("info", "scheduler due=%s stream=%s started", s->keys.due,
	       s->keys.stream);
	while (!atomic_load(stop)) {
		int moved, wait;
		if (expiration_scheduler_tick(s, &moved, &wait) < 0) {
			log_error(s);
			backoff = backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 50;
			tx_nap(backoff, stop);
			continue;
		}
		if (s->failing)
			tx_log("info", "scheduler recovered");
		s->failing = false;
		backoff = 0;
		if (moved) {
			tx_log("info", "scheduler published=%d", moved);
			TX_FAILPOINT("scheduler_after_move");
		}
		tx_nap(wait, stop);
	}
	tx_log("info", "scheduler stopped published=%ld", s->moved);
}
