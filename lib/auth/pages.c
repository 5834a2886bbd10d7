/* pages.c: the auth pages (/auth/signup, /auth/signin, /auth/signout):
 * server-rendered forms with the original client's texts; errors inline. */
#include "auth/auth.h"
#include "core/arena.h"
#include "core/errors.h"
#include "core/tmpl.h"

struct form_page {
	const char *tpl;
	const char *title;
	int (*op)(struct tx_ctx *, const char *, const char *, struct auth_result *);
};

static const struct form_page signup_page = { "signup.tpl", "Sign Up", auth_signup };
static const struct form_page signin_page = { "signin.tpl", "Sign In", auth_signin };

static int show(const struct form_page *fp, const struct tx_req *req,
		struct tx_ctx *ctx, struct tx_resp *resp, const char *email,
		const char *const *errors, size_t nerrors, int status)
{
	struct tmpl_dict *d = tx_html_begin(req, ctx, fp->tpl, fp->title, errors,
					    nerrors);
	tmpl_set(d, "EMAIL", email);
	return tx_html_finish(ctx, resp, status);
}

/* The messages of a failed attempt, in the order the API lists them. */
static size_t messages(struct tx_ctx *ctx, const struct auth_result *res,
		       const char ***out)
{
	size_t n = res->message ? 1 : res->verrs.n;
	const char **m = tx_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*m));
	for (size_t i = 0; i < res->verrs.n && !res->message; i++)
		m[i] = res->verrs.e[i].message;
	if (res->message)
		m[0] = res->message;
	*out = m;
	return n;
}

static int submit(const struct form_page *fp, const struct tx_req *req,
		  struct tx_ctx *ctx, struct tx_resp *resp)
{
	const char *email = tx_form_get(&req->form, "email");
	const char *password = tx_form_get(&req->form, "password");
	struct auth_result res;
	int rc = fp->op(ctx, email ? email : "", password ? password : "", &res);
	if (rc < 0)
		return rc;
	if (res.id) {
		if ((rc = tx_session_set(req, ctx, resp, res.id, res.email)) < 0)
			return rc;
		return tx_resp_redirect(ctx, resp, "/");
	}
	const char **msgs;
	size_t n = messages(ctx, &res, &msgs);
	return show(fp, req, ctx, resp, email ? email : "", msgs, n, 400);
}

int auth_page_signup(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	return show(&signup_page, req, ctx, resp, "", NULL, 0, 200);
}

int auth_page_signup_post(const struct tx_req *req, struct tx_ctx *ctx,
			  struct tx_resp *resp)
{
	return submit(&signup_page, req, ctx, resp);
}

int auth_page_signin(const struct tx_req *req, struct tx_ctx *ctx,
		     struct tx_resp *resp)
{
	return show(&signin_page, req, ctx, resp, "", NULL, 0, 200);
}

int auth_page_signin_post(const struct tx_req *req, struct tx_ctx *ctx,
			  struct tx_resp *resp)
{
	return submit(&signin_page, req, ctx, resp);
}

int auth_page_signout(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	tx_html_begin(req, ctx, "signout.tpl", "Sign Out", NULL, 0);
	return tx_html_finish(ctx, resp, 200);
}

int auth_page_signout_post(const struct tx_req *req, struct tx_ctx *ctx,
			   struct tx_resp *resp)
{
	int rc = tx_session_clear(req, ctx, resp);
	if (rc < 0)
		return rc;
	return tx_resp_redirect(ctx, resp, "/");
}
