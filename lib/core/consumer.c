/* consumer.c: Redis consumer groups -> listeners, exactly-once effects.
 *
 * Design. Delivery is at least once (XREADGROUP, then XCLAIM of entries
 * left idle for ACK_WAIT_MS); effects are made at most once by doing them
 * in the same Postgres transaction as an INSERT into processed_events
 * (event_id, group): a second delivery inserts nothing, is rolled back and
 * acked. The order is always: commit, then XACK. A crash in between leaves
 * the entry pending; it is claimed again and acked as a duplicate. A
 * handler that fails (or asks to retry) rolls back and leaves the entry
 * pending with its error in a hash; the reclaim pass, every ACK_WAIT_MS/2,
 * claims idle entries with XCLAIM (whose min-idle check lets only one
 * consumer win) and either processes them again or, once they have been
 * delivered MAX_DELIVERIES times, copies them to the dead-letter stream and
 * acks them. Malformed entries (no valid event id, invalid JSON) go to the
 * dead-letter stream at once. Groups are created at the start of the
 * stream (the original's deliver-all-available) and re-created on NOGROUP
 * (Redis restarted without its data). Trimming keeps every entry at or
 * above the lowest pending or last-delivered id of every group, and
 * anything younger than STREAM_RETENTION_SECONDS.
 */
#include "consumer.h"
#include "arena.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "events.h"
#include "failpoint.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define REDIS_TIMEOUT_EXTRA_MS 5000
#define RECLAIM_COUNT 64
#define TRIM_INTERVAL_US (60LL * 1000000)
#define STALE_CONSUMER_MS (3600LL * 1000)
#define ERROR_LOG_INTERVAL_US (30LL * 1000000)

#define OUTCOME_MAP(X)                  \
	X(APPLIED, "applied")           \
	X(DUPLICATE, "duplicate")       \
	X(RETRY, "retry")               \
	X(FAILED, "failed")             \
	X(DEAD, "dead-letter")          \
	X(UNAVAILABLE, "unavailable")

enum outcome {
#define OUTCOME_ENUM(name, text) O_##name,
	OUTCOME_MAP(OUTCOME_ENUM)
#undef OUTCOME_ENUM
	O__MAX
};

static const char *const outcome_names[O__MAX] = {
#define OUTCOME_NAME(name, text) text,
	OUTCOME_MAP(OUTCOME_NAME)
#undef OUTCOME_NAME
};

struct stream {
	char key[256];
	const struct tx_listener *l;
};

/* A stream entry's parts (pointers into a redisReply). */
struct entry {
	const char *entry_id;
	const char *ev_id;
	const char *data;
	size_t data_len;
};

struct stream_id {
	uint64_t ms, seq;
};

_Static_assert(TX_CONSUMER_BATCH >= TX_CONSUMER_COUNT, "a batch holds a read");

/* What becomes of each entry of a batch (batch mode). */
enum bstate {
	B_NEW,	     /* well formed: to record and apply in the batch */
	B_FRESH,     /* its id recorded now: handed to handle_batch */
	B_DUPLICATE, /* its id was recorded before: ack, no effect */
	B_APPLIED,   /* applied by the batch: ack after commit */
	B_REFUSED,   /* refused by handle_batch: its id is forgotten */
	B_SINGLE,    /* through handle(), alone, after the batch */
	B_PENDING,   /* the database is down: left for redelivery */
	B__MAX
};

struct tx_consumer {
	const struct tx_config *cfg;
	char group[128];
	char name[128];
	char schema[64];
	bool redis_only; /* schema NULL: no Postgres (events.h) */
	struct stream streams[TX_CONSUMER_MAX_STREAMS];
	size_t nstreams;
	struct tx_redis *redis;
	struct tx_ctx ctx;
	struct tx_stmt st_dedupe, st_dedupe_batch, st_forget;
	char sql_dedupe[256], sql_dedupe_batch[320], sql_forget[256];
	char dlkey[256];
	char errkey[256];
	bool groups_ready;
	int64_t next_reclaim_us, next_trim_us;
	struct tx_consumer_stats stats;
	/* the batch in hand (batch mode): entries, their parts and fates */
	const redisReply *braw[TX_CONSUMER_BATCH];
	struct entry bentry[TX_CONSUMER_BATCH];
	struct json_object *bjson[TX_CONSUMER_BATCH];
	enum bstate bstate[TX_CONSUMER_BATCH];
	char error[512];
	bool failing; /* errors since the last success: log every 30 s */
	int64_t last_err_log_us;
};

static atomic_uint consumer_seq;

