/* test_db.c: the libpq wrapper against a real Postgres (TEST_DATABASE_URL).
 *
 * Integration tests: they fail, not skip, when TEST_DATABASE_URL (the
 * superuser conninfo of the migrated database) is unset. Check forks per
 * test, so every test opens its own connections in the fixture. Rows of the
 * shared table carry a random tag so that concurrent runs do not collide.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/http.h"

TX_STMT(SQL_ECHO, 3, "SELECT $1::text, $2::text IS NULL, $3::int + 1");
TX_STMT(SQL_T_INSERT, 2, "INSERT INTO t (name, note) VALUES ($1, $2) RETURNING id");
TX_STMT(SQL_T_BY_NAME, 1, "SELECT name, note FROM t WHERE name = $1");
TX_STMT(SQL_T_COUNT, 0, "SELECT count(*) FROM t");
TX_STMT(SQL_UUID, 1, "SELECT $1::uuid");
TX_STMT(SQL_MISSING_TABLE, 0, "SELECT * FROM no_such_table_tx_db");
TX_STMT(SQL_PID, 0, "SELECT pg_backend_pid()");
TX_STMT(SQL_TERMINATE, 1, "SELECT pg_terminate_backend($1::int)");
TX_STMT(SQL_BACKEND_ALIVE, 1,
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int");
TX_STMT(SQL_ROW_INSERT, 2, "INSERT INTO public.tx_db_test (tag, v) VALUES ($1, $2)");
TX_STMT(SQL_ROW_COUNT, 1, "SELECT count(*) FROM public.tx_db_test WHERE tag = $1");
TX_STMT(SQL_ROW_DELETE, 1, "DELETE FROM public.tx_db_test WHERE tag = $1");
TX_STMT(SQL_ROW_INSERT_SLOW, 2,
	"INSERT INTO public.tx_db_test (tag, v) SELECT $1, $2 FROM pg_sleep(1)");

#define TEMP_TABLE                                                         \
	"SET client_min_messages = warning;"                               \
	"CREATE TEMP TABLE t (id serial PRIMARY KEY, name text NOT NULL "  \
	"CONSTRAINT t_name_key UNIQUE, note text)"
#define SHARED_TABLE                                                   \
	"SET client_min_messages = warning;"                           \
	"CREATE TABLE IF NOT EXISTS public.tx_db_test (tag text NOT NULL, " \
	"v text)"

/* Two connections: a (the one under test) and b (an observer). */
static struct tx_ctx a, b;
static char tag[40];

static const char *conninfo(void)
{
	const char *u = getenv("TEST_DATABASE_URL");
	ck_assert_msg(u && *u, "TEST_DATABASE_URL is not set: integration tests "
			       "need the migrated database (see scripts/test.sh)");
	return u;
}

static void ctx_open(struct tx_ctx *c, const char *info)
{
	memset(c, 0, sizeof(*c));
	c->arena = tx_arena_new(0);
	c->db = tx_db_new(info);
	c->request_id = "test-db";
}

static void ctx_close(struct tx_ctx *c)
{
	tx_arena_free(c->arena);
	tx_db_free(c->db);
}

