/* stripe.c: the Stripe provider: the Charges and Refunds API over our HTTP
 * client (core/http_client.h).
 *
 * One connection per call (no shared state between threads), form-encoded
 * bodies, Authorization: Bearer STRIPE_KEY, an Idempotency-Key on every
 * POST, Stripe-Version pinned to the original app's 2020-03-02, connect
 * and total timeouts, no signals (threads), http and https only, no
 * redirects (the client follows none), and a bounded response buffer.
 *
 * Mapping (provider.h): 200 -> OK; 4xx card_error, or an invalid request
 * about the card token or the amount -> DECLINED with Stripe's message;
 * other 4xx -> FAILED; 409 (same key in flight), 429, 5xx, timeouts and
 * connection errors -> UNAVAILABLE (the charge may or may not exist: only
 * a retry with the same key is safe).
 */
#include "payments/provider.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/http_client.h"

#include <json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RESPONSE_MAX (256u << 10)
#define CONNECT_TIMEOUT_MS 3000L
#define STRIPE_VERSION "2020-03-02"

/* The configuration check only: the client makes its TLS context on the
 * first call (OpenSSL's set-up and the trust store cost about 4 MB of RSS,
 * which a program that never charges should not carry). */
static int stripe_init(const struct tx_config *cfg, char *err, size_t errlen)
{
	if (!cfg->stripe_key || !*cfg->stripe_key) {
		snprintf(err, errlen, "PAYMENT_PROVIDER=stripe needs STRIPE_KEY");
		return -1;
	}
	const char *base = cfg->stripe_api_base ? cfg->stripe_api_base : "";
	if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) {
		snprintf(err, errlen, "STRIPE_API_BASE must be an http(s) URL");
		return -1;
	}
	return 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static const char *str_at(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A 4xx answer: {"error":{type, code, decline_code, message, param}}. */
static void client_error(long http, const char *body, struct payments_result *r)
{
	struct json_object *root = json_tokener_parse(body), *e = NULL;
	if (root)
		json_object_object_get_ex(root, "error", &e);
	copy(r->type, sizeof(r->type), str_at(e, "type"));
	copy(r->code, sizeof(r->code), str_at(e, "code"));
	copy(r->decline_code, sizeof(r->decline_code), str_at(e, "decline_code"));
	copy(r->message, sizeof(r->message), str_at(e, "message"));
	const char *param = str_at(e, "param");
	bool card = strcmp(r->type, "card_error") == 0;
	bool about_card = strcmp(r->type, "invalid_request_error") == 0 &&
			  ((param && strcmp(param, "source") == 0) ||
			   strcmp(r->code, "amount_too_small") == 0);
	if (http == 409 || http == 429)
		r->status = PAY_UNAVAILABLE;
	else if ((card || about_card) && r->message[0])
		r->status = PAY_DECLINED;
	else
		r->status = PAY_FAILED;
	if (root)
		json_object_put(root);
}

static void ok_answer(const char *body, struct payments_result *r)
{
	struct json_object *root = json_tokener_parse(body);
	const char *id = str_at(root, "id");
	if (id && *id && strlen(id) < sizeof(r->id)) {
		r->status = PAY_OK;
		copy(r->id, sizeof(r->id), id);
	} else {
		r->status = PAY_UNAVAILABLE; /* 200 without an id: we cannot tell */
		copy(r->message, sizeof(r->message), "malformed answer from the provider");
	}
	if (root)
		json_object_put(root);
}

/* POST form to base + path; fills r. */
static enum payments_status post(const struct tx_config *cfg, const char *path,
				 const char *form, const char *idem_key,
				 struct payments_result *r)
{
	char url[1024], auth[512], idem[300];
	const char *headers[] = { auth, idem, "Stripe-Version: " STRIPE_VERSION,
				  "Content-Type: application/x-www-form-urlencoded", NULL };
	struct tx_http_response resp;
	memset(r, 0, sizeof(*r));
	r->status = PAY_UNAVAILABLE;
	const char *base = cfg->stripe_api_base;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	if (strlen(idem_key) > 255 || strpbrk(idem_key, "\r\n") ||
	    strpbrk(cfg->stripe_key, "\r\n") ||
	    (size_t)snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path) >= sizeof(url) ||
	    (size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->stripe_key) >=
		    sizeof(auth)) {
		r->status = PAY_FAILED;
		copy(r->message, sizeof(r->message), "bad provider configuration");
		return r->status;
	}
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key);
	long total = cfg->stripe_timeout_ms > 0 ? cfg->stripe_timeout_ms : 10000;
	if (tx_http_post(url, headers, form, strlen(form),
			 total < CONNECT_TIMEOUT_MS ? total : CONNECT_TIMEOUT_MS, total,
			 RESPONSE_MAX, &resp) < 0) {
		copy(r->message, sizeof(r->message), resp.error);
		goto out;
	}
	r->http_status = resp.status;
	if (r->http_status == 200)
		ok_answer(resp.body.buf, r);
	else if (r->http_status >= 400 && r->http_status < 500)
		client_error(r->http_status, resp.body.buf, r);
	else
		snprintf(r->message, sizeof(r->message), "provider answered HTTP %ld",
			 r->http_status);
out:
	tx_http_response_release(&resp);
	return r->status;
}

static enum payments_status failed(struct payments_result *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->status = PAY_FAILED;
	copy(r->message, sizeof(r->message), why);
	return r->status;
}

/* "name=value" with value escaped, appended to b ('&' between pairs); a
 * form over b's cap leaves b->toobig set. */
static void field(struct tx_buf *b, const char *name, const char *value)
{
	tx_buf_addf(b, "%s%s=", b->len ? "&" : "", name);
	tx_http_form_escape(b, value);
}

static enum payments_status stripe_charge(const struct tx_config *cfg,
					  const struct payments_charge *ch,
					  struct payments_result *out)
{
	char err[128], amount[32], desc[128];
	if (stripe_init(cfg, err, sizeof(err)) < 0) {
		memset(out, 0, sizeof(*out));
		out->status = PAY_FAILED;
		copy(out->message, sizeof(out->message), err);
		return out->status;
	}
	struct tx_buf form = TX_BUF_INIT(8192);
	snprintf(amount, sizeof(amount), "%lld", (long long)ch->amount_cents);
	snprintf(desc, sizeof(desc), "Order %s", ch->order_id);
	field(&form, "amount", amount);
	field(&form, "currency", "usd");
	field(&form, "source", ch->source);
	field(&form, "description", desc);
	field(&form, "metadata%5BorderId%5D", ch->order_id);
	enum payments_status st = form.toobig
		? failed(out, "card token too long")
		: post(cfg, "/v1/charges", form.buf, ch->idempotency_key, out);
	tx_buf_release(&form);
	return st;
}

static enum payments_status stripe_refund(const struct tx_config *cfg,
					  const char *charge_id,
					  const char *idempotency_key,
					  struct payments_result *out)
{
	char err[128];
	if (stripe_init(cfg, err, sizeof(err)) < 0) {
		memset(out, 0, sizeof(*out));
		out->status = PAY_FAILED;
		copy(out->message, sizeof(out->message), err);
		return out->status;
	}
	struct tx_buf form = TX_BUF_INIT(1024);
	field(&form, "charge", charge_id);
	enum payments_status st = form.toobig
		? failed(out, "charge id too long")
		: post(cfg, "/v1/refunds", form.buf, idempotency_key, out);
	tx_buf_release(&form);
	return st;
}

const struct payments_provider payments_stripe_provider = {
	.name = "stripe",
	.init = stripe_init,
	.charge = stripe_charge,
	.refund = stripe_refund,
};
