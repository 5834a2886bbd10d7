/* test_http_client.c: the HTTP/1.1 client (core/http_client.h) against
 * tests/fakes/http_fixture.mjs: scripted answers over http and https with
 * a throwaway CA (scripts/test.sh starts it and exports its URLs).
 *
 * The TLS tests set SSL_CERT_FILE before their first request: the client
 * reads it once per process, when it makes its TLS context, and Check runs
 * each test in a process of its own (CK_FORK=no would break them). */
#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/http_client.h"

#define MAX (64u << 10)

static const char *env(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s must be set (make test starts tests/fakes/http_fixture.mjs)",
		      name);
	return v;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The URL named by base (an environment variable) + path. */
static const char *url(const char *base, const char *path)
{
	static char u[512];
	ck_assert_int_lt(snprintf(u, sizeof(u), "%s%s", env(base), path), (int)sizeof(u));
	return u;
}

/* POST "x" to u; the response in *r (caller releases). */
static int post(const char *u, long total_ms, size_t max, struct tx_http_response *r)
{
	return tx_http_post(u, NULL, "x", 1, 1000, total_ms, max, r);
}

static void expect_ok(const char *u, int status, const char *body)
{
	struct tx_http_response r;
	ck_assert_msg(post(u, 5000, MAX, &r) == 0, "%s: %s", u, r.error);
	ck_assert_int_eq(r.status, status);
	ck_assert_str_eq(r.body.buf, body);
	ck_assert_uint_eq(r.body.len, strlen(body));
	ck_assert_str_eq(r.error, "");
	tx_http_response_release(&r);
}

static void expect_fail(const char *u, size_t max, const char *why)
{
	struct tx_http_response r;
	ck_assert_msg(post(u, 5000, max, &r) == -1, "%s succeeded", u);
	ck_assert_msg(strstr(r.error, why), "%s: \"%s\" does not say \"%s\"", u, r.error, why);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.body.len, 0);
	tx_http_response_release(&r);
}

/* ---- bodies ------------------------------------------------------------------- */

START_TEST(content_length_chunked_eof)
{
	static const char *const suffix[] = { "", "?dribble=1" };
	char path[64];
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/cl%s", suffix[i]);
		expect_ok(url("HTTP_FIXTURE_URL", path), 200, "hello, world");
		snprintf(path, sizeof(path), "/chunked%s", suffix[i]);
		expect_ok(url("HTTP_FIXTURE_URL", path), 200, "hello, world");
		snprintf(path, sizeof(path), "/eof%s", suffix[i]);
		expect_ok(url("HTTP_FIXTURE_URL", path), 200, "read until the end");
		snprintf(path, sizeof(path), "/continue%s", suffix[i]);
		expect_ok(url("HTTP_FIXTURE_URL", path), 200, "ok");
	}
	expect_ok(url("HTTP_FIXTURE_URL", "/status-404"), 404, "not found");
}
END_TEST

START_TEST(no_content_needs_no_eof)
{
	long long t0 = now_ms();
	expect_ok(url("HTTP_FIXTURE_URL", "/no-content"), 204, "");
	ck_assert_int_lt(now_ms() - t0, 1000); /* the server keeps the connection */
}
END_TEST

START_TEST(bounded_body)
{
	static const char *const paths[] = { "/big", "/big-chunked", "/big-eof" };
	for (size_t i = 0; i < 3; i++) {
		struct tx_http_response r;
		const char *u = url("HTTP_FIXTURE_URL", paths[i]);
		expect_fail(u, 1024, "body larger than 1024 bytes");
		ck_assert_msg(post(u, 5000, 300000, &r) == 0, "%s: %s", u, r.error);
		ck_assert_uint_eq(r.body.len, 300000);
		ck_assert_uint_eq(strspn(r.body.buf, "x"), 300000);
		tx_http_response_release(&r);
		expect_fail(u, 299999, "body larger than 299999 bytes");
	}
}
END_TEST

