/* SPDX-License-Identifier: MIT */
/* zone: one immutable version of a zone's contents, its lookups, and the builder that checks it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnssec.h"
#include "error.h"
#include "wire.h"
#include "zone.h"

void zone_free(zone_t *z)
{
	if (!z)
		return;
	free(z->nodes);
	free(z->table);
	dnssec_index_free(z->dnssec);
	arena_deinit(&z->arena);
	free(z);
}

void zone_ref(zone_t *z)
{
	__atomic_add_fetch(&z->refs, 1, __ATOMIC_RELAXED);
}

void zone_unref(zone_t *z)
{
	/* Release so this thread's reads happen before the free; acquire so the free happens
	 * after every other thread's. */
	if (z && __atomic_sub_fetch(&z->refs, 1, __ATOMIC_ACQ_REL) == 0)
		zone_free(z);
}

const zone_node_t *zone_find(const zone_t *z, const uint8_t *lname, size_t len)
{
	if (len < z->apex_len)
		return NULL;
	uint32_t h = dname_hash(lname, len);
	size_t rel = len - z->apex_len; /* every node lies at or below the apex */
	for (uint32_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const zone_slot_t *slot = &z->table[i];
		if (slot->node == 0)
			return NULL;
		if (slot->hash != h)
			continue;
		const zone_node_t *n = &z->nodes[slot->node - 1];
		if (n->name_len != len)
			continue;
		if (rel <= ZONE_NODE_HEAD ? memcmp(n->head, lname, rel) == 0 &&
		                                memcmp(lname + rel, z->apex, z->apex_len) == 0
		                          : memcmp(n->name, lname, len) == 0)
			return n;
	}
}

const zone_node_t *zone_next_node(const zone_t *z, uint32_t *pos)
{
	return *pos < z->nnodes ? &z->nodes[(*pos)++] : NULL;
}

const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

void zone_lookup(const zone_t *z, const uint8_t *lname, size_t len, const uint8_t *offs,
                 int nlabels, zone_lookup_t *out)
{
	const zone_node_t *n = zone_find(z, lname, len);
	out->node = n;
	out->cut = NULL;
	for (int i = 1; !n && i <= nlabels - z->apex_labels; i++)
		n = zone_find(z, lname + offs[i], len - offs[i]);
	out->encloser = n;
	if (!n || !(n->flags & (ZONE_NODE_OCCLUDED | ZONE_NODE_DELEG | ZONE_NODE_DNAME)))
		return;
	/* A DNAME redirects only names strictly below its owner; a cut applies at itself too. */
	if ((n->flags & ZONE_NODE_DELEG) || ((n->flags & ZONE_NODE_DNAME) && n != out->node))
		out->cut = n;
	while (n->flags & ZONE_NODE_OCCLUDED) {
		n = zone_node_parent(z, n);
		if (n->flags & (ZONE_NODE_DELEG | ZONE_NODE_DNAME))
			out->cut = n;
	}
}

/* ---- builder ---- */

typedef struct brec {
	size_t rdoff;
	uint32_t node;
	uint32_t ttl;
	uint32_t line;
	uint16_t type;
	uint16_t rdlen;
	uint16_t file;
} brec_t;

struct zone_builder {
	zone_t *z;
	uint32_t node_cap;
	brec_t *recs;
	size_t nrecs, rec_cap;
	uint8_t *rd;
	size_t rd_len, rd_cap;
	const char **files;
	uint16_t nfiles;
	zone_report_fn report;
	void *ctx;
	unsigned errors;
	zone_rrset_t *all;    /* every RRset, in node order */
	const brec_t **first; /* the first record of each RRset in all */
};

