/* stripe.c: the Stripe provider: the Charges and Refunds API over libcurl.
 *
 * One easy handle per call (no shared state between threads), form-encoded
 * bodies (curl_easy_escape), Authorization: Bearer STRIPE_KEY, an
 * Idempotency-Key on every POST, Stripe-Version pinned to the original
 * app's 2020-03-02. Transport, all libcurl's:
 *   - timeouts: the whole call within STRIPE_TIMEOUT_MS, each connect
 *     within min(3 s, that); CURLOPT_NOSIGNAL (threads; libcurl then
 *     resolves names in a thread of its own, within the same deadline);
 *   - protocols: https only, or http only when STRIPE_API_BASE is an
 *     http:// URL (the fake Stripe of the tests); no redirects followed;
 *     TLS 1.2 or later, the peer's certificate and name verified against
 *     the system's trust store (SSL_CERT_FILE and SSL_CERT_DIR, when set,
 *     replace it, as they do for OpenSSL and the curl tool);
 *   - the answer is bounded (RESPONSE_MAX): a longer one fails the call,
 *     never truncated and passed off as complete;
 *   - proxies from the environment, as libcurl reads them on every call:
 *     https_proxy or HTTPS_PROXY for https, http_proxy (lower case only:
 *     under CGI a request's Proxy: header arrives as HTTP_PROXY, the
 *     httpoxy problem, and libcurl ignores that name), all_proxy, and
 *     no_proxy or NO_PROXY.
 * curl_global_init runs once, at start-up (payments_provider_init, called
 * by the payments program and the worker before their threads start), and
 * only when the provider is stripe: the test provider loads no TLS.
 *
 * Mapping (provider.h): 200 -> OK; 4xx card_error, or an invalid request
 * about the card token or the amount -> DECLINED with Stripe's message;
 * other 4xx -> FAILED; 409 (same key in flight), 429, 3xx, 5xx, timeouts
 * and transport errors -> UNAVAILABLE (the charge may or may not exist:
 * only a retry with the same key is safe).
 */
#include "payments/provider.h"
#include "core/buf.h"
#include "core/config.h"

#include <curl/curl.h>
#include <json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

static bool is_http(const char *base)
{
	return strncmp(base, "http://", 7) == 0;
}

static int stripe_init(const struct tx_config *cfg, char *err, size_t errlen)
{
	if (!cfg->stripe_key || !*cfg->stripe_key) {
		snprintf(err, errlen, "PAYMENT_PROVIDER=stripe needs STRIPE_KEY");
		return -1;
	}
	const char *base = cfg->stripe_api_base ? cfg->stripe_api_base : "";
	if (strncmp(base, "https://", 8) != 0 && !is_http(base)) {
		snprintf(err, errlen, "STRIPE_API_BASE must be an http(s) URL");
		return -1;
	}
	pthread_once(&curl_once, curl_once_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
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

/* The answer's bytes, into a tx_buf capped at RESPONSE_MAX: past the cap,
 * 0 makes libcurl end the transfer (CURLE_WRITE_ERROR). */
static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct tx_buf *b = arg;
	return tx_buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

struct field {
	const char *name; /* already escaped */
	const char *value;
};

/* fields as name=value&..., values escaped; -1 if over b's cap. */
static int form_encode(CURL *c, const struct field *f, size_t n, struct tx_buf *b)
{
	for (size_t i = 0; i < n; i++) {
		char *esc = curl_easy_escape(c, f[i].value, 0);
		if (!esc)
			return -1;
		tx_buf_addf(b, "%s%s=%s", i ? "&" : "", f[i].name, esc);
		curl_free(esc);
	}
	return b->toobig ? -1 : 0;
}

/* The request's header lines; NULL if one does not fit or has a line
 * break (a configuration error; Stripe takes keys of up to 255 bytes), or
 * out of memory. */
static struct curl_slist *headers(const struct tx_config *cfg, const char *key)
{
	char auth[512], idem[300];
	const char *lines[] = { auth, idem, "Stripe-Version: " STRIPE_VERSION,
				"Content-Type: application/x-www-form-urlencoded" };
	struct curl_slist *h = NULL, *t;
	if (strlen(key) > 255 || strpbrk(key, "\r\n") || strpbrk(cfg->stripe_key, "\r\n") ||
	    (size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->stripe_key) >=
		    sizeof(auth) ||
	    (size_t)snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key) >= sizeof(idem))
		return NULL;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!(t = curl_slist_append(h, lines[i]))) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

/* The transport options above, for base + path. */
static void set_options(CURL *c, const struct tx_config *cfg, const char *url,
			char *errbuf, struct tx_buf *body)
{
	long total = cfg->stripe_timeout_ms > 0 ? cfg->stripe_timeout_ms : 10000;
	const char *proto = is_http(cfg->stripe_api_base) ? "http" : "https";
	const char *ca_file = getenv("SSL_CERT_FILE"), *ca_dir = getenv("SSL_CERT_DIR");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, proto);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, proto);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 total < CONNECT_TIMEOUT_MS ? total : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_file && *ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	if (ca_dir && *ca_dir)
		curl_easy_setopt(c, CURLOPT_CAPATH, ca_dir);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RESPONSE_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

