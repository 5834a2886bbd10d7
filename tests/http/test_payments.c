/* test_payments.c: POST /api/payments and the checkout form's POST through
 * nginx with the built-in test provider (reference 3.4, 9.7, 9.10 and
 * DESIGN.md's fixes), and the whole flow with the worker running: a paid
 * order becomes complete through orders' payment:created listener.
 *
 * Replica orders are seeded directly in payments.orders, as the original's
 * tests build them (TEST_DATABASE_URL, a superuser); every test uses its
 * own random ids, so the shared database needs no cleaning.
 */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define PAY "/api/payments"
#define TOKEN_ATTR "name=\"_csrf\" value=\""

#define ck_status(r, want)                                                    \
	ck_assert_msg((r)->status == (want), "status %ld, want %d; body: %.300s%s", \
		      (r)->status, (want), (r)->body, (r)->error)
#define ck_body(r, json)                                                      \
	ck_assert_msg(tc_json_is((r), (json)), "body %.300s, want %s", (r)->body, \
		      (json))
#define ck_has(r, text)                                                        \
	ck_assert_msg(strstr((r)->body, (text)) != NULL, "missing %s in: %.2000s", \
		      (text), (r)->body)

#include "support.h"

/* A replica order {id, userId, version 0, price, status} expiring in
 * `secs` seconds (negative: already expired). */
static void seed(char id[37], const char *user, const char *cents,
		 const char *status, long secs)
{
	char *sql = tc_strf("INSERT INTO payments.orders (id, version, user_id, "
			    "price_cents, status, expires_at) VALUES ($1, 0, $2, %s, "
			    "'%s', now() + interval '%ld seconds')", cents, status, secs);
	tc_uuid(id);
	PQclear(ts_q(sql, id, user, NULL));
	free(sql);
}

static long payments_of(const char *order)
{
	return ts_q_long("SELECT count(*) FROM payments.payments WHERE order_id = $1", order, NULL);
}

static long events_of(const char *order)
{
	return ts_q_long("SELECT count(*) FROM payments.outbox WHERE subject = "
		      "'payment:created' AND data->>'orderId' = $1", order, NULL);
}

static void pay(const char *order, const char *token, const char *cookie,
		struct tc_resp *r)
{
	char *body = tc_strf("{\"token\":\"%s\",\"orderId\":\"%s\"}", token, order);
	tc_post_json(PAY, body, cookie, r);
	free(body);
}

static void ck_message(struct tc_resp *r, int status, const char *message)
{
	char *want = tc_strf("{\"errors\":[{\"message\":\"%s\"}]}", message);
	ck_status(r, status);
	ck_body(r, want);
	free(want);
}

/* ---- reference 9.7 ------------------------------------------------------- */

START_TEST(pay_unknown_order_404)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	tc_uuid(id);
	pay(id, "asldkfj", cookie, &r);
	ck_message(&r, 404, "Not Found");
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

START_TEST(pay_others_order_401)
{
	char id[37], owner[37], user[37];
	struct tc_resp r;
	tc_uuid(owner);
	seed(id, owner, "2000", "created", 60);
	char *cookie = tc_forge_cookie("test@test.com", user);
	pay(id, "asldkfj", cookie, &r);
	ck_message(&r, 401, "Not authorized");
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

START_TEST(pay_cancelled_order_400)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "2000", "cancelled", 60);
	pay(id, "asdlkfj", cookie, &r);
	ck_message(&r, 400, "Cannot pay for an cancelled order");
	ck_assert_int_eq(payments_of(id), 0);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

/* "returns a 201 with valid inputs": a random price, the charge in exact
 * cents, and the payment {orderId, stripeId} stored. */
