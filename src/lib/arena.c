/* SPDX-License-Identifier: MIT */
/* arena: bump allocation in chunks that grow with the arena. */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

#define ARENA_FIRST 512u
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

/* A new chunk of size bytes: the head when head is set, else behind the head, which stays. */
static arena_chunk_t *chunk_new(arena_t *a, size_t size, int head)
{
	arena_chunk_t *c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->size = size;
	a->total += size;
	if (!head && a->head) {
		c->next = a->head->next;
		a->head->next = c;
		return c;
	}
	c->next = a->head;
	a->head = c;
	a->used = 0;
	return c;
}

void *arena_alloc(arena_t *a, size_t n)
{
	n = arena_round(n);
	if (a->head && a->used + n <= a->head->size) {
		void *p = a->head->data + a->used;
		a->used += n;
		return p;
	}
	/* A large object gets a chunk of its own behind the current one, which stays open. */
	if (n > ARENA_CHUNK / 4) {
		arena_chunk_t *c = chunk_new(a, n, !a->head);
		if (c && a->head == c)
			a->used = n;
		return c ? c->data : NULL;
	}
	/* Each chunk as large as the ones before it: the room left unused stays in proportion. */
	size_t size = a->total < ARENA_FIRST ? ARENA_FIRST : a->total;
	if (size > ARENA_CHUNK - sizeof(arena_chunk_t))
		size = ARENA_CHUNK - sizeof(arena_chunk_t);
	if (size < n)
		size = n;
	arena_chunk_t *c = chunk_new(a, size, 1);
	if (!c)
		return NULL;
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

int arena_reserve(arena_t *a, size_t n)
{
	if (a->head && a->used + n <= a->head->size)
		return 0;
	return n && !chunk_new(a, n, 1) ? US_ENOMEM : 0;
}
