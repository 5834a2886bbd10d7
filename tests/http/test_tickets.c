/* test_tickets.c: the tickets API and pages through nginx (reference 3.2, 8.4, 9.2, 9.10).
 *
 * Sessions are forged for a new random user in every test, as the
 * original's ts_signin() does. The database is shared by every test and
 * every run, so "the DB has exactly one ticket" is asked of the test's
 * own user (TEST_DATABASE_URL, a superuser), and "publishes an event" is
 * an outbox row for the test's own ticket, then (the worker relays it) an
 * entry in the Redis stream named by the subject.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "support.h"
#include "core/redis.h"

#define TICKETS "/api/tickets"
#define FORM_TYPE "application/x-www-form-urlencoded"
#define TOKEN_ATTR "name=\"_csrf\" value=\""
#define MSG_TITLE "Title is required"
#define MSG_PRICE_NEW "Price must be greater than 0"
#define MSG_PRICE_EDIT "Price must be provided and must be greater than 0"
#define NOT_FOUND "{\"errors\":[{\"message\":\"Not Found\"}]}"
#define NOT_AUTHORIZED "{\"errors\":[{\"message\":\"Not authorized\"}]}"
#define WENT_WRONG "{\"errors\":[{\"message\":\"Something went wrong\"}]}"
#define RESERVED "{\"errors\":[{\"message\":\"Cannot edit a reserved ticket\"}]}"
#define UUID_LEN 37

/* ---- the database (shared: always filtered by the test's own ids) ------- */

/* Reserve a ticket behind the API's back, as the original's test 29 does;
 * the order id goes to order_out[37] when not NULL. */
static void reserve_in_db(const char *ticket, char *order_out)
{
	char order[UUID_LEN];
	tc_uuid(order);
	PQclear(ts_q("UPDATE tickets.tickets SET order_id = $2 WHERE id = $1", ticket, order, NULL));
	if (order_out)
		memcpy(order_out, order, UUID_LEN);
}

/* ---- Redis: the relayed event ------------------------------------------- */

/* The outbox rows of a ticket, in order: subject, event id, payload. */
struct ev {
	char subject[32], event_id[UUID_LEN];
	struct json_object *data;
};

static size_t outbox_events(const char *ticket, struct ev *out, size_t cap)
{
	PGresult *r = ts_q("SELECT subject, event_id, data::text FROM tickets.outbox "
			"WHERE data->>'id' = $1 ORDER BY id", ticket, NULL, NULL);
	size_t n = (size_t)PQntuples(r);
	for (size_t i = 0; i < n && i < cap; i++) {
		snprintf(out[i].subject, sizeof(out[i].subject), "%s", PQgetvalue(r, (int)i, 0));
		snprintf(out[i].event_id, sizeof(out[i].event_id), "%s", PQgetvalue(r, (int)i, 1));
		out[i].data = json_tokener_parse(PQgetvalue(r, (int)i, 2));
		ck_assert_ptr_nonnull(out[i].data);
	}
	PQclear(r);
	return n;
}

static void events_release(struct ev *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(e[i].data);
}

/* ---- requests ------------------------------------------------------------ */

static void put_json(const char *path, const char *body, const char *cookie,
		     struct tc_resp *out)
{
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .cookie = cookie };
	tc_request("PUT", path, &o, out);
}

static char *ticket_path(const char *id)
{
	return tc_strf(TICKETS "/%s", id);
}

/* POST a ticket with this JSON body as u; 201 expected; returns the id
 * (malloc'd). */
static char *create_body(const struct ts_user *u, const char *body)
{
	struct tc_resp r;
	tc_post_json(TICKETS, body, u->cookie, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(o);
	const char *id = ts_jstr(o, "id");
	ck_assert_ptr_nonnull(id);
	char *copy = tc_strf("%s", id);
	json_object_put(o);
	tc_resp_release(&r);
	return copy;
}

static char *create(const struct ts_user *u, const char *title, int price)
{
	char *body = tc_strf("{\"title\":\"%s\",\"price\":%d}", title, price);
	char *id = create_body(u, body);
	free(body);
	return id;
}

/* GET /api/tickets/:id, 200 expected; the parsed body (caller puts it). */
static struct json_object *show(const char *id)
{
	struct tc_resp r;
	char *path = ticket_path(id);
	tc_get(path, NULL, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(o);
	tc_resp_release(&r);
	free(path);
	return o;
}

/* The index of ticket id in GET /api/tickets, or -1. */
static long list_index(struct json_object *list, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		const char *v = ts_jstr(json_object_array_get_idx(list, i), "id");
		if (v && strcmp(v, id) == 0)
			return (long)i;
	}
	return -1;
}

static struct json_object *list_tickets(void)
{
	struct tc_resp r;
	tc_get(TICKETS, NULL, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	ck_assert(!r.truncated);
	struct json_object *o = tc_json(&r);
	ck_assert(o && json_object_is_type(o, json_type_array));
	tc_resp_release(&r);
	return o;
}

static char *errors_json(const char *m1, const char *f1, const char *m2, const char *f2)
{
	if (!m2)
		return tc_strf("{\"errors\":[{\"message\":\"%s\",\"field\":\"%s\"}]}", m1, f1);
	return tc_strf("{\"errors\":[{\"message\":\"%s\",\"field\":\"%s\"},"
		       "{\"message\":\"%s\",\"field\":\"%s\"}]}", m1, f1, m2, f2);
}

/* ---- reference 9.2: new.test -------------------------------------------- */

START_TEST(post_route_exists)
{
	struct tc_resp r;
	tc_post_json(TICKETS, "{}", NULL, &r);
	ck_assert_msg(r.status != 404 && r.status != 0, "status %ld", r.status);
	tc_resp_release(&r);
}
END_TEST

START_TEST(post_requires_signin)
{
	struct tc_resp r;
	tc_post_json(TICKETS, "{}", NULL, &r);
	ck_status(&r, 401);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
}
END_TEST

START_TEST(post_signed_in_not_401)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	tc_post_json(TICKETS, "{}", u.cookie, &r);
	ck_assert_int_ne(r.status, 401);
	ck_status(&r, 400);
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(post_invalid_title)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *want = errors_json(MSG_TITLE, "title", NULL, NULL);
	tc_post_json(TICKETS, "{\"title\":\"\",\"price\":10}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, want);
	tc_resp_release(&r);
	tc_post_json(TICKETS, "{\"price\":10}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, want);
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE user_id = $1",
				u.id, NULL), 0);
	free(want);
	free(u.cookie);
}
END_TEST

START_TEST(post_invalid_price)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *want = errors_json(MSG_PRICE_NEW, "price", NULL, NULL);
	tc_post_json(TICKETS, "{\"title\":\"asldkjf\",\"price\":-10}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, want);
	tc_resp_release(&r);
	tc_post_json(TICKETS, "{\"title\":\"laskdfj\"}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, want);
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE user_id = $1",
				u.id, NULL), 0);
	free(want);
	free(u.cookie);
}
END_TEST

