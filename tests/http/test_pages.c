/* test_pages.c: the server-rendered pages through nginx (reference 8, DESIGN.md security). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "client.h"
#include "support.h"

#define FORM_TYPE "application/x-www-form-urlencoded"
#define CLEARED "session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
#define TOKEN_ATTR "name=\"_csrf\" value=\""
#define TOKEN_HEX 64

/* A form and what a browser keeps of it: the csrf cookie ("csrf=<seed>")
 * and the page's hidden _csrf token. */
struct form {
	char *cookie;
	char *token;
};

static void form_release(struct form *f)
{
	free(f->cookie);
	free(f->token);
}

static bool is_hex_token(const char *t)
{
	return t && strlen(t) == TOKEN_HEX && strspn(t, "0123456789abcdef") == TOKEN_HEX;
}

/* GET a page that carries a form, as a browser with no cookies. */
static void get_form(const char *path, struct form *f)
{
	struct tc_resp r;
	tc_get(path, NULL, &r);
	ck_status(&r, 200);
	f->cookie = tc_cookie_pair(&r, "csrf");
	f->token = ts_page_token(&r);
	ck_assert_msg(f->cookie != NULL, "%s set no csrf cookie", path);
	ck_assert_msg(is_hex_token(f->token), "%s: bad _csrf input %s", path,
		      f->token ? f->token : "(none)");
	tc_resp_release(&r);
}

/* POST a url-encoded form; token NULL leaves _csrf out. */
static void post_form(const char *path, const char *cookie, const char *email,
		      const char *password, const char *token, struct tc_resp *r)
{
	char *e = tc_urlencode(email), *p = tc_urlencode(password);
	char *body = token ? tc_strf("email=%s&password=%s&_csrf=%s", e, p, token) :
			     tc_strf("email=%s&password=%s", e, p);
	struct tc_opts o = { .content_type = FORM_TYPE, .body = body, .cookie = cookie };
	tc_request("POST", path, &o, r);
	free(body);
	free(e);
	free(p);
}

static void api_signup(const char *email, const char *password)
{
	struct tc_resp r;
	char *body = tc_strf("{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
	tc_post_json("/api/users/signup", body, NULL, &r);
	ck_status(&r, 201);
	tc_resp_release(&r);
	free(body);
}

/* Whether email/password can sign in through the API. */
static bool can_sign_in(const char *email, const char *password)
{
	struct tc_resp r;
	char *body = tc_strf("{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
	tc_post_json("/api/users/signin", body, NULL, &r);
	bool ok = r.status == 200;
	ck_assert_msg(ok || r.status == 400, "signin: %ld %s", r.status, r.body);
	tc_resp_release(&r);
	free(body);
	return ok;
}

static bool location_is_root(const struct tc_resp *r)
{
	if (!r->location)
		return false;
	const char *base = tc_base_url();
	size_t n = strlen(base);
	return strcmp(r->location, "/") == 0 ||
	       (strncmp(r->location, base, n) == 0 && strcmp(r->location + n, "/") == 0);
}

static bool is_html(const struct tc_resp *r)
{
	return r->content_type && strncmp(r->content_type, "text/html", 9) == 0;
}

/* ---- the forms -------------------------------------------------------------- */

static const struct {
	const char *path, *title;
} form_pages[] = {
	{ "/auth/signup", "Sign Up" },
	{ "/auth/signin", "Sign In" },
};

START_TEST(form_page_renders)
{
	struct tc_resp r;
	tc_get(form_pages[_i].path, NULL, &r);
	ck_status(&r, 200);
	ck_assert(is_html(&r));
	char *h1 = tc_strf("<h1>%s</h1>", form_pages[_i].title);
	char *button = tc_strf(">%s</button>", form_pages[_i].title);
	ck_has(&r, h1);
	ck_has(&r, ">Email Address</label>");
	ck_has(&r, ">Password</label>");
	ck_has(&r, "type=\"password\" name=\"password\"");
	ck_has(&r, "type=\"hidden\" " TOKEN_ATTR);
	ck_has(&r, button);
	ck_lacks(&r, "Ooops....");
	char *token = ts_page_token(&r);
	ck_assert(is_hex_token(token));
	const char *line = tc_set_cookie_line(&r, "csrf");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "; httponly") && strstr(line, "; samesite=lax"),
		      "csrf cookie: %s", line);
	tc_resp_release(&r);
	free(token);
	free(h1);
	free(button);
}
END_TEST

