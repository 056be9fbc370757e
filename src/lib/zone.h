/* SPDX-License-Identifier: MIT */
/* zone: one immutable version of a zone's contents, its lookups, and the builder that checks it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "dname.h"

/* One RRset. rdata holds count records, each a 16-bit length then the bytes. */
typedef struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	uint32_t rdata_len;
	const uint8_t *rdata;
} zone_rrset_t;

enum {
	ZONE_NODE_DELEG = 1 << 0,     /* NS below the apex: a zone cut */
	ZONE_NODE_DNAME = 1 << 1,     /* has a DNAME: its descendants are redirected */
	ZONE_NODE_OCCLUDED = 1 << 2,  /* below a zone cut or a DNAME: glue or hidden data */
	ZONE_NODE_WILDCHILD = 1 << 3, /* "*" child exists */
	ZONE_NODE_GONE = 1 << 4,      /* in an overlay: the name no longer exists */
	ZONE_NODE_PRIVATE = 1 << 5,   /* only while zone_apply builds: not shared yet */
};

/* A name in the zone, with data or an empty non-terminal. Every ancestor up to the apex exists. */
#define ZONE_NODE_HEAD 16

typedef struct zone_node {
	const uint8_t *name; /* lower-cased wire form */
	/* The name's first bytes (the part above the apex, when that is short), kept here so a
	 * lookup compares names without touching another cache line. */
	uint8_t head[ZONE_NODE_HEAD];
	zone_rrset_t *rrsets;
	uint32_t children; /* nodes directly below */
	uint16_t nrrsets;
	uint8_t name_len;
	uint8_t flags;
} zone_node_t;

/* A hash table slot: the name's hash beside the node index spares probing the nodes. */
typedef struct zone_slot {
	uint32_t hash;
	uint32_t node; /* node index + 1, 0 for empty */
} zone_slot_t;

/* An overlay slot: a node that replaces, removes or adds to the base's nodes. */
typedef struct zone_ovslot {
	uint32_t hash;
	uint32_t base; /* index of the replaced node in the base's nodes, or ZONE_NOT_IN_BASE */
	const zone_node_t *node; /* NULL for an empty slot */
} zone_ovslot_t;

#define ZONE_NOT_IN_BASE UINT32_MAX

/*
 * A version is either a base, with its own node array and table, or derived from one by
 * zone_apply: it shares the base's array and table and keeps the nodes that differ in a small
 * overlay table consulted first. The overlay's nodes and data live in the base's `shared`
 * arena, appended to by one zone_apply at a time, so a change costs in proportion to its size
 * rather than the zone's; when the overlay grows large, zone_apply builds a new base.
 */
typedef struct zone {
	uint8_t apex[DNAME_MAXLEN];
	uint8_t apex_len;
	uint8_t apex_labels;
	uint32_t serial;
	uint32_t neg_ttl; /* RFC 2308 5: min(SOA TTL, SOA MINIMUM) */
	const zone_rrset_t *soa;
	zone_node_t *nodes; /* the base's; nodes[0] is the apex unless the overlay replaces it */
	uint32_t nnodes;
	zone_slot_t *table; /* open addressing, linear probing */
	uint32_t mask;
	zone_ovslot_t *ov; /* NULL in a base */
	uint32_t ov_mask, ov_used;
	uint64_t *hidden;  /* bit per base node that the overlay replaces or removes */
	struct zone *base; /* NULL in a base; a reference otherwise */
	size_t nrecords;
	/* References: 1 for being published (or held by whoever built it), plus one per long
	 * reader (a transfer out) that pinned this version. Changed with atomics only. */
	uint32_t refs;
	arena_t arena;
	arena_t shared; /* in a base: the nodes and data of the versions derived from it */
	struct dnssec_index *dnssec; /* NSEC/NSEC3 chains of a signed zone, or NULL (dnssec.h) */
} zone_t;