START_TEST(post_creates_ticket)
{
	struct ts_user u;
	ts_signin(&u);
	const char *count = "SELECT count(*) FROM tickets.tickets WHERE user_id = $1";
	ck_assert_int_eq(ts_q_long(count, u.id, NULL), 0);
	char *id = create(&u, "asldkfj", 20);
	ck_assert_int_eq(ts_q_long(count, u.id, NULL), 1);
	PGresult *r = ts_q("SELECT id, title, price_cents FROM tickets.tickets "
			"WHERE user_id = $1", u.id, NULL, NULL);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), id);
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "asldkfj");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "2000");
	PQclear(r);
	free(id);
	free(u.cookie);
}
END_TEST

START_TEST(post_publishes_event)
{
	struct ts_user u;
	struct ev e[4];
	ts_signin(&u);
	char *id = create(&u, "asldkfj", 20);
	size_t n = outbox_events(id, e, 4);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].subject, "ticket:created");
	ck_assert_str_eq(ts_jstr(e[0].data, "id"), id);
	ck_assert_str_eq(ts_jstr(e[0].data, "title"), "asldkfj");
	ck_assert_str_eq(ts_jstr(e[0].data, "userId"), u.id);
	ck_assert(ts_jnum_is(e[0].data, "price", 20));
	ck_assert(ts_jnum_is(e[0].data, "version", 0));
	ck_assert(!ts_jget(e[0].data, "orderId"));
	ck_assert_int_eq(json_object_object_length(e[0].data), 5);
	ck_assert_msg(ts_stream_has("ticket:created", e[0].event_id, id, 0),
		      "ticket:created for %s was not relayed to Redis", id);
	events_release(e, n);
	free(id);
	free(u.cookie);
}
END_TEST

/* ---- show.test, index.test ---------------------------------------------- */

START_TEST(show_404_when_missing)
{
	struct tc_resp r;
	char id[UUID_LEN];
	tc_uuid(id);
	char *path = ticket_path(id);
	tc_get(path, NULL, &r);
	ck_status(&r, 404);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	free(path);
}
END_TEST

START_TEST(show_found)
{
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "concert", 20);
	struct json_object *o = show(id);
	ck_assert_str_eq(ts_jstr(o, "title"), "concert");
	ck_assert(ts_jnum_is(o, "price", 20));
	ck_assert_str_eq(ts_jstr(o, "id"), id);
	json_object_put(o);
	free(id);
	free(u.cookie);
}
END_TEST

/* Three users' tickets, all listed, in insertion order (the list is
 * shared with every other test, so only ours are counted). */
START_TEST(index_lists_tickets)
{
	char *ids[3];
	for (int i = 0; i < 3; i++) {
		struct ts_user u;
		ts_signin(&u);
		ids[i] = create(&u, "concert", 20 + i);
		free(u.cookie);
	}
	struct json_object *list = list_tickets();
	long at[3];
	for (int i = 0; i < 3; i++) {
		at[i] = list_index(list, ids[i]);
		ck_assert_msg(at[i] >= 0, "ticket %d missing from the list", i);
	}
	ck_assert(at[0] < at[1] && at[1] < at[2]);
	struct json_object *t = json_object_array_get_idx(list, (size_t)at[2]);
	ck_assert(ts_jnum_is(t, "price", 22));
	ck_assert(ts_jnum_is(t, "version", 0));
	json_object_put(list);
	for (int i = 0; i < 3; i++)
		free(ids[i]);
}
END_TEST

/* ---- update.test ------------------------------------------------------- */

START_TEST(put_404_when_missing)
{
	struct tc_resp r;
	struct ts_user u;
	char id[UUID_LEN];
	ts_signin(&u);
	tc_uuid(id);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"aslkdfj\",\"price\":20}", u.cookie, &r);
	ck_status(&r, 404);
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	free(path);
	free(u.cookie);
}
END_TEST

START_TEST(put_401_signed_out)
{
	struct tc_resp r;
	char id[UUID_LEN];
	tc_uuid(id);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"aslkdfj\",\"price\":20}", NULL, &r);
	ck_status(&r, 401);
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
	free(path);
}
END_TEST

