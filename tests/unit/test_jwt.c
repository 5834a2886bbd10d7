/* test_jwt.c: HS256 tokens through libjwt, including the attacks libjwt
 * 1.10.2 alone lets by. Test tokens are built here, without libjwt
 * (libsodium's HMAC-SHA256/512, OpenSSL's for HMAC-SHA384). */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/jwt.h"

#define NOW 1700000000LL
#define KEY "0123456789abcdef0123456789abcdef"	/* 32 bytes */
#define KEY2 "fedcba9876543210fedcba9876543210" /* another 32 */
#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING

enum mac { MAC_NONE, MAC_HS256, MAC_HS384, MAC_HS512 };

static void b64url(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);
	ck_assert_uint_le(sodium_base64_ENCODED_LEN(n, B64URL), cap);
	sodium_bin2base64(out, cap, (const unsigned char *)s, n, B64URL);
}

static void mac_b64url(enum mac m, const char *key, const char *msg, char *out,
		       size_t cap)
{
	unsigned char d[crypto_auth_hmacsha512_BYTES];
	size_t dlen = 0;
	const unsigned char *k = (const unsigned char *)key;
	const unsigned char *p = (const unsigned char *)msg;

	if (m == MAC_HS256) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, k, strlen(key));
		crypto_auth_hmacsha256_update(&st, p, strlen(msg));
		crypto_auth_hmacsha256_final(&st, d);
		dlen = crypto_auth_hmacsha256_BYTES;
	} else if (m == MAC_HS384) {
		unsigned int n = 0;
		ck_assert_ptr_nonnull(HMAC(EVP_sha384(), key, (int)strlen(key), p, strlen(msg), d, &n));
		dlen = n;
	} else if (m == MAC_HS512) {
		crypto_auth_hmacsha512_state st;
		crypto_auth_hmacsha512_init(&st, k, strlen(key));
		crypto_auth_hmacsha512_update(&st, p, strlen(msg));
		crypto_auth_hmacsha512_final(&st, d);
		dlen = crypto_auth_hmacsha512_BYTES;
	}
	out[0] = '\0';
	if (dlen)
		sodium_bin2base64(out, cap, d, dlen, B64URL);
}

/* header.payload.signature, built without libjwt. */
static void build_token(const char *header, const char *payload, enum mac m,
			const char *key, char *out, size_t cap)
{
	char h[512], p[4096], sig[128];
	b64url(h, sizeof(h), header);
	b64url(p, sizeof(p), payload);
	int n = snprintf(out, cap, "%s.%s", h, p);
	ck_assert(n > 0 && (size_t)n < cap);
	mac_b64url(m, key, out, sig, sizeof(sig));
	n = snprintf(out, cap, "%s.%s.%s", h, p, sig);
	ck_assert(n > 0 && (size_t)n < cap);
}

static const struct tx_claims alice = {
	.id = "42", .email = "alice@example.com", .iat = NOW, .exp = NOW + 3600,
};

START_TEST(jwt_round_trip)
{
	char tok[TX_JWT_MAX_TOKEN + 1];
	struct tx_claims c;
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &alice, tok, sizeof(tok)), TX_JWT_OK);
	char head[128];
	b64url(head, sizeof(head), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	ck_assert_int_eq(strncmp(tok, head, strlen(head)), 0);
	ck_assert_int_eq(tok[strlen(head)], '.');
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW + 10, &c), TX_JWT_OK);
	ck_assert_str_eq(c.id, "42");
	ck_assert_str_eq(c.email, "alice@example.com");
	ck_assert_int_eq(c.iat, NOW);
	ck_assert_int_eq(c.exp, NOW + 3600);
}
END_TEST

/* Hand-built tokens: header, payload, MAC, signing key, expected result. */
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS(id, email, iat, exp)                                            \
	"{\"id\":" id ",\"email\":" email ",\"iat\":" iat ",\"exp\":" exp "}"
#define GOOD CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "1700003600")