START_TEST(signup_form_signs_up)
{
	struct tc_resp r;
	struct form f;
	char *email = tc_unique_email("page");
	get_form("/auth/signup", &f);
	post_form("/auth/signup", f.cookie, email, "password", f.token, &r);
	ck_status(&r, 303);
	ck_assert_msg(location_is_root(&r), "Location %s", r.location ? r.location : "(none)");
	char *session = tc_cookie_pair(&r, "session");
	ck_assert_ptr_nonnull(session);
	tc_resp_release(&r);

	/* The header now shows the signed-in links. */
	tc_get("/", session, &r);
	ck_status(&r, 200);
	ck_has(&r, ">Sell Tickets</a>");
	ck_has(&r, ">My Orders</a>");
	ck_has(&r, ">Sign Out</a>");
	ck_lacks(&r, ">Sign In</a>");
	ck_lacks(&r, ">Sign Up</a>");
	tc_resp_release(&r);

	tc_get("/api/users/currentuser", session, &r);
	ck_status(&r, 200);
	ck_has(&r, email);
	tc_resp_release(&r);
	ck_assert(can_sign_in(email, "password"));
	free(session);
	free(email);
	form_release(&f);
}
END_TEST

/* Each variant must answer 403 and create nobody. */
enum csrf_case { NO_TOKEN, WRONG_TOKEN, OTHER_SEEDS_TOKEN, NO_COOKIE, EMPTY_TOKEN, CSRF__MAX };

START_TEST(signup_form_needs_csrf)
{
	struct tc_resp r;
	struct form f, g;
	char *email = tc_unique_email("csrf");
	char wrong[TOKEN_HEX + 1];
	get_form("/auth/signup", &f);
	get_form("/auth/signup", &g);
	memset(wrong, 'a', TOKEN_HEX);
	wrong[TOKEN_HEX] = '\0';
	const char *cookie = f.cookie, *token = f.token;
	switch ((enum csrf_case)_i) {
	case NO_TOKEN: token = NULL; break;
	case WRONG_TOKEN: token = wrong; break;
	case OTHER_SEEDS_TOKEN: token = g.token; break;
	case NO_COOKIE: cookie = NULL; break;
	case EMPTY_TOKEN: token = ""; break;
	case CSRF__MAX: break;
	}
	post_form("/auth/signup", cookie, email, "password", token, &r);
	ck_status(&r, 403);
	ck_assert_ptr_null(tc_set_cookie_line(&r, "session"));
	tc_resp_release(&r);
	ck_assert_msg(!can_sign_in(email, "password"), "case %d created the user", _i);
	free(email);
	form_release(&f);
	form_release(&g);
}
END_TEST

START_TEST(signup_form_errors_rerender)
{
	static const char xss[] = "<script>alert(1)</script>";
	struct tc_resp r;
	struct form f;
	get_form("/auth/signup", &f);
	post_form("/auth/signup", f.cookie, xss, "p", f.token, &r);
	ck_status(&r, 400);
	ck_assert(is_html(&r));
	ck_has(&r, "<h1>Sign Up</h1>");
	ck_has(&r, "Ooops....");
	ck_has(&r, "Email must be valid");
	ck_has(&r, "Password must be between 4 and 20 characters");
	ck_lacks(&r, xss);
	ck_lacks(&r, "<script>alert");
	ck_has(&r, "value=\"&lt;script&gt;alert(1)&lt;/script&gt;\"");
	ck_assert_ptr_null(tc_set_cookie_line(&r, "session"));
	tc_resp_release(&r);

	/* A good address with a short password keeps the address typed. */
	char *email = tc_unique_email("keep");
	post_form("/auth/signup", f.cookie, email, "abc", f.token, &r);
	ck_status(&r, 400);
	char *value = tc_strf("value=\"%s\"", email);
	ck_has(&r, value);
	ck_has(&r, "Password must be between 4 and 20 characters");
	ck_lacks(&r, "Email must be valid");
	tc_resp_release(&r);

	/* A taken address: the API's message. */
	api_signup(email, "password");
	post_form("/auth/signup", f.cookie, email, "password", f.token, &r);
	ck_status(&r, 400);
	ck_has(&r, "Ooops....");
	ck_has(&r, "Email in use");
	tc_resp_release(&r);
	free(value);
	free(email);
	form_release(&f);
}
END_TEST

