/* pages.c: the tickets pages. The landing page lists the tickets for sale;
 * until the tickets schema exists (the tickets issue), the list is empty. */
#include "tickets/tickets.h"
#include "core/tmpl.h"

int tickets_page_index(const struct tx_req *req, struct tx_ctx *ctx,
		       struct tx_resp *resp)
{
	struct tmpl_dict *d = tx_html_begin(req, ctx, "index.tpl", "Tickets", NULL, 0);
	tmpl_show_section(d, "NO_TICKETS");
	return tx_html_finish(ctx, resp, 200);
}
