/* listing.c: one page of a listing, in one query: the tickets for sale
 * in one of four orders, maybe searched, or a seller's own tickets.
 *
 * Keyset pages: the rows after (or before) the cursor's row in the
 * listing's order, limit + 1 of them (the extra one says whether more
 * follow), through the partial index of that order (sql/009_listings.sql),
 * so a page deep in the list costs what the first one does. Each order
 * reads both ways: the page before a cursor is the same index walked
 * backwards, its rows turned round here.
 *
 * A search adds one LIKE '%word%' per word (LIKE's wildcards escaped) on
 * the title in lower case (title_lc, kept by Postgres), the word lowered
 * by the same lower(): ILIKE's meaning, without lowering every title for
 * every row. The two longest words are conditions the trigram index can
 * answer, the rest a filter (the array literal lowered as a whole: lower()
 * leaves its quotes, commas and braces alone). Those statements are
 * planned for their words each
 * time (tx_db_exec_planned): for a rare word the best plan is the trigram
 * index and a sort of its few rows, for a common one the walk in page
 * order, and only the words tell which.
 *
 * The statements are written out, one per listing, order, direction and
 * kind of search, in tables indexed the same way; parameters are always
 * $1 limit, then the cursor's price (price orders) and seq, then the
 * words.
 */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/db.h"
#include "core/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SELECT                                                           \
	"SELECT id, title, price_cents, user_id, order_id, version, seq, "    \
	"sold_at IS NOT NULL FROM tickets.tickets WHERE "
#define FOR_SALE PAGE_SELECT "order_id IS NULL "
/* One word ($a), or the two longest ($a, $b) and the others ($c). */
#define WORD(a) "AND title_lc LIKE lower($" #a ") "
#define WORDS(a, b, c)                                                        \
	"AND title_lc LIKE lower($" #a ") AND title_lc LIKE lower($" #b ") "  \
	"AND title_lc LIKE ALL (lower($" #c "::text)::text[]) "
#define BY_SEQ "ORDER BY seq LIMIT $1"
#define BY_SEQ_DESC "ORDER BY seq DESC LIMIT $1"
#define BY_PRICE "ORDER BY price_cents, seq LIMIT $1"
#define BY_PRICE_DESC "ORDER BY price_cents DESC, seq DESC LIMIT $1"
#define SEQ_GT(n) "AND seq > $" #n " "
#define SEQ_LT(n) "AND seq < $" #n " "
#define PRICE_GT(p, s) "AND (price_cents, seq) > ($" #p ", $" #s ") "
#define PRICE_LT(p, s) "AND (price_cents, seq) < ($" #p ", $" #s ") "

/* Where the page starts: at the top, after the cursor, before it. */
enum shape { FIRST, AFTER, BEFORE, SHAPE__MAX };
/* What is searched: nothing, one word, several. */
enum search { PLAIN, ONE_WORD, WORDS, SEARCH__MAX };

