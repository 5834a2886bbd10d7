/* http_client.c: a blocking HTTP/1.1 client over sockets and OpenSSL; see
 * http_client.h.
 *
 * A call parses the URL and builds the whole request first (nothing goes
 * out if a part is malformed), resolves, connects, does the TLS handshake,
 * writes the request in one piece and reads the response through one
 * bounded input buffer, in[]: the status line, headers, chunk sizes and
 * trailers are lines in it; body bytes move from it to the caller's buffer.
 * All waiting is against one deadline: gai_suspend() for the name lookup
 * (see struct lookup), then poll() on a non-blocking socket.
 *
 * Through a proxy (proxy_for reads the environment each call), the
 * connection goes to the proxy instead; for https, tunnel() sends CONNECT
 * and reads the proxy's answer through the same in[] before the handshake.
 *
 * TLS reads and writes go through our own small BIO rather than OpenSSL's
 * socket BIO, which writes with write(2): a peer that has gone away would
 * raise SIGPIPE in a multi-threaded program. Ours uses send(MSG_NOSIGNAL).
 */
#include "core/http_client.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_LINE_MAX 1024 /* a chunk size line, extensions included */

struct url {
	bool tls, ip, v6, default_port;
	char host[256]; /* without brackets */
	char port[6];
	const char *path; /* up to '#', may be empty or start with '?' */
	int path_len;
};

/* The proxy a call goes through (see proxy_for): its address, and the
 * Proxy-Authorization value ("Basic ..."), "" without credentials. */
struct proxy {
	struct url u;
	char auth[720]; /* "Basic " + base64 of up to 511 bytes */
};

struct head {
	int status;
	long long length; /* Content-Length, -1 when absent */
	bool chunked;
};

struct conn {
	int fd;
	SSL *ssl;
	bool eof, close_notify; /* the peer closed; cleanly for TLS */
	long total_ms;
	long long deadline; /* CLOCK_MONOTONIC, ms */
	size_t head_left;   /* header bytes still allowed (1xx, head, trailers) */
	struct tx_http_response *out;
	size_t off, len; /* unread input is in[off..len) */
	char in[TX_HTTP_HEADER_MAX];
};

static int fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct conn *c, const char *fmt, ...)
{
	if (!c->out->error[0]) { /* the first failure is the cause */
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->out->error, sizeof(c->out->error), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int hexval(char ch)
{
	return digit(ch) ? ch - '0' : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;
}

/* The length of the header name before h's ':', 0 when it is not a
 * "Name:" line (a name is an RFC 9110 token). */
static size_t name_len(const char *h)
{
	size_t n = strcspn(h, ":");
	for (size_t i = 0; i < n; i++)
		if (!digit(h[i]) && !alpha(h[i]) && !strchr("!#$%&'*+-.^_`|~", h[i]))
			return 0;
	return h[n] ? n : 0;
}

/* ---- the shared TLS context and our socket BIO ----------------------- */

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static SSL_CTX *tls_ctx;
static BIO_METHOD *tls_bio;

static int bio_write(BIO *b, const char *p, int n)
{
	struct conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int bio_read(BIO *b, char *p, int n)
{
	struct conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t r = recv(c->fd, p, (size_t)n, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	c->eof = r == 0;
	return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num, (void)ptr;
	struct conn *c = BIO_get_data(b);
	return cmd == BIO_CTRL_FLUSH ? 1 : cmd == BIO_CTRL_EOF ? c->eof : 0;
}

static void tls_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tx_socket");
	SSL_CTX *x = SSL_CTX_new(TLS_client_method());
	if (!m || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) || !x ||
	    !SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION) ||
	    !SSL_CTX_set_default_verify_paths(x)) {
		BIO_meth_free(m);
		SSL_CTX_free(x);
		return;
	}
	SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
	tls_bio = m;
	tls_ctx = x;
}

/* ---- waiting, reading and writing ------------------------------------ */

/* Wait for events on fd until limit: 0 ready, 1 timed out, -1 poll failed. */
static int wait_fd(int fd, short events, long long limit)
{
	for (;;) {
		long long left = limit - now_ms();
		if (left <= 0)
			return 1;
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int conn_wait(struct conn *c, short events)
{
	int rc = wait_fd(c->fd, events, c->deadline);
	if (rc > 0)
		return fail(c, "timed out after %ld ms", c->total_ms);
	return rc < 0 ? fail(c, "poll: %s", strerror(errno)) : 0;
}

/* After an SSL call returned r <= 0: wait as it asks (0) or fail (-1). */
static int tls_again(struct conn *c, int r, const char *what)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return conn_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
	long v = SSL_get_verify_result(c->ssl);
	if (v != X509_V_OK)
		return fail(c, "TLS: certificate verify failed: %s",
			    X509_verify_cert_error_string(v));
	const char *why = ERR_reason_error_string(ERR_peek_last_error());
	if (!why)
		why = c->eof ? "connection closed by the server"
		    : e == SSL_ERROR_SYSCALL ? strerror(errno) : "unknown error";
	return fail(c, "TLS: %s failed: %s", what, why);
}

/* Read into p: bytes read, 0 at the peer's end, -1 on failure. */
static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
	for (;;) {
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
			if (r > 0)
				return r;
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN || c->eof) {
				c->close_notify = e == SSL_ERROR_ZERO_RETURN;
				return 0;
			}
			if (tls_again(c, r, "read") < 0)
				return -1;
			continue;
		}
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return fail(c, "recv: %s", strerror(errno));
		if (errno != EINTR && conn_wait(c, POLLIN) < 0)
			return -1;
	}
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t r;
		if (c->ssl) {
			ERR_clear_error();
			r = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
			if (r <= 0 && tls_again(c, (int)r, "write") < 0)
				return -1;
		} else {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return fail(c, "send: %s", strerror(errno));
			if (r < 0 && errno != EINTR && conn_wait(c, POLLOUT) < 0)
				return -1;
		}
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		}
	}
	return 0;
}

