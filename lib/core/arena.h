/* arena.h: one memory arena per request.
 *
 * Everything a request needs (its strings, parsed fields, the response body,
 * result sets) is allocated from the arena of the thread serving it, and all
 * of it is released at once by tx_arena_reset() after the response has been
 * written. Handlers never call free().
 *
 * Foreign objects that outlive the call that made them (PGresult,
 * json_object, ctemplate dictionaries) are released through cleanup
 * callbacks registered with tx_arena_defer(); reset runs them in reverse
 * order of registration, then frees every block but the first, so a
 * steady-state request makes no malloc calls at all. (libjwt's jwt_t never
 * leaves jwt.c, which frees it before returning.)
 *
 * Allocation never fails (see mem.h). Memory is 16-byte aligned.
 * An arena is not thread-safe: one per thread.
 */
#ifndef TX_ARENA_H
#define TX_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct tx_arena;

struct tx_arena *tx_arena_new(size_t first_block);
void tx_arena_free(struct tx_arena *a);
/* Run cleanups, drop extra blocks, keep the first one for reuse. */
void tx_arena_reset(struct tx_arena *a);

void *tx_arena_alloc(struct tx_arena *a, size_t n);
void *tx_arena_zalloc(struct tx_arena *a, size_t n);
char *tx_arena_strdup(struct tx_arena *a, const char *s);
char *tx_arena_strndup(struct tx_arena *a, const char *s, size_t n);
char *tx_arena_printf(struct tx_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *tx_arena_vprintf(struct tx_arena *a, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The concatenation of the strings up to the NULL that ends them: the
 * cheap tx_arena_printf("%s%s...") of hot paths. */
char *tx_arena_join(struct tx_arena *a, ...) __attribute__((sentinel));
/* Register fn(p) to run at the next reset or free. */
void tx_arena_defer(struct tx_arena *a, void (*fn)(void *), void *p);

/* Bytes handed out since the last reset (for tests and metrics). */
size_t tx_arena_used(const struct tx_arena *a);

#endif