__attribute__((format(printf, 2, 3)))
static void set_error(struct tx_consumer *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

/* snprintf that may cut (messages for logs and the dead-letter stream). */
__attribute__((format(printf, 3, 4)))
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int redis_down(struct tx_consumer *c, const char *what)
{
	set_error(c, "%s: %s", what, tx_redis_error(c->redis));
	return -TX_E_UNAVAILABLE;
}

/* ---- construction ------------------------------------------------------------ */

static bool is_identifier(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 && !isdigit((unsigned char)s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Take the group's listeners; 0 or -1 with err. */
static int add_listeners(struct tx_consumer *c, const struct tx_listener *ls,
			 size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ls[i].group, c->group) != 0)
			continue;
		bool none = ls[i].schema == NULL;
		if (c->nstreams == 0)
			c->redis_only = none;
		if (c->nstreams == TX_CONSUMER_MAX_STREAMS || none != c->redis_only ||
		    (!none && c->nstreams && strcmp(ls[i].schema, c->schema) != 0) ||
		    (!none && !is_identifier(ls[i].schema))) {
			snprintf(err, errlen, "group %s: too many listeners, or "
				 "schemas differ or are not identifiers", c->group);
			return -1;
		}
		for (size_t j = 0; j < c->nstreams; j++)
			if (strcmp(c->streams[j].l->subject, ls[i].subject) == 0) {
				snprintf(err, errlen, "group %s: two listeners for %s",
					 c->group, ls[i].subject);
				return -1;
			}
		snprintf(c->schema, sizeof(c->schema), "%s", none ? "" : ls[i].schema);
		struct stream *s = &c->streams[c->nstreams++];
		s->l = &ls[i];
		if (tx_redis_key(c->redis, ls[i].subject, s->key, sizeof(s->key)) < 0) {
			snprintf(err, errlen, "subject too long: %s", ls[i].subject);
			return -1;
		}
	}
	if (c->nstreams == 0) {
		snprintf(err, errlen, "no listeners in group %s", c->group);
		return -1;
	}
	return 0;
}

static void make_name(struct tx_consumer *c)
{
	char host[64];
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(c->name, sizeof(c->name), "%s-%d-%u", host, (int)getpid(),
		 atomic_fetch_add(&consumer_seq, 1) + 1);
}

/* Keys and the statement; 0 or -1 with err. */
static int setup(struct tx_consumer *c, char *err, size_t errlen)
{
	char name[200];
	snprintf(name, sizeof(name), "event-errors:%s", c->group);
	if (tx_redis_key(c->redis, "dead-letter", c->dlkey, sizeof(c->dlkey)) < 0 ||
	    tx_redis_key(c->redis, name, c->errkey, sizeof(c->errkey)) < 0) {
		snprintf(err, errlen, "REDIS_PREFIX or group name too long");
		return -1;
	}
	c->ctx.cfg = c->cfg;
	c->ctx.arena = tx_arena_new(64 << 10);
	c->ctx.redis = c->redis;
	if (c->redis_only)
		return 0;
	snprintf(c->sql_dedupe, sizeof(c->sql_dedupe),
		 "INSERT INTO %s.processed_events (event_id, group_name) "
		 "VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING", c->schema);
	c->st_dedupe = (struct tx_stmt){ "dedupe", c->sql_dedupe, 2 };
	/* Sorted, so that two batches that share an id wait for each other
	 * rather than deadlock; DISTINCT: an id twice in a batch is one row. */
	snprintf(c->sql_dedupe_batch, sizeof(c->sql_dedupe_batch),
		 "INSERT INTO %s.processed_events (event_id, group_name) "
		 "SELECT DISTINCT e, $2::text FROM unnest($1::uuid[]) e ORDER BY 1 "
		 "ON CONFLICT DO NOTHING RETURNING event_id", c->schema);
	c->st_dedupe_batch = (struct tx_stmt){ "dedupe_batch", c->sql_dedupe_batch, 2 };
	snprintf(c->sql_forget, sizeof(c->sql_forget),
		 "DELETE FROM %s.processed_events WHERE event_id = ANY($1::uuid[]) "
		 "AND group_name = $2", c->schema);
	c->st_forget = (struct tx_stmt){ "forget", c->sql_forget, 2 };
	char url[1024];
	if (tx_config_schema_db_url(c->cfg, c->schema, url, sizeof(url)) < 0) {
		snprintf(err, errlen, "database URL too long");
		return -1;
	}
	c->ctx.db = tx_db_new(url);
	return 0;
}

struct tx_consumer *tx_consumer_new(const struct tx_config *cfg,
				    const char *group,
				    const struct tx_listener *ls, size_t n,
				    char *err, size_t errlen)
{
	struct tx_consumer *c = tx_xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	snprintf(c->group, sizeof(c->group), "%s", group);
	int block = tx_consumer_block_ms(c);
	c->redis = tx_redis_new(cfg->redis_url, cfg->redis_prefix,
				block + REDIS_TIMEOUT_EXTRA_MS, err, errlen);
	if (!c->redis || strlen(group) >= sizeof(c->group) ||
	    add_listeners(c, ls, n, err, errlen) < 0 || setup(c, err, errlen) < 0) {
		tx_consumer_free(c);
		return NULL;
	}
	make_name(c);
	return c;
}

void tx_consumer_free(struct tx_consumer *c)
{
	if (!c)
		return;
	tx_redis_free(c->redis);
	tx_db_free(c->ctx.db);
	if (c->ctx.arena)
		tx_arena_free(c->ctx.arena);
	free(c);
}

const char *tx_consumer_name(const struct tx_consumer *c)
{
	return c->name;
}

const struct tx_consumer_stats *tx_consumer_stats(const struct tx_consumer *c)
{
	return &c->stats;
}

int tx_consumer_block_ms(const struct tx_consumer *c)
{
	long ms = c->cfg->ack_wait_ms / 2;
	return (int)(ms < 10 ? 10 : ms > 1000 ? 1000 : ms);
}

/* ---- small Redis helpers ------------------------------------------------------- */

/* [id, [f, v, ...]] (fields may be nil for a deleted entry). */
static bool parse_entry(const redisReply *r, struct entry *e)
{
	memset(e, 0, sizeof(*e));
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return false;
	e->entry_id = r->element[0]->str;
	const redisReply *f = r->element[1];
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i], *v = f->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "id") == 0)
			e->ev_id = v->str;
		else if (strcmp(k->str, "data") == 0) {
			e->data = v->str;
			e->data_len = v->len;
		}
	}
	return true;
}

