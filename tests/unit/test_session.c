/* test_session.c: the session cookie, password hashing and CSRF tokens. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/csrf.h"
#include "core/password.h"
#include "core/session.h"

#define NOW 1700000000LL
#define KEY "0123456789abcdef0123456789abcdef" /* 32 bytes */
#define B64 sodium_base64_VARIANT_ORIGINAL

static const struct tx_claims alice = {
	.id = "42", .email = "alice@example.com", .iat = NOW, .exp = NOW + 3600,
};

static void b64(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);
	ck_assert_uint_le(sodium_base64_ENCODED_LEN(n, B64), cap);
	sodium_bin2base64(out, cap, (const unsigned char *)s, n, B64);
}

static void setup(void)
{
	ck_assert_int_eq(tx_password_init(), 0);
}

START_TEST(session_round_trip)
{
	struct tx_arena *a = tx_arena_new(0);
	struct tx_claims c;
	char *v = tx_session_encode(a, KEY, 32, &alice);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(tx_session_decode(KEY, 32, v, NOW, &c), TX_JWT_OK);
	ck_assert_str_eq(c.id, "42");
	ck_assert_str_eq(c.email, "alice@example.com");
	ck_assert_int_eq(c.exp, NOW + 3600);
	ck_assert_int_eq(tx_session_decode(KEY, 32, v, NOW + 3600, &c),
			 TX_JWT_EINVALID); /* expired */
	ck_assert_ptr_null(tx_session_encode(a, KEY, 31, &alice));
	tx_arena_free(a);
}
END_TEST

/* The cookie is exactly base64({"jwt":"<token>"}), as cookie-session
 * writes it: build that by hand and compare both ways. */
START_TEST(session_known_vector)
{
	struct tx_arena *a = tx_arena_new(0);
	char tok[TX_JWT_MAX_TOKEN + 1], json[TX_JWT_MAX_TOKEN + 64], want[4096];
	struct tx_claims c;
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &alice, tok, sizeof(tok)), 0);
	snprintf(json, sizeof(json), "{\"jwt\":\"%s\"}", tok);
	b64(want, sizeof(want), json);
	ck_assert_str_eq(tx_session_encode(a, KEY, 32, &alice), want);
	ck_assert_int_eq(tx_session_decode(KEY, 32, want, NOW, &c), TX_JWT_OK);
	ck_assert_str_eq(c.id, "42");
	/* the same object with spaces and an extra key is still a session */
	snprintf(json, sizeof(json), "{ \"x\": 1, \"jwt\" : \"%s\" }", tok);
	b64(want, sizeof(want), json);
	ck_assert_int_eq(tx_session_decode(KEY, 32, want, NOW, &c), TX_JWT_OK);
	tx_arena_free(a);
}
END_TEST

/* Cookie values given as the JSON to encode (json) or raw (raw). */
static const struct {
	const char *name, *json, *raw;
} bad[] = {
	{ "empty", NULL, "" },
	{ "bad base64", NULL, "!!!not-base64!!!" },
	{ "url-safe alphabet", NULL, "eyJqd3Qi_-==" },
	{ "missing padding", NULL, "eyJqd3QiOjV9" "e" },
	{ "space inside", NULL, "eyJq d3QiOjV9" },
	{ "not json", "hello world", NULL },
	{ "jwt number", "{\"jwt\":5}", NULL },
	{ "empty object", "{}", NULL },
	{ "jwt null", "{\"jwt\":null}", NULL },
	{ "jwt empty", "{\"jwt\":\"\"}", NULL },
	{ "jwt garbage", "{\"jwt\":\"a.b.c\"}", NULL },
	{ "array", "[\"jwt\"]", NULL },
	{ "bare string", "\"jwt\"", NULL },
	{ "trailing garbage", "{\"jwt\":\"a.b.c\"} x", NULL },
	{ "trailing comma", "{\"jwt\":\"a.b.c\",}", NULL },
	{ "single quotes", "{'jwt':'a.b.c'}", NULL },
	{ "truncated", "{\"jwt\":\"a.b.c\"", NULL },
	{ "embedded NUL", "{\"jwt\":\"a\\u0000.b.c\"}", NULL },
};