START_TEST(put_401_not_owner)
{
	struct tc_resp r;
	struct ts_user a, b;
	ts_signin(&a);
	ts_signin(&b);
	char *id = create(&a, "asldkfj", 20);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"alskdjflskjdf\",\"price\":1000}", b.cookie, &r);
	ck_status(&r, 401);
	ck_body(&r, NOT_AUTHORIZED);
	tc_resp_release(&r);
	struct json_object *o = show(id);
	ck_assert_str_eq(ts_jstr(o, "title"), "asldkfj");
	ck_assert(ts_jnum_is(o, "price", 20));
	ck_assert(ts_jnum_is(o, "version", 0));
	json_object_put(o);
	free(path);
	free(id);
	free(a.cookie);
	free(b.cookie);
}
END_TEST

START_TEST(put_400_invalid_input)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "asldkfj", 20);
	char *path = ticket_path(id);
	char *t = errors_json(MSG_TITLE, "title", NULL, NULL);
	char *p = errors_json(MSG_PRICE_EDIT, "price", NULL, NULL);
	put_json(path, "{\"title\":\"\",\"price\":20}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, t);
	tc_resp_release(&r);
	put_json(path, "{\"title\":\"alskdfjj\",\"price\":-10}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, p);
	tc_resp_release(&r);
	struct json_object *o = show(id);
	ck_assert(ts_jnum_is(o, "version", 0));
	json_object_put(o);
	free(t);
	free(p);
	free(path);
	free(id);
	free(u.cookie);
}
END_TEST

START_TEST(put_updates_ticket)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "asldkfj", 20);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"new title\",\"price\":100}", u.cookie, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	char *want = tc_strf("{\"title\":\"new title\",\"price\":100,\"userId\":\"%s\","
			     "\"version\":1,\"id\":\"%s\"}", u.id, id);
	ck_body(&r, want);
	tc_resp_release(&r);
	struct json_object *o = show(id);
	ck_assert_str_eq(ts_jstr(o, "title"), "new title");
	ck_assert(ts_jnum_is(o, "price", 100));
	ck_assert(ts_jnum_is(o, "version", 1));
	json_object_put(o);
	free(want);
	free(path);
	free(id);
	free(u.cookie);
}
END_TEST

/* SG's "publish called exactly 2 times": created, then updated v1 with no
 * orderId; both relayed. */
START_TEST(put_publishes_event)
{
	struct tc_resp r;
	struct ts_user u;
	struct ev e[4];
	ts_signin(&u);
	char *id = create(&u, "asldkfj", 20);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"new title\",\"price\":100}", u.cookie, &r);
	ck_status(&r, 200);
	tc_resp_release(&r);
	size_t n = outbox_events(id, e, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[0].subject, "ticket:created");
	ck_assert_str_eq(e[1].subject, "ticket:updated");
	ck_assert(ts_jnum_is(e[1].data, "version", 1));
	ck_assert(ts_jnum_is(e[1].data, "price", 100));
	ck_assert_str_eq(ts_jstr(e[1].data, "title"), "new title");
	ck_assert_str_eq(ts_jstr(e[1].data, "userId"), u.id);
	ck_assert(!ts_jget(e[1].data, "orderId"));
	ck_assert_msg(ts_stream_has("ticket:updated", e[1].event_id, id, 1),
		      "ticket:updated for %s was not relayed to Redis", id);
	events_release(e, n);
	free(path);
	free(id);
	free(u.cookie);
}
END_TEST

START_TEST(put_rejects_reserved)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "asldkfj", 20);
	reserve_in_db(id, NULL);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"new title\",\"price\":100}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, RESERVED);
	tc_resp_release(&r);
	struct json_object *o = show(id);
	ck_assert_str_eq(ts_jstr(o, "title"), "asldkfj");
	ck_assert(ts_jnum_is(o, "version", 0));
	json_object_put(o);
	free(path);
	free(id);
	free(u.cookie);
}
END_TEST

/* ---- reference 9.10 ------------------------------------------------------ */

START_TEST(ticket_json_shape)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	tc_post_json(TICKETS, "{\"title\":\"concert\",\"price\":20}", u.cookie, &r);
	ck_status(&r, 201);
	ck_assert(tc_is_json_type(&r));
	struct json_object *o = tc_json(&r);
	ck_assert_ptr_nonnull(o);
	const char *id = ts_jstr(o, "id");
	ck_assert(id && strlen(id) == 36);
	char *want = tc_strf("{\"title\":\"concert\",\"price\":20,\"userId\":\"%s\","
			     "\"version\":0,\"id\":\"%s\"}", u.id, id);
	ck_body(&r, want);
	free(want);
	json_object_put(o);
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(show_has_order_id_while_reserved)
{
	struct ts_user u;
	char order[UUID_LEN];
	ts_signin(&u);
	char *id = create(&u, "concert", 20);
	struct json_object *o = show(id);
	ck_assert(!ts_jget(o, "orderId"));
	json_object_put(o);
	reserve_in_db(id, order);
	o = show(id);
	ck_assert_str_eq(ts_jstr(o, "orderId"), order);
	ck_assert_int_eq(json_object_object_length(o), 6);
	json_object_put(o);
	free(id);
	free(u.cookie);
}
END_TEST

START_TEST(index_excludes_reserved)
{
	struct ts_user u;
	ts_signin(&u);
	char *free_id = create(&u, "concert", 20);
	char *held_id = create(&u, "concert", 30);
	reserve_in_db(held_id, NULL);
	struct json_object *list = list_tickets();
	ck_assert_int_ge(list_index(list, free_id), 0);
	ck_assert_int_eq(list_index(list, held_id), -1);
	for (size_t i = 0; i < json_object_array_length(list); i++)
		ck_assert(!ts_jget(json_object_array_get_idx(list, i), "orderId"));
	json_object_put(list);
	free(free_id);
	free(held_id);
	free(u.cookie);
}
END_TEST

