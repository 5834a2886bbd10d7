/* client.c: the HTTP test client (libcurl), JSON helpers and session forging. */
#include "client.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("http-tests: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *tc_strf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

const char *tc_base_url(void)
{
	const char *u = getenv("TEST_BASE_URL");
	return u && *u ? u : "http://127.0.0.1:8080";
}

/* ---- the transfer --------------------------------------------------------- */

struct sink {
	struct tc_resp *r;
	size_t cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	struct tc_resp *r = s->r;
	size_t len = size * n, room = TC_BODY_MAX - r->body_len;
	size_t take = len < room ? len : room;
	if (take < len)
		r->truncated = true;
	if (r->body_len + take + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < r->body_len + take + 1)
			cap *= 2;
		char *p = realloc(r->body, cap);
		if (!p)
			abort();
		r->body = p;
		s->cap = cap;
	}
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return len;
}

static void clear_headers(struct tc_resp *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	for (size_t i = 0; i < r->ncookies; i++)
		free(r->set_cookie[i]);
	free(r->content_type);
	free(r->location);
	r->nheaders = r->ncookies = 0;
	r->content_type = r->location = NULL;
}

static char *value_of(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	const char *v = line + k + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	return xstrndup(v, n - (size_t)(v - line));
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct tc_resp *r = arg;
	size_t len = size * n, k = len;
	while (k && (data[k - 1] == '\r' || data[k - 1] == '\n'))
		k--;
	if (k >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		clear_headers(r); /* a new response (e.g. after 100 Continue) */
		return len;
	}
	if (k == 0)
		return len;
	char *v;
	if ((v = value_of(data, k, "Set-Cookie"))) {
		if (r->ncookies < TC_MAX_COOKIES)
			r->set_cookie[r->ncookies++] = v;
		else
			free(v);
	} else if (!r->content_type && (v = value_of(data, k, "Content-Type"))) {
		r->content_type = v;
	} else if (!r->location && (v = value_of(data, k, "Location"))) {
		r->location = v;
	}
	if (r->nheaders < TC_MAX_HEADERS)
		r->headers[r->nheaders++] = xstrndup(data, k);
	return len;
}

static struct curl_slist *header_list(const struct tc_opts *o)
{
	/* No Expect: 100-continue round trip; no Content-Type unless asked. */
	char *ct = o->content_type ? tc_strf("Content-Type: %s", o->content_type) :
				     tc_strf("Content-Type:");
	struct curl_slist *h = curl_slist_append(NULL, "Expect:"), *t;
	if (h && (t = curl_slist_append(h, ct)))
		h = t;
	for (size_t i = 0; h && o->headers && o->headers[i]; i++)
		if ((t = curl_slist_append(h, o->headers[i])))
			h = t;
	free(ct);
	return h;
}

