/* db.c: per-thread libpq connection with lazy prepared statements,
 * SQLSTATE mapping and self-healing reconnects; see db.h. */
#include "db.h"
#include "arena.h"
#include "errors.h"
#include "http.h"
#include "log.h"
#include "mem.h"

#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PREPARED 256 /* names "s0".."s255" */
#define RECONNECT_INTERVAL_US 1000000

struct tx_db {
	PGconn *conn;
	char conninfo[1024];
	const struct tx_stmt *prepared[MAX_PREPARED];
	size_t nprepared;
	int64_t last_attempt_us;
	bool in_tx;
	bool refused; /* the last failure: 25006, the statement did not run */
	char sqlstate[8];
	char constraint[64];
};

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

struct tx_db *tx_db_new(const char *conninfo)
{
	struct tx_db *db = tx_xcalloc(1, sizeof(*db));
	snprintf(db->conninfo, sizeof(db->conninfo), "%s", conninfo);
	return db;
}

static void drop(struct tx_db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	db->in_tx = false;
}

void tx_db_free(struct tx_db *db)
{
	if (!db)
		return;
	drop(db);
	free(db);
}

/* Our defaults come before the caller's conninfo (expanded from "dbname"),
 * which overrides any of them. A read-write session on whichever listed
 * host is the primary; a dead host costs 2 s at connect; an established
 * connection to a host that vanished (no RST: a partition, a powered-off
 * machine) is declared dead within about 5 s: a request it carries stays
 * unacknowledged for 3 s (tcp_user_timeout), or, idle or waiting for an
 * answer, keepalive probes from 2 s on go unanswered for 3 s. Unix sockets
 * ignore the TCP settings. */
static PGconn *connect_with_defaults(const char *conninfo)
{
	static const char *const keys[] = {
		"connect_timeout", "target_session_attrs", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"tcp_user_timeout", "dbname", NULL
	};
	const char *vals[] = { "2", "read-write", "1", "2", "1", "3", "3000",
			       conninfo, NULL };
	return PQconnectdbParams(keys, vals, 1);
}

static int open_conn(struct tx_db *db, char *err, size_t errlen)
{
	db->conn = connect_with_defaults(db->conninfo);
	db->last_attempt_us = tx_now_us(); /* after: an attempt can take 2 s */
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
		PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
		return 0;
	}
	snprintf(err, errlen, "connect: %s",
		 db->conn ? PQerrorMessage(db->conn) : "out of memory");
	drop(db);
	return -TX_E_UNAVAILABLE;
}

int tx_db_connect(struct tx_db *db, char *err, size_t errlen)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	drop(db);
	return open_conn(db, err, errlen);
}

/* Whether the server has hung up on an idle connection (a restart, a
 * failover, pg_terminate_backend): it sent its FATAL, then closes, so
 * there is something to read where nothing is expected (we LISTEN to
 * nothing; the FATAL may come well before the close, so any byte counts).
 * Checked before the first statement outside a transaction, this lets a
 * statement go to a fresh connection before it was ever sent, instead of
 * failing or being sent twice. */
static bool hung_up(PGconn *conn)
{
	struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
	return poll(&p, 1, 0) != 0; /* readable, closed, or an error */
}

/* Up, or one connection attempt per RECONNECT_INTERVAL_US at most. */
static int ensure(struct tx_db *db, char *err, size_t errlen)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
		if (db->in_tx || !hung_up(db->conn))
			return 0;
		db->last_attempt_us = 0; /* it hung up: reconnect at once */
	}
	drop(db);
	if (tx_now_us() - db->last_attempt_us < RECONNECT_INTERVAL_US) {
		snprintf(err, errlen, "database unavailable (retrying shortly)");
		return -TX_E_UNAVAILABLE;
	}
	return open_conn(db, err, errlen);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int map_sqlstate(const char *st)
{
	static const char *const bad_request[] = { "23514", "23502", "23503",
						   "40001", "40P01", "55P03" };
	if (starts(st, "08") || starts(st, "57P") || strcmp(st, "57014") == 0)
		return -TX_E_UNAVAILABLE;
	if (starts(st, "22"))
		return -TX_E_BAD_REQUEST;
	if (strcmp(st, "23505") == 0)
		return -TX_E_CONFLICT;
	for (size_t i = 0; i < sizeof(bad_request) / sizeof(*bad_request); i++)
		if (strcmp(st, bad_request[i]) == 0)
			return -TX_E_BAD_REQUEST;
	return -TX_E_INTERNAL;
}

