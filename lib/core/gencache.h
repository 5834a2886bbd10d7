/* gencache.h: a read cache shared by a program's threads, kept correct by
 * a generation counter instead of by expiry.
 *
 * The cache holds a few slots of bytes (one rendering of one query each:
 * the tickets list as JSON, as HTML rows). Every change to what they show
 * bumps the generation: the program's own writes right after COMMIT, and
 * a follower thread (tx_gencache_follow) for every entry of the event
 * streams that announce the changes other processes commit. A slot is
 * served only while its generation is the current one, so a cached value
 * is never older than the last change this process has heard of.
 *
 * How a reader fills a slot without ever storing a stale value:
 *
 *     uint64_t gen = tx_gencache_gen(c);     (before the query)
 *     ... query Postgres, render ...
 *     tx_gencache_put(c, slot, gen, now, bytes, len);
 *
 * put stores only if the generation has not moved since the query began
 * (a change that landed meanwhile may or may not be in the result), and a
 * slot stored under gen stops being served as soon as anything bumps.
 *
 * The generation's low bit says whether changes are being followed. Odd
 * (at start, and whenever the follower has lost its event streams): the
 * cache is bypassed, get always misses and put stores nothing, so every
 * request queries. Even: the follower is reading every entry. Own writes
 * and events add 2 and keep the parity; only the follower flips it.
 *
 * A slot also expires after max_age_ms (a safety net for changes that
 * reach the database without an event), and a value longer than
 * max_bytes is never stored (requests then query as without a cache).
 * max_age_ms or max_bytes 0 turns the cache off.
 *
 * Thread-safe. Readers share a rwlock for the time of one copy; put
 * allocates outside it. Times are milliseconds on a monotonic clock
 * (tx_gencache_now_ms), passed in so that tests can move them.
 */
#ifndef TX_GENCACHE_H
#define TX_GENCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tx_buf;
struct tx_gencache;

#define TX_GENCACHE_MAX_SLOTS 4

struct tx_gencache *tx_gencache_new(size_t nslots, int64_t max_age_ms,
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
 * invalidates every slot. */
void tx_gencache_set_following(struct tx_gencache *c, bool following);

/* Append the slot's bytes to out if they are current and younger than
 * max_age; whether they were (a full out sets out->toobig, as always). */
bool tx_gencache_get(struct tx_gencache *c, size_t slot, int64_t now_ms,
		     struct tx_buf *out);
/* Store a copy of bytes in slot if gen is still current (and even) and
 * len <= max_bytes; now_ms is when the query began. Returns whether it
 * stored. */
bool tx_gencache_put(struct tx_gencache *c, size_t slot, uint64_t gen,
		     int64_t now_ms, const char *bytes, size_t len);

/* Start a thread that follows the Redis streams (names before the
 * prefix) on its own connection: XREAD BLOCK from the last entry at the
 * time it (re)connects, a bump for every batch of entries, and the cache
 * switched off while it is not connected. 0, or -1 if the URL is
 * malformed or the thread cannot start (err says why). At most once. */
int tx_gencache_follow(struct tx_gencache *c, const char *redis_url,
		       const char *redis_prefix, const char *const *streams,
		       size_t nstreams, char *err, size_t errlen);

#endif