int tc_request(const char *method, const char *path, const struct tc_opts *o,
	       struct tc_resp *out)
{
	static const struct tc_opts none;
	if (!o)
		o = &none;
	memset(out, 0, sizeof(*out));
	struct sink s = { out, 0 };
	on_body("", 1, 0, &s); /* an empty, NUL-terminated body */
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(out->error, sizeof(out->error), "curl_easy_init failed");
		return -1;
	}
	char *url = tc_strf("%s%s", tc_base_url(), path);
	struct curl_slist *h = header_list(o);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (o->body) {
		size_t n = o->body_len ? o->body_len : strlen(o->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
	}
	if (o->cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, o->cookie);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		snprintf(out->error, sizeof(out->error), "%s %s: %s", method,
			 path, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return rc == CURLE_OK ? 0 : -1;
}

void tc_resp_release(struct tc_resp *r)
{
	clear_headers(r);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int tc_post_json(const char *path, const char *body, const char *cookie,
		 struct tc_resp *out)
{
	struct tc_opts o = { .content_type = "application/json", .body = body,
			     .cookie = cookie };
	return tc_request("POST", path, &o, out);
}

int tc_get(const char *path, const char *cookie, struct tc_resp *out)
{
	struct tc_opts o = { .cookie = cookie };
	return tc_request("GET", path, &o, out);
}

/* ---- reading responses ------------------------------------------------------ */

const char *tc_header(const struct tc_resp *r, const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *h = r->headers[i];
		if (strncasecmp(h, name, k) == 0 && h[k] == ':') {
			h += k + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

const char *tc_set_cookie_line(const struct tc_resp *r, const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i < r->ncookies; i++)
		if (strncmp(r->set_cookie[i], name, k) == 0 &&
		    r->set_cookie[i][k] == '=')
			return r->set_cookie[i];
	return NULL;
}

char *tc_cookie_pair(const struct tc_resp *r, const char *name)
{
	const char *line = tc_set_cookie_line(r, name);
	if (!line)
		return NULL;
	return xstrndup(line, strcspn(line, ";"));
}

struct json_object *tc_json(const struct tc_resp *r)
{
	struct json_tokener *t = json_tokener_new();
	if (!t)
		return NULL;
	struct json_object *o = json_tokener_parse_ex(t, r->body, (int)r->body_len);
	if (o && (json_tokener_get_error(t) != json_tokener_success ||
		  json_tokener_get_parse_end(t) != r->body_len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(t);
	return o;
}

bool tc_json_is(const struct tc_resp *r, const char *want)
{
	struct json_object *a = tc_json(r), *b = json_tokener_parse(want);
	bool eq = a && b && json_object_equal(a, b);
	json_object_put(a);
	json_object_put(b);
	return eq;
}

static bool error_entry_ok(struct json_object *e)
{
	struct json_object *m;
	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "message", &m) ||
	    !json_object_is_type(m, json_type_string) ||
	    json_object_get_string_len(m) == 0)
		return false;
	json_object_object_foreach(e, key, val) {
		if (strcmp(key, "message") != 0 &&
		    !(strcmp(key, "field") == 0 &&
		      json_object_is_type(val, json_type_string)))
			return false;
	}
	return true;
}

bool tc_is_errors(const struct tc_resp *r)
{
	struct json_object *o = tc_json(r), *errs;
	bool ok = o && json_object_is_type(o, json_type_object) &&
		  json_object_object_length(o) == 1 &&
		  json_object_object_get_ex(o, "errors", &errs) &&
		  json_object_is_type(errs, json_type_array) &&
		  json_object_array_length(errs) > 0;
	for (size_t i = 0; ok && i < json_object_array_length(errs); i++)
		ok = error_entry_ok(json_object_array_get_idx(errs, i));
	json_object_put(o);
	return ok;
}

bool tc_is_json_type(const struct tc_resp *r)
{
	static const char want[] = "application/json";
	const char *ct = r->content_type;
	return ct && strncasecmp(ct, want, sizeof(want) - 1) == 0 &&
	       (ct[sizeof(want) - 1] == '\0' || ct[sizeof(want) - 1] == ';');
}

/* ---- identities ----------------------------------------------------------- */

static void init_sodium(void)
{
	if (sodium_init() < 0)
		abort();
}

char *tc_unique_email(const char *prefix)
{
	unsigned char b[8];
	char hex[17];
	init_sodium();
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
	return tc_strf("%s-%s@test.com", prefix ? prefix : "t", hex);
}

void tc_uuid(char out[37])
{
	unsigned char b[16];
	init_sodium();
	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}

/* ---- JWT and the session cookie -------------------------------------------- */

static const char b64url_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *tc_b64url(const void *data, size_t n)
{
	const unsigned char *p = data;
	char *out = xmalloc(n / 3 * 4 + 5), *o = out;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16 |
				  (unsigned long)p[i + 1] << 8 | p[i + 2];
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
		*o++ = b64url_chars[v >> 6 & 63];
		*o++ = b64url_chars[v & 63];
	}
	if (n - i == 1) {
		unsigned long v = (unsigned long)p[i] << 16;
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned long v = (unsigned long)p[i] << 16 |
				  (unsigned long)p[i + 1] << 8;
		*o++ = b64url_chars[v >> 18 & 63];
		*o++ = b64url_chars[v >> 12 & 63];
		*o++ = b64url_chars[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

char *tc_jwt(const char *header_json, const char *payload_json,
	     const char *alg, const char *key, size_t keylen)
{
	char *h = tc_b64url(header_json, strlen(header_json));
	char *p = tc_b64url(payload_json, strlen(payload_json));
	char *input = tc_strf("%s.%s", h, p), *sig;
	const unsigned char *in = (const unsigned char *)input, *k =
		(const unsigned char *)key;
	init_sodium();
	if (strcmp(alg, "HS256") == 0) {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, k, keylen);
		crypto_auth_hmacsha256_update(&st, in, strlen(input));
		crypto_auth_hmacsha256_final(&st, mac);
		sig = tc_b64url(mac, sizeof(mac));
	} else if (strcmp(alg, "HS512") == 0) {
		unsigned char mac[crypto_auth_hmacsha512_BYTES];
		crypto_auth_hmacsha512_state st;
		crypto_auth_hmacsha512_init(&st, k, keylen);
		crypto_auth_hmacsha512_update(&st, in, strlen(input));
		crypto_auth_hmacsha512_final(&st, mac);
		sig = tc_b64url(mac, sizeof(mac));
	} else {
		sig = xstrndup("", 0);
	}
	char *token = tc_strf("%s.%s", input, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return token;
}

char *tc_session_cookie(const char *token)
{
	char *json = tc_strf("{\"jwt\":\"%s\"}", token);
	size_t n = strlen(json);
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(cap);
	sodium_bin2base64(b64, cap, (const unsigned char *)json, n,
			  sodium_base64_VARIANT_ORIGINAL);
	char *cookie = tc_strf("session=%s", b64);
	free(json);
	free(b64);
	return cookie;
}

const char *tc_jwt_key(void)
{
	const char *k = getenv("JWT_KEY");
	if (!k || !*k) {
		fputs("http-tests: JWT_KEY must be set (the stack's key)\n", stderr);
		abort();
	}
	return k;
}

char *tc_forge_cookie(const char *email, char id_out[37])
{
	char id[37];
	long long now = (long long)time(NULL);
	tc_uuid(id);
	if (id_out)
		memcpy(id_out, id, sizeof(id));
	char *payload = tc_strf("{\"id\":\"%s\",\"email\":\"%s\",\"iat\":%lld,"
				"\"exp\":%lld}", id, email, now, now + 3600);
	const char *key = tc_jwt_key();
	char *tok = tc_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256",
			   key, strlen(key));
	char *cookie = tc_session_cookie(tok);
	free(payload);
	free(tok);
	return cookie;
}

/* ---- forms ---------------------------------------------------------------- */

char *tc_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._*", *p)) {
			*o++ = (char)*p;
		} else if (*p == ' ') {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
