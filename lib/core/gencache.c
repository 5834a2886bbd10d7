/* gencache.c: entries checked against a generation counter, and the
 * thread that follows the event streams which bump it; see gencache.h.
 *
 * The entries are an array searched from start to end (a few dozen to a
 * few hundred, each with a 64-bit hash of its key compared first): a
 * lookup costs less than the copy that follows it, and eviction needs no
 * other structure. */
#include "gencache.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FOLLOW_MAX_STREAMS 8
#define FOLLOW_BLOCK_MS 500    /* how long one XREAD waits; bounds stopping */
#define FOLLOW_RETRY_MS 500    /* between connection attempts */
#define FOLLOW_COUNT "256"     /* entries per XREAD */
#define STR_(x) #x
#define STR(x) STR_(x)

struct entry {
	uint64_t hash;
	char *mem; /* the key, then the bytes; NULL: a free entry */
	size_t keylen, len;
	uint64_t gen;
	int64_t born_ms;
};

struct follower;

struct tx_gencache {
	_Atomic uint64_t gen;
	pthread_rwlock_t lock; /* the entries */
	struct entry *entries;
	size_t max_entries;
	size_t bytes; /* sum of the stored values' len */
	int64_t max_age_ms;
	size_t max_bytes;
	struct follower *follower;
};

struct follower {
	struct tx_gencache *cache;
	struct tx_redis *redis;
	size_t n;
	char keys[FOLLOW_MAX_STREAMS][128];
	char ids[FOLLOW_MAX_STREAMS][64]; /* the last entry seen, per stream */
	char name[160];			  /* CLIENT SETNAME */
	atomic_bool stop;
	pthread_t thread;
};

static void follower_stop(struct follower *f);

struct tx_gencache *tx_gencache_new(size_t max_entries, int64_t max_age_ms,
				    size_t max_bytes)
{
	struct tx_gencache *c = tx_xcalloc(1, sizeof(*c));
	atomic_init(&c->gen, 1); /* odd: nothing followed yet */
	pthread_rwlock_init(&c->lock, NULL);
	c->max_entries = max_entries;
	c->entries = tx_xcalloc(max_entries ? max_entries : 1, sizeof(*c->entries));
	c->max_age_ms = max_age_ms;
	c->max_bytes = max_bytes;
	return c;
}

