/* test_stripe_net.c: the Stripe client's transport (lib/payments/stripe.c
 * over libcurl) against the fake Stripe behind the fixture's TLS and
 * forward proxies (tests/fakes/http_fixture.mjs): certificates verified,
 * proxies taken from the environment as libcurl reads them (and never
 * HTTP_PROXY: httpoxy), the call's deadline, no redirects followed, the
 * answer bounded. */
#include <check.h>
#include <json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "fakestripe.h"
#include "payments/provider.h"

#define FAKE_KEY "sk_test_fake"

static struct tx_config cfg = { .payment_provider = "stripe", .stripe_key = FAKE_KEY };

/* What the environment may say about proxies and trust; each test starts
 * with none of it (make test sets no_proxy for loopback). */
static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
				    "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
				    "SSL_CERT_FILE", "SSL_CERT_DIR" };
#define NVARS (sizeof(vars) / sizeof(vars[0]))
static char *saved[NVARS];

/* What the fixture's proxies relayed since the last call, "" for nothing. */
static char *proxy_log(void)
{
	char url[256];
	snprintf(url, sizeof(url), "%s/log", fs_env("HTTP_FIXTURE_PROXY"));
	return fs_get(url);
}

static void expect_log(const char *want)
{
	char *got = proxy_log();
	ck_assert_msg(strcmp(got, want) == 0, "the proxy relayed:\n%s\nexpected:\n%s", got, want);
	free(got);
}

static void setup(void)
{
	for (size_t i = 0; i < NVARS; i++) {
		const char *v = getenv(vars[i]);
		saved[i] = v ? strdup(v) : NULL;
		unsetenv(vars[i]);
	}
	free(proxy_log());
	cfg.stripe_api_base = fs_env("STRIPE_TLS_URL");
	cfg.stripe_timeout_ms = 5000;
}

static void teardown(void)
{
	for (size_t i = 0; i < NVARS; i++) {
		if (saved[i])
			setenv(vars[i], saved[i], 1);
		else
			unsetenv(vars[i]);
		free(saved[i]);
		saved[i] = NULL;
	}
}

/* A charge of tok through base; the order id and key are new each time. */
static enum payments_status charge(const char *base, const char *tok, char order[37],
				   struct payments_result *r)
{
	char key[64];
	fs_uuid(order);
	snprintf(key, sizeof(key), "pay-%s", order);
	cfg.stripe_api_base = base;
	struct payments_charge c = { tok, 2000, order, key };
	return payments_stripe_provider.charge(&cfg, &c, r);
}

static size_t charges_for(const char *order)
{
	struct json_object *root, *cs[8];
	size_t n = fs_charges(order, &root, cs);
	json_object_put(root);
	return n;
}

/* ":PORT" of the URL in variable name. */
static const char *port_of(const char *name)
{
	return strrchr(fs_env(name), ':');
}

static void expect_ok(const char *base, const char *tok)
{
	char order[37];
	struct payments_result r;
	ck_assert_msg(charge(base, tok, order, &r) == PAY_OK, "%s: %s", base, r.message);
	ck_assert_int_eq(charges_for(order), 1);
}

/* A transport failure: unknown outcome, message containing want. */
static void expect_unavailable(const char *base, const char *want)
{
	char order[37];
	struct payments_result r;
	ck_assert_int_eq(charge(base, "tok_visa", order, &r), PAY_UNAVAILABLE);
	ck_assert_msg(strstr(r.message, want) != NULL, "%s: \"%s\", expected \"%s\"", base,
		      r.message, want);
	ck_assert_int_eq(r.http_status, 0);
}

START_TEST(tls_verified)
{
	char base[128];
	/* the system's trust store does not know the fixture's CA */
	expect_unavailable(fs_env("STRIPE_TLS_URL"), "curl 60: SSL certificate problem");
	setenv("SSL_CERT_FILE", fs_env("HTTP_FIXTURE_CA"), 1);
	expect_ok(fs_env("STRIPE_TLS_URL"), "tok_visa");
	snprintf(base, sizeof(base), "https://localhost%s", port_of("STRIPE_TLS_URL"));
	expect_ok(base, "tok_mastercard");
	/* a certificate for another name */
	expect_unavailable(fs_env("STRIPE_TLS_WRONG_URL"),
			   "no alternative certificate subject name matches target host name");
	/* plain http to a TLS port is not what an https base gets */
	snprintf(base, sizeof(base), "http://127.0.0.1%s", port_of("STRIPE_TLS_URL"));
	expect_unavailable(base, "curl ");
}
END_TEST

