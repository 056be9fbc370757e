/* SPDX-License-Identifier: MIT */
/* arena: bump allocation in large chunks, freed all at once with the object that owns it. */
#pragma once

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;

typedef struct arena {
	arena_chunk_t *head;
	size_t used;  /* bytes used in head */
	size_t total; /* bytes held in all chunks, for memory accounting */
} arena_t;

void arena_init(arena_t *a);
void arena_deinit(arena_t *a);

/* Returns n bytes aligned to 8, or NULL when out of memory. */
void *arena_alloc(arena_t *a, size_t n);

/* Copies n bytes into the arena; NULL when out of memory. */
void *arena_dup(arena_t *a, const void *src, size_t n);
