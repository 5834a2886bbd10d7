/* test_orders.c: the orders API and pages through nginx (reference 3.3, 8.4, 9.5, 9.10).
 *
 * The replica of tickets is seeded two ways: straight into orders.tickets
 * (TEST_DATABASE_URL, a superuser), as the original's tests seed it (see
 * seed_ticket), or
 * by creating the ticket through POST /api/tickets and waiting for the
 * worker to replicate it. The event flow between the services (an order
 * locks its ticket, a cancellation frees it) is observed through the two
 * APIs, the outboxes and Redis. Every test uses new users and tickets:
 * the database is shared by every test and every run.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "support.h"
#include "core/redis.h"

#define ORDERS "/api/orders"
#define FORM_TYPE "application/x-www-form-urlencoded"
#define TOKEN_ATTR "name=\"_csrf\" value=\""
#define NOT_FOUND "{\"errors\":[{\"message\":\"Not Found\"}]}"
#define NOT_AUTHORIZED "{\"errors\":[{\"message\":\"Not authorized\"}]}"
#define WENT_WRONG "{\"errors\":[{\"message\":\"Something went wrong\"}]}"
#define ALREADY_RESERVED "{\"errors\":[{\"message\":\"Ticket is already reserved\"}]}"
#define CANNOT_CANCEL "{\"errors\":[{\"message\":\"Cannot cancel a completed order\"}]}"
#define UUID_LEN 37
#define SLACK_S 5 /* how far expiresAt may be from now + window */

/* EXPIRATION_WINDOW_SECONDS of the stack under test (scripts/test.sh
 * leaves the default, 900, unless it is set). */
