/* http.c: the router and the request path shared by FastCGI, CGI and tests.
 *
 * tx_http_handle finds the route (a table of method, pattern, handler,
 * flags), then enforces the flags once, in this order: body parsing (JSON
 * for API routes, url-encoded forms for pages; malformed input is a 400),
 * the CSRF token for form posts (403), and the signed-in user (401 for the
 * API, a redirect to the sign-in page for pages). A path that matches no
 * pattern, or matches one under another method, is a 404 in the format of
 * its prefix: JSON under /api/, an HTML page elsewhere.
 */
#include "http.h"
#include "arena.h"
#include "config.h"
#include "cookie.h"
#include "csrf.h"
#include "errors.h"
#include "json.h"
#include "page.h"
#include "session.h"
#include "tmpl.h"

#include <json.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const method_names[TX_METHOD__MAX] = {
	[TX_GET] = "GET",     [TX_HEAD] = "HEAD",     [TX_POST] = "POST",
	[TX_PUT] = "PUT",     [TX_DELETE] = "DELETE", [TX_PATCH] = "PATCH",
	[TX_OTHER] = "OTHER",
};

enum tx_method tx_method_parse(const char *s)
{
	for (int m = 0; m < TX_OTHER; m++)
		if (s && strcmp(s, method_names[m]) == 0)
			return (enum tx_method)m;
	return TX_OTHER;
}

/* ---- routing ----------------------------------------------------------- */

/* Length of path without one trailing slash ("/" stays "/"). */
static size_t path_len(const char *path)
{
	size_t n = strlen(path);
	return n > 1 && path[n - 1] == '/' ? n - 1 : n;
}

static bool match(struct tx_arena *a, const char *pat, const char *path,
		  size_t plen, struct tx_req *req)
{
	const char *p = path, *end = path + plen;
	req->nparams = 0;
	while (*pat && p < end) {
		if (*pat != '/' || *p != '/')
			return false;
		pat++, p++;
		const char *seg = p;
		while (p < end && *p != '/')
			p++;
		size_t slen = (size_t)(p - seg);
		const char *pend = strchr(pat, '/');
		size_t tlen = pend ? (size_t)(pend - pat) : strlen(pat);
		if (*pat == ':') {
			if (slen == 0 || req->nparams == TX_MAX_PARAMS)
				return false;
			req->params[req->nparams++] = tx_arena_strndup(a, seg, slen);
		} else if (tlen != slen || memcmp(pat, seg, slen) != 0) {
			return false;
		}
		pat += tlen;
	}
	return *pat == '\0' && p == end;
}

static const struct tx_route *route_find(struct tx_ctx *ctx, struct tx_req *req)
{
	size_t plen = path_len(req->path);
	for (size_t i = 0; i < ctx->svc->nroutes; i++) {
		const struct tx_route *r = &ctx->svc->routes[i];
		bool head_as_get = req->method == TX_HEAD && r->method == TX_GET;
		if ((r->method == req->method || head_as_get) &&
		    match(ctx->arena, r->pattern, req->path, plen, req))
			return r;
	}
	req->nparams = 0;
	return NULL;
}

/* ---- responses --------------------------------------------------------- */

#define JSON_TYPE "application/json; charset=utf-8"
#define HTML_TYPE "text/html; charset=utf-8"

void tx_resp_reset(struct tx_resp *r)
{
	r->status = 200;
	r->content_type = NULL;
	r->nheaders = 0;
	tx_buf_reset(&r->body);
}

int tx_resp_header(struct tx_ctx *ctx, struct tx_resp *r, const char *name,
		   const char *value)
{
	if (r->nheaders == TX_MAX_HEADERS || strpbrk(value, "\r\n"))
		return -TX_E_INTERNAL;
	r->headers[r->nheaders++] =
		tx_arena_join(ctx->arena, name, ": ", value, (char *)NULL);
	return 0;
}

int tx_resp_json(struct tx_resp *r, int status)
{
	r->status = status;
	r->content_type = JSON_TYPE;
	tx_buf_reset(&r->body);
	return 0;
}

int tx_resp_redirect(struct tx_ctx *ctx, struct tx_resp *r, const char *to)
{
	r->status = 303;
	r->content_type = HTML_TYPE;
	tx_buf_reset(&r->body);
	return tx_resp_header(ctx, r, "Location", to);
}

int tx_resp_error_message(struct tx_resp *r, int status, const char *m)
{
	tx_resp_json(r, status);
	tx_buf_addlit(&r->body, "{\"errors\":[{\"message\":\"");
	tx_buf_add_json_str(&r->body, m);
	tx_buf_addlit(&r->body, "\"}]}");
	return 0;
}

