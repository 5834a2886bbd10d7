/* test_payments.c: the payment providers (the built-in test provider; the
 * Stripe client against tests/fakes/fake_stripe.mjs at FAKE_STRIPE_URL),
 * the payments listeners (reference 9.8) and the pay path against the real
 * Postgres, including a refund when the order is cancelled while the
 * provider is being called. */
#include <check.h>
#include <json.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/events.h"
#include "core/log.h"
#include "payments/payments.h"
#include "fakestripe.h"

#define FAKE_KEY "sk_test_fake"

static struct tx_config test_cfg = { .payment_provider = "test",
				     .stripe_timeout_ms = 2000 };
static struct tx_config stripe_cfg = { .payment_provider = "stripe",
				       .stripe_key = FAKE_KEY,
				       .stripe_timeout_ms = 2000 };

static void stripe_setup(void)
{
	stripe_cfg.stripe_api_base = fs_env("FAKE_STRIPE_URL");
	stripe_cfg.stripe_timeout_ms = 2000;
}

/* ---- the test provider ----------------------------------------------------- */

static enum payments_status test_charge(const char *token, const char *key,
					struct payments_result *r)
{
	struct payments_charge c = { token, 2000, "order-1", key };
	return payments_test_provider.charge(&test_cfg, &c, r);
}

