/* test_tickets.c: ticket prices, and the tickets model against the real
 * Postgres: the original's optimistic concurrency tests (reference 9.3)
 * and outbox atomicity. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/form.h"
#include "core/gencache.h"
#include "core/tmpl.h"
#include "tickets/tickets.h"

static const struct {
	const char *in;
	int ok;
	long long cents;
} prices[] = {
	{ "20", 1, 2000 },	  { "10.5", 1, 1050 },	   { "10.50", 1, 1050 },
	{ "1e2", 1, 10000 },	  { "0.01", 1, 1 },	   { "3.456", 1, 346 },
	{ "+5", 1, 500 },	  { ".5", 1, 50 },	   { "5.", 1, 500 },
	{ "1000000", 1, 100000000 }, { "1000000.004", 0, 0 },
	{ "1000000.01", 0, 0 },	  { "0", 0, 0 },	   { "-10", 0, 0 },
	{ "0.001", 0, 0 },	  { "", 0, 0 },		   { ".", 0, 0 },
	{ "abc", 0, 0 },	  { "10abc", 0, 0 },	   { " 10", 0, 0 },
	{ "NaN", 0, 0 },	  { "Infinity", 0, 0 },	   { "1e400", 0, 0 },
	{ "1e", 0, 0 },		  { "0x10", 0, 0 },	   { "1,5", 0, 0 },
};

START_TEST(price_parse_table)
{
	int64_t cents = -1;
	int rc = tx_price_parse(prices[_i].in, &cents);
	ck_assert_msg((rc == 0) == prices[_i].ok, "price \"%s\"", prices[_i].in);
	if (prices[_i].ok)
		ck_assert_int_eq(cents, prices[_i].cents);
}
END_TEST

START_TEST(price_format)
{
	static const struct {
		long long cents;
		const char *text;
	} t[] = { { 2000, "20" }, { 1050, "10.5" }, { 1, "0.01" },
		  { 1234, "12.34" }, { 100000000, "1000000" }, { 10, "0.1" },
		  { 5, "0.05" }, { 99, "0.99" }, { 0, "0" }, { 1001, "10.01" } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[32];
		tx_price_format(t[i].cents, out, sizeof(out));
		ck_assert_str_eq(out, t[i].text);
	}
}
END_TEST

/* ---- against the database ---------------------------------------------- */

static struct tx_config cfg;
static struct tx_ctx ctx;

static void db_setup(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.arena = tx_arena_new(4096);
	ctx.db = tx_db_new(url);
}

static void db_teardown(void)
{
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
}

static const char *user = "7d3c2a1e-0000-4000-8000-000000000001";

static long outbox_count(const char *ticket_id)
{
	TX_STMT(SQL_COUNT, 1, "SELECT count(*) FROM tickets.outbox "
			      "WHERE data->>'id' = $1");
	PGresult *r;
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_COUNT, (const char *const[]){ ticket_id }, &r), 0);
	return strtol(PQgetvalue(r, 0, 0), NULL, 10);
}

/* A fresh word for titles, so that a search finds this test's tickets
 * only (the database is shared with the stack and other tests). */
static void unique_word(char out[24])
{
	TX_STMT(SQL_WORD, 0, "SELECT 'w' || substr(md5(random()::text), 1, 16)");
	PGresult *r;
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_WORD, NULL, &r), 0);
	snprintf(out, 24, "%s", PQgetvalue(r, 0, 0));
}

/* A request parsed from a query string, which must be valid. */
static void parse_ok(const char *query, enum tickets_listing l, const char *who,
		     struct tickets_page_req *r)
{
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(&ctx, query, l, who, TICKETS_SORT_OLDEST, r, &v);
	ck_assert_msg(v.n == 0, "%s: %s %s", query, v.n ? v.e[0].field : "",
		      v.n ? v.e[0].message : "");
}

static void render(const struct tickets_page_req *r, enum tickets_list_format f,
		   struct tx_buf *out)
{
	const char *next, *prev;
	tx_buf_reset(out);
	ck_assert_int_eq(tickets_list_render(&ctx, r, f, out, &next, &prev), 0);
}

/* A page of the list through the program's cache (lib/tickets/list.c),
 * as if its follower were connected: served from memory while nothing
 * bumps, so a change made behind its back does not show; our own write
 * bumps, and the next request reads the database again. Another search
 * is another page, cached on its own. */