static const struct {
	const char *name, *header, *payload;
	enum mac mac;
	const char *key;
	int want;
} cases[] = {
	{ "good", HS256, GOOD, MAC_HS256, KEY, TX_JWT_OK },
	{ "no typ", "{\"alg\":\"HS256\"}", GOOD, MAC_HS256, KEY, TX_JWT_OK },
	{ "alg none", "{\"alg\":\"none\"}", GOOD, MAC_NONE, KEY, TX_JWT_EINVALID },
	{ "alg none+typ", "{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD, MAC_NONE,
	  KEY, TX_JWT_EINVALID },
	{ "HS512 right key", "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", GOOD,
	  MAC_HS512, KEY, TX_JWT_EINVALID },
	{ "HS384 right key", "{\"alg\":\"HS384\",\"typ\":\"JWT\"}", GOOD,
	  MAC_HS384, KEY, TX_JWT_EINVALID },
	/* libjwt reads alg names case-insensitively and would take these */
	{ "alg hs256", "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", GOOD, MAC_HS256,
	  KEY, TX_JWT_EINVALID },
	{ "alg Hs256", "{\"alg\":\"Hs256\"}", GOOD, MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "alg NONE", "{\"alg\":\"NONE\"}", GOOD, MAC_NONE, KEY, TX_JWT_EINVALID },
	{ "no alg", "{\"typ\":\"JWT\"}", GOOD, MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "alg number", "{\"alg\":256}", GOOD, MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "alg HS256 with NUL", "{\"alg\":\"HS256\\u0000x\"}", GOOD, MAC_HS256, KEY,
	  TX_JWT_EINVALID },
	{ "header not json", "HS256", GOOD, MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "HS256 wrong key", HS256, GOOD, MAC_HS256, KEY2, TX_JWT_EINVALID },
	{ "expired", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1600000000", "1699999999"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp == now", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1600000000", "1700000000"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "no exp", HS256, "{\"id\":\"42\",\"email\":\"a@b.c\",\"iat\":1700000000}",
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp string", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "\"1800000000\""),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp real", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "1.8e9"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp integral real", HS256,
	  CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "1700003600.0"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp exponent", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "17e8"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp null", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "null"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "iat real", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1699999999.5", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp bool", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "true"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "exp huge", HS256,
	  CLAIMS("\"42\"", "\"a@b.c\"", "1700000000", "9223372036854775807"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "iat far future", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700003600", "1700007200"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "iat now+60", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000060", "1700007200"),
	  MAC_HS256, KEY, TX_JWT_OK },
	{ "iat now+61", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "1700000061", "1700007200"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "no iat", HS256, "{\"id\":\"42\",\"email\":\"a@b.c\",\"exp\":1700003600}",
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "iat string", HS256, CLAIMS("\"42\"", "\"a@b.c\"", "\"1700000000\"", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "id number", HS256, CLAIMS("42", "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "id null", HS256, CLAIMS("null", "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "id empty", HS256, CLAIMS("\"\"", "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "id 63", HS256,
	  CLAIMS("\"123456789012345678901234567890123456789012345678901234567890123\"",
		 "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_OK },
	{ "id 64", HS256,
	  CLAIMS("\"1234567890123456789012345678901234567890123456789012345678901234\"",
		 "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "id with NUL", HS256, CLAIMS("\"4\\u00002\"", "\"a@b.c\"", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "email array", HS256, CLAIMS("\"42\"", "[\"a@b.c\"]", "1700000000", "1700003600"),
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "no email", HS256, "{\"id\":\"42\",\"iat\":1700000000,\"exp\":1700003600}",
	  MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "payload array", HS256, "[1,2]", MAC_HS256, KEY, TX_JWT_EINVALID },
	{ "payload not json", HS256, "not json", MAC_HS256, KEY, TX_JWT_EINVALID },
};

START_TEST(jwt_hand_built)
{
	char tok[4096];
	struct tx_claims c;
	build_token(cases[_i].header, cases[_i].payload, cases[_i].mac,
		    cases[_i].key, tok, sizeof(tok));
	int rc = tx_jwt_verify(KEY, 32, tok, NOW, &c);
	ck_assert_msg(rc == cases[_i].want, "%s: got %d, want %d", cases[_i].name,
		      rc, cases[_i].want);
	if (rc != TX_JWT_OK)
		ck_assert_str_eq(c.id, ""); /* nothing leaks out on failure */
}
END_TEST

/* base64url only, no padding, three parts: each token below is signed
 * with the right key over exactly its own first two parts. */
static void raw_token(const char *h, const char *p, char *out, size_t cap)
{
	char sig[128];
	int n = snprintf(out, cap, "%s.%s", h, p);
	ck_assert(n > 0 && (size_t)n < cap);
	mac_b64url(MAC_HS256, KEY, out, sig, sizeof(sig));
	n = snprintf(out, cap, "%s.%s.%s", h, p, sig);
	ck_assert(n > 0 && (size_t)n < cap);
}

START_TEST(jwt_bad_base64url)
{
	char h[128], p[512], bad[600], tok[1024];
	struct tx_claims c;
	b64url(h, sizeof(h), HS256);
	b64url(p, sizeof(p), GOOD);
	raw_token(h, p, tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_OK);
	/* padding, a stray character, standard base64's alphabet, a space */
	static const char *const edits[] = { "%s=", "%s==", "!%s", "%s!", " %s", "%s\n" };
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		snprintf(bad, sizeof(bad), edits[i], p);
		raw_token(h, bad, tok, sizeof(tok));
		ck_assert_msg(tx_jwt_verify(KEY, 32, tok, NOW, &c) == TX_JWT_EINVALID, "%s", tok);
		snprintf(bad, sizeof(bad), edits[i], h);
		raw_token(bad, p, tok, sizeof(tok));
		ck_assert_msg(tx_jwt_verify(KEY, 32, tok, NOW, &c) == TX_JWT_EINVALID, "%s", tok);
	}
	/* six '?' encode as a '_' at any offset: swapped for standard's '/' */
	b64url(p, sizeof(p), CLAIMS("\"42\"", "\"a??????@b.c\"", "1700000000", "1700003600"));
	raw_token(h, p, tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_OK);
	char *q = strchr(p, '_');
	ck_assert_ptr_nonnull(q);
	*q = '/';
	raw_token(h, p, tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_EINVALID);
	/* the signature in padded standard base64 */
	b64url(p, sizeof(p), GOOD);
	raw_token(h, p, tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_OK);
	char *sig = strrchr(tok, '.') + 1;
	unsigned char mac[64];
	size_t maclen = 0;
	ck_assert_int_eq(sodium_base642bin(mac, sizeof(mac), sig, strlen(sig), NULL, &maclen,
					   NULL, B64URL), 0);
	sodium_bin2base64(sig, sizeof(tok) - (size_t)(sig - tok), mac, maclen,
			  sodium_base64_VARIANT_ORIGINAL);
	ck_assert_ptr_nonnull(strchr(sig, '='));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_EINVALID);
	/* four parts, an empty part */
	b64url(p, sizeof(p), GOOD);
	raw_token(h, p, tok, sizeof(tok));
	size_t len = strlen(tok);
	tok[len] = '.';
	tok[len + 1] = '\0';
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_EINVALID);
	raw_token(h, "", tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_EINVALID);
}
END_TEST

START_TEST(jwt_email_bounds)
{
	char email[300], payload[512], tok[4096];
	struct tx_claims c;
	for (size_t len = 254; len <= 257; len++) {
		memset(email, 'e', len);
		email[len] = '\0';
		snprintf(payload, sizeof(payload), CLAIMS("\"42\"", "\"%s\"",
			 "1700000000", "1700003600"), email);
		build_token(HS256, payload, MAC_HS256, KEY, tok, sizeof(tok));
		int want = len <= 255 ? TX_JWT_OK : TX_JWT_EINVALID;
		ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), want);
	}
}
END_TEST

START_TEST(jwt_tampered_payload)
{
	struct tx_claims evil = alice;
	char tok[TX_JWT_MAX_TOKEN + 1], tok2[TX_JWT_MAX_TOKEN + 1], forged[4200];
	struct tx_claims c;
	snprintf(evil.id, sizeof(evil.id), "%s", "1");
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &alice, tok, sizeof(tok)), 0);
	ck_assert_int_eq(tx_jwt_sign(KEY2, 32, &evil, tok2, sizeof(tok2)), 0);
	/* evil's header.payload with alice's signature */
	const char *sig = strrchr(tok, '.');
	const char *end2 = strrchr(tok2, '.');
	int n = snprintf(forged, sizeof(forged), "%.*s%s", (int)(end2 - tok2),
			 tok2, sig);
	ck_assert(n > 0 && (size_t)n < sizeof(forged));
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, forged, NOW, &c), TX_JWT_EINVALID);
	/* one character of the signature changed */
	size_t last = strlen(tok) - 2;
	tok[last] = tok[last] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), TX_JWT_EINVALID);
}
END_TEST

