/* state.c: what the ops program knows: outbox backlogs from Postgres;
 * streams, groups, consumers, pending entries and dead letters from Redis.
 *
 * Event lag has two measures, both taken here so that no other process
 * has to export anything: the outbox lag (age of the oldest unpublished
 * row: the write -> relay hop) and each group's lag (age of the oldest
 * entry the group has not acked, pending or not yet delivered, from the
 * millisecond part of its stream id, which the relay's XADD stamped: the
 * relay -> listener hop). Redis is asked one command at a time with a 1 s
 * timeout; the first failure marks Redis down and ends the walk.
 */
#include "ops/ops.h"
#include "core/arena.h"
#include "core/db.h"
#include "core/events.h"
#include "core/log.h"
#include "core/redis.h"
#include "expiration/expiration.h"
#include "orders/orders.h"
#include "payments/payments.h"
#include "tickets/tickets.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Column privileges of role ops (sql/006_ops.sql) cover exactly these. */
TX_STMT(SQL_OPS_OUTBOX, 0,
	"SELECT 'tickets', count(*), COALESCE(extract(epoch FROM now() - "
	"min(created_at)), 0) FROM tickets.outbox WHERE published_at IS NULL "
	"UNION ALL SELECT 'orders', count(*), COALESCE(extract(epoch FROM now() - "
	"min(created_at)), 0) FROM orders.outbox WHERE published_at IS NULL "
	"UNION ALL SELECT 'payments', count(*), COALESCE(extract(epoch FROM now() - "
	"min(created_at)), 0) FROM payments.outbox WHERE published_at IS NULL");

TX_STMT(SQL_OPS_ATTEMPTS, 0,
	"SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at)), 0) "
	"FROM payments.charge_attempts WHERE outcome IS NULL");

/* ---- the subjects (streams) -------------------------------------------- */

static const char *subjects[OPS_MAX_STREAMS];
static size_t nsubjects;
static pthread_once_t subjects_once = PTHREAD_ONCE_INIT;

static void add_subjects(const struct tx_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < nsubjects && !seen; j++)
			seen = strcmp(subjects[j], ls[i].subject) == 0;
		if (!seen && nsubjects < OPS_MAX_STREAMS)
			subjects[nsubjects++] = ls[i].subject;
	}
}

static void subjects_init(void)
{
	add_subjects(tickets_listeners, tickets_nlisteners);
	add_subjects(orders_listeners, orders_nlisteners);
	add_subjects(payments_listeners, payments_nlisteners);
	add_subjects(expiration_listeners, expiration_nlisteners);
}

const char *const *ops_subjects(size_t *n)
{
	pthread_once(&subjects_once, subjects_init);
	*n = nsubjects;
	return subjects;
}

bool ops_is_subject(const char *s)
{
	size_t n;
	const char *const *all = ops_subjects(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i], s) == 0)
			return true;
	return false;
}

long long ops_group_pending(const struct ops_state *st, const char *group)
{
	long long sum = 0;
	for (size_t i = 0; i < st->nstreams; i++)
		for (size_t j = 0; j < st->streams[i].ngroups; j++)
			if (strcmp(st->streams[i].groups[j].name, group) == 0)
				sum += st->streams[i].groups[j].pending;
	return sum;
}

/* ---- Postgres ----------------------------------------------------------- */

static void load_outbox(struct tx_ctx *ctx, struct ops_state *st)
{
	PGresult *res;
	int64_t t0 = tx_now_us();
	st->pg_ok = tx_db_exec(ctx, &SQL_OPS_OUTBOX, NULL, &res) == 0;
	st->pg_ms = (double)(tx_now_us() - t0) / 1000.0;
	if (!st->pg_ok)
		return;
	for (int i = 0; i < PQntuples(res) && st->noutbox < OPS_MAX_OUTBOXES; i++) {
		struct ops_outbox *o = &st->outbox[st->noutbox++];
		o->schema = tx_arena_strdup(ctx->arena, PQgetvalue(res, i, 0));
		o->unpublished = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		o->oldest_seconds = strtod(PQgetvalue(res, i, 2), NULL);
	}
	if (tx_db_exec(ctx, &SQL_OPS_ATTEMPTS, NULL, &res) == 0 && PQntuples(res) == 1) {
		st->open_attempts = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		st->open_attempts_oldest_seconds = strtod(PQgetvalue(res, 0, 1), NULL);
	}
}

/* ---- Redis replies ------------------------------------------------------ */