START_TEST(https_proxy_tunnel)
{
	char base[128], want[512];
	setenv("SSL_CERT_FILE", fs_env("HTTP_FIXTURE_CA"), 1);
	setenv("https_proxy", fs_env("HTTP_FIXTURE_PROXY"), 1);
	setenv("http_proxy", "http://127.0.0.1:1", 1); /* not for https */
	expect_ok(fs_env("STRIPE_TLS_URL"), "tok_visa");
	/* the certificate is checked against the target's name, not the
	 * proxy's: the proxy takes wrong.example for 127.0.0.1 */
	snprintf(base, sizeof(base), "https://wrong.example%s", port_of("STRIPE_TLS_WRONG_URL"));
	expect_ok(base, "tok_visa");
	snprintf(base, sizeof(base), "https://wrong.example%s", port_of("STRIPE_TLS_URL"));
	expect_unavailable(base, "no alternative certificate subject name matches");
	snprintf(want, sizeof(want),
		 "open CONNECT 127.0.0.1%1$s 200\nopen CONNECT wrong.example%2$s 200\n"
		 "open CONNECT wrong.example%1$s 200",
		 port_of("STRIPE_TLS_URL"), port_of("STRIPE_TLS_WRONG_URL"));
	expect_log(want);
	/* the upper-case name works for https */
	unsetenv("https_proxy");
	setenv("HTTPS_PROXY", fs_env("HTTP_FIXTURE_PROXY"), 1);
	expect_ok(fs_env("STRIPE_TLS_URL"), "tok_visa");
	snprintf(want, sizeof(want), "open CONNECT 127.0.0.1%s 200", port_of("STRIPE_TLS_URL"));
	expect_log(want);
}
END_TEST

START_TEST(http_proxy_and_httpoxy)
{
	char want[512];
	const char *fake = fs_env("FAKE_STRIPE_URL");
	setenv("http_proxy", fs_env("HTTP_FIXTURE_PROXY"), 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1); /* not for http */
	expect_ok(fake, "tok_visa");
	snprintf(want, sizeof(want), "open POST %s/v1/charges 200", fake);
	expect_log(want);
	/* HTTP_PROXY is where CGI puts a request's Proxy: header: ignored,
	 * whether it names a dead proxy or a live one */
	unsetenv("http_proxy");
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	expect_ok(fake, "tok_visa");
	setenv("HTTP_PROXY", fs_env("HTTP_FIXTURE_PROXY"), 1);
	expect_ok(fake, "tok_visa");
	expect_log("");
}
END_TEST

/* A proxy URL with the fixture's credentials (user:pass), %-escaped. */
static const char *proxy_with(const char *cred)
{
	static char u[512];
	const char *colon = strchr(cred, ':'), *host = fs_env("HTTP_FIXTURE_PROXY_AUTH") + 7;
	char user[128], *eu, *ep;
	snprintf(user, sizeof(user), "%.*s", (int)(colon - cred), cred);
	eu = fs_escape(user);
	ep = fs_escape(colon + 1);
	snprintf(u, sizeof(u), "http://%s:%s@%s", eu, ep, host);
	free(eu);
	free(ep);
	return u;
}

START_TEST(proxy_auth)
{
	char want[512], order[37];
	struct payments_result r;
	const char *q = port_of("STRIPE_TLS_URL");
	setenv("SSL_CERT_FILE", fs_env("HTTP_FIXTURE_CA"), 1);
	setenv("https_proxy", fs_env("HTTP_FIXTURE_PROXY_AUTH"), 1);
	expect_unavailable(fs_env("STRIPE_TLS_URL"), "407");
	setenv("https_proxy", proxy_with("proxyuser:wrong"), 1);
	expect_unavailable(fs_env("STRIPE_TLS_URL"), "407");
	setenv("https_proxy", proxy_with(fs_env("HTTP_FIXTURE_PROXY_CRED")), 1);
	ck_assert_int_eq(charge(fs_env("STRIPE_TLS_URL"), "tok_visa", order, &r), PAY_OK);
	snprintf(want, sizeof(want),
		 "auth CONNECT 127.0.0.1%1$s 407\nauth CONNECT 127.0.0.1%1$s 407\n"
		 "auth CONNECT 127.0.0.1%1$s 200", q);
	expect_log(want);
	/* the credentials are for the proxy, never sent through the tunnel */
	char key[64];
	struct json_object *root, *h;
	snprintf(key, sizeof(key), "pay-%s", order);
	struct json_object *req = fs_request(key, &root);
	ck_assert(json_object_object_get_ex(req, "headers", &h));
	ck_assert_str_eq(fs_jstr(h, "proxy-authorization"), "");
	ck_assert_str_eq(fs_jstr(h, "authorization"), "Bearer " FAKE_KEY);
	json_object_put(root);
	/* http: the proxy's 407 is the answer; it never reached Stripe */
	setenv("http_proxy", fs_env("HTTP_FIXTURE_PROXY_AUTH"), 1);
	ck_assert_int_eq(charge(fs_env("FAKE_STRIPE_URL"), "tok_visa", order, &r), PAY_FAILED);
	ck_assert_int_eq(r.http_status, 407);
	ck_assert_int_eq(charges_for(order), 0);
	setenv("http_proxy", proxy_with(fs_env("HTTP_FIXTURE_PROXY_CRED")), 1);
	expect_ok(fs_env("FAKE_STRIPE_URL"), "tok_visa");
	snprintf(want, sizeof(want), "auth POST %1$s/v1/charges 407\nauth POST %1$s/v1/charges 200",
		 fs_env("FAKE_STRIPE_URL"));
	expect_log(want);
}
END_TEST