static bool stripe_id(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(id, prefix, n) != 0 || id[n] != '_' || strlen(id) != n + 25)
		return false;
	for (const char *p = id + n + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static const struct {
	const char *token;
	enum payments_status status;
	const char *message, *code, *decline_code;
} tokens[] = {
	{ "tok_visa", PAY_OK, "", "", "" },
	{ "tok_mastercard", PAY_OK, "", "", "" },
	{ "tok_chargeDeclined", PAY_DECLINED, "Your card was declined.",
	  "card_declined", "generic_decline" },
	{ "tok_chargeDeclinedInsufficientFunds", PAY_DECLINED,
	  "Your card has insufficient funds.", "card_declined", "insufficient_funds" },
	{ "tok_chargeDeclinedExpiredCard", PAY_DECLINED, "Your card has expired.",
	  "expired_card", "" },
	{ "asldkfj", PAY_DECLINED, "No such token: 'asldkfj'", "resource_missing", "" },
};

START_TEST(test_provider_tokens)
{
	struct payments_result r;
	ck_assert_int_eq(test_charge(tokens[_i].token, NULL, &r), tokens[_i].status);
	ck_assert_str_eq(r.message, tokens[_i].message);
	ck_assert_str_eq(r.code, tokens[_i].code);
	ck_assert_str_eq(r.decline_code, tokens[_i].decline_code);
	if (r.status == PAY_OK)
		ck_assert_msg(stripe_id(r.id, "ch"), "id %s", r.id);
}
END_TEST

START_TEST(test_provider_idempotency)
{
	char key[64], key2[64];
	struct payments_result a, b, c;
	fs_uuid(key);
	fs_uuid(key2);
	ck_assert_int_eq(test_charge("tok_visa", key, &a), PAY_OK);
	ck_assert_int_eq(test_charge("tok_visa", key, &b), PAY_OK);
	ck_assert_str_eq(a.id, b.id);
	/* The same key with another card: Stripe's idempotency_error. */
	ck_assert_int_eq(test_charge("tok_mastercard", key, &c), PAY_FAILED);
	ck_assert_str_eq(c.type, "idempotency_error");
	/* A decline is remembered too. */
	ck_assert_int_eq(test_charge("tok_chargeDeclined", key2, &c), PAY_DECLINED);
	ck_assert_int_eq(test_charge("tok_chargeDeclined", key2, &c), PAY_DECLINED);
	/* Without a key, every call is a new charge. */
	ck_assert_int_eq(test_charge("tok_visa", NULL, &a), PAY_OK);
	ck_assert_int_eq(test_charge("tok_visa", NULL, &b), PAY_OK);
	ck_assert_str_ne(a.id, b.id);
}
END_TEST

struct idem_arg {
	const char *key;
	struct payments_result r;
};

static void *idem_thread(void *p)
{
	struct idem_arg *a = p;
	test_charge("tok_visa", a->key, &a->r);
	return NULL;
}

START_TEST(test_provider_idempotency_threads)
{
	enum { N = 16 };
	char key[64];
	pthread_t t[N];
	struct idem_arg a[N];
	fs_uuid(key);
	for (int i = 0; i < N; i++) {
		a[i].key = key;
		ck_assert_int_eq(pthread_create(&t[i], NULL, idem_thread, &a[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(a[i].r.status, PAY_OK);
		ck_assert_str_eq(a[i].r.id, a[0].r.id);
	}
}
END_TEST

START_TEST(provider_choice)
{
	struct tx_config c = { .payment_provider = "test" };
	char err[128];
	ck_assert_ptr_eq(payments_provider(&c), &payments_test_provider);
	c.payment_provider = "stripe";
	ck_assert_ptr_eq(payments_provider(&c), &payments_stripe_provider);
	c.stripe_key = "";
	c.stripe_api_base = "https://api.stripe.com";
	ck_assert_int_eq(payments_provider_init(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "PAYMENT_PROVIDER=stripe needs STRIPE_KEY");
	c.payment_provider = "paypal";
	ck_assert_ptr_null(payments_provider(&c));
	ck_assert_int_eq(payments_provider_init(&c, err, sizeof(err)), -1);
	/* Unset: no default provider, and the message names the variable. */
	c.payment_provider = "";
	ck_assert_ptr_null(payments_provider(&c));
	ck_assert_int_eq(payments_provider_init(&c, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "PAYMENT_PROVIDER must be set", 28) == 0, "%s", err);
	c.payment_provider = NULL;
	ck_assert_ptr_null(payments_provider(&c));
}
END_TEST

/* ---- the fake Stripe's control endpoints ------------------------------------ */

/* ---- the Stripe client against the fake ------------------------------------- */

static enum payments_status stripe_charge(const char *token, int64_t cents,
					  const char *order, const char *key,
					  struct payments_result *r)
{
	struct payments_charge c = { token, cents, order, key };
	return payments_stripe_provider.charge(&stripe_cfg, &c, r);
}

START_TEST(stripe_charge_request)
{
	char order[37], key[64];
	fs_uuid(order);
	snprintf(key, sizeof(key), "pay-%s-1099-0", order);
	struct payments_result r;
	ck_assert_int_eq(stripe_charge("tok_visa", 1099, order, key, &r), PAY_OK);
	ck_assert_msg(strncmp(r.id, "ch_", 3) == 0, "id %s", r.id);
	struct json_object *root, *req = fs_request(key, &root), *h, *f;
	ck_assert(json_object_object_get_ex(req, "headers", &h));
	ck_assert(json_object_object_get_ex(req, "form", &f));
	ck_assert_str_eq(fs_jstr(req, "path"), "/v1/charges");
	ck_assert_str_eq(fs_jstr(h, "authorization"), "Bearer " FAKE_KEY);
	ck_assert_str_eq(fs_jstr(h, "stripe-version"), "2020-03-02");
	ck_assert(strncmp(fs_jstr(h, "content-type"), "application/x-www-form-urlencoded", 33) == 0);
	ck_assert_str_eq(fs_jstr(f, "amount"), "1099");
	ck_assert_str_eq(fs_jstr(f, "currency"), "usd");
	ck_assert_str_eq(fs_jstr(f, "source"), "tok_visa");
	ck_assert_str_eq(fs_jstr(f, "metadata[orderId]"), order);
	char desc[64];
	snprintf(desc, sizeof(desc), "Order %s", order);
	ck_assert_str_eq(fs_jstr(f, "description"), desc);
	json_object_put(root);
	/* The same key again: the fake replays, one charge in all. */
	struct payments_result again;
	ck_assert_int_eq(stripe_charge("tok_visa", 1099, order, key, &again), PAY_OK);
	ck_assert_str_eq(again.id, r.id);
	struct json_object *cs[8];
	ck_assert_int_eq(fs_charges(order, &root, cs), 1);
	json_object_put(root);
}
END_TEST

START_TEST(stripe_declines)
{
	char order[37], key[80];
	struct payments_result r;
	fs_uuid(order);
	snprintf(key, sizeof(key), "pay-%s-a", order);
	ck_assert_int_eq(stripe_charge("tok_chargeDeclined", 2000, order, key, &r), PAY_DECLINED);
	ck_assert_str_eq(r.message, "Your card was declined.");
	ck_assert_str_eq(r.code, "card_declined");
	ck_assert_int_eq(r.http_status, 402);
	snprintf(key, sizeof(key), "pay-%s-b", order);
	ck_assert_int_eq(stripe_charge("tok_chargeDeclinedInsufficientFunds", 2000, order,
				       key, &r), PAY_DECLINED);
	ck_assert_str_eq(r.decline_code, "insufficient_funds");
	snprintf(key, sizeof(key), "pay-%s-c", order);
	ck_assert_int_eq(stripe_charge("nope", 2000, order, key, &r), PAY_DECLINED);
	ck_assert_str_eq(r.message, "No such token: 'nope'");
	/* the form is escaped: the token arrives as it was, one field */
	snprintf(key, sizeof(key), "pay-%s-e", order);
	ck_assert_int_eq(stripe_charge("t&amount=1 +%=\xc3\xa9", 2000, order, key, &r),
			 PAY_DECLINED);
	ck_assert_str_eq(r.message, "No such token: 't&amount=1 +%=\xc3\xa9'");
	snprintf(key, sizeof(key), "pay-%s-d", order);
	ck_assert_int_eq(stripe_charge("tok_visa", 10, order, key, &r), PAY_DECLINED);
	ck_assert_str_eq(r.code, "amount_too_small");
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(order, &root, cs), 0);
	json_object_put(root);
}
END_TEST

START_TEST(stripe_bad_key_and_500)
{
	char order[37], key[80];
	struct payments_result r;
	fs_uuid(order);
	struct tx_config bad = stripe_cfg;
	bad.stripe_key = "sk_test_wrong";
	struct payments_charge c = { "tok_visa", 2000, order, "k-bad" };
	ck_assert_int_eq(payments_stripe_provider.charge(&bad, &c, &r), PAY_FAILED);
	ck_assert_int_eq(r.http_status, 401);
	snprintf(key, sizeof(key), "pay-%s-500", order);
	ck_assert_int_eq(stripe_charge("tok_fake_500", 2000, order, key, &r), PAY_UNAVAILABLE);
	ck_assert_int_eq(r.http_status, 500);
	/* Stripe saves a 500 too: the retry with the key replays it. */
	ck_assert_int_eq(stripe_charge("tok_fake_500", 2000, order, key, &r), PAY_UNAVAILABLE);
	snprintf(key, sizeof(key), "pay-%s-500b", order);
	ck_assert_int_eq(stripe_charge("tok_fake_500_after_charge", 2000, order, key, &r),
			 PAY_UNAVAILABLE);
	/* Nothing listening: unavailable, quickly. */
	bad = stripe_cfg;
	bad.stripe_api_base = "http://127.0.0.1:1";
	ck_assert_int_eq(payments_stripe_provider.charge(&bad, &c, &r), PAY_UNAVAILABLE);
}
END_TEST

/* A timeout after the fake charged: unknown to us, so UNAVAILABLE; the
 * retry with the same key gets the same charge, never a second one. */
START_TEST(stripe_timeout_then_retry)
{
	char order[37], key[80];
	struct payments_result r, again;
	fs_uuid(order);
	snprintf(key, sizeof(key), "pay-%s-2000-0", order);
	stripe_cfg.stripe_timeout_ms = 300;
	ck_assert_int_eq(stripe_charge("tok_fake_delay_800", 2000, order, key, &r),
			 PAY_UNAVAILABLE);
	ck_assert_msg(strstr(r.message, "timed out") != NULL, "%s", r.message);
	stripe_cfg.stripe_timeout_ms = 2000;
	usleep(900 * 1000);
	ck_assert_int_eq(stripe_charge("tok_fake_delay_800", 2000, order, key, &again), PAY_OK);
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(order, &root, cs), 1);
	ck_assert_str_eq(fs_jstr(cs[0], "id"), again.id);
	json_object_put(root);
}
END_TEST

START_TEST(stripe_refund)
{
	char order[37], key[160];
	struct payments_result r, ref, ref2;
	fs_uuid(order);
	snprintf(key, sizeof(key), "pay-%s", order);
	ck_assert_int_eq(stripe_charge("tok_visa", 2000, order, key, &r), PAY_OK);
	snprintf(key, sizeof(key), "refund-%s", r.id);
	ck_assert_int_eq(payments_stripe_provider.refund(&stripe_cfg, r.id, key, &ref), PAY_OK);
	ck_assert_msg(strncmp(ref.id, "re_", 3) == 0, "%s", ref.id);
	ck_assert_int_eq(payments_stripe_provider.refund(&stripe_cfg, r.id, key, &ref2), PAY_OK);
	ck_assert_str_eq(ref.id, ref2.id);
	struct json_object *root, *cs[8], *v;
	ck_assert_int_eq(fs_charges(order, &root, cs), 1);
	ck_assert(json_object_object_get_ex(cs[0], "refunded", &v) && json_object_get_boolean(v));
	json_object_put(root);
}
END_TEST

/* ---- against the database ----------------------------------------------------- */

static struct tx_ctx *ctx_new(const struct tx_config *cfg)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	struct tx_ctx *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->cfg = cfg;
	c->arena = tx_arena_new(4096);
	c->db = tx_db_new(url);
	c->request_id = "unit";
	return c;
}

static void ctx_free(struct tx_ctx *c)
{
	tx_db_free(c->db);
	tx_arena_free(c->arena);
	free(c);
}

static struct tx_ctx *ctx;

static void db_setup(void)
{
	ctx = ctx_new(&test_cfg);
}

static void db_teardown(void)
{
	ctx_free(ctx);
}

static void db_stripe_setup(void)
{
	stripe_setup();
	ctx = ctx_new(&stripe_cfg);
}

static PGresult *q(struct tx_ctx *c, const struct tx_stmt *st, const char *const *p)
{
	PGresult *r;
	int rc = tx_db_exec(c, st, p, &r);
	ck_assert_msg(rc == 0, "%s: %s", st->name, c->db_error);
	return r;
}

TX_STMT(SQL_SEED, 5,
	"INSERT INTO payments.orders (id, version, user_id, price_cents, status, "
	"expires_at) VALUES ($1, 0, $2, $3, $4, now() + make_interval(secs => $5))");
TX_STMT(SQL_REPLICA, 1,
	"SELECT status, version, price_cents, expires_at IS NULL, attempts "
	"FROM payments.orders WHERE id = $1");
TX_STMT(SQL_PAYMENTS_OF, 1,
	"SELECT id, provider_charge_id, amount_cents, refund_id "
	"FROM payments.payments WHERE order_id = $1");
TX_STMT(SQL_SEED_PAYMENT, 1,
	"INSERT INTO payments.payments (order_id, provider_charge_id, amount_cents) "
	"VALUES ($1, 'ch_seeded', 1000)");
TX_STMT(SQL_EVENTS_OF, 1,
	"SELECT data::text FROM payments.outbox WHERE subject = 'payment:created' "
	"AND data->>'orderId' = $1");

TX_STMT(SQL_REPLICA_ROW, 1,
	"SELECT status || '|' || version || '|' || price_cents || '|' || "
	"coalesce(to_char(expires_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD HH24:MI:SS.MS+00'), '') FROM payments.orders WHERE id = $1");
TX_STMT(SQL_ATTEMPTS_OF, 1,
	"SELECT outcome, charge_id, refund_id, token IS NULL "
	"FROM payments.charge_attempts WHERE order_id = $1 ORDER BY created_at");

static void seed(const char *id, const char *user, const char *cents,
		 const char *status, const char *secs)
{
	q(ctx, &SQL_SEED, (const char *const[]){ id, user, cents, status, secs });
}

static int listen_(struct tx_ctx *c, const char *subject, const char *data)
{
	const struct tx_listener *l = NULL;
	for (size_t i = 0; i < payments_nlisteners; i++)
		if (strcmp(payments_listeners[i].subject, subject) == 0)
			l = &payments_listeners[i];
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->group, "payments-service");
	struct tx_event ev = { subject, "00000000-0000-4000-8000-000000000000", data,
			       json_tokener_parse(data) };
	ck_assert_ptr_nonnull(ev.json);
	char err[256] = "";
	ck_assert_int_eq(tx_db_begin(c), 0);
	int rc = l->handle(c, &ev, err, sizeof(err));
	if (rc == 0)
		ck_assert_msg(tx_db_commit(c) == 0, "commit: %s", c->db_error);
	else
		tx_db_rollback(c);
	json_object_put(ev.json);
	return rc;
}

/* events[0..n) of subject to the batch form, as the runtime: one
 * transaction, commit on 0; ok[] gets the verdicts. */
static int listen_batch(struct tx_ctx *c, const char *subject, char (*data)[256],
			size_t n, bool *ok)
{
	const struct tx_listener *l = NULL;
	for (size_t i = 0; i < payments_nlisteners; i++)
		if (strcmp(payments_listeners[i].subject, subject) == 0)
			l = &payments_listeners[i];
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(l->handle_batch);
	struct tx_event ev[8];
	char ids[8][37], err[256] = "";
	ck_assert_uint_le(n, 8);
	for (size_t i = 0; i < n; i++) {
		fs_uuid(ids[i]);
		ev[i] = (struct tx_event){ subject, ids[i], data[i], json_tokener_parse(data[i]) };
		ck_assert_ptr_nonnull(ev[i].json);
		ok[i] = true;
	}
	ck_assert_int_eq(tx_db_begin(c), 0);
	int rc = l->handle_batch(c, ev, n, ok, err, sizeof(err));
	if (rc == 0)
		ck_assert_msg(tx_db_commit(c) == 0, "commit: %s", c->db_error);
	else
		tx_db_rollback(c);
	for (size_t i = 0; i < n; i++)
		json_object_put(ev[i].json);
	return rc;
}

/* Reference 9.8, "replicates the order info" and "acks the message". */
START_TEST(listener_order_created)
{
	char id[37], user[37];
	fs_uuid(id);
	fs_uuid(user);
	char *ev = NULL;
	ck_assert_int_ge(asprintf(&ev, "{\"id\":\"%s\",\"version\":0,\"expiresAt\":\"alskdjf\","
				  "\"userId\":\"%s\",\"status\":\"created\","
				  "\"ticket\":{\"id\":\"alskdfj\",\"price\":10}}", id, user), 0);
	ck_assert_int_eq(listen_(ctx, "order:created", ev), 0);
	ck_assert_int_eq(listen_(ctx, "order:created", ev), 0); /* a duplicate: no-op */
	PGresult *r = q(ctx, &SQL_REPLICA, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "created");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "1000");
	ck_assert_str_eq(PQgetvalue(r, 0, 3), "t"); /* 'alskdjf' is no time */
	free(ev);
}
END_TEST

