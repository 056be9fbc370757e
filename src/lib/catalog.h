/* SPDX-License-Identifier: MIT */
/* catalog: catalog zones (RFC 9432): a version read into its members, diffs, and generation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "dname.h"
#include "zone.h"

/* The longest unique-N label we keep (RFC 9432 leaves it free; a label is at most 63). */
#define CATALOG_ID_MAX 63
/* The longest group name kept: one TXT character-string. */
#define CATALOG_GROUP_MAX 255
/* Members read at most when the caller gives no limit. */
#define CATALOG_DEFAULT_MAX 1000000

/* One member zone of a catalog version. */
typedef struct catalog_member {
	uint8_t name[DNAME_MAXLEN]; /* the member zone, lower-cased wire form */
	uint8_t name_len;
	uint8_t id_len;
	char id[CATALOG_ID_MAX + 1]; /* the unique-N label, lower-cased: id_len bytes, any of
	                              * them may be NUL (escape it to print), then a NUL */
	/* Properties, or NULL: borrowed from the catalog's arena. */
	const char *group;  /* group.<id>: the TXT's first string, NUL-terminated */
	const uint8_t *coo; /* coo.<id>: the catalog the member may move to (wire, lower) */
	uint32_t ngroups;   /* TXT records in the group RRset (RFC 9432 allows several) */
} catalog_member_t;

/* A catalog version read by catalog_read: members sorted by name, each name once. */
typedef struct catalog {
	catalog_member_t *members;
	size_t nmembers;
	/* Members left out because their name is listed again under a lower unique ID, and the
	 * first of them, for the caller's log line. */
	size_t nduplicates;
	catalog_member_t duplicate;
	arena_t arena;
} catalog_t;

/* An empty catalog (for diffing against nothing). */
void catalog_init(catalog_t *c);

/* Frees what c holds; c is then empty again. */
void catalog_deinit(catalog_t *c);

/*
 * Reads catalog zone version z (RFC 9432). On success returns 0 with *out (initialised here)
 * owning the member list. A broken catalog, which a consumer must not process at all, fails
 * with US_EZONE and a reason in err: version.$CATZ is not one TXT "2", a member's PTR RRset
 * or a coo PTR RRset holds more than one record, or a member's unique-N label is longer
 * than CATALOG_ID_MAX. More than max_members members (0: CATALOG_DEFAULT_MAX) fail with
 * US_ELIMIT; US_ENOMEM. Records the RFC does not define are ignored, as section 3 says; a
 * member naming the catalog itself is left out, and a member name listed under several unique
 * IDs is kept once, under the lowest ID (shortest, then bytewise; counted in nduplicates).
 */
int catalog_read(const zone_t *z, size_t max_members, catalog_t *out, char *err, size_t errlen);

/* The member named by lower-cased wire name, or NULL. */
const catalog_member_t *catalog_find(const catalog_t *c, const uint8_t *name, size_t len);

typedef enum {
	CATALOG_ADDED,   /* in the new version only */
	CATALOG_REMOVED, /* in the old version only (old->coo says where it may have gone) */
	CATALOG_RESET,   /* in both under a new unique ID: RFC 9432 5.6, a fresh zone */
	CATALOG_CHANGED, /* same ID, its group or coo changed */
} catalog_change_kind_t;

typedef struct catalog_change {
	catalog_change_kind_t kind;
	const catalog_member_t *old, *new; /* borrowed from the two catalogs; NULL when absent */
} catalog_change_t;

/*
 * The changes taking catalog a to catalog b, in member name order. On success returns 0 with
 * *out (free() it; NULL when there are none) and *nout; US_ENOMEM. Borrows from a and b,
 * which must outlive the changes.
 */
int catalog_diff(const catalog_t *a, const catalog_t *b, catalog_change_t **out, size_t *nout);

/* ---- producing a catalog ---- */

/*
 * A member's unique-N label as this server makes it: 16 hex digits of a fixed-key SipHash of
 * the lower-cased wire name, so the ID is stable across restarts and among producers of the
 * same member (a new ID would make every consumer drop the zone and transfer it afresh,
 * RFC 9432 5.6). Writes 17 bytes, NUL included, to id.
 */
void catalog_member_id(const uint8_t *name, size_t len, char id[17]);

/*
 * A member to produce: name in wire form (any case), group NULL for none, and its unique-N
 * label (id_len bytes, at most CATALOG_ID_MAX), or id NULL for catalog_member_id's.
 */
typedef struct catalog_entry {
	const uint8_t *name;
	size_t name_len;
	const char *group;
	const char *id;
	size_t id_len;
} catalog_entry_t;

/*
 * Builds the catalog zone named apex with serial: the SOA and NS "invalid." RFC 9432 4
 * suggests, version TXT "2", and one PTR (plus group TXT) per entry, under its id or
 * catalog_member_id. Returns 0 with *out owning the zone; US_EEXIST when two entries give the
 * same name or ID (with err naming them), US_EINVAL for a group over CATALOG_GROUP_MAX bytes
 * or a name too long to fit below the catalog, US_ENOMEM.
 */
int catalog_build(const uint8_t *apex, size_t apex_len, uint32_t serial,
                  const catalog_entry_t *entries, size_t n, zone_t **out, char *err, size_t errlen);
