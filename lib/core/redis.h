/* redis.h: a small hiredis 0.14 wrapper: one connection per thread, key
 * prefixing, timeouts, and reconnection by itself.
 *
 * A struct tx_redis is made from REDIS_URL
 * (redis://[[user]:password@]host[:port][/db], user and password
 * %-escaped) and REDIS_PREFIX. Nothing connects until the first command (or
 * tx_redis_connect). Every connection is opened with a 2 s connect timeout,
 * then gets the command timeout given at creation (hiredis forgets it on a
 * reconnect; we set it again every time), authenticates (AUTH user password
 * for an ACL user, AUTH password without one) and SELECTs the database.
 *
 * With Sentinel the URL is redis-sentinel://host:port,...[/db]#master
 * (sentinel.h): each connection first asks the sentinels where the master
 * is and checks with ROLE that it is one; before a command, at most once
 * a second, it asks again and moves if the master has changed.
 *
 * Commands are argv vectors with explicit lengths (binary safe). An I/O
 * failure (server gone, timeout) drops the connection: the call returns
 * NULL and the next call connects again. So do the error replies of a
 * node that is not the master (any more): READONLY, LOADING, MASTERDOWN,
 * UNBLOCKED, with the reply's text in tx_redis_error. A NULL reply
 * therefore means "Redis unavailable, back off and retry"; a reply of type
 * REDIS_REPLY_ERROR is Redis's own answer (NOGROUP, BUSYGROUP, WRONGTYPE).
 * Replies are the caller's to freeReplyObject().
 *
 * Not thread-safe: one struct per thread.
 */
#ifndef TX_REDIS_H
#define TX_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

struct tx_redis;

/* The command timeout must be longer than any BLOCK the caller uses.
 * NULL if the URL is malformed (err says why). */
struct tx_redis *tx_redis_new(const char *url, const char *prefix,
			      int cmd_timeout_ms, char *err, size_t errlen);
void tx_redis_free(struct tx_redis *r);

/* Connect if not connected; 0 or -1 (tx_redis_error says why). */
int tx_redis_connect(struct tx_redis *r);
bool tx_redis_connected(const struct tx_redis *r);
/* The last connection-level error ("" if none). */
const char *tx_redis_error(const struct tx_redis *r);

/* prefix + name into out; 0, or -1 if it does not fit. */
int tx_redis_key(const struct tx_redis *r, const char *name, char *out,
		 size_t outlen);
const char *tx_redis_prefix(const struct tx_redis *r);

/* One command; NULL on I/O error (connection dropped). lens may be NULL
 * for NUL-terminated arguments. */
redisReply *tx_redis_cmd(struct tx_redis *r, int argc, const char **argv,
			 const size_t *lens);

/* Pipelining: append n commands, then read n replies in order. append
 * returns 0 or -1; get returns NULL on I/O error (connection dropped:
 * the remaining replies are lost too). */
int tx_redis_append(struct tx_redis *r, int argc, const char **argv,
		    const size_t *lens);
redisReply *tx_redis_get_reply(struct tx_redis *r);

/* WAIT replicas timeout_ms: how many replicas have acknowledged this
 * connection's writes so far (WAIT counts from the last write on the same
 * connection: call it right after the writes, before anything else
 * reconnects), or -1 (not connected, I/O error; tx_redis_error says). */
int tx_redis_wait(struct tx_redis *r, int replicas, int timeout_ms);

/* reply is an error whose text starts with code ("NOGROUP"). */
bool tx_redis_is_error(const redisReply *reply, const char *code);

#endif