static void created_json(char out[256], const char *order, const char *user,
			 const char *price, const char *status, const char *expires)
{
	snprintf(out, 256, "{\"id\":\"%s\",\"version\":0,\"expiresAt\":\"%s\","
		 "\"userId\":\"%s\",\"status\":\"%s\",\"ticket\":{\"id\":\"t\","
		 "\"price\":%s}}", order, expires, user, status, price);
}

/* status|version|price_cents|expires_at of a replica, "" when none. */
static void replica_of(const char *order, char out[128])
{
	PGresult *r = q(ctx, &SQL_REPLICA_ROW, (const char *const[]){ order });
	snprintf(out, 128, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
}

/* order:created, one by one (_i 0) and as a batch (_i 1), to the same
 * end: each order replicated once, the first of two events for one order
 * wins, an order already replicated (and cancelled since) is left alone,
 * an expiresAt that is no time is NULL, a status is kept as sent; a bad
 * price, a userId that is not a uuid and an empty status fail, with no
 * effect. */
START_TEST(listener_order_created_batch_as_one_by_one)
{
	char id[7][37], user[37], ev[8][256], got[128];
	const bool want_ok[8] = { true, true, true, true, false, false, false, true };
	bool ok[8];
	fs_uuid(user);
	for (int i = 0; i < 7; i++)
		fs_uuid(id[i]);
	seed(id[3], user, "700", "cancelled", "60");
	created_json(ev[0], id[0], user, "10", "created", "2030-01-02T03:04:05.678Z");
	created_json(ev[1], id[1], user, "20.5", "created", "alskdjf");
	created_json(ev[2], id[0], user, "99", "other", "2031-01-01T00:00:00Z");
	created_json(ev[3], id[3], user, "1", "created", "");
	created_json(ev[4], id[4], user, "-1", "created", "");
	created_json(ev[5], id[5], "not-a-uuid", "1", "created", "");
	created_json(ev[6], id[6], user, "1", "", "");
	created_json(ev[7], id[2], user, "3", "odd \\\"status\\\"", "");
	if (_i)
		ck_assert_int_eq(listen_batch(ctx, "order:created", ev, 8, ok), 0);
	for (int i = 0; i < 8; i++) {
		if (_i)
			ck_assert_msg(ok[i] == want_ok[i], "event %d: ok=%d", i, ok[i]);
		int rc = _i && ok[i] ? 0 : listen_(ctx, "order:created", ev[i]);
		ck_assert_msg(want_ok[i] ? rc == 0 : rc < 0, "event %d: rc=%d", i, rc);
	}
	const char *want[7] = { "created|0|1000|2030-01-02 03:04:05.678+00",
				"created|0|2050|", "odd \"status\"|0|300|",
				"cancelled|0|700|", "", "", "" };
	for (int i = 0; i < 7; i++) {
		replica_of(id[i], got);
		if (i == 3)
			got[strlen("cancelled|0|700|")] = '\0'; /* seeded expiry: now + 60 s */
		ck_assert_msg(strcmp(got, want[i]) == 0, "order %d: '%s'", i, got);
	}
}
END_TEST

/* A batch of order:created whose statement fails (it waits too long for
 * another transaction's insert of one of its orders) inserts nothing; its
 * events then apply one by one. */
START_TEST(listener_order_created_failed_batch_rolls_back)
{
	char id[2][37], user[37], ev[2][256], got[128];
	bool ok[2];
	fs_uuid(user);
	fs_uuid(id[0]);
	fs_uuid(id[1]);
	created_json(ev[0], id[0], user, "10", "created", "");
	created_json(ev[1], id[1], user, "20", "created", "");
	struct tx_ctx *other = ctx_new(&test_cfg);
	ck_assert_int_eq(tx_db_begin(other), 0);
	q(other, &SQL_SEED, (const char *const[]){ id[1], user, "1", "held", "60" });
	ck_assert_int_eq(tx_db_exec_script(ctx->db, "SET lock_timeout = '200ms'"), 0);
	ck_assert_int_lt(listen_batch(ctx, "order:created", ev, 2, ok), 0);
	tx_db_rollback(other);
	ctx_free(other);
	ck_assert_int_eq(tx_db_exec_script(ctx->db, "RESET lock_timeout"), 0);
	replica_of(id[0], got);
	ck_assert_str_eq(got, "");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(listen_(ctx, "order:created", ev[i]), 0);
	replica_of(id[0], got);
	ck_assert_str_eq(got, "created|0|1000|");
	replica_of(id[1], got);
	ck_assert_str_eq(got, "created|0|2000|");
}
END_TEST

/* Reference 9.8, "updates the status of the order", with the version
 * rules: early -> retry, stale -> acked with no effect. */
START_TEST(listener_order_cancelled)
{
	char id[37], user[37], ev[256];
	fs_uuid(id);
	fs_uuid(user);
	snprintf(ev, sizeof(ev), "{\"id\":\"%s\",\"version\":2,\"ticket\":{\"id\":\"x\"}}", id);
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), TX_EV_RETRY); /* no replica yet */
	seed(id, user, "1000", "created", "60");
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), TX_EV_RETRY); /* v2 before v1 */
	snprintf(ev, sizeof(ev), "{\"id\":\"%s\",\"version\":1,\"ticket\":{\"id\":\"asldkfj\"}}", id);
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), 0);
	PGresult *r = q(ctx, &SQL_REPLICA, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "cancelled");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "1");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "1000"); /* price unchanged */
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), 0); /* stale: acked */
	snprintf(ev, sizeof(ev), "{\"id\":\"%s\",\"version\":2,\"ticket\":{\"id\":\"x\"}}", id);
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), 0); /* now in turn */
	r = q(ctx, &SQL_REPLICA, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "2");
}
END_TEST

