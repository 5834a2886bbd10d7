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

Suite *suite_tickets(void)
{
	Suite *s = suite_create("tickets");
	TCase *tc = tcase_create("price");
	tcase_add_loop_test(tc, price_parse_table, 0, sizeof(prices) / sizeof(prices[0]));
	tcase_add_test(tc, price_format);
	suite_add_tcase(s, tc);
	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_add_test(tc, occ_stale_update_fails);
	tcase_add_test(tc, occ_version_increments);
	tcase_add_test(tc, outbox_payloads);
	tcase_add_test(tc, outbox_atomic_with_rollback);
	tcase_add_test(tc, malformed_id_is_bad_request);
	tcase_add_test(tc, list_cached_until_own_write);
	suite_add_tcase(s, tc);
	return s;
}
