/* gencache.h: a read cache shared by a program's threads, kept correct by
 * a generation counter instead of by expiry.
 *
 * The cache holds a bounded number of entries, each the bytes of one
 * rendering of one query under a key the caller makes (the tickets
 * program: one page of the list, in one format, for one sort, search and
 * cursor). Every change to what they show bumps the generation: the
 * program's own writes right after COMMIT, and a follower thread
 * (tx_gencache_follow) for every entry of the event streams that announce
 * the changes other processes commit. An entry is served only while its
 * generation is the current one, so a cached value is never older than
 * the last change this process has heard of.
 *
 * How a reader fills an entry without ever storing a stale value:
 *
 *     uint64_t gen = tx_gencache_gen(c);     (before the query)
 *     ... query Postgres, render ...
 *     tx_gencache_put(c, key, keylen, gen, now, bytes, len);
 *
 * put stores only if the generation has not moved since the query began
 * (a change that landed meanwhile may or may not be in the result), and an
 * entry stored under gen stops being served as soon as anything bumps.
 *
 * The generation's low bit says whether changes are being followed. Odd
 * (at start, and whenever the follower has lost its event streams): the
 * cache is bypassed, get always misses and put stores nothing, so every
 * request queries. Even: the follower is reading every entry. Own writes
 * and events add 2 and keep the parity; only the follower flips it.
 *
 * Bounds: at most max_entries entries whose bytes add up to at most
 * max_bytes (so a value longer than max_bytes is never stored, and
 * requests for it query as without a cache). put makes room by dropping
 * entries of an older generation or past max_age first, then the oldest
 * stored. An entry also expires after max_age_ms (a safety net for
 * changes that reach the database without an event). max_entries,
 * max_age_ms or max_bytes 0 turns the cache off.
 *
 * Keys are compared byte for byte; whatever decides the bytes of a value
 * (format, parameters, and the user, for anything per user) must be in its
 * key. Thread-safe. Readers share a rwlock for the time of one lookup and
 * copy; put allocates outside it. Times are milliseconds on a monotonic
 * clock (tx_gencache_now_ms), passed in so that tests can move them.
 */
#ifndef TX_GENCACHE_H
#define TX_GENCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tx_buf;
struct tx_gencache;

#define TX_GENCACHE_MAX_KEY 1024 /* longer keys are never stored */

struct tx_gencache *tx_gencache_new(size_t max_entries, int64_t max_age_ms,
				    size_t max_bytes);
/* Stops the follower, if any, then frees everything. NULL is fine. */
void tx_gencache_free(struct tx_gencache *c);

int64_t tx_gencache_now_ms(void);

/* The current generation; record it before the query whose result you
 * will put. Odd: bypass the cache. */
uint64_t tx_gencache_gen(const struct tx_gencache *c);
/* Something the cache may show has changed (committed). NULL is fine. */
void tx_gencache_bump(struct tx_gencache *c);
/* The follower's switch: following (even) or not (odd); a flip also
 * invalidates every entry. */
void tx_gencache_set_following(struct tx_gencache *c, bool following);

/* Append the bytes stored under key to out if they are current and
 * younger than max_age; whether they were (a full out sets out->toobig,
 * as always). */
bool tx_gencache_get(struct tx_gencache *c, const char *key, size_t keylen,
		     int64_t now_ms, struct tx_buf *out);
/* Store a copy of bytes under key if gen is still current (and even),
 * len <= max_bytes and keylen <= TX_GENCACHE_MAX_KEY, replacing what the
 * key had and making room as above; now_ms is when the query began.
 * Returns whether it stored. */
bool tx_gencache_put(struct tx_gencache *c, const char *key, size_t keylen,
		     uint64_t gen, int64_t now_ms, const char *bytes, size_t len);
/* How many entries and bytes are stored now (current or not). */
void tx_gencache_usage(struct tx_gencache *c, size_t *entries, size_t *bytes);

/* Start a thread that follows the Redis streams (names before the
 * prefix) on its own connection: XREAD BLOCK from the last entry at the
 * time it (re)connects, a bump for every batch of entries, and the cache
 * switched off while it is not connected. 0, or -1 if the URL is
 * malformed or the thread cannot start (err says why). At most once. */
int tx_gencache_follow(struct tx_gencache *c, const char *redis_url,
		       const char *redis_prefix, const char *const *streams,
		       size_t nstreams, char *err, size_t errlen);

#endif