void tx_verrs_add(struct tx_verrs *v, const char *field, const char *message)
{
	if (v->n < TX_MAX_VERRS)
		v->e[v->n++] = (struct tx_verr){ message, field };
}

int tx_resp_verrs(struct tx_resp *r, const struct tx_verrs *v)
{
	tx_resp_json(r, 400);
	tx_buf_addlit(&r->body, "{\"errors\":[");
	for (size_t i = 0; i < v->n; i++) {
		tx_buf_adds(&r->body, i ? ",{\"message\":\"" : "{\"message\":\"");
		tx_buf_add_json_str(&r->body, v->e[i].message);
		tx_buf_addlit(&r->body, "\",\"field\":\"");
		tx_buf_add_json_str(&r->body, v->e[i].field);
		tx_buf_addlit(&r->body, "\"}");
	}
	tx_buf_addlit(&r->body, "]}");
	return 0;
}

struct tmpl_dict *tx_html_begin(const struct tx_req *req, struct tx_ctx *ctx,
				const char *tpl, const char *title,
				const char *const *errors, size_t nerrors)
{
	struct tx_page p = { title, req->user, req->csrf_token, errors, nerrors };
	return tx_page_begin(ctx->arena, tpl, &p, &ctx->layout);
}

int tx_html_finish(struct tx_ctx *ctx, struct tx_resp *r, int status)
{
	r->status = status;
	r->content_type = HTML_TYPE;
	tx_buf_reset(&r->body);
	int rc = tx_page_render(ctx->layout, &r->body);
	ctx->layout = NULL;
	return rc < 0 ? -TX_E_INTERNAL : 0;
}

static int error_page(struct tx_ctx *ctx, const struct tx_req *req,
		      struct tx_resp *r, int code)
{
	int status = tx_err_status(code);
	bool nf = status == 404;
	const char *msg = tx_err_message(code);
	tx_html_begin(req, ctx, nf ? "not_found.tpl" : "error.tpl",
		      nf ? "Not found" : "Error", nf ? NULL : &msg, nf ? 0 : 1);
	if (tx_html_finish(ctx, r, status) == 0)
		return 0;
	/* The template engine failed: a plain page, still in our words. */
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	tx_buf_reset(&r->body);
	tx_buf_adds(&r->body, tx_err_message(code));
	return 0;
}

int tx_resp_error(struct tx_ctx *ctx, const struct tx_req *req,
		  struct tx_resp *r, unsigned flags, int code)
{
	if (!(flags & TX_R_HTML))
		return tx_resp_error_message(r, tx_err_status(code), tx_err_message(code));
	if (tx_err_status(code) == 401)
		return tx_resp_redirect(ctx, r, "/auth/signin");
	return error_page(ctx, req, r, code);
}

/* ---- sessions and CSRF ------------------------------------------------- */

static void load_user(struct tx_req *req, struct tx_ctx *ctx)
{
	const char *v = tx_cookie_get(ctx->arena, req->cookies, TX_SESSION_COOKIE);
	struct tx_claims *c = tx_arena_alloc(ctx->arena, sizeof(*c));
	req->user = NULL;
	if (v && tx_session_decode(ctx->cfg->jwt_key, ctx->cfg->jwt_key_len, v,
				   ctx->now, c) == TX_JWT_OK)
		req->user = c;
}

static char *cookie_line(struct tx_ctx *ctx, const struct tx_req *req,
			 const char *name, const char *value, bool clear)
{
	struct tx_cookie_opts o = { .secure = req->https, .clear = clear,
				    .samesite_lax = true, .httponly = true };
	return tx_cookie_format(ctx->arena, name, value, &o);
}

int tx_session_set(const struct tx_req *req, struct tx_ctx *ctx,
		   struct tx_resp *r, const char *id, const char *email)
{
	struct tx_claims c = { .iat = ctx->now,
			       .exp = ctx->now + ctx->cfg->session_ttl_s };
	if (strlen(id) >= sizeof(c.id) || strlen(email) >= sizeof(c.email))
		return -TX_E_BAD_REQUEST;
	memcpy(c.id, id, strlen(id) + 1);
	memcpy(c.email, email, strlen(email) + 1);
	char *v = tx_session_encode(ctx->arena, ctx->cfg->jwt_key,
				    ctx->cfg->jwt_key_len, &c);
	if (!v)
		return -TX_E_INTERNAL;
	return tx_resp_header(ctx, r, "Set-Cookie",
			      cookie_line(ctx, req, TX_SESSION_COOKIE, v, false));
}

int tx_session_clear(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *r)
{
	return tx_resp_header(ctx, r, "Set-Cookie",
			      cookie_line(ctx, req, TX_SESSION_COOKIE, "", true));
}

