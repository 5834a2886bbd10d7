/* routes.c: the orders service's route table. */
#include "orders/orders.h"

static const struct tx_route routes[] = {
	{ TX_POST, "/api/orders", orders_api_create, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/api/orders", orders_api_list, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/api/orders/:id", orders_api_show, TX_R_JSON | TX_R_AUTH },
	{ TX_DELETE, "/api/orders/:id", orders_api_cancel, TX_R_JSON | TX_R_AUTH },
	{ TX_POST, "/orders", orders_page_create, TX_R_HTML | TX_R_AUTH | TX_R_CSRF },
	{ TX_GET, "/orders", orders_page_list, TX_R_HTML | TX_R_AUTH },
	{ TX_GET, "/orders/:id", orders_page_show, TX_R_HTML | TX_R_AUTH },
};

const struct tx_service orders_service = {
	.name = "orders",
	.env_prefix = "ORDERS",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