static bool parse_id(const char *s, struct stream_id *id)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return false;
	id->ms = strtoull(s, &end, 10);
	id->seq = 0;
	if (*end == '-')
		id->seq = strtoull(end + 1, &end, 10);
	return *end == '\0';
}

static bool id_less(struct stream_id a, struct stream_id b)
{
	return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

/* Send n commands pipelined, read and check all replies; 0 or -1. */
static int pipeline(struct tx_consumer *c, int n, const int *argc,
		    const char **const *argv, const size_t *const *lens)
{
	int rc = 0;
	for (int i = 0; i < n; i++)
		if (tx_redis_append(c->redis, argc[i], argv[i], lens[i]) < 0)
			return redis_down(c, argv[i][0]);
	for (int i = 0; i < n; i++) {
		redisReply *r = tx_redis_get_reply(c->redis);
		if (!r)
			return redis_down(c, argv[i][0]);
		if (r->type == REDIS_REPLY_ERROR) {
			set_error(c, "%s: %s", argv[i][0], r->str);
			rc = -TX_E_UNAVAILABLE;
		}
		freeReplyObject(r);
	}
	return rc;
}

/* ---- ack, error record, dead letter ----------------------------------------------- */

static void error_field(const struct stream *s, const char *entry_id,
			char *out, size_t outlen)
{
	snprintf(out, outlen, "%s %s", s->l->subject, entry_id);
}

/* XACK and forget the entry's error. */
static int ack(struct tx_consumer *c, const struct stream *s, const char *entry_id)
{
	char field[320];
	error_field(s, entry_id, field, sizeof(field));
	const char *a1[] = { "XACK", s->key, c->group, entry_id };
	const char *a2[] = { "HDEL", c->errkey, field };
	const int argc[] = { 4, 3 };
	const char **const argv[] = { a1, a2 };
	const size_t *const lens[] = { NULL, NULL };
	return pipeline(c, 2, argc, argv, lens);
}

static void record_error(struct tx_consumer *c, const struct stream *s,
			 const char *entry_id, const char *err)
{
	char field[320];
	error_field(s, entry_id, field, sizeof(field));
	const char *argv[] = { "HSET", c->errkey, field, err };
	redisReply *r = tx_redis_cmd(c->redis, 4, argv, NULL);
	if (r)
		freeReplyObject(r);
}

/* The error recorded for an entry, or a generic one, into out. */
static void recorded_error(struct tx_consumer *c, const struct stream *s,
			   const char *entry_id, char *out, size_t outlen)
{
	char field[320];
	error_field(s, entry_id, field, sizeof(field));
	const char *argv[] = { "HGET", c->errkey, field };
	redisReply *r = tx_redis_cmd(c->redis, 3, argv, NULL);
	if (r && r->type == REDIS_REPLY_STRING)
		snprintf(out, outlen, "%s", r->str);
	else
		snprintf(out, outlen, "delivered %ld times without success",
			 c->cfg->max_deliveries);
	if (r)
		freeReplyObject(r);
}

/* Copy the entry to the dead-letter stream, then ack it. */
static enum outcome dead_letter(struct tx_consumer *c, const struct stream *s,
				const struct entry *e, const char *err)
{
	const char *argv[] = { "XADD", c->dlkey, "*", "subject", s->l->subject,
			       "group", c->group, "id", e->ev_id ? e->ev_id : "",
			       "data", e->data ? e->data : "", "error", err,
			       "entry", e->entry_id };
	size_t lens[15];
	for (int i = 0; i < 15; i++)
		lens[i] = strlen(argv[i]);
	lens[10] = e->data ? e->data_len : 0;
	redisReply *r = tx_redis_cmd(c->redis, 15, argv, lens);
	bool ok = r && r->type == REDIS_REPLY_STRING;
	if (r)
		freeReplyObject(r);
	if (!ok || ack(c, s, e->entry_id) < 0)
		return O_UNAVAILABLE;
	return O_DEAD;
}

/* ---- applying one event ---------------------------------------------------------- */

static enum outcome db_outcome(struct tx_consumer *c, int rc, const char *what,
			       char *err, size_t errlen)
{
	c->ctx.db_error[strcspn(c->ctx.db_error, "\n")] = '\0'; /* one line */
	errf(err, errlen, "%s: %s", what, c->ctx.db_error);
	tx_db_rollback(&c->ctx);
	return rc == -TX_E_UNAVAILABLE ? O_UNAVAILABLE : O_FAILED;
}

/* A Redis-only group: the handler alone, idempotent by itself. */
static enum outcome apply_redis_only(struct tx_consumer *c, const struct stream *s,
				     const struct tx_event *ev, char *err,
				     size_t errlen)
{
	err[0] = '\0';
	int h = s->l->handle(&c->ctx, ev, err, errlen);
	if (h == 0)
		return O_APPLIED;
	if (!err[0])
		errf(err, errlen, "%s", h == TX_EV_RETRY ? "retry" : tx_err_name(h));
	return h == TX_EV_RETRY ? O_RETRY : h == -TX_E_UNAVAILABLE ? O_UNAVAILABLE
								  : O_FAILED;
}

/* In one transaction: record the event id, run the handler, commit. */
static enum outcome apply(struct tx_consumer *c, const struct stream *s,
			  const struct entry *e, struct json_object *json,
			  char *err, size_t errlen)
{
	PGresult *res;
	const char *params[] = { e->ev_id, c->group };
	if (c->redis_only) {
		struct tx_event ev = { s->l->subject, e->ev_id, e->data, json };
		return apply_redis_only(c, s, &ev, err, errlen);
	}
	int rc = tx_db_begin(&c->ctx);
	if (rc < 0)
		return db_outcome(c, rc, "begin", err, errlen);
	rc = tx_db_exec(&c->ctx, &c->st_dedupe, params, &res);
	if (rc < 0)
		return db_outcome(c, rc, "processed_events", err, errlen);
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		tx_db_rollback(&c->ctx);
		return O_DUPLICATE;
	}
	struct tx_event ev = { s->l->subject, e->ev_id, e->data, json };
	err[0] = '\0';
	int h = s->l->handle(&c->ctx, &ev, err, errlen);
	if (h == 0) {
		TX_FAILPOINT("consumer_before_commit");
		rc = tx_db_commit(&c->ctx);
		if (rc < 0)
			return db_outcome(c, rc, "commit", err, errlen);
		TX_FAILPOINT("consumer_after_commit");
		return O_APPLIED;
	}
	if (!err[0])
		errf(err, errlen, "%s%s%s", h == TX_EV_RETRY ? "retry" : tx_err_name(h),
			 c->ctx.db_error[0] ? ": " : "", c->ctx.db_error);
	tx_db_rollback(&c->ctx);
	return h == TX_EV_RETRY ? O_RETRY : O_FAILED;
}

