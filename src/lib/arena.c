/* SPDX-License-Identifier: MIT */
/* arena: bump allocation in large chunks. */
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_CHUNK (1u << 20)

struct arena_chunk {
	arena_chunk_t *next;
	size_t size;
	_Alignas(16) unsigned char data[];
};

void arena_init(arena_t *a)
{
	a->head = NULL;
	a->used = 0;
	a->total = 0;
}

void arena_deinit(arena_t *a)
{
	arena_chunk_t *c = a->head;
	while (c) {
		arena_chunk_t *next = c->next;
		free(c);
		c = next;
	}
	arena_init(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (a->head && a->used + n <= a->head->size) {
		void *p = a->head->data + a->used;
		a->used += n;
		return p;
	}
	/* A large object gets a chunk of its own behind the current one, which stays open. */
	size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK - sizeof(arena_chunk_t);
	arena_chunk_t *c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->size = size;
	a->total += size;
	if (size == n && a->head) {
		c->next = a->head->next;
		a->head->next = c;
		return c->data;
	}
	c->next = a->head;
	a->head = c;
	a->used = n;
	return c->data;
}

void *arena_dup(arena_t *a, const void *src, size_t n)
{
	void *p = arena_alloc(a, n);
	if (p && n)
		memcpy(p, src, n);
	return p;
}