void tx_gencache_free(struct tx_gencache *c)
{
	if (!c)
		return;
	follower_stop(c->follower);
	for (size_t i = 0; i < c->max_entries; i++)
		free(c->entries[i].mem);
	free(c->entries);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

int64_t tx_gencache_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tx_gencache_gen(const struct tx_gencache *c)
{
	return atomic_load(&c->gen);
}

void tx_gencache_bump(struct tx_gencache *c)
{
	if (c)
		atomic_fetch_add(&c->gen, 2);
}

void tx_gencache_set_following(struct tx_gencache *c, bool following)
{
	bool now = (atomic_load(&c->gen) & 1) == 0;
	if (now != following)
		atomic_fetch_add(&c->gen, 1);
}

static bool enabled(const struct tx_gencache *c)
{
	return c->max_entries > 0 && c->max_age_ms > 0 && c->max_bytes > 0;
}

/* FNV-1a, 64 bits. */
static uint64_t key_hash(const char *key, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return h;
}

/* The entry stored under key, or NULL. Under the lock. */
static struct entry *find(struct tx_gencache *c, uint64_t h, const char *key,
			  size_t keylen)
{
	for (size_t i = 0; i < c->max_entries; i++) {
		struct entry *e = &c->entries[i];
		if (e->mem && e->hash == h && e->keylen == keylen &&
		    memcmp(e->mem, key, keylen) == 0)
			return e;
	}
	return NULL;
}

static bool fresh(const struct tx_gencache *c, const struct entry *e, uint64_t gen,
		  int64_t now_ms)
{
	return e->gen == gen && now_ms - e->born_ms < c->max_age_ms;
}

bool tx_gencache_get(struct tx_gencache *c, const char *key, size_t keylen,
		     int64_t now_ms, struct tx_buf *out)
{
	uint64_t gen = atomic_load(&c->gen);
	if ((gen & 1) || !enabled(c))
		return false;
	uint64_t h = key_hash(key, keylen);
	bool hit = false;
	pthread_rwlock_rdlock(&c->lock);
	const struct entry *e = find(c, h, key, keylen);
	if (e && fresh(c, e, gen, now_ms)) {
		tx_buf_add(out, e->mem + e->keylen, e->len);
		hit = true;
	}
	pthread_rwlock_unlock(&c->lock);
	return hit;
}

/* Empty e; its memory goes to *garbage (freed after the lock). */
static void drop(struct tx_gencache *c, struct entry *e, char **garbage)
{
	c->bytes -= e->len;
	*garbage = e->mem;
	*e = (struct entry){ 0 };
}

/* A free entry with room for len more bytes, made by dropping what is no
 * longer served (another generation, too old), then the oldest entries.
 * Under the write lock; dropped memory is added to garbage[0..max). */
static struct entry *make_room(struct tx_gencache *c, size_t len, uint64_t gen,
			       int64_t now_ms, char **garbage, size_t *ng)
{
	struct entry *slot = NULL;
	for (size_t i = 0; i < c->max_entries; i++) {
		struct entry *e = &c->entries[i];
		if (e->mem && !fresh(c, e, gen, now_ms))
			drop(c, e, &garbage[(*ng)++]);
		if (!e->mem && !slot)
			slot = e;
	}
	while (!slot || c->bytes + len > c->max_bytes) {
		struct entry *old = NULL;
		for (size_t i = 0; i < c->max_entries; i++) {
			struct entry *e = &c->entries[i];
			if (e->mem && (!old || e->born_ms < old->born_ms))
				old = e;
		}
		if (!old)
			break; /* empty: len <= max_bytes was checked */
		drop(c, old, &garbage[(*ng)++]);
		slot = slot ? slot : old;
	}
	return slot;
}

bool tx_gencache_put(struct tx_gencache *c, const char *key, size_t keylen,
		     uint64_t gen, int64_t now_ms, const char *bytes, size_t len)
{
	if ((gen & 1) || !enabled(c) || len > c->max_bytes ||
	    keylen > TX_GENCACHE_MAX_KEY || gen != atomic_load(&c->gen))
		return false;
	char *mem = tx_xmalloc(keylen + len + 1);
	memcpy(mem, key, keylen);
	memcpy(mem + keylen, bytes, len);
	mem[keylen + len] = '\0';
	uint64_t h = key_hash(key, keylen);
	char **garbage = tx_xcalloc(c->max_entries + 1, sizeof(*garbage));
	size_t ng = 0;
	bool stored = false;
	pthread_rwlock_wrlock(&c->lock);
	if (gen == atomic_load(&c->gen)) {
		struct entry *e = find(c, h, key, keylen);
		if (e)
			drop(c, e, &garbage[ng++]);
		e = make_room(c, len, gen, now_ms, garbage, &ng);
		*e = (struct entry){ h, mem, keylen, len, gen, now_ms };
		c->bytes += len;
		stored = true;
	}
	pthread_rwlock_unlock(&c->lock);
	if (!stored)
		free(mem); /* it came too late */
	for (size_t i = 0; i < ng; i++)
		free(garbage[i]);
	free(garbage);
	return stored;
}

void tx_gencache_usage(struct tx_gencache *c, size_t *entries, size_t *bytes)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&c->lock);
	for (size_t i = 0; i < c->max_entries; i++)
		n += c->entries[i].mem != NULL;
	*bytes = c->bytes;
	pthread_rwlock_unlock(&c->lock);
	*entries = n;
}

/* ---- the follower ---------------------------------------------------------- */

static bool stopping(struct follower *f)
{
	return atomic_load(&f->stop);
}

static void nap(struct follower *f, int ms)
{
	for (int t = 0; t < ms && !stopping(f); t += 50)
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
}

/* Name the connection, then note the last entry of every stream ("0-0"
 * for one that does not exist yet). 0, or -1 (connection lost). */
