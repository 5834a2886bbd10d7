/* model.c: orders.orders and the tickets replica. Each change writes its
 * event to orders.outbox in the same statement as the change. */
#include "orders/orders.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/money.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns read by row(): the order, then its ticket from the replica. */
#define ORDER_COLS                                                          \
	"o.id, o.user_id, o.status, orders.iso(o.expires_at), "             \
	"(extract(epoch FROM o.expires_at) * 1000)::bigint, o.version, "    \
	"t.id, t.title, t.price_cents, t.version"

#define ORDER_CANCELLED_EVENT                                               \
	"json_build_object('id', o.id, 'version', o.version, "              \
	"'ticket', json_build_object('id', o.ticket_id))"

TX_STMT(SQL_ORDER_CREATE, 3,
	"WITH t AS (SELECT id, title, price_cents, version FROM orders.tickets "
	"WHERE id = $2), "
	"o AS (INSERT INTO orders.orders (user_id, expires_at, ticket_id) "
	"SELECT $1, date_trunc('milliseconds', now()) + make_interval(secs => $3), "
	"t.id FROM t RETURNING *), "
	"e AS (INSERT INTO orders.outbox (subject, data) SELECT 'order:created', "
	"json_build_object('id', o.id, 'version', o.version, 'status', o.status, "
	"'userId', o.user_id, 'expiresAt', orders.iso(o.expires_at), "
	"'ticket', json_build_object('id', t.id, "
	"'price', trim_scale(t.price_cents / 100.0))) FROM o, t) "
	"SELECT " ORDER_COLS " FROM o, t");
TX_STMT(SQL_ORDER_BY_ID, 1,
	"SELECT " ORDER_COLS " FROM orders.orders o "
	"JOIN orders.tickets t ON t.id = o.ticket_id WHERE o.id = $1");
TX_STMT(SQL_ORDERS_OF_USER, 1,
	"SELECT " ORDER_COLS " FROM orders.orders o "
	"JOIN orders.tickets t ON t.id = o.ticket_id "
	"WHERE o.user_id = $1 ORDER BY o.seq");
/* Cancel a created or awaiting order; nothing happens to one already
 * cancelled or complete (the caller tells those apart). */
TX_STMT(SQL_ORDER_CANCEL, 1,
	"WITH o AS (UPDATE orders.orders SET status = 'cancelled', "
	"version = version + 1 WHERE id = $1 "
	"AND status IN ('created', 'awaiting:payment') RETURNING *), "
	"e AS (INSERT INTO orders.outbox (subject, data) "
	"SELECT 'order:cancelled', " ORDER_CANCELLED_EVENT " FROM o) "
	"SELECT " ORDER_COLS " FROM o JOIN orders.tickets t ON t.id = o.ticket_id");
TX_STMT(SQL_REPLICA_BY_ID, 1,
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, "
	"t.id, t.title, t.price_cents, t.version FROM orders.tickets t "
	"WHERE t.id = $1");

static void row(PGresult *r, int i, struct order *o)
{
	o->id = PQgetvalue(r, i, 0);
	o->user_id = PQgetvalue(r, i, 1);
	o->status = PQgetvalue(r, i, 2);
	o->expires_at = PQgetvalue(r, i, 3);
	o->expires_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
	o->version = strtol(PQgetvalue(r, i, 5), NULL, 10);
	o->ticket_id = PQgetvalue(r, i, 6);
	o->ticket_title = PQgetvalue(r, i, 7);
	o->ticket_cents = strtoll(PQgetvalue(r, i, 8), NULL, 10);
	o->ticket_version = strtol(PQgetvalue(r, i, 9), NULL, 10);
}

int orders_create(struct tx_ctx *ctx, const char *user_id, const char *ticket_id,
		  struct order *out)
{
	char window[24];
	snprintf(window, sizeof(window), "%ld", ctx->cfg->expiration_window_s);
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_ORDER_CREATE,
			   (const char *const[]){ user_id, ticket_id, window }, &r);
	if (rc == 0)
		row(r, 0, out);
	return rc;
}

int orders_get(struct tx_ctx *ctx, const char *id, struct order *out)
{
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_ORDER_BY_ID, (const char *const[]){ id }, &r);
	if (rc == 0)
		row(r, 0, out);
	return rc;
}

int orders_ticket(struct tx_ctx *ctx, const char *id, struct order *out)
{
	PGresult *r;
	memset(out, 0, sizeof(*out));
	int rc = tx_db_one(ctx, &SQL_REPLICA_BY_ID, (const char *const[]){ id }, &r);
	if (rc == 0)
		row(r, 0, out);
	return rc;
}

int orders_list(struct tx_ctx *ctx, const char *user_id, struct order **out,
		size_t *n)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_ORDERS_OF_USER, (const char *const[]){ user_id }, &r);
	if (rc < 0)
		return rc;
	*n = (size_t)PQntuples(r);
	*out = tx_arena_alloc(ctx->arena, (*n ? *n : 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		row(r, (int)i, &(*out)[i]);
	return 0;
}

int orders_cancel(struct tx_ctx *ctx, const char *id, struct order *out)
{
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_ORDER_CANCEL, (const char *const[]){ id }, &r);
	if (rc == 0)
		row(r, 0, out);
	return rc;
}

void order_json(struct tx_buf *b, const struct order *o)
{
	char price[32];
	tx_price_format(o->ticket_cents, price, sizeof(price));
	tx_buf_addf(b, "{\"userId\":\"%s\",\"status\":\"%s\",\"expiresAt\":\"%s\","
		       "\"ticket\":{\"title\":\"", o->user_id, o->status, o->expires_at);
	tx_buf_add_json_str(b, o->ticket_title);
	tx_buf_addf(b, "\",\"price\":%s,\"version\":%ld,\"id\":\"%s\"},"
		       "\"version\":%ld,\"id\":\"%s\"}",
		    price, o->ticket_version, o->ticket_id, o->version, o->id);
}