START_TEST(list_cached_until_own_write)
{
	TX_STMT(SQL_HOLD, 1, "UPDATE tickets.tickets SET order_id = gen_random_uuid() "
			     "WHERE id = $1");
	ck_assert_int_eq(tmpl_set_root("templates"), 0); /* tests run from the root */
	struct tx_gencache *c = tx_gencache_new(16, 60000, 1 << 20);
	tx_gencache_set_following(c, true);
	ctx.cache = c;
	char word[24], other[24];
	unique_word(word);
	unique_word(other);
	char *title_a = tx_arena_printf(ctx.arena, "cached %s a", word);
	char *title_b = tx_arena_printf(ctx.arena, "cached %s b", word);
	char *title_o = tx_arena_printf(ctx.arena, "other %s", other);
	char *query = tx_arena_printf(ctx.arena, "q=%s&sort=newest", word);
	char *query_o = tx_arena_printf(ctx.arena, "q=%s", other);
	struct tickets_page_req r, ro;
	parse_ok(query, TICKETS_FOR_SALE, NULL, &r);
	parse_ok(query_o, TICKETS_FOR_SALE, NULL, &ro);
	struct ticket a, b, o;
	struct tx_buf json = TX_BUF_INIT(0), html = TX_BUF_INIT(0);
	ck_assert_int_eq(tickets_create(&ctx, title_a, 500, user, &a), 0);
	ck_assert_int_eq(tickets_create(&ctx, title_o, 500, user, &o), 0);
	render(&r, TICKETS_LIST_JSON, &json);
	ck_assert_ptr_nonnull(strstr(json.buf, a.id));
	ck_assert_ptr_null(strstr(json.buf, o.id));
	render(&r, TICKETS_LIST_HTML, &html);
	ck_assert_ptr_nonnull(strstr(html.buf, a.id));
	render(&ro, TICKETS_LIST_JSON, &json);
	ck_assert_ptr_nonnull(strstr(json.buf, o.id));
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_HOLD, (const char *const[]){ a.id }, NULL), 0);
	render(&r, TICKETS_LIST_JSON, &json);
	render(&r, TICKETS_LIST_HTML, &html);
	ck_assert_msg(strstr(json.buf, a.id) && strstr(html.buf, a.id),
		      "the second render did not come from the cache");
	ck_assert_int_eq(tickets_create(&ctx, title_b, 700, user, &b), 0);
	render(&r, TICKETS_LIST_JSON, &json);
	ck_assert_ptr_nonnull(strstr(json.buf, b.id));
	ck_assert_ptr_null(strstr(json.buf, a.id));
	render(&r, TICKETS_LIST_HTML, &html);
	ck_assert_ptr_nonnull(strstr(html.buf, b.id));
	ck_assert_ptr_null(strstr(html.buf, a.id));
	ctx.cache = NULL;
	tx_gencache_free(c);
	tx_buf_release(&json);
	tx_buf_release(&html);
}
END_TEST

/* Reference 9.3, "implements optimistic concurrency control". */
START_TEST(occ_stale_update_fails)
{
	struct ticket t, first, second, out;
	ck_assert_int_eq(tickets_create(&ctx, "concert", 500, user, &t), 0);
	ck_assert_int_eq(tickets_get(&ctx, t.id, &first), 0);
	ck_assert_int_eq(tickets_get(&ctx, t.id, &second), 0);
	ck_assert_int_eq(tickets_update(&ctx, first.id, first.version, "concert",
					1000, &out), 0);
	ck_assert_int_eq(tickets_update(&ctx, second.id, second.version, "concert",
					1500, &out), -TX_E_BAD_REQUEST);
	ck_assert_int_eq(tickets_get(&ctx, t.id, &out), 0);
	ck_assert_int_eq(out.price_cents, 1000);
	ck_assert_int_eq(outbox_count(t.id), 2); /* created + one update */
}
END_TEST

/* Reference 9.3, "increments the version number on multiple saves". */
START_TEST(occ_version_increments)
{
	struct ticket t;
	ck_assert_int_eq(tickets_create(&ctx, "concert", 2000, user, &t), 0);
	ck_assert_int_eq(t.version, 0);
	ck_assert_int_eq(tickets_update(&ctx, t.id, 0, "concert", 2000, &t), 0);
	ck_assert_int_eq(t.version, 1);
	ck_assert_int_eq(tickets_update(&ctx, t.id, 1, "concert", 2000, &t), 0);
	ck_assert_int_eq(t.version, 2);
}
END_TEST

START_TEST(outbox_payloads)
{
	TX_STMT(SQL_EVENTS, 1, "SELECT subject, data::text FROM tickets.outbox "
			       "WHERE data->>'id' = $1 ORDER BY id");
	struct ticket t;
	ck_assert_int_eq(tickets_create(&ctx, "a \"quoted\" title", 1050, user, &t), 0);
	ck_assert_int_eq(tickets_update(&ctx, t.id, 0, "new", 10000, &t), 0);
	PGresult *r;
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_EVENTS, (const char *const[]){ t.id }, &r), 0);
	ck_assert_int_eq(PQntuples(r), 2);
	char want[512];
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "ticket:created");
	snprintf(want, sizeof(want),
		 "{\"id\" : \"%s\", \"version\" : 0, \"title\" : \"a \\\"quoted\\\" title\", "
		 "\"price\" : 10.5, \"userId\" : \"%s\"}", t.id, user);
	ck_assert_str_eq(PQgetvalue(r, 0, 1), want);
	ck_assert_str_eq(PQgetvalue(r, 1, 0), "ticket:updated");
	snprintf(want, sizeof(want),
		 "{\"id\" : \"%s\", \"version\" : 1, \"title\" : \"new\", "
		 "\"price\" : 100, \"userId\" : \"%s\"}", t.id, user);
	ck_assert_str_eq(PQgetvalue(r, 1, 1), want);
}
END_TEST

