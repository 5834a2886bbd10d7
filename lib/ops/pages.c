/* pages.c: the ops page (GET /ops) and dead-letter replay (POST
 * /ops/replay).
 *
 * Replay puts a dead letter's original event back on its subject's stream
 * (same event id, same data) and deletes it from the dead-letter stream,
 * atomically in one Lua script, so a double-clicked button replays once.
 * Every group of that stream sees the entry again: the groups that had
 * applied the event find its id in processed_events and ack it with no
 * second effect (the Redis-only expiration group dedupes by event id in
 * its own script), and the group that had failed gets another chance.
 * The subject is checked against the listener tables, so a tampered dead
 * letter cannot make us write to an arbitrary key.
 */
#include "ops/ops.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/tmpl.h"

#include <stdio.h>
#include <string.h>

/* KEYS: dead-letter stream, subject stream. ARGV: entry id, subject.
 * Returns the new entry id, nil if the entry is gone, an error if it does
 * not hold a replayable event of that subject. */
static const char REPLAY_LUA[] =
	"local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
	"if #e == 0 then return false end\n"
	"local f, m = e[1][2], {}\n"
	"for i = 1, #f, 2 do m[f[i]] = f[i + 1] end\n"
	"if m['subject'] ~= ARGV[2] or not m['id'] or m['id'] == '' or not m['data'] then\n"
	"  return redis.error_reply('NOTREPLAYABLE dead letter has no event') end\n"
	"local id = redis.call('XADD', KEYS[2], '*', 'id', m['id'], 'data', m['data'])\n"
	"redis.call('XDEL', KEYS[1], ARGV[1])\n"
	"return id\n";

static const char *num(struct tx_ctx *ctx, long long v)
{
	return tx_arena_printf(ctx->arena, "%lld", v);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void fill_streams(struct tx_ctx *ctx, struct tmpl_dict *d,
			 const struct ops_state *st)
{
	for (size_t i = 0; i < st->nstreams; i++) {
		const struct ops_stream *s = &st->streams[i];
		struct tmpl_dict *row = tmpl_add_section(d, "STREAM");
		tmpl_set(row, "SUBJECT", s->subject);
		tmpl_set(row, "LENGTH", num(ctx, s->length));
		tmpl_set(row, "FIRST", or_dash(s->first_id));
		tmpl_set(row, "LAST", or_dash(s->last_id));
		for (size_t j = 0; j < s->ngroups; j++) {
			const struct ops_group *g = &s->groups[j];
			struct tmpl_dict *gr = tmpl_add_section(d, "GROUP");
			tmpl_set(gr, "STREAM", s->subject);
			tmpl_set(gr, "NAME", g->name);
			tmpl_set(gr, "CONSUMERS", num(ctx, g->consumers));
			tmpl_set(gr, "PENDING", num(ctx, g->pending));
			tmpl_set(gr, "OLDEST_PENDING", or_dash(g->oldest_pending));
			tmpl_set(gr, "NEWEST_PENDING", or_dash(g->newest_pending));
			tmpl_set(gr, "LAST_DELIVERED", or_dash(g->last_delivered));
			tmpl_set(gr, "LAG", g->lag < 0 ? "?" : num(ctx, g->lag));
			tmpl_set(gr, "LAG_SECONDS",
				 tx_arena_printf(ctx->arena, "%.3f", g->lag_seconds));
			for (size_t k = 0; k < g->nconsumers; k++) {
				struct tmpl_dict *cr = tmpl_add_section(d, "CONSUMER");
				tmpl_set(cr, "STREAM", s->subject);
				tmpl_set(cr, "GROUP", g->name);
				tmpl_set(cr, "NAME", g->consumers_list[k].name);
				tmpl_set(cr, "PENDING", num(ctx, g->consumers_list[k].pending));
				tmpl_set(cr, "IDLE", num(ctx, g->consumers_list[k].idle_ms));
			}
		}
	}
}

static void fill_dead(struct tx_ctx *ctx, struct tmpl_dict *d,
		      const struct ops_state *st)
{
	tmpl_set(d, "DEAD_TOTAL", st->dead_letters < 0 ? "?" : num(ctx, st->dead_letters));
	for (size_t i = 0; i < st->ndead; i++) {
		const struct ops_dead *dl = &st->dead[i];
		struct tmpl_dict *row = tmpl_add_section(d, "DEAD");
		tmpl_set(row, "ENTRY", or_dash(dl->entry));
		tmpl_set(row, "SUBJECT", or_dash(dl->subject));
		tmpl_set(row, "GROUP", or_dash(dl->group));
		tmpl_set(row, "ID", or_dash(dl->id));
		tmpl_set(row, "ERROR", or_dash(dl->error));
	}
	if (st->ndead == 0)
		tmpl_show_section(d, "NO_DEAD");
}

int ops_page(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp)
{
	struct ops_state *st = tx_arena_alloc(ctx->arena, sizeof(*st));
	ops_load(ctx, st, OPS_FULL);
	struct tmpl_dict *d = tx_html_begin(req, ctx, "ops.tpl", "Operations", NULL, 0);
	const char *replayed = tx_form_get(&req->form, "replayed");
	if (replayed && *replayed) {
		struct tmpl_dict *f = tmpl_add_section(d, "FLASH");
		tmpl_set(f, "MESSAGE", tx_arena_printf(ctx->arena,
				"Replayed as stream entry %.40s", replayed));
	}
	tmpl_set(d, "PG_OK", st->pg_ok ? "true" : "false");
	tmpl_set(d, "PG_STATUS", st->pg_ok ? tx_arena_printf(ctx->arena,
				"ok (%.1f ms)", st->pg_ms) : "unavailable");
	tmpl_set(d, "REDIS_OK", st->redis_ok ? "true" : "false");
	tmpl_set(d, "REDIS_STATUS", st->redis_ok ? tx_arena_printf(ctx->arena,
				"ok (%.1f ms)", st->redis_ms) : "unavailable");
	for (size_t i = 0; i < st->noutbox; i++) {
		struct tmpl_dict *row = tmpl_add_section(d, "OUTBOX");
		tmpl_set(row, "SCHEMA", st->outbox[i].schema);
		tmpl_set(row, "UNPUBLISHED", num(ctx, st->outbox[i].unpublished));
		tmpl_set(row, "OLDEST", tx_arena_printf(ctx->arena, "%.3f",
							 st->outbox[i].oldest_seconds));
	}
	fill_streams(ctx, d, st);
	fill_dead(ctx, d, st);
	resp->headers[resp->nheaders < TX_MAX_HEADERS ? resp->nheaders++ : 0] =
		"Cache-Control: no-store";
	return tx_html_finish(ctx, resp, st->redis_ok ? 200 : 503);
}

/* ---- replay ------------------------------------------------------------- */

/* A stream id: digits '-' digits. */
static bool is_entry_id(const char *s)
{
	size_t n = s ? strlen(s) : 0, dash = 0, digits = 0;
	if (n == 0 || n > 41)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-' && digits > 0 && !dash)
			dash = i;
		else if (s[i] < '0' || s[i] > '9')
			return false;
		digits++;
	}
	return dash > 0 && dash + 1 < n;
}