START_TEST(signin_form_flow)
{
	struct tc_resp r;
	struct form f;
	char *email = tc_unique_email("pin");
	api_signup(email, "password");
	get_form("/auth/signin", &f);

	post_form("/auth/signin", f.cookie, email, "wrong-password", f.token, &r);
	ck_status(&r, 400);
	ck_has(&r, "<h1>Sign In</h1>");
	ck_has(&r, "Ooops....");
	ck_has(&r, "Invalid Credentials");
	ck_assert_ptr_null(tc_set_cookie_line(&r, "session"));
	tc_resp_release(&r);

	post_form("/auth/signin", f.cookie, email, "", f.token, &r);
	ck_status(&r, 400);
	ck_has(&r, "You must supply a password");
	tc_resp_release(&r);

	post_form("/auth/signin", f.cookie, email, "password", NULL, &r);
	ck_status(&r, 403);
	ck_assert_ptr_null(tc_set_cookie_line(&r, "session"));
	tc_resp_release(&r);

	post_form("/auth/signin", f.cookie, email, "password", f.token, &r);
	ck_status(&r, 303);
	ck_assert(location_is_root(&r));
	char *session = tc_cookie_pair(&r, "session");
	ck_assert_ptr_nonnull(session);
	tc_resp_release(&r);
	tc_get("/api/users/currentuser", session, &r);
	ck_has(&r, email);
	tc_resp_release(&r);
	free(session);
	free(email);
	form_release(&f);
}
END_TEST

START_TEST(signout_page_and_post)
{
	struct tc_resp r;
	char *email = tc_unique_email("out");
	char *session = tc_forge_cookie(email, NULL);
	tc_get("/auth/signout", session, &r);
	ck_status(&r, 200);
	ck_has(&r, "Signing you out...");
	char *token = ts_page_token(&r);
	ck_assert(is_hex_token(token));
	char *seed = tc_cookie_pair(&r, "csrf");
	ck_assert_ptr_nonnull(seed);
	tc_resp_release(&r);

	char *cookies = tc_strf("%s; %s", seed, session);
	struct tc_opts o = { .content_type = FORM_TYPE, .body = "", .cookie = cookies };
	tc_request("POST", "/auth/signout", &o, &r); /* no token */
	ck_status(&r, 403);
	ck_assert_ptr_null(tc_set_cookie_line(&r, "session"));
	tc_resp_release(&r);

	char *body = tc_strf("_csrf=%s", token);
	o.body = body;
	tc_request("POST", "/auth/signout", &o, &r);
	ck_status(&r, 303);
	ck_assert(location_is_root(&r));
	const char *line = tc_set_cookie_line(&r, "session");
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, CLEARED);
	tc_resp_release(&r);
	free(body);
	free(cookies);
	free(seed);
	free(token);
	free(session);
	free(email);
}
END_TEST

/* ---- other pages ------------------------------------------------------------ */

START_TEST(index_signed_out)
{
	struct tc_resp r;
	tc_get("/", NULL, &r);
	ck_status(&r, 200);
	ck_assert(is_html(&r));
	ck_has(&r, ">Tickets</h");
	ck_has(&r, ">GitTix</a>");
	ck_has(&r, "href=\"/auth/signup\">Sign Up</a>");
	ck_has(&r, "href=\"/auth/signin\">Sign In</a>");
	ck_lacks(&r, ">Sign Out</a>");
	ck_lacks(&r, ">Sell Tickets</a>");
	ck_has(&r, ">Title</th>");
	ck_has(&r, ">Price</th>");
	ck_has(&r, ">Link</th>");
	/* Sign Up comes before Sign In. */
	ck_assert(strstr(r.body, ">Sign Up</a>") < strstr(r.body, ">Sign In</a>"));
	tc_resp_release(&r);
}
END_TEST

