/* test_plans.c: the plans of the listing statements on a seeded
 * catalogue, so that a plan regression (a lost index, a sort of every
 * ticket for sale, a sequential scan) fails a test instead of slowing the
 * site down.
 *
 * The suite makes a database of its own in the test cluster
 * (TEST_DATABASE_URL, a superuser, in keyword=value form), applies the
 * migrations (scripts/migrate.sh) and seeds it with tests/bench/listings.sql
 * (40,000 tickets for sale, 40,000 reserved or sold, a seller with 1,000),
 * then asks lib/tickets/listing.c for the EXPLAIN of what each request
 * would run: the generic plan of a prepared statement, or the plan for
 * the very words of a search. A second database checks migration 009 on
 * titles longer than its bound. Tests run from the repository root.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "tickets/tickets.h"

#define SEED_FOR_SALE "40000"
#define SEED_OTHER "40000"
#define SELLER "00000000-0000-4000-8000-00000000b001"

static char dbname[64], conninfo[1200], admin[1200];
static struct tx_config cfg;
static struct tx_ctx ctx;

static void run(const char *cmd)
{
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "%s: exit %d", cmd, rc);
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void admin_sql(const char *sql)
{
	PGconn *c = PQconnectdb(admin);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* Once for the test case (an unchecked fixture): the database, migrated
 * and seeded. */
static void seed_setup(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	ck_assert_msg(strstr(url, "://") == NULL, "TEST_DATABASE_URL must be keyword=value");
	snprintf(dbname, sizeof(dbname), "tix_plans_%d", (int)getpid());
	snprintf(admin, sizeof(admin), "%s dbname=postgres", url);
	snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", url, dbname);
	char sql[128], cmd[4096];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
	admin_sql(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	admin_sql(sql);
	snprintf(cmd, sizeof(cmd), "scripts/migrate.sh '%s' >/dev/null", conninfo);
	run(cmd);
	snprintf(cmd, sizeof(cmd),
		 "psql '%s' -Xq -v ON_ERROR_STOP=1 -v forsale=" SEED_FOR_SALE
		 " -v other=" SEED_OTHER " -f tests/bench/listings.sql >/dev/null",
		 conninfo);
	run(cmd);
}

static void seed_teardown(void)
{
	char sql[128];
	if (!*dbname)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin_sql(sql);
}

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.arena = tx_arena_new(4096);
	ctx.db = tx_db_new(conninfo);
}

static void teardown(void)
{
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
}

/* The plan of the request query (for listing l, user who) with a cursor
 * made from the row at seq (price) when dir is "after" or "before". */
static const char *plan_of(const char *query, enum tickets_listing l, const char *who,
			   const char *dir)
{
	struct tickets_page_req r;
	struct tx_verrs v = { .n = 0 };
	tickets_page_parse(&ctx, query, l, who, TICKETS_SORT_OLDEST, &r, &v);
	ck_assert_msg(v.n == 0, "%s", query);
	if (dir) {
		/* a place in the middle of the catalogue */
		struct ticket t = { .price_cents = 25000, .seq = 30000 };
		const char *c = tickets_cursor(&ctx, &r, &t);
		char *q = tx_arena_join(ctx.arena, query, "&", dir, "=", c, (char *)NULL);
		tickets_page_parse(&ctx, q, l, who, TICKETS_SORT_OLDEST, &r, &v);
		ck_assert_msg(v.n == 0, "%s", q);
	}
	const char *plan;
	ck_assert_int_eq(tickets_page_explain(&ctx, &r, &plan), 0);
	return plan;
}

/* SHOW_PLANS=1 prints every plan looked at. */
static void uses(const char *plan, const char *what, const char *query)
{
	if (getenv("SHOW_PLANS"))
		fprintf(stderr, "-- %s\n%s\n", query, plan);
	ck_assert_msg(strstr(plan, what) != NULL, "%s: want %s in the plan:\n%s", query, what,
		      plan);
}

static void never(const char *plan, const char *what, const char *query)
{
	ck_assert_msg(strstr(plan, what) == NULL, "%s: %s in the plan:\n%s", query, what, plan);
}

static const struct {
	const char *query, *index;
} orders[] = {
	{ "sort=oldest", "Index Scan using tickets_unreserved_idx" },
	{ "sort=newest", "Index Scan Backward using tickets_unreserved_idx" },
	{ "sort=price_asc", "Index Scan using tickets_for_sale_price_idx" },
	{ "sort=price_desc", "Index Scan Backward using tickets_for_sale_price_idx" },
};

/* Every order, first page, after and before a cursor: one walk of its
 * partial index, never a sort, never a scan of the table. */
START_TEST(pages_walk_their_index)
{
	static const char *const dirs[] = { NULL, "after", "before" };
	for (size_t d = 0; d < 3; d++) {
		const char *plan = plan_of(orders[_i].query, TICKETS_FOR_SALE, NULL, dirs[d]);
		const char *index = orders[_i].index;
		if (dirs[d] && strcmp(dirs[d], "before") == 0) /* the other way */
			index = strstr(index, "Backward")
					? tx_arena_join(ctx.arena, "Index Scan using ",
							strstr(index, "tickets_"), (char *)NULL)
					: tx_arena_join(ctx.arena, "Index Scan Backward using ",
							strstr(index, "tickets_"), (char *)NULL);
		uses(plan, index, orders[_i].query);
		if (dirs[d])
			uses(plan, "Index Cond", orders[_i].query);
		never(plan, "Sort", orders[_i].query);
		never(plan, "Seq Scan", orders[_i].query);
	}
}
END_TEST

