/* SPDX-License-Identifier: MIT */
/* zonemd: RFC 8976 message digests over a zone version, computed and verified. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone.h"

#define ZONEMD_TYPE       63
#define ZONEMD_DIGEST_MAX 64 /* SHA-512 */

enum { ZONEMD_SCHEME_SIMPLE = 1 };
enum { ZONEMD_HASH_SHA384 = 1, ZONEMD_HASH_SHA512 = 2 };

/* The digest length of hash algorithm alg (RFC 8976 5.3), or 0 for one we do not know. */
size_t zonemd_digest_len(uint8_t alg);

/*
 * Computes the digest of z with scheme (SIMPLE only, RFC 8976 3.3) and hash algorithm alg into
 * out (ZONEMD_DIGEST_MAX bytes), its length in *len: every record of the zone, occluded data
 * and glue included, names in canonical order (RFC 4034 6.1), each name's RRsets by type, the
 * records of an RRset in canonical form (lower-cased owner and embedded names, RFC 4034 6.2
 * as RFC 6840 5.1 corrects it) sorted by rdata, duplicates once; the apex ZONEMD RRset and
 * the apex RRSIGs that cover it are left out (3.3.1). An RRSIG counts with its covered
 * RRset's TTL (zone_rr_ttl), what a signer writes and transfers out send. Allocates scratch
 * memory (freed before it returns). Returns 0, US_EINVAL for an unknown scheme or algorithm,
 * or US_ENOMEM.
 */
int zonemd_compute(const zone_t *z, uint8_t scheme, uint8_t alg, uint8_t *out, size_t *len);

typedef enum zonemd_status {
	ZONEMD_ABSENT,      /* no ZONEMD at the apex: nothing to verify */
	ZONEMD_VERIFIED,    /* one of its ZONEMD records matches the digest computed */
	ZONEMD_UNSUPPORTED, /* only schemes or hash algorithms we do not know: unverifiable */
	ZONEMD_FAILED,      /* a digest or serial mismatch, a malformed or duplicate record */
} zonemd_status_t;

/*
 * Verifies the apex ZONEMD RRset of z (RFC 8976 4): records with a scheme or hash algorithm
 * we do not know are passed over; two records with the same scheme and algorithm, a record
 * too short to hold its fields, or a digest of the wrong length fail it; a known record must
 * carry the SOA serial and its digest must match. The zone verifies when one known record
 * does. DNSSEC is not checked here (step 1 of RFC 8976 4 is a validator's). Sets *status and
 * writes a one-line explanation (for the log) into why (whylen bytes, may be 0). Returns 0 or
 * US_ENOMEM.
 */
int zonemd_verify(const zone_t *z, zonemd_status_t *status, char *why, size_t whylen);

/* Lower-cases, in place, the domain names embedded in rdata of type (RFC 4034 6.2 with RFC
 * 6840 5.1: not NSEC's). Names that do not parse are left as they are. */
void zonemd_canonical_rdata(uint16_t type, uint8_t *rdata, size_t len);