static long window_s(void)
{
	const char *s = getenv("EXPIRATION_WINDOW_SECONDS");
	if (!s || !*s)
		return 900;
	char *end;
	long v = strtol(s, &end, 10);
	ck_assert_msg(*end == '\0' && v > 0, "EXPIRATION_WINDOW_SECONDS=%s", s);
	return v;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the database ------------------------------------------------------- */

/* The first value of a one-row query, malloc'd ("" for NULL). */
static char *q_str(const char *sql, const char *a, const char *b, const char *c)
{
	PGresult *r = ts_q(sql, a, b, c);
	ck_assert_msg(PQntuples(r) == 1, "%s: %d rows", sql, PQntuples(r));
	char *v = tc_strf("%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static long q_long(const char *sql, const char *a, const char *b)
{
	char *v = q_str(sql, a, b, NULL);
	long n = strtol(v, NULL, 10);
	free(v);
	return n;
}

/* A replica ticket {title, 20} at version 0, straight into orders.tickets
 * (reference 9.5's seeding); its id, malloc'd. The same row goes into
 * tickets.tickets too (no event), so that the running worker can lock it
 * when an order is made: a ticket that only the replica knows would leave
 * the tickets listener retrying, then dead-lettering, every order:created
 * these tests cause. */
static char *seed_ticket(const char *title)
{
	return q_str("WITH t AS (INSERT INTO orders.tickets (id, title, price_cents, version) "
		     "VALUES (gen_random_uuid(), $1, 2000, 0) RETURNING id), "
		     "s AS (INSERT INTO tickets.tickets (id, title, price_cents, user_id) "
		     "SELECT id, $1, 2000, gen_random_uuid() FROM t) "
		     "SELECT id FROM t", title, NULL, NULL);
}

/* An order inserted behind the API's back (no event); its id, malloc'd.
 * It expires in a day rather than now, as the original's does: the
 * sweeper would otherwise cancel it after EXPIRATION_GRACE_SECONDS and
 * publish an order:cancelled that payments, which never saw it created,
 * could only dead-letter. */
static char *seed_order(const char *ticket, const char *user, const char *status)
{
	return q_str("INSERT INTO orders.orders (user_id, status, expires_at, ticket_id) "
		     "VALUES ($1, $2, now() + interval '1 day', $3) RETURNING id",
		     user, status, ticket);
}

/* ---- Redis ---------------------------------------------------------------- */

/* The one outbox event `subject` about order id: its payload (caller
 * puts it) and, if event_id is not NULL, its event id. */
static struct json_object *order_event(const char *order, const char *subject,
				       char event_id[UUID_LEN])
{
	PGresult *r = ts_q("SELECT event_id, data::text FROM orders.outbox "
			"WHERE data->>'id' = $1 AND subject = $2", order, subject, NULL);
	ck_assert_msg(PQntuples(r) == 1, "%d %s events for %s", PQntuples(r), subject, order);
	if (event_id)
		snprintf(event_id, UUID_LEN, "%s", PQgetvalue(r, 0, 0));
	struct json_object *o = json_tokener_parse(PQgetvalue(r, 0, 1));
	ck_assert_ptr_nonnull(o);
	PQclear(r);
	return o;
}

/* ---- JSON ----------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
	return strspn(s, "0123456789") >= n;
}

static long num(const char *s, size_t n)
{
	char buf[8];
	memcpy(buf, s, n);
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ" (what
 * toISOString() prints), or -1 for any other shape. */
static long long iso_ms(const char *s)
{
	if (!s || strlen(s) != 24 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) ||
	    s[19] != '.' || !digits(s + 20, 3) || s[23] != 'Z')
		return -1;
	struct tm tm = { .tm_year = (int)num(s, 4) - 1900, .tm_mon = (int)num(s + 5, 2) - 1,
			 .tm_mday = (int)num(s + 8, 2), .tm_hour = (int)num(s + 11, 2),
			 .tm_min = (int)num(s + 14, 2), .tm_sec = (int)num(s + 17, 2) };
	return (long long)timegm(&tm) * 1000 + num(s + 20, 3);
}

static void ck_expires_soon(const char *iso, long long at_ms)
{
	long long t = iso_ms(iso);
	ck_assert_msg(t >= 0, "expiresAt %s is not ISO-8601 with milliseconds",
		      iso ? iso : "(none)");
	long long want = at_ms + window_s() * 1000;
	ck_assert_msg(llabs(t - want) <= SLACK_S * 1000, "expiresAt %s: %lld ms from now + %ld s",
		      iso, t - want, window_s());
}

/* ---- requests --------------------------------------------------------------- */

static char *order_path(const char *id)
{
	return tc_strf(ORDERS "/%s", id);
}

static void post_order(const struct ts_user *u, const char *ticket, struct tc_resp *r)
{
	char *body = tc_strf("{\"ticketId\":\"%s\"}", ticket);
	tc_post_json(ORDERS, body, u->cookie, r);
	free(body);
}

/* POST /api/orders for ticket as u; 201 expected; the order's id. */
static char *order(const struct ts_user *u, const char *ticket)
{
	struct tc_resp r;
	post_order(u, ticket, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(ts_jstr(o, "id"));
	char *id = tc_strf("%s", ts_jstr(o, "id"));
	json_object_put(o);
	tc_resp_release(&r);
	return id;
}

static void request(const char *method, const char *path, const char *cookie,
		    struct tc_resp *r)
{
	struct tc_opts o = { .cookie = cookie };
	tc_request(method, path, &o, r);
}

/* GET path (a JSON API) as cookie, 200 expected; parsed (caller puts). */
static struct json_object *get_json(const char *path, const char *cookie)
{
	struct tc_resp r;
	tc_get(path, cookie, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(o);
	tc_resp_release(&r);
	return o;
}

static struct json_object *get_order(const char *id, const char *cookie)
{
	char *path = order_path(id);
	struct json_object *o = get_json(path, cookie);
	free(path);
	return o;
}

/* A ticket for sale through the tickets API by a new seller, once the
 * worker has replicated it into orders.tickets; its id, malloc'd. */
static char *api_ticket(const char *title, int price)
{
	struct ts_user seller;
	struct tc_resp r;
	ts_signin(&seller);
	char *body = tc_strf("{\"title\":\"%s\",\"price\":%d}", title, price);
	tc_post_json("/api/tickets", body, seller.cookie, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r);
	char *id = tc_strf("%s", ts_jstr(o, "id"));
	json_object_put(o);
	tc_resp_release(&r);
	bool there = false;
	for (int i = 0; i < 100 && !there; i++) {
		there = q_long("SELECT count(*) FROM orders.tickets WHERE id = $1", id, NULL) == 1;
		if (!there)
			ts_sleep_ms(100);
	}
	ck_assert_msg(there, "ticket %s never reached the orders replica", id);
	free(body);
	free(seller.cookie);
	return id;
}

/* The tickets API's view of a ticket (caller puts it). */
static struct json_object *api_ticket_show(const char *id)
{
	char *path = tc_strf("/api/tickets/%s", id);
	struct json_object *o = get_json(path, NULL);
	free(path);
	return o;
}

/* Poll the tickets API until the ticket is at version and held by order
 * (NULL: by nobody); up to ~10 s. */
static bool ticket_reaches(const char *id, long version, const char *order_id)
{
	for (int i = 0; i < 100; i++) {
		struct json_object *o = api_ticket_show(id);
		const char *held = ts_jstr(o, "orderId");
		bool ok = ts_jnum_is(o, "version", (double)version) &&
			  (order_id ? held && strcmp(held, order_id) == 0 : !ts_jget(o, "orderId"));
		json_object_put(o);
		if (ok)
			return true;
		ts_sleep_ms(100);
	}
	return false;
}

/* On the newest page of the list (a ticket of this test is among the
 * newest 100 for sale). */
static bool listed(const char *ticket)
{
	struct json_object *list = get_json("/api/tickets?sort=newest&limit=100", NULL);
	bool found = false;
	for (size_t i = 0; !found && i < json_object_array_length(list); i++) {
		const char *id = ts_jstr(json_object_array_get_idx(list, i), "id");
		found = id && strcmp(id, ticket) == 0;
	}
	json_object_put(list);
	return found;
}

/* ---- reference 9.5: new.test ------------------------------------------------ */

START_TEST(post_404_unknown_ticket)
{
	struct tc_resp r;
	struct ts_user u;
	char id[UUID_LEN];
	ts_signin(&u);
	tc_uuid(id);
	post_order(&u, id, &r);
	ck_status(&r, 404);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(post_400_already_reserved)
{
	struct tc_resp r;
	struct ts_user u;
	char other[UUID_LEN];
	ts_signin(&u);
	tc_uuid(other);
	char *ticket = seed_ticket("concert");
	char *existing = seed_order(ticket, other, "created");
	post_order(&u, ticket, &r);
	ck_status(&r, 400);
	ck_body(&r, ALREADY_RESERVED);
	tc_resp_release(&r);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.orders WHERE user_id = $1",
				u.id, NULL), 0);
	free(existing);
	free(ticket);
	free(u.cookie);
}
END_TEST

/* A complete (paid) order keeps the ticket reserved too. */
START_TEST(post_400_reserved_by_complete_order)
{
	struct tc_resp r;
	struct ts_user u;
	char other[UUID_LEN];
	ts_signin(&u);
	tc_uuid(other);
	char *ticket = seed_ticket("concert");
	char *existing = seed_order(ticket, other, "complete");
	post_order(&u, ticket, &r);
	ck_status(&r, 400);
	ck_body(&r, ALREADY_RESERVED);
	tc_resp_release(&r);
	free(existing);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(post_reserves_ticket)
{
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *st = q_str("SELECT status || '|' || user_id || '|' || ticket_id "
			 "FROM orders.orders WHERE id = $1", id, NULL, NULL);
	char *want = tc_strf("created|%s|%s", u.id, ticket);
	ck_assert_str_eq(st, want);
	free(want);
	free(st);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(post_emits_order_created)
{
	struct ts_user u;
	char eid[UUID_LEN];
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	struct json_object *ev = order_event(id, "order:created", eid);
	ck_assert_str_eq(ts_jstr(ev, "status"), "created");
	ck_assert_msg(ts_stream_has("order:created", eid, id, -1),
		      "order:created for %s was not relayed to Redis", id);
	json_object_put(ev);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

/* ---- index.test, show.test, delete.test ------------------------------------- */

START_TEST(index_lists_users_orders)
{
	struct ts_user u1, u2;
	ts_signin(&u1);
	ts_signin(&u2);
	char *t1 = seed_ticket("one"), *t2 = seed_ticket("two"), *t3 = seed_ticket("three");
	char *o1 = order(&u1, t1), *o2 = order(&u2, t2), *o3 = order(&u2, t3);
	struct json_object *list = get_json(ORDERS, u2.cookie);
	ck_assert(json_object_is_type(list, json_type_array));
	ck_assert_uint_eq(json_object_array_length(list), 2);
	struct json_object *a = json_object_array_get_idx(list, 0);
	struct json_object *b = json_object_array_get_idx(list, 1);
	ck_assert_str_eq(ts_jstr(a, "id"), o2);
	ck_assert_str_eq(ts_jstr(b, "id"), o3);
	ck_assert_str_eq(ts_jstr(ts_jget(a, "ticket"), "id"), t2);
	ck_assert_str_eq(ts_jstr(ts_jget(b, "ticket"), "id"), t3);
	ck_assert_str_eq(ts_jstr(ts_jget(b, "ticket"), "title"), "three");
	json_object_put(list);

	/* Cancelled orders are listed too. */
	char *path = order_path(o1);
	struct tc_resp r;
	request("DELETE", path, u1.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	list = get_json(ORDERS, u1.cookie);
	ck_assert_uint_eq(json_object_array_length(list), 1);
	ck_assert_str_eq(ts_jstr(json_object_array_get_idx(list, 0), "status"), "cancelled");
	json_object_put(list);
	free(path);
	char *owned[] = { t1, t2, t3, o1, o2, o3 };
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		free(owned[i]);
	free(u1.cookie);
	free(u2.cookie);
}
END_TEST

START_TEST(show_fetches_order)
{
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	struct json_object *o = get_order(id, u.cookie);
	ck_assert_str_eq(ts_jstr(o, "id"), id);
	ck_assert_str_eq(ts_jstr(o, "userId"), u.id);
	json_object_put(o);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(show_other_users_order_401)
{
	struct tc_resp r;
	struct ts_user u, other;
	ts_signin(&u);
	ts_signin(&other);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *path = order_path(id);
	tc_get(path, other.cookie, &r);
	ck_status(&r, 401);
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
	request("DELETE", path, other.cookie, &r);
	ck_status(&r, 401);
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
	tc_get(path, NULL, &r);
	ck_status(&r, 401);
	tc_resp_release(&r);
	char *st = q_str("SELECT status FROM orders.orders WHERE id = $1", id, NULL, NULL);
	ck_assert_str_eq(st, "created");
	free(st);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
	free(other.cookie);
}
END_TEST

START_TEST(delete_marks_cancelled)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *path = order_path(id);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	char *st = q_str("SELECT status FROM orders.orders WHERE id = $1", id, NULL, NULL);
	ck_assert_str_eq(st, "cancelled");
	free(st);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(delete_emits_order_cancelled)
{
	struct tc_resp r;
	struct ts_user u;
	char eid[UUID_LEN];
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *path = order_path(id);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	struct json_object *ev = order_event(id, "order:cancelled", eid);
	char *want = tc_strf("{\"id\":\"%s\",\"version\":1,\"ticket\":{\"id\":\"%s\"}}",
			     id, ticket);
	struct json_object *w = json_tokener_parse(want);
	ck_assert_msg(json_object_equal(ev, w), "order:cancelled %s",
		      json_object_to_json_string(ev));
	ck_assert(ts_stream_has("order:cancelled", eid, id, -1));
	json_object_put(w);
	json_object_put(ev);
	free(want);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

/* ---- reference 9.10 ------------------------------------------------------------ */

START_TEST(post_empty_body_two_errors)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	tc_post_json(ORDERS, "{}", u.cookie, &r);
	ck_status(&r, 400);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, "{\"errors\":[{\"message\":\"Invalid value\",\"field\":\"ticketId\"},"
		    "{\"message\":\"TicketId must be provided\",\"field\":\"ticketId\"}]}");
	tc_resp_release(&r);
	tc_post_json(ORDERS, "{\"ticketId\":\"\"}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"Invalid value\",\"field\":\"ticketId\"},"
		    "{\"message\":\"TicketId must be provided\",\"field\":\"ticketId\"}]}");
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(post_non_id_one_error)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	tc_post_json(ORDERS, "{\"ticketId\":\"abc\"}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"TicketId must be provided\","
		    "\"field\":\"ticketId\"}]}");
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(post_requires_signin)
{
	struct tc_resp r;
	char *ticket = seed_ticket("concert");
	char *body = tc_strf("{\"ticketId\":\"%s\"}", ticket);
	tc_post_json(ORDERS, body, NULL, &r);
	ck_status(&r, 401);
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
	tc_get(ORDERS, NULL, &r);
	ck_status(&r, 401);
	tc_resp_release(&r);
	free(body);
	free(ticket);
}
END_TEST

/* A ticket whose only order was cancelled can be ordered again: 201 with
 * the exact order document. */
START_TEST(post_after_cancelled_order)
{
	struct tc_resp r;
	struct ts_user u;
	char other[UUID_LEN];
	ts_signin(&u);
	tc_uuid(other);
	char *ticket = seed_ticket("concert");
	char *old = seed_order(ticket, other, "cancelled");
	long long at = now_ms();
	post_order(&u, ticket, &r);
	ck_status(&r, 201);
	ck_assert(tc_is_json_type(&r));
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(o);
	const char *id = ts_jstr(o, "id"), *exp = ts_jstr(o, "expiresAt");
	ck_assert(id && strlen(id) == 36);
	ck_assert_str_ne(id, old);
	ck_expires_soon(exp, at);
	char *want = tc_strf("{\"userId\":\"%s\",\"status\":\"created\",\"expiresAt\":\"%s\","
			     "\"ticket\":{\"title\":\"concert\",\"price\":20,\"version\":0,"
			     "\"id\":\"%s\"},\"version\":0,\"id\":\"%s\"}",
			     u.id, exp, ticket, id);
	ck_body(&r, want);
	free(want);
	json_object_put(o);
	tc_resp_release(&r);
	free(old);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(delete_then_show_cancelled)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *path = order_path(id);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 204);
	ck_assert_uint_eq(r.body_len, 0);
	tc_resp_release(&r);
	struct json_object *o = get_order(id, u.cookie);
	ck_assert_str_eq(ts_jstr(o, "status"), "cancelled");
	ck_assert(ts_jnum_is(o, "version", 1));
	ck_assert_str_eq(ts_jstr(ts_jget(o, "ticket"), "id"), ticket);
	json_object_put(o);
	/* A second cancel changes nothing and publishes nothing more. */
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	o = get_order(id, u.cookie);
	ck_assert(ts_jnum_is(o, "version", 1));
	json_object_put(o);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.outbox WHERE data->>'id' = $1 "
				"AND subject = 'order:cancelled'", id, NULL), 1);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(delete_complete_order_400)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	PQclear(ts_q("UPDATE orders.orders SET status = 'complete', version = version + 1 "
		  "WHERE id = $1", id, NULL, NULL));
	char *path = order_path(id);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, CANNOT_CANCEL);
	tc_resp_release(&r);
	struct json_object *o = get_order(id, u.cookie);
	ck_assert_str_eq(ts_jstr(o, "status"), "complete");
	ck_assert(ts_jnum_is(o, "version", 1));
	json_object_put(o);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.outbox WHERE data->>'id' = $1 "
				"AND subject = 'order:cancelled'", id, NULL), 0);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(malformed_order_id_400)
{
	struct tc_resp r;
	struct ts_user u;
	char id[UUID_LEN];
	ts_signin(&u);
	tc_get(ORDERS "/abc", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, WENT_WRONG);
	tc_resp_release(&r);
	request("DELETE", ORDERS "/abc", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, WENT_WRONG);
	tc_resp_release(&r);
	tc_uuid(id);
	char *path = order_path(id);
	tc_get(path, u.cookie, &r);
	ck_status(&r, 404);
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 404);
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	free(path);
	free(u.cookie);
}
END_TEST

START_TEST(unknown_routes_404_json)
{
	static const char *const methods[] = { "PATCH", "PUT", "POST" };
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *ticket = seed_ticket("concert");
	char *id = order(&u, ticket);
	char *path = order_path(id);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct tc_opts o = { .content_type = "application/json", .body = "{}",
				     .cookie = u.cookie };
		tc_request(methods[i], path, &o, &r);
		ck_assert_msg(r.status == 404, "%s %s: %ld", methods[i], path, r.status);
		ck_assert(tc_is_json_type(&r));
		ck_body(&r, NOT_FOUND);
		tc_resp_release(&r);
	}
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

/* The whole loop between the services: a ticket made through the tickets
 * API, ordered, then cancelled (reference 6, 9.10 "Events"). */
START_TEST(order_locks_and_cancel_frees_ticket)
{
	struct tc_resp r;
	struct ts_user u;
	char eid[UUID_LEN];
	ts_signin(&u);
	char *ticket = api_ticket("event flow", 20);
	long long at = now_ms();
	char *id = order(&u, ticket);

	struct json_object *ev = order_event(id, "order:created", eid), *t;
	ck_assert_str_eq(ts_jstr(ev, "status"), "created");
	ck_assert_str_eq(ts_jstr(ev, "userId"), u.id);
	ck_assert(ts_jnum_is(ev, "version", 0));
	ck_expires_soon(ts_jstr(ev, "expiresAt"), at);
	t = ts_jget(ev, "ticket");
	ck_assert_str_eq(ts_jstr(t, "id"), ticket);
	ck_assert(ts_jnum_is(t, "price", 20));
	ck_assert_int_eq(json_object_object_length(t), 2);
	ck_assert_int_eq(json_object_object_length(ev), 6);
	json_object_put(ev);

	/* tickets locks it: orderId, version 1, gone from the list, and the
	 * orders replica follows to version 1. */
	ck_assert_msg(ticket_reaches(ticket, 1, id), "ticket %s was not locked by %s",
		      ticket, id);
	ck_assert(!listed(ticket));
	char *v = NULL;
	for (int i = 0; i < 100; i++) {
		free(v);
		v = q_str("SELECT version FROM orders.tickets WHERE id = $1", ticket, NULL, NULL);
		if (strcmp(v, "1") == 0)
			break;
		ts_sleep_ms(100);
	}
	ck_assert_str_eq(v, "1");
	free(v);

	char *path = order_path(id);
	request("DELETE", path, u.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	ev = order_event(id, "order:cancelled", eid);
	ck_assert(ts_jnum_is(ev, "version", 1));
	ck_assert_str_eq(ts_jstr(ts_jget(ev, "ticket"), "id"), ticket);
	json_object_put(ev);

	/* tickets frees it: no orderId, version 2, listed again. */
	ck_assert_msg(ticket_reaches(ticket, 2, NULL), "ticket %s was not freed", ticket);
	ck_assert(listed(ticket));
	v = NULL;
	for (int i = 0; i < 100; i++) {
		free(v);
		v = q_str("SELECT version FROM orders.tickets WHERE id = $1", ticket, NULL, NULL);
		if (strcmp(v, "2") == 0)
			break;
		ts_sleep_ms(100);
	}
	ck_assert_str_eq(v, "2");
	free(v);

	/* ...and it can be ordered again; the order embeds the replica at v2. */
	struct ts_user again;
	ts_signin(&again);
	char *second = order(&again, ticket);
	struct json_object *o = get_order(second, again.cookie);
	ck_assert(ts_jnum_is(ts_jget(o, "ticket"), "version", 2));
	json_object_put(o);
	free(second);
	free(again.cookie);
	free(path);
	free(id);
	free(ticket);
	free(u.cookie);
}
END_TEST

/* While reserved, the seller cannot edit the ticket (reference 6.3). */
START_TEST(reserved_ticket_cannot_be_edited)
{
	struct tc_resp r;
	struct ts_user buyer, seller;
	ts_signin(&buyer);
	ts_signin(&seller);
	char *body = tc_strf("{\"title\":\"locked\",\"price\":20}");
	tc_post_json("/api/tickets", body, seller.cookie, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r);
	char *ticket = tc_strf("%s", ts_jstr(o, "id"));
	json_object_put(o);
	tc_resp_release(&r);
	for (int i = 0; i < 100 && q_long("SELECT count(*) FROM orders.tickets WHERE id = $1",
					   ticket, NULL) == 0; i++)
		ts_sleep_ms(100);
	char *id = order(&buyer, ticket);
	ck_assert(ticket_reaches(ticket, 1, id));
	char *path = tc_strf("/api/tickets/%s", ticket);
	struct tc_opts put = { .content_type = "application/json",
			       .body = "{\"title\":\"changed\",\"price\":30}",
			       .cookie = seller.cookie };
	tc_request("PUT", path, &put, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"Cannot edit a reserved ticket\"}]}");
	tc_resp_release(&r);
	free(path);
	free(id);
	free(ticket);
	free(body);
	free(buyer.cookie);
	free(seller.cookie);
}
END_TEST

/* ---- pages ------------------------------------------------------------------------ */

/* A browser's view of a ticket page as u: *cookies "csrf=..; session=.."
 * and the Purchase form's _csrf (malloc'd). */
static void open_ticket_page(const char *ticket, const struct ts_user *u, char **cookies,
			     char **token)
{
	struct tc_resp r;
	char *path = tc_strf("/tickets/%s", ticket);
	tc_get(path, u->cookie, &r);
	ck_status(&r, 200);
	ck_has(&r, "action=\"/orders\"");
	char *seed = tc_cookie_pair(&r, "csrf");
	ck_assert_ptr_nonnull(seed);
	*token = ts_page_token(&r);
	ck_assert(*token && strlen(*token) == 64);
	*cookies = tc_strf("%s; %s", seed, u->cookie);
	free(seed);
	free(path);
	tc_resp_release(&r);
}

static void purchase(const char *cookies, const char *ticket, const char *token,
		     struct tc_resp *r)
{
	char *body = token ? tc_strf("ticketId=%s&_csrf=%s", ticket, token) :
			     tc_strf("ticketId=%s", ticket);
	struct tc_opts o = { .content_type = FORM_TYPE, .body = body, .cookie = cookies };
	tc_request("POST", "/orders", &o, r);
	free(body);
}

/* The order id of a "/orders/<id>" redirect (malloc'd), or NULL. */
static char *redirect_order(const struct tc_resp *r)
{
	const char *loc = r->location;
	if (!loc)
		return NULL;
	const char *base = tc_base_url();
	if (strncmp(loc, base, strlen(base)) == 0)
		loc += strlen(base);
	if (strncmp(loc, "/orders/", 8) != 0 || strlen(loc + 8) != 36)
		return NULL;
	return tc_strf("%s", loc + 8);
}

START_TEST(purchase_form_flow)
{
	struct tc_resp r;
	struct ts_user buyer, late;
	char *cookies, *token, *cookies2, *token2;
	ts_signin(&buyer);
	ts_signin(&late);
	char *ticket = api_ticket("page concert", 20);

	open_ticket_page(ticket, &buyer, &cookies, &token);
	long long at = now_ms();
	purchase(cookies, ticket, token, &r);
	ck_status(&r, 303);
	char *id = redirect_order(&r);
	ck_assert_msg(id != NULL, "Location %s", r.location ? r.location : "(none)");
	tc_resp_release(&r);
	char *owner = q_str("SELECT user_id FROM orders.orders WHERE id = $1", id, NULL, NULL);
	ck_assert_str_eq(owner, buyer.id);
	free(owner);

	/* Another buyer, same ticket: the ticket page again, with the reason. */
	open_ticket_page(ticket, &late, &cookies2, &token2);
	purchase(cookies2, ticket, token2, &r);
	ck_status(&r, 400);
	ck_assert(ts_is_html(&r));
	ck_has(&r, "Ooops....");
	ck_has(&r, "Ticket is already reserved");
	ck_has(&r, "<h1>page concert</h1>");
	tc_resp_release(&r);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.orders WHERE user_id = $1",
				late.id, NULL), 0);

	/* My orders: "<title> - <status>", linking to the order. */
	tc_get("/orders", buyer.cookie, &r);
	ck_status(&r, 200);
	ck_assert(ts_is_html(&r));
	char *li = tc_strf("<a href=\"/orders/%s\">page concert - created</a>", id);
	ck_has(&r, li);
	free(li);
	tc_resp_release(&r);

	/* The checkout page: the countdown and the pay form. */
	char *page = tc_strf("/orders/%s", id);
	tc_get(page, buyer.cookie, &r);
	ck_status(&r, 200);
	ck_assert(ts_is_html(&r));
	const char *tl = strstr(r.body, "Time left to pay: ");
	ck_assert_msg(tl != NULL, "no countdown: %.2000s", r.body);
	char *end;
	long n = strtol(tl + strlen("Time left to pay: "), &end, 10);
	ck_assert_msg(strncmp(end, " seconds", 8) == 0, "countdown: %.60s", tl);
	long elapsed = (long)((now_ms() - at) / 1000);
	ck_assert_msg(n <= window_s() + 1 && n >= window_s() - elapsed - SLACK_S,
		      "time left %ld, window %ld", n, window_s());
	char *pay = tc_strf("action=\"/orders/%s/pay\"", id);
	ck_has(&r, pay);
	ck_has(&r, TOKEN_ATTR);
	ck_lacks(&r, "This order was cancelled.");
	free(pay);
	tc_resp_release(&r);

	/* Someone else's order: no such page. */
	tc_get(page, late.cookie, &r);
	ck_status(&r, 404);
	ck_assert(ts_is_html(&r));
	ck_lacks(&r, "Time left to pay");
	tc_resp_release(&r);

	/* Cancelled: said so, no pay form; the list shows the status. */
	char *api = order_path(id);
	request("DELETE", api, buyer.cookie, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	tc_get(page, buyer.cookie, &r);
	ck_status(&r, 200);
	ck_has(&r, "This order was cancelled.");
	ck_lacks(&r, "Time left to pay");
	ck_lacks(&r, "/pay\"");
	tc_resp_release(&r);
	tc_get("/orders", buyer.cookie, &r);
	ck_has(&r, "page concert - cancelled</a>");
	tc_resp_release(&r);

	free(api);
	free(page);
	free(id);
	free(cookies);
	free(token);
	free(cookies2);
	free(token2);
	free(ticket);
	free(buyer.cookie);
	free(late.cookie);
}
END_TEST

START_TEST(purchase_needs_csrf)
{
	struct tc_resp r;
	struct ts_user u;
	char *cookies, *token;
	ts_signin(&u);
	char *ticket = seed_ticket("csrf concert");
	/* Any page's token is good for this browser's seed: take /tickets/new's. */
	tc_get("/tickets/new", u.cookie, &r);
	ck_status(&r, 200);
	char *seed = tc_cookie_pair(&r, "csrf");
	ck_assert_ptr_nonnull(seed);
	token = ts_page_token(&r);
	ck_assert_ptr_nonnull(token);
	cookies = tc_strf("%s; %s", seed, u.cookie);
	tc_resp_release(&r);

	purchase(cookies, ticket, NULL, &r);
	ck_status(&r, 403);
	tc_resp_release(&r);
	purchase(u.cookie, ticket, token, &r); /* no seed cookie */
	ck_status(&r, 403);
	tc_resp_release(&r);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.orders WHERE ticket_id = $1",
				ticket, NULL), 0);

	/* Signed out: to the sign-in page, nothing ordered. */
	char *anon = tc_strf("%s", seed);
	purchase(anon, ticket, token, &r);
	ck_assert_msg(r.status == 303 || r.status == 401, "signed out: %ld", r.status);
	tc_resp_release(&r);
	ck_assert_int_eq(q_long("SELECT count(*) FROM orders.orders WHERE ticket_id = $1",
				ticket, NULL), 0);

	/* With it, the order is made. */
	purchase(cookies, ticket, token, &r);
	ck_status(&r, 303);
	char *id = redirect_order(&r);
	ck_assert_ptr_nonnull(id);
	tc_resp_release(&r);
	free(id);
	free(anon);
	free(seed);
	free(cookies);
	free(token);
	free(ticket);
	free(u.cookie);
}
END_TEST

