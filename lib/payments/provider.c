/* provider.c: choosing the payment provider, and the built-in test
 * provider with Stripe's test-token semantics (see provider.h).
 *
 * The test provider's idempotency memory is a ring of IDEM_SLOTS entries
 * in this process, behind one mutex: enough for any test run, bounded,
 * and gone at restart (Stripe prunes keys too). Keeping it in Postgres
 * would have to use a second connection, since the pay path calls the
 * provider inside its own transaction; a test provider does not need it.
 */
#include "payments/provider.h"
#include "core/config.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define IDEM_SLOTS 4096

/* ---- choosing ------------------------------------------------------------ */

static const struct payments_provider *const providers[] = {
	&payments_test_provider,
	&payments_stripe_provider,
};

const struct payments_provider *payments_provider(const struct tx_config *cfg)
{
	const char *name = cfg->payment_provider ? cfg->payment_provider : "";
	for (size_t i = 0; i < sizeof(providers) / sizeof(*providers); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

int payments_provider_init(const struct tx_config *cfg, char *err, size_t errlen)
{
	const struct payments_provider *p = payments_provider(cfg);
	if (!p) {
		snprintf(err, errlen, "PAYMENT_PROVIDER must be %s: stripe, or test "
			 "(accepts test cards; for make run and tests only)",
			 cfg->payment_provider && *cfg->payment_provider ? "test or stripe"
									 : "set");
		return -1;
	}
	return p->init ? p->init(cfg, err, errlen) : 0;
}

/* ---- the test provider ---------------------------------------------------- */

struct test_token {
	const char *token;
	const char *code; /* NULL: the charge succeeds */
	const char *decline_code;
	const char *message;
};

static const struct test_token tokens[] = {
	{ "tok_visa", NULL, NULL, NULL },
	{ "tok_mastercard", NULL, NULL, NULL },
	{ "tok_amex", NULL, NULL, NULL },
	{ "tok_chargeDeclined", "card_declined", "generic_decline",
	  "Your card was declined." },
	{ "tok_chargeDeclinedInsufficientFunds", "card_declined",
	  "insufficient_funds", "Your card has insufficient funds." },
	{ "tok_chargeDeclinedFraudulent", "card_declined", "fraudulent",
	  "Your card was declined." },
	{ "tok_chargeDeclinedExpiredCard", "expired_card", "",
	  "Your card has expired." },
	{ "tok_chargeDeclinedIncorrectCvc", "incorrect_cvc", "",
	  "Your card's security code is incorrect." },
	{ "tok_chargeDeclinedProcessingError", "processing_error", "",
	  "An error occurred while processing your card. Try again in a little bit." },
};

struct idem {
	char key[256];
	char source[128];
	long long amount;
	struct payments_result result;
};

static struct idem *ring;
static size_t ring_next;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t test_once = PTHREAD_ONCE_INIT;

static void test_global_init(void)
{
	static struct idem slots[IDEM_SLOTS];
	ring = slots;
	if (sodium_init() < 0)
		ring = NULL;
}

static int test_init(const struct tx_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	pthread_once(&test_once, test_global_init);
	if (!ring) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	return 0;
}

/* prefix_ + 24 random letters and digits, as Stripe's ids look. */
static void random_id(const char *prefix, char *out, size_t cap)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	char tail[25];
	for (size_t i = 0; i < 24; i++)
		tail[i] = alnum[randombytes_uniform(sizeof(alnum) - 1)];
	tail[24] = '\0';
	snprintf(out, cap, "%s_%s", prefix, tail);
}

static void set_error(struct payments_result *r, enum payments_status st,
		      const char *type, const char *code,
		      const char *decline_code, const char *message)
{
	memset(r, 0, sizeof(*r));
	r->status = st;
	snprintf(r->type, sizeof(r->type), "%s", type);
	snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
	snprintf(r->decline_code, sizeof(r->decline_code), "%s",
		 decline_code ? decline_code : "");
	snprintf(r->message, sizeof(r->message), "%s", message);
}

/* What Stripe would answer to this charge, ignoring idempotency. */
static void test_decide(const struct payments_charge *c, struct payments_result *r)
{
	if (c->amount_cents < 50) {
		set_error(r, PAY_DECLINED, "invalid_request_error", "amount_too_small",
			  NULL, "Amount must be at least $0.50 usd");
		return;
	}
	for (size_t i = 0; i < sizeof(tokens) / sizeof(*tokens); i++) {
		if (strcmp(tokens[i].token, c->source) != 0)
			continue;
		if (tokens[i].code) {
			set_error(r, PAY_DECLINED, "card_error", tokens[i].code,
				  tokens[i].decline_code, tokens[i].message);
			return;
		}
		memset(r, 0, sizeof(*r));
		r->status = PAY_OK;
		random_id("ch", r->id, sizeof(r->id));
		return;
	}
	char msg[200];
	snprintf(msg, sizeof(msg), "No such token: '%.160s'", c->source);
	set_error(r, PAY_DECLINED, "invalid_request_error", "resource_missing", NULL, msg);
}

static struct idem *idem_find(const char *key)
{
	for (size_t i = 0; i < IDEM_SLOTS; i++)
		if (ring[i].key[0] && strcmp(ring[i].key, key) == 0)
			return &ring[i];
	return NULL;
}

/* Replay the first result for a key, refuse other parameters, or run
 * decide() and remember its result. */
static enum payments_status idem_run(const char *key, const char *source,
				     long long amount, struct payments_result *out,
				     void (*decide)(const void *, struct payments_result *),
				     const void *arg)
{
	pthread_mutex_lock(&ring_lock);
	struct idem *e = key && *key ? idem_find(key) : NULL;
	if (e && (strcmp(e->source, source) != 0 || e->amount != amount)) {
		set_error(out, PAY_FAILED, "idempotency_error", "", NULL,
			  "Keys for idempotent requests can only be used with the "
			  "same parameters they were first used with.");
	} else if (e) {
		*out = e->result;
	} else {
		decide(arg, out);
		if (key && *key && strlen(key) < sizeof(e->key)) {
			e = &ring[ring_next];
			ring_next = (ring_next + 1) % IDEM_SLOTS;
			snprintf(e->key, sizeof(e->key), "%s", key);
			snprintf(e->source, sizeof(e->source), "%s", source);
			e->amount = amount;
			e->result = *out;
		}
	}
	pthread_mutex_unlock(&ring_lock);
	return out->status;
}

static void decide_charge(const void *arg, struct payments_result *r)
{
	test_decide(arg, r);
}

static enum payments_status test_charge(const struct tx_config *cfg,
					const struct payments_charge *c,
					struct payments_result *out)
{
	char err[128];
	if (test_init(cfg, err, sizeof(err)) < 0) {
		set_error(out, PAY_UNAVAILABLE, "api_error", "", NULL, err);
		return out->status;
	}
	return idem_run(c->idempotency_key, c->source, c->amount_cents, out,
			decide_charge, c);
}

static void decide_refund(const void *arg, struct payments_result *r)
{
	(void)arg;
	memset(r, 0, sizeof(*r));
	r->status = PAY_OK;
	random_id("re", r->id, sizeof(r->id));
}

static enum payments_status test_refund(const struct tx_config *cfg,
					const char *charge_id,
					const char *idempotency_key,
					struct payments_result *out)
{
	char err[128];
	if (test_init(cfg, err, sizeof(err)) < 0) {
		set_error(out, PAY_UNAVAILABLE, "api_error", "", NULL, err);
		return out->status;
	}
	if (strncmp(charge_id, "ch_", 3) != 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "No such charge: '%.160s'", charge_id);
		set_error(out, PAY_FAILED, "invalid_request_error", "resource_missing",
			  NULL, msg);
		return out->status;
	}
	return idem_run(idempotency_key, charge_id, 0, out, decide_refund, NULL);
}

const struct payments_provider payments_test_provider = {
	.name = "test",
	.init = test_init,
	.charge = test_charge,
	.refund = test_refund,
};