/* One command on the thread's connection; NULL marks Redis down. */
static redisReply *cmd(struct tx_ctx *ctx, struct ops_state *st, int argc,
		       const char **argv)
{
	if (!st->redis_ok || !ctx->redis)
		return NULL;
	redisReply *r = tx_redis_cmd(ctx->redis, argc, argv, NULL);
	if (!r)
		st->redis_ok = false;
	return r;
}

/* The value of name in a RESP2 map (a flat [k, v, k, v...] array). */
static const redisReply *field(const redisReply *map, const char *name)
{
	if (!map || map->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < map->elements; i += 2)
		if (map->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(map->element[i]->str, name) == 0)
			return map->element[i + 1];
	return NULL;
}

static long long int_field(const redisReply *map, const char *name, long long dflt)
{
	const redisReply *v = field(map, name);
	if (v && v->type == REDIS_REPLY_INTEGER)
		return v->integer;
	return dflt;
}

static const char *str_of(struct tx_ctx *ctx, const redisReply *v)
{
	if (v && (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS))
		return tx_arena_strndup(ctx->arena, v->str, v->len);
	return NULL;
}

/* The id of an [id, [fields]] entry. */
static const char *entry_id(struct tx_ctx *ctx, const redisReply *e)
{
	if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 1)
		return NULL;
	return str_of(ctx, e->element[0]);
}

static uint64_t id_ms(const char *id)
{
	return id ? strtoull(id, NULL, 10) : 0;
}

static void key_of(struct tx_ctx *ctx, const char *name, char *out, size_t len)
{
	if (tx_redis_key(ctx->redis, name, out, len) < 0)
		out[0] = '\0';
}

/* ---- groups ------------------------------------------------------------- */

static void load_consumers(struct tx_ctx *ctx, struct ops_state *st,
			   const char *key, struct ops_group *g)
{
	const char *argv[] = { "XINFO", "CONSUMERS", key, g->name };
	redisReply *r = cmd(ctx, st, 4, argv);
	if (r && r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements && g->nconsumers < OPS_MAX_CONSUMERS; i++) {
			struct ops_consumer *c = &g->consumers_list[g->nconsumers++];
			c->name = str_of(ctx, field(r->element[i], "name"));
			c->pending = int_field(r->element[i], "pending", 0);
			c->idle_ms = int_field(r->element[i], "idle", 0);
			if (!c->name)
				c->name = "?";
		}
	if (r)
		freeReplyObject(r);
}

/* XPENDING summary: [count, lowest, highest, [[consumer, n]...]]. */
static void load_pending_range(struct tx_ctx *ctx, struct ops_state *st,
			       const char *key, struct ops_group *g)
{
	const char *argv[] = { "XPENDING", key, g->name };
	redisReply *r = cmd(ctx, st, 3, argv);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3) {
		g->oldest_pending = str_of(ctx, r->element[1]);
		g->newest_pending = str_of(ctx, r->element[2]);
	}
	if (r)
		freeReplyObject(r);
}

/* Age of the first entry after the last delivered one (0: none). */
static uint64_t first_undelivered_ms(struct tx_ctx *ctx, struct ops_state *st,
				     const char *key, const struct ops_group *g)
{
	char from[64];
	uint64_t ms = 0;
	snprintf(from, sizeof(from), "(%s", g->last_delivered ? g->last_delivered : "0-0");
	const char *argv[] = { "XRANGE", key, from, "+", "COUNT", "1" };
	redisReply *r = cmd(ctx, st, 6, argv);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1)
		ms = id_ms(entry_id(ctx, r->element[0]));
	if (r)
		freeReplyObject(r);
	return ms;
}

static void group_lag(struct tx_ctx *ctx, struct ops_state *st, const char *key,
		      struct ops_group *g)
{
	if (!g->oldest_pending && g->pending > 0)
		load_pending_range(ctx, st, key, g);
	uint64_t oldest = g->pending > 0 ? id_ms(g->oldest_pending) : 0;
	uint64_t next = g->lag != 0 ? first_undelivered_ms(ctx, st, key, g) : 0;
	/* Nothing after the last delivered id: Redis's count is off. It
	 * counts the entries the group read on this server; a group carried
	 * over a Sentinel failover (or a restart) may have read some on the
	 * old master, so the count stays high though all is delivered. */
	if (g->lag != 0 && next == 0)
		g->lag = 0;
	if (next && (!oldest || next < oldest))
		oldest = next;
	if (oldest && (int64_t)oldest < ctx->now_ms)
		g->lag_seconds = (double)(ctx->now_ms - (int64_t)oldest) / 1000.0;
}

