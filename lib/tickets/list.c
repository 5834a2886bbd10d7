/* list.c: the tickets for sale, rendered as the API's JSON array and as
 * the landing page's table rows, served from the program's shared cache
 * (core/gencache.h) while nothing has changed.
 *
 * Everything that changes the list is published by this service through
 * its outbox as ticket:created or ticket:updated (our own POST and PUT,
 * and the listeners' reservations and releases in the worker), so the
 * cache follows those two streams; our own writes also bump it right
 * after they commit (model.c), so a user sees their write at once. The
 * per-user parts of a page (nav, CSRF token) are rendered per request
 * around the cached rows.
 */
#include "tickets/tickets.h"
#include "core/config.h"
#include "core/errors.h"
#include "core/gencache.h"
#include "core/log.h"
#include "core/tmpl.h"

#include <stdio.h>

#define ROWS_TPL "ticket_rows.tpl"

static const char *const list_streams[] = { "ticket:created", "ticket:updated" };

struct tx_gencache *tickets_cache_new(const struct tx_config *cfg)
{
	struct tx_gencache *c = tx_gencache_new(TICKETS_LIST__MAX,
						cfg->list_cache_max_age_ms,
						(size_t)cfg->list_cache_max_bytes);
	if (cfg->list_cache_max_age_ms == 0 || cfg->list_cache_max_bytes == 0)
		return c; /* off: never follows, so always bypassed */
	char err[256];
	if (tx_gencache_follow(c, cfg->redis_url, cfg->redis_prefix, list_streams,
			       sizeof(list_streams) / sizeof(list_streams[0]), err,
			       sizeof(err)) < 0)
		tx_log("warn", "list cache off: %s", err);
	return c;
}

static int render_json(const struct ticket *ts, size_t n, struct tx_buf *out)
{
	tx_buf_addch(out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			tx_buf_addch(out, ',');
		ticket_json(out, &ts[i]);
	}
	tx_buf_addch(out, ']');
	return 0;
}

static int render_html(const struct ticket *ts, size_t n, struct tx_buf *out)
{
	struct tmpl_dict *d = tmpl_dict_new("rows");
	for (size_t i = 0; i < n; i++) {
		char price[32];
		struct tmpl_dict *row = tmpl_add_section(d, "TICKET");
		tx_price_format(ts[i].price_cents, price, sizeof(price));
		tmpl_set(row, "TITLE", ts[i].title);
		tmpl_set(row, "PRICE", price);
		tmpl_set(row, "ID", ts[i].id);
	}
	if (n == 0)
		tmpl_show_section(d, "NO_TICKETS");
	int rc = tmpl_render(ROWS_TPL, d, out);
	tmpl_dict_free(d);
	return rc;
}

static int (*const renderers[TICKETS_LIST__MAX])(const struct ticket *, size_t,
						 struct tx_buf *) = {
	[TICKETS_LIST_JSON] = render_json,
	[TICKETS_LIST_HTML] = render_html,
};

int tickets_list_render(struct tx_ctx *ctx, enum tickets_list_format f,
			struct tx_buf *out)
{
	struct tx_gencache *c = ctx->cache;
	uint64_t gen = 1;
	int64_t now = 0;
	if (c) {
		gen = tx_gencache_gen(c); /* before the query: see gencache.h */
		now = tx_gencache_now_ms();
		if (tx_gencache_get(c, (size_t)f, now, out))
			return out->toobig ? -TX_E_INTERNAL : 0;
	}
	struct ticket *ts;
	size_t n, start = out->len;
	int rc = tickets_list(ctx, &ts, &n);
	if (rc < 0)
		return rc;
	if (renderers[f](ts, n, out) < 0 || out->toobig)
		return -TX_E_INTERNAL;
	if (c)
		tx_gencache_put(c, (size_t)f, gen, now, out->buf + start, out->len - start);
	return 0;
}