static void setup(void)
{
	const char *info = conninfo();
	char err[256];
	ctx_open(&a, info);
	ctx_open(&b, info);
	ck_assert_msg(tx_db_connect(a.db, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(tx_db_connect(b.db, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(tx_db_exec_script(a.db, TEMP_TABLE), 0);
	snprintf(tag, sizeof(tag), "t%ld-%d-%ld", (long)getpid(), rand(),
		 (long)time(NULL));
}

static void teardown(void)
{
	ctx_close(&a);
	ctx_close(&b);
}

static const char *val(PGresult *r, int row, int col)
{
	ck_assert_int_gt(PQntuples(r), row);
	return PQgetvalue(r, row, col);
}

static long count(struct tx_ctx *c, const struct tx_stmt *st,
		  const char *const *params)
{
	PGresult *r;
	ck_assert_int_eq(tx_db_exec(c, st, params, &r), 0);
	return strtol(val(r, 0, 0), NULL, 10);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- statements --------------------------------------------------------- */

START_TEST(db_params_round_trip)
{
	PGresult *r;
	const char *p[] = { "it's \"quoted\" é 😀", NULL, "41" };
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ECHO, p, &r), 0);
	ck_assert_str_eq(val(r, 0, 0), p[0]);
	ck_assert_str_eq(val(r, 0, 1), "t");
	ck_assert_str_eq(val(r, 0, 2), "42");
	/* The same statement again, on the prepared copy. */
	const char *q[] = { "", "x", "-1" };
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ECHO, q, &r), 0);
	ck_assert_str_eq(val(r, 0, 0), "");
	ck_assert_int_eq(PQgetisnull(r, 0, 0), 0);
	ck_assert_str_eq(val(r, 0, 1), "f");
	ck_assert_str_eq(val(r, 0, 2), "0");
	ck_assert_str_eq(tx_db_sqlstate(a.db), "");
}
END_TEST

START_TEST(db_injection_stored_verbatim)
{
	static const char *const evil[] = {
		"Robert'); DROP TABLE t;--",
		"' OR '1'='1",
		"$1; SELECT pg_sleep(10)",
		"\\'; --",
	};
	PGresult *r;
	for (size_t i = 0; i < sizeof(evil) / sizeof(*evil); i++) {
		ck_assert_int_eq(tx_db_exec(&a, &SQL_T_INSERT,
					    (const char *const[]){ evil[i], NULL }, &r),
				 0);
		ck_assert_int_eq(tx_db_one(&a, &SQL_T_BY_NAME,
					   (const char *const[]){ evil[i] }, &r),
				 0);
		ck_assert_int_eq(PQntuples(r), 1);
		ck_assert_str_eq(val(r, 0, 0), evil[i]);
		ck_assert(PQgetisnull(r, 0, 1));
	}
	ck_assert_int_eq(count(&a, &SQL_T_COUNT, NULL), 4);
}
END_TEST

START_TEST(db_malformed_uuid_is_bad_request)
{
	PGresult *r = NULL;
	static const char *const bad[] = { "not-a-uuid", "", "1234",
					   "5f0c6a1e-2b3c-4d5e-6f70-81920000000g" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_int_eq(tx_db_exec(&a, &SQL_UUID,
					    (const char *const[]){ bad[i] }, &r),
				 -TX_E_BAD_REQUEST);
		ck_assert_str_eq(tx_db_sqlstate(a.db), "22P02");
		ck_assert_ptr_nonnull(strstr(a.db_error, "22P02"));
	}
	/* The connection is still fine, and the error state is cleared. */
	const char *good = "5f0c6a1e-2b3c-4d5e-6f70-819200000000";
	ck_assert_int_eq(tx_db_exec(&a, &SQL_UUID, (const char *const[]){ good }, &r),
			 0);
	ck_assert_str_eq(val(r, 0, 0), good);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "");
	ck_assert_str_eq(a.db_error, "");
}
END_TEST

START_TEST(db_unique_violation_is_conflict)
{
	const char *p[] = { "dup", "first" };
	ck_assert_int_eq(tx_db_exec(&a, &SQL_T_INSERT, p, NULL), 0);
	p[1] = "second";
	ck_assert_int_eq(tx_db_exec(&a, &SQL_T_INSERT, p, NULL), -TX_E_CONFLICT);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "23505");
	ck_assert_str_eq(tx_db_constraint(a.db), "t_name_key");
	ck_assert_int_eq(count(&a, &SQL_T_COUNT, NULL), 1);
	ck_assert_str_eq(tx_db_constraint(a.db), "");
}
END_TEST

START_TEST(db_other_failures)
{
	/* NOT NULL: a bad request, as the header says. */
	ck_assert_int_eq(tx_db_exec(&a, &SQL_T_INSERT,
				    (const char *const[]){ NULL, NULL }, NULL),
			 -TX_E_BAD_REQUEST);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "23502");
	/* Anything unexpected: internal. */
	ck_assert_int_eq(tx_db_exec(&a, &SQL_MISSING_TABLE, NULL, NULL),
			 -TX_E_INTERNAL);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "42P01");
	/* A number out of range: class 22. */
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ECHO,
				    (const char *const[]){ "x", NULL, "99999999999" },
				    NULL),
			 -TX_E_BAD_REQUEST);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "22003");
}
END_TEST