/* oldest */
TX_STMT(OLD, 1, FOR_SALE BY_SEQ);
TX_STMT(OLD_AFTER, 2, FOR_SALE SEQ_GT(2) BY_SEQ);
TX_STMT(OLD_BEFORE, 2, FOR_SALE SEQ_LT(2) BY_SEQ_DESC);
TX_STMT(OLD_1, 2, FOR_SALE WORD(2) BY_SEQ);
TX_STMT(OLD_AFTER_1, 3, FOR_SALE SEQ_GT(2) WORD(3) BY_SEQ);
TX_STMT(OLD_BEFORE_1, 3, FOR_SALE SEQ_LT(2) WORD(3) BY_SEQ_DESC);
TX_STMT(OLD_N, 4, FOR_SALE WORDS(2, 3, 4) BY_SEQ);
TX_STMT(OLD_AFTER_N, 5, FOR_SALE SEQ_GT(2) WORDS(3, 4, 5) BY_SEQ);
TX_STMT(OLD_BEFORE_N, 5, FOR_SALE SEQ_LT(2) WORDS(3, 4, 5) BY_SEQ_DESC);
/* newest */
TX_STMT(NEW, 1, FOR_SALE BY_SEQ_DESC);
TX_STMT(NEW_AFTER, 2, FOR_SALE SEQ_LT(2) BY_SEQ_DESC);
TX_STMT(NEW_BEFORE, 2, FOR_SALE SEQ_GT(2) BY_SEQ);
TX_STMT(NEW_1, 2, FOR_SALE WORD(2) BY_SEQ_DESC);
TX_STMT(NEW_AFTER_1, 3, FOR_SALE SEQ_LT(2) WORD(3) BY_SEQ_DESC);
TX_STMT(NEW_BEFORE_1, 3, FOR_SALE SEQ_GT(2) WORD(3) BY_SEQ);
TX_STMT(NEW_N, 4, FOR_SALE WORDS(2, 3, 4) BY_SEQ_DESC);
TX_STMT(NEW_AFTER_N, 5, FOR_SALE SEQ_LT(2) WORDS(3, 4, 5) BY_SEQ_DESC);
TX_STMT(NEW_BEFORE_N, 5, FOR_SALE SEQ_GT(2) WORDS(3, 4, 5) BY_SEQ);
/* price_asc */
TX_STMT(CHEAP, 1, FOR_SALE BY_PRICE);
TX_STMT(CHEAP_AFTER, 3, FOR_SALE PRICE_GT(2, 3) BY_PRICE);
TX_STMT(CHEAP_BEFORE, 3, FOR_SALE PRICE_LT(2, 3) BY_PRICE_DESC);
TX_STMT(CHEAP_1, 2, FOR_SALE WORD(2) BY_PRICE);
TX_STMT(CHEAP_AFTER_1, 4, FOR_SALE PRICE_GT(2, 3) WORD(4) BY_PRICE);
TX_STMT(CHEAP_BEFORE_1, 4, FOR_SALE PRICE_LT(2, 3) WORD(4) BY_PRICE_DESC);
TX_STMT(CHEAP_N, 4, FOR_SALE WORDS(2, 3, 4) BY_PRICE);
TX_STMT(CHEAP_AFTER_N, 6, FOR_SALE PRICE_GT(2, 3) WORDS(4, 5, 6) BY_PRICE);
TX_STMT(CHEAP_BEFORE_N, 6, FOR_SALE PRICE_LT(2, 3) WORDS(4, 5, 6) BY_PRICE_DESC);
/* price_desc: price_asc backwards, so ties go newest first */
TX_STMT(DEAR, 1, FOR_SALE BY_PRICE_DESC);
TX_STMT(DEAR_AFTER, 3, FOR_SALE PRICE_LT(2, 3) BY_PRICE_DESC);
TX_STMT(DEAR_BEFORE, 3, FOR_SALE PRICE_GT(2, 3) BY_PRICE);
TX_STMT(DEAR_1, 2, FOR_SALE WORD(2) BY_PRICE_DESC);
TX_STMT(DEAR_AFTER_1, 4, FOR_SALE PRICE_LT(2, 3) WORD(4) BY_PRICE_DESC);
TX_STMT(DEAR_BEFORE_1, 4, FOR_SALE PRICE_GT(2, 3) WORD(4) BY_PRICE);
TX_STMT(DEAR_N, 4, FOR_SALE WORDS(2, 3, 4) BY_PRICE_DESC);
TX_STMT(DEAR_AFTER_N, 6, FOR_SALE PRICE_LT(2, 3) WORDS(4, 5, 6) BY_PRICE_DESC);
TX_STMT(DEAR_BEFORE_N, 6, FOR_SALE PRICE_GT(2, 3) WORDS(4, 5, 6) BY_PRICE);