START_TEST(jwt_short_key)
{
	char tok[TX_JWT_MAX_TOKEN + 1], good[TX_JWT_MAX_TOKEN + 1];
	struct tx_claims c;
	ck_assert_int_eq(tx_jwt_sign(KEY, 31, &alice, tok, sizeof(tok)), TX_JWT_EKEY);
	ck_assert_int_eq(tx_jwt_sign(NULL, 32, &alice, tok, sizeof(tok)), TX_JWT_EKEY);
	ck_assert_int_eq(tx_jwt_sign("k", 1, &alice, tok, sizeof(tok)), TX_JWT_EKEY);
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &alice, good, sizeof(good)), 0);
	ck_assert_int_eq(tx_jwt_verify(KEY, 31, good, NOW, &c), TX_JWT_EKEY);
	ck_assert_int_eq(tx_jwt_verify(NULL, 32, good, NOW, &c), TX_JWT_EKEY);
	ck_assert_int_eq(tx_jwt_verify(NULL, 0, good, NOW, &c), TX_JWT_EKEY);
	/* a token signed with a short key never verifies either */
	build_token(HS256, GOOD, MAC_HS256, "short", tok, sizeof(tok));
	ck_assert_int_eq(tx_jwt_verify("short", 5, tok, NOW, &c), TX_JWT_EKEY);
}
END_TEST