/* A failed transaction leaves neither the row nor its event. */
START_TEST(outbox_atomic_with_rollback)
{
	struct ticket t;
	ck_assert_int_eq(tx_db_begin(&ctx), 0);
	ck_assert_int_eq(tickets_create(&ctx, "ghost", 100, user, &t), 0);
	char *id = tx_arena_strdup(ctx.arena, t.id);
	tx_db_rollback(&ctx);
	ck_assert_int_eq(tickets_get(&ctx, id, &t), -TX_E_NOT_FOUND);
	ck_assert_int_eq(outbox_count(id), 0);
	/* A statement that fails (price out of range at the CHECK) writes
	 * neither either. */
	ck_assert_int_eq(tickets_create(&ctx, "bad", 0, user, &t), -TX_E_BAD_REQUEST);
}
END_TEST

START_TEST(malformed_id_is_bad_request)
{
	struct ticket t;
	ck_assert_int_eq(tickets_get(&ctx, "abc", &t), -TX_E_BAD_REQUEST);
	ck_assert_int_eq(tickets_get(&ctx, "00000000-0000-4000-8000-000000000000", &t),
			 -TX_E_NOT_FOUND);
}
END_TEST

/* ---- titles ---------------------------------------------------------------- */

/* n copies of s (a character of 1 to 4 bytes), malloc'd. */
static char *repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *out = malloc(len * n + 1);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

/* At most 200 characters, counted as characters: 200 four-byte emoji
 * (800 bytes) pass, 201 ASCII letters do not. */
