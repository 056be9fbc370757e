/* SPDX-License-Identifier: MIT */
/* zonediff: the changeset between two versions of a zone, and condensing a chain of diffs. */
#pragma once

#include "arena.h"
#include "zone.h"

/*
 * Computes the difference taking zone a to zone b (the same apex) as a changeset of one diff:
 * soa_from is a's SOA, soa_to b's, removed what a holds and b does not, added what b holds and
 * a does not. A record is its owner, type and rdata (RFC 2181 5.2); when an RRset's TTL
 * changed, all its records are removed and added again, which is how RFC 1995 carries a TTL.
 * Runs in time proportional to the two zones (hash lookups, no sorting).
 *
 * The list cells come from arena; owners and rdata are borrowed from a and b, which must
 * outlive the changeset. Returns 0 and fills *out (an empty diff when the zones hold the same
 * records), US_EINVAL when the apexes differ, or US_ENOMEM (the arena keeps what it had
 * handed out; free it with the arena).
 */
int zonediff_compute(const zone_t *a, const zone_t *b, arena_t *arena, zone_changeset_t *out);

/*
 * Condenses a chain of diffs (cs->first, in order, each starting where the previous ended) into
 * one diff from the first's SOA to the last's: a record added and later removed, or removed
 * and added back with the same TTL, disappears; one whose TTL changed stays as a removal of
 * the old and an addition of the new. Records are matched by owner (any case), type and rdata.
 * Time proportional to the records of the chain.
 *
 * The result's cells come from arena and the record bytes stay borrowed from cs's records.
 * Returns 0 with *out a changeset of one diff; US_EINVAL when cs is empty or does not chain;
 * US_ENOMEM.
 */
int zonediff_condense(const zone_changeset_t *cs, arena_t *arena, zone_changeset_t *out);

/* Records a diff carries, its two SOAs aside. */
static inline uint64_t zonediff_size(const zone_diff_t *d)
{
	return (uint64_t)d->nremoved + d->nadded;
}