/* The reserved check comes before the ownership check (reference 11.3). */
START_TEST(put_reserved_by_non_owner_is_400)
{
	struct tc_resp r;
	struct ts_user a, b;
	ts_signin(&a);
	ts_signin(&b);
	char *id = create(&a, "concert", 20);
	reserve_in_db(id, NULL);
	char *path = ticket_path(id);
	put_json(path, "{\"title\":\"mine\",\"price\":5}", b.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, RESERVED);
	tc_resp_release(&r);
	free(path);
	free(id);
	free(a.cookie);
	free(b.cookie);
}
END_TEST

START_TEST(malformed_id_is_400)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	put_json(TICKETS "/abc", "{\"title\":\"concert\",\"price\":20}", u.cookie, &r);
	ck_status(&r, 400);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, WENT_WRONG);
	tc_resp_release(&r);
	tc_get(TICKETS "/abc", NULL, &r);
	ck_status(&r, 400);
	ck_body(&r, WENT_WRONG);
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

/* Accepted prices: the JSON body, and the number the API answers with. */
static const struct {
	const char *price;
	double want;
} good_prices[] = {
	{ "\"10.5\"", 10.5 }, { "\"1e2\"", 100 }, { "10.5", 10.5 },
	{ "\"20\"", 20 },     { "0.01", 0.01 },	  { "1000000", 1000000 },
	{ "3.456", 3.46 },
};

START_TEST(price_accepted)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *body = tc_strf("{\"title\":\"concert\",\"price\":%s}", good_prices[_i].price);
	tc_post_json(TICKETS, body, u.cookie, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r), *p;
	ck_assert_ptr_nonnull(o);
	p = ts_jget(o, "price");
	ck_assert_msg(p && !json_object_is_type(p, json_type_string),
		      "price must be a JSON number: %s", r.body);
	ck_assert_msg(ts_jnum_is(o, "price", good_prices[_i].want), "price %s gave %s",
		      good_prices[_i].price, r.body);
	json_object_put(o);
	tc_resp_release(&r);
	free(body);
	free(u.cookie);
}
END_TEST

static const char *const bad_prices[] = {
	"0", "-10", "1000000.01", "\"abc\"", "\"\"", "null", "\"0\"", "\"NaN\"", "1e400",
};

START_TEST(price_rejected)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *body = tc_strf("{\"title\":\"concert\",\"price\":%s}", bad_prices[_i]);
	char *want = errors_json(MSG_PRICE_NEW, "price", NULL, NULL);
	tc_post_json(TICKETS, body, u.cookie, &r);
	ck_assert_msg(r.status == 400, "price %s: %ld %s", bad_prices[_i], r.status, r.body);
	ck_assert_msg(tc_json_is(&r, want) || tc_json_is(&r, WENT_WRONG),
		      "price %s: %s", bad_prices[_i], r.body);
	if (strcmp(bad_prices[_i], "1e400") != 0)
		ck_body(&r, want);
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE user_id = $1",
				u.id, NULL), 0);
	free(want);
	free(body);
	free(u.cookie);
}
END_TEST

START_TEST(validation_bodies_exact)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *post = errors_json(MSG_TITLE, "title", MSG_PRICE_NEW, "price");
	char *put = errors_json(MSG_TITLE, "title", MSG_PRICE_EDIT, "price");
	tc_post_json(TICKETS, "{}", u.cookie, &r);
	ck_status(&r, 400);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, post);
	tc_resp_release(&r);

	char *id = create(&u, "concert", 20);
	char *path = ticket_path(id);
	put_json(path, "{}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, put);
	tc_resp_release(&r);
	/* Validation comes before the lookup: a missing ticket, same body. */
	char other[UUID_LEN];
	tc_uuid(other);
	char *missing = ticket_path(other);
	put_json(missing, "{\"price\":0}", u.cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, put);
	tc_resp_release(&r);
	free(missing);
	free(path);
	free(id);
	free(post);
	free(put);
	free(u.cookie);
}
END_TEST

START_TEST(blank_title_accepted)
{
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, " ", 20);
	struct json_object *o = show(id);
	ck_assert_str_eq(ts_jstr(o, "title"), " ");
	json_object_put(o);
	free(id);
	free(u.cookie);
}
END_TEST

static const struct {
	const char *method, *path; /* path: %s is a real ticket's id */
} unknown_routes[] = {
	{ "DELETE", TICKETS "/%s" }, { "PATCH", TICKETS "/%s" },
	{ "GET", TICKETS "/%s/extra" }, { "POST", TICKETS "/%s" },
	{ "DELETE", TICKETS },
};

START_TEST(unknown_route_is_404_json)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "concert", 20);
	char *path = tc_strf(unknown_routes[_i].path, id);
	struct tc_opts o = { .content_type = "application/json", .body = "{}",
			     .cookie = u.cookie };
	tc_request(unknown_routes[_i].method, path, &o, &r);
	ck_assert_msg(r.status == 404, "%s %s: %ld", unknown_routes[_i].method, path, r.status);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
	struct json_object *t = show(id);
	ck_assert(ts_jnum_is(t, "version", 0));
	json_object_put(t);
	free(path);
	free(id);
	free(u.cookie);
}
END_TEST

/* ---- two concurrent PUTs of one ticket ------------------------------------ */

struct racer {
	const char *path, *cookie, *body;
	pthread_barrier_t *go;
	struct tc_resp r;
};

static void *race(void *arg)
{
	struct racer *x = arg;
	pthread_barrier_wait(x->go);
	put_json(x->path, x->body, x->cookie, &x->r);
	return NULL;
}

