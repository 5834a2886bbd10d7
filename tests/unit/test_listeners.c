/* test_listeners.c: the tickets and orders listeners against the real
 * Postgres (reference 9.4, 9.6 and the 9.10/11 fixes), called directly.
 *
 * Each test builds a struct tx_event by hand, runs the handler inside a
 * transaction as the runtime does (commit on 0, roll back otherwise) and
 * looks at the rows and at the outbox. "ack called" is a return of 0,
 * "does not call ack" is TX_EV_RETRY, "publish called" is an outbox row
 * with the subject and payload. The database is shared with the running
 * stack, so every test uses fresh ids; tickets are made through
 * tickets_create so that the events the relay forwards stay consistent
 * with the orders replica.
 */
#include <check.h>
#include <json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/events.h"
#include "core/http.h"
#include "core/json.h"
#include "orders/orders.h"
#include "tickets/tickets.h"

#define UUID_LEN 37

static struct tx_config cfg;
static struct tx_ctx ctx;
static PGconn *pg; /* a second connection, for looking at the results */

static void setup(void)
{
	const char *url = getenv("TEST_DATABASE_URL");
	ck_assert_msg(url && *url, "TEST_DATABASE_URL must be set (make test sets it)");
	memset(&cfg, 0, sizeof(cfg));
	cfg.expiration_window_s = 900;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.arena = tx_arena_new(4096);
	ctx.db = tx_db_new(url);
	pg = PQconnectdb(url);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
}

static void teardown(void)
{
	PQfinish(pg);
	pg = NULL;
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
}

/* ---- helpers ------------------------------------------------------------- */

static void new_uuid(char out[UUID_LEN])
{
	PGresult *r = PQexec(pg, "SELECT gen_random_uuid()");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
	snprintf(out, UUID_LEN, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* One query with up to 3 text parameters; the result is the caller's. */
static PGresult *q(const char *sql, const char *a, const char *b, const char *c)
{
	const char *p[3] = { a, b, c };
	int n = c ? 3 : b ? 2 : a ? 1 : 0;
	PGresult *r = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(pg));
	return r;
}

/* The first value of a one-row query, copied into out ("" for NULL). */
static void q_str(char *out, size_t cap, const char *sql, const char *a,
		  const char *b, const char *c)
{
	PGresult *r = q(sql, a, b, c);
	ck_assert_msg(PQntuples(r) == 1, "%s: %d rows", sql, PQntuples(r));
	snprintf(out, cap, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
}

static long q_long(const char *sql, const char *a, const char *b)
{
	char v[64];
	q_str(v, sizeof(v), sql, a, b, NULL);
	return strtol(v, NULL, 10);
}

static const struct tx_listener *find(const struct tx_listener *ls, size_t n,
				      const char *subject)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ls[i].subject, subject) == 0)
			return &ls[i];
	ck_abort_msg("no listener for %s", subject);
	return NULL;
}

/* Deliver data as subject to the listener, with event id `id` (a new
 * random one when NULL), as the runtime does: a transaction, the
 * handler, commit on 0 and roll back otherwise. Returns the handler's
 * result. */
static int deliver_id(const struct tx_listener *l, const char *id, const char *data)
{
	char eid[UUID_LEN];
	if (!id) {
		new_uuid(eid);
		id = eid;
	}
	struct tx_event ev = { .subject = l->subject, .id = id, .data = data };
	ck_assert_int_eq(tx_json_parse_object(ctx.arena, data, strlen(data), &ev.json), 0);
	ck_assert_int_eq(tx_db_begin(&ctx), 0);
	char err[256] = "";
	int rc = l->handle(&ctx, &ev, err, sizeof(err));
	if (rc == 0)
		ck_assert_int_eq(tx_db_commit(&ctx), 0);
	else
		tx_db_rollback(&ctx);
	tx_arena_reset(ctx.arena);
	return rc;
}

static int deliver(const struct tx_listener *l, const char *data)
{
	return deliver_id(l, NULL, data);
}

/* Deliver data[0..n) to the listener's batch form as the runtime does
 * (one transaction, fresh event ids, commit on 0), ok[] its verdicts. */
static int deliver_batch(const struct tx_listener *l, char *const *data, size_t n,
			 bool *ok)
{
	struct tx_event *evs = tx_arena_alloc(ctx.arena, n * sizeof(*evs));
	char (*ids)[UUID_LEN] = tx_arena_alloc(ctx.arena, n * UUID_LEN);
	char err[256] = "";
	ck_assert_ptr_nonnull(l->handle_batch);
	for (size_t i = 0; i < n; i++) {
		new_uuid(ids[i]);
		evs[i] = (struct tx_event){ l->subject, ids[i], data[i], NULL };
		ck_assert_int_eq(tx_json_parse_object(ctx.arena, data[i], strlen(data[i]),
						      &evs[i].json), 0);
		ok[i] = true;
	}
	ck_assert_int_eq(tx_db_begin(&ctx), 0);
	int rc = l->handle_batch(&ctx, evs, n, ok, err, sizeof(err));
	if (rc == 0)
		ck_assert_int_eq(tx_db_commit(&ctx), 0);
	else
		tx_db_rollback(&ctx);
	tx_arena_reset(ctx.arena);
	return rc;
}

/* Apply data[0..n) as the runtime would. One by one (batch false): each
 * in its own transaction, in order. As a batch (true): handle_batch in
 * one transaction (its verdicts must be want_ok), then each event it
 * refused alone, in order. rc[i]: the result of the event's (last)
 * delivery, 0 acked, TX_EV_RETRY or < 0 left pending. Both ways must end
 * in the same state: that is the batch contract (events.h). */
static void apply_all(const struct tx_listener *l, bool batch, char *const *data,
		      size_t n, const bool *want_ok, int *rc)
{
	bool *ok = calloc(n, sizeof(*ok));
	ck_assert_ptr_nonnull(ok);
	if (batch) {
		ck_assert_int_eq(deliver_batch(l, data, n, ok), 0);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(ok[i] == want_ok[i], "event %zu: ok=%d", i, ok[i]);
	}
	for (size_t i = 0; i < n; i++)
		rc[i] = batch && ok[i] ? 0 : deliver(l, data[i]);
	free(ok);
}

/* Hold a lock that the batch will wait for on pg (the statement sql, in a
 * transaction left open), with ctx's lock_timeout short: the batch's
 * statement fails as any statement can (a lock timeout, a deadlock, a
 * connection lost). release() rolls pg back and restores the timeout. */
