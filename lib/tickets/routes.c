/* routes.c: the tickets service's route table. */
#include "tickets/tickets.h"

static const struct tx_route routes[] = {
	{ TX_GET, "/", tickets_page_index, TX_R_HTML },
};

const struct tx_service tickets_service = {
	.name = "tickets",
	.env_prefix = "TICKETS",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