static void transport_error(CURLcode rc, const char *errbuf, const struct tx_buf *body,
			    struct payments_result *r)
{
	if (body->toobig || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(r->message, sizeof(r->message),
			 "curl %d: the provider's answer is over %u bytes", (int)rc,
			 RESPONSE_MAX);
	else
		snprintf(r->message, sizeof(r->message), "curl %d: %.200s", (int)rc,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

static void answer(long http, const char *body, struct payments_result *r)
{
	r->http_status = http;
	if (http == 200)
		ok_answer(body, r);
	else if (http >= 400 && http < 500)
		client_error(http, body, r);
	else
		snprintf(r->message, sizeof(r->message), "provider answered HTTP %ld", http);
}

/* POST the form to base + path; fills r. */
static enum payments_status post(const struct tx_config *cfg, const char *path,
				 const struct field *fields, size_t nfields,
				 const char *idem_key, struct payments_result *r)
{
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	struct tx_buf form = TX_BUF_INIT(8192), body = TX_BUF_INIT(RESPONSE_MAX);
	memset(r, 0, sizeof(*r));
	r->status = PAY_FAILED;
	const char *base = cfg->stripe_api_base;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	struct curl_slist *h = headers(cfg, idem_key);
	CURL *c = curl_easy_init();
	if (!h || (size_t)snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path) >=
			  sizeof(url)) {
		copy(r->message, sizeof(r->message), "bad provider configuration");
		goto out;
	}
	if (!c || form_encode(c, fields, nfields, &form) < 0) {
		copy(r->message, sizeof(r->message), "request too long");
		goto out;
	}
	r->status = PAY_UNAVAILABLE;
	set_options(c, cfg, url, errbuf, &body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.buf);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form.len);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		transport_error(rc, errbuf, &body, r);
		goto out;
	}
	long http = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
	answer(http, body.buf, r);
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	tx_buf_release(&form);
	tx_buf_release(&body);
	return r->status;
}

/* The configuration is usable (and libcurl initialised); else out says why. */
static bool ready(const struct tx_config *cfg, struct payments_result *out)
{
	char err[128];
	if (stripe_init(cfg, err, sizeof(err)) == 0)
		return true;
	memset(out, 0, sizeof(*out));
	out->status = PAY_FAILED;
	copy(out->message, sizeof(out->message), err);
	return false;
}

static enum payments_status stripe_charge(const struct tx_config *cfg,
					  const struct payments_charge *ch,
					  struct payments_result *out)
{
	char amount[32], desc[128];
	if (!ready(cfg, out))
		return out->status;
	snprintf(amount, sizeof(amount), "%lld", (long long)ch->amount_cents);
	snprintf(desc, sizeof(desc), "Order %s", ch->order_id);
	const struct field f[] = {
		{ "amount", amount },
		{ "currency", "usd" },
		{ "source", ch->source },
		{ "description", desc },
		{ "metadata%5BorderId%5D", ch->order_id },
	};
	return post(cfg, "/v1/charges", f, sizeof(f) / sizeof(f[0]), ch->idempotency_key, out);
}

static enum payments_status stripe_refund(const struct tx_config *cfg,
					  const char *charge_id,
					  const char *idempotency_key,
					  struct payments_result *out)
{
	if (!ready(cfg, out))
		return out->status;
	const struct field f[] = { { "charge", charge_id } };
	return post(cfg, "/v1/refunds", f, 1, idempotency_key, out);
}

const struct payments_provider payments_stripe_provider = {
	.name = "stripe",
	.init = stripe_init,
	.charge = stripe_charge,
	.refund = stripe_refund,
};