static void hold(const char *sql, const char *a)
{
	PQclear(q("BEGIN", NULL, NULL, NULL));
	PQclear(q(sql, a, NULL, NULL));
	ck_assert_int_eq(tx_db_exec_script(ctx.db, "SET lock_timeout = '200ms'"), 0);
}

static void release(void)
{
	PQclear(q("ROLLBACK", NULL, NULL, NULL));
	ck_assert_int_eq(tx_db_exec_script(ctx.db, "RESET lock_timeout"), 0);
}

#define TICKETS(subject) find(tickets_listeners, tickets_nlisteners, (subject))
#define ORDERS(subject) find(orders_listeners, orders_nlisteners, (subject))

/* ---- tickets ------------------------------------------------------------ */

struct tk {
	char id[UUID_LEN], user[UUID_LEN];
};

/* A ticket {concert, 99} by a new user, through the model (ticket:created
 * in the outbox, as in life). */
static void make_ticket(struct tk *t)
{
	struct ticket row;
	new_uuid(t->user);
	ck_assert_int_eq(tickets_create(&ctx, "concert", 9900, t->user, &row), 0);
	snprintf(t->id, sizeof(t->id), "%s", row.id);
	tx_arena_reset(ctx.arena);
}

static char *order_created_json(const char *order, const char *ticket)
{
	char *s = malloc(512);
	ck_assert_ptr_nonnull(s);
	snprintf(s, 512,
		 "{\"id\":\"%s\",\"version\":0,\"status\":\"created\",\"userId\":"
		 "\"alskdfj\",\"expiresAt\":\"alskdjf\",\"ticket\":{\"id\":\"%s\","
		 "\"price\":99}}", order, ticket);
	return s;
}

static char *order_cancelled_json(const char *order, const char *ticket)
{
	char *s = malloc(256);
	ck_assert_ptr_nonnull(s);
	snprintf(s, 256, "{\"id\":\"%s\",\"version\":1,\"ticket\":{\"id\":\"%s\"}}",
		 order, ticket);
	return s;
}

/* order_id ("" when NULL) and version of a ticket. */
static long ticket_state(const char *id, char order[UUID_LEN])
{
	PGresult *r = q("SELECT order_id, version FROM tickets.tickets WHERE id = $1",
			id, NULL, NULL);
	ck_assert_int_eq(PQntuples(r), 1);
	snprintf(order, UUID_LEN, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	long v = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return v;
}

static long updates_of(const char *ticket)
{
	return q_long("SELECT count(*) FROM tickets.outbox WHERE subject = "
		      "'ticket:updated' AND data->>'id' = $1", ticket, NULL);
}

/* The payload of the last ticket:updated of a ticket (caller puts it). */
static struct json_object *last_update(const char *ticket)
{
	char data[1024];
	q_str(data, sizeof(data),
	      "SELECT data::text FROM tickets.outbox WHERE subject = 'ticket:updated' "
	      "AND data->>'id' = $1 ORDER BY id DESC LIMIT 1", ticket, NULL, NULL);
	struct json_object *o = json_tokener_parse(data);
	ck_assert_msg(o != NULL, "payload %s", data);
	return o;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static long jint(struct json_object *o, const char *key)
{
	struct json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return (long)json_object_get_int64(v);
}

/* Reference 9.4 tests 32-34: orderId set, acked, ticket:updated with
 * orderId == the event's id and the version bumped. */
START_TEST(order_created_locks_ticket)
{
	struct tk t;
	char order[UUID_LEN], held[UUID_LEN];
	make_ticket(&t);
	new_uuid(order);
	char *data = order_created_json(order, t.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), data), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 1);
	ck_assert_str_eq(held, order);
	ck_assert_int_eq(updates_of(t.id), 1);
	struct json_object *ev = last_update(t.id);
	ck_assert_str_eq(jstr(ev, "orderId"), order);
	ck_assert_str_eq(jstr(ev, "id"), t.id);
	ck_assert_str_eq(jstr(ev, "title"), "concert");
	ck_assert_str_eq(jstr(ev, "userId"), t.user);
	ck_assert_int_eq(jint(ev, "version"), 1);
	ck_assert_int_eq(jint(ev, "price"), 99);
	json_object_put(ev);
	free(data);
}
END_TEST

/* An order:created for a ticket that has not arrived: not acked. */
START_TEST(order_created_unknown_ticket_retries)
{
	char order[UUID_LEN], ticket[UUID_LEN];
	new_uuid(order);
	new_uuid(ticket);
	char *data = order_created_json(order, ticket);
	ck_assert_int_eq(deliver(TICKETS("order:created"), data), TX_EV_RETRY);
	free(data);
}
END_TEST

/* Reference 9.4 test 35: orderId cleared, acked, ticket:updated without
 * an orderId key. */
START_TEST(order_cancelled_unlocks_ticket)
{
	struct tk t;
	char order[UUID_LEN], held[UUID_LEN];
	make_ticket(&t);
	new_uuid(order);
	char *created = order_created_json(order, t.id);
	char *cancelled = order_cancelled_json(order, t.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created), 0);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancelled), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 2);
	ck_assert_str_eq(held, "");
	ck_assert_int_eq(updates_of(t.id), 2);
	struct json_object *ev = last_update(t.id);
	ck_assert_ptr_null(jstr(ev, "orderId"));
	ck_assert(!json_object_object_get_ex(ev, "orderId", NULL));
	ck_assert_int_eq(jint(ev, "version"), 2);
	ck_assert_str_eq(jstr(ev, "id"), t.id);
	ck_assert_str_eq(jstr(ev, "title"), "concert");
	json_object_put(ev);
	free(created);
	free(cancelled);
}
END_TEST

/* Reference 11.9: a stale cancellation of order A must not free a ticket
 * now held by order B. */
START_TEST(order_cancelled_of_other_order_no_effect)
{
	struct tk t;
	char a[UUID_LEN], b[UUID_LEN], held[UUID_LEN];
	make_ticket(&t);
	new_uuid(a);
	new_uuid(b);
	char *created = order_created_json(b, t.id);
	char *cancelled = order_cancelled_json(a, t.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created), 0);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancelled), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 1);
	ck_assert_str_eq(held, b);
	ck_assert_int_eq(updates_of(t.id), 1);
	free(created);
	free(cancelled);
}
END_TEST

/* The two subjects travel on different streams: an order:created that
 * arrives after its own order:cancelled must not lock the ticket. */
