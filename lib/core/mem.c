/* mem.c: allocation wrappers that abort with a log line on out of memory. */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void tx_oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *tx_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		tx_oom(n);
	return p;
}

void *tx_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		tx_oom(n * size);
	return p;
}

void *tx_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		tx_oom(n);
	return q;
}

char *tx_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = tx_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

/* Not an allocation, but memory all the same. libpq links libldap and
 * libcurl links librtmp, which link GnuTLS, whose library constructor
 * initialises GnuTLS eagerly (PKCS#11 modules, its own tables) in every
 * process that merely loads it: 0.9 MB of RSS, 0.2 MB of it private, per
 * program here, for a library we never call. Defining this function is
 * GnuTLS's documented opt-out (the macro GNUTLS_SKIP_GLOBAL_INIT in
 * <gnutls/gnutls.h>); libldap calls gnutls_global_init() itself before it
 * would use TLS. Each program exports the symbol (the Makefile's
 * --export-dynamic-symbol, whether or not the linker sees GnuTLS among
 * the libraries' own dependencies) so that GnuTLS's weak default is
 * overridden; mem.o is in every program. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
	return 1;
}
