/* test_gencache.c: the generation-checked read cache (core/gencache.h),
 * and its follower against a real Redis (TEST_REDIS_URL) under a prefix
 * of its own. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/gencache.h"
#include "core/redis.h"

#define AGE 1000
#define CAP 64

static struct tx_gencache *c;
static struct tx_buf out;

static void setup(void)
{
	c = tx_gencache_new(4, AGE, CAP);
	tx_buf_init(&out, 0);
}

static void teardown(void)
{
	tx_gencache_free(c);
	tx_buf_release(&out);
}

/* A cache that follows (as if its follower were connected). */
static void follow(void)
{
	tx_gencache_set_following(c, true);
}

static bool get(const char *key, int64_t now)
{
	tx_buf_reset(&out);
	return tx_gencache_get(c, key, strlen(key), now, &out);
}

static bool put(const char *key, uint64_t gen, int64_t now, const char *v)
{
	return tx_gencache_put(c, key, strlen(key), gen, now, v, strlen(v));
}

START_TEST(bypassed_until_followed)
{
	uint64_t g = tx_gencache_gen(c);
	ck_assert_uint_eq(g & 1, 1);
	ck_assert(!put("json", g, 0, "[1]"));
	ck_assert(!get("json", 0));
	follow();
	g = tx_gencache_gen(c);
	ck_assert_uint_eq(g & 1, 0);
	ck_assert(put("json", g, 0, "[1]"));
	ck_assert(get("json", 10));
	ck_assert_str_eq(out.buf, "[1]");
	ck_assert(!get("html", 10)); /* keys are separate */
	ck_assert(!get("jso", 10));
	ck_assert(!get("json2", 10));
}
END_TEST

START_TEST(change_during_query_is_not_stored)
{
	follow();
	uint64_t g = tx_gencache_gen(c); /* recorded before the query */
	tx_gencache_bump(c);		 /* a commit lands meanwhile */
	ck_assert(!put("k", g, 0, "[old]"));
	ck_assert(!get("k", 0));
	g = tx_gencache_gen(c);
	ck_assert(put("k", g, 0, "[new]"));
	ck_assert(get("k", 0));
	ck_assert_str_eq(out.buf, "[new]");
}
END_TEST

START_TEST(bump_invalidates)
{
	follow();
	uint64_t g = tx_gencache_gen(c);
	ck_assert(put("a", g, 0, "[a]"));
	ck_assert(put("b", g, 0, "<tr>"));
	tx_gencache_bump(c);
	ck_assert_uint_eq(tx_gencache_gen(c), g + 2);
	ck_assert(!get("a", 0));
	ck_assert(!get("b", 0));
	tx_gencache_bump(NULL); /* no cache: nothing to do */
}
END_TEST

START_TEST(max_age_and_max_bytes)
{
	follow();
	uint64_t g = tx_gencache_gen(c);
	ck_assert(put("a", g, 5000, "[a]"));
	ck_assert(get("a", 5000 + AGE - 1));
	ck_assert(!get("a", 5000 + AGE));
	char big[CAP + 2];
	memset(big, 'x', CAP + 1);
	big[CAP + 1] = '\0';
	ck_assert(!put("big", g, 0, big)); /* CAP + 1 bytes */
	big[CAP] = '\0';
	ck_assert(put("big", g, 0, big));
	ck_assert(get("big", 0));
	ck_assert_uint_eq(out.len, CAP);
	char key[TX_GENCACHE_MAX_KEY + 2];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	ck_assert(!put(key, g, 0, "[a]")); /* a key too long */
}
END_TEST

/* The same key again replaces its value; at most 4 entries (setup) and
 * CAP bytes in all: the oldest go first, but what is no longer served
 * (another generation, too old) goes before anything current. */
