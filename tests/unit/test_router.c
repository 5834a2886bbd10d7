/* test_router.c: tx_http_handle with a fake service: matching, flags, bodies.
 *
 * Each test builds a request by hand, runs it through the router with a
 * route table of recording handlers, and asserts on the response and on
 * what the handler saw. No database: ctx.db is never connected.
 */
#include <check.h>
#include <json.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/csrf.h"
#include "core/db.h"
#include "core/errors.h"
#include "core/http.h"
#include "core/session.h"
#include "core/tmpl.h"

#define KEY "0123456789abcdef0123456789abcdef-router-key"
#define BODY_CAP (64u << 10)
#define JSON_TYPE "application/json; charset=utf-8"
#define HTML_TYPE "text/html; charset=utf-8"

/* What the last handler saw (Check forks per test; setup clears it). */
static struct {
	int calls;
	const char *params[TX_MAX_PARAMS];
	size_t nparams;
	char email[256];
	bool user;
	bool json_object;
	int json_fields;
	int json_a;
	const char *form_x;
	const char *csrf;
} seen;

static struct tx_config cfg;
static struct tx_ctx ctx;
static struct tx_resp resp;

static void record(const struct tx_req *req)
{
	seen.calls++;
	seen.nparams = req->nparams;
	for (size_t i = 0; i < req->nparams; i++)
		seen.params[i] = req->params[i];
	seen.user = req->user != NULL;
	if (req->user)
		snprintf(seen.email, sizeof(seen.email), "%s", req->user->email);
	seen.csrf = req->csrf_token;
	seen.form_x = tx_form_get(&req->form, "x");
	if (req->json && json_object_is_type(req->json, json_type_object)) {
		struct json_object *a;
		seen.json_object = true;
		seen.json_fields = json_object_object_length(req->json);
		if (json_object_object_get_ex(req->json, "a", &a))
			seen.json_a = json_object_get_int(a);
	}
}

static int h_json(const struct tx_req *req, struct tx_ctx *c, struct tx_resp *r)
{
	(void)c;
	record(req);
	tx_buf_addlit(&r->body, "{}");
	return 0;
}

static int h_html(const struct tx_req *req, struct tx_ctx *c, struct tx_resp *r)
{
	(void)c;
	record(req);
	tx_buf_addlit(&r->body, "<p>ok</p>");
	return 0;
}

static int h_not_found(const struct tx_req *req, struct tx_ctx *c,
		       struct tx_resp *r)
{
	(void)c;
	record(req);
	tx_buf_addlit(&r->body, "partial");
	return -TX_E_NOT_FOUND;
}

static int h_unavailable(const struct tx_req *req, struct tx_ctx *c,
			 struct tx_resp *r)
{
	(void)c;
	(void)r;
	record(req);
	return -TX_E_UNAVAILABLE;
}

static int h_verrs(const struct tx_req *req, struct tx_ctx *c, struct tx_resp *r)
{
	(void)c;
	struct tx_verrs v = { .n = 0 };
	record(req);
	tx_verrs_add(&v, "email", "Email must be valid");
	tx_verrs_add(&v, "password", "Password must be between 4 and 20 characters");
	tx_verrs_add(&v, "title", "Title is \"required\"");
	return tx_resp_verrs(r, &v);
}

/* Writes past the response cap, in chunks, after setting a header. */
static int h_big(const struct tx_req *req, struct tx_ctx *c, struct tx_resp *r)
{
	char chunk[1000];
	record(req);
	memset(chunk, 'x', sizeof(chunk));
	tx_resp_header(c, r, "X-Test", "1");
	while (tx_buf_add(&r->body, chunk, sizeof(chunk)) == 0)
		;
	return 0;
}