/* The next line, CR LF (or LF) cut off, NUL-terminated in in[]; counted
 * against *budget. what names the part, for the truncation message. */
static int get_line(struct conn *c, char **line, size_t *budget, const char *what)
{
	for (;;) {
		char *s = c->in + c->off, *nl = memchr(s, '\n', c->len - c->off);
		if (nl) {
			size_t n = (size_t)(nl - s) + 1;
			if (n > *budget)
				return fail(c, "response: %s too large", what);
			*budget -= n;
			c->off += n;
			if (nl > s && nl[-1] == '\r')
				nl--;
			*nl = '\0';
			if (memchr(s, '\0', (size_t)(nl - s)))
				return fail(c, "response: NUL byte in the %s", what);
			*line = s;
			return 0;
		}
		memmove(c->in, s, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
		if (c->len >= *budget || c->len == sizeof(c->in))
			return fail(c, "response: %s too large", what);
		ssize_t r = conn_read(c, c->in + c->len, sizeof(c->in) - c->len);
		if (r == 0)
			return fail(c, "response: truncated (connection closed in the %s)", what);
		if (r < 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* Move up to want body bytes to b: bytes moved, 0 at the end, -1. */
static ssize_t take(struct conn *c, size_t want, struct tx_buf *b)
{
	if (c->off == c->len) {
		ssize_t r = conn_read(c, c->in, sizeof(c->in));
		if (r <= 0)
			return r;
		c->off = 0;
		c->len = (size_t)r;
	}
	size_t n = c->len - c->off < want ? c->len - c->off : want;
	if (tx_buf_add(b, c->in + c->off, n) < 0)
		return fail(c, "response: body larger than %zu bytes", b->cap);
	c->off += n;
	return (ssize_t)n;
}

static int take_exactly(struct conn *c, size_t n, struct tx_buf *b)
{
	while (n) {
		ssize_t r = take(c, n, b);
		if (r == 0)
			return fail(c, "response: truncated body (%zu bytes missing)", n);
		if (r < 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- the response ------------------------------------------------------ */

static int parse_status(struct conn *c, const char *l, int *status)
{
	if (strncmp(l, "HTTP/1.", 7) != 0 || !digit(l[7]) || l[8] != ' ' || !digit(l[9]) ||
	    !digit(l[10]) || !digit(l[11]) || (l[12] && l[12] != ' ') || l[9] == '0')
		return fail(c, "response: malformed status line \"%.40s\"", l);
	*status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return 0;
}

static int parse_header(struct conn *c, char *l, struct head *h)
{
	size_t n = name_len(l);
	if (!n)
		return fail(c, "response: malformed header line \"%.40s\"", l);
	l[n] = '\0';
	char *v = l + n + 1 + strspn(l + n + 1, " \t"), *p = v + strlen(v);
	while (p > v && (p[-1] == ' ' || p[-1] == '\t'))
		*--p = '\0';
	if (strcasecmp(l, "transfer-encoding") == 0) {
		if (strcasecmp(v, "chunked") != 0 || h->chunked)
			return fail(c, "response: unsupported Transfer-Encoding \"%.40s\"", v);
		h->chunked = true;
	} else if (strcasecmp(l, "content-length") == 0) {
		long long len = 0;
		for (p = v; digit(*p) && len < 1000000000000000LL; p++)
			len = len * 10 + (*p - '0');
		if (p == v || *p || (h->length >= 0 && h->length != len))
			return fail(c, "response: bad Content-Length \"%.40s\"", v);
		h->length = len;
	}
	return 0;
}

/* The status line and headers of the final response (1xx skipped). */
static int read_head(struct conn *c, struct head *h)
{
	char *l;
	for (;;) {
		*h = (struct head){ 0, -1, false };
		if (get_line(c, &l, &c->head_left, "headers") < 0 ||
		    parse_status(c, l, &h->status) < 0)
			return -1;
		for (;;) {
			if (get_line(c, &l, &c->head_left, "headers") < 0)
				return -1;
			if (!*l)
				break;
			if (parse_header(c, l, h) < 0)
				return -1;
		}
		if (h->status == 101)
			return fail(c, "response: unexpected 101 Switching Protocols");
		if (h->status >= 200)
			return 0;
	}
}

static int read_chunked(struct conn *c, struct tx_buf *b)
{
	char *l;
	for (;;) {
		size_t budget = CHUNK_LINE_MAX, size = 0;
		const char *p;
		if (get_line(c, &l, &budget, "chunked body") < 0)
			return -1;
		for (p = l; p - l < 15 && hexval(*p) >= 0; p++)
			size = size * 16 + (size_t)hexval(*p);
		if (p == l || (*p && !strchr("; \t", *p)))
			return fail(c, "response: bad chunk size \"%.40s\"", l);
		if (size == 0)
			break;
		if (size > b->cap - b->len)
			return fail(c, "response: body larger than %zu bytes", b->cap);
		if (take_exactly(c, size, b) < 0 || get_line(c, &l, &budget, "chunked body") < 0)
			return -1;
		if (*l)
			return fail(c, "response: chunk longer than its size");
	}
	do { /* trailers: read, ignored */
		if (get_line(c, &l, &c->head_left, "trailers") < 0)
			return -1;
	} while (*l);
	return 0;
}

static int read_body(struct conn *c, const struct head *h, struct tx_buf *b)
{
	if (h->status == 204 || h->status == 304)
		return 0;
	if (h->chunked)
		return read_chunked(c, b);
	if (h->length >= 0) {
		if ((unsigned long long)h->length > b->cap)
			return fail(c, "response: body larger than %zu bytes", b->cap);
		return take_exactly(c, (size_t)h->length, b);
	}
	ssize_t r;
	while ((r = take(c, SIZE_MAX, b)) > 0)
		;
	if (r == 0 && c->ssl && !c->close_notify)
		return fail(c, "TLS: connection closed without close_notify (body may be truncated)");
	return (int)r;
}

/* ---- the request -------------------------------------------------------- */

static int parse_url(struct conn *c, const char *s, struct url *u)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(c, "URL: control character or space");
	*u = (struct url){ .default_port = true };
	u->tls = strncasecmp(s, "https://", 8) == 0;
	if (!u->tls && strncasecmp(s, "http://", 7) != 0)
		return fail(c, "URL: only http:// and https:// are supported");
	s += u->tls ? 8 : 7;
	/* authority: s..end; host: h..he, brackets excluded; then :port */
	const char *end = s + strcspn(s, "/?#"), *h = s, *he, *port;
	if (memchr(s, '@', (size_t)(end - s)))
		return fail(c, "URL: user info is not supported");
	u->v6 = *s == '[';
	if (u->v6) {
		h = s + 1;
		if (!(he = memchr(h, ']', (size_t)(end - h))))
			return fail(c, "URL: bad host");
		port = he + 1;
	} else {
		port = he = h + strcspn(h, ":/?#");
	}
	if (he == h || he - h >= (long)sizeof(u->host) || (port < end && *port != ':'))
		return fail(c, "URL: bad host");
	memcpy(u->host, h, (size_t)(he - h));
	unsigned n = u->tls ? 443 : 80;
	if (port < end) {
		u->default_port = false;
		for (n = 0, port++; port < end && digit(*port) && n < 65536; port++)
			n = n * 10 + (unsigned)(*port - '0');
		if (port < end || n == 0 || n > 65535)
			return fail(c, "URL: bad port");
	}
	snprintf(u->port, sizeof(u->port), "%u", n);
	unsigned char a[16];
	if (u->v6 && inet_pton(AF_INET6, u->host, a) != 1)
		return fail(c, "URL: bad IPv6 address");
	u->ip = u->v6 || inet_pton(AF_INET, u->host, a) == 1;
	u->path = end;
	u->path_len = (int)strcspn(end, "#");
	return 0;
}

static int check_header(struct conn *c, const char *h)
{
	static const char *const ours[] = { "host", "content-length", "connection",
					    "transfer-encoding", "proxy-authorization" };
	size_t n = name_len(h);
	if (!n)
		return fail(c, "header: not \"Name: value\": \"%.40s\"", h);
	for (const char *p = h + n; *p; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return fail(c, "header: control character in %.*s", (int)n, h);
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strlen(ours[i]) == n && strncasecmp(h, ours[i], n) == 0)
			return fail(c, "header: %.*s is set by the client", (int)n, h);
	return 0;
}

/* Append u's host[:port] as in a Host header (the port only when not the
 * scheme's default, unless always). */
static void add_authority(struct tx_buf *b, const struct url *u, bool always)
{
	bool port = always || !u->default_port;
	tx_buf_addf(b, "%s%s%s%s%s", u->v6 ? "[" : "", u->host, u->v6 ? "]" : "",
		    port ? ":" : "", port ? u->port : "");
}

/* The request; through a proxy (p, http targets only) its line has the
 * absolute URI and a Proxy-Authorization header follows Host. */
static int build_request(struct conn *c, const char *method, const struct url *u,
			 const struct proxy *p, const char *const *headers, const char *body,
			 size_t body_len, struct tx_buf *req)
{
	tx_buf_addf(req, "%s ", method);
	if (p) {
		tx_buf_addlit(req, "http://");
		add_authority(req, u, false);
	}
	tx_buf_addf(req, "%s%.*s HTTP/1.1\r\nHost: ", *u->path == '/' ? "" : "/", u->path_len,
		    u->path);
	add_authority(req, u, false);
	tx_buf_addlit(req, "\r\n");
	if (p && p->auth[0])
		tx_buf_addf(req, "Proxy-Authorization: %s\r\n", p->auth);
	if (body)
		tx_buf_addf(req, "Content-Length: %zu\r\n", body_len);
	tx_buf_addlit(req, "Connection: close\r\n");
	for (size_t i = 0; headers && headers[i]; i++) {
		if (check_header(c, headers[i]) < 0)
			return -1;
		tx_buf_adds(req, headers[i]);
		tx_buf_addlit(req, "\r\n");
	}
	tx_buf_addlit(req, "\r\n");
	if (req->len > TX_HTTP_HEADER_MAX || req->toobig)
		return fail(c, "request: headers larger than %u bytes", TX_HTTP_HEADER_MAX);
	if (tx_buf_add(req, body, body_len) < 0) /* req's cap allows for it */
		return fail(c, "request: body too large");
	return 0;
}

/* Connect to one address before limit: the socket, or -1 and why. */
static int connect_one(const struct addrinfo *ai, long long limit, char *why, size_t n)
{
	int e, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   ai->ai_protocol);
	socklen_t elen = sizeof(e);
	if (fd < 0) {
		snprintf(why, n, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if ((e = errno) == EINPROGRESS) {
		int w = wait_fd(fd, POLLOUT, limit);
		if (w != 0)
			e = w > 0 ? ETIMEDOUT : errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = errno;
		if (e == 0)
			return fd;
	}
	snprintf(why, n, "%s", strerror(e));
	close(fd);
	return -1;
}

/* ---- name resolution within the deadline ------------------------------- */

/* One name lookup, on the heap because it may outlive the call that
 * started it. glibc's getaddrinfo_a runs getaddrinfo in a helper thread and
 * we wait for it with gai_suspend until the call's deadline. On time-out,
 * gai_cancel removes a lookup that has not started yet (EAI_CANCELED), but
 * one that is running (EAI_NOTCANCELED: the usual case, a resolver that
 * does not answer) keeps writing into cb until its getaddrinfo returns,
 * maybe long after we have answered, and glibc keeps a pointer to cb.
 *
 * So the block has two owners, counted in refs: the call, and the
 * completion notification (SIGEV_THREAD: once the lookup is over, after
 * glibc's last use of cb, it starts a thread that runs lookup_done).
 * Whichever lets go last frees the result and the block; neither waits for
 * the other, and nothing is global. A cancelled lookup is never notified,
 * so the call lets go for both. Waiting on with an unbounded gai_suspend
 * would be simpler, but is the very hang this avoids. The one case we
 * cannot tell is a getaddrinfo_a that fails (out of threads or memory):
 * glibc may or may not still notify, so the block is left alone there, a
 * small leak rather than a use after free.
 *
 * A numeric host (IPv4 or IPv6 literal) is answered by a plain getaddrinfo
 * with AI_NUMERICHOST, which never consults the resolver. */
struct lookup {
	struct gaicb cb; /* first: glibc's pointer to it is one to the block */
	struct addrinfo hints;
	atomic_int refs;
	char host[sizeof(((struct url *)0)->host)], port[sizeof(((struct url *)0)->port)];
};

static void lookup_unref(struct lookup *l)
{
	if (atomic_fetch_sub(&l->refs, 1) == 1) {
		if (l->cb.ar_result)
			freeaddrinfo(l->cb.ar_result);
		free(l);
	}
}

static void lookup_done(union sigval v)
{
	lookup_unref(v.sival_ptr);
}

/* Wait for l until c's deadline: getaddrinfo's answer, or EAI_INPROGRESS
 * when the deadline came first (l is then cancelled or left to lookup_done;
 * the call still holds its own reference). */
static int lookup_wait(struct conn *c, struct lookup *l)
{
	const struct gaicb *const list[] = { &l->cb };
	for (;;) {
		int rc = gai_error(&l->cb);
		long long left = c->deadline - now_ms();
		if (rc != EAI_INPROGRESS)
			return rc;
		if (left <= 0) {
			if (gai_cancel(&l->cb) == EAI_CANCELED) /* never notified: */
				atomic_fetch_sub(&l->refs, 1);  /* drop its reference */
			return EAI_INPROGRESS;
		}
		struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000 };
		gai_suspend(list, 1, &ts); /* time-out, signal or done: looked at above */
	}
}

/* Resolve u's host before c's deadline: 0 and *lp, whose cb.ar_result
 * lists the addresses (give it back with lookup_unref), or -1. */
static int resolve(struct conn *c, const struct url *u, struct lookup **lp)
{
	struct lookup *l = tx_xcalloc(1, sizeof(*l));
	struct gaicb *list[] = { &l->cb };
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD,
			       .sigev_value.sival_ptr = l,
			       .sigev_notify_function = lookup_done };
	memcpy(l->host, u->host, sizeof(l->host));
	memcpy(l->port, u->port, sizeof(l->port));
	l->hints = (struct addrinfo){ .ai_socktype = SOCK_STREAM,
				      .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST };
	l->cb = (struct gaicb){ .ar_name = l->host, .ar_service = l->port, .ar_request = &l->hints };
	atomic_init(&l->refs, 1);
	int rc = getaddrinfo(l->host, l->port, &l->hints, &l->cb.ar_result);
	if (rc == EAI_NONAME) { /* a name: ask the resolver */
		l->hints.ai_flags = AI_NUMERICSERV;
		atomic_init(&l->refs, 2); /* before the lookup starts: it may end at once */
		if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &ev)) != 0)
			return fail(c, "DNS: %s: %s", u->host, /* l is left alone, see above */
				    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		rc = lookup_wait(c, l);
	}
	if (rc == 0) {
		*lp = l;
		return 0;
	}
	lookup_unref(l);
	if (rc == EAI_INPROGRESS)
		return fail(c, "resolving %s: timed out", u->host);
	return fail(c, "DNS: %s: %s", u->host, gai_strerror(rc));
}

/* Connect to each address in turn, each bounded by connect_ms. what is ""
 * or "proxy ", for the message. */
static int tcp_connect(struct conn *c, const struct url *u, long connect_ms, const char *what)
{
	struct lookup *l = NULL;
	char why[128] = "no address";
	if (resolve(c, u, &l) < 0)
		return -1;
	for (struct addrinfo *ai = l->cb.ar_result; ai && c->fd < 0; ai = ai->ai_next) {
		long long limit = now_ms() + connect_ms;
		c->fd = connect_one(ai, limit < c->deadline ? limit : c->deadline, why, sizeof(why));
	}
	lookup_unref(l);
	return c->fd < 0 ? fail(c, "connect to %s%s port %s: %s", what, u->host, u->port, why)
			 : 0;
}

static int tls_handshake(struct conn *c, const struct url *u)
{
	BIO *b;
	if (pthread_once(&tls_once, tls_init) != 0 || !tls_ctx)
		return fail(c, "TLS: cannot set up OpenSSL");
	if (!(c->ssl = SSL_new(tls_ctx)) || !(b = BIO_new(tls_bio)))
		return fail(c, "TLS: out of memory");
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	SSL_set_bio(c->ssl, b, b);
	SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (u->ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host)
		  : !SSL_set_tlsext_host_name(c->ssl, u->host) || !SSL_set1_host(c->ssl, u->host))
		return fail(c, "TLS: cannot set the host name to verify");
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		if (tls_again(c, r, "handshake") < 0)
			return -1;
	}
	if (SSL_get_verify_result(c->ssl) != X509_V_OK || !SSL_get0_peer_certificate(c->ssl))
		return fail(c, "TLS: certificate verify failed");
	return 0;
}

/* ---- proxies, as curl reads them from the environment --------------------- */

/* Does the no_proxy entry e (len bytes, spaces trimmed, leading dot
 * dropped) name u? "host", "host:port", "[v6]:port", a bare v6 literal.
 * A name matches itself and its subdomains; an IP literal only itself. */
static bool no_proxy_entry(const char *e, size_t len, const struct url *u)
{
	char host[sizeof(u->host)] = "";
	const char *port = NULL, *end = e + len, *he;
	unsigned char a[16], b[16];
	if (*e == '[') {
		if (!(he = memchr(e, ']', len)))
			return false;
		e++;
		port = he + 1 < end && he[1] == ':' ? he + 2 : NULL;
	} else {
		const char *colon = memchr(e, ':', len);
		bool v6 = colon && memchr(colon + 1, ':', (size_t)(end - colon - 1));
		he = colon && !v6 ? colon : end;
		port = colon && !v6 ? colon + 1 : NULL;
	}
	if (he == e || (size_t)(he - e) >= sizeof(host))
		return false;
	memcpy(host, e, (size_t)(he - e));
	if (port && ((size_t)(end - port) != strlen(u->port) ||
		     strncmp(port, u->port, (size_t)(end - port)) != 0))
		return false;
	if (u->ip) {
		int af = u->v6 ? AF_INET6 : AF_INET;
		return inet_pton(af, host, a) == 1 && inet_pton(af, u->host, b) == 1 &&
		       memcmp(a, b, u->v6 ? 16 : 4) == 0;
	}
	size_t hl = strlen(host), ul = strlen(u->host);
	return hl <= ul && strcasecmp(u->host + ul - hl, host) == 0 &&
	       (hl == ul || u->host[ul - hl - 1] == '.');
}

/* no_proxy (or NO_PROXY): comma-separated entries, "*" for every host. */
static bool no_proxy(const struct url *u)
{
	const char *s = getenv("no_proxy");
	if (!s || !*s)
		s = getenv("NO_PROXY");
	while (s && *s) {
		size_t n = strcspn(s, ",");
		const char *e = s, *end = s + n;
		s = *end ? end + 1 : end;
		while (e < end && (*e == ' ' || *e == '\t'))
			e++;
		while (end > e && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - e == 1 && *e == '*')
			return true;
		if (e < end && *e == '.')
			e++;
		if (e < end && no_proxy_entry(e, (size_t)(end - e), u))
			return true;
	}
	return false;
}

/* Percent-decode n bytes of s onto d (bounded by its cap). */
static int pct_decode(struct conn *c, struct tx_buf *d, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return fail(c, "proxy: bad %%-escape in the credentials");
			ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (tx_buf_addch(d, ch) < 0)
			return fail(c, "proxy: credentials too long");
	}
	return 0;
}

