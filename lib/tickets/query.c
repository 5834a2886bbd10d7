/* query.c: what a listing request asks for (limit, sort, q, after,
 * before), checked, and the cursors that link its pages.
 *
 * A cursor is the place of one row in one listing: its price and seq
 * (the keys of every order we sort by), version 1 of the format, and a
 * 128-bit BLAKE2b tag, in base64url (44 characters). The tag is keyed
 * with a key derived from JWT_KEY for this use only, and covers the place
 * and what the place is in: the listing, the sort, the search words and,
 * for a seller's own tickets, the user. So a cursor is accepted only by
 * the request it was made for; one that was altered, made up, or carried
 * to another sort, search or user (a "foreign" cursor) is a 400 for its
 * field, like any bad value, and never yields a page it did not come from.
 * The cursor holds nothing secret: its values are only positions.
 */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/form.h"

#include <sodium.h>
#include <string.h>

#define INVALID "Invalid value"

const char *const tickets_sort_names[TICKETS_SORT__MAX] = {
	[TICKETS_SORT_OLDEST] = "oldest",
	[TICKETS_SORT_NEWEST] = "newest",
	[TICKETS_SORT_PRICE_ASC] = "price_asc",
	[TICKETS_SORT_PRICE_DESC] = "price_desc",
};

enum param { P_LIMIT, P_SORT, P_Q, P_AFTER, P_BEFORE, P__MAX };
static const char *const param_names[P__MAX] = { "limit", "sort", "q", "after",
						 "before" };

/* ---- the query string ----------------------------------------------------- */

struct params {
	const char *val[P__MAX]; /* decoded, NULL when absent */
	bool bad[P__MAX];	 /* repeated or undecodable */
};

static int param_of(const char *name)
{
	for (int i = 0; i < P__MAX; i++)
		if (strcmp(name, param_names[i]) == 0)
			return i;
	return -1;
}

/* One name=value pair of the query string. Names that are not ours, or
 * that do not even decode, are someone else's business: ignored. */
static void take_pair(struct tx_arena *a, const char *s, size_t n, struct params *p)
{
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	char *name, *value;
	if (tx_url_decode(a, s, nlen, true, &name) < 0)
		return;
	int i = param_of(name);
	if (i < 0)
		return;
	if (p->val[i] || p->bad[i] ||
	    tx_url_decode(a, eq ? eq + 1 : "", eq ? n - nlen - 1 : 0, true, &value) < 0) {
		p->bad[i] = true; /* ?limit=1&limit=2, or %zz, %00, bad UTF-8 */
		return;
	}
	p->val[i] = value;
}

static void scan(struct tx_arena *a, const char *q, struct params *p)
{
	memset(p, 0, sizeof(*p));
	size_t len = strlen(q), start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && q[i] != '&')
			continue;
		if (i > start)
			take_pair(a, q + start, i - start, p);
		start = i + 1;
	}
}

/* ---- the values ----------------------------------------------------------- */

static bool read_limit(const char *s, long *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 3 || strspn(s, "0123456789") != n)
		return false;
	return tx_parse_long(s, 1, TICKETS_LIMIT_MAX, out) == 0;
}