START_TEST(title_at_most_200_characters)
{
	static const struct {
		const char *ch;
		size_t n;
		const char *msg;
	} t[] = {
		{ "a", 200, NULL },
		{ "a", 201, "Title must be at most 200 characters" },
		{ "\xC3\xA9", 200, NULL },
		{ "\xC3\xA9", 201, "Title must be at most 200 characters" },
		{ "\xF0\x9F\x8E\xAB", 200, NULL },
		{ "\xF0\x9F\x8E\xAB", 201, "Title must be at most 200 characters" },
		{ "a", 0, "Title is required" },
		{ "a", 10000, "Title must be at most 200 characters" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *title = repeat(t[i].ch, t[i].n);
		struct tx_verrs v = { .n = 0 };
		int64_t cents;
		tickets_validate(title, "5", "unused", &v, &cents);
		if (!t[i].msg) {
			ck_assert_msg(v.n == 0, "case %zu: %s", i, v.n ? v.e[0].message : "");
		} else {
			ck_assert_msg(v.n == 1, "case %zu: %zu errors", i, v.n);
			ck_assert_str_eq(v.e[0].field, "title");
			ck_assert_str_eq(v.e[0].message, t[i].msg);
		}
		free(title);
	}
}
END_TEST

/* The database holds the same bound (sql/009): a title the API would
 * refuse cannot get in behind its back either. */
START_TEST(title_check_in_the_database)
{
	struct ticket t;
	char *ok = repeat("\xC3\xA9", 200), *long_one = repeat("a", 201);
	ck_assert_int_eq(tickets_create(&ctx, ok, 100, user, &t), 0);
	ck_assert_str_eq(t.title, ok);
	ck_assert_int_eq(tickets_create(&ctx, long_one, 100, user, &t), -TX_E_BAD_REQUEST);
	free(ok);
	free(long_one);
}
END_TEST

/* ---- listing parameters ----------------------------------------------------- */

static const struct {
	const char *query;
	enum tickets_listing listing;
	const char *bad; /* the fields reported, in order, space-separated */
	long limit;
	int sort; /* -1: the default */
	const char *q;
} params[] = {
	{ "", TICKETS_FOR_SALE, "", 50, -1, "" },
	{ "limit=1", TICKETS_FOR_SALE, "", 1, -1, "" },
	{ "limit=100", TICKETS_FOR_SALE, "", 100, -1, "" },
	{ "limit=050", TICKETS_FOR_SALE, "", 50, -1, "" },
	{ "limit=0", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=101", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=-1", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=1.5", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=%2B1", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=+1", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=1e1", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=0x10", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=abc", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=99999999999999999999999", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=1&limit=2", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=5&limit=5", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=%zz", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "limit=%FF", TICKETS_FOR_SALE, "limit", 0, 0, NULL },
	{ "%6Cimit=7", TICKETS_FOR_SALE, "", 7, -1, "" },
	{ "sort=newest", TICKETS_FOR_SALE, "", 50, TICKETS_SORT_NEWEST, "" },
	{ "sort=oldest", TICKETS_FOR_SALE, "", 50, TICKETS_SORT_OLDEST, "" },
	{ "sort=price_asc", TICKETS_FOR_SALE, "", 50, TICKETS_SORT_PRICE_ASC, "" },
	{ "sort=price_desc", TICKETS_FOR_SALE, "", 50, TICKETS_SORT_PRICE_DESC, "" },
	{ "sort=NEWEST", TICKETS_FOR_SALE, "sort", 0, 0, NULL },
	{ "sort=", TICKETS_FOR_SALE, "sort", 0, 0, NULL },
	{ "sort=price", TICKETS_FOR_SALE, "sort", 0, 0, NULL },
	{ "sort=newest&sort=oldest", TICKETS_FOR_SALE, "sort", 0, 0, NULL },
	{ "q=", TICKETS_FOR_SALE, "", 50, -1, "" },
	{ "q=+++%09", TICKETS_FOR_SALE, "", 50, -1, "" },
	{ "q=Jazz", TICKETS_FOR_SALE, "", 50, -1, "Jazz" },
	{ "q=+jazz++LISBON%0A", TICKETS_FOR_SALE, "", 50, -1, "jazz LISBON" },
	{ "q=100%25+a_b", TICKETS_FOR_SALE, "", 50, -1, "100% a_b" },
	{ "q=%C3%A9t%C3%A9", TICKETS_FOR_SALE, "", 50, -1, "\xC3\xA9t\xC3\xA9" },
	{ "q=%FF", TICKETS_FOR_SALE, "q", 0, 0, NULL },
	{ "q=%C3", TICKETS_FOR_SALE, "q", 0, 0, NULL },
	{ "q=%ED%A0%80", TICKETS_FOR_SALE, "q", 0, 0, NULL }, /* a surrogate */
	{ "q=a%00b", TICKETS_FOR_SALE, "q", 0, 0, NULL },
	{ "q=%", TICKETS_FOR_SALE, "q", 0, 0, NULL },
	{ "q=a&q=b", TICKETS_FOR_SALE, "q", 0, 0, NULL },
	{ "limit=0&sort=x&q=%FF&after=x&before=y", TICKETS_FOR_SALE, "limit sort q", 0, 0, NULL },
	{ "limit=2&after=x", TICKETS_FOR_SALE, "after", 0, 0, NULL },
	{ "before=", TICKETS_FOR_SALE, "before", 0, 0, NULL },
	{ "after=x&before=y", TICKETS_FOR_SALE, "before", 0, 0, NULL },
	{ "after=a&after=a", TICKETS_FOR_SALE, "after", 0, 0, NULL },
	{ "foo=1&%zz=2&=3&&&q", TICKETS_FOR_SALE, "", 50, -1, "" },
	{ "sort=bogus&q=%FF&limit=3", TICKETS_MINE, "", 3, TICKETS_SORT_NEWEST, "" },
	{ "limit=0", TICKETS_MINE, "limit", 0, 0, NULL },
	{ "after=zzz", TICKETS_MINE, "after", 0, 0, NULL },
};

START_TEST(page_params_table)
{
	struct tickets_page_req r;
	struct tx_verrs v = { .n = 0 };
	char got[128] = "";
	tickets_page_parse(&ctx, params[_i].query, params[_i].listing, user,
			   TICKETS_SORT_OLDEST, &r, &v);
	for (size_t i = 0; i < v.n; i++) {
		ck_assert_str_eq(v.e[i].message, "Invalid value");
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 v.e[i].field);
	}
	ck_assert_msg(strcmp(got, params[_i].bad) == 0, "%s: errors \"%s\", want \"%s\"",
		      params[_i].query, got, params[_i].bad);
	if (*params[_i].bad)
		return;
	ck_assert_int_eq(r.limit, params[_i].limit);
	ck_assert_int_eq(r.sort, params[_i].sort < 0 ? (int)TICKETS_SORT_OLDEST
						      : params[_i].sort);
	ck_assert_str_eq(r.q, params[_i].q);
	ck_assert(!r.cursor);
}
END_TEST

/* 100 characters of q are fine, 101 are not, however many bytes. */
START_TEST(page_q_length_in_characters)
{
	struct tickets_page_req r;
	const char *chars[] = { "a", "%C3%A9", "%F0%9F%8E%AB" };
	for (size_t c = 0; c < 3; c++)
		for (size_t n = 100; n <= 101; n++) {
			struct tx_verrs v = { .n = 0 };
			char *q = repeat(chars[c], n), *query = tx_arena_join(ctx.arena, "q=", q,
									     (char *)NULL);
			tickets_page_parse(&ctx, query, TICKETS_FOR_SALE, NULL, TICKETS_SORT_OLDEST,
					   &r, &v);
			ck_assert_msg(v.n == (n > 100), "%s x %zu: %zu errors", chars[c], n, v.n);
			free(q);
		}
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(&ctx, "q=a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+t+u+v+w+x+y+z",
			   TICKETS_FOR_SALE, NULL, TICKETS_SORT_OLDEST, &r, &v);
	ck_assert_int_eq(v.n, 0);
	ck_assert_uint_eq(r.nwords, 26);
	ck_assert_str_eq(r.words[25], "z");
}
END_TEST