START_TEST(pay_valid_201)
{
	char id[37], user[37], cents[32];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	srand((unsigned)time(NULL));
	snprintf(cents, sizeof(cents), "%d", 100 + rand() % 10000000);
	seed(id, user, cents, "created", 60);
	pay(id, "tok_visa", cookie, &r);
	ck_status(&r, 201);
	struct json_object *o = tc_json(&r), *v;
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_object_length(o), 1);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	PGresult *p = ts_q("SELECT id, provider_charge_id, amount_cents FROM payments.payments "
			"WHERE order_id = $1", id, NULL, NULL);
	ck_assert_int_eq(PQntuples(p), 1);
	ck_assert_str_eq(PQgetvalue(p, 0, 0), json_object_get_string(v));
	ck_assert_msg(strncmp(PQgetvalue(p, 0, 1), "ch_", 3) == 0 &&
			      strlen(PQgetvalue(p, 0, 1)) == 27, "stripeId %s",
		      PQgetvalue(p, 0, 1));
	ck_assert_str_eq(PQgetvalue(p, 0, 2), cents);
	ck_assert_int_eq(events_of(id), 1);
	PQclear(p);
	json_object_put(o);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

/* ---- reference 9.10 and DESIGN.md ---------------------------------------- */

START_TEST(pay_validation)
{
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", NULL);
	tc_post_json(PAY, "{}", cookie, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"Invalid value\",\"field\":\"token\"},"
		    "{\"message\":\"Invalid value\",\"field\":\"orderId\"}]}");
	tc_resp_release(&r);
	tc_post_json(PAY, "{\"token\":\"tok_visa\",\"orderId\":\"\"}", cookie, &r);
	ck_body(&r, "{\"errors\":[{\"message\":\"Invalid value\",\"field\":\"orderId\"}]}");
	tc_resp_release(&r);
	pay("abc", "tok_visa", cookie, &r); /* a malformed id */
	ck_message(&r, 400, "Something went wrong");
	tc_resp_release(&r);
	tc_post_json(PAY, "{}", NULL, &r);
	ck_message(&r, 401, "Not authorized");
	tc_resp_release(&r);
	tc_get("/api/payments", cookie, &r);
	ck_message(&r, 404, "Not Found");
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

START_TEST(pay_declined)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "2000", "created", 60);
	pay(id, "tok_chargeDeclined", cookie, &r);
	ck_message(&r, 400, "Your card was declined.");
	tc_resp_release(&r);
	pay(id, "tok_chargeDeclinedInsufficientFunds", cookie, &r);
	ck_message(&r, 400, "Your card has insufficient funds.");
	tc_resp_release(&r);
	pay(id, "tok_chargeDeclinedExpiredCard", cookie, &r);
	ck_message(&r, 400, "Your card has expired.");
	tc_resp_release(&r);
	pay(id, "asldkfj", cookie, &r);
	ck_message(&r, 400, "No such token: 'asldkfj'");
	tc_resp_release(&r);
	ck_assert_int_eq(payments_of(id), 0);
	ck_assert_int_eq(events_of(id), 0);
	/* Another card still works after the declines. */
	pay(id, "tok_mastercard", cookie, &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

START_TEST(pay_twice)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "2000", "created", 60);
	pay(id, "tok_visa", cookie, &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	pay(id, "tok_visa", cookie, &r);
	ck_message(&r, 400, "Order has already been paid");
	tc_resp_release(&r);
	ck_assert_int_eq(payments_of(id), 1);
	ck_assert_int_eq(events_of(id), 1);
	free(cookie);
}
END_TEST

START_TEST(pay_expired)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "2000", "created", -1);
	pay(id, "tok_visa", cookie, &r);
	ck_message(&r, 400, "Cannot pay for an expired order");
	ck_assert_int_eq(payments_of(id), 0);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

struct racer {
	const char *id, *cookie;
	long status;
	char body[256];
};

