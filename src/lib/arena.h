/* SPDX-License-Identifier: MIT */
/* arena: bump allocation in chunks that grow with the arena, freed all at once with its owner. */
#pragma once

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;

/*
 * The first chunk is small (ARENA_FIRST bytes), and each new one is as large as all before it,
 * up to ARENA_CHUNK: an arena's unused room stays below what it holds (plus ARENA_FIRST), so a
 * small zone costs a few hundred bytes while a large one still grows in 1 MiB steps.
 */
typedef struct arena {
	arena_chunk_t *head;
	size_t used;  /* bytes used in head */
	size_t total; /* bytes held in all chunks, for memory accounting */
} arena_t;

void arena_init(arena_t *a);
void arena_deinit(arena_t *a);

/* What arena_alloc(n) takes from a chunk: n rounded up to 8. */
static inline size_t arena_round(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Returns n bytes aligned to 8, or NULL when out of memory. */
void *arena_alloc(arena_t *a, size_t n);

/* Copies n bytes into the arena; NULL when out of memory. */
void *arena_dup(arena_t *a, const void *src, size_t n);

/*
 * Makes the allocations that follow, n bytes in all (each counted with arena_round), come from
 * one chunk: the current one when it has the room, else a new chunk of exactly n bytes. For a
 * caller that knows what it will need, so a zone's data takes what it holds and no more.
 * Returns 0 or US_ENOMEM.
 */
int arena_reserve(arena_t *a, size_t n);