static void report(zone_builder_t *b, const brec_t *r, bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(zone_builder_t *b, const brec_t *r, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		b->errors++;
	if (b->report)
		b->report(b->ctx, r && b->nfiles ? b->files[r->file] : NULL, r ? r->line : 0, error,
		          msg);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *np = realloc(*p, ncap * size);
	if (!np)
		return US_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static void table_put(zone_slot_t *t, uint32_t mask, uint32_t hash, uint32_t node)
{
	uint32_t i = hash & mask;
	while (t[i].node)
		i = (i + 1) & mask;
	t[i] = (zone_slot_t){hash, node};
}

static int table_resize(zone_t *z, uint32_t size)
{
	zone_slot_t *t = calloc(size, sizeof(*t));
	if (!t)
		return US_ENOMEM;
	for (uint32_t i = 0; z->table && i <= z->mask; i++)
		if (z->table[i].node)
			table_put(t, size - 1, z->table[i].hash, z->table[i].node);
	free(z->table);
	z->table = t;
	z->mask = size - 1;
	return 0;
}

/* Finds or creates the node for a lower-cased name at or below the apex, and its ancestors. */
static int node_get(zone_builder_t *b, const uint8_t *lname, size_t len, uint32_t *idx)
{
	zone_t *z = b->z;
	if (z->nnodes) {
		const zone_node_t *n = zone_find(z, lname, len);
		if (n) {
			*idx = (uint32_t)(n - z->nodes);
			return 0;
		}
	}
	uint32_t parent = 0;
	if (z->nnodes) {
		int ret = node_get(b, lname + lname[0] + 1, len - lname[0] - 1, &parent);
		if (ret)
			return ret;
	}
	size_t cap = b->node_cap;
	if (grow((void **)&z->nodes, &cap, z->nnodes + 1, sizeof(zone_node_t)))
		return US_ENOMEM;
	b->node_cap = (uint32_t)cap;
	if ((z->nnodes + 1) * 2 > z->mask + 1 && table_resize(z, (z->mask + 1) * 2))
		return US_ENOMEM;
	uint8_t *name = arena_dup(&z->arena, lname, len);
	if (!name)
		return US_ENOMEM;
	uint32_t i = z->nnodes++;
	z->nodes[i] = (zone_node_t){.name = name, .parent = parent, .name_len = (uint8_t)len};
	size_t rel = len - z->apex_len;
	memcpy(z->nodes[i].head, name, rel < ZONE_NODE_HEAD ? rel : ZONE_NODE_HEAD);
	table_put(z->table, z->mask, dname_hash(name, len), i + 1);
	*idx = i;
	return 0;
}

zone_builder_t *zone_builder_new(const uint8_t *apex, zone_report_fn report_fn, void *ctx)
{
	zone_builder_t *b = calloc(1, sizeof(*b));
	zone_t *z = calloc(1, sizeof(*z));
	if (!b || !z)
		goto fail;
	b->z = z;
	b->report = report_fn;
	b->ctx = ctx;
	z->refs = 1;
	arena_init(&z->arena);
	z->apex_len = (uint8_t)dname_len(apex);
	dname_lower(z->apex, apex, z->apex_len);
	z->apex_labels = (uint8_t)dname_labels(z->apex);
	if (table_resize(z, 64))
		goto fail;
	uint32_t idx;
	if (node_get(b, z->apex, z->apex_len, &idx))
		goto fail;
	return b;
fail:
	if (b)
		b->z = NULL;
	zone_builder_free(b);
	zone_free(z);
	return NULL;
}

void zone_builder_free(zone_builder_t *b)
{
	if (!b)
		return;
	zone_free(b->z);
	free(b->recs);
	free(b->rd);
	free(b->files);
	free(b->first);
	free(b);
}

/*
 * Checks the layout of rdata for the types whose fields the server reads or compresses:
 * fixed bytes before, names, fixed bytes after, and nothing else.
 */
static bool rdata_valid(uint16_t type, const uint8_t *rd, size_t len)
{
	wire_rdata_layout_t l;
	if (type == WIRE_T_A)
		return len == 4;
	if (type == WIRE_T_AAAA)
		return len == 16;
	if (!wire_rdata_layout(type, &l))
		return true;
	size_t p = l.pre;
	for (size_t i = 0; i < l.strings; i++) {
		if (p >= len || p + 1 + rd[p] > len)
			return false;
		p += 1 + (size_t)rd[p];
	}
	for (size_t i = 0; i < l.names; i++) {
		if (p >= len)
			return false;
		int n = dname_check(rd + p, len - p);
		if (n < 0)
			return false;
		p += (size_t)n;
	}
	return p + l.post == len;
}

int zone_builder_add(zone_builder_t *b, const uint8_t *owner, uint16_t type, uint16_t rclass,
                     uint32_t ttl, const uint8_t *rdata, uint16_t rdlen, const char *file,
                     unsigned long line)
{
	zone_t *z = b->z;
	if (!b->nfiles || strcmp(b->files[b->nfiles - 1], file) != 0) {
		size_t cap = b->nfiles;
		if (b->nfiles == UINT16_MAX ||
		    grow((void **)&b->files, &cap, b->nfiles + 1u, sizeof(char *)))
			return US_ENOMEM;
		b->files[b->nfiles++] = file;
	}
	brec_t r = {.type = type,
	            .ttl = ttl,
	            .rdlen = rdlen,
	            .line = (uint32_t)line,
	            .file = (uint16_t)(b->nfiles - 1)};

	uint8_t lname[DNAME_MAXLEN];
	int olen = dname_check(owner, DNAME_MAXLEN);
	if (olen < 0) {
		report(b, &r, true, "malformed owner name");
		return 0;
	}
	dname_lower(lname, owner, (size_t)olen);
	if (!dname_is_sub(lname, z->apex)) {
		char t[DNAME_TEXT_MAX];
		dname_to_text(lname, t, sizeof(t));
		report(b, &r, true, "record %s is outside the zone", t);
		return 0;
	}
	if (rclass != WIRE_CLASS_IN) {
		report(b, &r, true, "class %u is not IN", rclass);
		return 0;
	}
	if (!rdata_valid(type, rdata, rdlen)) {
		report(b, &r, true, "malformed rdata for type %u", type);
		return 0;
	}
	if (type == WIRE_T_OPT || type == WIRE_T_TSIG || (type >= 128 && type <= 255)) {
		report(b, &r, true, "type %u cannot appear in a zone", type);
		return 0;
	}
	/* Zone files group records by owner, so the last node is usually the one. */
	const zone_node_t *last = b->nrecs ? &z->nodes[b->recs[b->nrecs - 1].node] : NULL;
	if (last && last->name_len == olen && memcmp(last->name, lname, (size_t)olen) == 0) {
		r.node = b->recs[b->nrecs - 1].node;
	} else {
		int ret = node_get(b, lname, (size_t)olen, &r.node);
		if (ret)
			return ret;
	}
	if (grow((void **)&b->rd, &b->rd_cap, b->rd_len + rdlen, 1) ||
	    grow((void **)&b->recs, &b->rec_cap, b->nrecs + 1, sizeof(brec_t)))
		return US_ENOMEM;
	if (rdlen) /* empty rdata is legal (RFC 3597 \# 0), and b->rd may still be NULL */
		memcpy(b->rd + b->rd_len, rdata, rdlen);
	r.rdoff = b->rd_len;
	b->rd_len += rdlen;
	b->recs[b->nrecs++] = r;
	return 0;
}

static int rec_cmp(const void *a, const void *b, void *arg)
{
	const brec_t *x = a, *y = b;
	const uint8_t *rd = arg;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	size_t n = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	int c = n ? memcmp(rd + x->rdoff, rd + y->rdoff, n) : 0;
	if (c)
		return c;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static const char *name_text(const uint8_t *name, char *buf)
{
	dname_to_text(name, buf, DNAME_TEXT_MAX);
	return buf;
}

/* The first record of each RRset, kept while checking so problems can name a line. */
static const brec_t *rrset_line(const zone_builder_t *b, const zone_rrset_t *rs)
{
	return b->first[rs - b->all];
}

/* True if a DNAME sits at any ancestor of n, which then may not exist (RFC 6672 2.4). */
static bool below_dname(const zone_t *z, const zone_node_t *n)
{
	while (n != z->nodes && (n->flags & ZONE_NODE_OCCLUDED)) {
		n = zone_node_parent(z, n);
		if (n->flags & ZONE_NODE_DNAME)
			return true;
	}
	return false;
}

static void check_ns_targets(zone_builder_t *b, const zone_node_t *n, const zone_rrset_t *ns)
{
	zone_t *z = b->z;
	char t[DNAME_TEXT_MAX], o[DNAME_TEXT_MAX];
	for (uint32_t off = 0;;) {
		const uint8_t *target = ns->rdata + off + 2;
		uint8_t lt[DNAME_MAXLEN];
		size_t tl = dname_len(target);
		dname_lower(lt, target, tl);
		if (dname_is_sub(lt, z->apex)) {
			const zone_node_t *tn = zone_find(z, lt, tl);
			/* Like BIND, an apex NS nobody can reach fails the zone; a delegation
			 * without glue only makes poorer referrals, and knotd, nsd and named all
			 * serve it. */
			if (!tn ||
			    (!zone_node_rrset(tn, WIRE_T_A) && !zone_node_rrset(tn, WIRE_T_AAAA)))
				report(b, rrset_line(b, ns), n == z->nodes,
				       "NS %s at %s has no address records (A or AAAA)",
				       name_text(lt, t), name_text(n->name, o));
		}
		off = zone_rr_next(ns, off);
		if (!off)
			break;
	}
}

static void check_node(zone_builder_t *b, const zone_node_t *n)
{
	zone_t *z = b->z;
	char t[DNAME_TEXT_MAX];
	bool apex = n == z->nodes;
	const zone_rrset_t *cname = zone_node_rrset(n, WIRE_T_CNAME);
	const zone_rrset_t *dname = zone_node_rrset(n, WIRE_T_DNAME);
	bool other = false;

	if (below_dname(z, n)) {
		report(b, rrset_line(b, n->rrsets), true, "%s is below a DNAME",
		       name_text(n->name, t));
		return;
	}
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		const zone_rrset_t *rs = &n->rrsets[i];
		const brec_t *r = rrset_line(b, rs);
		if (rs->type == WIRE_T_SOA && !apex)
			report(b, r, true, "SOA record at %s, outside the apex",
			       name_text(n->name, t));
		if (cname && rs != cname && rs->type != WIRE_T_RRSIG && rs->type != WIRE_T_NSEC)
			other = true;
		if ((n->flags & ZONE_NODE_OCCLUDED) && rs->type != WIRE_T_A &&
		    rs->type != WIRE_T_AAAA)
			report(b, r, false, "%s is below a zone cut and will not be served",
			       name_text(n->name, t));
	}
	if (other)
		report(b, rrset_line(b, cname), true, "CNAME and other data at %s",
		       name_text(n->name, t));
	if (cname && cname->count > 1)
		report(b, rrset_line(b, cname), true, "more than one CNAME at %s",
		       name_text(n->name, t));
	if (dname && dname->count > 1)
		report(b, rrset_line(b, dname), true, "more than one DNAME at %s",
		       name_text(n->name, t));
	const zone_rrset_t *ns = zone_node_rrset(n, WIRE_T_NS);
	if (ns && !(n->flags & ZONE_NODE_OCCLUDED))
		check_ns_targets(b, n, ns);
}

int zone_builder_finish(zone_builder_t *b, zone_t **out)
{
	zone_t *z = b->z;
	int ret = US_ENOMEM;

	if (b->nrecs)
		qsort_r(b->recs, b->nrecs, sizeof(brec_t), rec_cmp, b->rd);

	/* Count RRsets and drop exact duplicates (RFC 2181 5). */
	size_t nrrsets = 0, nkept = 0;
	for (size_t i = 0; i < b->nrecs; i++) {
		brec_t *r = &b->recs[i];
		if (nkept) {
			brec_t *p = &b->recs[nkept - 1];
			if (p->node == r->node && p->type == r->type && p->rdlen == r->rdlen &&
			    (!r->rdlen ||
			     memcmp(b->rd + p->rdoff, b->rd + r->rdoff, r->rdlen) == 0))
				continue;
			if (p->node == r->node && p->type == r->type)
				goto keep;
		}
		nrrsets++;
	keep:
		b->recs[nkept++] = *r;
	}
	b->nrecs = nkept;
	z->nrecords = nkept;

	zone_rrset_t *all = arena_alloc(&z->arena, (nrrsets ? nrrsets : 1) * sizeof(zone_rrset_t));
	b->all = all;
	b->first = malloc((nrrsets ? nrrsets : 1) * sizeof(*b->first));
	if (!all || !b->first)
		goto cleanup;
	size_t k = 0;
	for (size_t i = 0; i < b->nrecs;) {
		size_t j = i, bytes = 0;
		const brec_t *r = &b->recs[i];
		while (j < b->nrecs && b->recs[j].node == r->node && b->recs[j].type == r->type) {
			bytes += 2 + b->recs[j].rdlen;
			j++;
		}
		uint8_t *rd = arena_alloc(&z->arena, bytes);
		if (!rd)
			goto cleanup;
		zone_rrset_t *rs = &all[k];
		*rs = (zone_rrset_t){.type = r->type,
		                     .count = 0,
		                     .ttl = r->ttl,
		                     .rdata_len = (uint32_t)bytes,
		                     .rdata = rd};
		b->first[k] = r;
		for (size_t m = i; m < j; m++) {
			const brec_t *x = &b->recs[m];
			if (x->ttl != rs->ttl)
				report(b, x, false,
				       "TTL %u differs from the RRset's TTL %u; using %u", x->ttl,
				       rs->ttl, rs->ttl);
			if (rs->count == UINT16_MAX) {
				report(b, x, true, "RRset has too many records");
				break;
			}
			wire_write16(rd, x->rdlen);
			if (x->rdlen)
				memcpy(rd + 2, b->rd + x->rdoff, x->rdlen);
			rd += 2 + x->rdlen;
			rs->count++;
		}
		zone_node_t *n = &z->nodes[r->node];
		if (!n->rrsets)
			n->rrsets = rs;
		n->nrrsets++;
		k++;
		i = j;
	}
	/* Parents precede their children in the array, so flags flow down in one pass. */
	for (uint32_t i = 0; i < z->nnodes; i++) {
		zone_node_t *n = &z->nodes[i];
		if (i && zone_node_rrset(n, WIRE_T_NS))
			n->flags |= ZONE_NODE_DELEG;
		if (zone_node_rrset(n, WIRE_T_DNAME))
			n->flags |= ZONE_NODE_DNAME;
		if (i) {
			zone_node_t *p = &z->nodes[n->parent];
			if ((p->flags & ZONE_NODE_OCCLUDED) ||
			    (p->flags & (ZONE_NODE_DELEG | ZONE_NODE_DNAME)))
				n->flags |= ZONE_NODE_OCCLUDED;
			if (n->name[0] == 1 && n->name[1] == '*')
				p->flags |= ZONE_NODE_WILDCHILD;
		}
	}

	const zone_node_t *apex = &z->nodes[0];
	z->soa = zone_node_rrset(apex, WIRE_T_SOA);
	if (!z->soa)
		report(b, NULL, true, "no SOA record at the zone apex");
	else if (z->soa->count != 1)
		report(b, rrset_line(b, z->soa), true, "more than one SOA record at the apex");
	if (!zone_node_rrset(apex, WIRE_T_NS))
		report(b, NULL, true, "no NS records at the zone apex");
	for (uint32_t i = 0; i < z->nnodes; i++)
		if (z->nodes[i].nrrsets)
			check_node(b, &z->nodes[i]);

	if (b->errors) {
		ret = US_EZONE;
		goto cleanup;
	}
	if (z->soa) {
		const uint8_t *rd = z->soa->rdata + 2;
		size_t p = dname_len(rd);
		p += dname_len(rd + p);
		z->serial = wire_read32(rd + p);
		uint32_t minimum = wire_read32(rd + p + 16);
		z->neg_ttl = minimum < z->soa->ttl ? minimum : z->soa->ttl;
	}
	zone_node_t *shrunk = realloc(z->nodes, z->nnodes * sizeof(zone_node_t));
	if (shrunk)
		z->nodes = shrunk;
	/* Last, once node pointers are final: the index points at nodes. */
	ret = dnssec_index_build(z, b->report, b->ctx);
	if (ret)
		goto cleanup;
	*out = z;
	b->z = NULL;
	ret = 0;
cleanup:
	return ret;
}

/* ---- walking and changesets ---- */

static int foreach_rrset(const zone_node_t *n, const zone_rrset_t *rs, zone_rr_fn fn, void *ctx)
{
	for (uint32_t off = 0;;) {
		int ret = fn(ctx, n->name, rs->type, rs->ttl, rs->rdata + off + 2,
		             wire_read16(rs->rdata + off));
		if (ret)
			return ret;
		off = zone_rr_next(rs, off);
		if (!off)
			return 0;
	}
}

int zone_foreach_rr(const zone_t *z, zone_rr_fn fn, void *ctx)
{
	int ret = 0;
	if (z->soa)
		ret = foreach_rrset(&z->nodes[0], z->soa, fn, ctx);
	uint32_t pos = 0;
	for (const zone_node_t *n; ret == 0 && (n = zone_next_node(z, &pos));) {
		for (uint16_t j = 0; ret == 0 && j < n->nrrsets; j++)
			if (&n->rrsets[j] != z->soa)
				ret = foreach_rrset(n, &n->rrsets[j], fn, ctx);
	}
	return ret;
}

/*
 * zone_apply keeps the records of the version being built in a hash set: every record of the
 * old zone, then each diff's deletions and additions in order. Records are identified by owner
 * (any case), type and rdata bytes; the TTL is not part of a record's identity (RFC 2181 5.2).
 */
typedef struct aset_ent {
	const uint8_t *owner;
	const uint8_t *rdata;
	uint32_t hash;
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
	bool present;
} aset_ent_t;

typedef struct aset {
	aset_ent_t *ents;
	size_t nents, cap;
	uint32_t *table; /* entry index + 1, 0 for empty */
	size_t mask;
} aset_t;

static uint32_t rr_hash(const uint8_t *owner, uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t lname[DNAME_MAXLEN];
	size_t len = dname_len(owner);
	dname_lower(lname, owner, len);
	uint32_t h = dname_hash(lname, len) ^ type;
	for (uint16_t i = 0; i < rdlen; i++)
		h = (h ^ rdata[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* The entry equal to the given record, or NULL; *slot is where it is or would go. */
static aset_ent_t *aset_find(aset_t *s, const uint8_t *owner, uint16_t type, const uint8_t *rdata,
                             uint16_t rdlen, uint32_t hash, size_t *slot)
{
	size_t i = hash & s->mask;
	for (; s->table[i]; i = (i + 1) & s->mask) {
		aset_ent_t *e = &s->ents[s->table[i] - 1];
		if (e->hash == hash && e->type == type && e->rdlen == rdlen &&
		    memcmp(e->rdata, rdata, rdlen) == 0 && dname_equal(e->owner, owner))
			return e;
	}
	*slot = i;
	return NULL;
}

/* Adds a record known to be absent from the set; the capacity was reserved up front. */
static void aset_insert(aset_t *s, size_t slot, const uint8_t *owner, uint16_t type, uint32_t ttl,
                        const uint8_t *rdata, uint16_t rdlen, uint32_t hash)
{
	s->ents[s->nents] = (aset_ent_t){owner, rdata, hash, ttl, type, rdlen, true};
	s->table[slot] = (uint32_t)++s->nents;
}

static int aset_add_old(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                        const uint8_t *rdata, uint16_t rdlen)
{
	aset_t *s = ctx;
	if (type == WIRE_T_SOA)
		return 0;
	uint32_t h = rr_hash(owner, type, rdata, rdlen);
	size_t slot;
	/* A built zone holds no duplicates, so every record is new here. */
	if (!aset_find(s, owner, type, rdata, rdlen, h, &slot))
		aset_insert(s, slot, owner, type, ttl, rdata, rdlen, h);
	return 0;
}

typedef struct apply_report {
	char *err;
	size_t errlen;
	bool have;
} apply_report_t;

static void apply_report(void *ctx, const char *file, unsigned long line, bool error,
                         const char *msg)
{
	apply_report_t *r = ctx;
	(void)file;
	(void)line;
	if (!error || r->have)
		return;
	r->have = true;
	us_errf(r->err, r->errlen, "the changed zone fails a check: %s", msg);
}

/* Checks that the diffs chain from the old serial to cs->to; counts the additions. */
static int apply_check_chain(const zone_t *old, const zone_changeset_t *cs, size_t *nadded,
                             char *err, size_t errlen)
{
	uint32_t serial = old->serial;
	*nadded = 0;
	if (!cs->first) {
		us_errf(err, errlen, "the changeset is empty");
		return US_EINVAL;
	}
	for (const zone_diff_t *d = cs->first; d; d = d->next) {
		if (!d->soa_from || !d->soa_to || d->from != serial) {
			us_errf(err, errlen, "a change from serial %u does not apply to serial %u",
			        d->from, serial);
			return US_EINVAL;
		}
		serial = d->to;
		*nadded += d->nadded;
	}
	if (serial != cs->to) {
		us_errf(err, errlen, "the changes end at serial %u, not at %u", serial, cs->to);
		return US_EINVAL;
	}
	return 0;
}

static int apply_diff(aset_t *s, const zone_diff_t *d, char *err, size_t errlen)
{
	char t[DNAME_TEXT_MAX];
	size_t slot;
	for (const zone_rr_t *r = d->removed; r; r = r->next) {
		uint32_t h = rr_hash(r->owner, r->type, r->rdata, r->rdlen);
		aset_ent_t *e = aset_find(s, r->owner, r->type, r->rdata, r->rdlen, h, &slot);
		if (!e || !e->present) {
			us_errf(err, errlen,
			        "change %u -> %u deletes a type %u record at %s that the zone "
			        "does not hold",
			        d->from, d->to, r->type, name_text(r->owner, t));
			return US_ENOENT;
		}
		e->present = false;
	}
	for (const zone_rr_t *r = d->added; r; r = r->next) {
		uint32_t h = rr_hash(r->owner, r->type, r->rdata, r->rdlen);
		aset_ent_t *e = aset_find(s, r->owner, r->type, r->rdata, r->rdlen, h, &slot);
		if (e && e->present) {
			us_errf(err, errlen,
			        "change %u -> %u adds a type %u record at %s that the zone holds "
			        "already",
			        d->from, d->to, r->type, name_text(r->owner, t));
			return US_EEXIST;
		}
		if (e) {
			/* Deleted earlier and back now, perhaps with another TTL. */
			e->present = true;
			e->ttl = r->ttl;
		} else {
			aset_insert(s, slot, r->owner, r->type, r->ttl, r->rdata, r->rdlen, h);
		}
	}
	return 0;
}

/*
 * This first version rebuilds the whole zone through the builder, so it costs time in
 * proportion to the zone's size, not the change's; structural sharing between versions (see
 * DESIGN.md) will make it proportional to the change. Rebuilding also re-runs every zone check
 * on the result, which an incremental version will have to do locally.
 */
int zone_apply(const zone_t *old, const zone_changeset_t *cs, zone_t **out, char *err,
               size_t errlen)
{
	aset_t s = {0};
	zone_builder_t *b = NULL;
	apply_report_t rep = {err, errlen, false};
	size_t nadded;
	int ret = apply_check_chain(old, cs, &nadded, err, errlen);
	if (ret)
		return ret;

	ret = US_ENOMEM;
	s.cap = old->nrecords + nadded;
	size_t tsize = 64;
	while (tsize < 2 * s.cap)
		tsize *= 2;
	s.mask = tsize - 1;
	s.ents = malloc((s.cap ? s.cap : 1) * sizeof(*s.ents));
	s.table = calloc(tsize, sizeof(*s.table));
	if (!s.ents || !s.table)
		goto nomem;
	zone_foreach_rr(old, aset_add_old, &s);
	for (const zone_diff_t *d = cs->first; d; d = d->next) {
		ret = apply_diff(&s, d, err, errlen);
		if (ret)
			goto cleanup;
	}

	/* The last diff's new SOA is the zone's SOA; apex SOAs never sit in the lists. */
	const zone_rr_t *soa = NULL;
	for (const zone_diff_t *d = cs->first; d; d = d->next)
		soa = d->soa_to;
	ret = US_ENOMEM;
	b = zone_builder_new(old->apex, apply_report, &rep);
	if (!b)
		goto nomem;
	ret = zone_builder_add(b, soa->owner, WIRE_T_SOA, WIRE_CLASS_IN, soa->ttl, soa->rdata,
	                       soa->rdlen, "changeset", 0);
	for (size_t i = 0; ret == 0 && i < s.nents; i++) {
		const aset_ent_t *e = &s.ents[i];
		if (e->present)
			ret = zone_builder_add(b, e->owner, e->type, WIRE_CLASS_IN, e->ttl,
			                       e->rdata, e->rdlen, "changeset", 0);
	}
	zone_t *z = NULL;
	if (ret == 0)
		ret = zone_builder_finish(b, &z);
	if (ret == 0 && z->serial != cs->to) {
		us_errf(err, errlen, "the new SOA has serial %u, not %u", z->serial, cs->to);
		zone_free(z);
		ret = US_EINVAL;
	} else if (ret == 0) {
		*out = z;
	}
	if (ret == US_ENOMEM)
		goto nomem;
	goto cleanup;
nomem:
	us_errf(err, errlen, "out of memory");
cleanup:
	zone_builder_free(b);
	free(s.ents);
	free(s.table);
	return ret;
}

/* zone_foreach_rr callback: 0 when the record is in the zone ctx with the same TTL. */
static int held_by(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rdata, uint16_t rdlen)
{
	const zone_t *other = ctx;
	const zone_node_t *n = zone_find(other, owner, dname_len(owner));
	const zone_rrset_t *rs = n ? zone_node_rrset(n, type) : NULL;
	if (!rs || rs->ttl != ttl)
		return 1;
	for (uint32_t off = 0;;) {
		const uint8_t *rr = rs->rdata + off;
		if (wire_read16(rr) == rdlen && (!rdlen || memcmp(rr + 2, rdata, rdlen) == 0))
			return 0;
		off = zone_rr_next(rs, off);
		if (!off)
			return 1;
	}
}

bool zone_same(const zone_t *a, const zone_t *b)
{
	/* Both hold each record once, so equal counts and a within b make equal sets. */
	return a->nrecords == b->nrecords && zone_foreach_rr(a, held_by, (void *)b) == 0;
}