static void *racer_main(void *p)
{
	struct racer *a = p;
	struct tc_resp r;
	char *body = tc_strf("{\"token\":\"tok_visa\",\"orderId\":\"%s\"}", a->id);
	tc_post_json(PAY, body, a->cookie, &r);
	a->status = r.status;
	snprintf(a->body, sizeof(a->body), "%s", r.body);
	tc_resp_release(&r);
	free(body);
	return NULL;
}

/* 20 concurrent POSTs for one order: one 201, one charge, one payment. */
START_TEST(pay_concurrent_once)
{
	enum { N = 20 };
	char id[37], user[37];
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "2000", "created", 60);
	pthread_t t[N];
	struct racer a[N];
	for (int i = 0; i < N; i++) {
		a[i] = (struct racer){ .id = id, .cookie = cookie };
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer_main, &a[i]), 0);
	}
	int created = 0, paid = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		created += a[i].status == 201;
		paid += a[i].status == 400 &&
			strstr(a[i].body, "Order has already been paid") != NULL;
	}
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(paid, N - 1);
	ck_assert_int_eq(payments_of(id), 1);
	ck_assert_int_eq(events_of(id), 1);
	free(cookie);
}
END_TEST

/* ---- the checkout form's POST -------------------------------------------- */

/* POST /orders/:id/pay as a browser: session and csrf cookies, _csrf. */
static void pay_form(const char *id, const char *token, const char *session,
		     bool with_csrf, struct tc_resp *out)
{
	struct tc_resp r;
	tc_get("/auth/signup", NULL, &r);
	ck_status(&r, 200);
	char *seed_cookie = tc_cookie_pair(&r, "csrf"), *csrf = ts_page_token(&r);
	ck_assert_ptr_nonnull(seed_cookie);
	ck_assert_ptr_nonnull(csrf);
	tc_resp_release(&r);
	char *cookie = tc_strf("%s; %s", session, seed_cookie);
	char *body = with_csrf ? tc_strf("token=%s&_csrf=%s", token, csrf)
			       : tc_strf("token=%s", token);
	char *path = tc_strf("/orders/%s/pay", id);
	struct tc_opts o = { .content_type = "application/x-www-form-urlencoded",
			     .body = body, .cookie = cookie };
	tc_request("POST", path, &o, out);
	free(path);
	free(body);
	free(cookie);
	free(csrf);
	free(seed_cookie);
}

