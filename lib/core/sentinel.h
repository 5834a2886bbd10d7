/* sentinel.h: finding the Redis master through Redis Sentinel.
 *
 * With Sentinel, Redis runs as a master and replicas watched by sentinels;
 * when the master fails they promote a replica. Replication is
 * asynchronous and the failover is theirs: a client only has to ask who
 * the master is, check the answer, and ask again when it loses its
 * connection or meets a replica. hiredis 0.14 knows nothing of Sentinel,
 * so this is that client side, per the Sentinel clients guidelines:
 *
 *   - ask the sentinels in turn SENTINEL get-master-addr-by-name <name>;
 *     the first that answers wins and is asked first next time;
 *   - connect to that address and check with ROLE that it is a master
 *     (a sentinel may not know yet; an old master may be back as one);
 *   - on a lost connection, READONLY, LOADING, MASTERDOWN or UNBLOCKED,
 *     drop the connection and start again (redis.c does).
 *
 * The configuration reaches tx_redis_new() as one URL, so that every
 * program that takes REDIS_URL takes this too:
 *
 *     redis-sentinel://[userinfo@]host[:port][,host[:port]...][/db]#master
 *
 * (port 26379 by default; the form of Lettuce and others). userinfo and db
 * mean what they mean in redis://: the same credentials are used with the
 * master, the replicas and the sentinels (with a sentinel, only if it
 * answers NOAUTH: a sentinel may have the same users, or none). tx_config
 * builds it from REDIS_SENTINELS,
 * REDIS_MASTER_NAME and REDIS_URL (see tx_sentinel_url).
 */
#ifndef TX_SENTINEL_H
#define TX_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define TX_SENTINEL_MAX 8
#define TX_SENTINEL_PORT 26379

struct tx_sentinel_addr {
	char host[256];
	int port;
};

struct tx_sentinels {
	char master[128];
	struct tx_sentinel_addr addr[TX_SENTINEL_MAX];
	size_t n;
	size_t first;	/* the one that answered last */
	redisContext *c; /* kept open to it, for the next question */
	int timeout_ms;	/* connect and command timeout with a sentinel */
};

/* Whether url is a redis-sentinel:// URL. */
bool tx_sentinel_is_url(const char *url);

/* Split a redis-sentinel:// URL: the sentinels and master name into s,
 * and "redis://[userinfo@]sentinel[/db]" into plain, for the caller to
 * read credentials and database from as for a single Redis (its host is
 * not used). 0, or -1 with err when malformed (no sentinel, no master
 * name, a bad port, more than TX_SENTINEL_MAX sentinels, too long). */
int tx_sentinel_parse_url(const char *url, struct tx_sentinels *s, char *plain,
			  size_t plainlen, char *err, size_t errlen);

/* The sentinel URL for REDIS_SENTINELS (list "host[:port],...") and
 * REDIS_MASTER_NAME, keeping REDIS_URL's userinfo and database (redis_url
 * may be NULL or empty). 0, or -1 if it does not fit or redis_url is not
 * a redis:// URL. */
int tx_sentinel_url(const char *redis_url, const char *sentinels,
		    const char *master, char *out, size_t outlen);

/* Ask the sentinels for the master's address, into host and *port: the
 * one that answered last first, on the connection kept to it; the others
 * in turn, each on a new connection; AUTH with user and password (NULL or
 * empty: none) to one that asks for it. 0, or -1 with err naming each
 * sentinel's failure. */
int tx_sentinel_master(struct tx_sentinels *s, const char *user,
		       const char *password, char *host, size_t hostlen,
		       int *port, char *err, size_t errlen);
/* Close the kept connection (s stays usable). */
void tx_sentinels_release(struct tx_sentinels *s);

/* Whether c is connected to a master: ROLE's first element. 0 if it is,
 * -1 with err ("127.0.0.1:6380 is a slave", or the I/O error) if not. */
int tx_sentinel_check_master(redisContext *c, const char *host, int port,
			     char *err, size_t errlen);

#endif
