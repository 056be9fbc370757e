/* SPDX-License-Identifier: MIT */
/* guard: what a new version of a zone takes away from the one served, for the change guard. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "zone.h"

typedef struct guard_change {
	uint64_t records;     /* records of the old version */
	uint64_t removed;     /* of those, how many the new one no longer holds (TTL aside) */
	bool ns_replaced;     /* not one of the old apex NS records is left */
	bool dnskey_replaced; /* the old apex held DNSKEYs, and the new one holds none of them */
} guard_change_t;

/*
 * Compares version nz with old, the one served. cs, when not NULL, is the change that took old
 * to nz (an IXFR as applied): only its removals are looked up, at a cost in proportion to the
 * change; without it the versions are compared whole (zonediff_compute). A record whose TTL
 * alone changed is not removed; rdata compare byte for byte, apex NS targets ignoring case.
 * Scratch memory comes from arena. Returns 0 with *out filled, US_EINVAL when cs does not
 * chain or the apexes differ, or US_ENOMEM.
 */
int guard_judge(const zone_t *old, const zone_t *nz, const zone_changeset_t *cs, arena_t *arena,
                guard_change_t *out);

/*
 * True when the change is one to hold: it removes more than max_removed_pct percent of the old
 * records (0: no limit), or, with apex set, it replaces the apex NS or DNSKEY set whole. why
 * (whylen bytes, may be 0) then says which, for the log and zone-status.
 */
bool guard_holds(const guard_change_t *c, int max_removed_pct, bool apex, char *why, size_t whylen);