START_TEST(concurrent_puts_occ)
{
	enum { ROUNDS = 20, RACERS = 2 };
	struct ts_user u;
	ts_signin(&u);
	int lost = 0;
	for (int round = 0; round < ROUNDS; round++) {
		char *id = create(&u, "concert", 5);
		char *path = ticket_path(id);
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, RACERS);
		struct racer x[RACERS];
		pthread_t th[RACERS];
		for (int i = 0; i < RACERS; i++) {
			x[i] = (struct racer){ path, u.cookie,
					       i ? "{\"title\":\"b\",\"price\":15}" :
						   "{\"title\":\"a\",\"price\":10}",
					       &go, { 0 } };
			ck_assert_int_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
		}
		int ok = 0;
		for (int i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			if (x[i].r.status == 200) {
				ok++;
			} else {
				ck_assert_msg(x[i].r.status == 400 && tc_json_is(&x[i].r, WENT_WRONG),
					      "round %d: %ld %s", round, x[i].r.status, x[i].r.body);
				lost++;
			}
		}
		ck_assert_msg(ok >= 1, "round %d: no PUT succeeded", round);
		struct json_object *o = show(id);
		ck_assert_msg(ts_jnum_is(o, "version", ok), "round %d: version after %d OKs",
			      round, ok);
		long n = ts_q_long("SELECT count(*) FROM tickets.outbox WHERE subject = "
				"'ticket:updated' AND data->>'id' = $1", id, NULL);
		ck_assert_int_eq(n, ok);
		json_object_put(o);
		for (int i = 0; i < RACERS; i++)
			tc_resp_release(&x[i].r);
		pthread_barrier_destroy(&go);
		free(path);
		free(id);
	}
	(void)lost; /* how often the race was actually lost varies by machine */
	free(u.cookie);
}
END_TEST

/* ---- pages ---------------------------------------------------------------- */

static bool location_is(const struct tc_resp *r, const char *path)
{
	if (!r->location)
		return false;
	const char *base = tc_base_url();
	size_t n = strlen(base);
	return strcmp(r->location, path) == 0 ||
	       (strncmp(r->location, base, n) == 0 && strcmp(r->location + n, path) == 0);
}

/* GET a form page as u; *cookies gets "csrf=..; session=.." and *token
 * the form's _csrf (both malloc'd). */
static void get_form(const char *path, const struct ts_user *u, char **cookies, char **token)
{
	struct tc_resp r;
	tc_get(path, u->cookie, &r);
	ck_status(&r, 200);
	char *seed = tc_cookie_pair(&r, "csrf");
	ck_assert_msg(seed != NULL, "%s set no csrf cookie", path);
	*token = ts_page_token(&r);
	ck_assert_msg(*token && strlen(*token) == 64, "%s: no _csrf input", path);
	*cookies = tc_strf("%s; %s", seed, u->cookie);
	free(seed);
	tc_resp_release(&r);
}

static void post_ticket_form(const char *cookies, const char *title, const char *price,
			     const char *token, struct tc_resp *r)
{
	char *t = tc_urlencode(title), *p = tc_urlencode(price);
	char *body = token ? tc_strf("title=%s&price=%s&_csrf=%s", t, p, token) :
			     tc_strf("title=%s&price=%s", t, p);
	struct tc_opts o = { .content_type = FORM_TYPE, .body = body, .cookie = cookies };
	tc_request("POST", "/tickets/new", &o, r);
	free(body);
	free(t);
	free(p);
}

START_TEST(landing_lists_ticket_escaped)
{
	static const char xss[] = "<img src=x onerror=alert(1)>";
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	char *id = create(&u, "<img src=x onerror=alert(1)>", 20);
	tc_get("/", NULL, &r);
	ck_status(&r, 200);
	ck_assert(ts_is_html(&r));
	ck_assert(!r.truncated);
	char *link = tc_strf("href=\"/tickets/%s\"", id);
	ck_has(&r, link);
	ck_lacks(&r, xss);
	ck_has(&r, "&lt;img src");
	/* The row: the escaped title and the price, before the link. */
	const char *end = strstr(r.body, link), *row = end;
	while (row > r.body && strncmp(row, "<tr", 3) != 0)
		row--;
	char *cells = tc_strf("%.*s", (int)(end - row), row);
	ck_assert_msg(strstr(cells, ">&lt;img src=x onerror=alert(1)&gt;</td>") &&
			      strstr(cells, ">20</td>"),
		      "row: %s", cells);
	free(cells);
	tc_resp_release(&r);
	free(link);
	free(id);
	free(u.cookie);
}
END_TEST

START_TEST(ticket_page_shows_purchase_form)
{
	struct tc_resp r;
	struct ts_user u, buyer;
	ts_signin(&u);
	ts_signin(&buyer);
	char *id = create(&u, "concert", 20);
	char *path = tc_strf("/tickets/%s", id);
	tc_get(path, buyer.cookie, &r);
	ck_status(&r, 200);
	ck_assert(ts_is_html(&r));
	ck_has(&r, "<h1>concert</h1>");
	ck_has(&r, "Price: 20");
	ck_has(&r, "action=\"/orders\"");
	char *hidden = tc_strf("name=\"ticketId\" value=\"%s\"", id);
	ck_has(&r, hidden);
	ck_has(&r, TOKEN_ATTR);
	ck_has(&r, ">Purchase</button>");
	char *token = ts_page_token(&r);
	ck_assert(token && strlen(token) == 64);
	tc_resp_release(&r);

	/* An unknown or malformed id: a 404 page. */
	char other[UUID_LEN];
	tc_uuid(other);
	char *missing = tc_strf("/tickets/%s", other);
	tc_get(missing, NULL, &r);
	ck_status(&r, 404);
	ck_assert(ts_is_html(&r));
	tc_resp_release(&r);
	tc_get("/tickets/abc", NULL, &r);
	ck_status(&r, 404);
	tc_resp_release(&r);
	free(missing);
	free(token);
	free(hidden);
	free(path);
	free(id);
	free(u.cookie);
	free(buyer.cookie);
}
END_TEST