START_TEST(late_order_created_does_not_lock)
{
	struct tk t;
	char order[UUID_LEN], held[UUID_LEN];
	make_ticket(&t);
	new_uuid(order);
	char *created = order_created_json(order, t.id);
	char *cancelled = order_cancelled_json(order, t.id);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancelled), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 0);
	ck_assert_str_eq(held, "");
	ck_assert_int_eq(updates_of(t.id), 0);
	free(created);
	free(cancelled);
}
END_TEST

/* order:cancelled in a batch (one transaction), as one by one: a ticket
 * held by the cancelled order is unlocked with one ticket:updated; one
 * held by another order is left alone; a cancellation seen before its
 * order:created is remembered, so that order never locks; a ticket that
 * has not arrived, or ids that are not uuids, are refused (no effect) to
 * be retried alone. */
START_TEST(order_cancelled_batch_unlocks_held_tickets)
{
	struct tk held, other, early;
	char a[UUID_LEN], b[UUID_LEN], c[UUID_LEN], d[UUID_LEN], gone[UUID_LEN];
	char who[UUID_LEN];
	make_ticket(&held);
	make_ticket(&other);
	make_ticket(&early);
	new_uuid(a);
	new_uuid(b);
	new_uuid(c);
	new_uuid(d);
	new_uuid(gone);
	char *lock_a = order_created_json(a, held.id), *lock_b = order_created_json(b, other.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), lock_a), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), lock_b), 0);
	char *ev[5] = { order_cancelled_json(a, held.id), order_cancelled_json(c, other.id),
			order_cancelled_json(d, early.id), order_cancelled_json(a, gone),
			order_cancelled_json(a, "not-a-uuid") };
	const bool want_ok[5] = { true, true, true, false, false };
	bool ok[5];
	ck_assert_int_eq(deliver_batch(TICKETS("order:cancelled"), ev, 5, ok), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(ok[i] == want_ok[i], "event %d: ok=%d", i, ok[i]);
	ck_assert_int_eq(ticket_state(held.id, who), 2);
	ck_assert_str_eq(who, "");
	ck_assert_int_eq(updates_of(held.id), 2);
	struct json_object *u = last_update(held.id);
	ck_assert(!json_object_object_get_ex(u, "orderId", NULL));
	ck_assert_int_eq(jint(u, "version"), 2);
	json_object_put(u);
	ck_assert_int_eq(ticket_state(other.id, who), 1);
	ck_assert_str_eq(who, b);
	ck_assert_int_eq(updates_of(other.id), 1);
	char *late = order_created_json(d, early.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), late), 0);
	ck_assert_int_eq(ticket_state(early.id, who), 0);
	ck_assert_int_eq(updates_of(early.id), 0);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), ev[3]), TX_EV_RETRY);
	for (int i = 0; i < 5; i++)
		free(ev[i]);
	free(late);
	free(lock_a);
	free(lock_b);
}
END_TEST

/* Order B's order:created while A still holds the ticket (A's
 * cancellation is on its way): not applied, left for redelivery; once A's
 * cancellation is in, B locks. A duplicate of B's is then a no-op. */
START_TEST(order_created_waits_for_previous_cancellation)
{
	struct tk t;
	char a[UUID_LEN], b[UUID_LEN], held[UUID_LEN];
	make_ticket(&t);
	new_uuid(a);
	new_uuid(b);
	char *created_a = order_created_json(a, t.id);
	char *cancelled_a = order_cancelled_json(a, t.id);
	char *created_b = order_created_json(b, t.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created_a), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created_b), TX_EV_RETRY);
	ck_assert_int_eq(ticket_state(t.id, held), 1);
	ck_assert_str_eq(held, a);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancelled_a), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created_b), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 3);
	ck_assert_str_eq(held, b);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created_b), 0);
	ck_assert_int_eq(ticket_state(t.id, held), 3);
	ck_assert_int_eq(updates_of(t.id), 3);
	free(created_a);
	free(cancelled_a);
	free(created_b);
}
END_TEST

/* order:created, one by one (_i 0) and as a batch (_i 1), to the same
 * end: a free ticket goes to the first of its orders, with one
 * ticket:updated, and the next order for it waits (retry) for the
 * first's cancellation; the same order again is a no-op; an order for a
 * ticket held by another waits, for the ticket's own order is a no-op; a
 * cancelled order does not lock, and the ticket goes to the order after
 * it; an order may come back for another ticket; a ticket that has not
 * arrived waits; ids that are not uuids fail. Events 0, 1, 2 and 10 are
 * for one ticket: the first (a) wins, not the last. */
START_TEST(order_created_batch_as_one_by_one)
{
	struct tk t1, t2, t3, t4;
	char a[UUID_LEN], b[UUID_LEN], c[UUID_LEN], d[UUID_LEN], x[UUID_LEN],
		y[UUID_LEN], e[UUID_LEN], gone[UUID_LEN], who[UUID_LEN];
	make_ticket(&t1);
	make_ticket(&t2);
	make_ticket(&t3);
	make_ticket(&t4);
	char *ids[] = { a, b, c, d, x, y, e, gone };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		new_uuid(ids[i]);
	char *held_x = order_created_json(x, t3.id), *cancel_c = order_cancelled_json(c, t4.id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), held_x), 0);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancel_c), 0);
	char *ev[11] = { order_created_json(a, t1.id), order_created_json(b, t1.id),
			 order_created_json(a, t1.id), order_created_json(y, t3.id),
			 order_created_json(x, t3.id), order_created_json(c, t4.id),
			 order_created_json(d, t4.id), order_created_json(e, gone),
			 order_created_json(e, "not-a-uuid"), order_created_json(b, t2.id),
			 order_created_json(b, t1.id) };
	const bool want_ok[11] = { true, false, true, false, true, true, true, false,
				   false, true, false };
	int rc[11];
	apply_all(TICKETS("order:created"), _i, ev, 11, want_ok, rc);
	for (int i = 0; i < 11; i++)
		if (i == 8)
			ck_assert_msg(rc[i] < 0, "event 8: rc=%d", rc[i]);
		else
			ck_assert_msg(rc[i] == (want_ok[i] ? 0 : TX_EV_RETRY), "event %d: rc=%d",
				      i, rc[i]);
	const struct {
		const char *ticket, *order;
	} want[] = { { t1.id, a }, { t2.id, b }, { t3.id, x }, { t4.id, d } };
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ticket_state(want[i].ticket, who), 1);
		ck_assert_str_eq(who, want[i].order);
		ck_assert_int_eq(updates_of(want[i].ticket), 1);
		struct json_object *u = last_update(want[i].ticket);
		ck_assert_str_eq(jstr(u, "orderId"), want[i].order);
		ck_assert_int_eq(jint(u, "version"), 1);
		ck_assert_str_eq(jstr(u, "title"), "concert");
		ck_assert_int_eq(jint(u, "price"), 99);
		json_object_put(u);
	}
	for (int i = 0; i < 11; i++)
		free(ev[i]);
	free(held_x);
	free(cancel_c);
}
END_TEST

