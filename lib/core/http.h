/* http.h: the request, the response, the per-thread context, and the
 * service description every FastCGI program is made of.
 *
 * A handler is a function of its inputs:
 *     int handler(const struct tx_req *, struct tx_ctx *, struct tx_resp *)
 * It reads only the request and the context, writes only the response, and
 * returns 0, or -TX_E_<NAME> (errors.h) to let the router answer with that
 * error in the route's format (JSON or HTML page). The FastCGI loop, plain
 * CGI and the tests all go through tx_http_handle() the same way.
 */
#ifndef TX_HTTP_H
#define TX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/form.h"
#include "core/jwt.h"

struct tx_arena;
struct tx_config;
struct tx_db;
struct tx_gencache;
struct tx_redis;
struct json_object;
struct tmpl_dict;

enum tx_method {
	TX_GET,
	TX_HEAD,
	TX_POST,
	TX_PUT,
	TX_DELETE,
	TX_PATCH,
	TX_OTHER,
	TX_METHOD__MAX
};

#define TX_MAX_PARAMS 4
#define TX_MAX_HEADERS 8

struct tx_req {
	enum tx_method method;
	const char *method_name;
	const char *path;	  /* DOCUMENT_URI: decoded, normalized by nginx */
	const char *query;	  /* QUERY_STRING, "" when none */
	const char *content_type; /* "" when none */
	const char *cookies;	  /* the Cookie header, "" when none */
	const char *remote_addr;
	const char *request_id;
	bool https;
	const char *body;
	size_t body_len;

	/* Filled in by the router before the handler runs. */
	const char *params[TX_MAX_PARAMS]; /* ":name" path segments, in order */
	size_t nparams;
	const struct tx_claims *user;	   /* NULL when signed out */
	struct json_object *json;	   /* JSON routes: the body object */
	struct tx_form form;		   /* HTML routes: form body or query */
	const char *csrf_token;		   /* HTML routes: token for forms */
	const struct tx_route *route;	   /* the matched route, NULL if none */
};

struct tx_resp {
	int status;
	const char *content_type;
	const char *headers[TX_MAX_HEADERS]; /* whole lines: "Name: value" */
	size_t nheaders;
	struct tx_buf body;
};

/* Per thread, made at start-up; the arena is reset after each request. */
struct tx_ctx {
	const struct tx_config *cfg;
	const struct tx_service *svc;
	struct tx_arena *arena;
	struct tx_db *db;
	long long now;	 /* seconds since the epoch, fixed for the request */
	int64_t now_ms;
	const char *request_id;
	char db_error[256]; /* last database error, for the log line */
	struct tmpl_dict *layout; /* the page being built (tx_html_begin) */
	/* Event handlers: the consumer's Redis connection (events.h).
	 * Request handlers: a per-thread connection, connected on first use,
	 * when the service sets needs_redis; NULL otherwise. */
	struct tx_redis *redis;
	/* Shared by every thread of a FastCGI program whose service makes one
	 * (cache_new); NULL otherwise (plain CGI, tests, the worker). */
	struct tx_gencache *cache;
};

typedef int tx_handler(const struct tx_req *, struct tx_ctx *, struct tx_resp *);

enum tx_route_flags {
	TX_R_JSON = 1 << 0, /* API: JSON body in, JSON out, JSON errors */
	TX_R_HTML = 1 << 1, /* page: form body in, HTML out, error pages */
	TX_R_AUTH = 1 << 2, /* a signed-in user is required */
	TX_R_CSRF = 1 << 3, /* a valid form token is required (POST pages) */
};

struct tx_route {
	enum tx_method method;
	const char *pattern; /* "/api/tickets/:id" */
	tx_handler *handler;
	unsigned flags;
};

struct tx_service {
	const char *name;	/* "auth": for logs */
	const char *env_prefix; /* "AUTH": AUTH_DATABASE_URL */
	const struct tx_route *routes;
	size_t nroutes;
	/* Optional: run once at start-up, before any thread (fcgi.c); a
	 * negative return stops the program. */
	int (*init)(const struct tx_config *cfg);
	/* Give each thread a Redis connection in ctx->redis (fcgi.c). */
	bool needs_redis;
	/* Optional, FastCGI only: the read cache the threads share
	 * (ctx->cache, gencache.h), made after init and before the threads,
	 * freed after they have stopped. NULL: no cache. */
	struct tx_gencache *(*cache_new)(const struct tx_config *cfg);
};

/* The whole request path: route, enforce flags, run the handler, turn a
 * returned error into a response. Never fails; resp is always complete. */
void tx_http_handle(struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp);

enum tx_method tx_method_parse(const char *s);

/* A service program's main (fcgi.c): FastCGI on --socket, or one CGI
 * request. Returns the process exit code. */
int tx_main(int argc, char **argv, const struct tx_service *svc);

/* Response helpers. All strings are copied into the arena or the body. */
void tx_resp_reset(struct tx_resp *r);
int tx_resp_header(struct tx_ctx *ctx, struct tx_resp *r, const char *name,
		   const char *value);
int tx_resp_json(struct tx_resp *r, int status); /* sets type; body by caller */
int tx_resp_redirect(struct tx_ctx *ctx, struct tx_resp *r, const char *to);
/* {"errors":[{"message":m}]} with status; returns 0. */
int tx_resp_error_message(struct tx_resp *r, int status, const char *m);
/* The error for code in the route's format; returns 0. */
int tx_resp_error(struct tx_ctx *ctx, const struct tx_req *req,
		  struct tx_resp *r, unsigned flags, int code);

/* Request validation: a list of {message, field} for 400 responses. */
struct tx_verr {
	const char *message;
	const char *field;
};
#define TX_MAX_VERRS 8
struct tx_verrs {
	struct tx_verr e[TX_MAX_VERRS];
	size_t n;
};
void tx_verrs_add(struct tx_verrs *v, const char *field, const char *message);
/* {"errors":[{"message":..,"field":..},...]} with 400; returns 0. */
int tx_resp_verrs(struct tx_resp *r, const struct tx_verrs *v);

/* Session: sign the user in (Set-Cookie) or out (the clearing cookie). */
int tx_session_set(const struct tx_req *req, struct tx_ctx *ctx,
		   struct tx_resp *r, const char *id, const char *email);
int tx_session_clear(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *r);

/* Pages: begin returns the body template's dictionary (the layout gets the
 * user, title and CSRF token from the request); finish renders into the
 * response with status. */
struct tmpl_dict *tx_html_begin(const struct tx_req *req, struct tx_ctx *ctx,
				const char *tpl, const char *title,
				const char *const *errors, size_t nerrors);
int tx_html_finish(struct tx_ctx *ctx, struct tx_resp *r, int status);

#endif