START_TEST(db_one_no_rows_is_not_found)
{
	PGresult *r = NULL;
	ck_assert_int_eq(tx_db_one(&a, &SQL_T_BY_NAME,
				   (const char *const[]){ "nobody" }, &r),
			 -TX_E_NOT_FOUND);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_T_INSERT,
				    (const char *const[]){ "somebody", "n" }, NULL),
			 0);
	ck_assert_int_eq(tx_db_one(&a, &SQL_T_BY_NAME,
				   (const char *const[]){ "somebody" }, &r),
			 0);
	ck_assert_str_eq(val(r, 0, 1), "n");
	ck_assert_int_eq(tx_db_one(&a, &SQL_T_BY_NAME,
				   (const char *const[]){ "somebody" }, NULL),
			 0);
}
END_TEST

/* ---- transactions ------------------------------------------------------- */

static void shared_table(void)
{
	/* CREATE TABLE IF NOT EXISTS can still race another run: try twice. */
	if (tx_db_exec_script(b.db, SHARED_TABLE) < 0)
		ck_assert_int_eq(tx_db_exec_script(b.db, SHARED_TABLE), 0);
}

START_TEST(db_commit_visible_rollback_invisible)
{
	const char *const t[] = { tag };
	shared_table();

	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT,
				    (const char *const[]){ tag, "1" }, NULL),
			 0);
	ck_assert_int_eq(count(&a, &SQL_ROW_COUNT, t), 1);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 0); /* not yet */
	ck_assert_int_eq(tx_db_commit(&a), 0);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 1);

	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT,
				    (const char *const[]){ tag, "2" }, NULL),
			 0);
	ck_assert_int_eq(count(&a, &SQL_ROW_COUNT, t), 2);
	tx_db_rollback(&a);
	ck_assert_int_eq(count(&a, &SQL_ROW_COUNT, t), 1);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 1);

	tx_db_rollback(&a); /* outside a transaction: harmless */
	ck_assert_int_eq(tx_db_exec(&b, &SQL_ROW_DELETE, t, NULL), 0);
}
END_TEST

/* COMMIT of an aborted transaction answers "ROLLBACK": that is a failure. */
static void commit_after_error(bool commit_prepared)
{
	const char *const t[] = { tag };
	shared_table();
	if (commit_prepared) { /* one good transaction first */
		ck_assert_int_eq(tx_db_begin(&a), 0);
		ck_assert_int_eq(tx_db_commit(&a), 0);
	}
	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT,
				    (const char *const[]){ tag, "x" }, NULL),
			 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_UUID,
				    (const char *const[]){ "nope" }, NULL),
			 -TX_E_BAD_REQUEST);
	ck_assert_int_lt(tx_db_commit(&a), 0);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 0);
	/* What the FastCGI loop does after every request. */
	tx_db_rollback(&a);
	ck_assert_int_eq(count(&a, &SQL_ROW_COUNT, t), 0);
}

START_TEST(db_commit_after_error_fails)
{
	commit_after_error(true);
}
END_TEST

START_TEST(db_commit_after_error_fails_first_tx)
{
	commit_after_error(false);
}
END_TEST

/* ---- lost connections ----------------------------------------------------- */

static long backend_pid(struct tx_ctx *c)
{
	return count(c, &SQL_PID, NULL);
}

/* Kill a's backend from b and wait until it is gone. */
static void kill_backend(long pid)
{
	char s[32];
	PGresult *r;
	snprintf(s, sizeof(s), "%ld", pid);
	ck_assert_int_eq(tx_db_exec(&b, &SQL_TERMINATE, (const char *const[]){ s },
				    &r),
			 0);
	ck_assert_str_eq(val(r, 0, 0), "t");
	for (int i = 0; i < 200; i++) {
		if (count(&b, &SQL_BACKEND_ALIVE, (const char *const[]){ s }) == 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("backend %ld still alive", pid);
}

START_TEST(db_reconnects_after_terminate)
{
	long pid = backend_pid(&a);
	ck_assert_int_gt(pid, 0);
	kill_backend(pid);
	/* Transparent: the idle connection is seen to be closed before the
	 * statement is sent; it goes to a new connection, prepared again. */
	long pid2 = backend_pid(&a);
	ck_assert_int_gt(pid2, 0);
	ck_assert_int_ne(pid2, pid);
	/* The temp table went with the old session: the statement cache
	 * must have been reset too (t's statements prepare afresh). */
	ck_assert_int_eq(tx_db_exec(&a, &SQL_T_COUNT, NULL, NULL), -TX_E_INTERNAL);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "42P01");
	kill_backend(pid2);
	PGresult *r;
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ECHO,
				    (const char *const[]){ "again", NULL, "1" }, &r),
			 0);
	ck_assert_str_eq(val(r, 0, 0), "again");
}
END_TEST