START_TEST(orders_pages_need_signin)
{
	struct tc_resp r;
	tc_get("/orders", NULL, &r);
	ck_status(&r, 303);
	ck_assert_ptr_nonnull(r.location);
	ck_assert_ptr_nonnull(strstr(r.location, "/auth/signin"));
	tc_resp_release(&r);
}
END_TEST

Suite *suite_orders_http(void)
{
	Suite *s = suite_create("orders_http");
	TCase *tc = tcase_create("original");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, post_404_unknown_ticket);
	tcase_add_test(tc, post_400_already_reserved);
	tcase_add_test(tc, post_reserves_ticket);
	tcase_add_test(tc, post_emits_order_created);
	tcase_add_test(tc, index_lists_users_orders);
	tcase_add_test(tc, show_fetches_order);
	tcase_add_test(tc, show_other_users_order_401);
	tcase_add_test(tc, delete_marks_cancelled);
	tcase_add_test(tc, delete_emits_order_cancelled);
	suite_add_tcase(s, tc);

	tc = tcase_create("contract");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, post_400_reserved_by_complete_order);
	tcase_add_test(tc, post_empty_body_two_errors);
	tcase_add_test(tc, post_non_id_one_error);
	tcase_add_test(tc, post_requires_signin);
	tcase_add_test(tc, post_after_cancelled_order);
	tcase_add_test(tc, delete_then_show_cancelled);
	tcase_add_test(tc, delete_complete_order_400);
	tcase_add_test(tc, malformed_order_id_400);
	tcase_add_test(tc, unknown_routes_404_json);
	tcase_add_test(tc, order_locks_and_cancel_frees_ticket);
	tcase_add_test(tc, reserved_ticket_cannot_be_edited);
	suite_add_tcase(s, tc);

	tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, purchase_form_flow);
	tcase_add_test(tc, purchase_needs_csrf);
	tcase_add_test(tc, orders_pages_need_signin);
	suite_add_tcase(s, tc);
	return s;
}
