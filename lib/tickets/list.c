/* list.c: pages of the tickets for sale, rendered as the API's JSON array
 * and as the landing page's table rows, served from the program's shared
 * cache (core/gencache.h) while nothing has changed.
 *
 * Every page of the list is the same for everyone who asks for it, so
 * the cache keeps pages under a key made of everything that decides
 * their bytes: the format, the sort, the limit, the cursor and its
 * direction, and the search words. It holds a bounded number of pages
 * (LIST_CACHE_ENTRIES, and LIST_CACHE_MAX_BYTES in all): the first pages
 * of each sort that everyone lands on, and whatever searches and deeper
 * pages are being asked for again and again. A seller's own tickets are
 * never in it.
 *
 * Everything that changes the list is published by this service through
 * its outbox as ticket:created or ticket:updated (our own POST and PUT,
 * and the listeners' reservations and releases in the worker), so the
 * cache follows those two streams; our own writes also bump it right
 * after they commit (model.c), so a user sees their write at once. A
 * sale (payment:created) changes nothing here: a sold ticket was already
 * off the list while reserved. The per-user parts of a page (nav, CSRF
 * token) are rendered per request around the cached rows.
 */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/errors.h"
#include "core/gencache.h"
#include "core/log.h"
#include "core/tmpl.h"

#include <stdio.h>
#include <string.h>

#define ROWS_TPL "ticket_rows.tpl"
#define LIST_CACHE_ENTRIES 256

static const char *const list_streams[] = { "ticket:created", "ticket:updated" };

struct tx_gencache *tickets_cache_new(const struct tx_config *cfg)
{
	struct tx_gencache *c = tx_gencache_new(LIST_CACHE_ENTRIES,
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

static int render_json(const struct tickets_page_req *r, const struct tickets_page *p,
		       struct tx_buf *out)
{
	(void)r;
	tx_buf_addch(out, '[');
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			tx_buf_addch(out, ',');
		ticket_json(out, &p->rows[i]);
	}
	tx_buf_addch(out, ']');
	return 0;
}

static int render_html(const struct tickets_page_req *r, const struct tickets_page *p,
		       struct tx_buf *out)
{
	struct tmpl_dict *d = tmpl_dict_new("rows");
	for (size_t i = 0; i < p->n; i++) {
		char price[32];
		struct tmpl_dict *row = tmpl_add_section(d, "TICKET");
		tx_price_format(p->rows[i].price_cents, price, sizeof(price));
		tmpl_set(row, "TITLE", p->rows[i].title);
		tmpl_set(row, "PRICE", price);
		tmpl_set(row, "ID", p->rows[i].id);
	}
	if (p->n == 0)
		tmpl_show_section(d, *r->q ? "NO_MATCH" : r->cursor ? "NO_MORE" : "NO_TICKETS");
	int rc = tmpl_render(ROWS_TPL, d, out);
	tmpl_dict_free(d);
	return rc;
}

static int (*const renderers[TICKETS_LIST__MAX])(const struct tickets_page_req *,
						 const struct tickets_page *,
						 struct tx_buf *) = {
	[TICKETS_LIST_JSON] = render_json,
	[TICKETS_LIST_HTML] = render_html,
};

/* ---- the cache ------------------------------------------------------------- */

/* Everything that decides the bytes of a page of the list. */
static const char *cache_key(struct tx_ctx *ctx, const struct tickets_page_req *r,
			     enum tickets_list_format f)
{
	char head[64];
	snprintf(head, sizeof(head), "%d/%d/%ld/%c", (int)f, (int)r->sort, r->limit,
		 !r->cursor ? '-' : r->before ? '<' : '>');
	return tx_arena_join(ctx->arena, head, r->cursor ? r->cursor_text : "", "/",
			     r->q, (char *)NULL);
}

/* A cached value is "<next>\t<prev>\n" then the page: each cursor, or
 * "-" for none and "0" for the first page (prev of a page whose rows
 * before it have all gone). */
static const char *cursor_out(const char *c)
{
	return !c ? "-" : !*c ? "0" : c;
}

static const char *cursor_in(struct tx_arena *a, const char *s, size_t n)
{
	if (n == 1 && *s == '-')
		return NULL;
	return n == 1 && *s == '0' ? "" : tx_arena_strndup(a, s, n);
}

/* Split the value just appended to out at start: the cursors out, the
 * page moved down to start. false if it is not one of ours. */
static bool unpack(struct tx_ctx *ctx, struct tx_buf *out, size_t start,
		   const char **next, const char **prev)
{
	char *v = out->buf + start, *end = out->buf + out->len;
	char *tab = memchr(v, '\t', (size_t)(end - v));
	char *nl = tab ? memchr(tab, '\n', (size_t)(end - tab)) : NULL;
	if (!nl)
		return false;
	*next = cursor_in(ctx->arena, v, (size_t)(tab - v));
	*prev = cursor_in(ctx->arena, tab + 1, (size_t)(nl - tab - 1));
	size_t body = (size_t)(end - nl - 1);
	memmove(v, nl + 1, body);
	out->len = start + body;
	out->buf[out->len] = '\0';
	return true;
}

static void store(struct tx_ctx *ctx, const char *key, uint64_t gen, int64_t now,
		  const struct tickets_page *p, const char *page, size_t len)
{
	struct tx_buf v = TX_BUF_INIT(0);
	tx_buf_adds(&v, cursor_out(p->next));
	tx_buf_addch(&v, '\t');
	tx_buf_adds(&v, cursor_out(p->prev));
	tx_buf_addch(&v, '\n');
	tx_buf_add(&v, page, len);
	if (!v.toobig)
		tx_gencache_put(ctx->cache, key, strlen(key), gen, now, v.buf, v.len);
	tx_buf_release(&v);
}

int tickets_list_render(struct tx_ctx *ctx, const struct tickets_page_req *r,
			enum tickets_list_format f, struct tx_buf *out,
			const char **next, const char **prev)
{
	struct tx_gencache *c = ctx->cache;
	const char *key = NULL;
	uint64_t gen = 1;
	int64_t now = 0;
	size_t start = out->len;
	if (c) {
		key = cache_key(ctx, r, f);
		gen = tx_gencache_gen(c); /* before the query: see gencache.h */
		now = tx_gencache_now_ms();
		if (tx_gencache_get(c, key, strlen(key), now, out)) {
			if (out->toobig)
				return -TX_E_INTERNAL;
			if (unpack(ctx, out, start, next, prev))
				return 0;
			out->len = start; /* cannot happen: ours */
			out->buf[start] = '\0';
		}
	}
	struct tickets_page p;
	int rc = tickets_page_load(ctx, r, &p);
	if (rc < 0)
		return rc;
	if (renderers[f](r, &p, out) < 0 || out->toobig)
		return -TX_E_INTERNAL;
	*next = p.next;
	*prev = p.prev;
	if (c)
		store(ctx, key, gen, now, &p, out->buf + start, out->len - start);
	return 0;
}