/* Random query strings (a fixed seed): pieces of ours and of garbage,
 * raw bytes, %-escapes good and bad. The parser never crashes (ASan runs
 * this too), names only its own fields, and what it accepts is in range. */
START_TEST(page_params_random)
{
	static const char *const pieces[] = {
		"limit=", "sort=", "q=", "after=", "before=", "&", "&&", "=", "%", "%2", "%zz",
		"%00", "%FF", "%C3%A9", "%F0%9F%8E%AB", "%ED%A0%80", "+", "1", "50", "100", "101",
		"-1", "newest", "price_asc", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a",
		"\xFF", "\xC3", " ", "\t", "foo=", "limit", "q", "%25", "%2B",
	};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	unsigned seed = 12345;
	char buf[512];
	for (int n = 0; n < 20000; n++) {
		size_t len = 0, k = (size_t)(rand_r(&seed) % 12);
		for (size_t i = 0; i < k; i++) {
			const char *p = pieces[rand_r(&seed) % np];
			size_t pl = strlen(p);
			if (len + pl >= sizeof(buf))
				break;
			memcpy(buf + len, p, pl);
			len += pl;
		}
		buf[len] = '\0';
		struct tickets_page_req r;
		struct tx_verrs v = { .n = 0 };
		enum tickets_listing l = n % 5 ? TICKETS_FOR_SALE : TICKETS_MINE;
		tickets_page_parse(&ctx, buf, l, user, TICKETS_SORT_NEWEST, &r, &v);
		for (size_t i = 0; i < v.n; i++)
			ck_assert_msg(strstr("limit sort q after before", v.e[i].field), "%s: %s", buf,
				      v.e[i].field);
		if (v.n == 0) {
			ck_assert_msg(r.limit >= 1 && r.limit <= 100, "%s", buf);
			ck_assert((int)r.sort >= 0 && r.sort < TICKETS_SORT__MAX);
			ck_assert(tx_utf8_valid(r.q, strlen(r.q)));
			ck_assert(!r.cursor); /* no cursor of ours can be in there */
		}
		tx_arena_reset(ctx.arena);
	}
}
END_TEST

/* ---- cursors -------------------------------------------------------------------- */

static struct tx_verrs parse(const char *query, enum tickets_listing l, const char *who,
			     struct tickets_page_req *r)
{
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(&ctx, query, l, who, TICKETS_SORT_OLDEST, r, &v);
	return v;
}

/* A cursor is read back by the request it was made for, and by no other:
 * not another sort, search, listing or user, not after any change to any
 * of its characters, not made with another key. */