/* A batch of order:created whose statement fails (here: a lock it waits
 * for too long) leaves no effect at all, no lock and no ticket:updated;
 * its events then apply one by one. */
START_TEST(order_created_failed_batch_rolls_back)
{
	struct tk t1, t2;
	char a[UUID_LEN], b[UUID_LEN], who[UUID_LEN];
	bool ok[2];
	make_ticket(&t1);
	make_ticket(&t2);
	new_uuid(a);
	new_uuid(b);
	char *ev[2] = { order_created_json(a, t1.id), order_created_json(b, t2.id) };
	hold("SELECT 1 FROM tickets.tickets WHERE id = $1 FOR UPDATE", t2.id);
	ck_assert_int_lt(deliver_batch(TICKETS("order:created"), ev, 2, ok), 0);
	release();
	ck_assert_int_eq(ticket_state(t1.id, who), 0);
	ck_assert_str_eq(who, "");
	ck_assert_int_eq(updates_of(t1.id) + updates_of(t2.id), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), ev[0]), 0);
	ck_assert_int_eq(deliver(TICKETS("order:created"), ev[1]), 0);
	ck_assert_int_eq(ticket_state(t1.id, who), 1);
	ck_assert_str_eq(who, a);
	ck_assert_int_eq(ticket_state(t2.id, who), 1);
	ck_assert_str_eq(who, b);
	ck_assert_int_eq(updates_of(t1.id) + updates_of(t2.id), 2);
	free(ev[0]);
	free(ev[1]);
}
END_TEST

/* ---- orders: the tickets replica ------------------------------------------ */

static void replica_insert(const char *id, const char *title, const char *cents)
{
	PQclear(q("INSERT INTO orders.tickets (id, title, price_cents, version) "
		  "VALUES ($1, $2, $3, 0)", id, title, cents));
}

/* title|price_cents|version of a replica row, or "" when there is none. */
static void replica_row(const char *id, char *out, size_t cap)
{
	PGresult *r = q("SELECT title || '|' || price_cents || '|' || version "
			"FROM orders.tickets WHERE id = $1", id, NULL, NULL);
	snprintf(out, cap, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
}

static char *ticket_event(const char *id, int version, const char *title,
			  const char *price)
{
	char *s = malloc(512), user[UUID_LEN];
	ck_assert_ptr_nonnull(s);
	new_uuid(user);
	snprintf(s, 512, "{\"id\":\"%s\",\"version\":%d,\"title\":\"%s\","
			 "\"price\":%s,\"userId\":\"%s\"}", id, version, title, price, user);
	return s;
}

/* Reference 9.6 tests 45-46. */
START_TEST(ticket_created_makes_replica)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	char *data = ticket_event(id, 0, "concert", "10");
	ck_assert_int_eq(deliver(ORDERS("ticket:created"), data), 0);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "concert|1000|0");
	free(data);
}
END_TEST

/* A redelivered ticket:created has no second effect and is acked (the
 * original never acked it: reference 11.12). */
START_TEST(ticket_created_duplicate_acked)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	char *data = ticket_event(id, 0, "concert", "10.5");
	ck_assert_int_eq(deliver(ORDERS("ticket:created"), data), 0);
	ck_assert_int_eq(deliver(ORDERS("ticket:created"), data), 0);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "concert|1050|0");
	free(data);
}
END_TEST

/* ticket:created, one by one (_i 0) and as a batch (_i 1), to the same
 * end: each ticket inserted once, the first of two events for one ticket
 * wins (the second is a no-op), a ticket already replicated (and updated
 * since) is left alone; a malformed price and an id that is not a uuid
 * fail, with no effect. */
START_TEST(ticket_created_batch_as_one_by_one)
{
	char x[UUID_LEN], y[UUID_LEN], z[UUID_LEN], w[UUID_LEN], row[256];
	new_uuid(x);
	new_uuid(y);
	new_uuid(z);
	new_uuid(w);
	replica_insert(z, "old", "500");
	PQclear(q("UPDATE orders.tickets SET version = 2 WHERE id = $1", z, NULL, NULL));
	char *ev[6] = { ticket_event(x, 0, "concert", "10"), ticket_event(y, 0, "opera", "20.5"),
			ticket_event(x, 0, "other", "5"), ticket_event(z, 0, "new", "1"),
			ticket_event(w, 0, "bad price", "-1"),
			ticket_event("not-a-uuid", 0, "x", "1") };
	const bool want_ok[6] = { true, true, true, true, false, false };
	int rc[6];
	apply_all(ORDERS("ticket:created"), _i, ev, 6, want_ok, rc);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(want_ok[i] ? rc[i] == 0 : rc[i] < 0, "event %d: rc=%d", i, rc[i]);
	replica_row(x, row, sizeof(row));
	ck_assert_str_eq(row, "concert|1000|0");
	replica_row(y, row, sizeof(row));
	ck_assert_str_eq(row, "opera|2050|0");
	replica_row(z, row, sizeof(row));
	ck_assert_str_eq(row, "old|500|2");
	replica_row(w, row, sizeof(row));
	ck_assert_str_eq(row, "");
	for (int i = 0; i < 6; i++)
		free(ev[i]);
}
END_TEST

/* A batch of ticket:created whose statement fails (it waits too long for
 * another transaction's insert of one of its tickets) inserts nothing;
 * its events then apply one by one. */
