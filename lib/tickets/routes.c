/* routes.c: the tickets service's route table. The router takes the
 * first route that matches, so /mine comes before /:id. */
#include "tickets/tickets.h"

static const struct tx_route routes[] = {
	{ TX_POST, "/api/tickets", tickets_api_create, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/api/tickets", tickets_api_list, TX_R_JSON },
	{ TX_GET, "/api/tickets/mine", tickets_api_mine, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/api/tickets/:id", tickets_api_show, TX_R_JSON },
	{ TX_PUT, "/api/tickets/:id", tickets_api_update, TX_R_JSON | TX_R_AUTH },
	{ TX_GET, "/", tickets_page_index, TX_R_HTML },
	{ TX_GET, "/tickets/new", tickets_page_new, TX_R_HTML | TX_R_AUTH },
	{ TX_POST, "/tickets/new", tickets_page_new_post,
	  TX_R_HTML | TX_R_AUTH | TX_R_CSRF },
	{ TX_GET, "/tickets/mine", tickets_page_mine, TX_R_HTML | TX_R_AUTH },
	{ TX_GET, "/tickets/:id", tickets_page_show, TX_R_HTML },
	{ TX_GET, "/tickets/:id/edit", tickets_page_edit, TX_R_HTML | TX_R_AUTH },
	{ TX_POST, "/tickets/:id/edit", tickets_page_edit_post,
	  TX_R_HTML | TX_R_AUTH | TX_R_CSRF },
};

const struct tx_service tickets_service = {
	.name = "tickets",
	.env_prefix = "TICKETS",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.cache_new = tickets_cache_new,
};