/* Inside a transaction there is no silent retry: the work is lost. */
START_TEST(db_lost_in_transaction_is_unavailable)
{
	long pid = backend_pid(&a);
	ck_assert_int_eq(tx_db_begin(&a), 0);
	kill_backend(pid);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	tx_db_rollback(&a);
	ck_assert_int_ne(backend_pid(&a), pid);
	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_commit(&a), 0);
}
END_TEST

/* Terminates backend pid (a string) once it sleeps in pg_sleep. */
static void *terminate_when_sleeping(void *arg)
{
	PGconn *c = PQconnectdb(conninfo());
	const char *p[] = { arg };
	for (int i = 0; i < 300 && PQstatus(c) == CONNECTION_OK; i++) {
		PGresult *r = PQexecParams(c, "SELECT pg_terminate_backend(pid) FROM "
					   "pg_stat_activity WHERE pid = $1::int AND "
					   "wait_event = 'PgSleep'", 1, NULL, p, NULL, NULL, 0);
		int done = PQntuples(r);
		PQclear(r);
		if (done)
			break;
		usleep(10000);
	}
	PQfinish(c);
	return NULL;
}

/* A write in autocommit whose connection dies while it runs may or may not
 * have committed: 503 at once, and it is never sent a second time. (It
 * used to be, silently, on a fresh connection.) */
START_TEST(db_lost_write_is_not_repeated)
{
	const char *const t[] = { tag };
	char pid[24];
	struct timespec t0;
	snprintf(pid, sizeof(pid), "%ld", backend_pid(&a));
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, terminate_when_sleeping, pid), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = tx_db_exec(&a, &SQL_ROW_INSERT_SLOW, (const char *const[]){ tag, "1" },
			    NULL);
	double took = seconds_since(&t0);
	pthread_join(th, NULL);
	ck_assert_int_eq(rc, -TX_E_UNAVAILABLE);
	ck_assert_msg(took < 0.9, "took %.3f s: the write ran again", took);
	usleep(1200000); /* a second run, had there been one, is done by now */
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 0);
	/* and the next statement gets a new connection */
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT, (const char *const[]){ tag, "2" },
				    NULL), 0);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 1);
	ck_assert_int_eq(tx_db_exec(&b, &SQL_ROW_DELETE, t, NULL), 0);
}
END_TEST

/* A session that no longer takes writes (a demoted primary answers
 * 25006) is dropped, not kept: a refused write in autocommit ran nothing,
 * so it goes once more on a fresh (read-write) connection; inside a
 * transaction the work is lost: 503, and the next one starts afresh. */
START_TEST(db_read_only_session_is_dropped)
{
	const char *const t[] = { tag };
	const char *ro = "SET default_transaction_read_only = on";
	long pid = backend_pid(&a);
	ck_assert_int_eq(tx_db_exec_script(a.db, ro), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT, (const char *const[]){ tag, "1" },
				    NULL), 0);
	ck_assert_int_ne(backend_pid(&a), pid);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 1);

	pid = backend_pid(&a);
	ck_assert_int_eq(tx_db_exec_script(a.db, ro), 0);
	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT, (const char *const[]){ tag, "2" },
				    NULL), -TX_E_UNAVAILABLE);
	ck_assert_str_eq(tx_db_sqlstate(a.db), "25006");
	tx_db_rollback(&a);
	ck_assert_int_eq(tx_db_begin(&a), 0);
	ck_assert_int_eq(tx_db_exec(&a, &SQL_ROW_INSERT, (const char *const[]){ tag, "3" },
				    NULL), 0);
	ck_assert_int_eq(tx_db_commit(&a), 0);
	ck_assert_int_ne(backend_pid(&a), pid);
	ck_assert_int_eq(count(&b, &SQL_ROW_COUNT, t), 2);
	ck_assert_int_eq(tx_db_exec(&b, &SQL_ROW_DELETE, t, NULL), 0);
}
END_TEST