START_TEST(ticket_created_failed_batch_rolls_back)
{
	char x[UUID_LEN], y[UUID_LEN], row[256];
	bool ok[2];
	new_uuid(x);
	new_uuid(y);
	char *ev[2] = { ticket_event(x, 0, "concert", "10"), ticket_event(y, 0, "opera", "20") };
	hold("INSERT INTO orders.tickets (id, title, price_cents, version) "
	     "VALUES ($1, 'held', 1, 0)", y);
	ck_assert_int_lt(deliver_batch(ORDERS("ticket:created"), ev, 2, ok), 0);
	release();
	replica_row(x, row, sizeof(row));
	ck_assert_str_eq(row, "");
	ck_assert_int_eq(deliver(ORDERS("ticket:created"), ev[0]), 0);
	ck_assert_int_eq(deliver(ORDERS("ticket:created"), ev[1]), 0);
	replica_row(x, row, sizeof(row));
	ck_assert_str_eq(row, "concert|1000|0");
	replica_row(y, row, sizeof(row));
	ck_assert_str_eq(row, "opera|2000|0");
	free(ev[0]);
	free(ev[1]);
}
END_TEST

/* Reference 9.6 tests 47-48. */
START_TEST(ticket_updated_applies_next_version)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	replica_insert(id, "concert", "2000");
	char *data = ticket_event(id, 1, "new concert", "999");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), data), 0);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "new concert|99900|1");
	free(data);
}
END_TEST

/* ticket:updated in a batch (one transaction): the next version applies
 * (its title escaped into the statement's JSON intact); a stale one is a
 * no-op; the one after the next (early), one for a ticket that has not
 * arrived and a malformed one are refused, with no effect, to be retried
 * alone, where the early one then applies in turn. */
START_TEST(ticket_updated_batch_applies_next_versions)
{
	char a[UUID_LEN], b[UUID_LEN], gone[UUID_LEN], row[256];
	new_uuid(a);
	new_uuid(b);
	new_uuid(gone);
	replica_insert(a, "concert", "2000");
	replica_insert(b, "opera", "3000");
	PQclear(q("UPDATE orders.tickets SET version = 3 WHERE id = $1", b, NULL, NULL));
	char *ev[6] = { ticket_event(a, 1, "Rock \\\"n\\\" <roll> caf\\u00e9", "10.5"),
			ticket_event(a, 2, "later", "11"), ticket_event(b, 3, "stale", "1"),
			ticket_event(b, 4, "opera night", "30"), ticket_event(gone, 1, "x", "1"),
			ticket_event(a, 2, "bad price", "-1") };
	const bool want_ok[6] = { true, false, true, true, false, false };
	bool ok[6];
	ck_assert_int_eq(deliver_batch(ORDERS("ticket:updated"), ev, 6, ok), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(ok[i] == want_ok[i], "event %d: ok=%d", i, ok[i]);
	replica_row(a, row, sizeof(row));
	ck_assert_str_eq(row, "Rock \"n\" <roll> caf\u00e9|1050|1");
	replica_row(b, row, sizeof(row));
	ck_assert_str_eq(row, "opera night|3000|4");
	replica_row(gone, row, sizeof(row));
	ck_assert_str_eq(row, "");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), ev[1]), 0);
	replica_row(a, row, sizeof(row));
	ck_assert_str_eq(row, "later|1100|2");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), ev[4]), TX_EV_RETRY);
	for (int i = 0; i < 6; i++)
		free(ev[i]);
}
END_TEST

/* Reference 9.6 test 49: version 10 after 0 is not acked, nothing changes. */
START_TEST(ticket_updated_skipped_version_retries)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	replica_insert(id, "concert", "2000");
	char *data = ticket_event(id, 10, "new concert", "999");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), data), TX_EV_RETRY);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "concert|2000|0");
	free(data);
}
END_TEST

/* An update before its ticket:created: not acked yet. */
START_TEST(ticket_updated_before_created_retries)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	char *data = ticket_event(id, 1, "new concert", "999");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), data), TX_EV_RETRY);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "");
	free(data);
}
END_TEST

/* A stale duplicate (that version is already applied) is acked with no
 * change, even if its fields differ. */
START_TEST(ticket_updated_stale_duplicate_acked)
{
	char id[UUID_LEN], row[256];
	new_uuid(id);
	replica_insert(id, "concert", "2000");
	char *v1 = ticket_event(id, 1, "new concert", "999");
	char *v1b = ticket_event(id, 1, "other", "5");
	char *v2 = ticket_event(id, 2, "second", "7");
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), v1), 0);
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), v2), 0);
	ck_assert_int_eq(deliver(ORDERS("ticket:updated"), v1b), 0);
	replica_row(id, row, sizeof(row));
	ck_assert_str_eq(row, "second|700|2");
	free(v1);
	free(v1b);
	free(v2);
}
END_TEST

/* ---- orders: expiry and payment ------------------------------------------- */

/* A ticket (in tickets and in the orders replica) and an order for it
 * made by the model, so that the running worker sees a consistent story
 * (order:created, then whatever these tests publish); then the status is
 * set behind the model's back when it is not "created". Version 0. */
static void make_order(const char *status, char out[UUID_LEN], char ticket[UUID_LEN])
{
	char user[UUID_LEN], seller[UUID_LEN];
	struct order o;
	new_uuid(ticket);
	new_uuid(user);
	new_uuid(seller);
	PQclear(q("WITH r AS (INSERT INTO orders.tickets (id, title, price_cents, version) "
		  "VALUES ($1, 'concert', 2000, 0)) "
		  "INSERT INTO tickets.tickets (id, title, price_cents, user_id) "
		  "VALUES ($1, 'concert', 2000, $2)", ticket, seller, NULL));
	ck_assert_int_eq(orders_create(&ctx, user, ticket, &o), 0);
	snprintf(out, UUID_LEN, "%s", o.id);
	tx_arena_reset(ctx.arena);
	if (strcmp(status, "created") != 0)
		PQclear(q("UPDATE orders.orders SET status = $2 WHERE id = $1", out, status, NULL));
}

static void order_status(const char *id, char *out, size_t cap)
{
	q_str(out, cap, "SELECT status || '|' || version FROM orders.orders WHERE id = $1",
	      id, NULL, NULL);
}

static long cancels_of(const char *order)
{
	return q_long("SELECT count(*) FROM orders.outbox WHERE subject = "
		      "'order:cancelled' AND data->>'id' = $1", order, NULL);
}

static char *expiration_json(const char *order)
{
	char *s = malloc(128);
	ck_assert_ptr_nonnull(s);
	snprintf(s, 128, "{\"orderId\":\"%s\"}", order);
	return s;
}

static char *payment_json(const char *order)
{
	char *s = malloc(256), pay[UUID_LEN];
	ck_assert_ptr_nonnull(s);
	new_uuid(pay);
	snprintf(s, 256, "{\"id\":\"%s\",\"orderId\":\"%s\",\"stripeId\":\"ch_test\"}",
		 pay, order);
	return s;
}