static void cancelled_json(char out[256], const char *order, int version)
{
	snprintf(out, 256, "{\"id\":\"%s\",\"version\":%d,\"ticket\":{\"id\":\"x\"}}",
		 order, version);
}

/* order:cancelled in a batch, as one by one: the next version cancels the
 * replica; a stale one is a no-op; an early one, one not replicated yet,
 * a malformed one, and one whose order has a payment to refund are
 * refused (no effect) and go alone: a retry, a failure, a refund. */
START_TEST(listener_order_cancelled_batch)
{
	char id[5][37], user[37], ev[6][256];
	bool ok[6];
	fs_uuid(user);
	for (int i = 0; i < 5; i++)
		fs_uuid(id[i]);
	for (int i = 0; i < 4; i++)
		seed(id[i], user, "1000", "created", "60");
	q(ctx, &SQL_SEED_PAYMENT, (const char *const[]){ id[3] });
	cancelled_json(ev[0], id[0], 1); /* applies */
	cancelled_json(ev[1], id[1], 2); /* early: v1 has not arrived */
	cancelled_json(ev[2], id[2], 0); /* malformed: versions start at 1 */
	cancelled_json(ev[3], id[3], 1); /* paid: refund alone */
	cancelled_json(ev[4], id[4], 1); /* no replica yet */
	cancelled_json(ev[5], id[0], 1); /* the first again (a stale duplicate) */
	const bool want_ok[6] = { true, false, false, false, false, true };
	ck_assert_int_eq(listen_batch(ctx, "order:cancelled", ev, 6, ok), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(ok[i] == want_ok[i], "event %d: ok=%d", i, ok[i]);
	const char *want[4] = { "cancelled|1", "created|0", "created|0", "created|0" };
	for (int i = 0; i < 4; i++) {
		PGresult *r = q(ctx, &SQL_REPLICA, (const char *const[]){ id[i] });
		char got[64];
		snprintf(got, sizeof(got), "%s|%s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		ck_assert_str_eq(got, want[i]);
	}
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev[3]), 0); /* refunded alone */
	PGresult *r = q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id[3] });
	ck_assert_msg(strncmp(PQgetvalue(r, 0, 3), "re_", 3) == 0, "refund id '%s'",
		      PQgetvalue(r, 0, 3));
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev[4]), TX_EV_RETRY);
}
END_TEST