/* What a name resolves to inside a zone. */
typedef struct zone_lookup {
	const zone_node_t *node;     /* exact match, or NULL */
	const zone_node_t *encloser; /* closest encloser: the node itself when it exists */
	const zone_node_t *cut;      /* topmost delegation at/above, or DNAME above; or NULL */
} zone_lookup_t;

/*
 * A version starts with one reference, its owner's. zone_ref adds one for a reader that keeps
 * the version beyond an RCU read section (it must take it inside one, or hold another
 * reference); zone_unref drops one and frees the zone when it was the last. A version derived
 * by zone_apply holds one on its base, so the owner of a base drops it with zone_unref like
 * any other: it lives on while derived versions use its nodes. Safe from any thread.
 * zone_unref(NULL) is a no-op.
 */
void zone_ref(zone_t *z);
void zone_unref(zone_t *z);

/* The node named by a lower-cased wire name, or NULL. */
const zone_node_t *zone_find(const zone_t *z, const uint8_t *lname, size_t len);

/*
 * Walks a version's nodes (names with data, and empty non-terminals), in no particular order:
 * start with *pos = 0; returns the next node, or NULL after the last.
 */
const zone_node_t *zone_next_node(const zone_t *z, uint32_t *pos);

/* The node's RRset of type, or NULL. */
const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type);

/*
 * Looks up a lower-cased name that lies at or below the apex; offs and nlabels come from
 * dname_label_offsets on it.
 */
void zone_lookup(const zone_t *z, const uint8_t *lname, size_t len, const uint8_t *offs,
                 int nlabels, zone_lookup_t *out);

/* Walks an RRset's records: returns the offset of the next record or 0 at the end. */
static inline uint32_t zone_rr_next(const zone_rrset_t *rs, uint32_t off)
{
	uint32_t next = off + 2 + (uint32_t)(rs->rdata[off] << 8 | rs->rdata[off + 1]);
	return next < rs->rdata_len ? next : 0;
}

/*
 * The TTL of the record at rdata (as in an RRset's rdata: length first) of RRset rs at node n.
 * A zone keeps one TTL per RRset, but the signatures at a name cover RRsets of different TTLs,
 * and each has its covered RRset's (RFC 4034 3, RFC 4035 2.2), which is what signers write.
 */
static inline uint32_t zone_rr_ttl(const zone_node_t *n, const zone_rrset_t *rs,
                                   const uint8_t *rdata)
{
	if (rs->type != 46 /* RRSIG */ || (rdata[0] << 8 | rdata[1]) < 2)
		return rs->ttl;
	const zone_rrset_t *covered = zone_node_rrset(n, (uint16_t)(rdata[2] << 8 | rdata[3]));
	return covered && covered != rs ? covered->ttl : rs->ttl;
}

/*
 * The builder collects records in any order, then checks and freezes them into a zone.
 * Problems go to report, with the source file and line given to zone_builder_add.
 */
typedef void (*zone_report_fn)(void *ctx, const char *file, unsigned long line, bool error,
                               const char *msg);

typedef struct zone_builder zone_builder_t;

/* apex: wire name (any case). NULL when out of memory. */
zone_builder_t *zone_builder_new(const uint8_t *apex, zone_report_fn report, void *ctx);
void zone_builder_free(zone_builder_t *b);

/*
 * Adds one record. file must stay valid until the builder is freed. A record outside the zone,
 * of a class other than IN, or malformed is reported and makes the build fail; US_ENOMEM stops.
 */
int zone_builder_add(zone_builder_t *b, const uint8_t *owner, uint16_t type, uint16_t rclass,
                     uint32_t ttl, const uint8_t *rdata, uint16_t rdlen, const char *file,
                     unsigned long line);

/*
 * Checks everything added and, when no error was reported, returns 0 with *out owning the new
 * zone. Returns US_EZONE after reporting each problem, or US_ENOMEM. The builder is spent
 * either way: free it next.
 */