START_TEST(index_signed_in_header)
{
	struct tc_resp r;
	char *session = tc_forge_cookie("header@test.com", NULL);
	tc_get("/", session, &r);
	ck_status(&r, 200);
	const char *a = strstr(r.body, "href=\"/tickets/new\">Sell Tickets</a>");
	const char *b = strstr(r.body, "href=\"/orders\">My Orders</a>");
	const char *c = strstr(r.body, "href=\"/auth/signout\">Sign Out</a>");
	ck_assert_msg(a && b && c && a < b && b < c, "header: %.1500s", r.body);
	ck_lacks(&r, ">Sign In</a>");
	tc_resp_release(&r);
	free(session);
}
END_TEST

START_TEST(unknown_page_is_404_in_layout)
{
	struct tc_resp r;
	tc_get("/no/such/page", NULL, &r);
	ck_status(&r, 404);
	ck_assert(is_html(&r));
	ck_has(&r, "<html");
	ck_has(&r, ">GitTix</a>");
	ck_has(&r, ">Sign In</a>");
	tc_resp_release(&r);

	tc_get("/auth/nothing", NULL, &r);
	ck_status(&r, 404);
	ck_assert(is_html(&r));
	ck_has(&r, ">GitTix</a>");
	tc_resp_release(&r);
}
END_TEST

/* A form post too large for nginx: a page in the site's look, not the
 * API's JSON (which /api/ paths keep: test_auth.c). */
START_TEST(oversized_form_post_is_a_page)
{
	struct tc_resp r;
	size_t n = 200 * 1024;
	char *body = malloc(n + 1);
	ck_assert_ptr_nonnull(body);
	memset(body, 'a', n);
	memcpy(body, "email=", 6);
	body[n] = '\0';
	struct tc_opts o = { .content_type = "application/x-www-form-urlencoded",
			     .body = body, .body_len = n };
	tc_request("POST", "/auth/signin", &o, &r);
	ck_status(&r, 413);
	ck_assert(is_html(&r));
	ck_has(&r, "<h1>Too much data</h1>");
	ck_has(&r, ">GitTix</a>");
	ck_has(&r, "href=\"/static/style.css\"");
	tc_resp_release(&r);
	tc_request("POST", "/api/users/signin",
		   &(struct tc_opts){ .content_type = "application/json", .body = body,
				      .body_len = n }, &r);
	ck_status(&r, 413);
	ck_assert(tc_is_json_type(&r));
	tc_resp_release(&r);
	free(body);
}
END_TEST

/* A program that does not answer (its socket moved away, so nginx cannot
 * connect): a page in the site's look on page routes, the contract's JSON
 * on the API. The socket is put back by the fixture whatever happens. */
static char *sock_path, *sock_moved;

static void sock_restore(void)
{
	if (sock_moved && access(sock_moved, F_OK) == 0)
		ck_assert_int_eq(rename(sock_moved, sock_path), 0);
	free(sock_path);
	free(sock_moved);
	sock_path = sock_moved = NULL;
}

START_TEST(program_down_is_a_page)
{
	const char *run = getenv("RUN_DIR");
	ck_assert_msg(run && *run, "RUN_DIR must be set (stack.sh writes it to $DATA/env)");
	sock_path = tc_strf("%s/orders.sock", run);
	sock_moved = tc_strf("%s/orders.sock.away", run);
	ck_assert_int_eq(rename(sock_path, sock_moved), 0);
	char *cookie = tc_forge_cookie("down@test.com", NULL);
	struct tc_resp r;
	tc_get("/orders", cookie, &r);
	ck_status(&r, 503);
	ck_assert(is_html(&r));
	ck_has(&r, "<h1>Service temporarily unavailable</h1>");
	ck_has(&r, ">GitTix</a>");
	tc_resp_release(&r);
	tc_get("/api/orders", cookie, &r);
	ck_status(&r, 503);
	ck_assert(tc_is_json_type(&r));
	ck_assert(tc_json_is(&r, "{\"errors\":[{\"message\":\"Service temporarily unavailable\"}]}"));
	tc_resp_release(&r);
	sock_restore();
	tc_get("/orders", cookie, &r);
	ck_status(&r, 200);
	tc_resp_release(&r);
	free(cookie);
}
END_TEST