static const struct tx_stmt *const for_sale[TICKETS_SORT__MAX][SHAPE__MAX][SEARCH__MAX] = {
	[TICKETS_SORT_OLDEST] = { { &OLD, &OLD_1, &OLD_N },
				  { &OLD_AFTER, &OLD_AFTER_1, &OLD_AFTER_N },
				  { &OLD_BEFORE, &OLD_BEFORE_1, &OLD_BEFORE_N } },
	[TICKETS_SORT_NEWEST] = { { &NEW, &NEW_1, &NEW_N },
				  { &NEW_AFTER, &NEW_AFTER_1, &NEW_AFTER_N },
				  { &NEW_BEFORE, &NEW_BEFORE_1, &NEW_BEFORE_N } },
	[TICKETS_SORT_PRICE_ASC] = { { &CHEAP, &CHEAP_1, &CHEAP_N },
				     { &CHEAP_AFTER, &CHEAP_AFTER_1, &CHEAP_AFTER_N },
				     { &CHEAP_BEFORE, &CHEAP_BEFORE_1, &CHEAP_BEFORE_N } },
	[TICKETS_SORT_PRICE_DESC] = { { &DEAR, &DEAR_1, &DEAR_N },
				      { &DEAR_AFTER, &DEAR_AFTER_1, &DEAR_AFTER_N },
				      { &DEAR_BEFORE, &DEAR_BEFORE_1, &DEAR_BEFORE_N } },
};

/* A seller's own tickets, any status, newest first: $1 limit, $2 the
 * user, $3 the cursor's seq. Every row's user is the caller: it is not
 * sent back for each (a uuid out costs Postgres a character at a time). */
#define MINE_SELECT                                                           \
	"SELECT id, title, price_cents, NULL, order_id, version, seq, "       \
	"sold_at IS NOT NULL FROM tickets.tickets WHERE user_id = $2 "
TX_STMT(MINE, 2, MINE_SELECT BY_SEQ_DESC);
TX_STMT(MINE_AFTER, 3, MINE_SELECT SEQ_LT(3) BY_SEQ_DESC);
TX_STMT(MINE_BEFORE, 3, MINE_SELECT SEQ_GT(3) BY_SEQ);

static const struct tx_stmt *const mine[SHAPE__MAX] = { &MINE, &MINE_AFTER,
							&MINE_BEFORE };

/* ---- the statement and its parameters ----------------------------------- */

struct query {
	const struct tx_stmt *st;
	bool planned; /* a search: planned for its words (see the top) */
	const char *params[6];
};

/* '%' word '%', with LIKE's own characters escaped (backslash is LIKE's
 * escape character). */
static char *pattern(struct tx_arena *a, const char *w)
{
	char *p = tx_arena_alloc(a, 2 * strlen(w) + 3), *o = p;
	*o++ = '%';
	for (; *w; w++) {
		if (*w == '%' || *w == '_' || *w == '\\')
			*o++ = '\\';
		*o++ = *w;
	}
	*o++ = '%';
	*o = '\0';
	return p;
}

/* The patterns of words other than skip1 and skip2 as a text[] literal:
 * {"%a%","%b%"}, with " and \ escaped for the array syntax. */
static char *pattern_array(struct tx_arena *a, const struct tickets_page_req *r,
			   size_t skip1, size_t skip2)
{
	struct tx_buf b = TX_BUF_INIT(0);
	tx_buf_addch(&b, '{');
	for (size_t i = 0, k = 0; i < r->nwords; i++) {
		if (i == skip1 || i == skip2)
			continue;
		tx_buf_adds(&b, k++ ? ",\"" : "\"");
		for (const char *c = pattern(a, r->words[i]); *c; c++) {
			if (*c == '"' || *c == '\\')
				tx_buf_addch(&b, '\\');
			tx_buf_addch(&b, *c);
		}
		tx_buf_addch(&b, '"');
	}
	tx_buf_addch(&b, '}');
	char *s = tx_arena_strndup(a, b.buf, b.len);
	tx_buf_release(&b);
	return s;
}

