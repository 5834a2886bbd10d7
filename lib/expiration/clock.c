/* clock.c: the expiration clock's keys, event ids and Lua scripts.
 *
 * Scripts run with EVALSHA; the SHA-1 is computed here from the source
 * (the value SCRIPT LOAD returns), so nothing needs remembering between
 * calls. On NOSCRIPT (Redis restarted or SCRIPT FLUSH) the script is
 * loaded with SCRIPT LOAD and the EVALSHA sent once more. Both scripts
 * read the time with TIME inside the script: one clock (Redis's) decides
 * what is due for every scheduler, wherever it runs.
 */
#include "expiration/expiration.h"
#include "expiration/script.h"
#include "core/config.h"
#include "core/errors.h"
#include "core/redis.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define SEEN_MIN_TTL_S 86400L
#define MAX_SCRIPT_ARGS 8

/* The namespace of expiry ids (a fixed random UUID), as bytes. */
static const unsigned char id_namespace[16] = {
	0x6f, 0x1d, 0x7a, 0x52, 0x3c, 0x1e, 0x4b, 0x8a,
	0x9d, 0x2f, 0x5e, 0x0c, 0x4a, 0x7b, 0x8e, 0x91,
};

/* KEYS: seen, due. ARGV: event id, order id, due ms, seen ttl ms.
 * 1 scheduled, 0 duplicate. */
const char expiration_schedule_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))\n"
	"if redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1]) == 0 then\n"
	"  return 0\n"
	"end\n"
	"redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[2])\n"
	"return 1\n";

/* KEYS: due, stream. ARGV: batch, id namespace (16 bytes).
 * {moved, 1 if any member is left, ms until the first one is due}. The
 * id is a version-5 UUID: SHA-1 of namespace .. order id, with the
 * version and variant bits set (RFC 4122 4.3). */
const char expiration_move_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now,\n"
	"  'LIMIT', 0, tonumber(ARGV[1]))\n"
	"for _, m in ipairs(due) do\n"
	"  local h = redis.sha1hex(ARGV[2] .. m)\n"
	"  local v = string.format('%x', 8 + tonumber(string.sub(h, 17, 17), 16) % 4)\n"
	"  local id = string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' ..\n"
	"    string.sub(h, 14, 16) .. '-' .. v .. string.sub(h, 18, 20) .. '-' ..\n"
	"    string.sub(h, 21, 32)\n"
	"  redis.call('XADD', KEYS[2], '*', 'id', id,\n"
	"    'data', cjson.encode({orderId = m}))\n"
	"  redis.call('ZREM', KEYS[1], m)\n"
	"end\n"
	"local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
	"if first[2] == nil then return {#due, 0, 0} end\n"
	"return {#due, 1, tonumber(first[2]) - now}\n";

int expiration_keys(const struct tx_redis *r, struct expiration_keys *k)
{
	char tag[300];
	const char *p = tx_redis_prefix(r);
	if (tx_redis_key(r, EXPIRATION_SUBJECT, k->stream, sizeof(k->stream)) < 0)
		return -1;
	int n = snprintf(tag, sizeof(tag), "%s{%s}", p, k->stream);
	int a = snprintf(k->due, sizeof(k->due), "%s:due", tag);
	int b = snprintf(k->seen, sizeof(k->seen), "%s:seen", tag);
	return n < 0 || (size_t)n >= sizeof(tag) || a < 0 ||
			       (size_t)a >= sizeof(k->due) || b < 0 ||
			       (size_t)b >= sizeof(k->seen)
		       ? -1
		       : 0;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void expiration_event_id(const char *order_id, char out[37])
{
	unsigned char buf[16 + 64], md[SHA_DIGEST_LENGTH];
	size_t n = strnlen(order_id, 64);
	memcpy(buf, id_namespace, 16);
	memcpy(buf + 16, order_id, n);
	SHA1(buf, 16 + n, md);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	char h[33];
	hex(md, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
		 h + 20);
}

static redisReply *evalsha(struct tx_redis *r, const char *sha, int nkeys,
			   int nargs, const char *const *kv, const size_t *lens)
{
	const char *argv[3 + MAX_SCRIPT_ARGS];
	size_t alen[3 + MAX_SCRIPT_ARGS];
	char nk[8];
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = sha;
	argv[2] = nk;
	for (int i = 0; i < 3; i++)
		alen[i] = strlen(argv[i]);
	for (int i = 0; i < nkeys + nargs; i++) {
		argv[3 + i] = kv[i];
		alen[3 + i] = lens && lens[i] ? lens[i] : strlen(kv[i]);
	}
	return tx_redis_cmd(r, 3 + nkeys + nargs, argv, alen);
}

redisReply *expiration_eval(struct tx_redis *r, const char *src, int nkeys,
			    int nargs, const char *const *kv, const size_t *lens)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char sha[2 * SHA_DIGEST_LENGTH + 1];
	if (nkeys + nargs > MAX_SCRIPT_ARGS)
		return NULL;
	SHA1((const unsigned char *)src, strlen(src), md);
	hex(md, sizeof(md), sha);
	redisReply *rep = evalsha(r, sha, nkeys, nargs, kv, lens);
	if (!tx_redis_is_error(rep, "NOSCRIPT"))
		return rep;
	freeReplyObject(rep);
	const char *load[] = { "SCRIPT", "LOAD", src };
	rep = tx_redis_cmd(r, 3, load, NULL);
	if (!rep || rep->type == REDIS_REPLY_ERROR)
		return rep;
	freeReplyObject(rep);
	return evalsha(r, sha, nkeys, nargs, kv, lens);
}

const unsigned char *expiration_id_namespace(void)
{
	return id_namespace;
}

int expiration_schedule(struct tx_redis *r, const struct tx_config *cfg,
			const char *event_id, const char *order_id,
			int64_t due_ms, char *err, size_t errlen)
{
	struct expiration_keys k;
	char due[24], ttl[24];
	long ttl_s = cfg->stream_retention_s > SEEN_MIN_TTL_S ? cfg->stream_retention_s
							      : SEEN_MIN_TTL_S;
	if (expiration_keys(r, &k) < 0) {
		snprintf(err, errlen, "REDIS_PREFIX too long");
		return -TX_E_UNAVAILABLE;
	}
	snprintf(due, sizeof(due), "%lld", (long long)due_ms);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s * 1000);
	const char *kv[] = { k.seen, k.due, event_id, order_id, due, ttl };
	redisReply *rep = expiration_eval(r, expiration_schedule_lua, 2, 4, kv, NULL);
	if (!rep || rep->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "schedule: %s",
			 rep && rep->str ? rep->str : tx_redis_error(r));
		if (rep)
			freeReplyObject(rep);
		return -TX_E_UNAVAILABLE;
	}
	int rc = rep->integer == 1;
	freeReplyObject(rep);
	return rc;
}