/* Reference 9.6 tests 50-52: cancelled, order:cancelled with the order's
 * id (version 1, ticket id), acked. */
START_TEST(expiration_cancels_created_order)
{
	char order[UUID_LEN], ticket[UUID_LEN], st[64], data[512];
	make_order("created", order, ticket);
	char *ev = expiration_json(order);
	ck_assert_int_eq(deliver(ORDERS("expiration:complete"), ev), 0);
	order_status(order, st, sizeof(st));
	ck_assert_str_eq(st, "cancelled|1");
	ck_assert_int_eq(cancels_of(order), 1);
	q_str(data, sizeof(data), "SELECT data::text FROM orders.outbox WHERE subject = "
	      "'order:cancelled' AND data->>'id' = $1", order, NULL, NULL);
	struct json_object *o = json_tokener_parse(data), *t;
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jstr(o, "id"), order);
	ck_assert_int_eq(jint(o, "version"), 1);
	ck_assert(json_object_object_get_ex(o, "ticket", &t));
	ck_assert_str_eq(jstr(t, "id"), ticket);
	json_object_put(o);
	free(ev);
}
END_TEST

/* "Don't cancel completed orders" (5.4), and reference 11.9: an expiry of
 * a cancelled order has no effect either. Both are acked, no event. */
static const char *const settled[] = { "complete", "cancelled" };

START_TEST(expiration_of_settled_order_no_effect)
{
	char order[UUID_LEN], ticket[UUID_LEN], st[64], want[64];
	make_order(settled[_i], order, ticket);
	char *ev = expiration_json(order);
	ck_assert_int_eq(deliver(ORDERS("expiration:complete"), ev), 0);
	order_status(order, st, sizeof(st));
	snprintf(want, sizeof(want), "%s|0", settled[_i]);
	ck_assert_str_eq(st, want);
	ck_assert_int_eq(cancels_of(order), 0);
	free(ev);
}
END_TEST

START_TEST(expiration_unknown_order_not_acked)
{
	char order[UUID_LEN];
	new_uuid(order);
	char *ev = expiration_json(order);
	ck_assert_int_ne(deliver(ORDERS("expiration:complete"), ev), 0);
	free(ev);
}
END_TEST

/* The expiry listener's batch form, as the runtime calls it (one
 * transaction): live orders are cancelled once each with their event,
 * settled ones are left alone, and the events it cannot apply (an order
 * that does not exist, an orderId that is not a uuid) are refused, with
 * no effect, to fail alone through the single handler. */
START_TEST(expiration_batch_cancels_only_live_orders)
{
	static const char *const status[] = { "created", "awaiting:payment", "complete",
					      "cancelled" };
	char o[4][UUID_LEN], t[4][UUID_LEN], unknown[UUID_LEN], st[64], data[512];
	for (int i = 0; i < 4; i++)
		make_order(status[i], o[i], t[i]);
	new_uuid(unknown);
	const char *order[7] = { o[0], o[1], o[2], o[3], unknown, "not-a-uuid", o[0] };
	const bool want_ok[7] = { true, true, true, true, false, false, true };
	char *json[7];
	bool ok[7];
	for (int i = 0; i < 7; i++)
		json[i] = expiration_json(order[i]);
	ck_assert_int_eq(deliver_batch(ORDERS("expiration:complete"), json, 7, ok), 0);
	for (int i = 0; i < 7; i++)
		ck_assert_msg(ok[i] == want_ok[i], "event %d (%s): ok=%d", i, order[i], ok[i]);
	const char *want[4] = { "cancelled|1", "cancelled|1", "complete|0", "cancelled|0" };
	for (int i = 0; i < 4; i++) {
		order_status(o[i], st, sizeof(st));
		ck_assert_str_eq(st, want[i]);
		ck_assert_int_eq(cancels_of(o[i]), i < 2 ? 1 : 0);
	}
	q_str(data, sizeof(data), "SELECT data::text FROM orders.outbox WHERE subject = "
	      "'order:cancelled' AND data->>'id' = $1", o[1], NULL, NULL);
	struct json_object *p = json_tokener_parse(data), *tk;
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(jint(p, "version"), 1);
	ck_assert(json_object_object_get_ex(p, "ticket", &tk));
	ck_assert_str_eq(jstr(tk, "id"), t[1]);
	json_object_put(p);
	/* the unknown order fails alone, as before: not acked */
	ck_assert_int_ne(deliver(ORDERS("expiration:complete"), json[4]), 0);
	for (int i = 0; i < 7; i++)
		free(json[i]);
}
END_TEST

/* 5.4.6 (no test in the original): payment:created marks it complete. */
START_TEST(payment_created_completes_order)
{
	char order[UUID_LEN], ticket[UUID_LEN], st[64];
	make_order("created", order, ticket);
	char *ev = payment_json(order);
	ck_assert_int_eq(deliver(ORDERS("payment:created"), ev), 0);
	order_status(order, st, sizeof(st));
	ck_assert_str_eq(st, "complete|1");
	ck_assert_int_eq(cancels_of(order), 0);
	/* ...and the expiry that follows leaves it complete. */
	char *exp = expiration_json(order);
	ck_assert_int_eq(deliver(ORDERS("expiration:complete"), exp), 0);
	order_status(order, st, sizeof(st));
	ck_assert_str_eq(st, "complete|1");
	ck_assert_int_eq(cancels_of(order), 0);
	free(exp);
	free(ev);
}
END_TEST

START_TEST(payment_created_for_cancelled_order)
{
	char order[UUID_LEN], ticket[UUID_LEN], st[64];
	make_order("cancelled", order, ticket);
	char *ev = payment_json(order);
	ck_assert_int_eq(deliver(ORDERS("payment:created"), ev), 0);
	order_status(order, st, sizeof(st));
	ck_assert_str_eq(st, "cancelled|0");
	free(ev);
}
END_TEST

/* payment:created, one by one (_i 0) and as a batch (_i 1), to the same
 * end: a created or awaiting order is completed once (a second payment
 * event for it is a no-op), a complete or cancelled one is left alone,
 * no order:cancelled anywhere; an order that does not exist, or an
 * orderId that is not a uuid, fails. */