static enum outcome process(struct tx_consumer *c, const struct stream *s,
			    const struct entry *e, char *err, size_t errlen)
{
	struct json_object *json = NULL;
	if (!tx_db_is_uuid(e->ev_id) || !e->data) {
		snprintf(err, errlen, "malformed event: missing or invalid id or data");
		return dead_letter(c, s, e, err);
	}
	int jrc = tx_json_parse_object(c->ctx.arena, e->data, e->data_len, &json);
	if (jrc < 0) {
		snprintf(err, errlen, "malformed event: %s", tx_json_strerror(jrc));
		return dead_letter(c, s, e, err);
	}
	enum outcome o = apply(c, s, e, json, err, errlen);
	if (o == O_APPLIED || o == O_DUPLICATE) {
		if (ack(c, s, e->entry_id) < 0)
			errf(err, errlen, "ack: %s", c->error); /* redelivered, deduped */
	} else {
		record_error(c, s, e->entry_id, err);
	}
	return o;
}

static void count(struct tx_consumer *c, enum outcome o)
{
	long *slot[O__MAX] = { &c->stats.applied, &c->stats.duplicates,
			       &c->stats.retried, &c->stats.failed,
			       &c->stats.dead, &c->stats.failed };
	(*slot[o])++;
}

/* Process (or, when dead is set, dead-letter) one entry and log it. */
static enum outcome handle(struct tx_consumer *c, const struct stream *s,
			   const redisReply *raw, long long deliveries, bool dead)
{
	struct entry e;
	char err[512] = "";
	if (!parse_entry(raw, &e))
		return O_FAILED;
	int64_t start = tx_now_us();
	c->ctx.now_ms = start / 1000;
	c->ctx.now = start / 1000000;
	c->ctx.request_id = e.ev_id;
	c->ctx.db_error[0] = '\0';
	enum outcome o;
	if (dead) {
		recorded_error(c, s, e.entry_id, err, sizeof(err));
		o = dead_letter(c, s, &e, err);
	} else {
		o = process(c, s, &e, err, sizeof(err));
	}
	count(c, o);
	tx_log(o == O_APPLIED || o == O_DUPLICATE ? "info" : "warn",
	       "event group=%s subject=%s id=%s entry=%s deliveries=%lld "
	       "result=%s us=%lld%s%s", c->group, s->l->subject,
	       e.ev_id ? e.ev_id : "-", e.entry_id, deliveries, outcome_names[o],
	       (long long)(tx_now_us() - start), err[0] ? " error=" : "", err);
	tx_arena_reset(c->ctx.arena);
	return o;
}

/* ---- batch mode (events.h) ------------------------------------------------------- */

/* Apply a batch's entries with handle_batch in one transaction; whatever
 * cannot be part of it (malformed, refused, or the whole batch when it
 * fails) goes through handle() afterwards, one entry at a time, which
 * gives it the same retries, error record and dead letter as ever. */

/* XACK the batch's applied and duplicate entries in one command. */
static int ack_batch(struct tx_consumer *c, const struct stream *s, size_t n)
{
	const char **argv = tx_arena_alloc(c->ctx.arena, (n + 3) * sizeof(*argv));
	int argc = 0;
	argv[argc++] = "XACK";
	argv[argc++] = s->key;
	argv[argc++] = c->group;
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == B_APPLIED || c->bstate[i] == B_DUPLICATE)
			argv[argc++] = c->bentry[i].entry_id;
	if (argc == 3)
		return 0;
	/* Entries read with ">" have never failed: no error field to HDEL. */
	redisReply *r = tx_redis_cmd(c->redis, argc, argv, NULL);
	if (!r)
		return redis_down(c, "XACK");
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		set_error(c, "XACK: %s", r->str);
		rc = -TX_E_UNAVAILABLE;
	}
	freeReplyObject(r);
	return rc;
}