/* Classify a failed result (r may be NULL); fills the error texts. A
 * connection that is gone, or that reached a server which no longer takes
 * writes (25006: a demoted primary, a standby), is dropped, and the next
 * statement connects afresh to whichever host is the primary now;
 * db->refused tells whether the statement surely did not run (25006). */
static int failure(struct tx_db *db, PGresult *r, char *err, size_t errlen)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *cn = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", st ? st : "");
	snprintf(db->constraint, sizeof(db->constraint), "%s", cn ? cn : "");
	snprintf(err, errlen, "%s %s", st ? st : "-",
		 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
	db->refused = strcmp(db->sqlstate, "25006") == 0;
	bool lost = !r || PQstatus(db->conn) != CONNECTION_OK || db->refused ||
		    starts(db->sqlstate, "08") || starts(db->sqlstate, "57P");
	if (r)
		PQclear(r);
	if (lost) {
		drop(db);
		db->last_attempt_us = 0; /* allow an immediate reconnect */
		return -TX_E_UNAVAILABLE;
	}
	return map_sqlstate(db->sqlstate); /* st died with PQclear(r) */
}

static bool ok_status(PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* "s<i>": the name of the i-th statement prepared on a connection
 * (i < MAX_PREPARED, so it fits in 8 bytes); by hand, once per query. */
static void stmt_name(char name[8], size_t i)
{
	char d[4], *p = d + sizeof(d);
	do
		*--p = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	size_t n = (size_t)(d + sizeof(d) - p);
	name[0] = 's';
	memcpy(name + 1, p, n);
	name[n + 1] = '\0';
}

static int prepare(struct tx_db *db, const struct tx_stmt *st, char name[8],
		   char *err, size_t errlen)
{
	for (size_t i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == st) {
			stmt_name(name, i);
			return 0;
		}
	if (db->nprepared == MAX_PREPARED) {
		snprintf(err, errlen, "too many prepared statements");
		return -TX_E_INTERNAL;
	}
	stmt_name(name, db->nprepared);
	PGresult *r = PQprepare(db->conn, name, st->sql, st->nparams, NULL);
	if (!r || !ok_status(r))
		return failure(db, r, err, errlen);
	PQclear(r);
	db->prepared[db->nprepared++] = st;
	return 0;
}

/* One try. *sent: whether the statement itself went to the server (a
 * failure before that, connecting or preparing, ran nothing). planned:
 * sent with its parameters and planned for them (PQexecParams) instead
 * of through the connection's prepared statement. */
static int exec_once(struct tx_db *db, const struct tx_stmt *st, bool planned,
		     const char *const *params, PGresult **out, char *err,
		     size_t errlen, bool *sent)
{
	char name[8];
	*sent = false;
	db->refused = false;
	int rc = ensure(db, err, errlen);
	if (rc == 0 && !planned)
		rc = prepare(db, st, name, err, errlen);
	if (rc < 0)
		return rc;
	*sent = true;
	PGresult *r = planned ? PQexecParams(db->conn, st->sql, st->nparams, NULL,
					     params, NULL, NULL, 0)
			      : PQexecPrepared(db->conn, name, st->nparams, params,
					       NULL, NULL, 0);
	if (!r || !ok_status(r))
		return failure(db, r, err, errlen);
	*out = r;
	return 0;
}

static void clear_result(void *r)
{
	PQclear(r);
}

TX_STMT(SQL_BEGIN, 0, "BEGIN");
TX_STMT(SQL_COMMIT, 0, "COMMIT");

/* Whether a statement that failed with its connection gone may go again,
 * once, on a fresh connection: only if it surely did not take effect.
 * Outside a transaction that is a statement never sent (the connection
 * died while preparing it), one refused as read-only (25006: it ran
 * nothing), or a BEGIN. Anything else that was sent may have committed
 * (a COMMIT, or a write in autocommit, whose answer was lost): the
 * caller answers 503 and the client decides, never a silent second run. */
static bool may_repeat(const struct tx_db *db, const struct tx_stmt *st,
		       bool in_tx, bool sent)
{
	if (in_tx || db->conn) /* in a transaction, or not a lost connection */
		return false;
	return !sent || db->refused || st == &SQL_BEGIN;
}

static int exec(struct tx_ctx *ctx, const struct tx_stmt *st, bool planned,
		const char *const *params, PGresult **out)
{
	struct tx_db *db = ctx->db;
	PGresult *r = NULL;
	bool in_tx = db->in_tx, sent;
	db->sqlstate[0] = db->constraint[0] = '\0';
	int rc = exec_once(db, st, planned, params, &r, ctx->db_error,
			   sizeof(ctx->db_error), &sent);
	if (rc == -TX_E_UNAVAILABLE && db->last_attempt_us == 0 &&
	    may_repeat(db, st, in_tx, sent))
		rc = exec_once(db, st, planned, params, &r, ctx->db_error,
			       sizeof(ctx->db_error), &sent);
	if (rc < 0)
		return rc;
	ctx->db_error[0] = '\0';
	tx_arena_defer(ctx->arena, clear_result, r);
	if (out)
		*out = r;
	return 0;
}

int tx_db_exec(struct tx_ctx *ctx, const struct tx_stmt *st,
	       const char *const *params, PGresult **out)
{
	return exec(ctx, st, false, params, out);
}

int tx_db_exec_planned(struct tx_ctx *ctx, const struct tx_stmt *st,
		       const char *const *params, PGresult **out)
{
	return exec(ctx, st, true, params, out);
}

int tx_db_one(struct tx_ctx *ctx, const struct tx_stmt *st,
	      const char *const *params, PGresult **out)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, st, params, &r);
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 0)
		return -TX_E_NOT_FOUND;
	if (out)
		*out = r;
	return 0;
}