static bool read_sort(const char *s, enum tickets_sort *out)
{
	for (int i = 0; i < TICKETS_SORT__MAX; i++)
		if (strcmp(s, tickets_sort_names[i]) == 0) {
			*out = (enum tickets_sort)i;
			return true;
		}
	return false;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* The words of q (valid UTF-8, from the decoder) into r, and r->q, the
 * words joined by single spaces: the search as cursors and the cache
 * know it. */
static bool read_q(struct tx_arena *a, const char *s, struct tickets_page_req *r)
{
	if (utf8_chars(s) > TICKETS_Q_MAX)
		return false;
	char *norm = tx_arena_alloc(a, strlen(s) + 1);
	size_t n = 0;
	r->nwords = 0;
	for (;;) {
		while (is_space(*s))
			s++;
		if (!*s)
			break;
		const char *w = s;
		while (*s && !is_space(*s))
			s++;
		size_t len = (size_t)(s - w);
		if (r->nwords == TICKETS_Q_MAX_WORDS)
			return false; /* cannot happen: 100 characters */
		r->words[r->nwords++] = tx_arena_strndup(a, w, len);
		if (n)
			norm[n++] = ' ';
		memcpy(norm + n, w, len);
		n += len;
	}
	norm[n] = '\0';
	r->q = norm;
	return true;
}

/* ---- cursors ------------------------------------------------------------------ */

#define CURSOR_VERSION 1
#define CURSOR_TAG 16
#define CURSOR_BYTES (1 + 8 + 8 + CURSOR_TAG)
#define CURSOR_CHARS 44 /* base64url of 33 bytes, no padding */
#define CURSOR_CONTEXT "tickets listing cursor v1" /* the derived key's use */

_Static_assert(sizeof(CURSOR_CONTEXT) - 1 >= crypto_generichash_KEYBYTES_MIN,
	       "the context is the key of the derivation");

/* The cursor key, BLAKE2b(key = CURSOR_CONTEXT, JWT_KEY): made once per
 * thread for the program's key. */
static const unsigned char *cursor_key(const struct tx_config *cfg)
{
	static _Thread_local struct {
		bool made;
		size_t len;
		unsigned char jwt[sizeof(cfg->jwt_key)];
		unsigned char key[crypto_generichash_KEYBYTES];
	} k;
	if (!k.made || k.len != cfg->jwt_key_len ||
	    memcmp(k.jwt, cfg->jwt_key, k.len) != 0) {
		k.len = cfg->jwt_key_len;
		memcpy(k.jwt, cfg->jwt_key, k.len);
		crypto_generichash(k.key, sizeof(k.key), (const unsigned char *)cfg->jwt_key,
				   k.len, (const unsigned char *)CURSOR_CONTEXT,
				   sizeof(CURSOR_CONTEXT) - 1);
		k.made = true;
	}
	return k.key;
}

static void put_be64(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
		p[i] = (unsigned char)(v & 0xff);
}

static int64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* The tag of the place b[0..17) in r's listing, sort, search and user. */
static void cursor_tag(const struct tx_config *cfg, const struct tickets_page_req *r,
		       const unsigned char *b, unsigned char tag[CURSOR_TAG])
{
	crypto_generichash_state st;
	unsigned char what[2] = { (unsigned char)r->listing, (unsigned char)r->sort };
	const char *user = r->listing == TICKETS_MINE && r->user_id ? r->user_id : "";
	crypto_generichash_init(&st, cursor_key(cfg), crypto_generichash_KEYBYTES,
				CURSOR_TAG);
	crypto_generichash_update(&st, b, 17);
	crypto_generichash_update(&st, what, sizeof(what));
	crypto_generichash_update(&st, (const unsigned char *)r->q, strlen(r->q) + 1);
	crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
	crypto_generichash_final(&st, tag, CURSOR_TAG);
}

const char *tickets_cursor(struct tx_ctx *ctx, const struct tickets_page_req *r,
			   const struct ticket *t)
{
	unsigned char b[CURSOR_BYTES];
	b[0] = CURSOR_VERSION;
	put_be64(b + 1, t->price_cents);
	put_be64(b + 9, t->seq);
	cursor_tag(ctx->cfg, r, b, b + 17);
	char *s = tx_arena_alloc(ctx->arena, CURSOR_CHARS + 1);
	sodium_bin2base64(s, CURSOR_CHARS + 1, b, sizeof(b),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

/* Read cursor s, made for r's listing, sort, search and user, into r. */
static bool read_cursor(struct tx_ctx *ctx, const char *s, struct tickets_page_req *r)
{
	unsigned char b[CURSOR_BYTES], tag[CURSOR_TAG];
	size_t len = 0;
	const char *end = NULL;
	if (strlen(s) != CURSOR_CHARS ||
	    sodium_base642bin(b, sizeof(b), s, CURSOR_CHARS, NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != sizeof(b) || end != s + CURSOR_CHARS || b[0] != CURSOR_VERSION)
		return false;
	cursor_tag(ctx->cfg, r, b, tag);
	if (sodium_memcmp(tag, b + 17, CURSOR_TAG) != 0)
		return false;
	r->cur_price = get_be64(b + 1);
	r->cur_seq = get_be64(b + 9);
	r->cursor_text = s;
	return true;
}

/* ---- the request ---------------------------------------------------------- */

/* limit, sort and q of p into r; false for each field that is bad. */
static void read_values(struct tx_arena *a, struct params *p,
			struct tickets_page_req *r)
{
	if (p->val[P_LIMIT] && !read_limit(p->val[P_LIMIT], &r->limit))
		p->bad[P_LIMIT] = true;
	r->limit_given = p->val[P_LIMIT] != NULL;
	if (p->val[P_SORT] && !read_sort(p->val[P_SORT], &r->sort))
		p->bad[P_SORT] = true;
	if (p->val[P_Q] && !read_q(a, p->val[P_Q], r))
		p->bad[P_Q] = true;
}

/* after or before into r, once sort and q are known to be good: the
 * cursor is checked against them. */
static void read_position(struct tx_ctx *ctx, struct params *p,
			  struct tickets_page_req *r)
{
	const char *after = p->val[P_AFTER], *before = p->val[P_BEFORE];
	if (p->bad[P_SORT] || p->bad[P_Q])
		return; /* nothing to check a cursor against */
	if (after && before) {
		p->bad[P_BEFORE] = true; /* one direction at a time */
		return;
	}
	if (after && !read_cursor(ctx, after, r))
		p->bad[P_AFTER] = true;
	if (before && !read_cursor(ctx, before, r))
		p->bad[P_BEFORE] = true;
	r->cursor = (after || before) && !p->bad[P_AFTER] && !p->bad[P_BEFORE];
	r->before = before != NULL;
}

void tickets_page_parse(struct tx_ctx *ctx, const char *query,
			enum tickets_listing listing, const char *user,
			enum tickets_sort default_sort, struct tickets_page_req *r,
			struct tx_verrs *v)
{
	struct params p;
	*r = (struct tickets_page_req){
		.listing = listing,
		.sort = listing == TICKETS_MINE ? TICKETS_SORT_NEWEST : default_sort,
		.limit = TICKETS_LIMIT_DEFAULT,
		.q = "",
		.user_id = user,
	};
	scan(ctx->arena, query ? query : "", &p);
	if (listing == TICKETS_MINE) { /* newest first, no search */
		p.val[P_SORT] = p.val[P_Q] = NULL;
		p.bad[P_SORT] = p.bad[P_Q] = false;
	}
	read_values(ctx->arena, &p, r);
	read_position(ctx, &p, r);
	for (int i = 0; i < P__MAX; i++)
		if (p.bad[i])
			tx_verrs_add(v, param_names[i], INVALID);
}

/* ---- links ---------------------------------------------------------------- */

static void add_encoded(struct tx_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			tx_buf_addch(b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			tx_buf_add(b, e, 3);
		}
	}
}

const char *tickets_page_path(struct tx_ctx *ctx, const struct tickets_page_req *r,
			      bool api, const char *param, const char *cursor)
{
	struct tx_buf b = TX_BUF_INIT(0);
	bool mine = r->listing == TICKETS_MINE;
	tx_buf_adds(&b, api ? (mine ? "/api/tickets/mine" : "/api/tickets")
			    : (mine ? "/tickets/mine" : "/"));
	char sep = '?';
	if (!mine && *r->q) {
		tx_buf_addlit(&b, "?q=");
		add_encoded(&b, r->q);
		sep = '&';
	}
	if (!mine) {
		tx_buf_addch(&b, sep);
		tx_buf_addlit(&b, "sort=");
		tx_buf_adds(&b, tickets_sort_names[r->sort]);
		sep = '&';
	}
	if (api || r->limit_given) {
		tx_buf_addch(&b, sep);
		tx_buf_addlit(&b, "limit=");
		tx_buf_add_int(&b, r->limit);
		sep = '&';
	}
	if (cursor) {
		tx_buf_addch(&b, sep);
		tx_buf_adds(&b, param);
		tx_buf_addch(&b, '=');
		tx_buf_adds(&b, cursor); /* base64url: nothing to encode */
	}
	char *s = tx_arena_strndup(ctx->arena, b.buf, b.len);
	tx_buf_release(&b);
	return s;
}