START_TEST(cursor_bound_to_its_listing)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static char key1[] = "first-key-0123456789abcdefghijklmnop";
	static char key2[] = "other-key-0123456789abcdefghijklmnop";
	const char *alice = "7d3c2a1e-0000-4000-8000-00000000000a";
	const char *bob = "7d3c2a1e-0000-4000-8000-00000000000b";
	struct tickets_page_req r, r2;
	struct ticket t = { .price_cents = 1234, .seq = 987654321 };
	memcpy(cfg.jwt_key, key1, sizeof(key1));
	cfg.jwt_key_len = sizeof(key1) - 1;
	ck_assert_int_eq(parse("q=jazz+lisbon&sort=price_asc", TICKETS_FOR_SALE, NULL, &r).n, 0);
	const char *c = tickets_cursor(&ctx, &r, &t);
	ck_assert_uint_eq(strlen(c), 44);
	char *q = tx_arena_join(ctx.arena, "q=jazz+lisbon&sort=price_asc&after=", c, (char *)NULL);
	ck_assert_int_eq(parse(q, TICKETS_FOR_SALE, NULL, &r2).n, 0);
	ck_assert(r2.cursor && !r2.before);
	ck_assert_int_eq(r2.cur_price, 1234);
	ck_assert_int_eq(r2.cur_seq, 987654321);
	q = tx_arena_join(ctx.arena, "q=%20jazz%20%20lisbon&sort=price_asc&limit=3&before=", c,
			  (char *)NULL);
	ck_assert_int_eq(parse(q, TICKETS_FOR_SALE, NULL, &r2).n, 0); /* same words */
	ck_assert(r2.cursor && r2.before);
	const char *foreign[] = { "q=jazz+lisbon&sort=price_desc&after=", "q=jazz&sort=price_asc&after=",
				  "q=Jazz+lisbon&sort=price_asc&after=", "sort=price_asc&after=" };
	for (size_t i = 0; i < 4; i++) {
		struct tx_verrs v = parse(tx_arena_join(ctx.arena, foreign[i], c, (char *)NULL),
					  TICKETS_FOR_SALE, NULL, &r2);
		ck_assert_msg(v.n == 1 && strcmp(v.e[0].field, "after") == 0, "%s", foreign[i]);
	}
	for (size_t i = 0; i < 44; i++) {
		char *bad = tx_arena_strdup(ctx.arena, c);
		bad[i] = b64[(strchr(b64, bad[i]) - b64 + 1 + (long)i) % 64];
		q = tx_arena_join(ctx.arena, "q=jazz+lisbon&sort=price_asc&after=", bad, (char *)NULL);
		ck_assert_msg(parse(q, TICKETS_FOR_SALE, NULL, &r2).n == 1, "tampered at %zu", i);
	}
	const char *shapes[] = { "", "=", "A", "%3D%3D", "AA" };
	for (size_t i = 0; i < 5; i++) {
		q = tx_arena_join(ctx.arena, "q=jazz+lisbon&sort=price_asc&after=", c, shapes[i],
				  (char *)NULL);
		ck_assert_msg(parse(q, TICKETS_FOR_SALE, NULL, &r2).n == (i > 0), "suffix %s",
			      shapes[i]);
	}
	q = tx_arena_join(ctx.arena, "q=jazz+lisbon&sort=price_asc&after=",
			  tx_arena_strndup(ctx.arena, c, 43), (char *)NULL);
	ck_assert_int_eq(parse(q, TICKETS_FOR_SALE, NULL, &r2).n, 1);
	/* A seller's cursor is theirs. */
	ck_assert_int_eq(parse("", TICKETS_MINE, alice, &r).n, 0);
	c = tickets_cursor(&ctx, &r, &t);
	q = tx_arena_join(ctx.arena, "after=", c, (char *)NULL);
	ck_assert_int_eq(parse(q, TICKETS_MINE, alice, &r2).n, 0);
	ck_assert_int_eq(parse(q, TICKETS_MINE, bob, &r2).n, 1);
	ck_assert_int_eq(parse(q, TICKETS_FOR_SALE, NULL, &r2).n, 1);
	/* Another JWT_KEY, another key for cursors. */
	memcpy(cfg.jwt_key, key2, sizeof(key2));
	ck_assert_int_eq(parse(q, TICKETS_MINE, alice, &r2).n, 1);
	memset(&cfg, 0, sizeof(cfg));
}
END_TEST

/* ---- pages against the database ------------------------------------------------- */

/* tickets ids[0..n) titled "<word> n<i>" at prices[i] (cents). */
static void make_tickets(const char *word, const long *cents, size_t n, const char *who,
			 char ids[][37])
{
	for (size_t i = 0; i < n; i++) {
		struct ticket t;
		char *title = tx_arena_printf(ctx.arena, "%s n%zu", word, i);
		ck_assert_int_eq(tickets_create(&ctx, title, cents[i], who, &t), 0);
		snprintf(ids[i], 37, "%s", t.id);
	}
}

/* The ids of a walk along next (or, back=true, along prev), from the
 * page of query (+ "&before=" start, when start is given), joined page
 * by page: "a b c|d e". */
static char *walk_from(const char *query, const char *start, enum tickets_listing l,
		       const char *who, char ids[][37], size_t n, bool back)
{
	struct tickets_page_req r;
	struct tickets_page p;
	struct tx_buf out = TX_BUF_INIT(0);
	const char *q = start ? tx_arena_join(ctx.arena, query, "&before=", start, (char *)NULL)
			      : query;
	for (int pages = 0; pages < 50; pages++) {
		ck_assert_int_eq(parse(q, l, who, &r).n, 0);
		ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
		tx_buf_adds(&out, out.len ? "|" : "");
		for (size_t i = 0; i < p.n; i++)
			for (size_t k = 0; k < n; k++)
				if (strcmp(p.rows[i].id, ids[k]) == 0)
					tx_buf_addf(&out, "%s%zu", i ? " " : "", k);
		const char *to = back ? p.prev : p.next;
		if (!to)
			break;
		ck_assert_msg(*to, "an empty page in a walk");
		q = tx_arena_join(ctx.arena, query, back ? "&before=" : "&after=", to, (char *)NULL);
	}
	char *s = tx_arena_strndup(ctx.arena, out.buf, out.len);
	tx_buf_release(&out);
	return s;
}

static char *walk(const char *query, enum tickets_listing l, const char *who,
		  char ids[][37], size_t n, bool back)
{
	return walk_from(query, NULL, l, who, ids, n, back);
}

/* Seven tickets, three of one price: every sort pages through all of
 * them in its order, ties by listing time (price_desc: newest first), and
 * back again page by page. */
