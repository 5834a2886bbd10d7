/* model.c: tickets.tickets, and the events its changes write to the
 * outbox in the same statement (so a write and its event commit together,
 * in one round trip). */
#include "tickets/tickets.h"
#include "core/arena.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/gencache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RETURNING lists TICKET_ROW; the statements answer TICKET_COLS. */
#define TICKET_ROW "id, title, price_cents, user_id, order_id, version, seq, sold_at"
#define TICKET_COLS                                                           \
	"id, title, price_cents, user_id, order_id, version, seq, "           \
	"sold_at IS NOT NULL"
#define TICKET_COLS_EV "id, version, title, price_cents, user_id, order_id"

TX_STMT(SQL_TICKET_CREATE, 3,
	"WITH t AS (INSERT INTO tickets.tickets (title, price_cents, user_id) "
	"VALUES ($1, $2, $3) RETURNING " TICKET_ROW "), "
	"e AS (INSERT INTO tickets.outbox (subject, data) "
	"SELECT 'ticket:created', tickets.ticket_event(" TICKET_COLS_EV ") FROM t) "
	"SELECT " TICKET_COLS " FROM t");
TX_STMT(SQL_TICKET_UPDATE, 4,
	"WITH t AS (UPDATE tickets.tickets "
	"SET title = $2, price_cents = $3, version = version + 1 "
	"WHERE id = $1 AND version = $4 AND order_id IS NULL "
	"RETURNING " TICKET_ROW "), "
	"e AS (INSERT INTO tickets.outbox (subject, data) "
	"SELECT 'ticket:updated', tickets.ticket_event(" TICKET_COLS_EV ") FROM t) "
	"SELECT " TICKET_COLS " FROM t");
TX_STMT(SQL_TICKET_BY_ID, 1,
	"SELECT " TICKET_COLS " FROM tickets.tickets WHERE id = $1");

void ticket_from_row(const PGresult *r, int i, struct ticket *t)
{
	t->id = PQgetvalue(r, i, 0);
	t->title = PQgetvalue(r, i, 1);
	t->price_cents = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	t->user_id = PQgetvalue(r, i, 3);
	t->order_id = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4);
	t->version = strtol(PQgetvalue(r, i, 5), NULL, 10);
	t->seq = strtoll(PQgetvalue(r, i, 6), NULL, 10);
	t->sold = PQgetvalue(r, i, 7)[0] == 't';
}

int tickets_create(struct tx_ctx *ctx, const char *title, int64_t cents,
		   const char *user_id, struct ticket *out)
{
	char c[24];
	snprintf(c, sizeof(c), "%lld", (long long)cents);
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_TICKET_CREATE,
			   (const char *const[]){ title, c, user_id }, &r);
	if (rc == 0) {
		ticket_from_row(r, 0, out);
		tx_gencache_bump(ctx->cache); /* committed: the list has changed */
	}
	return rc;
}

int tickets_get(struct tx_ctx *ctx, const char *id, struct ticket *out)
{
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_TICKET_BY_ID, (const char *const[]){ id }, &r);
	if (rc == 0)
		ticket_from_row(r, 0, out);
	return rc;
}

int tickets_update(struct tx_ctx *ctx, const char *id, long version,
		   const char *title, int64_t cents, struct ticket *out)
{
	char c[24], v[24];
	snprintf(c, sizeof(c), "%lld", (long long)cents);
	snprintf(v, sizeof(v), "%ld", version);
	PGresult *r;
	int rc = tx_db_one(ctx, &SQL_TICKET_UPDATE,
			   (const char *const[]){ id, title, c, v }, &r);
	if (rc == -TX_E_NOT_FOUND)
		return -TX_E_BAD_REQUEST; /* lost the race: the version moved on */
	if (rc == 0) {
		ticket_from_row(r, 0, out);
		tx_gencache_bump(ctx->cache); /* committed: the list has changed */
	}
	return rc;
}

static void json(struct tx_buf *b, const struct ticket *t, bool status)
{
	char price[32];
	tx_price_format(t->price_cents, price, sizeof(price));
	tx_buf_addlit(b, "{\"title\":\"");
	tx_buf_add_json_str(b, t->title);
	tx_buf_addlit(b, "\",\"price\":");
	tx_buf_adds(b, price);
	tx_buf_addlit(b, ",\"userId\":\"");
	tx_buf_adds(b, t->user_id); /* uuids from Postgres: nothing to escape */
	if (t->order_id) {
		tx_buf_addlit(b, "\",\"orderId\":\"");
		tx_buf_adds(b, t->order_id);
	}
	tx_buf_addlit(b, "\",\"version\":");
	tx_buf_add_int(b, t->version);
	tx_buf_addlit(b, ",\"id\":\"");
	tx_buf_adds(b, t->id);
	if (status) {
		tx_buf_addlit(b, "\",\"status\":\"");
		tx_buf_adds(b, ticket_status(t));
	}
	tx_buf_addlit(b, "\"}");
}

void ticket_json(struct tx_buf *b, const struct ticket *t)
{
	json(b, t, false);
}

void ticket_json_status(struct tx_buf *b, const struct ticket *t)
{
	json(b, t, true);
}

const char *ticket_status(const struct ticket *t)
{
	return t->sold ? "sold" : t->order_id ? "reserved" : "available";
}