/* The indexes of the longest and the second longest word. */
static void longest_two(const struct tickets_page_req *r, size_t *first, size_t *second)
{
	*first = 0;
	*second = 1;
	for (size_t i = 0; i < r->nwords; i++)
		if (strlen(r->words[i]) > strlen(r->words[*first]))
			*first = i;
	if (*first == 1)
		*second = 0;
	for (size_t i = 0; i < r->nwords; i++)
		if (i != *first && strlen(r->words[i]) > strlen(r->words[*second]))
			*second = i;
}

static void add_words(struct tx_arena *a, const struct tickets_page_req *r,
		      struct query *q, size_t k)
{
	if (r->nwords == 1) {
		q->params[k] = pattern(a, r->words[0]);
		return;
	}
	size_t w1, w2;
	longest_two(r, &w1, &w2);
	q->params[k] = pattern(a, r->words[w1]);
	q->params[k + 1] = pattern(a, r->words[w2]);
	q->params[k + 2] = pattern_array(a, r, w1, w2);
}

static void make_query(struct tx_ctx *ctx, const struct tickets_page_req *r,
		       bool first_page, struct query *q)
{
	struct tx_arena *a = ctx->arena;
	enum shape sh = first_page || !r->cursor ? FIRST : r->before ? BEFORE : AFTER;
	enum search se = r->nwords == 0 ? PLAIN : r->nwords == 1 ? ONE_WORD : WORDS;
	bool price = r->sort == TICKETS_SORT_PRICE_ASC || r->sort == TICKETS_SORT_PRICE_DESC;
	size_t k = 0;
	memset(q, 0, sizeof(*q));
	q->params[k++] = tx_arena_printf(a, "%ld", r->limit + 1);
	if (r->listing == TICKETS_MINE) {
		q->st = mine[sh];
		q->params[k++] = r->user_id;
		if (sh != FIRST)
			q->params[k++] = tx_arena_printf(a, "%lld", (long long)r->cur_seq);
		return;
	}
	q->st = for_sale[r->sort][sh][se];
	q->planned = se != PLAIN;
	if (sh != FIRST && price)
		q->params[k++] = tx_arena_printf(a, "%lld", (long long)r->cur_price);
	if (sh != FIRST)
		q->params[k++] = tx_arena_printf(a, "%lld", (long long)r->cur_seq);
	if (se != PLAIN)
		add_words(a, r, q, k);
}

/* ---- a page ------------------------------------------------------------------ */

/* Up to limit + 1 rows of r (from the top when first_page), in the order
 * the statement walks: backwards for a page before a cursor. */
static int fetch(struct tx_ctx *ctx, const struct tickets_page_req *r,
		 bool first_page, struct ticket **out, size_t *n)
{
	struct query q;
	PGresult *res;
	make_query(ctx, r, first_page, &q);
	int rc = q.planned ? tx_db_exec_planned(ctx, q.st, q.params, &res)
			   : tx_db_exec(ctx, q.st, q.params, &res);
	if (rc < 0)
		return rc;
	*n = (size_t)PQntuples(res);
	*out = tx_arena_alloc(ctx->arena, (*n ? *n : 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		ticket_from_row(res, (int)i, &(*out)[i]);
		if (r->listing == TICKETS_MINE)
			(*out)[i].user_id = r->user_id;
	}
	return 0;
}

static void reverse(struct ticket *t, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct ticket x = t[i];
		t[i] = t[n - 1 - i];
		t[n - 1 - i] = x;
	}
}

/* The page before the cursor, turned round into page order. When
 * nothing comes before it any more, this is the first page: if rows went
 * meanwhile and it is short, the first page as it is now instead (the
 * one query more of a rare case), so that Previous never ends on a
 * short page. */