START_TEST(pages_walk_every_sort)
{
	static const long price7[7] = { 500, 300, 500, 100, 900, 500, 200 };
	static const struct {
		const char *sort, *forth, *back;
	} want[] = {
		{ "oldest", "0 1 2|3 4 5|6", "0 1 2|3 4 5|6" },
		{ "newest", "6 5 4|3 2 1|0", "6 5 4|3 2 1|0" },
		{ "price_asc", "3 6 1|0 2 5|4", "3 6 1|0 2 5|4" },
		{ "price_desc", "4 5 2|0 1 6|3", "4 5 2|0 1 6|3" },
	};
	char word[24], ids[7][37];
	unique_word(word);
	make_tickets(word, price7, 7, user, ids);
	for (size_t i = 0; i < 4; i++) {
		char *query = tx_arena_printf(ctx.arena, "q=%s&sort=%s&limit=3", word, want[i].sort);
		ck_assert_str_eq(walk(query, TICKETS_FOR_SALE, NULL, ids, 7, false), want[i].forth);
		/* back: from the last page (start the walk at its prev) */
		struct tickets_page_req r;
		struct tickets_page p;
		const char *q = query;
		for (;;) {
			ck_assert_int_eq(parse(q, TICKETS_FOR_SALE, NULL, &r).n, 0);
			ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
			if (!p.next)
				break;
			q = tx_arena_join(ctx.arena, query, "&after=", p.next, (char *)NULL);
		}
		ck_assert_ptr_nonnull(p.prev);
		char *from_last = walk_from(query, p.prev, TICKETS_FOR_SALE, NULL, ids, 7, true);
		/* the pages before the last, newest page first: "3 4 5|0 1 2" */
		const char *cut = strrchr(want[i].back, '|');
		char *expect = tx_arena_strndup(ctx.arena, want[i].back, (size_t)(cut - want[i].back));
		char *a = strchr(expect, '|');
		*a = '\0';
		ck_assert_str_eq(from_last, tx_arena_join(ctx.arena, a + 1, "|", expect, (char *)NULL));
	}
}
END_TEST

/* Previous after rows went: the page before the cursor is short and
 * nothing is before it, so it is the first page as it is now, full. An
 * empty page after a cursor leads back to the first page. */
START_TEST(pages_previous_after_changes)
{
	TX_STMT(SQL_HOLD, 1, "UPDATE tickets.tickets SET order_id = gen_random_uuid() "
			     "WHERE id = $1");
	static const long price7[7] = { 100, 100, 100, 100, 100, 100, 100 };
	char word[24], ids[7][37];
	unique_word(word);
	make_tickets(word, price7, 7, user, ids);
	char *query = tx_arena_printf(ctx.arena, "q=%s&limit=3", word);
	struct tickets_page_req r;
	struct tickets_page p;
	ck_assert_int_eq(parse(query, TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	ck_assert_ptr_null(p.prev);
	char *q2 = tx_arena_join(ctx.arena, query, "&after=", p.next, (char *)NULL);
	ck_assert_int_eq(parse(q2, TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0); /* 3 4 5 */
	ck_assert_str_eq(p.rows[0].id, ids[3]);
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_HOLD, (const char *const[]){ ids[1] }, NULL), 0);
	char *back = tx_arena_join(ctx.arena, query, "&before=", p.prev, (char *)NULL);
	ck_assert_int_eq(parse(back, TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	ck_assert_uint_eq(p.n, 3);
	ck_assert_str_eq(p.rows[0].id, ids[0]);
	ck_assert_str_eq(p.rows[1].id, ids[2]);
	ck_assert_str_eq(p.rows[2].id, ids[3]);
	ck_assert_ptr_null(p.prev);
	ck_assert_ptr_nonnull(p.next);
	/* The last page, then everything on it and after it goes. */
	ck_assert_int_eq(parse(q2, TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	char *q3 = tx_arena_join(ctx.arena, query, "&after=", p.next, (char *)NULL);
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_HOLD, (const char *const[]){ ids[6] }, NULL), 0);
	ck_assert_int_eq(parse(q3, TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_ptr_null(p.next);
	ck_assert_ptr_nonnull(p.prev);
	ck_assert_str_eq(p.prev, "");
}
END_TEST

/* A seller's own: every status, newest first, paged; no one else's. */
START_TEST(pages_mine)
{
	TX_STMT(SQL_SELL, 1, "UPDATE tickets.tickets SET order_id = gen_random_uuid(), "
			     "sold_at = now() WHERE id = $1");
	TX_STMT(SQL_HOLD, 1, "UPDATE tickets.tickets SET order_id = gen_random_uuid() "
			     "WHERE id = $1");
	TX_STMT(SQL_UUID, 0, "SELECT gen_random_uuid()");
	static const long price5[5] = { 100, 200, 300, 400, 500 };
	char word[24], ids[5][37], other[1][37], me[37];
	PGresult *res;
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_UUID, NULL, &res), 0);
	snprintf(me, sizeof(me), "%s", PQgetvalue(res, 0, 0));
	unique_word(word);
	make_tickets(word, price5, 5, me, ids);
	make_tickets(word, price5, 1, user, other);
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_SELL, (const char *const[]){ ids[1] }, NULL), 0);
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_HOLD, (const char *const[]){ ids[2] }, NULL), 0);
	ck_assert_str_eq(walk("limit=2", TICKETS_MINE, me, ids, 5, false), "4 3|2 1|0");
	struct tickets_page_req r;
	struct tickets_page p;
	ck_assert_int_eq(parse("limit=5", TICKETS_MINE, me, &r).n, 0);
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	ck_assert_uint_eq(p.n, 5);
	ck_assert_str_eq(ticket_status(&p.rows[2]), "reserved");
	ck_assert_str_eq(ticket_status(&p.rows[3]), "sold");
	ck_assert_str_eq(ticket_status(&p.rows[4]), "available");
	struct tx_buf b = TX_BUF_INIT(0);
	ticket_json_status(&b, &p.rows[3]);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"status\":\"sold\"}"));
	ck_assert_ptr_nonnull(strstr(b.buf, "\"orderId\":\""));
	tx_buf_release(&b);
}
END_TEST