START_TEST(new_ticket_page_needs_signin)
{
	struct tc_resp r;
	tc_get("/tickets/new", NULL, &r);
	ck_status(&r, 303);
	ck_assert_msg(location_is(&r, "/auth/signin"), "Location %s",
		      r.location ? r.location : "(none)");
	tc_resp_release(&r);
}
END_TEST

START_TEST(new_ticket_page_renders)
{
	struct tc_resp r;
	struct ts_user u;
	ts_signin(&u);
	tc_get("/tickets/new", u.cookie, &r);
	ck_status(&r, 200);
	ck_assert(ts_is_html(&r));
	ck_has(&r, "Create a Ticket");
	ck_has(&r, ">Title</label>");
	ck_has(&r, ">Price</label>");
	ck_has(&r, ">Submit</button>");
	ck_has(&r, "action=\"/tickets/new\"");
	ck_has(&r, TOKEN_ATTR);
	ck_lacks(&r, "Ooops....");
	tc_resp_release(&r);
	free(u.cookie);
}
END_TEST

START_TEST(new_ticket_form_creates)
{
	struct tc_resp r;
	struct ts_user u;
	char *cookies, *token;
	ts_signin(&u);
	get_form("/tickets/new", &u, &cookies, &token);
	post_ticket_form(cookies, "form concert", "12.50", token, &r);
	ck_status(&r, 303);
	ck_assert_msg(location_is(&r, "/"), "Location %s", r.location ? r.location : "(none)");
	tc_resp_release(&r);
	PGresult *res = ts_q("SELECT title, price_cents, version FROM tickets.tickets "
			  "WHERE user_id = $1", u.id, NULL, NULL);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "form concert");
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "1250");
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "0");
	PQclear(res);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.outbox o JOIN tickets.tickets t "
				"ON o.data->>'id' = t.id::text WHERE t.user_id = $1 "
				"AND o.subject = 'ticket:created'", u.id, NULL), 1);
	free(cookies);
	free(token);
	free(u.cookie);
}
END_TEST

START_TEST(new_ticket_form_errors)
{
	struct tc_resp r;
	struct ts_user u;
	char *cookies, *token;
	ts_signin(&u);
	get_form("/tickets/new", &u, &cookies, &token);
	post_ticket_form(cookies, "", "abc", token, &r);
	ck_status(&r, 400);
	ck_assert(ts_is_html(&r));
	ck_has(&r, "Create a Ticket");
	ck_has(&r, "Ooops....");
	ck_has(&r, MSG_TITLE);
	ck_has(&r, MSG_PRICE_NEW);
	ck_has(&r, "value=\"abc\""); /* what was typed stays */
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE user_id = $1",
				u.id, NULL), 0);
	free(cookies);
	free(token);
	free(u.cookie);
}
END_TEST

START_TEST(new_ticket_form_needs_csrf)
{
	struct tc_resp r;
	struct ts_user u;
	char *cookies, *token;
	ts_signin(&u);
	get_form("/tickets/new", &u, &cookies, &token);
	post_ticket_form(cookies, "csrf concert", "20", NULL, &r);
	ck_status(&r, 403);
	tc_resp_release(&r);
	char wrong[65];
	memset(wrong, 'a', 64);
	wrong[64] = '\0';
	post_ticket_form(cookies, "csrf concert", "20", wrong, &r);
	ck_status(&r, 403);
	tc_resp_release(&r);
	post_ticket_form(u.cookie, "csrf concert", "20", token, &r); /* no seed */
	ck_status(&r, 403);
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE user_id = $1",
				u.id, NULL), 0);
	free(cookies);
	free(token);
	free(u.cookie);
}
END_TEST

/* ---- the list cache (lib/tickets/list.c) ---------------------------------
 * The tickets program keeps the rendered list and drops it on every
 * ticket:created / ticket:updated event and on its own writes. The cache's
 * safety-net age is LIST_CACHE_MAX_AGE_MS (5 s by default): the waits below
 * stay well under it, so only an invalidation can make them pass. */