START_TEST(truncated_and_malformed)
{
	static const struct {
		const char *path, *why;
	} cases[] = {
		{ "/truncated-cl", "truncated body (91 bytes missing)" },
		{ "/truncated-chunked", "truncated (connection closed in the chunked body)" },
		{ "/truncated-head", "truncated (connection closed in the headers)" },
		{ "/garbage", "malformed status line \"SSH-2.0-OpenSSH_9.2\"" },
		{ "/bad-chunk", "bad chunk size \"zz\"" },
		{ "/two-lengths", "bad Content-Length" },
		{ "/huge-header", "headers too large" },
		{ "/gzip", "unsupported Transfer-Encoding \"gzip, chunked\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail(url("HTTP_FIXTURE_URL", cases[i].path), MAX, cases[i].why);
}
END_TEST

/* The total timeout bounds the whole call, not each read. */
START_TEST(total_timeout)
{
	static const char *const paths[] = { "/silent", "/slow-body" };
	for (size_t i = 0; i < 2; i++) {
		struct tx_http_response r;
		long long t0 = now_ms();
		ck_assert_int_eq(post(url("HTTP_FIXTURE_URL", paths[i]), 500, MAX, &r), -1);
		long long took = now_ms() - t0;
		ck_assert_str_eq(r.error, "timed out after 500 ms");
		ck_assert_msg(took >= 490 && took < 800, "%s took %lld ms", paths[i], took);
		tx_http_response_release(&r);
	}
}
END_TEST

/* ---- the request as the server sees it ------------------------------------------- */

static void expect_echo(struct tx_http_response *r, const char *want, size_t want_len)
{
	ck_assert_int_eq(r->status, 200);
	ck_assert_msg(r->body.len == want_len && memcmp(r->body.buf, want, want_len) == 0,
		      "got:\n%s\nwant:\n%s", r->body.buf, want);
	tx_http_response_release(r);
}

START_TEST(request_as_sent)
{
	const char *const headers[] = { "X-One: 1", "Authorization: Bearer sk_test",
					 "Content-Type: application/x-www-form-urlencoded", NULL };
	const char *base = env("HTTP_FIXTURE_URL"), *hostport = base + strlen("http://");
	char u[256], want[1024];
	struct tx_http_response r;
	snprintf(u, sizeof(u), "%s/echo?q=1#fragment", base);
	/* the body has a NUL byte: body_len counts, not strlen */
	ck_assert_int_eq(tx_http_post(u, headers, "a=1&b\0c", 7, 1000, 5000, MAX, &r), 0);
	int n = snprintf(want, sizeof(want),
			 "POST /echo?q=1 HTTP/1.1\r\nHost: %s\r\nContent-Length: 7\r\n"
			 "Connection: close\r\nX-One: 1\r\nAuthorization: Bearer sk_test\r\n"
			 "Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b",
			 hostport);
	memcpy(want + n, "\0c", 3);
	expect_echo(&r, want, (size_t)n + 2);

	ck_assert_int_eq(tx_http_post(u, NULL, NULL, 0, 1000, 5000, MAX, &r), 0);
	n = snprintf(want, sizeof(want), "POST /echo?q=1 HTTP/1.1\r\nHost: %s\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n", hostport);
	expect_echo(&r, want, (size_t)n);

	snprintf(u, sizeof(u), "%s?x", base); /* no path: "/" */
	ck_assert_int_eq(tx_http_get(u, NULL, 1000, 5000, MAX, &r), 0);
	ck_assert_int_eq(r.status, 404);
	tx_http_response_release(&r);
}
END_TEST

START_TEST(ipv6_literal)
{
	const char *base = getenv("HTTP_FIXTURE_URL6");
	if (!base || !*base)
		return; /* the fixture found no ::1 */
	char u[256], want[256];
	struct tx_http_response r;
	expect_ok(url("HTTP_FIXTURE_URL6", "/chunked"), 200, "hello, world");
	snprintf(u, sizeof(u), "%s/echo", base);
	ck_assert_int_eq(tx_http_get(u, NULL, 1000, 5000, MAX, &r), 0);
	int n = snprintf(want, sizeof(want), "GET /echo HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			 base + strlen("http://"));
	expect_echo(&r, want, (size_t)n);
}
END_TEST

START_TEST(connection_refused_and_dns)
{
	long long t0 = now_ms();
	expect_fail("http://127.0.0.1:1/", MAX, "connect to 127.0.0.1 port 1: Connection refused");
	ck_assert_int_lt(now_ms() - t0, 500);
	expect_fail("http://no-such-host.invalid/", MAX, "DNS: no-such-host.invalid: ");
}
END_TEST

/* Rejected before anything is sent. */
START_TEST(bad_urls)
{
	static const char *const urls[] = {
		"ftp://127.0.0.1/",	     "127.0.0.1/",
		"http://",		     "http:///path",
		"http://:80/",		     "http://127.0.0.1:0/",
		"http://127.0.0.1:65536/",   "http://127.0.0.1:8a/",
		"http://127.0.0.1:/",	     "http://[::1/",
		"http://[zz]/",		     "http://[::1]x/",
		"http://user:pw@127.0.0.1/", "http://127.0.0.1/a b",
		"http://127.0.0.1/a\r\nX: y", "http://127.0.0.1/\ta",
		"http://127.0.0.1:8080:1/",
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		expect_fail(urls[i], MAX, "URL: ");
	expect_ok(url("HTTP_FIXTURE_URL", "/cl"), 200, "hello, world");
	char u[256];
	snprintf(u, sizeof(u), "HTTP://%s/cl", env("HTTP_FIXTURE_URL") + strlen("http://"));
	expect_ok(u, 200, "hello, world"); /* the scheme is case-insensitive */
}
END_TEST

START_TEST(header_injection)
{
	static const char *const bad[] = {
		"X-Evil: a\r\nInjected: b", "X-Evil: a\nb", "NoColon", "Bad Name: x", ": empty",
		"X-Ctl: a\x01", "Host: evil", "content-length: 5", "Connection: keep-alive",
		"Transfer-Encoding: chunked",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *const headers[] = { "X-Fine: ok", bad[i], NULL };
		struct tx_http_response r;
		ck_assert_int_eq(tx_http_post(url("HTTP_FIXTURE_URL", "/cl"), headers, "", 0, 1000,
					      5000, MAX, &r), -1);
		ck_assert_msg(strncmp(r.error, "header: ", 8) == 0, "%s: %s", bad[i], r.error);
		tx_http_response_release(&r);
	}
}
END_TEST

START_TEST(form_escape)
{
	struct tx_buf b = TX_BUF_INIT(64);
	ck_assert_int_eq(tx_http_form_escape(&b, "AZaz09-._~"), 0);
	ck_assert_str_eq(b.buf, "AZaz09-._~");
	tx_buf_reset(&b);
	ck_assert_int_eq(tx_http_form_escape(&b, "a b&c=d/+%\xc3\xa9\x01\xff"), 0);
	ck_assert_str_eq(b.buf, "a%20b%26c%3Dd%2F%2B%25%C3%A9%01%FF");
	tx_buf_reset(&b);
	ck_assert_int_eq(tx_http_form_escape(&b, ""), 0);
	ck_assert_str_eq(b.buf, "");
	ck_assert_int_eq(tx_http_form_escape(&b, "[[[[[[[[[[[[[[[[[[[[[[[[[[[["), -1);
	ck_assert(b.toobig);
	tx_buf_release(&b);
}
END_TEST

/* ---- TLS -------------------------------------------------------------------- */

static void trust_fixture_ca(void)
{
	ck_assert_int_eq(setenv("SSL_CERT_FILE", env("HTTP_FIXTURE_CA"), 1), 0);
}

/* base's port on host: https://HOST:PORT + path */
static const char *on_host(const char *base, const char *host, const char *path)
{
	static char u[256];
	snprintf(u, sizeof(u), "https://%s%s%s", host, strrchr(env(base), ':'), path);
	return u;
}

START_TEST(tls_verified)
{
	trust_fixture_ca();
	expect_ok(url("HTTPS_FIXTURE_URL", "/cl"), 200, "hello, world");
	expect_ok(url("HTTPS_FIXTURE_URL", "/chunked?dribble=1"), 200, "hello, world");
	expect_ok(url("HTTPS_FIXTURE_URL", "/eof"), 200, "read until the end");
	expect_ok(on_host("HTTPS_FIXTURE_URL", "localhost", "/cl"), 200, "hello, world");
	if (getenv("HTTP_FIXTURE_URL6") && *getenv("HTTP_FIXTURE_URL6"))
		expect_ok(on_host("HTTPS_FIXTURE_URL", "[::1]", "/cl"), 200, "hello, world");
	expect_fail(url("HTTPS_FIXTURE_URL", "/big"), 1024, "body larger than 1024 bytes");
	expect_fail(url("HTTPS_FIXTURE_URL", "/truncated-cl"), MAX, "truncated body");
	/* a body read to the end needs TLS close_notify to count as complete */
	expect_fail(url("HTTPS_FIXTURE_URL", "/eof-unclean"), MAX, "without close_notify");

	struct tx_http_response r;
	char want[256];
	const char *u = on_host("HTTPS_FIXTURE_URL", "localhost", "/echo");
	ck_assert_int_eq(tx_http_get(u, NULL, 1000, 5000, MAX, &r), 0);
	const char *hostport = u + strlen("https://");
	int n = snprintf(want, sizeof(want),
			 "GET /echo HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n\r\n",
			 (int)strcspn(hostport, "/"), hostport);
	expect_echo(&r, want, (size_t)n);
}
END_TEST

START_TEST(tls_wrong_host)
{
	trust_fixture_ca();
	expect_fail(url("HTTPS_FIXTURE_WRONG_URL", "/cl"), MAX,
		    "TLS: certificate verify failed: IP address mismatch");
	expect_fail(on_host("HTTPS_FIXTURE_WRONG_URL", "localhost", "/cl"), MAX,
		    "TLS: certificate verify failed: hostname mismatch");
}
END_TEST

START_TEST(tls_default_store_refuses)
{
	ck_assert_int_eq(unsetenv("SSL_CERT_FILE"), 0);
	ck_assert_int_eq(unsetenv("SSL_CERT_DIR"), 0);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "TLS: certificate verify failed");
}
END_TEST

/* https to a server that never speaks TLS: the handshake keeps the deadline. */
START_TEST(tls_handshake_timeout)
{
	trust_fixture_ca();
	struct tx_http_response r;
	char u[256];
	snprintf(u, sizeof(u), "https://%s/", env("HTTP_FIXTURE_URL") + strlen("http://"));
	long long t0 = now_ms();
	ck_assert_int_eq(post(u, 400, MAX, &r), -1);
	ck_assert_int_lt(now_ms() - t0, 700);
	ck_assert_str_eq(r.error, "timed out after 400 ms");
	tx_http_response_release(&r);
}
END_TEST

static void *many(void *u)
{
	for (int i = 0; i < 10; i++) {
		struct tx_http_response r;
		if (post(u, 5000, MAX, &r) < 0 || r.status != 200 ||
		    strcmp(r.body.buf, "hello, world") != 0) {
			tx_http_response_release(&r);
			return "failed";
		}
		tx_http_response_release(&r);
	}
	return NULL;
}

START_TEST(tls_threads)
{
	pthread_t t[8];
	char u[256];
	trust_fixture_ca();
	snprintf(u, sizeof(u), "%s/cl", env("HTTPS_FIXTURE_URL"));
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, many, u), 0);
	for (int i = 0; i < 8; i++) {
		void *res;
		ck_assert_int_eq(pthread_join(t[i], &res), 0);
		ck_assert_ptr_null(res);
	}
}
END_TEST

/* ---- name resolution -------------------------------------------------------- */

/* Bind-mount a file holding text over path, in this process's namespace. */
static void bind_file(const char *path, const char *text)
{
	char tmp[] = "/tmp/http_client_dns.XXXXXX";
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_msg(mount(tmp, path, NULL, MS_BIND, NULL) == 0, "bind %s: %s", path,
		      strerror(errno));
	unlink(tmp); /* the mount holds the file */
}

/* A DNS server that never answers, for this test's process alone (Check
 * runs each test in a process of its own): private mount and network
 * namespaces, their loopback up, a UDP socket on 127.0.0.1:53 that takes
 * queries and never answers, and resolv.conf (timeout:1 attempts:1: a
 * lookup gives up after a second or two) and nsswitch.conf ("hosts: files
 * dns", whatever the machine uses) bind-mounted over with files naming it.
 * Without that socket the queries would be refused at once (ICMP port
 * unreachable): a quick failure, not the hang we want. unshare needs root;
 * the tests run as root, here and in CI. Returns the socket. */
static int dead_resolver(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_msg(unshare(CLONE_NEWNS | CLONE_NEWNET) == 0,
		      "unshare(CLONE_NEWNS | CLONE_NEWNET): %s: this test must run as root "
		      "(it makes DNS hang in private namespaces)", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	bind_file("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
	bind_file("/etc/nsswitch.conf", "hosts: files dns\n");
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind 127.0.0.1:53: %s",
		      strerror(errno));
	return fd;
}

/* The queries the dead resolver has swallowed since the last call. */
static int queries(int fd)
{
	char q[512];
	int n = 0;
	while (recv(fd, q, sizeof(q), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* POST to u within total_ms: fails within it (+ 300 ms) and says why. */
static void expect_dns_timeout(const char *u, const char *host, long total_ms)
{
	struct tx_http_response r;
	char want[300];
	long long t0 = now_ms();
	ck_assert_int_eq(post(u, total_ms, MAX, &r), -1);
	long long took = now_ms() - t0;
	snprintf(want, sizeof(want), "resolving %s: timed out", host);
	ck_assert_str_eq(r.error, want);
	ck_assert_msg(took >= total_ms - 10 && took < total_ms + 300, "%s took %lld ms", u, took);
	tx_http_response_release(&r);
}

static void *hang(void *arg)
{
	char u[64], host[32];
	snprintf(host, sizeof(host), "t%d.hang.test", (int)(long)arg);
	snprintf(u, sizeof(u), "http://%s/", host);
	expect_dns_timeout(u, host, 300);
	return NULL;
}

/* The deadline bounds the name lookup too; an IP literal never asks. */
START_TEST(dns_within_deadline)
{
	int udp = dead_resolver();
	long long t0 = now_ms();
	expect_fail("http://127.0.0.1:1/", MAX, "connect to 127.0.0.1 port 1: ");
	expect_fail("http://[::1]:1/", MAX, "connect to ::1 port 1: ");
	ck_assert_int_lt(now_ms() - t0, 200);
	ck_assert_int_eq(queries(udp), 0);

	expect_dns_timeout("http://api.hang.test/v1/charges", "api.hang.test", 500);
	ck_assert_int_gt(queries(udp), 0); /* it did ask, and got no answer */

	/* More at once than glibc's 20 lookup threads: those still queued at
	 * their deadline are cancelled, the others left running. */
	pthread_t t[24];
	for (long i = 0; i < 24; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hang, (void *)i), 0);
	for (int i = 0; i < 24; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	/* Let the abandoned lookups end (timeout:1, perhaps a search domain)
	 * and free themselves while this process lives: the sanitizer build
	 * would catch a use after free or a double free. */
	sleep(3);
}
END_TEST

/* ---- proxies -------------------------------------------------------------------- */

static const char *const proxy_vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
					  "HTTPS_PROXY", "no_proxy", "NO_PROXY" };
#define NVARS (sizeof(proxy_vars) / sizeof(proxy_vars[0]))

static void save_proxy_env(char *saved[NVARS])
{
	for (size_t i = 0; i < NVARS; i++) {
		const char *v = getenv(proxy_vars[i]);
		saved[i] = v ? strdup(v) : NULL;
		unsetenv(proxy_vars[i]);
	}
}

static void restore_proxy_env(char *saved[NVARS])
{
	for (size_t i = 0; i < NVARS; i++) {
		if (saved[i])
			setenv(proxy_vars[i], saved[i], 1);
		else
			unsetenv(proxy_vars[i]);
		free(saved[i]);
		saved[i] = NULL;
	}
}

/* What the fixture's proxies relayed since the last call ("" for nothing),
 * asked directly (the proxy variables are put aside meanwhile). */
static const char *proxy_log(void)
{
	static char log[4096];
	char *saved[NVARS];
	struct tx_http_response r;
	save_proxy_env(saved);
	ck_assert_msg(tx_http_get(url("HTTP_FIXTURE_PROXY", "/log"), NULL, 1000, 5000, MAX, &r) == 0,
		      "proxy log: %s", r.error);
	snprintf(log, sizeof(log), "%s", r.body.buf);
	tx_http_response_release(&r);
	restore_proxy_env(saved);
	return log;
}

static char *outer_env[NVARS];

/* Each proxy test starts with none of the variables and an empty log. */
static void proxy_setup(void)
{
	save_proxy_env(outer_env);
	proxy_log();
}

static void proxy_teardown(void)
{
	restore_proxy_env(outer_env);
}

static void expect_log(const char *want)
{
	const char *got = proxy_log();
	ck_assert_msg(strcmp(got, want) == 0, "the proxy relayed:\n%s\nexpected:\n%s", got, want);
}

/* base's port: ":PORT" */
static const char *port_of(const char *base)
{
	return strrchr(env(base), ':');
}

/* An https URL to host on base's port. */
static const char *https_on(const char *host, const char *base, const char *path)
{
	static char u[256];
	snprintf(u, sizeof(u), "https://%s%s%s", host, port_of(base), path);
	return u;
}

START_TEST(proxy_https_tunnel)
{
	char want[1024];
	struct tx_http_response r;
	trust_fixture_ca();
	setenv("https_proxy", env("HTTP_FIXTURE_PROXY"), 1);
	setenv("http_proxy", "http://127.0.0.1:1", 1); /* not for https */
	expect_ok(url("HTTPS_FIXTURE_URL", "/chunked?dribble=1"), 200, "hello, world");
	/* the certificate is checked against the target, not the proxy
	 * (127.0.0.1): the fixture's proxy takes wrong.example for 127.0.0.1 */
	expect_ok(https_on("wrong.example", "HTTPS_FIXTURE_WRONG_URL", "/cl"), 200, "hello, world");
	expect_fail(https_on("wrong.example", "HTTPS_FIXTURE_URL", "/cl"), MAX,
		    "TLS: certificate verify failed: hostname mismatch");
	expect_fail(url("HTTPS_FIXTURE_WRONG_URL", "/cl"), MAX,
		    "TLS: certificate verify failed: IP address mismatch");
	/* inside the tunnel, the request as to the server itself */
	ck_assert_int_eq(tx_http_get(https_on("localhost", "HTTPS_FIXTURE_URL", "/echo"), NULL, 1000,
				     5000, MAX, &r), 0);
	int n = snprintf(want, sizeof(want),
			 "GET /echo HTTP/1.1\r\nHost: localhost%s\r\nConnection: close\r\n\r\n",
			 port_of("HTTPS_FIXTURE_URL"));
	expect_echo(&r, want, (size_t)n);
	snprintf(want, sizeof(want),
		 "open CONNECT 127.0.0.1%1$s 200\nopen CONNECT wrong.example%2$s 200\n"
		 "open CONNECT wrong.example%1$s 200\nopen CONNECT 127.0.0.1%2$s 200\n"
		 "open CONNECT localhost%1$s 200",
		 port_of("HTTPS_FIXTURE_URL"), port_of("HTTPS_FIXTURE_WRONG_URL"));
	expect_log(want);

	unsetenv("https_proxy"); /* the upper-case name works for https */
	setenv("HTTPS_PROXY", env("HTTP_FIXTURE_PROXY"), 1);
	expect_ok(url("HTTPS_FIXTURE_URL", "/cl"), 200, "hello, world");
	snprintf(want, sizeof(want), "open CONNECT 127.0.0.1%s 200", port_of("HTTPS_FIXTURE_URL"));
	expect_log(want);
}
END_TEST

START_TEST(proxy_http_absolute_uri)
{
	char want[512];
	setenv("http_proxy", env("HTTP_FIXTURE_PROXY"), 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1); /* not for http */
	expect_ok(url("HTTP_FIXTURE_URL", "/cl?a=1#frag"), 200, "hello, world");
	snprintf(want, sizeof(want), "open POST %s/cl?a=1 200", env("HTTP_FIXTURE_URL"));
	expect_log(want);

	/* HTTP_PROXY is ignored (httpoxy): this one would refuse */
	unsetenv("http_proxy");
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	expect_ok(url("HTTP_FIXTURE_URL", "/cl"), 200, "hello, world");
	setenv("HTTP_PROXY", env("HTTP_FIXTURE_PROXY"), 1);
	expect_ok(url("HTTP_FIXTURE_URL", "/cl"), 200, "hello, world");
	expect_log("");
}
END_TEST

/* A proxy URL with credentials, %-escaped: user:pass from the fixture. */
static const char *proxy_with_cred(const char *cred)
{
	static char u[512];
	struct tx_buf b = TX_BUF_INIT(256);
	const char *colon = strchr(cred, ':');
	char user[128];
	snprintf(user, sizeof(user), "%.*s", (int)(colon - cred), cred);
	tx_http_form_escape(&b, user);
	tx_buf_addch(&b, ':');
	tx_http_form_escape(&b, colon + 1);
	snprintf(u, sizeof(u), "http://%s@%s", b.buf, env("HTTP_FIXTURE_PROXY_AUTH") + 7);
	tx_buf_release(&b);
	return u;
}

START_TEST(proxy_auth)
{
	char want[1024];
	struct tx_http_response r;
	const char *q = port_of("HTTPS_FIXTURE_URL");
	trust_fixture_ca();
	setenv("https_proxy", env("HTTP_FIXTURE_PROXY_AUTH"), 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "proxy answered 407");
	setenv("https_proxy", proxy_with_cred("proxyuser:wrong"), 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "proxy answered 407");
	setenv("https_proxy", proxy_with_cred(env("HTTP_FIXTURE_PROXY_CRED")), 1);
	expect_ok(url("HTTPS_FIXTURE_URL", "/cl"), 200, "hello, world");
	/* the credentials are for the proxy, never sent through the tunnel */
	ck_assert_int_eq(tx_http_get(https_on("localhost", "HTTPS_FIXTURE_URL", "/echo"), NULL, 1000,
				     5000, MAX, &r), 0);
	int n = snprintf(want, sizeof(want),
			 "GET /echo HTTP/1.1\r\nHost: localhost%s\r\nConnection: close\r\n\r\n", q);
	expect_echo(&r, want, (size_t)n);
	snprintf(want, sizeof(want),
		 "auth CONNECT 127.0.0.1%1$s 407\nauth CONNECT 127.0.0.1%1$s 407\n"
		 "auth CONNECT 127.0.0.1%1$s 200\nauth CONNECT localhost%1$s 200", q);
	expect_log(want);

	/* http: the proxy's 407 is the response; with credentials, through */
	setenv("http_proxy", env("HTTP_FIXTURE_PROXY_AUTH"), 1);
	expect_ok(url("HTTP_FIXTURE_URL", "/cl"), 407, "proxy auth needed");
	setenv("http_proxy", proxy_with_cred(env("HTTP_FIXTURE_PROXY_CRED")), 1);
	expect_ok(url("HTTP_FIXTURE_URL", "/cl"), 200, "hello, world");
	snprintf(want, sizeof(want), "auth POST %1$s/cl 407\nauth POST %1$s/cl 200",
		 env("HTTP_FIXTURE_URL"));
	expect_log(want);
}
END_TEST

/* no_proxy: which calls go direct. The http targets answer either way (the
 * log tells); api.stripe.invalid only through the proxy (502), direct it
 * fails in DNS. */
START_TEST(proxy_no_proxy)
{
	const char *p = port_of("HTTP_FIXTURE_URL");
	char local[128], port_entry[64], v6[64];
	snprintf(local, sizeof(local), "http://localhost%s/cl", p);
	snprintf(port_entry, sizeof(port_entry), "127.0.0.1%s", p);
	snprintf(v6, sizeof(v6), "[::1]%s", p);
	const struct {
		const char *var, *value, *url;
		bool direct;
	} cases[] = {
		{ "no_proxy", "127.0.0.1", NULL, true },
		{ "NO_PROXY", "127.0.0.1", NULL, true },
		{ "no_proxy", "*", NULL, true },
		{ "no_proxy", " example.com , 127.0.0.1 ", NULL, true },
		{ "no_proxy", port_entry, NULL, true },
		{ "no_proxy", "127.0.0.1:1", NULL, false },
		{ "no_proxy", "127.0.0.2,localhost,*.x", NULL, false },
		{ "no_proxy", "localhost", local, true },
		{ "no_proxy", ".localhost", local, true },
		{ "no_proxy", "LOCALHOST:1", local, false },
		{ "no_proxy", "stripe.invalid", "http://api.stripe.invalid/", true },
		{ "no_proxy", ".stripe.invalid", "http://api.stripe.invalid/", true },
		{ "no_proxy", "api.stripe.invalid:80", "http://api.stripe.invalid/", true },
		{ "no_proxy", "i.stripe.invalid,stripe.invalid:81", "http://api.stripe.invalid/", false },
		{ "no_proxy", "pe.invalid", "http://api.stripe.invalid/", false },
		{ "no_proxy", "::1", "HTTP_FIXTURE_URL6", true },
		{ "no_proxy", v6, "HTTP_FIXTURE_URL6", true },
		{ "no_proxy", "::2", "HTTP_FIXTURE_URL6", false },
	};
	setenv("http_proxy", env("HTTP_FIXTURE_PROXY"), 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char u[256]; /* a copy: url()'s buffer is reused by proxy_log() */
		struct tx_http_response r;
		snprintf(u, sizeof(u), "%s", cases[i].url ? cases[i].url : url("HTTP_FIXTURE_URL", "/cl"));
		if (cases[i].url && strcmp(cases[i].url, "HTTP_FIXTURE_URL6") == 0) {
			if (!getenv("HTTP_FIXTURE_URL6") || !*getenv("HTTP_FIXTURE_URL6"))
				continue;
			snprintf(u, sizeof(u), "%s", url("HTTP_FIXTURE_URL6", "/cl"));
		}
		unsetenv("no_proxy");
		unsetenv("NO_PROXY");
		setenv(cases[i].var, cases[i].value, 1);
		int rc = post(u, 5000, MAX, &r);
		bool stripe = strstr(u, "stripe.invalid") != NULL;
		if (stripe && cases[i].direct)
			ck_assert_msg(rc == -1 && strstr(r.error, "DNS: api.stripe.invalid"),
				      "%s=%s %s: %d %s", cases[i].var, cases[i].value, u, rc, r.error);
		else
			ck_assert_msg(rc == 0 && r.status == (stripe ? 502 : 200), "%s=%s %s: %d %d %s",
				      cases[i].var, cases[i].value, u, rc, r.status, r.error);
		tx_http_response_release(&r);
		const char *log = proxy_log();
		ck_assert_msg(cases[i].direct == !*log, "%s=\"%s\" %s: the proxy relayed \"%s\"",
			      cases[i].var, cases[i].value, u, log);
	}
	/* and for https */
	trust_fixture_ca();
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("no_proxy", "localhost,127.0.0.1", 1);
	expect_ok(url("HTTPS_FIXTURE_URL", "/cl"), 200, "hello, world");
}
END_TEST

START_TEST(proxy_failures)
{
	struct tx_http_response r;
	trust_fixture_ca();
	long long t0 = now_ms();
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX,
		    "connect to proxy 127.0.0.1 port 1: Connection refused");
	ck_assert_int_lt(now_ms() - t0, 500);
	setenv("https_proxy", "127.0.0.1", 1); /* no scheme: http; no port: 1080 */
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "connect to proxy 127.0.0.1 port 1080: ");
	setenv("https_proxy", "socks5://127.0.0.1:1080", 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX,
		    "https_proxy: proxy scheme not supported");
	setenv("https_proxy", "https://127.0.0.1:1080", 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "proxy scheme not supported");
	setenv("https_proxy", "http://127.0.0.1:99999", 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "https_proxy: proxy URL: bad port");
	setenv("https_proxy", "http://proxy.invalid:3128", 1);
	expect_fail(url("HTTPS_FIXTURE_URL", "/cl"), MAX, "DNS: proxy.invalid: ");

	/* a proxy that never answers CONNECT: the call's deadline holds */
	setenv("https_proxy", env("HTTP_FIXTURE_PROXY"), 1);
	t0 = now_ms();
	ck_assert_int_eq(post("https://silent.invalid/", 500, MAX, &r), -1);
	long long took = now_ms() - t0;
	ck_assert_str_eq(r.error, "timed out after 500 ms");
	ck_assert_msg(took >= 490 && took < 800, "took %lld ms", took);
	tx_http_response_release(&r);
	/* bytes after the 2xx, before TLS: refused */
	expect_fail("https://extra.invalid/", MAX, "proxy: data after its answer to CONNECT");
	/* no_proxy wins over a dead proxy */
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	setenv("no_proxy", "*", 1);
	expect_ok(url("HTTPS_FIXTURE_URL", "/cl"), 200, "hello, world");
	/* a proxy header from the caller is refused, as Host is */
	const char *const headers[] = { "Proxy-Authorization: Basic eDp5", NULL };
	ck_assert_int_eq(tx_http_post(url("HTTPS_FIXTURE_URL", "/cl"), headers, "", 0, 1000, 5000,
				      MAX, &r), -1);
	ck_assert_str_eq(r.error, "header: Proxy-Authorization is set by the client");
	tx_http_response_release(&r);
	expect_log("open CONNECT silent.invalid:443 silent\nopen CONNECT extra.invalid:443 200");
}
END_TEST

Suite *suite_http_client(void)
{
	Suite *s = suite_create("http_client");
	TCase *tc = tcase_create("http");
	tcase_add_test(tc, content_length_chunked_eof);
	tcase_add_test(tc, no_content_needs_no_eof);
	tcase_add_test(tc, bounded_body);
	tcase_add_test(tc, truncated_and_malformed);
	tcase_add_test(tc, total_timeout);
	tcase_add_test(tc, request_as_sent);
	tcase_add_test(tc, ipv6_literal);
	tcase_add_test(tc, connection_refused_and_dns);
	tcase_add_test(tc, bad_urls);
	tcase_add_test(tc, header_injection);
	tcase_add_test(tc, form_escape);
	suite_add_tcase(s, tc);
	tc = tcase_create("https");
	tcase_add_test(tc, tls_verified);
	tcase_add_test(tc, tls_wrong_host);
	tcase_add_test(tc, tls_default_store_refuses);
	tcase_add_test(tc, tls_handshake_timeout);
	tcase_add_test(tc, tls_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("proxy");
	tcase_add_checked_fixture(tc, proxy_setup, proxy_teardown);
	tcase_add_test(tc, proxy_https_tunnel);
	tcase_add_test(tc, proxy_http_absolute_uri);
	tcase_add_test(tc, proxy_auth);
	tcase_add_test(tc, proxy_no_proxy);
	tcase_add_test(tc, proxy_failures);
	suite_add_tcase(s, tc);
	tc = tcase_create("dns");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, dns_within_deadline);
	suite_add_tcase(s, tc);
	return s;
}
