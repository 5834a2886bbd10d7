/* pages.c: the checkout form's POST (/orders/:id/pay). Success goes to
 * /orders, as the original does. A refusal is shown inline on a small
 * payments page (price, the message, the card form again when another
 * card may help, a link back to the checkout): the order's title lives in
 * the orders service, which this service does not read, and order:created
 * carries no title. */
#include "payments/payments.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/page.h"
#include "core/tmpl.h"

#include <string.h>

static int pay_page(const struct tx_req *req, struct tx_ctx *ctx,
		    struct tx_resp *resp, int64_t cents, const char *message,
		    bool retry, int status)
{
	char price[32];
	tx_price_format(cents, price, sizeof(price));
	struct tmpl_dict *d = tx_html_begin(req, ctx, "pay.tpl", "Checkout", &message, 1);
	tmpl_set(d, "ID", req->params[0]);
	tmpl_set(d, "PRICE", price);
	if (retry)
		tx_page_card_field(tmpl_add_section(d, "RETRY"), ctx->cfg);
	return tx_html_finish(ctx, resp, status);
}

static bool final_refusal(const char *m)
{
	return strcmp(m, PAY_MSG_CANCELLED) == 0 || strcmp(m, PAY_MSG_EXPIRED) == 0 ||
	       strcmp(m, PAY_MSG_PAID) == 0;
}

int payments_page_pay(const struct tx_req *req, struct tx_ctx *ctx,
		      struct tx_resp *resp)
{
	const char *token = tx_form_get(&req->form, "token");
	struct payments_outcome out;
	int rc = payments_pay(ctx, req->user->id, req->params[0], token ? token : "", &out);
	if (rc < 0 && out.price_cents > 0) /* the order was found: say it here */
		return pay_page(req, ctx, resp, out.price_cents, tx_err_message(rc),
				true, tx_err_status(rc));
	if (rc == -TX_E_BAD_REQUEST || rc == -TX_E_NOT_AUTHORIZED)
		rc = -TX_E_NOT_FOUND; /* a malformed id, someone else's order */
	if (rc < 0)
		return rc;
	if (out.refusal)
		return pay_page(req, ctx, resp, out.price_cents, out.refusal,
				!final_refusal(out.refusal), 400);
	return tx_resp_redirect(ctx, resp, "/orders");
}
