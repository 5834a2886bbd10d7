/* payments.h: the payments service: a replica of orders, one payment per
 * order, the pay path, the checkout form's POST, and the listeners that
 * keep the replica in step (and refund a charge whose order was
 * cancelled).
 *
 * The pay path (model.c, payments_pay). No charge is ever made that is not
 * written down first, and no row lock is held while the provider works:
 *   1. take the order's pay lock: a session-level advisory lock, so one
 *      payer per order at a time (others wait, bounded by
 *      STRIPE_TIMEOUT_MS + 5 s, then see the outcome);
 *   2. in one transaction, read the replica afresh and refuse: unknown
 *      (404), another user's (401), cancelled, already paid, past
 *      expires_at (400 with the contract's messages); otherwise commit a
 *      charge attempt (payments.charge_attempts: Idempotency-Key
 *      pay-<orderId>-<cents>-<n>, amount, token), or take up the order's
 *      open attempt if an earlier request left one;
 *   3. call the provider with that key;
 *   4. declined (or failed for our reason): settle the attempt and count
 *      it, so another card gets a new key; nothing else is stored, no
 *      event. Unavailable (timeout, 5xx): 503, the attempt stays open; a
 *      retry replays it under the same key, so the provider returns the
 *      first charge instead of making another;
 *   5. charged: lock the replica row; if the order is still payable,
 *      insert the payment and its payment:created outbox row and settle
 *      the attempt, in one transaction; if it was cancelled meanwhile,
 *      refund the charge and settle the attempt as refunded (400
 *      "Cannot pay for an cancelled order").
 * A crash anywhere after step 2 leaves an open attempt. The worker's
 * settler (settler.c) replays attempts open for longer than
 * PAYMENT_SETTLE_AFTER_MS under the same key and settles them as in step
 * 5. An order:cancelled that commits after step 5 finds the payment and
 * refunds it (listeners.c). So an order ends complete with one charge, or
 * cancelled with its charge refunded.
 */
#ifndef TX_PAYMENTS_H
#define TX_PAYMENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/events.h"
#include "core/http.h"
#include "payments/provider.h"

extern const struct tx_service payments_service;

#define PAY_MSG_CANCELLED "Cannot pay for an cancelled order"
#define PAY_MSG_EXPIRED "Cannot pay for an expired order"
#define PAY_MSG_PAID "Order has already been paid"
/* The checkout form posted no card (JavaScript off with Stripe Elements,
 * Stripe.js not loaded); the API refuses an empty token before this. */
#define PAY_MSG_NO_CARD "Enter your card details to pay"

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
/* A charge attempt: what is sent to the provider. */
struct payments_attempt {
	const char *order_id;
	const char *key; /* Idempotency-Key */
	const char *token;
	int64_t amount_cents;
};

/* The order's pay lock on this session: wait (bounded by the transaction's
 * lock_timeout; -TX_E_UNAVAILABLE when it ran out) or only try (1 when
 * another session holds it). 0 when taken. */
int payments_pay_lock(struct tx_ctx *ctx, const char *order_id, bool wait);
void payments_pay_unlock(struct tx_ctx *ctx, const char *order_id);
/* Call the provider for an attempt and settle it (steps 3-5 above); the
 * caller holds the pay lock. Same results as payments_pay. */
int payments_charge_attempt(struct tx_ctx *ctx, const struct payments_attempt *a,
			    struct payments_outcome *out);
int payments_settle_charge(struct tx_ctx *ctx, const char *order_id, const char *key,
			   int64_t cents, const char *charge_id,
			   struct payments_outcome *out);
int payments_settle_refused(struct tx_ctx *ctx, const char *order_id, const char *key,
			    const struct payments_result *r, struct payments_outcome *out);

/* settler.c: attempts left open (a crash or an unknown answer) for longer
 * than PAYMENT_SETTLE_AFTER_MS, replayed and settled in the worker. */
#define PAYMENTS_SETTLE_BATCH 20
struct payments_settler;
struct payments_settler *payments_settler_new(const struct tx_config *cfg);
void payments_settler_free(struct payments_settler *s);
void payments_settler_run(struct payments_settler *s, const atomic_bool *stop);
/* One pass: settle up to limit open attempts older than after_ms whose
 * order is not being paid right now; *settled counts them. 0 or < 0. */
int payments_settle_open(struct tx_ctx *ctx, long after_ms, int limit, int *settled);

/* The replica's row without a lock (pages), 0 or -TX_E_... */
int payments_order_get(struct tx_ctx *ctx, const char *id, struct payments_order *o);

/* POST /api/payments validation (reference 3.4). */
void payments_validate(const char *token, const char *order_id, struct tx_verrs *v);

/* routes.c: start-up hook (the provider's configuration). */
int payments_init(const struct tx_config *cfg);

tx_handler payments_api_create, payments_page_pay;

/* listeners.c */
extern const struct tx_listener payments_listeners[];
extern const size_t payments_nlisteners;

#endif
