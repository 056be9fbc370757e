/* SPDX-License-Identifier: MIT */
/* dnssec: a signed zone version's NSEC and NSEC3 chains in order, for denial proofs, and checks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone.h"

#define DNSSEC_HASH_MAX 20 /* SHA-1, the one NSEC3 hash algorithm (RFC 5155 11) */

typedef struct dnssec_index dnssec_index_t;

/*
 * What an existing name of an NSEC3 zone needs in proofs, worked out once per version so that
 * a query hashes at most its next-closer name. For a name with its own NSEC3, match is it and
 * encloser too; for a name without (an opt-out delegation or the empty non-terminals above
 * one), match is NULL, encloser is the NSEC3 of its closest provable encloser and next_cover
 * covers the next closer name from there (RFC 5155 7.2.1). wild_cover covers (or matches) the
 * wildcard below the (provable) encloser.
 */
typedef struct dnssec_n3 {
	const zone_node_t *node;
	const zone_node_t *match;
	const zone_node_t *encloser;
	const zone_node_t *next_cover;
	const zone_node_t *wild_cover;
} dnssec_n3_t;

/*
 * Builds the index of z, whose nodes and flags are final, and checks its DNSSEC data: malformed
 * RRSIG, NSEC, NSEC3 or NSEC3PARAM rdata and a broken NSEC3 chain are errors (the zone must not
 * be served: proofs from it would fail validation); NSEC chain gaps and unsigned apex RRsets are
 * warnings. Each problem goes to report (file NULL). On success sets z->dnssec (NULL for an
 * unsigned zone) and returns 0; returns US_EZONE after reporting an error, or US_ENOMEM.
 */
int dnssec_index_build(zone_t *z, zone_report_fn report, void *ctx);

/* Frees an index; NULL is a no-op. */
void dnssec_index_free(dnssec_index_t *x);

/* The zone has an NSEC chain / an NSEC3 chain (with the NSEC3PARAM's parameters). */
bool dnssec_has_nsec(const dnssec_index_t *x);
bool dnssec_has_nsec3(const dnssec_index_t *x);

/*
 * The node whose NSEC covers or matches lname (lower-cased, at or below the apex): the last
 * NSEC owner not after it in canonical order (RFC 4034 6.1). Never NULL in an NSEC zone.
 */
const zone_node_t *dnssec_nsec_cover(const dnssec_index_t *x, const uint8_t *lname);

/* True when n is only an NSEC3 owner (hashed name), which is not a name of the zone. */
bool dnssec_nsec3_owner_only(const dnssec_index_t *x, const zone_node_t *n);

/* The precomputed NSEC3 facts of an existing name n, or NULL (occluded names, NSEC3 owners). */
const dnssec_n3_t *dnssec_nsec3_of(const dnssec_index_t *x, const zone_node_t *n);

/*
 * The NSEC3 node covering (or matching) the hash of lname, hashed now with the zone's salt and
 * iterations. Allocation-free; the one per-query hash of NSEC3 proofs (the next closer name).
 */
const zone_node_t *dnssec_nsec3_cover(const dnssec_index_t *x, const uint8_t *lname, size_t len);

/* The RFC 5155 5 hash of a lower-cased wire name with SHA-1; allocation-free. */
void dnssec_nsec3_hash(const uint8_t *salt, size_t salt_len, uint16_t iterations,
                       const uint8_t *lname, size_t len, uint8_t out[DNSSEC_HASH_MAX]);

/*
 * Reports (as warnings, since a backup must still serve what its primary signed) signatures of
 * z that have expired or are not yet valid at now (Unix seconds), one line per kind with a
 * count and the first example. Returns how many signatures are outside their validity.
 */
unsigned long dnssec_check_times(const zone_t *z, uint32_t now, zone_report_fn report, void *ctx);