START_TEST(pay_test_provider)
{
	char id[37], user[37], other[37];
	struct payments_outcome out;
	fs_uuid(id);
	fs_uuid(user);
	fs_uuid(other);
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), -TX_E_NOT_FOUND);
	ck_assert_int_eq(payments_pay(ctx, user, "abc", "tok_visa", &out), -TX_E_BAD_REQUEST);
	seed(id, user, "1099", "created", "60");
	ck_assert_int_eq(payments_pay(ctx, other, id, "tok_visa", &out), -TX_E_NOT_AUTHORIZED);
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_chargeDeclined", &out), 0);
	ck_assert_str_eq(out.refusal, "Your card was declined.");
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_EVENTS_OF, (const char *const[]){ id })), 0);
	/* Another card after a decline: a new key, so it charges. */
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_ptr_null(out.refusal);
	ck_assert_ptr_nonnull(out.payment_id);
	PGresult *r = q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), out.payment_id);
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "1099");
	char *want = NULL;
	ck_assert_int_ge(asprintf(&want, "{\"id\" : \"%s\", \"orderId\" : \"%s\", "
				  "\"stripeId\" : \"%s\"}", out.payment_id, id,
				  PQgetvalue(r, 0, 1)), 0);
	r = q(ctx, &SQL_EVENTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), want);
	free(want);
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_str_eq(out.refusal, PAY_MSG_PAID);
}
END_TEST