START_TEST(session_bad_cookies)
{
	char v[256];
	struct tx_claims c;
	const char *cookie = bad[_i].raw;
	if (bad[_i].json) {
		b64(v, sizeof(v), bad[_i].json);
		cookie = v;
	}
	ck_assert_msg(tx_session_decode(KEY, 32, cookie, NOW, &c) == TX_JWT_EINVALID,
		      "%s accepted", bad[_i].name);
	ck_assert_str_eq(c.id, "");
}
END_TEST

START_TEST(session_bounds)
{
	struct tx_arena *a = tx_arena_new(0);
	struct tx_claims c;
	char *v = tx_session_encode(a, KEY, 32, &alice);
	ck_assert_int_eq(tx_session_decode(KEY, 31, v, NOW, &c), TX_JWT_EKEY);
	ck_assert_int_eq(tx_session_decode(KEY, 32, NULL, NOW, &c), TX_JWT_EINVALID);
	/* a good token followed by junk is not the same cookie */
	char *longer = tx_arena_printf(a, "%sAAAA", v);
	ck_assert_int_eq(tx_session_decode(KEY, 32, longer, NOW, &c), TX_JWT_EINVALID);
	static char huge[20000];
	memset(huge, 'A', sizeof(huge) - 1);
	ck_assert_int_eq(tx_session_decode(KEY, 32, huge, NOW, &c), TX_JWT_EINVALID);
	tx_arena_free(a);
}
END_TEST

START_TEST(password_hash_verify)
{
	char h[TX_PASSWORD_HASH_MAX];
	const char *pw = "correct horse battery staple";
	ck_assert_int_eq(tx_password_hash(pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN,
					  crypto_pwhash_MEMLIMIT_MIN, h),
			 0);
	ck_assert_int_eq(strncmp(h, "$argon2id$", 10), 0);
	ck_assert(tx_password_verify(h, pw, strlen(pw)));
	ck_assert(!tx_password_verify(h, "correct horse battery stapl", 27));
	ck_assert(!tx_password_verify(h, "", 0));
	ck_assert(!tx_password_verify("", pw, strlen(pw)));
	ck_assert(!tx_password_verify("$argon2id$garbage", pw, strlen(pw)));
	ck_assert(!tx_password_verify(NULL, pw, strlen(pw)));
	char again[TX_PASSWORD_HASH_MAX];
	ck_assert_int_eq(tx_password_hash(pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN,
					  crypto_pwhash_MEMLIMIT_MIN, again),
			 0);
	ck_assert_str_ne(h, again); /* salted */
	ck_assert_int_eq(tx_password_hash(pw, strlen(pw), 0, 0, again), -1);
}
END_TEST

#define KEY2 "another key, also 32 bytes long!"

START_TEST(csrf_tokens)
{
	char seed[TX_CSRF_HEX], seed2[TX_CSRF_HEX], tok[TX_CSRF_HEX];
	tx_csrf_new_seed(seed);
	tx_csrf_new_seed(seed2);
	ck_assert(tx_csrf_seed_ok(seed));
	ck_assert_str_ne(seed, seed2);
	tx_csrf_token(KEY, 32, seed, tok);
	ck_assert_uint_eq(strlen(tok), 64);
	ck_assert(tx_csrf_check(KEY, 32, seed, tok));
	ck_assert(!tx_csrf_check(KEY, 32, seed2, tok));
	ck_assert(!tx_csrf_check(KEY2, 32, seed, tok));
	ck_assert(!tx_csrf_check(KEY, 32, seed, ""));
	ck_assert(!tx_csrf_check(KEY, 32, seed, NULL));
	ck_assert(!tx_csrf_check(NULL, 0, seed, tok));
	char shortt[TX_CSRF_HEX], longt[TX_CSRF_HEX + 1], upper[TX_CSRF_HEX];
	snprintf(shortt, sizeof(shortt), "%.63s", tok);
	ck_assert(!tx_csrf_check(KEY, 32, seed, shortt));
	snprintf(longt, sizeof(longt), "%s0", tok);
	ck_assert(!tx_csrf_check(KEY, 32, seed, longt));
	memcpy(upper, tok, sizeof(upper));
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(upper, tok) != 0)
		ck_assert(!tx_csrf_check(KEY, 32, seed, upper));
	/* a seed that fails tx_csrf_seed_ok never passes, even with its own
	 * token computed as if it were fine */
	ck_assert(!tx_csrf_check(KEY, 32, "abc", tok));
}
END_TEST