static const struct tx_route routes[] = {
	{ TX_GET, "/", h_html, TX_R_HTML },
	{ TX_GET, "/api/things", h_json, TX_R_JSON },
	{ TX_POST, "/api/things", h_json, TX_R_JSON },
	{ TX_GET, "/api/things/:id", h_json, TX_R_JSON },
	{ TX_GET, "/api/things/:id/parts/:part", h_json, TX_R_JSON },
	{ TX_GET, "/api/private", h_json, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/api/missing", h_not_found, TX_R_JSON },
	{ TX_GET, "/api/down", h_unavailable, TX_R_JSON },
	{ TX_POST, "/api/validate", h_verrs, TX_R_JSON },
	{ TX_GET, "/api/big", h_big, TX_R_JSON },
	{ TX_GET, "/page", h_html, TX_R_HTML },
	{ TX_GET, "/private", h_html, TX_R_HTML | TX_R_AUTH },
	{ TX_POST, "/form", h_html, TX_R_HTML | TX_R_CSRF },
	{ TX_GET, "/missing", h_not_found, TX_R_HTML },
	{ TX_GET, "/big", h_big, TX_R_HTML },
};

static const struct tx_service svc = {
	.name = "test",
	.env_prefix = "TEST",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_int_eq(tmpl_set_root("templates"), 0);
	memset(&seen, 0, sizeof(seen));
	memset(&cfg, 0, sizeof(cfg));
	cfg.jwt_key_len = strlen(KEY);
	memcpy(cfg.jwt_key, KEY, cfg.jwt_key_len + 1);
	cfg.template_dir = "templates";
	cfg.session_ttl_s = 3600;
	cfg.max_body_bytes = 1 << 20;
	cfg.pw_opslimit = crypto_pwhash_OPSLIMIT_MIN;
	cfg.pw_memlimit = crypto_pwhash_MEMLIMIT_MIN;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.svc = &svc;
	ctx.arena = tx_arena_new(0);
	ctx.db = tx_db_new("");
	memset(&resp, 0, sizeof(resp));
	tx_buf_init(&resp.body, BODY_CAP);
}

static void teardown(void)
{
	tx_buf_release(&resp.body);
	tx_db_free(ctx.db);
	tx_arena_free(ctx.arena);
}

static const char *const method_names[TX_METHOD__MAX] = {
	[TX_GET] = "GET",     [TX_HEAD] = "HEAD",     [TX_POST] = "POST",
	[TX_PUT] = "PUT",     [TX_DELETE] = "DELETE", [TX_PATCH] = "PATCH",
	[TX_OTHER] = "OTHER",
};

static struct tx_req mkreq(enum tx_method m, const char *path)
{
	return (struct tx_req){
		.method = m,
		.method_name = method_names[m],
		.path = path,
		.query = "",
		.content_type = "",
		.cookies = "",
		.remote_addr = "127.0.0.1",
		.request_id = "test-rid",
		.body = "",
		.body_len = 0,
	};
}

static void with_body(struct tx_req *r, const char *type, const char *body)
{
	r->content_type = type;
	r->body = body;
	r->body_len = strlen(body);
}

static void handle(struct tx_req *r)
{
	tx_http_handle(r, &ctx, &resp);
}

/* The value of the first response header called name, or NULL. */
static const char *header(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < resp.nheaders; i++)
		if (strncmp(resp.headers[i], name, n) == 0 &&
		    resp.headers[i][n] == ':' && resp.headers[i][n + 1] == ' ')
			return resp.headers[i] + n + 2;
	return NULL;
}

static void assert_json_error(int status, const char *message)
{
	char want[256];
	snprintf(want, sizeof(want), "{\"errors\":[{\"message\":\"%s\"}]}", message);
	ck_assert_int_eq(resp.status, status);
	ck_assert_str_eq(resp.content_type, JSON_TYPE);
	ck_assert_str_eq(resp.body.buf, want);
}

static void assert_html(int status)
{
	ck_assert_int_eq(resp.status, status);
	ck_assert_str_eq(resp.content_type, HTML_TYPE);
	ck_assert_ptr_nonnull(strstr(resp.body.buf, "<html"));
}

/* A session cookie header for alice, signed with key. */
static const char *session_cookie(const char *key, long long iat, long long exp)
{
	struct tx_claims c = { .id = "user-1", .email = "alice@example.com",
			       .iat = iat, .exp = exp };
	char *v = tx_session_encode(ctx.arena, key, strlen(key), &c);
	ck_assert_ptr_nonnull(v);
	return tx_arena_printf(ctx.arena, "%s=%s", TX_SESSION_COOKIE, v);
}

/* ---- matching ----------------------------------------------------------- */

struct route_case {
	enum tx_method method;
	const char *path;
	int status;
	size_t nparams;
	const char *p0, *p1;
};

