/* test_redis.c: REDIS_URL's credentials (core/redis.h) against the real
 * Redis of the test stack (TEST_REDIS_URL, whose default user has a
 * password): malformed URLs refused, user and password %-decoded and sent
 * as AUTH user password, a wrong or missing password refused by Redis.
 * Each test makes an ACL user of its own and deletes it afterwards. */
#include "core/redis.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tx_redis *admin;
static char hostport[128]; /* "host:port/db" of TEST_REDIS_URL */
static char user[64];
static int seq;

static redisReply *admin_cmd(int argc, const char **argv)
{
	redisReply *r = tx_redis_cmd(admin, argc, argv, NULL);
	ck_assert_msg(r != NULL, "redis: %s", tx_redis_error(admin));
	ck_assert_msg(r->type != REDIS_REPLY_ERROR, "%s: %s", argv[0], r->str);
	return r;
}

static void setup(void)
{
	const char *url = getenv("TEST_REDIS_URL");
	char err[128];
	ck_assert_msg(url && *url, "TEST_REDIS_URL must be set (make test sets it)");
	const char *at = strrchr(url, '@');
	snprintf(hostport, sizeof(hostport), "%s", at ? at + 1 : url + strlen("redis://"));
	admin = tx_redis_new(url, "", 5000, err, sizeof(err));
	ck_assert_msg(admin && tx_redis_connect(admin) == 0, "redis: %s", err);
	snprintf(user, sizeof(user), "tx-url-test-%d-%d", (int)getpid(), ++seq);
	/* A password with every character a URL must escape, and UTF-8. */
	const char *set[] = { "ACL", "SETUSER", user, "on", ">p@ss:w/rd%?#\xc3\xa9",
			      "~*", "-@all", "+ping", "+select" };
	freeReplyObject(admin_cmd(9, set));
}

static void teardown(void)
{
	const char *del[] = { "ACL", "DELUSER", user };
	freeReplyObject(admin_cmd(3, del));
	tx_redis_free(admin);
	admin = NULL;
}

/* A connection made from "redis://<cred>@host:port/db" (cred "" for none);
 * 0 when its PING answers PONG, else -1 with Redis's answer in why. */
static int ping_as(const char *cred, char *why, size_t whylen)
{
	char url[512], err[128];
	snprintf(url, sizeof(url), "redis://%s%s%s", cred, *cred ? "@" : "", hostport);
	struct tx_redis *r = tx_redis_new(url, "", 2000, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s refused: %s", url, err);
	const char *ping[] = { "PING" };
	redisReply *rep = tx_redis_cmd(r, 1, ping, NULL);
	int rc = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0
			 ? 0
			 : -1;
	snprintf(why, whylen, "%s", rep ? (rep->str ? rep->str : "?") : tx_redis_error(r));
	if (rep)
		freeReplyObject(rep);
	tx_redis_free(r);
	return rc;
}

START_TEST(user_and_password_are_decoded)
{
	char cred[256], why[256];
	/* The user's own '-' escaped too: every byte may be. */
	snprintf(cred, sizeof(cred), "%s:p%%40ss%%3Aw%%2Frd%%25%%3F%%23%%C3%%A9", user);
	char *dash = strchr(cred, '-');
	memmove(dash + 3, dash + 1, strlen(dash + 1) + 1);
	memcpy(dash, "%2D", 3);
	ck_assert_msg(ping_as(cred, why, sizeof(why)) == 0, "%s: %s", cred, why);
	/* Lower-case hex works as well. */
	snprintf(cred, sizeof(cred), "%s:p%%40ss%%3aw%%2frd%%25%%3f%%23%%c3%%a9", user);
	ck_assert_msg(ping_as(cred, why, sizeof(why)) == 0, "%s: %s", cred, why);
}
END_TEST

START_TEST(wrong_or_missing_password_is_refused)
{
	char cred[256], why[256];
	snprintf(cred, sizeof(cred), "%s:p%%40ss", user);
	ck_assert_int_eq(ping_as(cred, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "WRONGPASS"), "%s", why);
	/* The password undecoded is another password. */
	snprintf(cred, sizeof(cred), "%s:p%%2540ss%%3Aw%%2Frd%%25%%3F%%23%%C3%%A9", user);
	ck_assert_int_eq(ping_as(cred, why, sizeof(why)), -1);
	/* No credentials at all: the default user has a password here. */
	ck_assert_int_eq(ping_as("", why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "NOAUTH"), "%s", why);
	/* The password alone is the default user's, not this user's. */
	ck_assert_int_eq(ping_as(":p%40ss%3Aw%2Frd%25%3F%23%C3%A9", why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "WRONGPASS"), "%s", why);
}
END_TEST

START_TEST(malformed_urls_are_refused)
{
	static const char *const bad[] = {
		"redis://user@127.0.0.1:6379/0",    /* a user without a password */
		"redis://user:@127.0.0.1:6379/0",   /* an empty password */
		"redis://:@127.0.0.1:6379/0",
		"redis://:p%4@127.0.0.1:6379/0",    /* a cut escape */
		"redis://:p%zz@127.0.0.1:6379/0",   /* not hex */
		"redis://:p%00q@127.0.0.1:6379/0",  /* a NUL byte */
		"redis://u%0:p@127.0.0.1:6379/0",
		"redis://:p@/0",		     /* no host */
		"redis://:p/q@127.0.0.1:6379/0",    /* an unescaped '/' */
		"http://:p@127.0.0.1:6379/0",
	};
	char err[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct tx_redis *r = tx_redis_new(bad[i], "", 1000, err, sizeof(err));
		ck_assert_msg(r == NULL, "accepted %s", bad[i]);
		ck_assert_msg(strstr(err, "REDIS_URL"), "%s", err);
	}
	/* A password longer than the buffer is refused, not cut. */
	char url[1024] = "redis://:";
	memset(url + 9, 'x', 600);
	snprintf(url + 609, sizeof(url) - 609, "@127.0.0.1:6379/0");
	ck_assert_ptr_null(tx_redis_new(url, "", 1000, err, sizeof(err)));
	/* An unescaped '@' in a password: the last '@' ends the credentials. */
	struct tx_redis *r = tx_redis_new("redis://u:p@ss@127.0.0.1:6379/0", "", 1000,
					  err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	tx_redis_free(r);
}
END_TEST

Suite *suite_redis(void)
{
	Suite *s = suite_create("redis");
	TCase *tc = tcase_create("url");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, user_and_password_are_decoded);
	tcase_add_test(tc, wrong_or_missing_password_is_refused);
	tcase_add_test(tc, malformed_urls_are_refused);
	suite_add_tcase(s, tc);
	return s;
}