static void load_groups(struct tx_ctx *ctx, struct ops_state *st,
			const char *key, struct ops_stream *s, enum ops_detail d)
{
	const char *argv[] = { "XINFO", "GROUPS", key };
	redisReply *r = cmd(ctx, st, 3, argv);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r); /* ERR no such key: no groups yet */
		return;
	}
	for (size_t i = 0; i < r->elements && s->ngroups < OPS_MAX_GROUPS; i++) {
		const redisReply *m = r->element[i];
		struct ops_group *g = &s->groups[s->ngroups++];
		memset(g, 0, sizeof(*g));
		g->name = str_of(ctx, field(m, "name"));
		g->name = g->name ? g->name : "?";
		g->consumers = int_field(m, "consumers", 0);
		g->pending = int_field(m, "pending", 0);
		g->lag = int_field(m, "lag", -1);
		g->last_delivered = str_of(ctx, field(m, "last-delivered-id"));
	}
	freeReplyObject(r);
	for (size_t i = 0; i < s->ngroups; i++) {
		struct ops_group *g = &s->groups[i];
		if (d == OPS_FULL) {
			load_consumers(ctx, st, key, g);
			if (g->pending > 0)
				load_pending_range(ctx, st, key, g);
		}
		group_lag(ctx, st, key, g);
	}
}

/* ---- streams and dead letters ------------------------------------------- */

static void load_stream(struct tx_ctx *ctx, struct ops_state *st,
			struct ops_stream *s, enum ops_detail d)
{
	char key[256];
	key_of(ctx, s->subject, key, sizeof(key));
	const char *argv[] = { "XINFO", "STREAM", key };
	redisReply *r = cmd(ctx, st, 3, argv);
	if (!r)
		return;
	if (r->type == REDIS_REPLY_ARRAY) {
		s->length = int_field(r, "length", 0);
		s->first_id = entry_id(ctx, field(r, "first-entry"));
		s->last_id = entry_id(ctx, field(r, "last-entry"));
	}
	bool exists = r->type == REDIS_REPLY_ARRAY;
	freeReplyObject(r);
	if (exists)
		load_groups(ctx, st, key, s, d);
}

static void load_dead(struct tx_ctx *ctx, struct ops_state *st, enum ops_detail d)
{
	char key[256];
	key_of(ctx, "dead-letter", key, sizeof(key));
	const char *xlen[] = { "XLEN", key };
	redisReply *r = cmd(ctx, st, 2, xlen);
	if (r && r->type == REDIS_REPLY_INTEGER)
		st->dead_letters = r->integer;
	if (r)
		freeReplyObject(r);
	if (d != OPS_FULL || st->dead_letters <= 0)
		return;
	const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "50" };
	r = cmd(ctx, st, 6, argv);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements &&
			   st->ndead < OPS_MAX_DEAD; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		struct ops_dead *dl = &st->dead[st->ndead++];
		dl->entry = entry_id(ctx, e);
		dl->subject = str_of(ctx, field(e->element[1], "subject"));
		dl->group = str_of(ctx, field(e->element[1], "group"));
		dl->id = str_of(ctx, field(e->element[1], "id"));
		dl->error = str_of(ctx, field(e->element[1], "error"));
	}
	if (r)
		freeReplyObject(r);
}

static void load_redis(struct tx_ctx *ctx, struct ops_state *st, enum ops_detail d)
{
	const char *ping[] = { "PING" };
	int64_t t0 = tx_now_us();
	st->redis_ok = true;
	redisReply *r = cmd(ctx, st, 1, ping);
	st->redis_ms = (double)(tx_now_us() - t0) / 1000.0;
	if (!r)
		return;
	freeReplyObject(r);
	size_t n;
	const char *const *subj = ops_subjects(&n);
	for (size_t i = 0; i < n && st->redis_ok; i++) {
		struct ops_stream *s = &st->streams[st->nstreams++];
		memset(s, 0, sizeof(*s));
		s->subject = subj[i];
		load_stream(ctx, st, s, d);
	}
	if (st->redis_ok)
		load_dead(ctx, st, d);
}

void ops_load(struct tx_ctx *ctx, struct ops_state *st, enum ops_detail d)
{
	memset(st, 0, sizeof(*st));
	st->dead_letters = -1;
	load_outbox(ctx, st);
	load_redis(ctx, st, d);
	if (!st->redis_ok)
		tx_log("warn", "ops: redis unavailable: %s",
		       ctx->redis ? tx_redis_error(ctx->redis) : "no connection");
}
