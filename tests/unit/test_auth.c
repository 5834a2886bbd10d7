/* test_auth.c: auth validators, and sign-up/sign-in on the real database.
 *
 * The validator tests are tables. Sign-up and sign-in run against auth.users
 * through TEST_DATABASE_URL. The integration tests fail, not skip,
 * without TEST_DATABASE_URL; each uses emails with a random suffix so runs
 * never collide. Passwords are hashed at libsodium's minimum cost.
 */
#include <check.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/password.h"

#define KEY "0123456789abcdef0123456789abcdef-auth-tests"

/* ---- validators ----------------------------------------------------------- */

struct email_case {
	const char *email;
	bool valid;
};

static const struct email_case email_cases[] = {
	{ "test@test.com", true },
	{ "a.b+c@sub.example.co", true },
	{ "UPPER@Example.COM", true },
	{ "x_y-z@a-b.io", true },
	{ "", false },
	{ "a@b", false },
	{ "alskdflaskjfd", false },
	{ "a@b.c", false },
	{ "a@@b.com", false },
	{ "a b@c.com", false },
	{ ".a@b.com", false },
	{ "a.@b.com", false },
	{ "a..b@c.com", false },
	{ "a@-b.com", false },
	{ "a@b-.com", false },
	{ "@b.com", false },
	{ "a@", false },
	{ "a@b..com", false },
	{ "a@b.com.", false },
	{ "a@b.c0m", false },
	{ "a@b_c.com", false },
	{ "a\"b@c.com", false },
	{ "a@b.com ", false },
};

START_TEST(email_valid_table)
{
	const struct email_case *c = &email_cases[_i];
	ck_assert_msg(auth_email_valid(c->email) == c->valid, "\"%s\": want %s",
		      c->email, c->valid ? "valid" : "invalid");
}
END_TEST

/* Lengths around the limits: 254 in all, 64 for the local part. */
START_TEST(email_length_limits)
{
	char s[400];
	memset(s, 'a', 300 - 8);
	memcpy(s + 300 - 8, "@abc.com", 9);
	ck_assert_uint_eq(strlen(s), 300);
	ck_assert(!auth_email_valid(s));

	memset(s, 'a', 64);
	memcpy(s + 64, "@b.com", 7);
	ck_assert(auth_email_valid(s));
	memset(s, 'a', 65);
	memcpy(s + 65, "@b.com", 7);
	ck_assert(!auth_email_valid(s));

	/* 254 bytes: a@ + labels of 63 + ".com". */
	size_t n = 0;
	memcpy(s, "a@", 2);
	n = 2;
	while (n + 64 + 4 <= 254) {
		memset(s + n, 'b', 63);
		s[n + 63] = '.';
		n += 64;
	}
	memset(s + n, 'c', 254 - 4 - n);
	n = 254 - 4;
	memcpy(s + n, ".com", 5);
	ck_assert_uint_eq(strlen(s), 254);
	ck_assert(auth_email_valid(s));
	memcpy(s + n, "x.com", 6);
	ck_assert(!auth_email_valid(s));
}
END_TEST

struct trim_case {
	const char *in, *out;
};

static const struct trim_case trim_cases[] = {
	{ "abc", "abc" },
	{ "  abc  ", "abc" },
	{ "\t\nabc\r\n\v\f", "abc" },
	{ "\xC2\xA0" "abc" "\xC2\xA0", "abc" },		     /* U+00A0 */
	{ "\xEF\xBB\xBF" "abc" "\xEF\xBB\xBF", "abc" },	     /* U+FEFF */
	{ "\xE2\x80\xA8 abc \xE3\x80\x80", "abc" },	     /* U+2028, U+3000 */
	{ "  a b\tc  ", "a b\tc" },
	{ " a \xC2\xA0 b ", "a \xC2\xA0 b" },
	{ "   ", "" },
	{ " \t\n\xC2\xA0\xEF\xBB\xBF ", "" },
	{ "", "" },
	{ " \xC3\xA9 ", "\xC3\xA9" },			     /* é kept whole */
	{ "\xF0\x9F\x98\x80 ", "\xF0\x9F\x98\x80" },	     /* emoji kept whole */
	{ "\xC2\xA1", "\xC2\xA1" },			     /* U+00A1 is not space */
};

START_TEST(trim_table)
{
	const struct trim_case *c = &trim_cases[_i];
	struct tx_arena *a = tx_arena_new(0);
	const char *got = auth_trim(a, c->in);
	ck_assert_msg(strcmp(got, c->out) == 0, "case %d: got \"%s\"", _i, got);
	tx_arena_free(a);
}
END_TEST

struct len_case {
	const char *s;
	size_t n;
};

