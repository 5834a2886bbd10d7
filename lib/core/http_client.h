/* http_client.h: a small blocking HTTP/1.1 client, http:// and https://
 * over OpenSSL, for the few outgoing calls we make (Stripe).
 *
 * One request per call on its own connection (Connection: close). Calls
 * share nothing but one SSL_CTX, made on first use (pthread_once) from the
 * default trust store, which honours SSL_CERT_FILE and SSL_CERT_DIR as they
 * are at that first use; so the functions are thread-safe. TLS 1.2 or
 * later, peer verified, host name (or IP literal) checked, SNI sent for
 * names. No signals are raised (MSG_NOSIGNAL); sockets are close-on-exec.
 *
 * Time: the whole call, name lookup included, is bounded by
 * total_timeout_ms (> 0); each address the lookup returns is tried with a
 * connect bounded by connect_timeout_ms (<= 0: the total). A lookup that
 * has not answered by then fails with "resolving HOST: timed out" and goes
 * on in the background (glibc's getaddrinfo_a) until the resolver gives
 * up, holding a little memory, never the caller. IP literals never reach
 * the resolver.
 *
 * The response: any complete HTTP response is a success (return 0, status
 * set, whatever the status). Its body is read by Content-Length, chunked
 * transfer coding (extensions and trailers ignored), or to EOF; interim 1xx
 * responses are skipped; headers are bounded (TX_HTTP_HEADER_MAX). Every
 * transport failure returns -1 with a message in out->error: bad URL or
 * header, DNS, connect, TLS (handshake, verification), timeout, a malformed
 * or truncated response, a body over max_response (never truncated and
 * passed off as complete), an https body ended without TLS close_notify.
 *
 * Proxies, from the environment as curl reads it, per call (getenv; we
 * never setenv after start-up): https_proxy or HTTPS_PROXY for https://
 * URLs, http_proxy for http:// (lower case only: a CGI program gets a
 * request's "Proxy:" header as HTTP_PROXY, the httpoxy problem). The value
 * is [http://][user[:password]@]host[:port][/], port 1080 by default; any
 * other scheme fails the call ("proxy scheme not supported"). Credentials
 * are %-decoded and sent as Proxy-Authorization: Basic, to the proxy only.
 * no_proxy or NO_PROXY lists hosts to reach directly, comma-separated: a
 * name matches itself and its subdomains (a leading dot is ignored), an IP
 * literal only itself ("[v6]" brackets allowed, no CIDR), ":port" limits an
 * entry to that port, "*" alone means every host. https goes through a
 * CONNECT tunnel: the proxy's answer head must be 2xx and nothing else
 * (anything else fails with "proxy answered 407 ..." and so on), then TLS
 * to the target as without a proxy (SNI and verification against the
 * target's name). http goes to the proxy with the absolute URI in the
 * request line; a proxy's own answer (a 407, a 502) is the response. The
 * proxy's name is resolved and the tunnel set up within the same
 * total_timeout_ms; connect_timeout_ms bounds each connect to the proxy.
 *
 * Not supported: SOCKS or https:// proxies, proxy authentication other than
 * Basic, redirects, keep-alive, compression, HTTP/2.
 */
#ifndef TX_HTTP_CLIENT_H
#define TX_HTTP_CLIENT_H

#include <stddef.h>

#include "core/buf.h"

#define TX_HTTP_HEADER_MAX (16u << 10)

struct tx_http_response {
	int status;	    /* 200, 404, ...; 0 when the call failed */
	struct tx_buf body; /* NUL-terminated, at most max_response bytes */
	char error[256];    /* why the call failed; "" on success */
};

/* POST body (body_len bytes, may be 0) to url. headers are extra request
 * lines "Name: value", NULL-terminated (may be NULL); they must not contain
 * CR or LF, nor set Host, Content-Length, Connection, Transfer-Encoding or
 * Proxy-Authorization (the client sends those). out is initialised by the
 * call whatever it held (its body capped at max_response, 0 meaning
 * TX_BUF_DEFAULT_CAP): call tx_http_response_release(out) afterwards, on
 * success or failure.
 * 0 on a complete response, -1 on failure (out->error says why). */
int tx_http_post(const char *url, const char *const *headers, const char *body,
		 size_t body_len, long connect_timeout_ms, long total_timeout_ms,
		 size_t max_response, struct tx_http_response *out);

/* The same as a GET without a body. */
int tx_http_get(const char *url, const char *const *headers, long connect_timeout_ms,
		long total_timeout_ms, size_t max_response, struct tx_http_response *out);

void tx_http_response_release(struct tx_http_response *out);

/* Append s escaped for application/x-www-form-urlencoded as curl_easy_escape
 * does: A-Z a-z 0-9 - . _ ~ kept, every other byte %XX (upper case hex,
 * space too). 0, or -1 when b's cap was reached (b->toobig). */
int tx_http_form_escape(struct tx_buf *b, const char *s);

#endif