/* The ids of the entries in state st as a uuid[] literal; *k: how many. */
static const char *batch_ids(struct tx_consumer *c, size_t n, enum bstate st,
			     size_t *k)
{
	const char **ids = tx_arena_alloc(c->ctx.arena, (n + 1) * sizeof(*ids));
	*k = 0;
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == st)
			ids[(*k)++] = c->bentry[i].ev_id;
	return tx_db_uuid_array(c->ctx.arena, ids, *k); /* uuids: checked */
}

/* The ids the dedupe statement returned are fresh (the first entry of
 * each), the other entries duplicates. */
static void mark_fresh(struct tx_consumer *c, size_t n, PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++) {
		const char *id = PQgetvalue(res, r, 0);
		for (size_t i = 0; i < n; i++)
			if (c->bstate[i] == B_NEW && strcasecmp(c->bentry[i].ev_id, id) == 0) {
				c->bstate[i] = B_FRESH;
				break;
			}
	}
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == B_NEW)
			c->bstate[i] = B_DUPLICATE;
}

/* handle_batch over the fresh entries; the ids of those it refuses are
 * forgotten (they will be recorded by handle() when it applies them).
 * 0, or the handler's or the statement's failure. */
static int run_batch_handler(struct tx_consumer *c, const struct stream *s,
			     size_t n, char *err, size_t errlen)
{
	struct tx_arena *a = c->ctx.arena;
	struct tx_event *evs = tx_arena_alloc(a, (n + 1) * sizeof(*evs));
	size_t *idx = tx_arena_alloc(a, (n + 1) * sizeof(*idx));
	bool *ok = tx_arena_alloc(a, (n + 1) * sizeof(*ok));
	size_t m = 0, k;
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == B_FRESH) {
			const struct entry *e = &c->bentry[i];
			evs[m] = (struct tx_event){ s->l->subject, e->ev_id, e->data,
						    c->bjson[i] };
			ok[m] = true;
			idx[m++] = i;
		}
	if (m == 0)
		return 0;
	int h = s->l->handle_batch(&c->ctx, evs, m, ok, err, errlen);
	if (h != 0)
		return h;
	for (size_t j = 0; j < m; j++)
		c->bstate[idx[j]] = ok[j] ? B_APPLIED : B_REFUSED;
	const char *params[] = { batch_ids(c, n, B_REFUSED, &k), c->group };
	int rc = k ? tx_db_exec(&c->ctx, &c->st_forget, params, NULL) : 0;
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == B_REFUSED)
			c->bstate[i] = B_SINGLE;
	return rc;
}

/* In one transaction: record the ids of the B_NEW entries, apply the
 * fresh ones, commit. APPLIED; UNAVAILABLE (the entries stay pending);
 * or FAILED, rolled back, and every entry of the batch becomes a single. */
static enum outcome apply_batch(struct tx_consumer *c, const struct stream *s,
				size_t n, char *err, size_t errlen)
{
	size_t k;
	PGresult *res;
	const char *params[] = { batch_ids(c, n, B_NEW, &k), c->group };
	if (k == 0)
		return O_APPLIED;
	int rc = tx_db_begin(&c->ctx);
	if (rc == 0)
		rc = tx_db_exec(&c->ctx, &c->st_dedupe_batch, params, &res);
	if (rc == 0) {
		mark_fresh(c, n, res);
		rc = run_batch_handler(c, s, n, err, errlen);
	}
	if (rc == 0) {
		TX_FAILPOINT("consumer_before_commit");
		rc = tx_db_commit(&c->ctx);
	}
	if (rc == 0) {
		TX_FAILPOINT("consumer_after_commit");
		return O_APPLIED;
	}
	if (!err[0])
		errf(err, errlen, "%s%s%s", rc == TX_EV_RETRY ? "retry" : tx_err_name(rc),
		     c->ctx.db_error[0] ? ": " : "", c->ctx.db_error);
	tx_db_rollback(&c->ctx);
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] != B_SINGLE)
			c->bstate[i] = rc == -TX_E_UNAVAILABLE ? B_PENDING : B_SINGLE;
	return rc == -TX_E_UNAVAILABLE ? O_UNAVAILABLE : O_FAILED;
}

/* Process c->braw[0..n) of stream s as a batch, then its singles. The
 * number of entries, or -TX_E_UNAVAILABLE. */
static int process_batch(struct tx_consumer *c, const struct stream *s, size_t n)
{
	char err[512] = "";
	size_t count[B__MAX] = { 0 };
	int64_t start = tx_now_us();
	c->ctx.now_ms = start / 1000;
	c->ctx.now = start / 1000000;
	c->ctx.request_id = NULL;
	c->ctx.db_error[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct entry *e = &c->bentry[i];
		c->bstate[i] = B_SINGLE; /* handle() dead-letters it, or skips it */
		if (parse_entry(c->braw[i], e) && tx_db_is_uuid(e->ev_id) && e->data &&
		    tx_json_parse_object(c->ctx.arena, e->data, e->data_len,
					 &c->bjson[i]) == 0)
			c->bstate[i] = B_NEW;
	}
	enum outcome o = apply_batch(c, s, n, err, sizeof(err));
	if (o == O_APPLIED && ack_batch(c, s, n) < 0)
		errf(err, sizeof(err), "ack: %s", c->error); /* redelivered, deduped */
	for (size_t i = 0; i < n; i++)
		count[c->bstate[i]]++;
	c->stats.applied += (long)count[B_APPLIED];
	c->stats.duplicates += (long)count[B_DUPLICATE];
	c->stats.batches++;
	c->stats.fallbacks += o == O_FAILED;
	tx_log(o == O_APPLIED ? "info" : "warn",
	       "batch group=%s subject=%s entries=%zu applied=%zu duplicates=%zu "
	       "single=%zu result=%s us=%lld%s%s", c->group, s->l->subject, n,
	       count[B_APPLIED], count[B_DUPLICATE], count[B_SINGLE],
	       outcome_names[o], (long long)(tx_now_us() - start),
	       err[0] ? " error=" : "", err);
	tx_arena_reset(c->ctx.arena);
	int rc = o == O_UNAVAILABLE ? -TX_E_UNAVAILABLE : 0;
	for (size_t i = 0; i < n; i++)
		if (c->bstate[i] == B_SINGLE &&
		    handle(c, s, c->braw[i], 1, false) == O_UNAVAILABLE)
			rc = -TX_E_UNAVAILABLE;
	return rc < 0 ? rc : (int)n;
}