static const struct route_case route_cases[] = {
	{ TX_GET, "/api/things", 200, 0, NULL, NULL },
	{ TX_GET, "/api/things/", 200, 0, NULL, NULL },
	{ TX_POST, "/api/things", 200, 0, NULL, NULL },
	{ TX_GET, "/api/things/abc", 200, 1, "abc", NULL },
	{ TX_GET, "/api/things/abc/", 200, 1, "abc", NULL },
	{ TX_GET, "/api/things/abc/parts/p-1", 200, 2, "abc", "p-1" },
	{ TX_GET, "/api/things/abc/parts/p-1/", 200, 2, "abc", "p-1" },
	{ TX_HEAD, "/api/things/abc", 200, 1, "abc", NULL },
	{ TX_HEAD, "/page", 200, 0, NULL, NULL },
	{ TX_GET, "/", 200, 0, NULL, NULL },
	{ TX_GET, "/page/", 200, 0, NULL, NULL },
	{ TX_GET, "/api/things//", 404, 0, NULL, NULL },
	{ TX_GET, "/api/things/abc/parts", 404, 0, NULL, NULL },
	{ TX_GET, "/api/things/abc/parts/", 404, 0, NULL, NULL },
	{ TX_GET, "/api/things/abc/def", 404, 0, NULL, NULL },
	{ TX_GET, "/api/thingsx", 404, 0, NULL, NULL },
	{ TX_GET, "/api/thing", 404, 0, NULL, NULL },
	{ TX_GET, "/API/things", 404, 0, NULL, NULL },
	{ TX_GET, "/api/nothing", 404, 0, NULL, NULL },
	{ TX_DELETE, "/api/things", 404, 0, NULL, NULL },
	{ TX_PUT, "/api/things/abc", 404, 0, NULL, NULL },
	{ TX_HEAD, "/api/validate", 404, 0, NULL, NULL },
	{ TX_OTHER, "/api/things", 404, 0, NULL, NULL },
	{ TX_POST, "/page", 404, 0, NULL, NULL },
	{ TX_GET, "/form", 404, 0, NULL, NULL },
	{ TX_GET, "/nowhere", 404, 0, NULL, NULL },
	{ TX_GET, "/page/extra", 404, 0, NULL, NULL },
};

START_TEST(route_table)
{
	const struct route_case *c = &route_cases[_i];
	struct tx_req r = mkreq(c->method, c->path);
	handle(&r);
	ck_assert_msg(resp.status == c->status, "%s %s: status %d, want %d",
		      method_names[c->method], c->path, resp.status, c->status);
	if (c->status == 200) {
		ck_assert_int_eq(seen.calls, 1);
		ck_assert_uint_eq(seen.nparams, c->nparams);
		if (c->p0)
			ck_assert_str_eq(seen.params[0], c->p0);
		if (c->p1)
			ck_assert_str_eq(seen.params[1], c->p1);
		return;
	}
	ck_assert_int_eq(seen.calls, 0);
	if (strncmp(c->path, "/api/", 5) == 0) {
		assert_json_error(404, "Not Found");
	} else {
		assert_html(404);
		ck_assert_ptr_nonnull(strstr(resp.body.buf, "Page not found"));
	}
}
END_TEST

START_TEST(route_default_content_types)
{
	struct tx_req r = mkreq(TX_GET, "/api/things");
	handle(&r);
	ck_assert_str_eq(resp.content_type, JSON_TYPE);
	ck_assert_str_eq(resp.body.buf, "{}");
	r = mkreq(TX_GET, "/page");
	handle(&r);
	ck_assert_str_eq(resp.content_type, HTML_TYPE);
	ck_assert_str_eq(resp.body.buf, "<p>ok</p>");
}
END_TEST

struct method_case {
	const char *name;
	enum tx_method m;
};

static const struct method_case method_cases[] = {
	{ "GET", TX_GET },	 { "HEAD", TX_HEAD },	  { "POST", TX_POST },
	{ "PUT", TX_PUT },	 { "DELETE", TX_DELETE }, { "PATCH", TX_PATCH },
	{ "get", TX_OTHER },	 { "OPTIONS", TX_OTHER }, { "", TX_OTHER },
	{ "OTHER", TX_OTHER },	 { "GETX", TX_OTHER },	  { NULL, TX_OTHER },
};

START_TEST(method_parse)
{
	const struct method_case *c = &method_cases[_i];
	ck_assert_int_eq(tx_method_parse(c->name), c->m);
}
END_TEST

/* ---- sessions ----------------------------------------------------------- */