START_TEST(page_pay_success_and_errors)
{
	char id[37], user[37];
	struct tc_resp r;
	char *cookie = tc_forge_cookie("test@test.com", user);
	seed(id, user, "1050", "created", 60);
	pay_form(id, "tok_visa", cookie, false, &r);
	ck_status(&r, 403);
	tc_resp_release(&r);
	ck_assert_int_eq(payments_of(id), 0);
	pay_form(id, "tok_chargeDeclined", cookie, true, &r);
	ck_status(&r, 400);
	ck_has(&r, "Your card was declined.");
	ck_has(&r, "Price: 10.5");
	ck_has(&r, "name=\"token\"");
	tc_resp_release(&r);
	pay_form(id, "tok_visa", cookie, true, &r);
	ck_status(&r, 303);
	ck_assert_str_eq(r.location, "/orders");
	tc_resp_release(&r);
	pay_form(id, "tok_visa", cookie, true, &r);
	ck_status(&r, 400);
	ck_has(&r, "Order has already been paid");
	tc_resp_release(&r);
	ck_assert_int_eq(payments_of(id), 1);
	char other[37];
	tc_uuid(other);
	pay_form(other, "tok_visa", cookie, true, &r);
	ck_status(&r, 404);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

/* ---- the whole flow, with the worker ---------------------------------------- */

/* POST until the status is not 404 (a replica may not have arrived yet). */
static void post_until_found(const char *path, const char *body, const char *cookie,
			     struct tc_resp *r)
{
	for (int i = 0; i < 100; i++) {
		tc_post_json(path, body, cookie, r);
		if (r->status != 404)
			return;
		tc_resp_release(r);
		ts_sleep_ms(100);
	}
	tc_post_json(path, body, cookie, r);
}

static char *json_id(const struct tc_resp *r)
{
	struct json_object *o = tc_json(r), *v;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	char *id = tc_strf("%s", json_object_get_string(v));
	json_object_put(o);
	return id;
}

/* A ticket sold by seller (ticket_json: the POST /api/tickets body) and an
 * order for it by buyer; the order's id. */
static char *flow_order(const char *ticket_json, const char *seller, const char *buyer)
{
	struct tc_resp r;
	tc_post_json("/api/tickets", ticket_json, seller, &r);
	ck_status(&r, 201);
	char *ticket = json_id(&r);
	tc_resp_release(&r);
	char *body = tc_strf("{\"ticketId\":\"%s\"}", ticket);
	post_until_found("/api/orders", body, buyer, &r);
	ck_status(&r, 201);
	char *order = json_id(&r);
	tc_resp_release(&r);
	free(body);
	free(ticket);
	return order;
}

/* GET path (an order) until it shows complete: payment:created reaches
 * orders through the worker. At most tries x 100 ms. */
static bool await_complete(const char *path, const char *cookie, int tries)
{
	struct tc_resp r;
	bool complete = false;
	for (int i = 0; i < tries && !complete; i++) {
		tc_get(path, cookie, &r);
		complete = strstr(r.body, "\"status\":\"complete\"") != NULL;
		tc_resp_release(&r);
		if (!complete)
			ts_sleep_ms(100);
	}
	return complete;
}

START_TEST(flow_payment_completes_order)
{
	struct tc_resp r;
	char *seller = tc_forge_cookie("seller@test.com", NULL);
	char *buyer = tc_forge_cookie("buyer@test.com", NULL);
	char *order = flow_order("{\"title\":\"concert\",\"price\":10.99}", seller, buyer);
	char *pbody = tc_strf("{\"token\":\"tok_visa\",\"orderId\":\"%s\"}", order);
	post_until_found(PAY, pbody, buyer, &r); /* until order:created arrived */
	ck_status(&r, 201);
	tc_resp_release(&r);
	ck_assert_int_eq(ts_q_long("SELECT amount_cents FROM payments.payments "
				"WHERE order_id = $1", order, NULL), 1099);
	char *path = tc_strf("/api/orders/%s", order);
	ck_assert_msg(await_complete(path, buyer, 100), "order %s never became complete", order);
	/* A complete order cannot be cancelled, nor paid again. */
	tc_request("DELETE", path, &(struct tc_opts){ .cookie = buyer }, &r);
	ck_status(&r, 400);
	tc_resp_release(&r);
	pay(order, "tok_visa", buyer, &r);
	ck_message(&r, 400, "Order has already been paid");
	tc_resp_release(&r);
	free(path);
	free(pbody);
	free(order);
	free(buyer);
	free(seller);
}
END_TEST

/* The user cancels; payments learns it through order:cancelled and then
 * refuses to charge. */
START_TEST(flow_cancelled_order_refused)
{
	struct tc_resp r;
	char *seller = tc_forge_cookie("seller@test.com", NULL);
	char *buyer = tc_forge_cookie("buyer@test.com", NULL);
	char *order = flow_order("{\"title\":\"show\",\"price\":20}", seller, buyer);
	char *path = tc_strf("/api/orders/%s", order);
	tc_request("DELETE", path, &(struct tc_opts){ .cookie = buyer }, &r);
	ck_status(&r, 204);
	tc_resp_release(&r);
	bool cancelled = false;
	for (int i = 0; i < 100 && !cancelled; i++) {
		cancelled = ts_q_long("SELECT count(*) FROM payments.orders WHERE id = $1 "
				   "AND status = 'cancelled'", order, NULL) == 1;
		if (!cancelled)
			ts_sleep_ms(100);
	}
	ck_assert_msg(cancelled, "payments never saw order %s cancelled", order);
	pay(order, "tok_visa", buyer, &r);
	ck_message(&r, 400, "Cannot pay for an cancelled order");
	tc_resp_release(&r);
	free(path);
	free(order);
	free(buyer);
	free(seller);
}
END_TEST

/* The payments program dies right after the provider charged (failpoint
 * pay_after_provider: SIGKILL), so the client gets a 503 and never
 * retries. The attempt committed before the charge is all that is left;
 * the worker's settler (PAYMENT_SETTLE_AFTER_MS, 5 s under make test)
 * replays it and records the payment, and the order completes. */
START_TEST(flow_crash_after_charge_is_settled)
{
	struct tc_resp r;
	const char *dir = getenv("FAILPOINT_DIR");
	ck_assert_msg(dir && *dir, "FAILPOINT_DIR must be set (make test sets it)");
	char *seller = tc_forge_cookie("seller@test.com", NULL);
	char *buyer = tc_forge_cookie("buyer@test.com", NULL);
	char *order = flow_order("{\"title\":\"crash\",\"price\":12}", seller, buyer);
	/* A declined card first: the replica is there, nothing is charged. */
	char *declined = tc_strf("{\"token\":\"tok_chargeDeclined\",\"orderId\":\"%s\"}", order);
	post_until_found(PAY, declined, buyer, &r);
	ck_message(&r, 400, "Your card was declined.");
	tc_resp_release(&r);

	char *fp = tc_strf("%s/pay_after_provider", dir);
	FILE *f = fopen(fp, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	pay(order, "tok_visa", buyer, &r);
	ck_assert_msg(r.status == 502 || r.status == 503, "status %ld", r.status);
	tc_resp_release(&r);
	ck_assert_msg(access(fp, F_OK) != 0, "the failpoint did not fire");

	char *path = tc_strf("/api/orders/%s", order);
	ck_assert_msg(await_complete(path, buyer, 250), "order %s was charged but never completed",
		      order);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM payments.payments "
				   "WHERE order_id = $1 AND refund_id IS NULL", order, NULL), 1);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM payments.charge_attempts "
				   "WHERE order_id = $1 AND outcome = 'charged'", order, NULL), 1);
	ck_assert_int_eq(ts_q_long("SELECT count(*) FROM payments.charge_attempts "
				   "WHERE order_id = $1 AND outcome IS NULL", order, NULL), 0);
	/* The program is back (its supervisor restarted it): paying again is
	 * refused as already paid. */
	for (int i = 0; i < 100; i++) {
		pay(order, "tok_visa", buyer, &r);
		if (r.status != 502 && r.status != 503)
			break;
		tc_resp_release(&r);
		ts_sleep_ms(100);
	}
	ck_message(&r, 400, "Order has already been paid");
	tc_resp_release(&r);
	free(path);
	free(fp);
	free(declined);
	free(order);
	free(buyer);
	free(seller);
}
END_TEST

Suite *suite_payments_http(void)
{
	Suite *s = suite_create("payments_http");
	TCase *tc = tcase_create("api");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_add_test(tc, pay_unknown_order_404);
	tcase_add_test(tc, pay_others_order_401);
	tcase_add_test(tc, pay_cancelled_order_400);
	tcase_add_test(tc, pay_valid_201);
	tcase_add_test(tc, pay_validation);
	tcase_add_test(tc, pay_declined);
	tcase_add_test(tc, pay_twice);
	tcase_add_test(tc, pay_expired);
	tcase_add_test(tc, pay_concurrent_once);
	tcase_add_test(tc, page_pay_success_and_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("flow");
	tcase_add_checked_fixture(tc, ts_db_setup, ts_db_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, flow_payment_completes_order);
	tcase_add_test(tc, flow_cancelled_order_refused);
	tcase_add_test(tc, flow_crash_after_charge_is_settled);
	suite_add_tcase(s, tc);
	return s;
}