/* A batch stream's entries from the blocking read, topped up with what is
 * waiting already (a read without BLOCK) to TX_CONSUMER_BATCH. */
static int read_batch(struct tx_consumer *c, const struct stream *s,
		      const redisReply *entries)
{
	size_t n = 0;
	redisReply *more = NULL;
	for (size_t j = 0; j < entries->elements && n < TX_CONSUMER_BATCH; j++)
		c->braw[n++] = entries->element[j];
	if (n == TX_CONSUMER_COUNT) {
		char count[16];
		snprintf(count, sizeof(count), "%zu", (size_t)TX_CONSUMER_BATCH - n);
		const char *argv[] = { "XREADGROUP", "GROUP", c->group, c->name,
				       "COUNT", count, "STREAMS", s->key, ">" };
		more = tx_redis_cmd(c->redis, 9, argv, NULL);
		/* [[key, [entry...]]], or nil; on an error, go with what we have */
		const redisReply *sr = more && more->type == REDIS_REPLY_ARRAY &&
				       more->elements == 1 ? more->element[0] : NULL;
		if (sr && sr->type == REDIS_REPLY_ARRAY && sr->elements == 2 &&
		    sr->element[1]->type == REDIS_REPLY_ARRAY)
			for (size_t j = 0; j < sr->element[1]->elements &&
					   n < TX_CONSUMER_BATCH; j++)
				c->braw[n++] = sr->element[1]->element[j];
	}
	int rc = process_batch(c, s, n);
	if (more)
		freeReplyObject(more);
	return rc;
}

/* ---- groups, reading, reclaiming ---------------------------------------------------- */

static int ensure_groups(struct tx_consumer *c)
{
	for (size_t i = 0; i < c->nstreams; i++) {
		const char *argv[] = { "XGROUP", "CREATE", c->streams[i].key,
				       c->group, "0", "MKSTREAM" };
		redisReply *r = tx_redis_cmd(c->redis, 6, argv, NULL);
		if (!r)
			return redis_down(c, "XGROUP CREATE");
		bool ok = r->type != REDIS_REPLY_ERROR || tx_redis_is_error(r, "BUSYGROUP");
		if (!ok)
			set_error(c, "XGROUP CREATE %s: %s", c->streams[i].key, r->str);
		freeReplyObject(r);
		if (!ok)
			return -TX_E_UNAVAILABLE;
	}
	c->groups_ready = true;
	return 0;
}

static struct stream *stream_by_key(struct tx_consumer *c, const char *key)
{
	for (size_t i = 0; i < c->nstreams; i++)
		if (strcmp(c->streams[i].key, key) == 0)
			return &c->streams[i];
	return NULL;
}

/* An error reply to a group command: NOGROUP means re-create the groups. */
static int group_error(struct tx_consumer *c, redisReply *r, const char *what)
{
	if (tx_redis_is_error(r, "NOGROUP"))
		c->groups_ready = false;
	set_error(c, "%s: %s", what, r->str);
	freeReplyObject(r);
	return -TX_E_UNAVAILABLE;
}

/* One stream's entries: as a batch (batch mode), or one at a time. */
static int process_entries(struct tx_consumer *c, const struct stream *s,
			   const redisReply *entries)
{
	int rc = 0;
	if (s->l->handle_batch && !c->redis_only)
		return read_batch(c, s, entries);
	for (size_t j = 0; j < entries->elements; j++)
		if (handle(c, s, entries->element[j], 1, false) == O_UNAVAILABLE)
			rc = -TX_E_UNAVAILABLE;
	return rc < 0 ? rc : (int)entries->elements;
}

/* Process the [[key, [entry...]]...] of XREADGROUP; count or negative.
 * Streams in the order of the reply (the listener table's), as ever: a
 * ticket:updated must not overtake the ticket:created read with it. */
static int process_read(struct tx_consumer *c, const redisReply *r)
{
	int handled = 0, rc = 0;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *sr = r->element[i];
		if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
		    sr->element[0]->type != REDIS_REPLY_STRING ||
		    sr->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		const struct stream *s = stream_by_key(c, sr->element[0]->str);
		int n = s ? process_entries(c, s, sr->element[1]) : 0;
		if (n < 0)
			rc = n;
		else
			handled += n;
	}
	return rc < 0 ? rc : handled;
}