/* Known vector: HMAC-SHA256(KEY, "csrf:" + 64 zeros), from libsodium's
 * one-shot API (KEY is exactly crypto_auth_hmacsha256_KEYBYTES). */
START_TEST(csrf_known_vector)
{
	const char *seed =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char msg[80], want[TX_CSRF_HEX], tok[TX_CSRF_HEX];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	int n = snprintf(msg, sizeof(msg), "csrf:%s", seed);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (size_t)n,
			       (const unsigned char *)KEY);
	sodium_bin2hex(want, sizeof(want), mac, sizeof(mac));
	tx_csrf_token(KEY, 32, seed, tok);
	ck_assert_str_eq(tok, want);
}
END_TEST

/* The same HMAC for keys of every length, one after the other (the keyed
 * state kept per thread must follow the key): shorter than a SHA-256
 * block, one block, longer (hashed first), and past what is kept. */
START_TEST(csrf_any_key_length)
{
	static const size_t lens[] = { 1, 32, 64, 65, 100, 512, 600, 32 };
	char key[600], seed[TX_CSRF_HEX], msg[80], want[TX_CSRF_HEX], tok[TX_CSRF_HEX];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (char)('a' + i % 26);
	tx_csrf_new_seed(seed);
	int n = snprintf(msg, sizeof(msg), "csrf:%s", seed);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		crypto_auth_hmacsha256_state st;
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		key[0] = (char)('A' + i); /* a different key each time */
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, lens[i]);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, (size_t)n);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_bin2hex(want, sizeof(want), mac, sizeof(mac));
		tx_csrf_token(key, lens[i], seed, tok);
		ck_assert_msg(strcmp(tok, want) == 0, "key length %zu", lens[i]);
		ck_assert(tx_csrf_check(key, lens[i], seed, tok));
	}
}
END_TEST

/* Seeds come from a per-thread pool refilled every 64: across refills
 * they stay well-formed and all different. */
START_TEST(csrf_seeds_differ)
{
	enum { N = 200 };
	static char seeds[N][TX_CSRF_HEX];
	for (int i = 0; i < N; i++) {
		tx_csrf_new_seed(seeds[i]);
		ck_assert(tx_csrf_seed_ok(seeds[i]));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(seeds[i], seeds[j]);
	}
}
END_TEST

static const char *const bad_seeds[] = {
	"",
	"abc",
	"000000000000000000000000000000000000000000000000000000000000000",   /* 63 */
	"00000000000000000000000000000000000000000000000000000000000000000", /* 65 */
	"000000000000000000000000000000000000000000000000000000000000000A",
	"000000000000000000000000000000000000000000000000000000000000000g",
	"000000000000000000000000000000000000000000000000000000000000000 ",
};

START_TEST(csrf_bad_seed)
{
	char tok[TX_CSRF_HEX];
	ck_assert(!tx_csrf_seed_ok(bad_seeds[_i]));
	tx_csrf_token(KEY, 32, bad_seeds[_i], tok);
	ck_assert_str_eq(tok, "");
	ck_assert(!tx_csrf_check(KEY, 32, bad_seeds[_i], tok));
}
END_TEST

START_TEST(csrf_bad_seed_null)
{
	char tok[TX_CSRF_HEX];
	ck_assert(!tx_csrf_seed_ok(NULL));
	tx_csrf_token(KEY, 32, NULL, tok);
	ck_assert_str_eq(tok, "");
	ck_assert(!tx_csrf_check(KEY, 32, NULL, tok));
}
END_TEST

Suite *suite_session(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, session_round_trip);
	tcase_add_test(tc, session_known_vector);
	tcase_add_loop_test(tc, session_bad_cookies, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, session_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("password");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, password_hash_verify);
	suite_add_tcase(s, tc);

	tc = tcase_create("csrf");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, csrf_tokens);
	tcase_add_test(tc, csrf_known_vector);
	tcase_add_test(tc, csrf_any_key_length);
	tcase_add_test(tc, csrf_seeds_differ);
	tcase_add_loop_test(tc, csrf_bad_seed, 0, sizeof(bad_seeds) / sizeof(bad_seeds[0]));
	tcase_add_test(tc, csrf_bad_seed_null);
	suite_add_tcase(s, tc);
	return s;
}
