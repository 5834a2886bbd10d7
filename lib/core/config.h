/* config.h: the process configuration, read once from the environment.
 *
 * Variables and defaults are those of DESIGN.md. tx_config_load fails (with
 * a message in err) when JWT_KEY is missing or shorter than 32 bytes, or
 * when a number is malformed or out of range; programs refuse to start
 * then. The struct is immutable after start-up and shared by all threads.
 */
#ifndef TX_CONFIG_H
#define TX_CONFIG_H

#include <stddef.h>

struct tx_config {
	char jwt_key[512];
	size_t jwt_key_len;
	char database_url[1024]; /* <SERVICE>_DATABASE_URL, else DATABASE_URL */
	const char *redis_url; /* REDIS_URL, or a redis-sentinel:// URL built
				* from REDIS_SENTINELS (sentinel.h) */
	const char *redis_prefix;
	const char *template_dir;
	const char *payment_provider; /* "" when PAYMENT_PROVIDER is unset */
	const char *stripe_key;
	const char *stripe_api_base;
	const char *stripe_publishable_key;
	long expiration_window_s;
	long expiration_grace_s; /* sweeper: cancel orders overdue by more */
	long ack_wait_ms;
	long max_deliveries;
	long session_ttl_s;
	long max_body_bytes;
	long outbox_retention_s; /* relay: keep published outbox rows */
	long stream_retention_s; /* consumers: trim acked stream entries */
	long stripe_timeout_ms;  /* payments: total time of one provider call */
	long settle_after_ms;    /* settler: replay attempts left open longer */
	long list_cache_max_age_ms; /* tickets: list cache safety net; 0: off */
	long list_cache_max_bytes;  /* tickets: the most the cached pages hold */
	unsigned long long pw_opslimit; /* PASSWORD_COST=min|owasp */
	size_t pw_memlimit;
	long redis_wait_replicas;   /* relay: WAIT for this many replicas */
	long redis_wait_timeout_ms; /* relay: how long WAIT may take */
	char redis_sentinel_url[1536];
};

/* service: upper-case prefix for the per-service database URL ("AUTH"),
 * or NULL. */
int tx_config_load(struct tx_config *c, const char *service, char *err,
		   size_t errlen);

/* Flags for tx_config_load_flags. */
#define TX_CONFIG_NO_JWT_KEY 1u /* the worker signs nothing: JWT_KEY unused */
int tx_config_load_flags(struct tx_config *c, const char *service,
			 unsigned flags, char *err, size_t errlen);

/* The database URL for a schema's own role: <SCHEMA>_DATABASE_URL, else
 * c->database_url. 0, or -1 if it does not fit in out. */
int tx_config_schema_db_url(const struct tx_config *c, const char *schema,
			    char *out, size_t outlen);

/* Parse a decimal long in [min, max]; 0 or -1. */
int tx_parse_long(const char *s, long min, long max, long *out);

#endif