static int read_new(struct tx_consumer *c, int block_ms)
{
	const char *argv[9 + 2 * TX_CONSUMER_MAX_STREAMS];
	char count[16], block[16];
	snprintf(count, sizeof(count), "%d", TX_CONSUMER_COUNT);
	snprintf(block, sizeof(block), "%d", block_ms);
	int argc = 0;
	const char *head[] = { "XREADGROUP", "GROUP", c->group, c->name, "COUNT",
			       count, "BLOCK", block, "STREAMS" };
	for (; argc < 9; argc++)
		argv[argc] = head[argc];
	for (size_t i = 0; i < c->nstreams; i++)
		argv[argc++] = c->streams[i].key;
	for (size_t i = 0; i < c->nstreams; i++)
		argv[argc++] = ">";
	redisReply *r = tx_redis_cmd(c->redis, argc, argv, NULL);
	if (!r)
		return redis_down(c, "XREADGROUP");
	if (r->type == REDIS_REPLY_ERROR)
		return group_error(c, r, "XREADGROUP");
	int rc = r->type == REDIS_REPLY_ARRAY ? process_read(c, r) : 0;
	freeReplyObject(r);
	return rc;
}

/* The delivery count XPENDING reported for entry id (0 if absent). */
static long long deliveries_of(const redisReply *pending, const char *id)
{
	for (size_t i = 0; i < pending->elements; i++) {
		const redisReply *p = pending->element[i];
		if (p->type == REDIS_REPLY_ARRAY && p->elements == 4 &&
		    strcmp(p->element[0]->str, id) == 0)
			return p->element[3]->integer;
	}
	return 0;
}

/* XCLAIM the ids of pending; process or dead-letter what we won. */
static int claim_and_handle(struct tx_consumer *c, struct stream *s,
			    const redisReply *pending, const char *idle)
{
	const char *argv[5 + RECLAIM_COUNT];
	int argc = 0;
	const char *head[] = { "XCLAIM", s->key, c->group, c->name, idle };
	for (; argc < 5; argc++)
		argv[argc] = head[argc];
	for (size_t i = 0; i < pending->elements && argc < 5 + RECLAIM_COUNT; i++)
		if (pending->element[i]->type == REDIS_REPLY_ARRAY &&
		    pending->element[i]->elements == 4)
			argv[argc++] = pending->element[i]->element[0]->str;
	redisReply *r = tx_redis_cmd(c->redis, argc, argv, NULL);
	if (!r)
		return redis_down(c, "XCLAIM");
	if (r->type == REDIS_REPLY_ERROR)
		return group_error(c, r, "XCLAIM");
	int rc = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		long long n = deliveries_of(pending, e->element[0]->str);
		c->stats.claimed++;
		if (handle(c, s, e, n + 1, n >= c->cfg->max_deliveries) == O_UNAVAILABLE)
			rc = -TX_E_UNAVAILABLE;
	}
	freeReplyObject(r);
	return rc;
}

/* One page of idle entries; *more: the page was full. */
static int reclaim_page(struct tx_consumer *c, struct stream *s, bool *more)
{
	char idle[24], count_s[16];
	snprintf(idle, sizeof(idle), "%ld", c->cfg->ack_wait_ms);
	snprintf(count_s, sizeof(count_s), "%d", RECLAIM_COUNT);
	const char *argv[] = { "XPENDING", s->key, c->group, "IDLE", idle,
			       "-", "+", count_s };
	redisReply *r = tx_redis_cmd(c->redis, 8, argv, NULL);
	*more = false;
	if (!r)
		return redis_down(c, "XPENDING");
	if (r->type == REDIS_REPLY_ERROR)
		return group_error(c, r, "XPENDING");
	int rc = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
		rc = claim_and_handle(c, s, r, idle);
	*more = r->type == REDIS_REPLY_ARRAY && r->elements == RECLAIM_COUNT;
	freeReplyObject(r);
	return rc;
}

/* Up to a batch's worth of pages: a consumer that died holding a whole
 * batch (batch mode) leaves it pending, and one page per pass would take
 * TX_CONSUMER_BATCH / RECLAIM_COUNT passes of ACK_WAIT_MS/2 to get it
 * back. (Claimed entries are idle no more: the next page is new ones.) */
static int reclaim_stream(struct tx_consumer *c, struct stream *s)
{
	bool more = true;
	int rc = 0;
	for (int page = 0; rc == 0 && more && page < TX_CONSUMER_BATCH / RECLAIM_COUNT;
	     page++)
		rc = reclaim_page(c, s, &more);
	return rc;
}