START_TEST(pay_refusals)
{
	char id[37], user[37];
	struct payments_outcome out;
	fs_uuid(user);
	fs_uuid(id);
	seed(id, user, "2000", "cancelled", "60");
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_str_eq(out.refusal, PAY_MSG_CANCELLED);
	fs_uuid(id);
	seed(id, user, "2000", "created", "60");
	ck_assert_int_eq(payments_pay(ctx, user, id, "", &out), 0);
	ck_assert_str_eq(out.refusal, PAY_MSG_NO_CARD);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id })), 0);
	fs_uuid(id);
	seed(id, user, "2000", "created", "-1");
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_str_eq(out.refusal, PAY_MSG_EXPIRED);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
}
END_TEST

/* The pay path with the Stripe client: a timeout is a 503 with nothing
 * stored; the retry reuses the key and records the one charge. */
START_TEST(pay_stripe_timeout_then_retry)
{
	char id[37], user[37];
	struct payments_outcome out;
	fs_uuid(id);
	fs_uuid(user);
	seed(id, user, "2000", "created", "60");
	stripe_cfg.stripe_timeout_ms = 300;
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_fake_delay_800", &out),
			 -TX_E_UNAVAILABLE);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	usleep(900 * 1000);
	stripe_cfg.stripe_timeout_ms = 2000;
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_fake_delay_800", &out), 0);
	ck_assert_ptr_nonnull(out.payment_id);
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	PGresult *r = q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 1), fs_jstr(cs[0], "id"));
	json_object_put(root);
}
END_TEST

START_TEST(pay_stripe_declined)
{
	char id[37], user[37];
	struct payments_outcome out;
	fs_uuid(id);
	fs_uuid(user);
	seed(id, user, "2000", "created", "60");
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_chargeDeclined", &out), 0);
	ck_assert_str_eq(out.refusal, "Your card was declined.");
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_EVENTS_OF, (const char *const[]){ id })), 0);
	PGresult *r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "declined");
	ck_assert_str_eq(PQgetvalue(r, 0, 3), "t"); /* token cleared */
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_ptr_nonnull(out.payment_id);
	r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 2); /* a new key for the second card */
	ck_assert_str_eq(PQgetvalue(r, 1, 0), "charged");
}
END_TEST

struct pay_arg {
	const char *id, *user, *token;
	int rc;
	struct payments_outcome out;
	char payment[40];
};

static void *pay_thread(void *p)
{
	struct pay_arg *a = p;
	struct tx_ctx *c = ctx_new(&stripe_cfg);
	a->rc = payments_pay(c, a->user, a->id, a->token, &a->out);
	if (a->rc == 0 && a->out.payment_id)
		snprintf(a->payment, sizeof(a->payment), "%s", a->out.payment_id);
	ctx_free(c);
	return NULL;
}