/* A search for rare words goes through the trigram index; one for words
 * in most titles walks the page order and filters (both beat the other
 * plan by far; only the words tell which, so searches are planned for
 * them). Neither reads the whole table. */
START_TEST(search_picks_by_its_words)
{
	const char *plan = plan_of("q=%2312345+concert", TICKETS_FOR_SALE, NULL, NULL);
	uses(plan, "tickets_for_sale_title_trgm_idx", "rare");
	never(plan, "Seq Scan", "rare");
	plan = plan_of("q=seeded&sort=newest", TICKETS_FOR_SALE, NULL, "after");
	uses(plan, "Index Scan Backward using tickets_unreserved_idx", "common");
	never(plan, "Sort", "common");
	never(plan, "Seq Scan", "common");
	plan = plan_of("q=jazz+lisbon+blue&sort=price_asc", TICKETS_FOR_SALE, NULL, NULL);
	never(plan, "Seq Scan", "three words");
}
END_TEST

/* A seller's own tickets: their index, newest first, either way. */
START_TEST(mine_walks_the_user_index)
{
	static const char *const dirs[] = { NULL, "after", "before" };
	for (size_t d = 0; d < 3; d++) {
		const char *plan = plan_of("limit=50", TICKETS_MINE, SELLER, dirs[d]);
		uses(plan, "tickets_user_idx", "mine");
		never(plan, "Sort", "mine");
		never(plan, "Seq Scan", "mine");
	}
}
END_TEST

/* ---- migration 009 on a database that has long titles -------------------------- */

static char m_dbname[64], m_conninfo[1200];

/* Migrations 001-008 by hand, tickets with titles of 200, 201 and 10,000
 * characters (one reserved), then 009. */
static void m009_setup(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	snprintf(admin, sizeof(admin), "%s dbname=postgres", url);
	snprintf(m_dbname, sizeof(m_dbname), "tix_m009_%d", (int)getpid());
	snprintf(m_conninfo, sizeof(m_conninfo), "%s dbname=%s", url, m_dbname);
	char sql[128], cmd[4096];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", m_dbname);
	admin_sql(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", m_dbname);
	admin_sql(sql);
	snprintf(cmd, sizeof(cmd),
		 "for f in sql/00[1-8]_*.sql; do psql '%s' -Xq -v ON_ERROR_STOP=1 "
		 "-c 'SET client_min_messages = warning' -f \"$f\" >/dev/null || exit 1; done",
		 m_conninfo);
	run(cmd);
	snprintf(cmd, sizeof(cmd),
		 "psql '%s' -Xq -v ON_ERROR_STOP=1 -c \"INSERT INTO tickets.tickets "
		 "(title, price_cents, user_id, order_id, version) VALUES "
		 "(repeat('a', 200), 100, gen_random_uuid(), NULL, 0), "
		 "(repeat(chr(233), 201), 100, gen_random_uuid(), NULL, 0), "
		 "(repeat('b', 10000), 100, gen_random_uuid(), gen_random_uuid(), 3)\" "
		 "-c 'SET client_min_messages = warning' -f sql/009_listings.sql >/dev/null",
		 m_conninfo);
	run(cmd);
}

static void m009_teardown(void)
{
	char sql[128];
	if (!*m_dbname)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", m_dbname);
	admin_sql(sql);
}

static char *m_q(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	ck_assert_int_eq(PQntuples(r), 1);
	char *v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Longer titles are cut to 199 characters and an ellipsis, as an update
 * (version + 1, a ticket:updated with the new title, orderId kept), so
 * that the orders replica follows; 200 characters stay as they are; the
 * new CHECK holds for every row and refuses 201 from now on. */
START_TEST(migration_shortens_long_titles)
{
	PGconn *c = PQconnectdb(m_conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	const char *checks[][2] = {
		{ "SELECT string_agg(length(title) || ':' || version, ' ' ORDER BY seq) "
		  "FROM tickets.tickets", "200:0 200:1 200:4" },
		{ "SELECT count(*) FROM tickets.tickets WHERE title = repeat(chr(233), 199) || "
		  "chr(8230) AND title_lc = lower(title)", "1" },
		{ "SELECT count(*) FROM tickets.tickets WHERE title = repeat('b', 199) || chr(8230)",
		  "1" },
		{ "SELECT count(*) FROM tickets.tickets WHERE title = repeat('a', 200)", "1" },
		{ "SELECT string_agg((data->>'version') || ':' || length(data->>'title') || ':' || "
		  "(data->>'orderId' IS NOT NULL), ' ' ORDER BY data->>'version') "
		  "FROM tickets.outbox WHERE subject = 'ticket:updated'", "1:200:false 4:200:true" },
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		char *v = m_q(c, checks[i][0]);
		ck_assert_msg(strcmp(v, checks[i][1]) == 0, "%s: %s, want %s", checks[i][0], v,
			      checks[i][1]);
		free(v);
	}
	PGresult *r = PQexec(c, "INSERT INTO tickets.tickets (title, price_cents, user_id) "
				"VALUES (repeat('c', 201), 1, gen_random_uuid())");
	ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
	PQclear(r);
	PQfinish(c);
}
END_TEST

Suite *suite_plans(void)
{
	Suite *s = suite_create("plans");
	TCase *tc = tcase_create("listing plans");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, seed_setup, seed_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, pages_walk_their_index, 0, sizeof(orders) / sizeof(orders[0]));
	tcase_add_test(tc, search_picks_by_its_words);
	tcase_add_test(tc, mine_walks_the_user_index);
	suite_add_tcase(s, tc);
	tc = tcase_create("migration 009");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, m009_setup, m009_teardown);
	tcase_add_test(tc, migration_shortens_long_titles);
	suite_add_tcase(s, tc);
	return s;
}
