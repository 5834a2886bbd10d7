/* mem.h: allocation that never returns NULL.
 *
 * Out of memory is decided once, here: we log one line to stderr and abort,
 * like redis's zmalloc. A FastCGI process that cannot allocate has no useful
 * way to answer, and the supervisor restarts it. Every allocation in the
 * project goes through these (or through the arena, which uses them).
 */
#ifndef TX_MEM_H
#define TX_MEM_H

#include <stddef.h>

void *tx_xmalloc(size_t n);
void *tx_xcalloc(size_t n, size_t size);
void *tx_xrealloc(void *p, size_t n);
char *tx_xstrdup(const char *s);
_Noreturn void tx_oom(size_t n);

#endif