/* A payer whose charge takes 1.2 s at the fake, on a fresh order; the
 * caller cancels the order while it waits. */
static void start_slow_payer(char id[37], char user[37], struct pay_arg *a, pthread_t *t)
{
	fs_uuid(id);
	fs_uuid(user);
	seed(id, user, "2000", "created", "60");
	*a = (struct pay_arg){ id, user, "tok_fake_delay_1200", -1, { 0 }, "" };
	ck_assert_int_eq(pthread_create(t, NULL, pay_thread, a), 0);
	usleep(400 * 1000); /* the payer waits on the fake */
}

/* The payer found the order cancelled and gave its own charge back:
 * the contract's refusal, no payment, the attempt settled as refunded
 * (token cleared), the one charge refunded at the fake. */
static void assert_payer_refunded(const char *id, pthread_t t, const struct pay_arg *a)
{
	pthread_join(t, NULL);
	ck_assert_int_eq(a->rc, 0);
	ck_assert_ptr_nonnull(a->out.refusal);
	ck_assert_str_eq(a->out.refusal, PAY_MSG_CANCELLED);
	ck_assert_int_eq(a->payment[0], '\0');
	PGresult *r = q(ctx, &SQL_REPLICA, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "cancelled");
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "refunded");
	ck_assert_msg(strncmp(PQgetvalue(r, 0, 2), "re_", 3) == 0, "refund id '%s'",
		      PQgetvalue(r, 0, 2));
	ck_assert_str_eq(PQgetvalue(r, 0, 3), "t");
	struct json_object *root, *cs[8], *v;
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	ck_assert(json_object_object_get_ex(cs[0], "refunded", &v) && json_object_get_boolean(v));
	json_object_put(root);
}

/* The order is cancelled while the provider is charging: no row lock is
 * held during the call, so the cancellation commits at once; the payer
 * then finds the order cancelled, refunds the charge and answers with the
 * contract's refusal. Net: cancelled, charge refunded, no payment. */
START_TEST(pay_cancelled_during_charge_is_refunded)
{
	char id[37], user[37], ev[256];
	struct pay_arg a;
	pthread_t t;
	start_slow_payer(id, user, &a, &t);
	snprintf(ev, sizeof(ev), "{\"id\":\"%s\",\"version\":1,\"ticket\":{\"id\":\"x\"}}", id);
	int64_t t0 = tx_now_us();
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), 0);
	ck_assert_msg(tx_now_us() - t0 < 300 * 1000, "the cancellation waited on the payer");
	assert_payer_refunded(id, t, &a);
	/* A redelivered cancellation refunds nothing more. */
	ck_assert_int_eq(listen_(ctx, "order:cancelled", ev), 0);
}
END_TEST

/* A charge made by a request that then died (the provider charged, the
 * database never heard): the attempt it committed first is all there is.
 * Charge at the fake under the attempt's key, as the dead request did. */
TX_STMT(SQL_OPEN_ATTEMPT_SEED, 4,
	"INSERT INTO payments.charge_attempts "
	"(idempotency_key, order_id, amount_cents, token) VALUES ($1, $2, $3, $4)");

static void crashed_after_charge(const char *status, char id[37], char user[37],
				 char charge[128])
{
	char key[128];
	struct payments_result r;
	fs_uuid(id);
	fs_uuid(user);
	seed(id, user, "2000", status, "60");
	snprintf(key, sizeof(key), "pay-%s-2000-0", id);
	q(ctx, &SQL_OPEN_ATTEMPT_SEED, (const char *const[]){ key, id, "2000", "tok_visa" });
	ck_assert_int_eq(stripe_charge("tok_visa", 2000, id, key, &r), PAY_OK);
	snprintf(charge, 128, "%s", r.id);
}

static int settle_open(void)
{
	int n = -1;
	/* Every open attempt, however young (the stack's own settler waits
	 * PAYMENT_SETTLE_AFTER_MS, 5 s under make test, before it looks). */
	ck_assert_int_eq(payments_settle_open(ctx, 0, 1000, &n), 0);
	return n;
}

/* The settler records the charge of a crashed request, exactly once. */
START_TEST(settler_records_orphan_charge)
{
	char id[37], user[37], charge[128];
	crashed_after_charge("created", id, user, charge);
	ck_assert_int_ge(settle_open(), 1);
	PGresult *r = q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_str_eq(PQgetvalue(r, 0, 1), charge);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_EVENTS_OF, (const char *const[]){ id })), 1);
	r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "charged");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), charge);
	settle_open(); /* nothing left of it: no second payment */
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 1);
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	json_object_put(root);
	struct payments_outcome out;
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_visa", &out), 0);
	ck_assert_str_eq(out.refusal, PAY_MSG_PAID);
}
END_TEST

/* The order was cancelled before anyone came back: the charge is refunded. */
START_TEST(settler_refunds_orphan_charge_of_cancelled_order)
{
	char id[37], user[37], charge[128];
	crashed_after_charge("cancelled", id, user, charge);
	ck_assert_int_ge(settle_open(), 1);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	PGresult *r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "refunded");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), charge);
	struct json_object *root, *cs[8], *v;
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	ck_assert(json_object_object_get_ex(cs[0], "refunded", &v) && json_object_get_boolean(v));
	json_object_put(root);
}
END_TEST

/* The customer comes back before the settler: their request replays the
 * open attempt (its key, its token) and records the one charge. */