/* Every page gets a form token; a browser without a seed gets one. */
static const char *csrf_seed(struct tx_req *req, struct tx_ctx *ctx,
			     struct tx_resp *r)
{
	const char *seed = tx_cookie_get(ctx->arena, req->cookies, TX_CSRF_COOKIE);
	char *tok = tx_arena_alloc(ctx->arena, TX_CSRF_HEX);
	if (!seed || !tx_csrf_seed_ok(seed)) {
		char *fresh = tx_arena_alloc(ctx->arena, TX_CSRF_HEX);
		tx_csrf_new_seed(fresh);
		tx_resp_header(ctx, r, "Set-Cookie",
			       cookie_line(ctx, req, TX_CSRF_COOKIE, fresh, false));
		tx_csrf_token(ctx->cfg->jwt_key, ctx->cfg->jwt_key_len, fresh, tok);
		req->csrf_token = tok;
		return NULL; /* no seed came with the request */
	}
	tx_csrf_token(ctx->cfg->jwt_key, ctx->cfg->jwt_key_len, seed, tok);
	req->csrf_token = tok;
	return seed;
}

/* ---- bodies ------------------------------------------------------------- */

static bool type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void put_json(void *o)
{
	json_object_put(o);
}

static int parse_json_body(struct tx_req *req, struct tx_ctx *ctx)
{
	if (req->body_len && type_is(req->content_type, "application/json"))
		return tx_json_parse_object(ctx->arena, req->body, req->body_len,
					    &req->json) < 0 ? -TX_E_BAD_REQUEST : 0;
	/* Like Express: a body of another type is an empty object. */
	req->json = json_object_new_object();
	tx_arena_defer(ctx->arena, put_json, req->json);
	return 0;
}

static int parse_form_body(struct tx_req *req, struct tx_ctx *ctx)
{
	const char *s = req->query;
	size_t n = strlen(req->query);
	if (req->method == TX_POST) {
		bool form = type_is(req->content_type,
				    "application/x-www-form-urlencoded");
		s = form ? req->body : "";
		n = form ? req->body_len : 0;
	}
	return tx_form_parse(ctx->arena, s, n, TX_FORM_MAX_FIELDS, &req->form) < 0
		       ? -TX_E_BAD_REQUEST : 0;
}

/* ---- the request path --------------------------------------------------- */

static int enforce(const struct tx_route *rt, struct tx_req *req,
		   struct tx_ctx *ctx, struct tx_resp *resp)
{
	int rc;
	load_user(req, ctx);
	if (rt->flags & TX_R_HTML) {
		const char *seed = csrf_seed(req, ctx, resp);
		if ((rc = parse_form_body(req, ctx)) < 0)
			return rc;
		if ((rt->flags & TX_R_CSRF) &&
		    !(seed && tx_csrf_check(ctx->cfg->jwt_key, ctx->cfg->jwt_key_len,
					    seed, tx_form_get(&req->form, TX_CSRF_FIELD))))
			return -TX_E_FORBIDDEN;
	} else if ((rc = parse_json_body(req, ctx)) < 0) {
		return rc;
	}
	if ((rt->flags & TX_R_AUTH) && !req->user)
		return -TX_E_NOT_AUTHORIZED;
	return 0;
}

void tx_http_handle(struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ctx->now = ts.tv_sec;
	ctx->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ctx->request_id = req->request_id;
	ctx->db_error[0] = '\0';
	ctx->layout = NULL;
	tx_resp_reset(resp);

	const struct tx_route *rt = route_find(ctx, req);
	req->route = rt;
	if (!rt) {
		unsigned flags = strncmp(req->path, "/api/", 5) == 0 ? TX_R_JSON : TX_R_HTML;
		if (flags & TX_R_HTML) {
			load_user(req, ctx);
			csrf_seed(req, ctx, resp);
		}
		tx_resp_error(ctx, req, resp, flags, -TX_E_NOT_FOUND);
		return;
	}
	int rc = enforce(rt, req, ctx, resp);
	size_t keep = resp->nheaders; /* the router's own (the CSRF seed) */
	if (rc == 0)
		rc = rt->handler(req, ctx, resp);
	if (rc == 0 && resp->body.toobig)
		rc = -TX_E_INTERNAL;
	if (rc < 0) {
		resp->nheaders = keep; /* nothing a failed handler set survives */
		tx_resp_error(ctx, req, resp, rt->flags, rc);
	} else if (!resp->content_type) {
		resp->content_type = (rt->flags & TX_R_HTML) ? HTML_TYPE : JSON_TYPE;
	}
}
