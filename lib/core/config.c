/* config.c: environment variables -> struct tx_config. */
#include "config.h"
#include "jwt.h"
#include "sentinel.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tx_parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

struct num_var {
	const char *name;
	long dflt, min, max;
	size_t offset;
};

static const struct num_var num_vars[] = {
	{ "EXPIRATION_WINDOW_SECONDS", 900, 1, 86400 * 30,
	  offsetof(struct tx_config, expiration_window_s) },
	{ "EXPIRATION_GRACE_SECONDS", 30, 0, 86400,
	  offsetof(struct tx_config, expiration_grace_s) },
	{ "ACK_WAIT_MS", 5000, 10, 3600 * 1000,
	  offsetof(struct tx_config, ack_wait_ms) },
	{ "MAX_DELIVERIES", 10, 1, 1000, offsetof(struct tx_config, max_deliveries) },
	{ "SESSION_TTL_SECONDS", 604800, 60, 86400 * 365,
	  offsetof(struct tx_config, session_ttl_s) },
	{ "MAX_BODY_BYTES", 102400, 1024, 16 << 20,
	  offsetof(struct tx_config, max_body_bytes) },
	{ "OUTBOX_RETENTION_SECONDS", 604800, 0, 86400L * 3650,
	  offsetof(struct tx_config, outbox_retention_s) },
	{ "STREAM_RETENTION_SECONDS", 86400, 0, 86400L * 3650,
	  offsetof(struct tx_config, stream_retention_s) },
	{ "STRIPE_TIMEOUT_MS", 10000, 100, 60000,
	  offsetof(struct tx_config, stripe_timeout_ms) },
	{ "PAYMENT_SETTLE_AFTER_MS", 30000, 0, 86400L * 1000,
	  offsetof(struct tx_config, settle_after_ms) },
	{ "LIST_CACHE_MAX_AGE_MS", 5000, 0, 3600 * 1000,
	  offsetof(struct tx_config, list_cache_max_age_ms) },
	{ "LIST_CACHE_MAX_BYTES", 1 << 20, 0, 64 << 20,
	  offsetof(struct tx_config, list_cache_max_bytes) },
	{ "REDIS_WAIT_REPLICAS", 0, 0, 16,
	  offsetof(struct tx_config, redis_wait_replicas) },
	{ "REDIS_WAIT_TIMEOUT_MS", 1000, 10, 4000,
	  offsetof(struct tx_config, redis_wait_timeout_ms) },
};

static int load_numbers(struct tx_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(num_vars) / sizeof(num_vars[0]); i++) {
		const struct num_var *v = &num_vars[i];
		long *dst = (long *)((char *)c + v->offset);
		const char *s = getenv(v->name);
		*dst = v->dflt;
		if (s && *s && tx_parse_long(s, v->min, v->max, dst) < 0) {
			snprintf(err, errlen, "%s must be an integer in [%ld, %ld]",
				 v->name, v->min, v->max);
			return -1;
		}
	}
	return 0;
}

static int load_key(struct tx_config *c, char *err, size_t errlen)
{
	const char *key = getenv("JWT_KEY");
	if (!key || !*key) {
		snprintf(err, errlen, "JWT_KEY must be defined");
		return -1;
	}
	size_t n = strlen(key);
	if (n < TX_JWT_MIN_KEY || n >= sizeof(c->jwt_key)) {
		snprintf(err, errlen, "JWT_KEY must be %d to %zu bytes long",
			 TX_JWT_MIN_KEY, sizeof(c->jwt_key) - 1);
		return -1;
	}
	memcpy(c->jwt_key, key, n + 1);
	c->jwt_key_len = n;
	return 0;
}

static int load_database_url(struct tx_config *c, const char *service,
			     char *err, size_t errlen)
{
	const char *url = NULL;
	if (service) {
		char name[64];
		snprintf(name, sizeof(name), "%s_DATABASE_URL", service);
		url = getenv(name);
	}
	if (!url || !*url)
		url = env_or("DATABASE_URL", "dbname=ticketing");
	if (strlen(url) >= sizeof(c->database_url)) {
		snprintf(err, errlen, "database URL too long");
		return -1;
	}
	snprintf(c->database_url, sizeof(c->database_url), "%s", url);
	return 0;
}

