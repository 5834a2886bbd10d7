/* health.c: GET /api/health, GET /metrics: the dependencies and the event
 * pipeline as JSON for load balancers, and as Prometheus text. */
#include "ops/ops.h"
#include "core/arena.h"
#include "core/metrics.h"

#include <stdio.h>
#include <string.h>

static void dep_json(struct tx_buf *b, const char *name, bool ok, double ms)
{
	if (ok)
		tx_buf_addf(b, "\"%s\":{\"ok\":true,\"ms\":%.3f}", name, ms);
	else
		tx_buf_addf(b, "\"%s\":{\"ok\":false,\"error\":\"unavailable\"}", name);
}

static void backlog_json(struct tx_buf *b, const struct ops_state *st, bool age)
{
	if (!st->pg_ok) {
		tx_buf_addlit(b, "null");
		return;
	}
	tx_buf_addch(b, '{');
	for (size_t i = 0; i < st->noutbox; i++) {
		const struct ops_outbox *o = &st->outbox[i];
		tx_buf_addf(b, i ? ",\"" : "\"");
		tx_buf_add_json_str(b, o->schema);
		if (age)
			tx_buf_addf(b, "\":%.3f", o->oldest_seconds);
		else
			tx_buf_addf(b, "\":%lld", o->unpublished);
	}
	tx_buf_addch(b, '}');
}

/* {"orders-service":N,...}: every group seen on any stream, once. */
static void pending_json(struct tx_buf *b, const struct ops_state *st)
{
	const char *seen[OPS_MAX_STREAMS * OPS_MAX_GROUPS];
	size_t nseen = 0;
	tx_buf_addch(b, '{');
	for (size_t i = 0; i < st->nstreams; i++)
		for (size_t j = 0; j < st->streams[i].ngroups; j++) {
			const char *g = st->streams[i].groups[j].name;
			bool dup = false;
			for (size_t k = 0; k < nseen && !dup; k++)
				dup = strcmp(seen[k], g) == 0;
			if (dup)
				continue;
			seen[nseen++] = g;
			tx_buf_adds(b, nseen > 1 ? ",\"" : "\"");
			tx_buf_add_json_str(b, g);
			tx_buf_addf(b, "\":%lld", ops_group_pending(st, g));
		}
	tx_buf_addch(b, '}');
}

int ops_health(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp)
{
	(void)req;
	struct ops_state *st = tx_arena_alloc(ctx->arena, sizeof(*st));
	ops_load(ctx, st, OPS_SUMMARY);
	bool ok = st->pg_ok && st->redis_ok;
	struct tx_buf *b = &resp->body;
	tx_resp_json(resp, ok ? 200 : 503);
	tx_resp_header(ctx, resp, "Cache-Control", "no-store");
	tx_buf_addf(b, "{\"status\":\"%s\",", ok ? "ok" : "degraded");
	dep_json(b, "postgres", st->pg_ok, st->pg_ms);
	tx_buf_addch(b, ',');
	dep_json(b, "redis", st->redis_ok, st->redis_ms);
	tx_buf_addlit(b, ",\"relayBacklog\":");
	backlog_json(b, st, false);
	tx_buf_addlit(b, ",\"relayLagSeconds\":");
	backlog_json(b, st, true);
	if (st->pg_ok)
		tx_buf_addf(b, ",\"openChargeAttempts\":%lld", st->open_attempts);
	tx_buf_addlit(b, ",\"pending\":");
	if (st->redis_ok)
		pending_json(b, st);
	else
		tx_buf_addlit(b, "null");
	if (st->redis_ok && st->dead_letters >= 0)
		tx_buf_addf(b, ",\"deadLetters\":%lld}", st->dead_letters);
	else
		tx_buf_addlit(b, ",\"deadLetters\":null}");
	return 0;
}

/* ---- Prometheus --------------------------------------------------------- */