/* A ticket matches when every word of q is in its title, whatever the
 * case (accented letters too), as a plain substring: LIKE's % _ and \
 * in a word are letters like any other. */
START_TEST(search_matches_every_word)
{
	char word[24];
	unique_word(word);
	static const char *const titles[] = {
		"\xC3\x89t\xC3\xA9 \xC3\xA0 Paris",	/* Été à Paris */
		"100% Jazz",
		"100 x Jazz",
		"a_b c\\d",
		"axb cd",
		"Concert at Berlin",
	};
	char ids[6][37];
	for (size_t i = 0; i < 6; i++) {
		struct ticket t;
		char *title = tx_arena_printf(ctx.arena, "%s %s", titles[i], word);
		ck_assert_int_eq(tickets_create(&ctx, title, 100, user, &t), 0);
		snprintf(ids[i], 37, "%s", t.id);
	}
	static const struct {
		const char *q, *want;
	} t[] = {
		{ "%C3%A9T%C3%89", "0" },  /* éTÉ */
		{ "paris+%C3%80", "0" },   /* paris À */
		{ "100%25", "1" },	   /* 100% */
		{ "jazz", "1 2" },
		{ "a_b", "3" },
		{ "c%5Cd", "3" },	   /* c\d */
		{ "conc+BERL", "5" },
		{ "conc+berl+zzz", "" },
		{ "%25", "1" },
		{ "_", "3" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *query = tx_arena_printf(ctx.arena, "q=%s+%s", t[i].q, word);
		ck_assert_str_eq(walk(query, TICKETS_FOR_SALE, NULL, ids, 6, false), t[i].want);
	}
}
END_TEST

/* The plan check's EXPLAIN runs for both kinds of statement. */
START_TEST(explain_both_kinds)
{
	struct tickets_page_req r;
	const char *plan;
	ck_assert_int_eq(parse("sort=price_asc", TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_explain(&ctx, &r, &plan), 0);
	ck_assert_ptr_nonnull(strstr(plan, "Limit"));
	ck_assert_int_eq(parse("q=jazz+lisbon+x", TICKETS_FOR_SALE, NULL, &r).n, 0);
	ck_assert_int_eq(tickets_page_explain(&ctx, &r, &plan), 0);
	ck_assert_ptr_nonnull(strstr(plan, "title_lc ~~"));
	/* and the connection is as it was: a page still loads */
	struct tickets_page p;
	ck_assert_int_eq(tickets_page_load(&ctx, &r, &p), 0);
	ck_assert_int_eq(tickets_page_explain(&ctx, &r, &plan), 0);
}
END_TEST

Suite *suite_tickets(void)
{
	Suite *s = suite_create("tickets");
	TCase *tc = tcase_create("price");
	tcase_add_loop_test(tc, price_parse_table, 0, sizeof(prices) / sizeof(prices[0]));
	tcase_add_test(tc, price_format);
	tcase_add_test(tc, title_at_most_200_characters);
	suite_add_tcase(s, tc);
	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_add_test(tc, occ_stale_update_fails);
	tcase_add_test(tc, occ_version_increments);
	tcase_add_test(tc, outbox_payloads);
	tcase_add_test(tc, outbox_atomic_with_rollback);
	tcase_add_test(tc, malformed_id_is_bad_request);
	tcase_add_test(tc, list_cached_until_own_write);
	tcase_add_test(tc, title_check_in_the_database);
	tcase_add_test(tc, cursor_bound_to_its_listing);
	tcase_add_test(tc, pages_walk_every_sort);
	tcase_add_test(tc, pages_previous_after_changes);
	tcase_add_test(tc, pages_mine);
	tcase_add_test(tc, explain_both_kinds);
	tcase_add_test(tc, search_matches_every_word);
	tcase_add_loop_test(tc, page_params_table, 0, sizeof(params) / sizeof(params[0]));
	tcase_add_test(tc, page_q_length_in_characters);
	tcase_add_test(tc, page_params_random);
	suite_add_tcase(s, tc);
	return s;
}
