/* routes.c: the auth service's route table. */
#include "auth/auth.h"

static const struct tx_route routes[] = {
	{ TX_POST, "/api/users/signup", auth_api_signup, TX_R_JSON },
	{ TX_POST, "/api/users/signin", auth_api_signin, TX_R_JSON },
	{ TX_POST, "/api/users/signout", auth_api_signout, TX_R_JSON },
	{ TX_GET, "/api/users/currentuser", auth_api_currentuser, TX_R_JSON },
	{ TX_GET, "/auth/signup", auth_page_signup, TX_R_HTML },
	{ TX_POST, "/auth/signup", auth_page_signup_post, TX_R_HTML | TX_R_CSRF },
	{ TX_GET, "/auth/signin", auth_page_signin, TX_R_HTML },
	{ TX_POST, "/auth/signin", auth_page_signin_post, TX_R_HTML | TX_R_CSRF },
	{ TX_GET, "/auth/signout", auth_page_signout, TX_R_HTML },
	{ TX_POST, "/auth/signout", auth_page_signout_post, TX_R_HTML | TX_R_CSRF },
};

const struct tx_service auth_service = {
	.name = "auth",
	.env_prefix = "AUTH",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
