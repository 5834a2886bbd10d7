/* db.h: the database wrapper: one libpq connection per thread, prepared
 * statements only, SQLSTATEs mapped to our errors.
 *
 * Statements are named constants (TX_STMT) prepared lazily on each
 * connection the first time they run, then executed with PQexecPrepared:
 * parameters only, never SQL built from input.
 *
 * Failure mapping (the log gets the SQLSTATE and libpq message through
 * ctx->db_error; the client never sees them):
 *   connection lost / server down / 57P0x  -> -TX_E_UNAVAILABLE (503)
 *   25006 read-only (demoted primary)      -> -TX_E_UNAVAILABLE (503)
 *   class 22 (data exception: malformed uuid, bad number)  -> BAD_REQUEST
 *   23505 unique violation                 -> -TX_E_CONFLICT
 *   23514 check violation, 23502 not null  -> BAD_REQUEST
 *   40001 serialization, 40P01 deadlock, 55P03 lock -> BAD_REQUEST
 *   anything else                          -> -TX_E_INTERNAL (500)
 *
 * A lost connection is re-established by itself: each call first makes
 * sure the connection is up (at most one attempt per second, connect
 * timeout 2 s, so a database that is down costs a request milliseconds,
 * not a hang). Before the first statement outside a transaction it also
 * looks whether the server hung up on the idle connection (a restart, a
 * failover): then the statement goes to a fresh connection, never having
 * been sent on the dead one.
 *
 * Failover. The conninfo may list several hosts ("host=pg1,pg2
 * port=5432,5432 ..."): every connection asks for a read-write session
 * (target_session_attrs=read-write unless the conninfo says otherwise), so
 * after a promotion the next connect finds the new primary. A connection
 * that lands on a server which no longer takes writes (25006, a demoted
 * primary) is dropped like a lost one. Defaults, all overridable in the
 * conninfo: connect_timeout=2, keepalives every second after 2 s idle, and
 * tcp_user_timeout=3000, so a vanished host is noticed in about 5 s.
 *
 * Nothing that may have taken effect is sent twice: a statement whose
 * connection died after it was sent (a COMMIT, a write in autocommit)
 * answers -TX_E_UNAVAILABLE (503) at once, its outcome unknown; only a
 * statement that surely did not run (never sent, refused with 25006, or a
 * BEGIN) is tried once more on a fresh connection.
 */
#ifndef TX_DB_H
#define TX_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

struct tx_arena;
struct tx_ctx;

struct tx_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

#define TX_STMT(id, nparams, sql) \
	static const struct tx_stmt id = { #id, sql, nparams }

struct tx_db;

struct tx_db *tx_db_new(const char *conninfo);
void tx_db_free(struct tx_db *db);
/* Connect now (start-up check); 0 or -TX_E_UNAVAILABLE. */
int tx_db_connect(struct tx_db *db, char *err, size_t errlen);

/* Run st with params (NULL entries are SQL NULL). On success *out (if
 * given) is a PGresult released with the request's arena. */
int tx_db_exec(struct tx_ctx *ctx, const struct tx_stmt *st,
	       const char *const *params, PGresult **out);
/* Like tx_db_exec, but st is never prepared: it goes with its parameters
 * every time (PQexecParams), so Postgres plans it for those values. For
 * the few statements whose best plan depends on them, which a prepared
 * statement's generic plan cannot know: a search for a rare word wants
 * the trigram index, one for a common word the walk in page order.
 * Planning costs a fraction of a millisecond each time. */
int tx_db_exec_planned(struct tx_ctx *ctx, const struct tx_stmt *st,
		       const char *const *params, PGresult **out);
/* Like tx_db_exec, and 404 (-TX_E_NOT_FOUND) when no row came back. */
int tx_db_one(struct tx_ctx *ctx, const struct tx_stmt *st,
	      const char *const *params, PGresult **out);

int tx_db_begin(struct tx_ctx *ctx);
int tx_db_commit(struct tx_ctx *ctx);
void tx_db_rollback(struct tx_ctx *ctx);

/* The SQLSTATE of the last failure on this connection ("" if none). */
const char *tx_db_sqlstate(const struct tx_db *db);
/* The constraint name of the last failure ("" if none). */
const char *tx_db_constraint(const struct tx_db *db);

/* Whether s is a uuid in its 36-character text form (any case). */
bool tx_db_is_uuid(const char *s);
/* ids[0..n) as a Postgres array literal, "{id,id,...}", for a $n::uuid[]
 * parameter (set-based statements over a batch). From the arena; NULL if
 * one of them is not a uuid. */
char *tx_db_uuid_array(struct tx_arena *a, const char *const *ids, size_t n);

/* Plain SQL for scripts and tests (no parameters): 0 or negative. */
int tx_db_exec_script(struct tx_db *db, const char *sql);

#endif