/* ---- a database that is down -------------------------------------------- */

#define NO_SUCH_DIR "/nonexistent/tx-db-test"

START_TEST(db_down_fails_fast)
{
	struct tx_ctx c;
	struct timespec t0;
	char err[256];
	ctx_open(&c, "host=" NO_SUCH_DIR " port=5999 dbname=x user=x");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tx_db_exec(&c, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	ck_assert_msg(seconds_since(&t0) < 1.0, "took %.3f s", seconds_since(&t0));
	/* The log line gets libpq's reason, not the retry notice. */
	ck_assert_msg(strncmp(c.db_error, "connect:", 8) == 0, "db_error: %s",
		      c.db_error);

	/* Within a second: no new attempt, an immediate answer. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tx_db_exec(&c, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	ck_assert_int_eq(tx_db_one(&c, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	ck_assert_int_eq(tx_db_begin(&c), -TX_E_UNAVAILABLE);
	tx_db_rollback(&c);
	ck_assert_msg(seconds_since(&t0) < 0.05, "took %.3f s", seconds_since(&t0));
	ck_assert_ptr_nonnull(strstr(c.db_error, "retrying"));

	/* The start-up check always tries, and says why it failed. */
	ck_assert_int_eq(tx_db_connect(c.db, err, sizeof(err)), -TX_E_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(err, "connect:"));
	ctx_close(&c);
}
END_TEST

/* A server that accepts but never answers: each attempt costs the connect
 * timeout (2 s), so the once-a-second limit is what keeps requests fast. */
static int listen_silently(char *dir, size_t dirlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(dir, dirlen, "/tmp/txdb-%ld-%d", (long)getpid(), rand());
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5998", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

START_TEST(db_hanging_server_one_attempt)
{
	char dir[64], info[160], sock[96];
	struct tx_ctx c;
	struct timespec t0;
	int fd = listen_silently(dir, sizeof(dir));
	snprintf(info, sizeof(info), "host=%s port=5998 dbname=x user=x", dir);
	ctx_open(&c, info);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tx_db_exec(&c, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	double first = seconds_since(&t0);
	ck_assert_msg(first < 3.0, "first call took %.3f s (more than one attempt)",
		      first);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tx_db_exec(&c, &SQL_PID, NULL, NULL), -TX_E_UNAVAILABLE);
	ck_assert_msg(seconds_since(&t0) < 0.1, "second call took %.3f s",
		      seconds_since(&t0));

	ctx_close(&c);
	close(fd);
	snprintf(sock, sizeof(sock), "%s/.s.PGSQL.5998", dir);
	unlink(sock);
	rmdir(dir);
}
END_TEST

Suite *suite_db(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("statements");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, db_params_round_trip);
	tcase_add_test(tc, db_injection_stored_verbatim);
	tcase_add_test(tc, db_malformed_uuid_is_bad_request);
	tcase_add_test(tc, db_unique_violation_is_conflict);
	tcase_add_test(tc, db_other_failures);
	tcase_add_test(tc, db_one_no_rows_is_not_found);
	tcase_add_test(tc, db_commit_visible_rollback_invisible);
	tcase_add_test(tc, db_commit_after_error_fails);
	tcase_add_test(tc, db_commit_after_error_fails_first_tx);
	tcase_add_test(tc, db_reconnects_after_terminate);
	tcase_add_test(tc, db_lost_in_transaction_is_unavailable);
	tcase_add_test(tc, db_lost_write_is_not_repeated);
	tcase_add_test(tc, db_read_only_session_is_dropped);
	suite_add_tcase(s, tc);

	tc = tcase_create("down");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, db_down_fails_fast);
	tcase_add_test(tc, db_hanging_server_one_attempt);
	suite_add_tcase(s, tc);
	return s;
}