START_TEST(payment_created_batch_as_one_by_one)
{
	static const char *const status[] = { "created", "awaiting:payment", "complete",
					      "cancelled" };
	char o[4][UUID_LEN], t[4][UUID_LEN], unknown[UUID_LEN], st[64];
	for (int i = 0; i < 4; i++)
		make_order(status[i], o[i], t[i]);
	new_uuid(unknown);
	const char *order[7] = { o[0], o[1], o[2], o[3], unknown, "not-a-uuid", o[0] };
	const bool want_ok[7] = { true, true, true, true, false, false, true };
	char *json[7];
	int rc[7];
	for (int i = 0; i < 7; i++)
		json[i] = payment_json(order[i]);
	apply_all(ORDERS("payment:created"), _i, json, 7, want_ok, rc);
	for (int i = 0; i < 7; i++)
		ck_assert_msg(want_ok[i] ? rc[i] == 0 : rc[i] < 0, "event %d: rc=%d", i, rc[i]);
	const char *want[4] = { "complete|1", "complete|1", "complete|0", "cancelled|0" };
	for (int i = 0; i < 4; i++) {
		order_status(o[i], st, sizeof(st));
		ck_assert_str_eq(st, want[i]);
		ck_assert_int_eq(cancels_of(o[i]), 0);
	}
	for (int i = 0; i < 7; i++)
		free(json[i]);
}
END_TEST

/* A batch of payment:created whose statement fails (an order locked too
 * long) completes nothing; its events then apply one by one. */
START_TEST(payment_created_failed_batch_rolls_back)
{
	char o[2][UUID_LEN], t[2][UUID_LEN], st[64];
	bool ok[2];
	make_order("created", o[0], t[0]);
	make_order("awaiting:payment", o[1], t[1]);
	char *json[2] = { payment_json(o[0]), payment_json(o[1]) };
	hold("SELECT 1 FROM orders.orders WHERE id = $1 FOR UPDATE", o[1]);
	ck_assert_int_lt(deliver_batch(ORDERS("payment:created"), json, 2, ok), 0);
	release();
	order_status(o[0], st, sizeof(st));
	ck_assert_str_eq(st, "created|0");
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(deliver(ORDERS("payment:created"), json[i]), 0);
		order_status(o[i], st, sizeof(st));
		ck_assert_str_eq(st, "complete|1");
		free(json[i]);
	}
}
END_TEST

/* ---- tickets: sold (payment:created) -------------------------------------- */

/* "order|sold|version" of a ticket: sold is t or f. */
static void sale_state(const char *ticket, char *out, size_t cap)
{
	q_str(out, cap, "SELECT coalesce(order_id::text, '') || '|' || "
			"(sold_at IS NOT NULL) || '|' || version FROM tickets.tickets "
			"WHERE id = $1", ticket, NULL, NULL);
}

/* A ticket locked by a new order (through the listener, as in life). */
static void make_held(struct tk *t, char order[UUID_LEN])
{
	make_ticket(t);
	new_uuid(order);
	char *created = order_created_json(order, t->id);
	ck_assert_int_eq(deliver(TICKETS("order:created"), created), 0);
	free(created);
}

/* The ticket held by the paid order is sold: sold_at set, no version
 * change, no event; a duplicate (another event id, as a republish would
 * not even make) changes nothing, sold_at included. */
START_TEST(payment_created_sells_held_ticket)
{
	struct tk t;
	char order[UUID_LEN], state[128], want[128], at[64], again[64];
	make_held(&t, order);
	char *ev = payment_json(order);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), ev), 0);
	sale_state(t.id, state, sizeof(state));
	snprintf(want, sizeof(want), "%s|true|1", order);
	ck_assert_str_eq(state, want);
	ck_assert_int_eq(updates_of(t.id), 1); /* the lock's only */
	q_str(at, sizeof(at), "SELECT sold_at FROM tickets.tickets WHERE id = $1", t.id,
	      NULL, NULL);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), ev), 0);
	q_str(again, sizeof(again), "SELECT sold_at FROM tickets.tickets WHERE id = $1",
	      t.id, NULL, NULL);
	ck_assert_str_eq(again, at);
	ck_assert_int_eq(updates_of(t.id), 1);
	free(ev);
}
END_TEST

/* payment:created before its order's order:created reached us (they
 * travel on different streams): not applied, left for redelivery, no
 * effect; once the lock is in, the sale goes through. */
START_TEST(payment_created_before_lock_retries)
{
	struct tk t;
	char order[UUID_LEN], state[128], want[128];
	make_ticket(&t);
	new_uuid(order);
	char *pay = payment_json(order), *created = order_created_json(order, t.id);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), pay), TX_EV_RETRY);
	sale_state(t.id, state, sizeof(state));
	ck_assert_str_eq(state, "|false|0");
	ck_assert_int_eq(deliver(TICKETS("order:created"), created), 0);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), pay), 0);
	sale_state(t.id, state, sizeof(state));
	snprintf(want, sizeof(want), "%s|true|1", order);
	ck_assert_str_eq(state, want);
	free(pay);
	free(created);
}
END_TEST

/* An order cancelled before its payment reached orders is refunded, not
 * sold: its payment:created after the cancellation is done with no
 * effect; a cancellation after the sale undoes it, and the ticket is for
 * sale again. */
START_TEST(payment_and_cancellation_either_order)
{
	struct tk t, u;
	char a[UUID_LEN], b[UUID_LEN], state[128];
	make_held(&t, a);
	char *cancel_a = order_cancelled_json(a, t.id), *pay_a = payment_json(a);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancel_a), 0);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), pay_a), 0);
	sale_state(t.id, state, sizeof(state));
	ck_assert_str_eq(state, "|false|2");
	make_held(&u, b);
	char *cancel_b = order_cancelled_json(b, u.id), *pay_b = payment_json(b);
	ck_assert_int_eq(deliver(TICKETS("payment:created"), pay_b), 0);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancel_b), 0);
	sale_state(u.id, state, sizeof(state));
	ck_assert_str_eq(state, "|false|2");
	ck_assert_int_eq(updates_of(u.id), 2);
	free(cancel_a);
	free(pay_a);
	free(cancel_b);
	free(pay_b);
}
END_TEST

/* payment:created one by one (_i 0) and as a batch (_i 1), to the same
 * end: held tickets sold (two payments of one order: once), an order
 * not locked yet waits, a cancelled order is done with nothing sold, an
 * orderId that is not a uuid fails. */
