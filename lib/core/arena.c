/* arena.c: bump allocator with cleanup callbacks; see arena.h. */
#include "arena.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define ALIGN 16

struct block {
	struct block *next;
	size_t size, used;
	_Alignas(ALIGN) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	void (*fn)(void *);
	void *p;
};

struct tx_arena {
	struct block *head;  /* current block; the first block is last in the list */
	struct block *first;
	struct cleanup *cleanups;
	size_t used;
	size_t first_size;
};

static struct block *block_new(size_t size)
{
	struct block *b = tx_xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct tx_arena *tx_arena_new(size_t first_block)
{
	struct tx_arena *a = tx_xcalloc(1, sizeof(*a));
	a->first_size = first_block < 1024 ? 1024 : first_block;
	a->first = a->head = block_new(a->first_size);
	return a;
}

static void run_cleanups(struct tx_arena *a)
{
	while (a->cleanups) {
		struct cleanup *c = a->cleanups;
		a->cleanups = c->next;
		c->fn(c->p);
	}
}

void tx_arena_reset(struct tx_arena *a)
{
	run_cleanups(a);
	struct block *b = a->head;
	while (b != a->first) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	a->head = a->first;
	a->first->used = 0;
	a->used = 0;
}

void tx_arena_free(struct tx_arena *a)
{
	if (!a)
		return;
	tx_arena_reset(a);
	free(a->first);
	free(a);
}

void *tx_arena_alloc(struct tx_arena *a, size_t n)
{
	size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need < n)
		tx_oom(n);
	struct block *b = a->head;
	if (b->size - b->used < need) {
		size_t size = b->size * 2;
		if (size < need)
			size = need;
		struct block *nb = block_new(size);
		nb->next = a->head;
		a->head = b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	a->used += need;
	return p;
}

void *tx_arena_zalloc(struct tx_arena *a, size_t n)
{
	void *p = tx_arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *tx_arena_strndup(struct tx_arena *a, const char *s, size_t n)
{
	char *p = tx_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *tx_arena_strdup(struct tx_arena *a, const char *s)
{
	return tx_arena_strndup(a, s, strlen(s));
}

char *tx_arena_vprintf(struct tx_arena *a, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return tx_arena_strdup(a, "");
	char *p = tx_arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *tx_arena_printf(struct tx_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = tx_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

char *tx_arena_join(struct tx_arena *a, ...)
{
	va_list ap;
	size_t n = 0;
	va_start(ap, a);
	for (const char *s; (s = va_arg(ap, const char *));)
		n += strlen(s);
	va_end(ap);
	char *out = tx_arena_alloc(a, n + 1), *p = out;
	va_start(ap, a);
	for (const char *s; (s = va_arg(ap, const char *));) {
		size_t len = strlen(s);
		memcpy(p, s, len);
		p += len;
	}
	va_end(ap);
	*p = '\0';
	return out;
}

void tx_arena_defer(struct tx_arena *a, void (*fn)(void *), void *p)
{
	struct cleanup *c = tx_arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
}

size_t tx_arena_used(const struct tx_arena *a)
{
	return a->used;
}
