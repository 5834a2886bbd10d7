/* evtest.h: the fixture shared by the event runtime tests (test_relay.c,
 * test_consumer.c), against real Postgres and Redis (TEST_DATABASE_URL,
 * TEST_REDIS_URL: the tests fail without them). Each test gets a schema of
 * its own (evtest_<tag><pid>_<n>) with the outbox tables and an effects
 * table (evt.st_effect inserts a row), a Redis key prefix of its own, and a
 * config pointing at both; teardown drops the schema and the keys. */
#ifndef TX_TESTS_EVTEST_H
#define TX_TESTS_EVTEST_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "core/config.h"
#include "core/db.h"
#include "core/redis.h"

struct evtest {
	struct tx_config cfg;
	char schema[64], prefix[64], effect_sql[256];
	struct tx_stmt st_effect;
	PGconn *pg;
	struct tx_redis *rd; /* no prefix: tests name whole keys */
};

/* One per test process (Check forks each test). */
extern struct evtest evt;

/* tag: one letter that keeps the suites' schemas apart. */
void evtest_setup(char tag);
void evtest_teardown(void);
/* Run sql on c; the test fails unless it succeeds. */
void evtest_exec(PGconn *c, const char *sql);
/* A Redis command on evt.rd; the test fails without a reply. */
redisReply *evtest_rcmd(int argc, const char **argv);

#endif
