/* script.h: inside the expiration service only: the Lua scripts of
 * clock.c and the EVALSHA helper the scheduler shares with the listener. */
#ifndef TX_EXPIRATION_SCRIPT_H
#define TX_EXPIRATION_SCRIPT_H

#include <hiredis/hiredis.h>

struct tx_redis;

extern const char expiration_schedule_lua[];
extern const char expiration_move_lua[];

/* Run src with keys and args kv[0..nkeys+nargs) (at most 8; lens NULL or
 * lens[i] 0: strlen). EVALSHA, and on NOSCRIPT: SCRIPT LOAD and EVALSHA
 * again. The reply (maybe an error reply; the caller frees it) or NULL on
 * I/O error. */
redisReply *expiration_eval(struct tx_redis *r, const char *src, int nkeys,
			    int nargs, const char *const *kv, const size_t *lens);

/* The 16 namespace bytes of expiry ids (version-5 UUIDs). */
const unsigned char *expiration_id_namespace(void);

#endif
