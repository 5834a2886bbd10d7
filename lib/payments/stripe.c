/* stripe.c: the Stripe provider: the Charges and Refunds API over libcurl.
 *
 * One easy handle per call (no shared state between threads), form-encoded
 * bodies, Authorization: Bearer STRIPE_KEY, an Idempotency-Key on every
 * POST, Stripe-Version pinned to the original app's 2020-03-02, connect
 * and total timeouts, CURLOPT_NOSIGNAL (threads), http and https only, no
 * redirects, and a bounded response buffer. libcurl's global init runs
 * once (pthread_once), at start-up through the service's init hook.
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

#include <curl/curl.h>
#include <json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RESPONSE_MAX (256u << 10)
#define CONNECT_TIMEOUT_MS 3000L
#define STRIPE_VERSION "2020-03-02"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_once_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int stripe_init(const struct tx_config *cfg, char *err, size_t errlen)
{
	pthread_once(&curl_once, curl_once_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
		return -1;
	}
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

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct tx_buf *b = arg;
	return tx_buf_add(b, p, size * n) < 0 ? 0 : size * n;
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

static struct curl_slist *headers(const struct tx_config *cfg, const char *key)
{
	char line[512];
	struct curl_slist *h = NULL, *t;
	snprintf(line, sizeof(line), "Authorization: Bearer %s", cfg->stripe_key);
	if (!(t = curl_slist_append(h, line)))
		return h;
	h = t;
	snprintf(line, sizeof(line), "Idempotency-Key: %s", key);
	if ((t = curl_slist_append(h, line)))
		h = t;
	if ((t = curl_slist_append(h, "Stripe-Version: " STRIPE_VERSION)))
		h = t;
	return h;
}

/* POST form to base + path; fills r. */
static enum payments_status post(const struct tx_config *cfg, const char *path,
				 const char *form, const char *idem_key,
				 struct payments_result *r)
{
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	struct tx_buf body = TX_BUF_INIT(RESPONSE_MAX);
	memset(r, 0, sizeof(*r));
	r->status = PAY_UNAVAILABLE;
	const char *base = cfg->stripe_api_base;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	if (strlen(idem_key) > 255 || strpbrk(idem_key, "\r\n") ||
	    strpbrk(cfg->stripe_key, "\r\n") ||
	    (size_t)snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path) >= sizeof(url)) {
		r->status = PAY_FAILED;
		copy(r->message, sizeof(r->message), "bad provider configuration");
		return r->status;
	}
	CURL *c = curl_easy_init();
	struct curl_slist *h = headers(cfg, idem_key);
	if (!c || !h) {
		copy(r->message, sizeof(r->message), "curl: out of memory");
		goto out;
	}
	long total = cfg->stripe_timeout_ms > 0 ? cfg->stripe_timeout_ms : 10000;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 total < CONNECT_TIMEOUT_MS ? total : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(r->message, sizeof(r->message), "curl %d: %.200s", (int)rc,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http_status);
	if (r->http_status == 200)
		ok_answer(body.buf, r);
	else if (r->http_status >= 400 && r->http_status < 500)
		client_error(r->http_status, body.buf, r);
	else
		snprintf(r->message, sizeof(r->message), "provider answered HTTP %ld",
			 r->http_status);
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	tx_buf_release(&body);
	return r->status;
}

static enum payments_status failed(struct payments_result *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->status = PAY_FAILED;
	copy(r->message, sizeof(r->message), why);
	return r->status;
}

/* "name=value" with value escaped, appended to b ('&' between pairs). */
static void field(CURL *c, struct tx_buf *b, const char *name, const char *value)
{
	char *esc = curl_easy_escape(c, value, 0);
	tx_buf_addf(b, "%s%s=%s", b->len ? "&" : "", name, esc ? esc : "");
	curl_free(esc);
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
	CURL *c = curl_easy_init(); /* only for curl_easy_escape */
	if (!c) {
		memset(out, 0, sizeof(*out));
		out->status = PAY_UNAVAILABLE;
		return out->status;
	}
	struct tx_buf form = TX_BUF_INIT(8192);
	snprintf(amount, sizeof(amount), "%lld", (long long)ch->amount_cents);
	snprintf(desc, sizeof(desc), "Order %s", ch->order_id);
	field(c, &form, "amount", amount);
	field(c, &form, "currency", "usd");
	field(c, &form, "source", ch->source);
	field(c, &form, "description", desc);
	field(c, &form, "metadata%5BorderId%5D", ch->order_id);
	curl_easy_cleanup(c);
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
	CURL *c = curl_easy_init();
	if (!c) {
		memset(out, 0, sizeof(*out));
		out->status = PAY_UNAVAILABLE;
		return out->status;
	}
	struct tx_buf form = TX_BUF_INIT(1024);
	field(c, &form, "charge", charge_id);
	curl_easy_cleanup(c);
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