static int load_before(struct tx_ctx *ctx, const struct tickets_page_req *r,
		       struct tickets_page *p)
{
	size_t lim = (size_t)r->limit;
	int rc = fetch(ctx, r, false, &p->rows, &p->n);
	if (rc < 0)
		return rc;
	bool more_before = p->n > lim;
	if (!more_before && p->n < lim)
		return 1; /* load the first page */
	if (more_before)
		p->n = lim;
	reverse(p->rows, p->n);
	p->prev = more_before ? tickets_cursor(ctx, r, &p->rows[0]) : NULL;
	/* The cursor's own row, or what took its place, follows. */
	p->next = p->n ? tickets_cursor(ctx, r, &p->rows[p->n - 1]) : NULL;
	return 0;
}

int tickets_page_load(struct tx_ctx *ctx, const struct tickets_page_req *r,
		      struct tickets_page *p)
{
	size_t lim = (size_t)r->limit;
	memset(p, 0, sizeof(*p));
	if (r->cursor && r->before) {
		int rc = load_before(ctx, r, p);
		if (rc <= 0)
			return rc;
		memset(p, 0, sizeof(*p));
	}
	bool first = !r->cursor || r->before;
	int rc = fetch(ctx, r, first, &p->rows, &p->n);
	if (rc < 0)
		return rc;
	if (p->n > lim) {
		p->n = lim;
		p->next = tickets_cursor(ctx, r, &p->rows[lim - 1]);
	}
	/* After a cursor there was a page before this one (the rows up to
	 * the cursor), unless they have all gone: then the first page. */
	if (!first)
		p->prev = p->n ? tickets_cursor(ctx, r, &p->rows[0]) : "";
	return 0;
}

/* The plan lines of "EXPLAIN <sql>" into *plan. */
static int explain_lines(struct tx_ctx *ctx, const struct tx_stmt *st,
			 const char *const *params, const char **plan)
{
	PGresult *res;
	int rc = tx_db_exec_planned(ctx, st, params, &res);
	if (rc < 0)
		return rc;
	struct tx_buf b = TX_BUF_INIT(0);
	for (int i = 0; i < PQntuples(res); i++) {
		tx_buf_adds(&b, PQgetvalue(res, i, 0));
		tx_buf_addch(&b, '\n');
	}
	*plan = tx_arena_strndup(ctx->arena, b.buf, b.len);
	tx_buf_release(&b);
	return 0;
}

/* A search is planned for its words: EXPLAIN with them. Any other
 * statement runs prepared, with the generic plan Postgres settles on
 * after a few executions, whatever the values: that plan is the one to
 * see, so it is prepared here and explained with force_generic_plan
 * (and NULLs for its parameters, which that plan does not look at). */
int tickets_page_explain(struct tx_ctx *ctx, const struct tickets_page_req *r,
			 const char **plan)
{
	struct query q;
	make_query(ctx, r, false, &q);
	if (q.planned) {
		struct tx_stmt ex = { "explain",
				      tx_arena_join(ctx->arena, "EXPLAIN ", q.st->sql,
						    (char *)NULL),
				      q.st->nparams };
		return explain_lines(ctx, &ex, q.params, plan);
	}
	struct tx_buf args = TX_BUF_INIT(0);
	for (int i = 0; i < q.st->nparams; i++)
		tx_buf_adds(&args, i ? ", NULL" : "NULL");
	const char *prepare = tx_arena_join(ctx->arena, "BEGIN; SET LOCAL plan_cache_mode "
					    "= force_generic_plan; PREPARE tx_explain AS ",
					    q.st->sql, (char *)NULL);
	struct tx_stmt ex = { "explain",
			      tx_arena_join(ctx->arena, "EXPLAIN EXECUTE tx_explain(",
					    args.buf, ")", (char *)NULL),
			      0 };
	tx_buf_release(&args);
	int rc = tx_db_exec_script(ctx->db, prepare);
	bool prepared = rc == 0;
	if (prepared)
		rc = explain_lines(ctx, &ex, NULL, plan);
	tx_db_exec_script(ctx->db, "ROLLBACK");
	if (prepared) /* a prepared statement outlives its transaction */
		tx_db_exec_script(ctx->db, "DEALLOCATE tx_explain");
	return rc;
}