START_TEST(auth_required_json)
{
	struct tx_req r = mkreq(TX_GET, "/api/private");
	handle(&r);
	assert_json_error(401, "Not authorized");
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

START_TEST(auth_required_html_redirects)
{
	struct tx_req r = mkreq(TX_GET, "/private");
	handle(&r);
	ck_assert_int_eq(resp.status, 303);
	ck_assert_pstr_eq(header("Location"), "/auth/signin");
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

START_TEST(auth_with_session)
{
	long long now = (long long)time(NULL);
	struct tx_req r = mkreq(TX_GET, "/api/private");
	r.cookies = tx_arena_printf(ctx.arena, "a=b; %s; c=d",
				    session_cookie(KEY, now, now + 3600));
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert(seen.user);
	ck_assert_str_eq(seen.email, "alice@example.com");

	memset(&seen, 0, sizeof(seen));
	r = mkreq(TX_GET, "/private");
	r.cookies = session_cookie(KEY, now, now + 3600);
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert(seen.user);
	ck_assert_str_eq(seen.email, "alice@example.com");

	/* A route without TX_R_AUTH still sees the user. */
	memset(&seen, 0, sizeof(seen));
	r = mkreq(TX_GET, "/api/things");
	r.cookies = session_cookie(KEY, now, now + 3600);
	handle(&r);
	ck_assert(seen.user);
}
END_TEST

/* Sessions that must count as signed out. */
START_TEST(auth_bad_sessions)
{
	long long now = (long long)time(NULL);
	const char *cookies[] = {
		session_cookie("another-key-another-key-another-key!", now, now + 3600),
		session_cookie(KEY, now - 7200, now - 10), /* expired */
		"session=garbage",
		"session=",
		"sessionx=abc",
	};
	for (size_t i = 0; i < sizeof(cookies) / sizeof(*cookies); i++) {
		struct tx_req r = mkreq(TX_GET, "/api/private");
		r.cookies = cookies[i];
		handle(&r);
		ck_assert_msg(resp.status == 401, "cookie %zu: status %d", i,
			      resp.status);
		ck_assert_int_eq(seen.calls, 0);
	}
}
END_TEST

/* ---- bodies ------------------------------------------------------------- */

START_TEST(json_body_parsed)
{
	struct tx_req r = mkreq(TX_POST, "/api/things");
	with_body(&r, "application/json; charset=utf-8", "{\"a\":7,\"b\":\"x\"}");
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert(seen.json_object);
	ck_assert_int_eq(seen.json_fields, 2);
	ck_assert_int_eq(seen.json_a, 7);
}
END_TEST

struct bad_json_case {
	const char *type;
	const char *body;
};

static const struct bad_json_case bad_json_cases[] = {
	{ "application/json", "{bad" },
	{ "application/json", "{\"a\":1,}" },
	{ "application/json", "[1,2]" },
	{ "application/json", "\"str\"" },
	{ "application/json", "{\"a\":NaN}" },
	{ "APPLICATION/JSON", "{'a':1}" },
	{ "application/json;charset=utf-8", "{\"a\":1} x" },
};

START_TEST(json_body_malformed)
{
	const struct bad_json_case *c = &bad_json_cases[_i];
	struct tx_req r = mkreq(TX_POST, "/api/things");
	with_body(&r, c->type, c->body);
	handle(&r);
	assert_json_error(400, "Something went wrong");
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

/* Like Express: a body of another type is an empty object. */
static const struct bad_json_case other_type_cases[] = {
	{ "text/plain", "{\"a\":1}" },
	{ "", "{\"a\":1}" },
	{ "application/jsonx", "{\"a\":1}" },
	{ "application/x-www-form-urlencoded", "a=1" },
	{ "application/json", "" },
};

START_TEST(json_body_other_type_is_empty)
{
	const struct bad_json_case *c = &other_type_cases[_i];
	struct tx_req r = mkreq(TX_POST, "/api/things");
	with_body(&r, c->type, c->body);
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert(seen.json_object);
	ck_assert_int_eq(seen.json_fields, 0);
}
END_TEST

START_TEST(html_query_is_form)
{
	struct tx_req r = mkreq(TX_GET, "/page");
	r.query = "x=hello+world&y=2";
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_pstr_eq(seen.form_x, "hello world");

	r = mkreq(TX_GET, "/page");
	r.query = "x=%zz";
	memset(&seen, 0, sizeof(seen));
	handle(&r);
	assert_html(400);
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

/* ---- CSRF --------------------------------------------------------------- */

static const char *seed_a =
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char *seed_b =
	"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static const char *token_for(const char *seed)
{
	char *t = tx_arena_alloc(ctx.arena, TX_CSRF_HEX);
	tx_csrf_token(KEY, strlen(KEY), seed, t);
	ck_assert_uint_eq(strlen(t), TX_CSRF_HEX - 1);
	return t;
}

struct csrf_case {
	const char *cookie_seed; /* NULL: no csrf cookie */
	const char *token_seed;	 /* NULL: no _csrf field */
	const char *type;
	int status;
};

static const struct csrf_case csrf_cases[] = {
	{ "a", "a", "application/x-www-form-urlencoded", 200 },
	{ "a", "a", "application/x-www-form-urlencoded; charset=UTF-8", 200 },
	{ "a", NULL, "application/x-www-form-urlencoded", 403 },
	{ "a", "b", "application/x-www-form-urlencoded", 403 },
	{ NULL, "a", "application/x-www-form-urlencoded", 403 },
	{ "a", "a", "text/plain", 403 },
	{ "bad", "a", "application/x-www-form-urlencoded", 403 },
};

static const char *pick_seed(const char *which)
{
	if (!which)
		return NULL;
	if (strcmp(which, "a") == 0)
		return seed_a;
	if (strcmp(which, "b") == 0)
		return seed_b;
	return "not-a-seed";
}

START_TEST(csrf_form_post)
{
	const struct csrf_case *c = &csrf_cases[_i];
	const char *cs = pick_seed(c->cookie_seed), *ts = pick_seed(c->token_seed);
	struct tx_req r = mkreq(TX_POST, "/form");
	if (cs)
		r.cookies = tx_arena_printf(ctx.arena, "%s=%s", TX_CSRF_COOKIE, cs);
	const char *body = ts ? tx_arena_printf(ctx.arena, "x=1&%s=%s",
						 TX_CSRF_FIELD, token_for(ts))
			      : "x=1";
	with_body(&r, c->type, body);
	handle(&r);
	ck_assert_msg(resp.status == c->status, "case %d: status %d", _i,
		      resp.status);
	if (c->status == 200) {
		ck_assert_int_eq(seen.calls, 1);
		ck_assert_pstr_eq(seen.form_x, "1");
		ck_assert_pstr_eq(seen.csrf, token_for(seed_a));
	} else {
		ck_assert_int_eq(seen.calls, 0);
		assert_html(403);
	}
}
END_TEST

/* Seed from a Set-Cookie line "csrf=<64 hex>; ...", into out. */
static void seed_from_set_cookie(const char *line, char out[TX_CSRF_HEX])
{
	size_t pre = strlen(TX_CSRF_COOKIE) + 1;
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(strncmp(line, TX_CSRF_COOKIE "=", pre), 0);
	memcpy(out, line + pre, TX_CSRF_HEX - 1);
	out[TX_CSRF_HEX - 1] = '\0';
	ck_assert(tx_csrf_seed_ok(out));
	ck_assert_int_eq(line[pre + TX_CSRF_HEX - 1], ';');
}

START_TEST(csrf_seed_given_to_new_browser)
{
	char seed[TX_CSRF_HEX];
	struct tx_req r = mkreq(TX_GET, "/page");
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	seed_from_set_cookie(header("Set-Cookie"), seed);
	ck_assert_ptr_nonnull(strstr(header("Set-Cookie"), "httponly"));
	ck_assert_ptr_nonnull(seen.csrf);
	ck_assert_str_eq(seen.csrf, token_for(seed));

	/* An HTML 404 makes a token too. (Not its Set-Cookie: tx_resp_error
	 * clears the response headers, so a 404 page hands out no seed.) */
	r = mkreq(TX_GET, "/nowhere");
	handle(&r);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_ptr_nonnull(r.csrf_token);

	/* A malformed seed is replaced. */
	memset(&seen, 0, sizeof(seen));
	r = mkreq(TX_GET, "/page");
	r.cookies = "csrf=ABCDEF";
	handle(&r);
	seed_from_set_cookie(header("Set-Cookie"), seed);
	ck_assert_str_eq(seen.csrf, token_for(seed));
}
END_TEST

START_TEST(csrf_existing_seed_kept)
{
	struct tx_req r = mkreq(TX_GET, "/page");
	r.cookies = tx_arena_printf(ctx.arena, "csrf=%s", seed_a);
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_null(header("Set-Cookie"));
	ck_assert_pstr_eq(seen.csrf, token_for(seed_a));

	/* JSON routes get neither a seed nor a token. */
	memset(&seen, 0, sizeof(seen));
	r = mkreq(TX_GET, "/api/things");
	handle(&r);
	ck_assert_ptr_null(header("Set-Cookie"));
	ck_assert_ptr_null(seen.csrf);
}
END_TEST

/* ---- handler errors ------------------------------------------------------ */

START_TEST(handler_not_found)
{
	struct tx_req r = mkreq(TX_GET, "/api/missing");
	handle(&r);
	ck_assert_int_eq(seen.calls, 1);
	assert_json_error(404, "Not Found");

	r = mkreq(TX_GET, "/missing");
	handle(&r);
	assert_html(404);
	ck_assert_ptr_null(strstr(resp.body.buf, "partial"));
}
END_TEST

START_TEST(handler_unavailable)
{
	struct tx_req r = mkreq(TX_GET, "/api/down");
	handle(&r);
	assert_json_error(503, "Service temporarily unavailable");
}
END_TEST

START_TEST(handler_validation_errors)
{
	struct tx_req r = mkreq(TX_POST, "/api/validate");
	handle(&r);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_str_eq(resp.content_type, JSON_TYPE);
	ck_assert_str_eq(resp.body.buf,
			 "{\"errors\":["
			 "{\"message\":\"Email must be valid\",\"field\":\"email\"},"
			 "{\"message\":\"Password must be between 4 and 20 "
			 "characters\",\"field\":\"password\"},"
			 "{\"message\":\"Title is \\\"required\\\"\",\"field\":\"title\"}"
			 "]}");
}
END_TEST

START_TEST(verrs_are_bounded)
{
	struct tx_verrs v = { .n = 0 };
	for (int i = 0; i < TX_MAX_VERRS + 3; i++)
		tx_verrs_add(&v, "f", "m");
	ck_assert_uint_eq(v.n, TX_MAX_VERRS);
}
END_TEST

START_TEST(body_cap_json)
{
	struct tx_req r = mkreq(TX_GET, "/api/big");
	handle(&r);
	ck_assert_int_eq(seen.calls, 1);
	assert_json_error(500, "Something went wrong");
	ck_assert(!resp.body.toobig);
	ck_assert_uint_eq(resp.nheaders, 0);
}
END_TEST

START_TEST(body_cap_html)
{
	struct tx_req r = mkreq(TX_GET, "/big");
	r.cookies = tx_arena_printf(ctx.arena, "csrf=%s", seed_a);
	handle(&r);
	ck_assert_int_eq(seen.calls, 1);
	assert_html(500);
	ck_assert(!resp.body.toobig);
	ck_assert_ptr_null(strstr(resp.body.buf, "xxxx"));
	ck_assert_ptr_null(header("X-Test"));
}
END_TEST

/* The same context serves request after request: nothing leaks across. */
START_TEST(context_reused)
{
	long long now = (long long)time(NULL);
	struct tx_req r = mkreq(TX_GET, "/api/private");
	r.cookies = session_cookie(KEY, now, now + 3600);
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	tx_arena_reset(ctx.arena);
	r = mkreq(TX_GET, "/api/private");
	handle(&r);
	assert_json_error(401, "Not authorized");
	tx_arena_reset(ctx.arena);
	r = mkreq(TX_GET, "/api/things/x1");
	handle(&r);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body.buf, "{}");
	ck_assert_uint_eq(resp.nheaders, 0);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_router(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, route_table, 0, N(route_cases));
	tcase_add_test(tc, route_default_content_types);
	tcase_add_loop_test(tc, method_parse, 0, N(method_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, auth_required_json);
	tcase_add_test(tc, auth_required_html_redirects);
	tcase_add_test(tc, auth_with_session);
	tcase_add_test(tc, auth_bad_sessions);
	tcase_add_test(tc, json_body_parsed);
	tcase_add_loop_test(tc, json_body_malformed, 0, N(bad_json_cases));
	tcase_add_loop_test(tc, json_body_other_type_is_empty, 0,
			    N(other_type_cases));
	tcase_add_test(tc, html_query_is_form);
	tcase_add_loop_test(tc, csrf_form_post, 0, N(csrf_cases));
	tcase_add_test(tc, csrf_seed_given_to_new_browser);
	tcase_add_test(tc, csrf_existing_seed_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, handler_not_found);
	tcase_add_test(tc, handler_unavailable);
	tcase_add_test(tc, handler_validation_errors);
	tcase_add_test(tc, verrs_are_bounded);
	tcase_add_test(tc, body_cap_json);
	tcase_add_test(tc, body_cap_html);
	tcase_add_test(tc, context_reused);
	suite_add_tcase(s, tc);
	return s;
}