static const struct len_case len_cases[] = {
	{ "", 0 },
	{ "abcd", 4 },
	{ "\xC3\xA9", 1 },		     /* é */
	{ "caf\xC3\xA9", 4 },
	{ "\xE2\x82\xAC", 1 },		     /* € */
	{ "\xF0\x9F\x98\x80", 2 },	     /* 😀: a surrogate pair */
	{ "ab\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 6 },
};

START_TEST(js_length_table)
{
	const struct len_case *c = &len_cases[_i];
	ck_assert_uint_eq(auth_js_length(c->s), c->n);
}
END_TEST

/* ---- sign-up and sign-in (integration) ------------------------------------ */

static struct tx_config cfg;
static struct tx_ctx ctx;
static char suffix[48];

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
	c->cfg = &cfg;
	c->svc = &auth_service;
	c->arena = tx_arena_new(0);
	c->db = tx_db_new(info);
	c->request_id = "test-auth";
}

static void ctx_close(struct tx_ctx *c)
{
	tx_arena_free(c->arena);
	tx_db_free(c->db);
}

static void setup_common(const char *info)
{
	unsigned char r[8];
	ck_assert_int_eq(tx_password_init(), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.jwt_key_len = strlen(KEY);
	memcpy(cfg.jwt_key, KEY, cfg.jwt_key_len + 1);
	cfg.session_ttl_s = 3600;
	cfg.max_body_bytes = 1 << 20;
	cfg.pw_opslimit = crypto_pwhash_OPSLIMIT_MIN;
	cfg.pw_memlimit = crypto_pwhash_MEMLIMIT_MIN;
	ctx_open(&ctx, info);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(suffix, sizeof(suffix), r, sizeof(r));
}

static void setup(void)
{
	setup_common(conninfo());
}

/* Input rejected before any query: a database that is never used. */
static void setup_nodb(void)
{
	setup_common("");
}

static void teardown(void)
{
	ctx_close(&ctx);
}

/* "<name>-<random>@test.com", from the arena. */
static const char *email(const char *name)
{
	return tx_arena_printf(ctx.arena, "%s-%s@test.com", name, suffix);
}

static void signup_ok(const char *e, const char *pw)
{
	struct auth_result res;
	ck_assert_int_eq(auth_signup(&ctx, e, pw, &res), 0);
	ck_assert_uint_eq(res.verrs.n, 0);
	ck_assert_ptr_null(res.message);
	ck_assert_ptr_nonnull(res.id);
	ck_assert_uint_eq(strlen(res.id), 36); /* a uuid */
	ck_assert_str_eq(res.email, e);
}

START_TEST(signup_then_signin)
{
	struct auth_result up, in;
	const char *e = email("ok");
	ck_assert_int_eq(auth_signup(&ctx, e, "password", &up), 0);
	ck_assert_ptr_nonnull(up.id);
	ck_assert_ptr_null(up.message);
	char id[64];
	snprintf(id, sizeof(id), "%s", up.id);

	ck_assert_int_eq(auth_signin(&ctx, e, "password", &in), 0);
	ck_assert_ptr_null(in.message);
	ck_assert_uint_eq(in.verrs.n, 0);
	ck_assert_str_eq(in.id, id);
	ck_assert_str_eq(in.email, e);

	/* Another case of the same email signs in too, as the stored one. */
	const char *upper = tx_arena_printf(ctx.arena, "OK-%s@TEST.COM", suffix);
	ck_assert_int_eq(auth_signin(&ctx, upper, "password", &in), 0);
	ck_assert_ptr_null(in.message);
	ck_assert_str_eq(in.id, id);
	ck_assert_str_eq(in.email, e);

	/* The password is trimmed on both sides, as the original does. */
	ck_assert_int_eq(auth_signin(&ctx, e, "  password\t", &in), 0);
	ck_assert_ptr_null(in.message);
}
END_TEST

START_TEST(signup_duplicate_email)
{
	struct auth_result res;
	const char *e = email("dup");
	signup_ok(e, "password");
	ck_assert_int_eq(auth_signup(&ctx, e, "password", &res), 0);
	ck_assert_pstr_eq(res.message, "Email in use");
	ck_assert_ptr_null(res.id);
	const char *upper = tx_arena_printf(ctx.arena, "DUP-%s@Test.Com", suffix);
	ck_assert_int_eq(auth_signup(&ctx, upper, "other", &res), 0);
	ck_assert_pstr_eq(res.message, "Email in use");
}
END_TEST

START_TEST(signin_wrong_password)
{
	struct auth_result res;
	const char *e = email("wrong");
	signup_ok(e, "password");
	ck_assert_int_eq(auth_signin(&ctx, e, "passwore", &res), 0);
	ck_assert_pstr_eq(res.message, "Invalid Credentials");
	ck_assert_ptr_null(res.id);
}
END_TEST

START_TEST(signin_unknown_email)
{
	struct auth_result res;
	ck_assert_int_eq(auth_signin(&ctx, email("nobody"), "password", &res), 0);
	ck_assert_pstr_eq(res.message, "Invalid credentials");
	ck_assert_ptr_null(res.id);
}
END_TEST

struct verr_case {
	bool signup;
	const char *email, *password;
	const char *fields; /* "email,password" */
};

static const struct verr_case verr_cases[] = {
	{ true, "bad", "password", "email" },
	{ true, "a@b.com", "abc", "password" },
	{ true, "a@b.com", "   abc   ", "password" },
	{ true, "a@b.com", "123456789012345678901", "password" },
	{ true, "bad", "", "email,password" },
	{ false, "bad", "password", "email" },
	{ false, "a@b.com", "", "password" },
	{ false, "a@b.com", " \t ", "password" },
	{ false, "", "", "email,password" },
};

START_TEST(validation_errors)
{
	const struct verr_case *c = &verr_cases[_i];
	struct auth_result res;
	char fields[64] = "";
	int rc = c->signup ? auth_signup(&ctx, c->email, c->password, &res)
			   : auth_signin(&ctx, c->email, c->password, &res);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_null(res.id);
	ck_assert_ptr_null(res.message);
	for (size_t i = 0; i < res.verrs.n; i++) {
		size_t n = strlen(fields);
		snprintf(fields + n, sizeof(fields) - n, "%s%s", i ? "," : "",
			 res.verrs.e[i].field);
	}
	ck_assert_str_eq(fields, c->fields);
}
END_TEST

/* Length counts UTF-16 units: 10 emoji are 20 (ok), 11 are 22 (too long). */
START_TEST(signup_password_js_length)
{
	struct auth_result res;
	char pw[64] = "";
	for (int i = 0; i < 10; i++)
		memcpy(pw + 4 * i, "\xF0\x9F\x98\x80", 5);
	signup_ok(email("emoji"), pw);
	memcpy(pw + 40, "\xF0\x9F\x98\x80", 5);
	ck_assert_int_eq(auth_signup(&ctx, email("emoji2"), pw, &res), 0);
	ck_assert_uint_eq(res.verrs.n, 1);
	ck_assert_str_eq(res.verrs.e[0].field, "password");
}
END_TEST

TX_STMT(SQL_HASH_OF, 1, "SELECT password_hash FROM auth.users WHERE email = $1");

START_TEST(password_is_hashed)
{
	PGresult *r;
	const char *e = email("hash");
	signup_ok(e, "s3cret-pw");
	ck_assert_int_eq(tx_db_one(&ctx, &SQL_HASH_OF, (const char *const[]){ e }, &r),
			 0);
	const char *h = PQgetvalue(r, 0, 0);
	ck_assert_int_eq(strncmp(h, "$argon2id$", 10), 0);
	ck_assert_ptr_null(strstr(h, "s3cret-pw"));
	ck_assert(tx_password_verify(h, "s3cret-pw", 9));
	ck_assert(!tx_password_verify(h, "s3cret-pW", 9));
}
END_TEST

/* ---- concurrency ---------------------------------------------------------- */

#define RACERS 8

struct racer {
	const char *info;
	const char *email;
	pthread_barrier_t *go;
	int rc;
	bool created;
	bool in_use;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct tx_ctx c;
	struct auth_result res;
	char err[256];
	ctx_open(&c, r->info);
	r->rc = tx_db_connect(c.db, err, sizeof(err));
	pthread_barrier_wait(r->go);
	if (r->rc == 0)
		r->rc = auth_signup(&c, r->email, "password", &res);
	if (r->rc == 0) {
		r->created = res.id != NULL;
		r->in_use = res.message && strcmp(res.message, "Email in use") == 0;
	}
	ctx_close(&c);
	return NULL;
}

TX_STMT(SQL_COUNT_EMAIL, 1,
	"SELECT count(*) FROM auth.users WHERE lower(email) = lower($1)");

START_TEST(concurrent_signups_one_wins)
{
	pthread_t t[RACERS];
	struct racer r[RACERS];
	pthread_barrier_t go;
	const char *e = email("race");
	int created = 0, in_use = 0;
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .info = conninfo(), .email = e, .go = &go };
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < RACERS; i++) {
		ck_assert_msg(r[i].rc == 0, "racer %d: rc %d", i, r[i].rc);
		created += r[i].created;
		in_use += r[i].in_use;
	}
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(in_use, RACERS - 1);
	PGresult *res;
	ck_assert_int_eq(tx_db_exec(&ctx, &SQL_COUNT_EMAIL,
				    (const char *const[]){ e }, &res),
			 0);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "1");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_auth(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("validate");
	tcase_add_loop_test(tc, email_valid_table, 0, N(email_cases));
	tcase_add_test(tc, email_length_limits);
	tcase_add_loop_test(tc, trim_table, 0, N(trim_cases));
	tcase_add_loop_test(tc, js_length_table, 0, N(len_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup_nodb, teardown);
	tcase_add_loop_test(tc, validation_errors, 0, N(verr_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("users");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, signup_then_signin);
	tcase_add_test(tc, signup_duplicate_email);
	tcase_add_test(tc, signin_wrong_password);
	tcase_add_test(tc, signin_unknown_email);
	tcase_add_test(tc, signup_password_js_length);
	tcase_add_test(tc, password_is_hashed);
	tcase_add_test(tc, concurrent_signups_one_wins);
	suite_add_tcase(s, tc);
	return s;
}