static int start_positions(struct follower *f)
{
	const char *name[] = { "CLIENT", "SETNAME", f->name };
	redisReply *r = tx_redis_cmd(f->redis, 3, name, NULL);
	if (!r)
		return -1;
	freeReplyObject(r);
	for (size_t i = 0; i < f->n; i++) {
		const char *argv[] = { "XREVRANGE", f->keys[i], "+", "-", "COUNT", "1" };
		r = tx_redis_cmd(f->redis, 6, argv, NULL);
		if (!r)
			return -1;
		bool ok = r->type == REDIS_REPLY_ARRAY;
		const char *id = "0-0";
		if (ok && r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
		    r->element[0]->elements > 0 &&
		    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
			id = r->element[0]->element[0]->str;
		snprintf(f->ids[i], sizeof(f->ids[i]), "%s", id);
		if (!ok)
			tx_log("warn", "cache: XREVRANGE %s: %s", f->keys[i],
			       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		if (!ok)
			return -1;
	}
	return 0;
}

/* Advance the positions past the entries of an XREAD reply; how many. */
static size_t take(struct follower *f, const redisReply *r)
{
	size_t got = 0;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *s = r->element[i];
		if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
		    s->element[0]->type != REDIS_REPLY_STRING ||
		    s->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		const redisReply *entries = s->element[1];
		for (size_t k = 0; k < f->n; k++) {
			if (strcmp(f->keys[k], s->element[0]->str) != 0 ||
			    entries->elements == 0)
				continue;
			const redisReply *last = entries->element[entries->elements - 1];
			if (last->type == REDIS_REPLY_ARRAY && last->elements > 0 &&
			    last->element[0]->type == REDIS_REPLY_STRING)
				snprintf(f->ids[k], sizeof(f->ids[k]), "%s",
					 last->element[0]->str);
			got += entries->elements;
		}
	}
	return got;
}

/* One XREAD BLOCK: 1 if entries came, 0 if none did, -1 if the
 * connection is lost or Redis refused. */
static int read_batch(struct follower *f)
{
	const char *argv[6 + 2 * FOLLOW_MAX_STREAMS];
	int argc = 0;
	argv[argc++] = "XREAD";
	argv[argc++] = "COUNT";
	argv[argc++] = FOLLOW_COUNT;
	argv[argc++] = "BLOCK";
	argv[argc++] = STR(FOLLOW_BLOCK_MS);
	argv[argc++] = "STREAMS";
	for (size_t i = 0; i < f->n; i++)
		argv[argc++] = f->keys[i];
	for (size_t i = 0; i < f->n; i++)
		argv[argc++] = f->ids[i];
	redisReply *r = tx_redis_cmd(f->redis, argc, argv, NULL);
	if (!r)
		return -1;
	int rc = 0;
	if (r->type == REDIS_REPLY_ARRAY)
		rc = take(f, r) > 0;
	else if (r->type != REDIS_REPLY_NIL) {
		tx_log("warn", "cache: XREAD: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

static void *follow_main(void *arg)
{
	struct follower *f = arg;
	bool following = false;
	while (!stopping(f)) {
		if (!following) {
			if (start_positions(f) < 0) {
				nap(f, FOLLOW_RETRY_MS);
				continue;
			}
			tx_gencache_set_following(f->cache, true);
			following = true;
			tx_log("info", "cache: following %zu streams", f->n);
		}
		int rc = read_batch(f);
		if (rc > 0) {
			tx_gencache_bump(f->cache);
		} else if (rc < 0) {
			tx_gencache_set_following(f->cache, false);
			following = false;
			tx_log("warn", "cache: not following (%s); served from the database",
			       tx_redis_error(f->redis)[0] ? tx_redis_error(f->redis)
							   : "redis refused");
			nap(f, FOLLOW_RETRY_MS);
		}
	}
	tx_gencache_set_following(f->cache, false);
	return NULL;
}

int tx_gencache_follow(struct tx_gencache *c, const char *redis_url,
		       const char *redis_prefix, const char *const *streams,
		       size_t nstreams, char *err, size_t errlen)
{
	if (c->follower || nstreams == 0 || nstreams > FOLLOW_MAX_STREAMS) {
		snprintf(err, errlen, "cache: bad follower set-up");
		return -1;
	}
	struct follower *f = tx_xcalloc(1, sizeof(*f));
	f->cache = c;
	f->n = nstreams;
	atomic_init(&f->stop, false);
	f->redis = tx_redis_new(redis_url, redis_prefix, FOLLOW_BLOCK_MS + 1500,
				err, errlen);
	for (size_t i = 0; f->redis && i < nstreams; i++) {
		if (tx_redis_key(f->redis, streams[i], f->keys[i], sizeof(f->keys[i])) < 0) {
			snprintf(err, errlen, "cache: stream name too long");
			goto fail;
		}
	}
	if (!f->redis)
		goto fail;
	snprintf(f->name, sizeof(f->name), "follow:%s", f->keys[0]);
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
		snprintf(err, errlen, "cache: cannot start the follower thread");
		goto fail;
	}
	c->follower = f;
	return 0;
fail:
	tx_redis_free(f->redis);
	free(f);
	return -1;
}

static void follower_stop(struct follower *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	tx_redis_free(f->redis);
	free(f);
}