START_TEST(jwt_sign_bounds)
{
	char tok[TX_JWT_MAX_TOKEN + 1], small[32];
	struct tx_claims c = alice;
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &alice, small, sizeof(small)),
			 TX_JWT_ETOOLONG);
	ck_assert_str_eq(small, "");
	c.id[0] = '\0';
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &c, tok, sizeof(tok)), TX_JWT_EINVALID);
	c = alice;
	memset(c.email, 'x', sizeof(c.email)); /* not terminated */
	ck_assert_int_eq(tx_jwt_sign(KEY, 32, &c, tok, sizeof(tok)), TX_JWT_EINVALID);
}
END_TEST

/* A correctly signed token is refused once it exceeds TX_JWT_MAX_TOKEN. */
START_TEST(jwt_overlong_token)
{
	char pad[2048], payload[2200], tok[4096];
	struct tx_claims c;
	size_t len = 0;
	for (size_t padlen = 1400; padlen < 1600; padlen++) {
		memset(pad, 'p', padlen);
		pad[padlen] = '\0';
		snprintf(payload, sizeof(payload),
			 "{\"id\":\"42\",\"email\":\"a@b.c\",\"iat\":1700000000,"
			 "\"exp\":1700003600,\"pad\":\"%s\"}",
			 pad);
		build_token(HS256, payload, MAC_HS256, KEY, tok, sizeof(tok));
		len = strlen(tok);
		int want = len <= TX_JWT_MAX_TOKEN ? TX_JWT_OK : TX_JWT_EINVALID;
		ck_assert_int_eq(tx_jwt_verify(KEY, 32, tok, NOW, &c), want);
	}
	ck_assert_uint_gt(len, TX_JWT_MAX_TOKEN); /* the loop crossed the bound */
	char huge[100000];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, huge, NOW, &c), TX_JWT_EINVALID);
}
END_TEST

static const char *const garbage[] = {
	"", ".", "..", "a.b", "a.b.c", "...", "eyJ.eyJ.", "\xff\xfe.\x01.x",
};

START_TEST(jwt_garbage)
{
	struct tx_claims c;
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, garbage[_i], NOW, &c),
			 TX_JWT_EINVALID);
}
END_TEST

START_TEST(jwt_null_token)
{
	struct tx_claims c;
	ck_assert_int_eq(tx_jwt_verify(KEY, 32, NULL, NOW, &c), TX_JWT_EINVALID);
}
END_TEST

Suite *suite_jwt(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, jwt_round_trip);
	tcase_add_loop_test(tc, jwt_hand_built, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, jwt_bad_base64url);
	tcase_add_test(tc, jwt_email_bounds);
	tcase_add_test(tc, jwt_tampered_payload);
	tcase_add_test(tc, jwt_short_key);
	tcase_add_test(tc, jwt_sign_bounds);
	tcase_add_test(tc, jwt_overlong_token);
	tcase_add_loop_test(tc, jwt_garbage, 0, sizeof(garbage) / sizeof(garbage[0]));
	tcase_add_test(tc, jwt_null_token);
	suite_add_tcase(s, tc);
	return s;
}