/* REDIS_SENTINELS set: redis_url becomes the sentinel URL of those
 * sentinels and REDIS_MASTER_NAME, with REDIS_URL's credentials and
 * database (its host is not used then). */
static int load_sentinels(struct tx_config *c, char *err, size_t errlen)
{
	const char *list = getenv("REDIS_SENTINELS");
	if (!list || !*list)
		return 0;
	struct tx_sentinels probe;
	char plain[1024];
	if (tx_sentinel_url(getenv("REDIS_URL"), list, env_or("REDIS_MASTER_NAME", "mymaster"),
			    c->redis_sentinel_url, sizeof(c->redis_sentinel_url)) < 0 ||
	    tx_sentinel_parse_url(c->redis_sentinel_url, &probe, plain, sizeof(plain), err,
				  errlen) < 0) {
		snprintf(err, errlen, "REDIS_SENTINELS must be host[:port],... (at most %d), "
			 "REDIS_MASTER_NAME a name of [A-Za-z0-9._-], REDIS_URL redis://...",
			 TX_SENTINEL_MAX);
		return -1;
	}
	c->redis_url = c->redis_sentinel_url;
	return 0;
}

static int load_password_cost(struct tx_config *c, char *err, size_t errlen)
{
	const char *cost = env_or("PASSWORD_COST", "owasp");
	if (strcmp(cost, "min") == 0) {
		c->pw_opslimit = crypto_pwhash_OPSLIMIT_MIN;
		c->pw_memlimit = crypto_pwhash_MEMLIMIT_MIN;
	} else if (strcmp(cost, "owasp") == 0) {
		c->pw_opslimit = 2; /* OWASP: argon2id m=19 MiB, t=2, p=1 */
		c->pw_memlimit = 19u << 20;
	} else {
		snprintf(err, errlen, "PASSWORD_COST must be min or owasp");
		return -1;
	}
	return 0;
}

int tx_config_load(struct tx_config *c, const char *service, char *err,
		   size_t errlen)
{
	return tx_config_load_flags(c, service, 0, err, errlen);
}

int tx_config_schema_db_url(const struct tx_config *c, const char *schema,
			    char *out, size_t outlen)
{
	char name[64];
	size_t i = 0;
	for (; schema[i] && i + sizeof("_DATABASE_URL") < sizeof(name); i++)
		name[i] = (char)toupper((unsigned char)schema[i]);
	snprintf(name + i, sizeof(name) - i, "_DATABASE_URL");
	const char *url = env_or(name, c->database_url);
	int n = snprintf(out, outlen, "%s", url);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int tx_config_load_flags(struct tx_config *c, const char *service,
			 unsigned flags, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379/0");
	c->redis_prefix = env_or("REDIS_PREFIX", "");
	c->template_dir = env_or("TEMPLATE_DIR", "templates");
	/* No default: the test provider accepts test tokens, so a host that
	 * forgot the variable would sell for free (payments_provider_init). */
	c->payment_provider = env_or("PAYMENT_PROVIDER", "");
	c->stripe_key = env_or("STRIPE_KEY", "");
	c->stripe_api_base = env_or("STRIPE_API_BASE", "https://api.stripe.com");
	c->stripe_publishable_key = env_or("STRIPE_PUBLISHABLE_KEY", "");
	if (((flags & TX_CONFIG_NO_JWT_KEY) == 0 && load_key(c, err, errlen) < 0) ||
	    load_numbers(c, err, errlen) < 0 ||
	    load_database_url(c, service, err, errlen) < 0 ||
	    load_sentinels(c, err, errlen) < 0 ||
	    load_password_cost(c, err, errlen) < 0)
		return -1;
	return 0;
}