START_TEST(bounded_by_entries_and_bytes)
{
	size_t n, bytes;
	follow();
	uint64_t g = tx_gencache_gen(c);
	ck_assert(put("a", g, 1, "11111111"));
	ck_assert(put("a", g, 2, "222"));
	tx_gencache_usage(c, &n, &bytes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(bytes, 3);
	ck_assert(get("a", 2));
	ck_assert_str_eq(out.buf, "222");
	ck_assert(put("b", g, 3, "b"));
	ck_assert(put("c", g, 4, "c"));
	ck_assert(put("d", g, 5, "d"));
	ck_assert(put("e", g, 6, "e")); /* a fifth: the oldest (a) goes */
	tx_gencache_usage(c, &n, &bytes);
	ck_assert_uint_eq(n, 4);
	ck_assert(!get("a", 6));
	ck_assert(get("b", 6) && get("e", 6));
	char half[CAP / 2 + 1];
	memset(half, 'h', CAP / 2);
	half[CAP / 2] = '\0';
	ck_assert(put("h1", g, 7, half)); /* b goes (4 entries) */
	ck_assert(put("h2", g, 8, half)); /* c, d, e go (bytes) */
	tx_gencache_usage(c, &n, &bytes);
	ck_assert_uint_eq(bytes, CAP);
	ck_assert_uint_eq(n, 2);
	ck_assert(get("h1", 8) && get("h2", 8));
	ck_assert(!get("b", 8) && !get("c", 8) && !get("e", 8));
	/* After a bump, a new put takes the room of the stale ones, even
	 * though they are younger than anything else would be. */
	tx_gencache_bump(c);
	g = tx_gencache_gen(c);
	ck_assert(put("x", g, 9, "x"));
	tx_gencache_usage(c, &n, &bytes);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(bytes, 1);
}
END_TEST

START_TEST(losing_the_follower_bypasses)
{
	follow();
	uint64_t g = tx_gencache_gen(c);
	ck_assert(put("k", g, 0, "[a]"));
	tx_gencache_set_following(c, false);
	ck_assert(!get("k", 0));
	tx_gencache_bump(c); /* own writes keep it bypassed */
	ck_assert_uint_eq(tx_gencache_gen(c) & 1, 1);
	ck_assert(!put("k", tx_gencache_gen(c), 0, "[b]"));
	tx_gencache_set_following(c, false); /* already off: no change */
	ck_assert_uint_eq(tx_gencache_gen(c) & 1, 1);
	follow();
	ck_assert(!get("k", 0)); /* what was cached before is gone for good */
}
END_TEST

START_TEST(zero_limits_turn_it_off)
{
	struct tx_gencache *off = tx_gencache_new(1, 0, CAP);
	tx_gencache_set_following(off, true);
	ck_assert(!tx_gencache_put(off, "k", 1, tx_gencache_gen(off), 0, "[a]", 3));
	tx_gencache_free(off);
	off = tx_gencache_new(1, AGE, 0);
	tx_gencache_set_following(off, true);
	ck_assert(!tx_gencache_put(off, "k", 1, tx_gencache_gen(off), 0, "[a]", 3));
	tx_gencache_free(off);
	off = tx_gencache_new(0, AGE, CAP);
	tx_gencache_set_following(off, true);
	ck_assert(!tx_gencache_put(off, "k", 1, tx_gencache_gen(off), 0, "[a]", 3));
	tx_gencache_free(off);
}
END_TEST

START_TEST(full_output_buffer_is_flagged)
{
	follow();
	ck_assert(put("k", tx_gencache_gen(c), 0, "[1,2,3]"));
	struct tx_buf small = TX_BUF_INIT(4);
	ck_assert(tx_gencache_get(c, "k", 1, 0, &small));
	ck_assert(small.toobig);
	tx_buf_release(&small);
}
END_TEST

/* ---- the follower, against Redis ---------------------------------------- */

static char prefix[64];
static struct tx_redis *rd;

static void redis_setup(void)
{
	const char *url = getenv("TEST_REDIS_URL");
	ck_assert_msg(url && *url, "TEST_REDIS_URL must be set");
	snprintf(prefix, sizeof(prefix), "test-gencache-%d-%ld:", (int)getpid(),
		 (long)time(NULL));
	char err[256];
	rd = tx_redis_new(url, prefix, 2000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	setup();
}

static void redis_teardown(void)
{
	teardown(); /* stops the follower */
	char a[128], b[128];
	ck_assert_int_eq(tx_redis_key(rd, "a", a, sizeof(a)), 0);
	ck_assert_int_eq(tx_redis_key(rd, "b", b, sizeof(b)), 0);
	const char *argv[] = { "DEL", a, b };
	redisReply *r = tx_redis_cmd(rd, 3, argv, NULL);
	if (r)
		freeReplyObject(r);
	tx_redis_free(rd);
}

static void xadd(const char *stream)
{
	char key[128];
	ck_assert_int_eq(tx_redis_key(rd, stream, key, sizeof(key)), 0);
	const char *argv[] = { "XADD", key, "*", "id", "1", "data", "{}" };
	redisReply *r = tx_redis_cmd(rd, 7, argv, NULL);
	ck_assert_msg(r && r->type == REDIS_REPLY_STRING, "XADD failed");
	freeReplyObject(r);
}

/* Wait up to ms for the generation to satisfy want(gen, arg). */
static bool wait_gen(bool (*want)(uint64_t, uint64_t), uint64_t arg, long ms)
{
	for (long t = 0; t < ms; t += 10) {
		if (want(tx_gencache_gen(c), arg))
			return true;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	return false;
}

static bool is_even(uint64_t g, uint64_t unused)
{
	(void)unused;
	return (g & 1) == 0;
}

static bool is_odd(uint64_t g, uint64_t unused)
{
	(void)unused;
	return (g & 1) == 1;
}

static bool moved_from(uint64_t g, uint64_t from)
{
	return g != from;
}

/* Kill the follower's connection (it names itself follow:<first key>). */
static void kill_follower(void)
{
	char name[160];
	snprintf(name, sizeof(name), "name=follow:%sa ", prefix);
	const char *list[] = { "CLIENT", "LIST" };
	redisReply *r = tx_redis_cmd(rd, 2, list, NULL);
	ck_assert(r && r->type == REDIS_REPLY_STRING);
	char *line = strstr(r->str, name);
	ck_assert_msg(line != NULL, "no follower in CLIENT LIST");
	while (line > r->str && line[-1] != '\n')
		line--;
	ck_assert(strncmp(line, "id=", 3) == 0);
	char id[32];
	snprintf(id, sizeof(id), "%ld", strtol(line + 3, NULL, 10));
	freeReplyObject(r);
	const char *kill[] = { "CLIENT", "KILL", "ID", id };
	r = tx_redis_cmd(rd, 4, kill, NULL);
	ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
	freeReplyObject(r);
}

START_TEST(follower_bumps_on_entries)
{
	const char *const streams[] = { "a", "b" };
	char err[256];
	const char *url = getenv("TEST_REDIS_URL");
	xadd("a"); /* an old entry: before the follower starts, not a change */
	ck_assert_int_eq(tx_gencache_follow(c, url, prefix, streams, 2, err, sizeof(err)), 0);
	ck_assert_msg(wait_gen(is_even, 0, 5000), "the follower did not connect");
	uint64_t g = tx_gencache_gen(c);
	nanosleep(&(struct timespec){ 0, 600 * 1000000L }, NULL); /* one idle XREAD */
	ck_assert_uint_eq(tx_gencache_gen(c), g);
	xadd("b"); /* a stream that did not exist when it started */
	ck_assert_msg(wait_gen(moved_from, g, 3000), "no bump for a new entry");
	g = tx_gencache_gen(c);
	ck_assert_uint_eq(g & 1, 0);
	xadd("a");
	ck_assert_msg(wait_gen(moved_from, g, 3000), "no bump for a second entry");
	ck_assert_int_eq(tx_gencache_follow(c, url, prefix, streams, 2, err, sizeof(err)), -1);
}
END_TEST

START_TEST(follower_reconnects)
{
	const char *const streams[] = { "a" };
	char err[256];
	ck_assert_int_eq(tx_gencache_follow(c, getenv("TEST_REDIS_URL"), prefix, streams, 1,
					    err, sizeof(err)), 0);
	ck_assert_msg(wait_gen(is_even, 0, 5000), "the follower did not connect");
	ck_assert(put("k", tx_gencache_gen(c), tx_gencache_now_ms(), "[a]"));
	kill_follower();
	ck_assert_msg(wait_gen(is_odd, 0, 3000), "a lost connection still serves");
	ck_assert(!get("k", tx_gencache_now_ms()));
	ck_assert_msg(wait_gen(is_even, 0, 5000), "the follower did not come back");
	ck_assert(!get("k", tx_gencache_now_ms()));
	uint64_t g = tx_gencache_gen(c);
	xadd("a");
	ck_assert_msg(wait_gen(moved_from, g, 3000), "no bump after reconnecting");
}
END_TEST

START_TEST(follower_rejects_bad_setup)
{
	const char *const streams[] = { "a" };
	char err[256];
	ck_assert_int_eq(tx_gencache_follow(c, "http://nope", "", streams, 1, err,
					    sizeof(err)), -1);
	ck_assert_int_eq(tx_gencache_follow(c, "redis://127.0.0.1:1", "", streams, 0, err,
					    sizeof(err)), -1);
	ck_assert_uint_eq(tx_gencache_gen(c) & 1, 1);
}
END_TEST

Suite *suite_gencache(void)
{
	Suite *s = suite_create("gencache");
	TCase *tc = tcase_create("generations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bypassed_until_followed);
	tcase_add_test(tc, change_during_query_is_not_stored);
	tcase_add_test(tc, bump_invalidates);
	tcase_add_test(tc, max_age_and_max_bytes);
	tcase_add_test(tc, bounded_by_entries_and_bytes);
	tcase_add_test(tc, losing_the_follower_bypasses);
	tcase_add_test(tc, zero_limits_turn_it_off);
	tcase_add_test(tc, full_output_buffer_is_flagged);
	suite_add_tcase(s, tc);

	tc = tcase_create("follower");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, redis_setup, redis_teardown);
	tcase_add_test(tc, follower_bumps_on_entries);
	tcase_add_test(tc, follower_reconnects);
	tcase_add_test(tc, follower_rejects_bad_setup);
	suite_add_tcase(s, tc);
	return s;
}
