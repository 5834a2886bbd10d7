/* fakestripe.c: see fakestripe.h. */
#include "fakestripe.h"

#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

const char *fs_env(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s must be set (make test starts the fake Stripe and "
			       "tests/fakes/http_fixture.mjs)", name);
	return v;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	return tx_buf_add(arg, p, size * n) < 0 ? 0 : size * n;
}

char *fs_get(const char *url)
{
	struct tx_buf b = TX_BUF_INIT(8u << 20);
	long status = 0;
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	ck_assert_msg(rc == CURLE_OK && status == 200, "GET %s: curl %d, HTTP %ld", url, (int)rc,
		      status);
	char *out = strdup(b.buf);
	tx_buf_release(&b);
	ck_assert_ptr_nonnull(out);
	return out;
}

struct json_object *fs_fake_get(const char *path)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", fs_env("FAKE_STRIPE_URL"), path);
	char *body = fs_get(url);
	struct json_object *o = json_tokener_parse(body);
	free(body);
	ck_assert_ptr_nonnull(o);
	return o;
}

const char *fs_jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

size_t fs_charges(const char *order, struct json_object **root, struct json_object *out[8])
{
	struct json_object *all, *md;
	*root = fs_fake_get("/_control/charges");
	ck_assert(json_object_object_get_ex(*root, "charges", &all));
	size_t n = 0;
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *c = json_object_array_get_idx(all, i);
		if (json_object_object_get_ex(c, "metadata", &md) &&
		    strcmp(fs_jstr(md, "orderId"), order) == 0 && n < 8)
			out[n++] = c;
	}
	return n;
}

struct json_object *fs_request(const char *key, struct json_object **root)
{
	struct json_object *all, *h, *found = NULL;
	*root = fs_fake_get("/_control/requests");
	ck_assert(json_object_object_get_ex(*root, "requests", &all));
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *r = json_object_array_get_idx(all, i);
		if (json_object_object_get_ex(r, "headers", &h) &&
		    strcmp(fs_jstr(h, "idempotency-key"), key) == 0)
			found = r;
	}
	ck_assert_msg(found != NULL, "no request with key %s", key);
	return found;
}

size_t fs_requests_to(const char *s)
{
	struct json_object *root = fs_fake_get("/_control/requests"), *all;
	size_t n = 0;
	ck_assert(json_object_object_get_ex(root, "requests", &all));
	for (size_t i = 0; i < json_object_array_length(all); i++)
		if (strstr(fs_jstr(json_object_array_get_idx(all, i), "path"), s))
			n++;
	json_object_put(root);
	return n;
}

char *fs_escape(const char *s)
{
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	char *e = curl_easy_escape(c, s, 0);
	ck_assert_ptr_nonnull(e);
	char *out = strdup(e);
	curl_free(e);
	curl_easy_cleanup(c);
	ck_assert_ptr_nonnull(out);
	return out;
}

void fs_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	FILE *f = fopen("/dev/urandom", "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fread(b, 1, sizeof(b), f), sizeof(b));
	fclose(f);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}
