/* test_auth.c: the auth JSON API through nginx (reference 3.1, 9.1, 9.10).
 *
 * The database is shared by every test and every run, so each test signs
 * up its own unique address. The rate-limit case lives in its own suite,
 * tagged "ratelimit": scripts/test.sh runs it only with nginx's limit on.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define SIGNUP "/api/users/signup"
#define SIGNIN "/api/users/signin"
#define SIGNOUT "/api/users/signout"
#define CURRENT "/api/users/currentuser"

#define MSG_EMAIL "Email must be valid"
#define MSG_PWLEN "Password must be between 4 and 20 characters"
#define MSG_PWREQ "You must supply a password"
#define NOT_FOUND "{\"errors\":[{\"message\":\"Not Found\"}]}"
#define WENT_WRONG "{\"errors\":[{\"message\":\"Something went wrong\"}]}"

#define ck_status(r, want)                                                    \
	ck_assert_msg((r)->status == (want), "status %ld, want %d; body: %.300s%s", \
		      (r)->status, (want), (r)->body, (r)->error)
#define ck_body(r, json)                                                      \
	ck_assert_msg(tc_json_is((r), (json)), "body %.300s, want %s", (r)->body, \
		      (json))

/* {"email":..,"password":..} for plain values (no escaping needed). */
static char *creds(const char *email, const char *password)
{
	return tc_strf("{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
}

static void post_creds(const char *path, const char *email,
		       const char *password, struct tc_resp *r)
{
	char *body = creds(email, password);
	tc_post_json(path, body, NULL, r);
	free(body);
}

static char *msg1(const char *message)
{
	return tc_strf("{\"errors\":[{\"message\":\"%s\"}]}", message);
}

static void ck_message(const struct tc_resp *r, int status, const char *message)
{
	char *want = msg1(message);
	ck_status(r, status);
	ck_assert(tc_is_json_type(r));
	ck_body(r, want);
	free(want);
}

/* Signs up a new unique user with password "password"; returns the email
 * and, when cookie is not NULL, the "session=..." pair. */
static char *new_user(char **cookie)
{
	struct tc_resp r;
	char *email = tc_unique_email("u");
	post_creds(SIGNUP, email, "password", &r);
	ck_status(&r, 201);
	if (cookie) {
		*cookie = tc_cookie_pair(&r, "session");
		ck_assert_ptr_nonnull(*cookie);
	}
	tc_resp_release(&r);
	return email;
}

/* ---- reference 9.1: the original's twelve tests ------------------------- */

START_TEST(signup_returns_201)
{
	struct tc_resp r;
	char *email = tc_unique_email("s");
	post_creds(SIGNUP, email, "password", &r);
	ck_status(&r, 201);
	ck_assert(tc_is_json_type(&r));
	struct json_object *o = tc_json(&r), *v;
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_object_length(o), 2);
	ck_assert(json_object_object_get_ex(o, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), email);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	ck_assert_int_eq(json_object_get_string_len(v), 36);
	ck_assert(!json_object_object_get_ex(o, "password", NULL));
	json_object_put(o);
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(signup_invalid_email)
{
	struct tc_resp r;
	post_creds(SIGNUP, "alskdflaskjfd", "password", &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL "\",\"field\":\"email\"}]}");
	tc_resp_release(&r);
}
END_TEST

START_TEST(signup_invalid_password)
{
	struct tc_resp r;
	post_creds(SIGNUP, "alskdflaskjfd", "p", &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL "\",\"field\":\"email\"},"
		    "{\"message\":\"" MSG_PWLEN "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);
}
END_TEST

START_TEST(signup_missing_fields)
{
	struct tc_resp r;
	char *email = tc_unique_email("m");
	char *body = tc_strf("{\"email\":\"%s\"}", email);
	tc_post_json(SIGNUP, body, NULL, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_PWLEN "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);

	tc_post_json(SIGNUP, "{\"password\":\"alskjdf\"}", NULL, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL "\",\"field\":\"email\"}]}");
	tc_resp_release(&r);
	free(body);
	free(email);
}
END_TEST

START_TEST(signup_duplicate_email)
{
	struct tc_resp r;
	char *email = new_user(NULL);
	post_creds(SIGNUP, email, "password", &r);
	ck_message(&r, 400, "Email in use");
	ck_assert_uint_eq(r.ncookies, 0);
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(signup_sets_cookie)
{
	struct tc_resp r;
	char *email = tc_unique_email("c");
	post_creds(SIGNUP, email, "password", &r);
	ck_status(&r, 201);
	ck_assert_uint_ge(r.ncookies, 1);
	const char *line = tc_set_cookie_line(&r, "session");
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_gt(strcspn(line, ";"), strlen("session="));
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(signin_unknown_email)
{
	struct tc_resp r;
	char *email = tc_unique_email("nobody");
	post_creds(SIGNIN, email, "password", &r);
	ck_message(&r, 400, "Invalid credentials");
	ck_assert_uint_eq(r.ncookies, 0);
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(signin_wrong_password)
{
	struct tc_resp r;
	char *email = new_user(NULL);
	post_creds(SIGNIN, email, "aslkdfjalskdfj", &r);
	ck_message(&r, 400, "Invalid Credentials");
	ck_assert_uint_eq(r.ncookies, 0);
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(signin_valid_credentials)
{
	struct tc_resp r;
	char *email = new_user(NULL);
	post_creds(SIGNIN, email, "password", &r);
	ck_status(&r, 200);
	ck_assert_ptr_nonnull(tc_set_cookie_line(&r, "session"));
	struct json_object *o = tc_json(&r), *v;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), email);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	json_object_put(o);

	/* The cookie of the sign-in is a working session. */
	char *cookie = tc_cookie_pair(&r, "session");
	tc_resp_release(&r);
	tc_get(CURRENT, cookie, &r);
	ck_status(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, email));
	tc_resp_release(&r);
	free(cookie);
	free(email);
}
END_TEST

START_TEST(signout_clears_cookie)
{
	struct tc_resp r;
	free(new_user(NULL));
	tc_post_json(SIGNOUT, "{}", NULL, &r);
	ck_status(&r, 200);
	ck_body(&r, "{}");
	ck_assert_uint_ge(r.ncookies, 1);
	ck_assert_str_eq(r.set_cookie[0],
			 "session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly");
	tc_resp_release(&r);
}
END_TEST

START_TEST(currentuser_details)
{
	struct tc_resp r;
	char *cookie;
	char *email = new_user(&cookie);
	tc_get(CURRENT, cookie, &r);
	ck_status(&r, 200);
	struct json_object *o = tc_json(&r), *cu, *v;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "currentUser", &cu));
	ck_assert(json_object_object_get_ex(cu, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), email);
	json_object_put(o);
	tc_resp_release(&r);
	free(cookie);
	free(email);
}
END_TEST

START_TEST(currentuser_null_without_cookie)
{
	struct tc_resp r;
	tc_get(CURRENT, NULL, &r);
	ck_status(&r, 200);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, "{\"currentUser\":null}");
	ck_assert_uint_eq(r.ncookies, 0);
	tc_resp_release(&r);
}
END_TEST

/* ---- reference 9.10 and DESIGN.md: validation ---------------------------- */

START_TEST(signup_empty_body_lists_both)
{
	struct tc_resp r;
	tc_post_json(SIGNUP, "{}", NULL, &r);
	ck_status(&r, 400);
	ck_assert(tc_is_json_type(&r));
	/* Exact bytes: email first, each with its field. */
	ck_assert_str_eq(r.body, "{\"errors\":[{\"message\":\"" MSG_EMAIL
				 "\",\"field\":\"email\"},{\"message\":\"" MSG_PWLEN
				 "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);
}
END_TEST

START_TEST(signin_empty_body_lists_both)
{
	struct tc_resp r;
	tc_post_json(SIGNIN, "{}", NULL, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL "\",\"field\":\"email\"},"
		    "{\"message\":\"" MSG_PWREQ "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);

	/* A password of spaces only is empty once trimmed. */
	char *email = tc_unique_email("w");
	post_creds(SIGNIN, email, "   ", &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_PWREQ "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);
	free(email);
}
END_TEST

static const struct {
	const char *password;
	int status;
} pw_cases[] = {
	{ "abcd", 201 },
	{ "abcdefghijklmnopqrst", 201 },
	{ "abc", 400 },
	{ "abcdefghijklmnopqrstu", 400 },
	{ "  abc  ", 400 },   /* trimmed to 3 */
	{ "\\u00e9\\u00e9\\u00e9\\u00e9", 201 }, /* 4 characters, 8 bytes */
};

START_TEST(password_boundaries)
{
	struct tc_resp r;
	char *email = tc_unique_email("pw");
	post_creds(SIGNUP, email, pw_cases[_i].password, &r);
	ck_status(&r, pw_cases[_i].status);
	if (pw_cases[_i].status == 400)
		ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_PWLEN
			    "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(password_is_trimmed)
{
	struct tc_resp r;
	char *email = tc_unique_email("trim");
	post_creds(SIGNUP, email, "  abcd  ", &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	post_creds(SIGNIN, email, "abcd", &r);
	ck_status(&r, 200);
	tc_resp_release(&r);
	post_creds(SIGNIN, email, "abcde", &r);
	ck_message(&r, 400, "Invalid Credentials");
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(email_unique_case_insensitive)
{
	struct tc_resp r;
	char *lower = tc_unique_email("case");
	char *upper = tc_strf("%s", lower);
	upper[0] = 'C';
	memcpy(strchr(upper, '@'), "@Test.COM", strlen("@Test.COM"));
	post_creds(SIGNUP, lower, "password", &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	post_creds(SIGNUP, upper, "password", &r);
	ck_message(&r, 400, "Email in use");
	tc_resp_release(&r);
	free(lower);
	free(upper);
}
END_TEST

/* ---- sessions ------------------------------------------------------------- */

static void ck_current_null(const char *cookie, const char *what)
{
	struct tc_resp r;
	tc_get(CURRENT, cookie, &r);
	ck_assert_msg(r.status == 200, "%s: status %ld", what, r.status);
	ck_assert_msg(tc_json_is(&r, "{\"currentUser\":null}"),
		      "%s: accepted, body %.300s", what, r.body);
	tc_resp_release(&r);
}

static char *payload(long long iat, long long exp)
{
	char id[37];
	tc_uuid(id);
	return tc_strf("{\"id\":\"%s\",\"email\":\"forged@test.com\",\"iat\":%lld,"
		       "\"exp\":%lld}", id, iat, exp);
}

static char *cookie_for(const char *header, const char *body, const char *alg,
			const char *key)
{
	char *tok = tc_jwt(header, body, alg, key, strlen(key));
	char *c = tc_session_cookie(tok);
	free(tok);
	return c;
}

START_TEST(currentuser_forged_cookie_accepted)
{
	/* The forging itself is right: the negative cases below mean something. */
	struct tc_resp r;
	char id[37];
	char *cookie = tc_forge_cookie("forged@test.com", id);
	tc_get(CURRENT, cookie, &r);
	ck_status(&r, 200);
	struct json_object *o = tc_json(&r), *cu, *v;
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "currentUser", &cu));
	ck_assert(json_object_is_type(cu, json_type_object));
	ck_assert(json_object_object_get_ex(cu, "id", &v));
	ck_assert_str_eq(json_object_get_string(v), id);
	ck_assert(json_object_object_get_ex(cu, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), "forged@test.com");
	json_object_put(o);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

START_TEST(currentuser_rejects_bad_tokens)
{
	static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	const char *key = tc_jwt_key();
	long long now = (long long)time(NULL);
	char *good = payload(now, now + 3600), *old = payload(now - 7200, now - 3600);

	/* Tampered: the signature of one payload on another. */
	char *t1 = tc_jwt(hs256, good, "HS256", key, strlen(key));
	char *other = payload(now, now + 3600);
	char *t2 = tc_jwt(hs256, other, "HS256", key, strlen(key));
	char *dot1 = strrchr(t1, '.'), *dot2 = strrchr(t2, '.');
	char *mixed = tc_strf("%.*s%s", (int)(dot2 - t2), t2, dot1);
	char *c = tc_session_cookie(mixed);
	ck_current_null(c, "payload swapped under a signature");
	free(c);
	/* Tampered: one signature character changed. */
	dot1[1] = dot1[1] == 'A' ? 'B' : 'A';
	c = tc_session_cookie(t1);
	ck_current_null(c, "signature changed");
	free(c);

	c = cookie_for(hs256, good, "HS256", "another-key-of-at-least-32-bytes!!");
	ck_current_null(c, "signed with another key");
	free(c);
	c = cookie_for("{\"alg\":\"none\",\"typ\":\"JWT\"}", good, "none", key);
	ck_current_null(c, "alg none");
	free(c);
	c = cookie_for("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good, "HS512", key);
	ck_current_null(c, "HS512 with the right key");
	free(c);
	c = cookie_for(hs256, good, "HS512", key);
	ck_current_null(c, "HS256 header, HS512 signature");
	free(c);
	c = cookie_for(hs256, old, "HS256", key);
	ck_current_null(c, "expired");
	free(c);
	ck_current_null("session=not-base64!!", "garbage cookie");
	ck_current_null("session=", "empty cookie");

	free(t1);
	free(t2);
	free(mixed);
	free(other);
	free(good);
	free(old);
}
END_TEST

START_TEST(currentuser_shape)
{
	struct tc_resp r;
	char *email = tc_unique_email("shape");
	post_creds(SIGNUP, email, "password", &r);
	ck_status(&r, 201);
	struct json_object *su = tc_json(&r), *id;
	ck_assert(json_object_object_get_ex(su, "id", &id));
	char *cookie = tc_cookie_pair(&r, "session");
	tc_resp_release(&r);

	long long now = (long long)time(NULL);
	tc_get(CURRENT, cookie, &r);
	ck_status(&r, 200);
	ck_assert_uint_eq(r.ncookies, 0); /* no Set-Cookie on currentuser */
	struct json_object *o = tc_json(&r), *cu, *v;
	ck_assert(json_object_object_get_ex(o, "currentUser", &cu));
	ck_assert_int_eq(json_object_object_length(cu), 3);
	ck_assert(!json_object_object_get_ex(cu, "exp", NULL));
	ck_assert(json_object_object_get_ex(cu, "id", &v));
	ck_assert_str_eq(json_object_get_string(v), json_object_get_string(id));
	ck_assert(json_object_object_get_ex(cu, "email", &v));
	ck_assert_str_eq(json_object_get_string(v), email);
	ck_assert(json_object_object_get_ex(cu, "iat", &v));
	ck_assert(json_object_is_type(v, json_type_int));
	ck_assert_int_le(llabs(json_object_get_int64(v) - now), 60);
	json_object_put(o);
	json_object_put(su);
	tc_resp_release(&r);
	free(cookie);
	free(email);
}
END_TEST

START_TEST(cookie_attributes_http)
{
	struct tc_resp r;
	char *email = tc_unique_email("attr");
	post_creds(SIGNUP, email, "password", &r);
	ck_status(&r, 201);
	const char *line = tc_set_cookie_line(&r, "session");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strcasestr(line, "; httponly"), "%s", line);
	ck_assert_msg(strcasestr(line, "; samesite=lax"), "%s", line);
	ck_assert_msg(strstr(line, "; path=/"), "%s", line);
	const char *attrs = line + strcspn(line, ";");
	ck_assert_msg(!strcasestr(attrs, "secure"), "secure over http: %s", line);
	ck_assert_msg(!strcasestr(attrs, "expires") && !strcasestr(attrs, "max-age"),
		      "not a browser-session cookie: %s", line);
	tc_resp_release(&r);
	free(email);
}
END_TEST

START_TEST(cookie_secure_behind_https_proxy)
{
	static const char *const https[] = { "X-Forwarded-Proto: https", NULL };
	struct tc_resp r;
	char *email = tc_unique_email("sec");
	char *body = creds(email, "password");
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .headers = https };
	tc_request("POST", SIGNUP, &o, &r);
	ck_status(&r, 201);
	const char *line = tc_set_cookie_line(&r, "session");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "; secure"), "no secure: %s", line);
	tc_resp_release(&r);

	o.body = "{}";
	tc_request("POST", SIGNOUT, &o, &r);
	ck_status(&r, 200);
	ck_assert_uint_ge(r.ncookies, 1);
	ck_assert_str_eq(r.set_cookie[0], "session=; path=/; expires=Thu, 01 Jan "
					  "1970 00:00:00 GMT; httponly; secure");
	tc_resp_release(&r);
	free(body);
	free(email);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------- */

#define NSIGNUPS 20

struct racer {
	pthread_barrier_t *start;
	const char *body;
	long status;
	int email_in_use;
	char error[256];
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	struct tc_resp r;
	pthread_barrier_wait(rc->start);
	tc_post_json(SIGNUP, rc->body, NULL, &r);
	rc->status = r.status;
	rc->email_in_use = tc_json_is(&r, "{\"errors\":[{\"message\":\"Email in use\"}]}");
	memcpy(rc->error, r.error, sizeof(rc->error));
	tc_resp_release(&r);
	return NULL;
}

START_TEST(concurrent_signups_one_wins)
{
	pthread_barrier_t start;
	pthread_t th[NSIGNUPS];
	struct racer rc[NSIGNUPS];
	char *email = tc_unique_email("race");
	char *body = creds(email, "password");
	pthread_barrier_init(&start, NULL, NSIGNUPS);
	for (int i = 0; i < NSIGNUPS; i++) {
		rc[i] = (struct racer){ .start = &start, .body = body };
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rc[i]), 0);
	}
	int created = 0, in_use = 0;
	for (int i = 0; i < NSIGNUPS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(rc[i].status > 0 && rc[i].status < 500,
			      "signup %d: status %ld %s", i, rc[i].status, rc[i].error);
		created += rc[i].status == 201;
		in_use += rc[i].status == 400 && rc[i].email_in_use;
	}
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(in_use, NSIGNUPS - 1);
	free(body);
	free(email);
}
END_TEST

/* ---- routing ---------------------------------------------------------------- */

static const struct {
	const char *method, *path;
} unknown_routes[] = {
	{ "GET", "/api/users/signup" },	  { "GET", "/api/users/foo" },
	{ "DELETE", "/api/users/currentuser" }, { "PUT", "/api/users/signin" },
	{ "GET", "/api/users" },	  { "POST", "/api/users/currentuser" },
	{ "GET", "/api/nothing/here" },
};

START_TEST(unknown_routes_404)
{
	struct tc_resp r;
	tc_request(unknown_routes[_i].method, unknown_routes[_i].path, NULL, &r);
	ck_assert_msg(r.status == 404, "%s %s: %ld", unknown_routes[_i].method,
		      unknown_routes[_i].path, r.status);
	ck_assert(tc_is_json_type(&r));
	ck_body(&r, NOT_FOUND);
	tc_resp_release(&r);
}
END_TEST

START_TEST(trailing_slash_matches)
{
	struct tc_resp r;
	char *cookie;
	char *email = new_user(&cookie);
	tc_get(CURRENT "/", cookie, &r);
	ck_status(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, email));
	tc_resp_release(&r);
	tc_get(CURRENT "/", NULL, &r);
	ck_status(&r, 200);
	ck_body(&r, "{\"currentUser\":null}");
	tc_resp_release(&r);
	free(cookie);
	free(email);
}
END_TEST

/* ---- hostile bodies ------------------------------------------------------- */

/* Each body would sign up a new user if the server were lenient (the
 * %s is a fresh address), so a 2xx fails the test as surely as a 5xx. */
static const struct {
	const char *name, *body;
	bool nul;	 /* the text goes on past one NUL byte */
	bool went_wrong; /* the answer is exactly 400 "Something went wrong" */
} bad_bodies[] = {
	{ "malformed", "{email: \"%s\", password: \"password\"}", false, true },
	{ "truncated", "{\"email\":\"%s\",\"password\":\"passw", false, true },
	{ "NaN", "{\"email\":\"%s\",\"password\":\"password\",\"n\":NaN}", false, true },
	{ "Infinity", "{\"email\":\"%s\",\"password\":\"password\",\"n\":Infinity}", false, true },
	{ "-Infinity", "{\"email\":\"%s\",\"password\":\"password\",\"n\":-Infinity}", false, true },
	{ "1e400", "{\"email\":\"%s\",\"password\":\"password\",\"n\":1e400}", false, false },
	{ "huge integer", "{\"email\":\"%s\",\"password\":\"password\","
			  "\"n\":123456789012345678901234567890}", false, false },
	{ "invalid UTF-8", "{\"email\":\"%s\",\"password\":\"pass\xffword\"}", false, true },
	{ "overlong UTF-8", "{\"email\":\"%s\",\"password\":\"pass\xc0\xafword\"}", false, true },
	{ "lone surrogate", "{\"email\":\"%s\",\"password\":\"pass\\ud800word\"}", false, false },
	{ "depth 33", "{\"email\":\"%s\",\"password\":\"password\",\"n\":"
		      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", false, false },
	{ "trailing garbage", "{\"email\":\"%s\",\"password\":\"password\"} x", false, true },
	{ "two objects", "{\"email\":\"%s\",\"password\":\"password\"}{}", false, true },
	{ "array root", "[{\"email\":\"%s\",\"password\":\"password\"}]", false, false },
	{ "string root", "\"%s\"", false, false },
	{ "raw NUL in a string", "{\"email\":\"%s\",\"password\":\"pass\0word\"}", true, true },
	{ "escaped NUL in a string", "{\"email\":\"%s\",\"password\":\"pass\\u0000word\"}", false, false },
	{ "single quotes", "{'email':'%s','password':'password'}", false, true },
	{ "trailing comma", "{\"email\":\"%s\",\"password\":\"password\",}", false, true },
	{ "comment", "{\"email\":\"%s\",/* c */\"password\":\"password\"}", false, true },
};

/* The body of case i with the address in place of the first %s; the raw
 * NUL case keeps its bytes past the NUL. */
static char *bad_body(size_t i, const char *email, size_t *len)
{
	const char *tpl = bad_bodies[i].body;
	size_t tlen = strlen(tpl);
	if (bad_bodies[i].nul)
		tlen += 1 + strlen(tpl + tlen + 1);
	const char *pct = strstr(tpl, "%s");
	size_t head = (size_t)(pct - tpl), elen = strlen(email);
	char *b = malloc(tlen - 2 + elen + 1);
	ck_assert_ptr_nonnull(b);
	memcpy(b, tpl, head);
	memcpy(b + head, email, elen);
	memcpy(b + head + elen, pct + 2, tlen - head - 2);
	*len = tlen - 2 + elen;
	b[*len] = '\0';
	return b;
}

START_TEST(bad_json_is_a_4xx)
{
	struct tc_resp r;
	size_t len;
	char *email = tc_unique_email("bad");
	char *body = bad_body((size_t)_i, email, &len);
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .body_len = len };
	tc_request("POST", SIGNUP, &o, &r);
	ck_assert_msg(r.status == 400, "%s: status %ld, body %.200s",
		      bad_bodies[_i].name, r.status, r.body);
	ck_assert_msg(tc_is_json_type(&r) && tc_is_errors(&r), "%s: body %.200s",
		      bad_bodies[_i].name, r.body);
	if (bad_bodies[_i].went_wrong)
		ck_assert_msg(tc_json_is(&r, WENT_WRONG), "%s: body %.200s",
			      bad_bodies[_i].name, r.body);
	ck_assert_uint_eq(r.ncookies, 0);
	tc_resp_release(&r);

	/* And nobody was signed up. */
	post_creds(SIGNIN, email, "password", &r);
	ck_message(&r, 400, "Invalid credentials");
	tc_resp_release(&r);
	free(body);
	free(email);
}
END_TEST

static const char *const odd_emails[] = {
	"{\"email\":12345,\"password\":\"password\"}",
	"{\"email\":{\"a\":\"x@test.com\"},\"password\":\"password\"}",
	"{\"email\":[\"a@test.com\",\"b@test.com\"],\"password\":\"password\"}",
	"{\"email\":null,\"password\":\"password\"}",
	"{\"email\":true,\"password\":\"password\"}",
	"{\"email\":\"\",\"password\":\"password\"}",
};

START_TEST(email_of_another_type_is_invalid)
{
	struct tc_resp r;
	tc_post_json(SIGNUP, odd_emails[_i], NULL, &r);
	ck_assert_msg(r.status == 400, "%s: status %ld", odd_emails[_i], r.status);
	ck_assert_msg(tc_json_is(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL
				     "\",\"field\":\"email\"}]}"),
		      "%s: body %.200s", odd_emails[_i], r.body);
	tc_resp_release(&r);
}
END_TEST

START_TEST(body_over_limit_is_413)
{
	struct tc_resp r;
	size_t n = 200 * 1024;
	char *body = malloc(n + 1);
	ck_assert_ptr_nonnull(body);
	memset(body, ' ', n);
	static const char head[] = "{\"email\":\"big@test.com\",\"password\":"
				   "\"password\",\"p\":\"";
	memcpy(body, head, strlen(head));
	memcpy(body + n - 2, "\"}", 2);
	body[n] = '\0';
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .body_len = n };
	tc_request("POST", SIGNUP, &o, &r);
	ck_status(&r, 413);
	ck_assert_msg(tc_is_json_type(&r), "content type %s, body %.200s",
		      r.content_type ? r.content_type : "(none)", r.body);
	ck_assert_msg(tc_is_errors(&r), "body %.200s", r.body);
	tc_resp_release(&r);
	free(body);
}
END_TEST

START_TEST(text_plain_body_is_empty_object)
{
	struct tc_resp r;
	char *email = tc_unique_email("plain");
	char *body = creds(email, "password");
	struct tc_opts o = { .content_type = "text/plain", .body = body };
	tc_request("POST", SIGNUP, &o, &r);
	ck_status(&r, 400);
	ck_body(&r, "{\"errors\":[{\"message\":\"" MSG_EMAIL "\",\"field\":\"email\"},"
		    "{\"message\":\"" MSG_PWLEN "\",\"field\":\"password\"}]}");
	tc_resp_release(&r);
	/* No Content-Type at all: the same. */
	o.content_type = NULL;
	tc_request("POST", SIGNUP, &o, &r);
	ck_status(&r, 400);
	ck_assert(tc_is_errors(&r));
	tc_resp_release(&r);
	free(body);
	free(email);
}
END_TEST

START_TEST(json_content_type_with_charset)
{
	struct tc_resp r;
	char *email = tc_unique_email("charset");
	char *body = creds(email, "password");
	struct tc_opts o = { .content_type = "application/json; charset=utf-8",
			     .body = body };
	tc_request("POST", SIGNUP, &o, &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	free(body);
	free(email);
}
END_TEST

/* ---- the rate limit (nginx reloaded with AUTH_RATE_LIMIT=2) --------------- */

#define RATE_TRIES 30

START_TEST(signin_is_rate_limited)
{
	struct tc_resp r;
	int limited = 0, answered = 0;
	for (int i = 0; i < RATE_TRIES; i++) {
		tc_post_json(SIGNIN, "{}", NULL, &r);
		ck_assert_msg(r.status == 429 || r.status == 400, "try %d: %ld %s", i,
			      r.status, r.error);
		if (r.status == 429) {
			limited++;
			ck_assert_msg(tc_is_json_type(&r), "429 content type %s",
				      r.content_type ? r.content_type : "(none)");
			ck_assert_msg(tc_json_is(&r, "{\"errors\":[{\"message\":"
						     "\"Too many requests, try again later\"}]}"),
				      "429 body %.200s", r.body);
		} else {
			answered++;
		}
		tc_resp_release(&r);
	}
	ck_assert_msg(limited > 0, "no 429 in %d rapid sign-ins", RATE_TRIES);
	ck_assert_msg(answered > 0, "every sign-in refused: no burst allowed");

	/* Not limited: currentuser still answers. */
	tc_get(CURRENT, NULL, &r);
	ck_status(&r, 200);
	ck_body(&r, "{\"currentUser\":null}");
	tc_resp_release(&r);
}
END_TEST

/* Selected with CK_INCLUDE_TAGS=ratelimit (or CK_RUN_SUITE=ratelimit) and
 * left out of the normal run with CK_EXCLUDE_TAGS=ratelimit: it can only
 * pass while nginx enforces the limit. */
Suite *suite_ratelimit_http(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");
	tcase_set_tags(tc, "ratelimit");
	tcase_add_test(tc, signin_is_rate_limited);
	suite_add_tcase(s, tc);
	return s;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_auth_http(void)
{
	Suite *s = suite_create("auth_http");
	TCase *tc = tcase_create("original");
	tcase_add_test(tc, signup_returns_201);
	tcase_add_test(tc, signup_invalid_email);
	tcase_add_test(tc, signup_invalid_password);
	tcase_add_test(tc, signup_missing_fields);
	tcase_add_test(tc, signup_duplicate_email);
	tcase_add_test(tc, signup_sets_cookie);
	tcase_add_test(tc, signin_unknown_email);
	tcase_add_test(tc, signin_wrong_password);
	tcase_add_test(tc, signin_valid_credentials);
	tcase_add_test(tc, signout_clears_cookie);
	tcase_add_test(tc, currentuser_details);
	tcase_add_test(tc, currentuser_null_without_cookie);
	suite_add_tcase(s, tc);

	tc = tcase_create("contract");
	tcase_add_test(tc, signup_empty_body_lists_both);
	tcase_add_test(tc, signin_empty_body_lists_both);
	tcase_add_loop_test(tc, password_boundaries, 0, N(pw_cases));
	tcase_add_test(tc, password_is_trimmed);
	tcase_add_test(tc, email_unique_case_insensitive);
	tcase_add_test(tc, concurrent_signups_one_wins);
	tcase_add_loop_test(tc, unknown_routes_404, 0, N(unknown_routes));
	tcase_add_test(tc, trailing_slash_matches);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_add_test(tc, currentuser_forged_cookie_accepted);
	tcase_add_test(tc, currentuser_rejects_bad_tokens);
	tcase_add_test(tc, currentuser_shape);
	tcase_add_test(tc, cookie_attributes_http);
	tcase_add_test(tc, cookie_secure_behind_https_proxy);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad_input");
	tcase_add_loop_test(tc, bad_json_is_a_4xx, 0, N(bad_bodies));
	tcase_add_loop_test(tc, email_of_another_type_is_invalid, 0, N(odd_emails));
	tcase_add_test(tc, body_over_limit_is_413);
	tcase_add_test(tc, text_plain_body_is_empty_object);
	tcase_add_test(tc, json_content_type_with_charset);
	suite_add_tcase(s, tc);
	return s;
}