START_TEST(pay_replays_open_attempt)
{
	char id[37], user[37], charge[128];
	crashed_after_charge("created", id, user, charge);
	struct payments_outcome out;
	ck_assert_int_eq(payments_pay(ctx, user, id, "tok_mastercard", &out), 0);
	ck_assert_ptr_nonnull(out.payment_id);
	PGresult *r = q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id });
	ck_assert_str_eq(PQgetvalue(r, 0, 1), charge);
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	json_object_put(root);
}
END_TEST

/* An attempt whose order is being paid right now is left to its payer. */
START_TEST(settler_skips_order_being_paid)
{
	char id[37], user[37], charge[128];
	crashed_after_charge("created", id, user, charge);
	struct tx_ctx *payer = ctx_new(&stripe_cfg);
	ck_assert_int_eq(payments_pay_lock(payer, id, false), 0);
	settle_open();
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 0);
	PGresult *r = q(ctx, &SQL_ATTEMPTS_OF, (const char *const[]){ id });
	ck_assert_int_eq(PQgetisnull(r, 0, 0), 1); /* still open */
	payments_pay_unlock(payer, id);
	ctx_free(payer);
	ck_assert_int_ge(settle_open(), 1);
	ck_assert_int_eq(PQntuples(q(ctx, &SQL_PAYMENTS_OF, (const char *const[]){ id })), 1);
}
END_TEST

/* The same race with the cancellation in a batch: no row lock is held
 * while the provider works, so the batch cancels at once; the payer then
 * finds the order cancelled and refunds its charge itself. */
START_TEST(pay_cancelled_during_charge_batch)
{
	char id[37], user[37], ev[1][256];
	bool ok[1];
	struct pay_arg a;
	pthread_t t;
	start_slow_payer(id, user, &a, &t);
	cancelled_json(ev[0], id, 1);
	ck_assert_int_eq(listen_batch(ctx, "order:cancelled", ev, 1, ok), 0);
	ck_assert(ok[0]);
	assert_payer_refunded(id, t, &a);
}
END_TEST

/* Concurrent payers of one order through the pay path: one charge. */
START_TEST(pay_stripe_concurrent_once)
{
	enum { N = 8 };
	char id[37], user[37];
	fs_uuid(id);
	fs_uuid(user);
	seed(id, user, "2000", "created", "60");
	pthread_t t[N];
	struct pay_arg a[N];
	for (int i = 0; i < N; i++) {
		a[i] = (struct pay_arg){ id, user, "tok_fake_delay_100", -1, { 0 }, "" };
		ck_assert_int_eq(pthread_create(&t[i], NULL, pay_thread, &a[i]), 0);
	}
	int paid = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].rc, 0);
		paid += a[i].payment[0] != '\0';
		refused += a[i].out.refusal && strcmp(a[i].out.refusal, PAY_MSG_PAID) == 0;
	}
	ck_assert_int_eq(paid, 1);
	ck_assert_int_eq(refused, N - 1);
	struct json_object *root, *cs[8];
	ck_assert_int_eq(fs_charges(id, &root, cs), 1);
	json_object_put(root);
}
END_TEST

Suite *suite_payments(void)
{
	Suite *s = suite_create("payments");
	TCase *tc = tcase_create("test provider");
	tcase_add_loop_test(tc, test_provider_tokens, 0, sizeof(tokens) / sizeof(*tokens));
	tcase_add_test(tc, test_provider_idempotency);
	tcase_add_test(tc, test_provider_idempotency_threads);
	tcase_add_test(tc, provider_choice);
	suite_add_tcase(s, tc);

	tc = tcase_create("stripe client");
	tcase_add_checked_fixture(tc, stripe_setup, NULL);
	tcase_add_test(tc, stripe_charge_request);
	tcase_add_test(tc, stripe_declines);
	tcase_add_test(tc, stripe_bad_key_and_500);
	tcase_add_test(tc, stripe_timeout_then_retry);
	tcase_add_test(tc, stripe_refund);
	suite_add_tcase(s, tc);

	tc = tcase_create("listeners and pay path");
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_add_test(tc, listener_order_created);
	tcase_add_loop_test(tc, listener_order_created_batch_as_one_by_one, 0, 2);
	tcase_add_test(tc, listener_order_created_failed_batch_rolls_back);
	tcase_add_test(tc, listener_order_cancelled);
	tcase_add_test(tc, listener_order_cancelled_batch);
	tcase_add_test(tc, pay_test_provider);
	tcase_add_test(tc, pay_refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("pay path with stripe");
	tcase_add_checked_fixture(tc, db_stripe_setup, db_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pay_stripe_timeout_then_retry);
	tcase_add_test(tc, pay_stripe_declined);
	tcase_add_test(tc, pay_cancelled_during_charge_is_refunded);
	tcase_add_test(tc, pay_cancelled_during_charge_batch);
	tcase_add_test(tc, pay_stripe_concurrent_once);
	tcase_add_test(tc, settler_records_orphan_charge);
	tcase_add_test(tc, settler_refunds_orphan_charge_of_cancelled_order);
	tcase_add_test(tc, pay_replays_open_attempt);
	tcase_add_test(tc, settler_skips_order_being_paid);
	suite_add_tcase(s, tc);
	return s;
}
