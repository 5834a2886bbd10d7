/* provider.h: the payment provider interface: charge a card token, refund
 * a charge. Two implementations, chosen by PAYMENT_PROVIDER:
 *
 *   test    (default) no network. Stripe's test-token semantics: tok_visa,
 *           tok_mastercard (and tok_amex) succeed with ids ch_<24 alnum>;
 *           tok_chargeDeclined, tok_chargeDeclinedInsufficientFunds,
 *           tok_chargeDeclinedExpiredCard fail with Stripe's codes and
 *           messages; any other token fails as "No such token: '<tok>'".
 *           Idempotency keys are remembered in memory, per process, shared
 *           by its threads under a mutex (a bounded table, oldest entries
 *           evicted first, like Stripe pruning keys after 24 h): a repeated
 *           key replays the first result; a repeated key with other
 *           parameters is Stripe's idempotency_error. Refunds always
 *           succeed (the charge may have been made by another process).
 *   stripe  libcurl (stripe.c), POST STRIPE_API_BASE/v1/charges and
 *           /v1/refunds, form-encoded, Bearer STRIPE_KEY, Idempotency-Key
 *           header, connect and total timeouts (STRIPE_TIMEOUT_MS).
 *
 * Outcomes. Every call fills a struct payments_result and returns its
 * status:
 *   PAY_OK          charged (or refunded); id is ch_... (re_...)
 *   PAY_DECLINED    the provider definitely did not charge, for a reason
 *                   the customer can act on (card_error, "No such token"):
 *                   message is the provider's, for the client
 *   PAY_FAILED      the provider definitely did not charge, for our own
 *                   reason (bad key, bad parameters, idempotency conflict):
 *                   the client gets "Something went wrong"
 *   PAY_UNAVAILABLE unknown: timeout, connection failure, 5xx. The charge
 *                   may have happened; retry with the same idempotency
 *                   key, never a new one
 * Functions are thread-safe; nothing is allocated that outlives the call.
 */
#ifndef TX_PAYMENTS_PROVIDER_H
#define TX_PAYMENTS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

struct tx_config;

enum payments_status {
	PAY_OK,
	PAY_DECLINED,
	PAY_FAILED,
	PAY_UNAVAILABLE,
	PAY__MAX
};

struct payments_charge {
	const char *source;	     /* the card token */
	int64_t amount_cents;	     /* exact cents, currency usd */
	const char *order_id;	     /* description and metadata[orderId] */
	const char *idempotency_key; /* at most 255 bytes */
};

struct payments_result {
	enum payments_status status;
	char id[128];		/* ch_... or re_... when PAY_OK */
	char message[256];	/* the provider's message */
	char code[64];		/* card_declined, expired_card, ... or "" */
	char decline_code[64];	/* insufficient_funds, ... or "" */
	char type[64];		/* card_error, invalid_request_error, ... */
	long http_status;	/* stripe: the HTTP status, 0 if none */
};

struct payments_provider {
	const char *name;
	int (*init)(const struct tx_config *cfg, char *err, size_t errlen);
	enum payments_status (*charge)(const struct tx_config *cfg,
				       const struct payments_charge *c,
				       struct payments_result *out);
	enum payments_status (*refund)(const struct tx_config *cfg,
				       const char *charge_id,
				       const char *idempotency_key,
				       struct payments_result *out);
};

extern const struct payments_provider payments_test_provider;
extern const struct payments_provider payments_stripe_provider;

/* The provider named by cfg->payment_provider, or NULL when unknown or
 * unset (there is no default: production must say which). */
const struct payments_provider *payments_provider(const struct tx_config *cfg);

/* Check the provider's configuration (stripe: a key, an http(s) base URL)
 * and set it up once (stripe: curl_global_init, the first time).
 * Idempotent and thread-safe; called at program start-up before threads
 * (the payments program, the worker), and again before each use. 0 or -1. */
int payments_provider_init(const struct tx_config *cfg, char *err, size_t errlen);

#endif