START_TEST(sold_batch_as_one_by_one)
{
	struct tk t1, t2, t3, t4;
	char a[UUID_LEN], b[UUID_LEN], c[UUID_LEN], d[UUID_LEN], state[128], want[128];
	make_held(&t1, a);
	make_held(&t2, b);
	make_held(&t3, c);
	make_ticket(&t4);
	new_uuid(d);
	char *cancel_c = order_cancelled_json(c, t3.id);
	ck_assert_int_eq(deliver(TICKETS("order:cancelled"), cancel_c), 0);
	char *ev[6] = { payment_json(a), payment_json(b), payment_json(c), payment_json(d),
			payment_json("not-a-uuid"), payment_json(a) };
	const bool want_ok[6] = { true, true, true, false, false, true };
	int rc[6];
	apply_all(TICKETS("payment:created"), _i, ev, 6, want_ok, rc);
	for (int i = 0; i < 6; i++)
		if (i == 4)
			ck_assert_msg(rc[i] < 0, "event 4: rc=%d", rc[i]);
		else
			ck_assert_msg(rc[i] == (want_ok[i] ? 0 : TX_EV_RETRY), "event %d: rc=%d",
				      i, rc[i]);
	snprintf(want, sizeof(want), "%s|true|1", a);
	sale_state(t1.id, state, sizeof(state));
	ck_assert_str_eq(state, want);
	snprintf(want, sizeof(want), "%s|true|1", b);
	sale_state(t2.id, state, sizeof(state));
	ck_assert_str_eq(state, want);
	sale_state(t3.id, state, sizeof(state));
	ck_assert_str_eq(state, "|false|2");
	sale_state(t4.id, state, sizeof(state));
	ck_assert_str_eq(state, "|false|0");
	for (int i = 0; i < 6; i++)
		free(ev[i]);
	free(cancel_c);
}
END_TEST

/* A batch of payment:created whose statement fails (here: a ticket
 * locked too long) sells nothing; its events then apply one by one. */
START_TEST(payment_created_failed_batch_sells_nothing)
{
	struct tk t1, t2;
	char a[UUID_LEN], b[UUID_LEN], state[128];
	bool ok[2];
	make_held(&t1, a);
	make_held(&t2, b);
	char *ev[2] = { payment_json(a), payment_json(b) };
	hold("SELECT 1 FROM tickets.tickets WHERE id = $1 FOR UPDATE", t2.id);
	ck_assert_int_lt(deliver_batch(TICKETS("payment:created"), ev, 2, ok), 0);
	release();
	sale_state(t1.id, state, sizeof(state));
	ck_assert_ptr_nonnull(strstr(state, "|false|1"));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(deliver(TICKETS("payment:created"), ev[i]), 0);
	sale_state(t1.id, state, sizeof(state));
	ck_assert_ptr_nonnull(strstr(state, "|true|1"));
	sale_state(t2.id, state, sizeof(state));
	ck_assert_ptr_nonnull(strstr(state, "|true|1"));
	free(ev[0]);
	free(ev[1]);
}
END_TEST

START_TEST(listener_tables)
{
	static const struct {
		const char *subject, *group, *schema;
		int tickets;
	} want[] = {
		{ "order:created", "tickets-service", "tickets", 1 },
		{ "order:cancelled", "tickets-service", "tickets", 1 },
		{ "payment:created", "tickets-service", "tickets", 1 },
		{ "ticket:created", "orders-service", "orders", 0 },
		{ "ticket:updated", "orders-service", "orders", 0 },
		{ "expiration:complete", "orders-service", "orders", 0 },
		{ "payment:created", "orders-service", "orders", 0 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct tx_listener *l =
			want[i].tickets ? TICKETS(want[i].subject) : ORDERS(want[i].subject);
		ck_assert_str_eq(l->group, want[i].group);
		ck_assert_str_eq(l->schema, want[i].schema);
		ck_assert_ptr_nonnull(l->handle);
		ck_assert_ptr_nonnull(l->handle_batch); /* all of them, in a burst */
	}
	ck_assert_uint_eq(tickets_nlisteners, 3);
	ck_assert_uint_eq(orders_nlisteners, 4);
}
END_TEST

Suite *suite_listeners(void)
{
	Suite *s = suite_create("listeners");
	TCase *tc = tcase_create("tickets");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, listener_tables);
	tcase_add_test(tc, order_created_locks_ticket);
	tcase_add_test(tc, order_created_unknown_ticket_retries);
	tcase_add_test(tc, order_cancelled_unlocks_ticket);
	tcase_add_test(tc, order_cancelled_of_other_order_no_effect);
	tcase_add_test(tc, late_order_created_does_not_lock);
	tcase_add_test(tc, order_created_waits_for_previous_cancellation);
	tcase_add_test(tc, order_cancelled_batch_unlocks_held_tickets);
	tcase_add_loop_test(tc, order_created_batch_as_one_by_one, 0, 2);
	tcase_add_test(tc, order_created_failed_batch_rolls_back);
	tcase_add_test(tc, payment_created_sells_held_ticket);
	tcase_add_test(tc, payment_created_before_lock_retries);
	tcase_add_test(tc, payment_and_cancellation_either_order);
	tcase_add_loop_test(tc, sold_batch_as_one_by_one, 0, 2);
	tcase_add_test(tc, payment_created_failed_batch_sells_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("orders");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ticket_created_makes_replica);
	tcase_add_test(tc, ticket_created_duplicate_acked);
	tcase_add_loop_test(tc, ticket_created_batch_as_one_by_one, 0, 2);
	tcase_add_test(tc, ticket_created_failed_batch_rolls_back);
	tcase_add_test(tc, ticket_updated_applies_next_version);
	tcase_add_test(tc, ticket_updated_skipped_version_retries);
	tcase_add_test(tc, ticket_updated_before_created_retries);
	tcase_add_test(tc, ticket_updated_stale_duplicate_acked);
	tcase_add_test(tc, ticket_updated_batch_applies_next_versions);
	tcase_add_test(tc, expiration_cancels_created_order);
	tcase_add_loop_test(tc, expiration_of_settled_order_no_effect, 0, 2);
	tcase_add_test(tc, expiration_unknown_order_not_acked);
	tcase_add_test(tc, expiration_batch_cancels_only_live_orders);
	tcase_add_test(tc, payment_created_completes_order);
	tcase_add_test(tc, payment_created_for_cancelled_order);
	tcase_add_loop_test(tc, payment_created_batch_as_one_by_one, 0, 2);
	tcase_add_test(tc, payment_created_failed_batch_rolls_back);
	suite_add_tcase(s, tc);
	return s;
}