int tx_db_begin(struct tx_ctx *ctx)
{
	int rc = tx_db_exec(ctx, &SQL_BEGIN, NULL, NULL);
	if (rc == 0)
		ctx->db->in_tx = true;
	return rc;
}

int tx_db_commit(struct tx_ctx *ctx)
{
	PGresult *r;
	int rc = tx_db_exec(ctx, &SQL_COMMIT, NULL, &r);
	ctx->db->in_tx = false;
	if (rc < 0)
		return rc;
	/* COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
	if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		snprintf(ctx->db_error, sizeof(ctx->db_error), "commit: %s",
			 PQcmdStatus(r));
		return -TX_E_INTERNAL;
	}
	return 0;
}

void tx_db_rollback(struct tx_ctx *ctx)
{
	struct tx_db *db = ctx->db;
	if (!db->conn) {
		db->in_tx = false;
		return;
	}
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(db->conn, "ROLLBACK");
		if (r)
			PQclear(r);
	}
	db->in_tx = false;
}

const char *tx_db_sqlstate(const struct tx_db *db)
{
	return db->sqlstate;
}

const char *tx_db_constraint(const struct tx_db *db)
{
	return db->constraint;
}

bool tx_db_is_uuid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

char *tx_db_uuid_array(struct tx_arena *a, const char *const *ids, size_t n)
{
	char *out = tx_arena_alloc(a, n * 37 + 3), *p = out;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (!tx_db_is_uuid(ids[i]))
			return NULL;
		if (i)
			*p++ = ',';
		memcpy(p, ids[i], 36);
		p += 36;
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

int tx_db_exec_script(struct tx_db *db, const char *sql)
{
	char err[256];
	if (ensure(db, err, sizeof(err)) < 0) {
		tx_log("error", "%s", err);
		return -TX_E_UNAVAILABLE;
	}
	PGresult *r = PQexec(db->conn, sql);
	if (!r || !ok_status(r)) {
		int rc = failure(db, r, err, sizeof(err));
		tx_log("error", "script: %s", err);
		return rc;
	}
	PQclear(r);
	return 0;
}