START_TEST(no_proxy)
{
	const struct {
		const char *var, *value;
		bool direct;
	} cases[] = {
		{ "no_proxy", "127.0.0.1", true },
		{ "NO_PROXY", "127.0.0.1", true },
		{ "no_proxy", "*", true },
		{ "no_proxy", "example.com,127.0.0.1", true },
		{ "no_proxy", "127.0.0.0/8", true },
		{ "no_proxy", "127.0.0.2,localhost", false },
		{ "no_proxy", "127.0.0.2/32", false },
		{ "no_proxy", "", false },
	};
	setenv("http_proxy", fs_env("HTTP_FIXTURE_PROXY"), 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsetenv("no_proxy");
		unsetenv("NO_PROXY");
		setenv(cases[i].var, cases[i].value, 1);
		expect_ok(fs_env("FAKE_STRIPE_URL"), "tok_visa");
		char *log = proxy_log();
		ck_assert_msg(cases[i].direct == !*log, "%s=\"%s\": the proxy relayed \"%s\"",
			      cases[i].var, cases[i].value, log);
		free(log);
	}
	/* a dead https proxy does not matter to a host in no_proxy */
	setenv("SSL_CERT_FILE", fs_env("HTTP_FIXTURE_CA"), 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("no_proxy", "localhost,127.0.0.1", 1);
	expect_ok(fs_env("STRIPE_TLS_URL"), "tok_visa");
}
END_TEST

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(proxy_failures_and_deadline)
{
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	long long t0 = now_ms();
	expect_unavailable("https://api.stripe.invalid", "curl 7: ");
	ck_assert_int_lt(now_ms() - t0, 1000);
	/* a proxy that never answers CONNECT: the call's deadline holds */
	setenv("https_proxy", fs_env("HTTP_FIXTURE_PROXY"), 1);
	cfg.stripe_timeout_ms = 500;
	t0 = now_ms();
	expect_unavailable("https://silent.invalid", "curl 28: ");
	long long took = now_ms() - t0;
	ck_assert_msg(took >= 490 && took < 1500, "took %lld ms", took);
	expect_log("open CONNECT silent.invalid:443 silent");
}
END_TEST

START_TEST(no_redirects)
{
	char order[37];
	struct payments_result r;
	size_t before = fs_requests_to("followed=1");
	ck_assert_int_eq(charge(fs_env("FAKE_STRIPE_URL"), "tok_fake_redirect", order, &r),
			 PAY_UNAVAILABLE);
	ck_assert_int_eq(r.http_status, 302);
	ck_assert_str_eq(r.message, "provider answered HTTP 302");
	ck_assert_int_eq(fs_requests_to("followed=1"), before);
}
END_TEST

START_TEST(bounded_answer)
{
	char order[37];
	struct payments_result r;
	static const char *const toks[] = { "tok_fake_huge", "tok_fake_huge_chunked" };
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(charge(fs_env("FAKE_STRIPE_URL"), toks[i], order, &r),
				 PAY_UNAVAILABLE);
		ck_assert_msg(strstr(r.message, "answer is over 262144 bytes"), "%s: %s", toks[i],
			      r.message);
		ck_assert_str_eq(r.id, "");
	}
}
END_TEST

Suite *suite_stripe_net(void)
{
	Suite *s = suite_create("stripe_net");
	TCase *tc = tcase_create("transport");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tls_verified);
	tcase_add_test(tc, https_proxy_tunnel);
	tcase_add_test(tc, http_proxy_and_httpoxy);
	tcase_add_test(tc, proxy_auth);
	tcase_add_test(tc, no_proxy);
	tcase_add_test(tc, proxy_failures_and_deadline);
	tcase_add_test(tc, no_redirects);
	tcase_add_test(tc, bounded_answer);
	suite_add_tcase(s, tc);
	return s;
}