/* Parse the proxy URL in var's value s into p: [http://][user[:pass]@]host[:port][/]. */
static int parse_proxy(struct conn *c, const char *var, const char *s, struct proxy *p)
{
	const char *sep = strstr(s, "://"), *at;
	char hostport[300];
	if (sep && (sep - s != 4 || strncasecmp(s, "http", 4) != 0))
		return fail(c, "%s: proxy scheme not supported (only http://)", var);
	s = sep ? sep + 3 : s;
	size_t alen = strcspn(s, "/?#");
	if (s[alen] && strcmp(s + alen, "/") != 0)
		return fail(c, "%s: a proxy URL has no path", var);
	if ((at = memrchr(s, '@', alen))) { /* the last: a raw '@' may be in the password */
		struct tx_buf cred = TX_BUF_INIT(511);
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ul = colon ? (size_t)(colon - s) : (size_t)(at - s);
		unsigned char b64[700];
		int rc = pct_decode(c, &cred, s, ul);
		if (rc == 0 && tx_buf_addch(&cred, ':') < 0)
			rc = fail(c, "proxy: credentials too long");
		if (rc == 0 && colon)
			rc = pct_decode(c, &cred, colon + 1, (size_t)(at - colon - 1));
		if (rc == 0) {
			EVP_EncodeBlock(b64, (const unsigned char *)cred.buf, (int)cred.len);
			snprintf(p->auth, sizeof(p->auth), "Basic %s", (char *)b64);
		}
		OPENSSL_cleanse(cred.buf, cred.len);
		tx_buf_release(&cred);
		if (rc < 0)
			return -1;
		alen -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (alen + 8 > sizeof(hostport))
		return fail(c, "%s: bad proxy host", var);
	snprintf(hostport, sizeof(hostport), "http://%.*s", (int)alen, s);
	if (parse_url(c, hostport, &p->u) < 0) {
		char why[sizeof(c->out->error)];
		snprintf(why, sizeof(why), "%s: proxy %.200s", var, c->out->error);
		memcpy(c->out->error, why, sizeof(why));
		return -1;
	}
	if (p->u.default_port)
		memcpy(p->u.port, "1080", 5);
	return 0;
}

/* The proxy for u, as curl chooses it: https_proxy (or HTTPS_PROXY) for
 * https, http_proxy for http (never HTTP_PROXY: under CGI a request's
 * "Proxy:" header arrives as HTTP_PROXY, the httpoxy problem), unless
 * no_proxy names u's host. *pp is NULL without one. */
static int proxy_for(struct conn *c, const struct url *u, struct proxy *p,
		     const struct proxy **pp)
{
	const char *var = u->tls ? "https_proxy" : "http_proxy", *s = getenv(var);
	*pp = NULL;
	if (u->tls && (!s || !*s))
		s = getenv(var = "HTTPS_PROXY");
	if (!s || !*s || no_proxy(u))
		return 0;
	*p = (struct proxy){ .auth = "" };
	if (parse_proxy(c, var, s, p) < 0)
		return -1;
	*pp = p;
	return 0;
}

/* Through the proxy p, a tunnel to u: CONNECT, then the proxy's answer
 * head, which must be 2xx and all it sent so far (TLS comes next). */
static int tunnel(struct conn *c, const struct url *u, const struct proxy *p)
{
	struct tx_buf req = TX_BUF_INIT(TX_HTTP_HEADER_MAX);
	int status, rc;
	char *l;
	tx_buf_addlit(&req, "CONNECT ");
	add_authority(&req, u, true);
	tx_buf_addlit(&req, " HTTP/1.1\r\nHost: ");
	add_authority(&req, u, true);
	tx_buf_addlit(&req, "\r\n");
	if (p->auth[0])
		tx_buf_addf(&req, "Proxy-Authorization: %s\r\n", p->auth);
	tx_buf_addlit(&req, "\r\n");
	rc = conn_write(c, req.buf, req.len);
	tx_buf_release(&req);
	if (rc < 0 || get_line(c, &l, &c->head_left, "proxy's answer") < 0 ||
	    parse_status(c, l, &status) < 0)
		return -1;
	do {
		if (get_line(c, &l, &c->head_left, "proxy's answer") < 0)
			return -1;
	} while (*l);
	if (status < 200 || status > 299)
		return fail(c, "proxy answered %d to CONNECT %s port %s", status, u->host, u->port);
	if (c->off != c->len)
		return fail(c, "proxy: data after its answer to CONNECT");
	c->off = c->len = 0;
	c->head_left = TX_HTTP_HEADER_MAX;
	return 0;
}

static int request(const char *method, const char *url, const char *const *headers,
		   const char *body, size_t body_len, long connect_ms, long total_ms,
		   size_t max_response, struct tx_http_response *out)
{
	struct conn conn = { .fd = -1 }, *c = &conn;
	struct tx_buf req;
	struct url u;
	struct head h;
	struct proxy proxy;
	const struct proxy *p = NULL;
	int rc = -1;
	out->status = 0;
	out->error[0] = '\0';
	tx_buf_init(&out->body, max_response ? max_response : TX_BUF_DEFAULT_CAP);
	tx_buf_init(&req, TX_HTTP_HEADER_MAX + body_len);
	c->out = out;
	c->total_ms = total_ms;
	c->head_left = TX_HTTP_HEADER_MAX;
	c->deadline = now_ms() + total_ms;
	if (total_ms <= 0 || (!body && body_len) || body_len > SIZE_MAX / 2)
		fail(c, "bad arguments");
	else if (parse_url(c, url, &u) == 0 && proxy_for(c, &u, &proxy, &p) == 0 &&
		 build_request(c, method, &u, u.tls ? NULL : p, headers, body, body_len, &req) == 0 &&
		 tcp_connect(c, p ? &p->u : &u, connect_ms > 0 ? connect_ms : total_ms,
			     p ? "proxy " : "") == 0 &&
		 (!p || !u.tls || tunnel(c, &u, p) == 0) &&
		 (!u.tls || tls_handshake(c, &u) == 0) && conn_write(c, req.buf, req.len) == 0 &&
		 read_head(c, &h) == 0 && read_body(c, &h, &out->body) == 0) {
		out->status = h.status;
		rc = 0;
	}
	if (rc < 0)
		tx_buf_release(&out->body);
	SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	tx_buf_release(&req);
	ERR_clear_error();
	return rc;
}

int tx_http_post(const char *url, const char *const *headers, const char *body,
		 size_t body_len, long connect_timeout_ms, long total_timeout_ms,
		 size_t max_response, struct tx_http_response *out)
{
	return request("POST", url, headers, body ? body : "", body_len, connect_timeout_ms,
		       total_timeout_ms, max_response, out);
}

int tx_http_get(const char *url, const char *const *headers, long connect_timeout_ms,
		long total_timeout_ms, size_t max_response, struct tx_http_response *out)
{
	return request("GET", url, headers, NULL, 0, connect_timeout_ms, total_timeout_ms,
		       max_response, out);
}

void tx_http_response_release(struct tx_http_response *out)
{
	tx_buf_release(&out->body);
}

int tx_http_form_escape(struct tx_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
		bool keep = digit((char)*p) || alpha((char)*p) || strchr("-._~", *p);
		if ((keep ? tx_buf_addch(b, (char)*p) : tx_buf_add(b, e, 3)) < 0)
			return -1;
	}
	return 0;
}