static struct tx_redis *test_redis(void)
{
	const char *url = getenv("TEST_REDIS_URL"), *prefix = getenv("REDIS_PREFIX");
	ck_assert_msg(url && *url, "TEST_REDIS_URL must be set (make test sets it)");
	char err[256];
	struct tx_redis *rd = tx_redis_new(url, prefix ? prefix : "", 2000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	return rd;
}

/* Whether the tickets program's cache follower is connected to Redis. */
static bool follower_connected(struct tx_redis *rd)
{
	const char *argv[] = { "CLIENT", "LIST" };
	redisReply *r = tx_redis_cmd(rd, 2, argv, NULL);
	bool yes = r && r->type == REDIS_REPLY_STRING && strstr(r->str, " name=follow:");
	if (r)
		freeReplyObject(r);
	return yes;
}

static void redis_ok(struct tx_redis *rd, int argc, const char **argv)
{
	redisReply *r = tx_redis_cmd(rd, argc, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "%s %s failed", argv[0], argv[1]);
	freeReplyObject(r);
}

static bool wait_follower(struct tx_redis *rd, long ms)
{
	for (long t = 0; t < ms; t += 50, ts_sleep_ms(50))
		if (follower_connected(rd))
			return true;
	return false;
}

static bool listed(const char *id)
{
	struct json_object *list = list_tickets();
	bool yes = list_index(list, id) >= 0;
	json_object_put(list);
	return yes;
}

static bool page_lists(const char *id)
{
	struct tc_resp r;
	tc_get("/", NULL, &r);
	ck_status(&r, 200);
	char *link = tc_strf("href=\"/tickets/%s\"", id);
	bool yes = strstr(r.body, link) != NULL;
	free(link);
	tc_resp_release(&r);
	return yes;
}

/* Poll both lists until they (do not) show id; whether they came to. */
static bool lists_become(const char *id, bool shown, long ms)
{
	for (long t = 0; t < ms; t += 20, ts_sleep_ms(20))
		if (listed(id) == shown && page_lists(id) == shown)
			return true;
	return false;
}

START_TEST(list_shows_own_writes_at_once)
{
	struct ts_user u;
	ts_signin(&u);
	struct tx_redis *rd = test_redis();
	ck_assert_msg(wait_follower(rd, 5000), "the tickets program follows no stream");
	char *first = create(&u, "cached concert", 20);
	ck_assert(listed(first) && page_lists(first)); /* both lists now cached */
	ck_assert(listed(first) && page_lists(first));
	/* Hold back every event (the relay's XADD waits; the follower's
	 * XREAD does not), so that only the write itself can refresh. */
	redis_ok(rd, 4, (const char *[]){ "CLIENT", "PAUSE", "3000", "WRITE" });
	char *second = create(&u, "second concert", 30);
	ck_assert_msg(listed(second), "the JSON list missed the user's own new ticket");
	ck_assert_msg(page_lists(second), "the page missed the user's own new ticket");
	struct tc_resp r;
	char *path = ticket_path(second);
	put_json(path, "{\"title\":\"renamed concert\",\"price\":35}", u.cookie, &r);
	ck_status(&r, 200);
	tc_resp_release(&r);
	struct json_object *list = list_tickets();
	long i = list_index(list, second);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(ts_jstr(json_object_array_get_idx(list, i), "title"), "renamed concert");
	json_object_put(list);
	tc_get("/", NULL, &r);
	ck_has(&r, ">renamed concert</td><td>35</td>");
	tc_resp_release(&r);
	redis_ok(rd, 2, (const char *[]){ "CLIENT", "UNPAUSE" });
	tx_redis_free(rd);
	free(path);
	free(first);
	free(second);
	free(u.cookie);
}
END_TEST

/* The worker reserves a ticket when it applies order:created, and
 * publishes ticket:updated: the list drops the ticket once that event is
 * out, not after the cache's safety-net age. */
START_TEST(list_drops_ticket_the_worker_reserved)
{
	struct ts_user seller, buyer;
	ts_signin(&seller);
	ts_signin(&buyer);
	char *id = create(&seller, "sold out soon", 40);
	for (int i = 0; i < 400 && ts_q_long("SELECT count(*) FROM orders.tickets WHERE id = $1",
					      id, NULL) == 0; i++)
		ts_sleep_ms(20);
	ck_assert(listed(id) && page_lists(id)); /* cached, with the ticket */
	struct tc_resp r;
	char *body = tc_strf("{\"ticketId\":\"%s\"}", id);
	tc_post_json("/api/orders", body, buyer.cookie, &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	for (int i = 0; i < 400 && ts_q_long("SELECT count(*) FROM tickets.tickets "
					      "WHERE id = $1 AND order_id IS NOT NULL", id, NULL) == 0; i++)
		ts_sleep_ms(20);
	ck_assert_msg(ts_q_long("SELECT count(*) FROM tickets.tickets WHERE id = $1 "
				"AND order_id IS NOT NULL", id, NULL) == 1,
		      "the worker did not reserve the ticket");
	ck_assert_msg(lists_become(id, false, 2000),
		      "the lists still show a ticket reserved by the worker");
	free(body);
	free(id);
	free(seller.cookie);
	free(buyer.cookie);
}
END_TEST

/* CONFIG GET name; the value, malloc'd. */
static char *redis_config(struct tx_redis *rd, const char *name)
{
	const char *argv[] = { "CONFIG", "GET", name };
	redisReply *r = tx_redis_cmd(rd, 3, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2,
		      "CONFIG GET %s", name);
	char *v = tc_strf("%s", r->element[1]->str);
	freeReplyObject(r);
	return v;
}

/* The command line that starts the stack's Redis again as it runs now;
 * made before the tests of the case, in the runner's own process, so that
 * its teardown can bring Redis back even if a test fails with it down. */
static char *redis_restart;

/* The configuration file Redis was started with (its users and
 * passwords: scripts/stack.sh), from INFO server. */
static char *redis_config_file(struct tx_redis *rd)
{
	const char *argv[] = { "INFO", "server" };
	redisReply *r = tx_redis_cmd(rd, 2, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_STRING, "INFO server");
	const char *f = strstr(r->str, "\r\nconfig_file:");
	ck_assert_msg(f, "INFO server has no config_file");
	f += strlen("\r\nconfig_file:");
	char *v = tc_strf("%.*s", (int)strcspn(f, "\r\n"), f);
	freeReplyObject(r);
	ck_assert_msg(*v && !strchr(v, '\''), "the stack's Redis has no usable config file");
	return v;
}

static void redis_guard_setup(void)
{
	struct tx_redis *rd = test_redis();
	char *port = redis_config(rd, "port"), *dir = redis_config(rd, "dir");
	char *pid = redis_config(rd, "pidfile"), *log = redis_config(rd, "logfile");
	char *conf = redis_config_file(rd);
	redis_restart = tc_strf("redis-server '%s' --bind 127.0.0.1 --port '%s' --dir '%s' "
				"--appendonly yes --appendfsync always --save '' "
				"--daemonize yes --pidfile '%s' --logfile '%s'",
				conf, port, dir, pid, log);
	free(conf);
	free(port);
	free(dir);
	free(pid);
	free(log);
	tx_redis_free(rd);
}

static bool redis_up(struct tx_redis *rd)
{
	const char *ping[] = { "PING" };
	redisReply *r = tx_redis_cmd(rd, 1, ping, NULL);
	if (r)
		freeReplyObject(r);
	return r != NULL;
}

static void redis_guard_teardown(void)
{
	struct tx_redis *rd = test_redis();
	if (!redis_up(rd) && system(redis_restart) != 0)
		fprintf(stderr, "cannot restart redis: %s\n", redis_restart);
	tx_redis_free(rd);
	free(redis_restart);
	redis_restart = NULL;
}

/* Wait for the ticket's events to be relayed (and so, in a moment, read
 * by the follower). */
static void published(const char *id)
{
	for (int i = 0; i < 400 && ts_q_long("SELECT count(*) FROM tickets.outbox WHERE "
					      "data->>'id' = $1 AND published_at IS NULL",
					      id, NULL) > 0; i++)
		ts_sleep_ms(20);
	ts_sleep_ms(200);
}

/* Stop the stack's Redis (SHUTDOWN: it writes its AOF first). */
static void stop_redis(struct tx_redis *rd)
{
	const char *argv[] = { "SHUTDOWN" };
	redisReply *r = tx_redis_cmd(rd, 1, argv, NULL);
	if (r)
		freeReplyObject(r);
	for (int i = 0; i < 200 && redis_up(rd); i++)
		ts_sleep_ms(25);
	ck_assert_msg(!redis_up(rd), "Redis did not stop");
}

/* With Redis down no event can tell the cache about a change, so the
 * lists come from Postgres: a change made straight in the database shows
 * at once, and so does the user's own new ticket. Redis is then started
 * again and the follower comes back. */
START_TEST(list_without_redis_comes_from_postgres)
{
	struct ts_user u;
	ts_signin(&u);
	struct tx_redis *rd = test_redis();
	ck_assert_msg(wait_follower(rd, 5000), "the tickets program follows no stream");
	char *held = create(&u, "held while redis is down", 20);
	published(held); /* its event will not drop what is cached next */
	ck_assert(listed(held) && page_lists(held)); /* cached */
	stop_redis(rd);
	reserve_in_db(held, NULL); /* no event: Redis is down */
	ck_assert_msg(lists_become(held, false, 1000),
		      "with Redis down the lists still show a reserved ticket");
	char *fresh = create(&u, "sold while redis is down", 25);
	ck_assert(listed(fresh) && page_lists(fresh));
	ck_assert_int_eq(system(redis_restart), 0);
	ck_assert_msg(wait_follower(rd, 10000), "the follower did not come back");
	ck_assert(!listed(held) && listed(fresh));
	tx_redis_free(rd);
	free(held);
	free(fresh);
	free(u.cookie);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_tickets_http(void)
{
	Suite *s = suite_create("tickets_http");
	TCase *tc = tcase_create("original");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, post_route_exists);
	tcase_add_test(tc, post_requires_signin);
	tcase_add_test(tc, post_signed_in_not_401);
	tcase_add_test(tc, post_invalid_title);
	tcase_add_test(tc, post_invalid_price);
	tcase_add_test(tc, post_creates_ticket);
	tcase_add_test(tc, post_publishes_event);
	tcase_add_test(tc, show_404_when_missing);
	tcase_add_test(tc, show_found);
	tcase_add_test(tc, index_lists_tickets);
	tcase_add_test(tc, put_404_when_missing);
	tcase_add_test(tc, put_401_signed_out);
	tcase_add_test(tc, put_401_not_owner);
	tcase_add_test(tc, put_400_invalid_input);
	tcase_add_test(tc, put_updates_ticket);
	tcase_add_test(tc, put_publishes_event);
	tcase_add_test(tc, put_rejects_reserved);
	suite_add_tcase(s, tc);

	tc = tcase_create("contract");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, ticket_json_shape);
	tcase_add_test(tc, show_has_order_id_while_reserved);
	tcase_add_test(tc, index_excludes_reserved);
	tcase_add_test(tc, put_reserved_by_non_owner_is_400);
	tcase_add_test(tc, malformed_id_is_400);
	tcase_add_loop_test(tc, price_accepted, 0, N(good_prices));
	tcase_add_loop_test(tc, price_rejected, 0, N(bad_prices));
	tcase_add_test(tc, validation_bodies_exact);
	tcase_add_test(tc, blank_title_accepted);
	tcase_add_loop_test(tc, unknown_route_is_404_json, 0, N(unknown_routes));
	tcase_add_test(tc, concurrent_puts_occ);
	suite_add_tcase(s, tc);

	tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, landing_lists_ticket_escaped);
	tcase_add_test(tc, ticket_page_shows_purchase_form);
	tcase_add_test(tc, new_ticket_page_needs_signin);
	tcase_add_test(tc, new_ticket_page_renders);
	tcase_add_test(tc, new_ticket_form_creates);
	tcase_add_test(tc, new_ticket_form_errors);
	tcase_add_test(tc, new_ticket_form_needs_csrf);
	suite_add_tcase(s, tc);

	tc = tcase_create("list cache");
	tcase_add_unchecked_fixture(tc, redis_guard_setup, redis_guard_teardown);
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, list_shows_own_writes_at_once);
	tcase_add_test(tc, list_drops_ticket_the_worker_reserved);
	tcase_add_test(tc, list_without_redis_comes_from_postgres);
	suite_add_tcase(s, tc);
	return s;
}