/* The subject field of dead-letter entry id, into the arena; NULL if gone. */
static int dead_subject(struct tx_ctx *ctx, const char *dlkey, const char *id,
			const char **subject)
{
	const char *argv[] = { "XRANGE", dlkey, id, id };
	redisReply *r = tx_redis_cmd(ctx->redis, 4, argv, NULL);
	if (!r)
		return -TX_E_UNAVAILABLE;
	*subject = NULL;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *f = r->element[0]->element[1];
		for (size_t i = 0; i + 1 < f->elements; i += 2)
			if (strcmp(f->element[i]->str, "subject") == 0)
				*subject = tx_arena_strdup(ctx->arena, f->element[i + 1]->str);
	}
	freeReplyObject(r);
	return *subject ? 0 : -TX_E_NOT_FOUND;
}

int ops_replay(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp)
{
	const char *entry = tx_form_get(&req->form, "entry");
	const char *subject;
	char dlkey[256], skey[256];
	if (!ctx->redis)
		return -TX_E_UNAVAILABLE;
	if (!is_entry_id(entry))
		return -TX_E_BAD_REQUEST;
	if (tx_redis_key(ctx->redis, "dead-letter", dlkey, sizeof(dlkey)) < 0)
		return -TX_E_INTERNAL;
	int rc = dead_subject(ctx, dlkey, entry, &subject);
	if (rc < 0)
		return rc;
	if (!ops_is_subject(subject) ||
	    tx_redis_key(ctx->redis, subject, skey, sizeof(skey)) < 0)
		return -TX_E_BAD_REQUEST;
	const char *argv[] = { "EVAL", REPLAY_LUA, "2", dlkey, skey, entry, subject };
	redisReply *r = tx_redis_cmd(ctx->redis, 7, argv, NULL);
	if (!r)
		return -TX_E_UNAVAILABLE;
	rc = r->type == REDIS_REPLY_STRING ? 0
	     : r->type == REDIS_REPLY_NIL  ? -TX_E_NOT_FOUND
					   : -TX_E_BAD_REQUEST;
	const char *new_id = rc == 0 ? tx_arena_strdup(ctx->arena, r->str) : NULL;
	if (rc == -TX_E_BAD_REQUEST)
		tx_log("warn", "replay entry=%s: %s", entry, r->str ? r->str : "?");
	freeReplyObject(r);
	if (rc < 0)
		return rc;
	tx_log("info", "replay dead-letter entry=%s subject=%s new_entry=%s rid=%s",
	       entry, subject, new_id, ctx->request_id ? ctx->request_id : "-");
	return tx_resp_redirect(ctx, resp, tx_arena_printf(ctx->arena,
				"/ops?replayed=%s#dead-letters", new_id));
}