static void family(struct tx_buf *b, const char *name, const char *type,
		   const char *help)
{
	tx_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void stream_gauges(struct tx_buf *b, const struct ops_state *st)
{
	family(b, "tx_stream_length", "gauge", "Entries in the stream.");
	for (size_t i = 0; i < st->nstreams; i++)
		tx_buf_addf(b, "tx_stream_length{stream=\"%s\"} %lld\n",
			    st->streams[i].subject, st->streams[i].length);
	static const char *const names[] = { "tx_group_pending", "tx_group_consumers",
					     "tx_group_lag_entries",
					     "tx_group_lag_seconds" };
	static const char *const helps[] = {
		"Entries delivered to the group and not yet acked.",
		"Consumers registered in the group.",
		"Entries of the stream not yet delivered to the group.",
		"Age of the oldest entry the group has not acked (event lag).",
	};
	for (size_t f = 0; f < 4; f++) {
		family(b, names[f], "gauge", helps[f]);
		for (size_t i = 0; i < st->nstreams; i++)
			for (size_t j = 0; j < st->streams[i].ngroups; j++) {
				const struct ops_group *g = &st->streams[i].groups[j];
				if (f == 2 && g->lag < 0)
					continue;
				tx_buf_addf(b, "%s{stream=\"%s\",group=\"", names[f],
					    st->streams[i].subject);
				tx_buf_add_json_str(b, g->name);
				if (f == 3)
					tx_buf_addf(b, "\"} %.3f\n", g->lag_seconds);
				else
					tx_buf_addf(b, "\"} %lld\n", f == 0 ? g->pending
								  : f == 1 ? g->consumers
									   : g->lag);
			}
	}
}

static void outbox_gauges(struct tx_buf *b, const struct ops_state *st)
{
	family(b, "tx_outbox_unpublished", "gauge",
	       "Outbox rows not yet relayed to Redis.");
	for (size_t i = 0; i < st->noutbox; i++)
		tx_buf_addf(b, "tx_outbox_unpublished{schema=\"%s\"} %lld\n",
			    st->outbox[i].schema, st->outbox[i].unpublished);
	family(b, "tx_outbox_lag_seconds", "gauge",
	       "Age of the oldest unpublished outbox row (event lag).");
	for (size_t i = 0; i < st->noutbox; i++)
		tx_buf_addf(b, "tx_outbox_lag_seconds{schema=\"%s\"} %.3f\n",
			    st->outbox[i].schema, st->outbox[i].oldest_seconds);
	family(b, "tx_payment_attempts_open", "gauge",
	       "Charge attempts not settled yet (in flight, or waiting for the settler).");
	tx_buf_addf(b, "tx_payment_attempts_open %lld\n", st->open_attempts);
	family(b, "tx_payment_attempts_open_oldest_seconds", "gauge",
	       "Age of the oldest charge attempt not settled yet.");
	tx_buf_addf(b, "tx_payment_attempts_open_oldest_seconds %.3f\n",
		    st->open_attempts_oldest_seconds);
}

int ops_metrics(const struct tx_req *req, struct tx_ctx *ctx, struct tx_resp *resp)
{
	(void)req;
	struct ops_state *st = tx_arena_alloc(ctx->arena, sizeof(*st));
	ops_load(ctx, st, OPS_SUMMARY);
	struct tx_buf *b = &resp->body;
	tx_resp_reset(resp);
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	tx_resp_header(ctx, resp, "Cache-Control", "no-store");
	family(b, "tx_up", "gauge", "Whether the dependency answered this scrape.");
	tx_buf_addf(b, "tx_up{dependency=\"postgres\"} %d\n", st->pg_ok);
	tx_buf_addf(b, "tx_up{dependency=\"redis\"} %d\n", st->redis_ok);
	if (st->pg_ok)
		outbox_gauges(b, st);
	if (st->redis_ok) {
		stream_gauges(b, st);
		family(b, "tx_dead_letters", "gauge", "Entries in the dead-letter stream.");
		tx_buf_addf(b, "tx_dead_letters %lld\n", st->dead_letters);
	}
	if (tx_metrics_render_dir(ops_metrics_dir(), b) < 0)
		tx_buf_addlit(b, "# no METRICS_DIR: request counters not available\n");
	return 0;
}
