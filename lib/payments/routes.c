/* routes.c: the payments service's route table and start-up hook. */
#include "payments/payments.h"
#include "core/log.h"

static const struct tx_route routes[] = {
	{ TX_POST, "/api/payments", payments_api_create, TX_R_JSON | TX_R_AUTH },
	{ TX_POST, "/orders/:id/pay", payments_page_pay,
	  TX_R_HTML | TX_R_AUTH | TX_R_CSRF },
};

/* Refuse to start with a provider that cannot work (unknown name, stripe
 * without a key or with a base URL that is not http(s)). */
int payments_init(const struct tx_config *cfg)
{
	char err[256];
	if (payments_provider_init(cfg, err, sizeof(err)) < 0) {
		tx_log("error", "payment provider: %s", err);
		return -1;
	}
	return 0;
}

const struct tx_service payments_service = {
	.name = "payments",
	.env_prefix = "PAYMENTS",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.init = payments_init,
};
