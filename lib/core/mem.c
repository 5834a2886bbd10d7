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