int zone_builder_finish(zone_builder_t *b, zone_t **out);

/*
 * Called for one record: owner is the lower-cased wire name, rdata as stored (names
 * uncompressed). Everything is borrowed from the zone. A non-zero return stops the walk.
 */
typedef int (*zone_rr_fn)(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                          const uint8_t *rdata, uint16_t rdlen);

/* True if a and b hold the same records with the same TTLs, whatever their order. */
bool zone_same(const zone_t *a, const zone_t *b);

/*
 * Visits every record of z, the apex SOA first, then node by node in zone_next_node's order,
 * each RRset's records together. Returns 0 after the last
 * record, or the first non-zero value fn returned.
 */
int zone_foreach_rr(const zone_t *z, zone_rr_fn fn, void *ctx);

/* ---- changesets ---- */

/* A record of a changeset (class IN), in a singly linked list kept in the order received. */
typedef struct zone_rr {
	const struct zone_rr *next;
	const uint8_t *owner; /* uncompressed wire form, case as received */
	const uint8_t *rdata; /* names uncompressed */
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
} zone_rr_t;

/* One step of a changeset: RFC 1995's old SOA, deletions, new SOA, additions. */
typedef struct zone_diff {
	const struct zone_diff *next;
	const zone_rr_t *soa_from, *soa_to; /* single records, not lists */
	const zone_rr_t *removed, *added;   /* lists, without the SOAs */
	uint32_t from, to;                  /* the SOA serials */
	uint32_t nremoved, nadded;
} zone_diff_t;

/*
 * An ordered list of diffs taking a zone from serial `from` to serial `to`. Whoever builds one
 * owns its memory (the transfer decoder keeps it in its arena); zone_apply only borrows it.
 */
typedef struct zone_changeset {
	const zone_diff_t *first;
	uint32_t ndiffs;
	uint32_t from, to;
} zone_changeset_t;

/*
 * For zone_apply: an addition of a record the zone holds already, with the RRset's TTL (nsd 4.6
 * sends them in its IXFRs), changes nothing and is let pass. On success, redundant counts those
 * additions and kept is the changeset as it took effect (what a journal stores, and IXFR out
 * sends on): without those additions, each removal at the TTL the record had, and where an
 * RRset's TTL changed, all its records removed and added back at the new TTL (RFC 1995's way),
 * so that kept diffs condense record by record. It borrows from the changeset given, with new
 * cells from mem where it differs.
 */
typedef struct zone_apply_lenient {
	arena_t *mem;
	zone_changeset_t kept;
	uint32_t redundant;
} zone_apply_lenient_t;

/*
 * Builds a new version from old plus the changeset, leaving old untouched (readers may hold it).
 * The cost is in proportion to the change (and the RRsets it touches), except when the versions
 * derived from one base have changed many nodes, or a zone cut or DNAME appears or goes above
 * existing names: then the whole zone is rebuilt and checked. Only one zone_apply may run at a
 * time on the versions that share a base.
 * The diffs must chain: the first starts at old's serial, each starts where the previous ended,
 * the last ends at cs->to. Deleting a record the zone does not hold, or adding one it already
 * holds (same owner, type and rdata; TTL aside), fails, unless lenient (may be NULL) lets that
 * addition pass (see zone_apply_lenient_t). On success returns 0 with *out owning
 * the new zone; otherwise US_EINVAL (serials do not chain), US_ENOENT (deletes a missing record),
 * US_EEXIST (adds a present one), US_EZONE (the result fails the zone checks) or US_ENOMEM,
 * with a message in err (errlen bytes, may be 0) naming the problem. The caller then falls back
 * to a full transfer.
 */
int zone_apply(const zone_t *old, const zone_changeset_t *cs, zone_apply_lenient_t *lenient,
               zone_t **out, char *err, size_t errlen);

/* Overlay slots after which zone_apply builds a new base; 0 for the default. For the tests. */
extern uint32_t zone__overlay_limit;
