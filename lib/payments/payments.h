/* payments.h: the payments service: a replica of orders, one payment per
 * order, the pay path, the checkout form's POST, and the listeners that
 * keep the replica in step (and refund a charge whose order was
 * cancelled).
 *
 * The pay path (model.c, payments_pay) in one transaction:
 *   1. lock the replica row (SELECT ... FOR UPDATE), then read it and its
 *      payment afresh (a new snapshot after the lock, so a payment that a
 *      concurrent request committed while we waited is seen);
 *   2. refuse: unknown (404), another user's (401), cancelled, already
 *      paid, past expires_at (400 with the contract's messages);
 *   3. charge the provider with Idempotency-Key
 *      pay-<orderId>-<cents>-<attempt>, holding the lock (the provider
 *      call is bounded by STRIPE_TIMEOUT_MS; concurrent payers of the same
 *      order wait for it and then see "Order has already been paid");
 *   4. declined: count the attempt (so another card may be tried under a
 *      new key), commit; nothing else is stored, no event;
 *      unavailable (timeout, 5xx): roll back, 503; a retry reuses the key,
 *      so the provider replays the first charge instead of making another;
 *   5. charged: insert the payment and its payment:created outbox row in
 *      one statement, commit. If that fails for a definite reason, the
 *      charge is refunded.
 * While the lock is held the replica cannot become cancelled; an
 * order:cancelled that arrives meanwhile waits for the lock, and then its
 * listener finds the payment and refunds it (listeners.c). So an order
 * ends complete with one charge, or cancelled with its charge refunded.
 */
#ifndef TX_PAYMENTS_H
#define TX_PAYMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/events.h"
#include "core/http.h"
#include "payments/provider.h"

extern const struct tx_service payments_service;

#define PAY_MSG_CANCELLED "Cannot pay for an cancelled order"
#define PAY_MSG_EXPIRED "Cannot pay for an expired order"
#define PAY_MSG_PAID "Order has already been paid"

/* The replica of an order, as the pay path sees it. */
struct payments_order {
	const char *id;
	const char *user_id;
	const char *status;
	int64_t price_cents;
	long version;
	long attempts;
	bool expired;
	bool paid;
};

/* What payments_pay decided, when it returns 0. */
struct payments_outcome {
	const char *payment_id; /* set when paid now */
	const char *refusal;	/* or the 400 message for the client */
	int64_t price_cents;	/* the order's price (for the page) */
};

/* model.c: 0 (see out), or -TX_E_NOT_FOUND, -TX_E_NOT_AUTHORIZED,
 * -TX_E_BAD_REQUEST (malformed id, provider refused for our reason),
 * -TX_E_UNAVAILABLE (provider or database down), -TX_E_INTERNAL. */
int payments_pay(struct tx_ctx *ctx, const char *user_id, const char *order_id,
		 const char *token, struct payments_outcome *out);
/* Refund a charge with Idempotency-Key refund-<charge id>; the status of
 * the provider's answer, details in r. */
enum payments_status payments_refund(struct tx_ctx *ctx, const char *charge_id,
				     struct payments_result *r);
/* The replica's row without a lock (pages), 0 or -TX_E_... */
int payments_order_get(struct tx_ctx *ctx, const char *id, struct payments_order *o);

/* POST /api/payments validation (reference 3.4). */
void payments_validate(const char *token, const char *order_id, struct tx_verrs *v);

/* routes.c: start-up hook (provider configuration, libcurl). */
int payments_init(const struct tx_config *cfg);

tx_handler payments_api_create, payments_page_pay;

/* listeners.c */
extern const struct tx_listener payments_listeners[];
extern const size_t payments_nlisteners;

#endif
