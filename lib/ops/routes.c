/* routes.c: the ops program's route table and start-up. */
#include "ops/ops.h"
#include "core/config.h"

#include <stdlib.h>

static const char *metrics_dir;

static int ops_init(const struct tx_config *cfg)
{
	(void)cfg;
	const char *d = getenv("METRICS_DIR");
	metrics_dir = d && *d ? d : NULL;
	return 0;
}

const char *ops_metrics_dir(void)
{
	return metrics_dir;
}

static const struct tx_route routes[] = {
	{ TX_GET, "/api/health", ops_health, TX_R_JSON },
	{ TX_GET, "/metrics", ops_metrics, TX_R_JSON },
	{ TX_GET, "/ops", ops_page, TX_R_HTML },
	{ TX_POST, "/ops/replay", ops_replay, TX_R_HTML | TX_R_CSRF },
};

const struct tx_service ops_service = {
	.name = "ops",
	.env_prefix = "OPS",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.init = ops_init,
	.needs_redis = true,
};