static const char *const header_pages[] = {
	"/", "/auth/signup", "/auth/signin", "/auth/signout", "/no/such/page",
};

/* The directive `name` of a CSP (up to ';'), malloc'd, or NULL. */
static char *csp_directive(const char *csp, const char *name)
{
	size_t k = strlen(name);
	for (const char *p = csp; *p;) {
		p += strspn(p, " ;");
		size_t n = strcspn(p, ";");
		if (n >= k && strncmp(p, name, k) == 0 && (p[k] == ' ' || p[k] == ';' || !p[k]))
			return tc_strf("%.*s", (int)n, p);
		p += n;
	}
	return NULL;
}

START_TEST(security_headers)
{
	struct tc_resp r;
	tc_get(header_pages[_i], NULL, &r);
	ck_assert_msg(r.status == 200 || r.status == 404, "%s: %ld", header_pages[_i],
		      r.status);
	const char *csp = tc_header(&r, "Content-Security-Policy");
	ck_assert_msg(csp != NULL, "%s: no CSP", header_pages[_i]);
	char *script = csp_directive(csp, "script-src");
	if (!script)
		script = csp_directive(csp, "default-src");
	ck_assert_msg(script != NULL, "CSP without script-src or default-src: %s", csp);
	ck_assert_msg(!strstr(script, "'unsafe-inline'") && !strstr(script, "'unsafe-eval'"),
		      "%s", script);
	char *frames = csp_directive(csp, "frame-ancestors");
	ck_assert_msg(frames && strcmp(frames, "frame-ancestors 'none'") == 0, "CSP: %s", csp);
	const char *nosniff = tc_header(&r, "X-Content-Type-Options");
	ck_assert_msg(nosniff && strcmp(nosniff, "nosniff") == 0, "nosniff: %s",
		      nosniff ? nosniff : "(none)");
	ck_assert_ptr_nonnull(tc_header(&r, "Referrer-Policy"));
	free(script);
	free(frames);
	tc_resp_release(&r);
}
END_TEST

START_TEST(static_css)
{
	struct tc_resp r;
	tc_get("/static/style.css", NULL, &r);
	ck_status(&r, 200);
	ck_assert_msg(r.content_type && strncmp(r.content_type, "text/css", 8) == 0,
		      "content type %s", r.content_type ? r.content_type : "(none)");
	ck_assert_uint_gt(r.body_len, 0);
	tc_resp_release(&r);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_pages_http(void)
{
	Suite *s = suite_create("pages_http");
	TCase *tc = tcase_create("auth_pages");
	tcase_add_loop_test(tc, form_page_renders, 0, N(form_pages));
	tcase_add_test(tc, signup_form_signs_up);
	tcase_add_loop_test(tc, signup_form_needs_csrf, 0, CSRF__MAX);
	tcase_add_test(tc, signup_form_errors_rerender);
	tcase_add_test(tc, signin_form_flow);
	tcase_add_test(tc, signout_page_and_post);
	suite_add_tcase(s, tc);

	tc = tcase_create("site");
	tcase_add_test(tc, index_signed_out);
	tcase_add_test(tc, index_signed_in_header);
	tcase_add_test(tc, unknown_page_is_404_in_layout);
	tcase_add_test(tc, oversized_form_post_is_a_page);
	tcase_add_loop_test(tc, security_headers, 0, N(header_pages));
	tcase_add_test(tc, static_css);
	suite_add_tcase(s, tc);

	tc = tcase_create("program down");
	tcase_add_checked_fixture(tc, NULL, sock_restore);
	tcase_add_test(tc, program_down_is_a_page);
	suite_add_tcase(s, tc);
	return s;
}