int tx_consumer_reclaim(struct tx_consumer *c)
{
	char err[256];
	if (!c->redis_only && tx_db_connect(c->ctx.db, err, sizeof(err)) < 0) {
		set_error(c, "%s", err); /* don't spend deliveries while it's down */
		return -TX_E_UNAVAILABLE;
	}
	if (!c->groups_ready && ensure_groups(c) < 0)
		return -TX_E_UNAVAILABLE;
	for (size_t i = 0; i < c->nstreams; i++) {
		int rc = reclaim_stream(c, &c->streams[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tx_consumer_poll(struct tx_consumer *c, int block_ms)
{
	char err[256];
	if (!c->redis_only && tx_db_connect(c->ctx.db, err, sizeof(err)) < 0) {
		set_error(c, "%s", err);
		return -TX_E_UNAVAILABLE;
	}
	if (!c->groups_ready && ensure_groups(c) < 0)
		return -TX_E_UNAVAILABLE;
	int64_t now = tx_now_us();
	if (now >= c->next_reclaim_us) {
		c->next_reclaim_us = now + c->cfg->ack_wait_ms * 1000 / 2;
		int rc = tx_consumer_reclaim(c);
		if (rc < 0)
			return rc;
	}
	return read_new(c, block_ms);
}

/* ---- trimming ---------------------------------------------------------------------- */

/* The value of field name in a flat [k, v, k, v...] reply, or NULL. */
static const redisReply *field(const redisReply *r, const char *name)
{
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, name) == 0)
			return r->element[i + 1];
	return NULL;
}

/* The lowest pending id of group on key into *low (unchanged if none). */
static int lowest_pending(struct tx_consumer *c, const char *key,
			  const char *group, struct stream_id *low)
{
	const char *argv[] = { "XPENDING", key, group };
	struct stream_id id;
	redisReply *r = tx_redis_cmd(c->redis, 3, argv, NULL);
	if (!r)
		return redis_down(c, "XPENDING");
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    parse_id(r->element[1]->str, &id) && id_less(id, *low))
		*low = id;
	freeReplyObject(r);
	return 0;
}

/* Lower *keep to what each group of key still needs; -1 if unknown. */
static int groups_keep(struct tx_consumer *c, const char *key,
		       struct stream_id *keep)
{
	const char *argv[] = { "XINFO", "GROUPS", key };
	redisReply *r = tx_redis_cmd(c->redis, 3, argv, NULL);
	if (!r)
		return redis_down(c, "XINFO GROUPS");
	int rc = r->type == REDIS_REPLY_ARRAY ? 0 : -TX_E_UNAVAILABLE;
	for (size_t i = 0; rc == 0 && i < r->elements; i++) {
		const redisReply *name = field(r->element[i], "name");
		const redisReply *pending = field(r->element[i], "pending");
		const redisReply *last = field(r->element[i], "last-delivered-id");
		struct stream_id id;
		if (!name || !pending || !last || !last->str || !parse_id(last->str, &id)) {
			rc = -TX_E_UNAVAILABLE; /* don't guess: trim nothing */
			break;
		}
		if (id_less(id, *keep))
			*keep = id;
		if (pending->integer > 0)
			rc = lowest_pending(c, key, name->str, keep);
	}
	freeReplyObject(r);
	return rc;
}

/* Forget this group's consumers that hold nothing and left long ago. */
static void drop_stale_consumers(struct tx_consumer *c, const char *key)
{
	const char *argv[] = { "XINFO", "CONSUMERS", key, c->group };
	redisReply *r = tx_redis_cmd(c->redis, 4, argv, NULL);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *name = field(r->element[i], "name");
		const redisReply *pending = field(r->element[i], "pending");
		const redisReply *idle = field(r->element[i], "idle");
		if (!name || !pending || !idle || pending->integer != 0 ||
		    idle->integer < STALE_CONSUMER_MS || strcmp(name->str, c->name) == 0)
			continue;
		const char *del[] = { "XGROUP", "DELCONSUMER", key, c->group, name->str };
		redisReply *d = tx_redis_cmd(c->redis, 5, del, NULL);
		if (d)
			freeReplyObject(d);
	}
	if (r)
		freeReplyObject(r);
}

static int trim_stream(struct tx_consumer *c, const char *key)
{
	long long cutoff = tx_now_us() / 1000 - c->cfg->stream_retention_s * 1000;
	struct stream_id keep = { cutoff > 0 ? (uint64_t)cutoff : 0, 0 };
	int rc = groups_keep(c, key, &keep);
	if (rc < 0)
		return rc;
	char minid[48];
	snprintf(minid, sizeof(minid), "%" PRIu64 "-%" PRIu64, keep.ms, keep.seq);
	const char *argv[] = { "XTRIM", key, "MINID", minid };
	redisReply *r = tx_redis_cmd(c->redis, 4, argv, NULL);
	if (!r)
		return redis_down(c, "XTRIM");
	freeReplyObject(r);
	drop_stale_consumers(c, key);
	return 0;
}

int tx_consumer_trim(struct tx_consumer *c)
{
	for (size_t i = 0; i < c->nstreams; i++) {
		int rc = trim_stream(c, c->streams[i].key);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the loop ----------------------------------------------------------------------- */

static void log_error(struct tx_consumer *c)
{
	int64_t now = tx_now_us();
	if (c->failing && now - c->last_err_log_us < ERROR_LOG_INTERVAL_US)
		return;
	c->failing = true;
	c->last_err_log_us = now;
	tx_log("error", "consumer group=%s error=%s", c->group, c->error);
}

static void backoff_sleep(int ms, const atomic_bool *stop)
{
	struct timespec ts = { 0, 50 * 1000000L };
	for (int slept = 0; slept < ms && !atomic_load(stop); slept += 50)
		nanosleep(&ts, NULL);
}

void tx_consumer_run(struct tx_consumer *c, const atomic_bool *stop)
{
	int backoff = 0;
	tx_log("info", "consumer group=%s name=%s streams=%zu started", c->group,
	       c->name, c->nstreams);
	while (!atomic_load(stop)) {
		if (tx_consumer_poll(c, tx_consumer_block_ms(c)) < 0) {
			log_error(c);
			backoff = backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 50;
			backoff_sleep(backoff, stop);
			continue;
		}
		backoff = 0;
		if (c->failing)
			tx_log("info", "consumer group=%s recovered", c->group);
		c->failing = false;
		if (tx_now_us() >= c->next_trim_us) {
			c->next_trim_us = tx_now_us() + TRIM_INTERVAL_US;
			if (tx_consumer_trim(c) < 0)
				log_error(c);
		}
	}
	tx_log("info", "consumer group=%s name=%s stopped", c->group, c->name);
}
