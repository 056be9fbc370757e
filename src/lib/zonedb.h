/* SPDX-License-Identifier: MIT */
/* zonedb: the set of zones a server is authoritative for, found by longest matching apex. */
#pragma once

#include <stdint.h>

#include "dname.h"
#include "zone.h"

typedef struct zonedb_slot {
	uint8_t apex[DNAME_MAXLEN]; /* lower-cased wire form */
	uint8_t apex_len;
	uint8_t apex_labels;
	/* The current version, or NULL while the zone has none to serve. Writers publish with a
	 * release store (rcu_assign_pointer); readers load it with zonedb_zone(). */
	zone_t *zone;
	/* A secondary's expiry, Unix seconds (0: a primary, whose SOA expire is the answer), for
	 * EDNS EXPIRE (RFC 7314). Written by the zone manager, read with relaxed loads. */
	uint32_t expire_at;
	/* Non-zero while the copy is served past its expiry (expire-policy keep-serving): every
	 * answer from the zone then carries Extended DNS Error 3, Stale Answer (RFC 8914), and
	 * EDNS EXPIRE says 0. Written by the zone manager, read with relaxed loads. */
	uint32_t stale;
	void *user; /* the server's per-zone state */
} zonedb_slot_t;

typedef struct zonedb {
	zonedb_slot_t *slots;
	uint32_t nslots;
	uint32_t cap;
	int max_labels;  /* of the deepest apex: longer suffixes need no lookup */
	uint32_t *table; /* slot index + 1, 0 for empty */
	uint32_t mask;
} zonedb_t;

/* A database for up to n zones; NULL when out of memory. */
zonedb_t *zonedb_new(uint32_t n);

/* Frees the database and drops its reference to every zone version still published in it. */
void zonedb_free(zonedb_t *db);

/* Adds a zone (wire name, any case); US_EEXIST if present, US_ELIMIT when full. */
int zonedb_add(zonedb_t *db, const uint8_t *apex, zonedb_slot_t **slot);

/*
 * The slot of the deepest zone containing the lower-cased name lname (offsets from
 * dname_label_offsets). With below_apex set, a zone whose apex is lname itself is passed over,
 * which finds the parent side of a zone cut (for DS, RFC 4035 3.1.4.1). NULL if none.
 */
zonedb_slot_t *zonedb_find(const zonedb_t *db, const uint8_t *lname, size_t len,
                           const uint8_t *offs, int nlabels, int below_apex);

static inline zone_t *zonedb_zone(const zonedb_slot_t *slot)
{
	return __atomic_load_n(&slot->zone, __ATOMIC_ACQUIRE);
}
