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

static void zone_destroy(zone_t *z)
{
	if (!z)
		return;
	if (z->base) {
		free(z->ov);
		free(z->hidden);
		zone_unref(z->base);
	} else {
		free(z->nodes);
		free(z->table);
		arena_deinit(&z->shared);
	}
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
		zone_destroy(z);
}

/* Compares a node's name with lname, known to lie at or below the apex, rel bytes above it. */
static inline bool node_named(const zone_t *z, const zone_node_t *n, const uint8_t *lname,
                              size_t len, size_t rel)
{
	if (n->name_len != len)
		return false;
	return rel <= ZONE_NODE_HEAD ? memcmp(n->head, lname, rel) == 0 &&
	                                   memcmp(lname + rel, z->apex, z->apex_len) == 0
	                             : memcmp(n->name, lname, len) == 0;
}

/* The overlay slot for a name, or NULL when the overlay does not mention it. */
static zone_ovslot_t *ov_slot(const zone_t *z, const uint8_t *lname, size_t len, uint32_t h)
{
	size_t rel = len - z->apex_len;
	for (uint32_t i = h & z->ov_mask;; i = (i + 1) & z->ov_mask) {
		zone_ovslot_t *slot = &z->ov[i];
		if (!slot->node)
			return NULL;
		if (slot->hash == h && node_named(z, slot->node, lname, len, rel))
			return slot;
	}
}

/* The base node for a name, or NULL; its index in *idx. */
static const zone_node_t *base_find(const zone_t *z, const uint8_t *lname, size_t len, uint32_t h,
                                    uint32_t *idx)
{
	size_t rel = len - z->apex_len;
	for (uint32_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const zone_slot_t *slot = &z->table[i];
		if (slot->node == 0)
			return NULL;
		if (slot->hash != h)
			continue;
		const zone_node_t *n = &z->nodes[slot->node - 1];
		if (node_named(z, n, lname, len, rel)) {
			*idx = slot->node - 1;
			return n;
		}
	}
}

const zone_node_t *zone_find(const zone_t *z, const uint8_t *lname, size_t len)
{
	if (len < z->apex_len)
		return NULL;
	uint32_t h = dname_hash(lname, len), idx;
	if (z->ov) {
		const zone_ovslot_t *slot = ov_slot(z, lname, len, h);
		if (slot)
			return slot->node->flags & ZONE_NODE_GONE ? NULL : slot->node;
	}
	return base_find(z, lname, len, h, &idx);
}

static bool hidden(const zone_t *z, uint32_t i)
{
	return z->hidden && (z->hidden[i / 64] >> (i % 64) & 1);
}

const zone_node_t *zone_next_node(const zone_t *z, uint32_t *pos)
{
	for (; *pos < z->nnodes; (*pos)++)
		if (!hidden(z, *pos))
			return &z->nodes[(*pos)++];
	if (!z->ov)
		return NULL;
	for (; *pos - z->nnodes <= z->ov_mask; (*pos)++) {
		const zone_node_t *n = z->ov[*pos - z->nnodes].node;
		if (n && !(n->flags & ZONE_NODE_GONE)) {
			(*pos)++;
			return n;
		}
	}
	return NULL;
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
	/* Every ancestor of a node exists, so the walk up finds each by its suffix. */
	size_t at = len - n->name_len;
	while (n->flags & ZONE_NODE_OCCLUDED) {
		at += lname[at] + 1u;
		n = zone_find(z, lname + at, len - at);
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
	uint32_t *parents; /* each node's parent index, beside z->nodes */
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
	arena_t names;        /* the nodes' names until finish copies them into the zone */
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
	size_t cap = b->node_cap, pcap = b->node_cap;
	if (grow((void **)&z->nodes, &cap, z->nnodes + 1, sizeof(zone_node_t)) ||
	    grow((void **)&b->parents, &pcap, z->nnodes + 1, sizeof(uint32_t)))
		return US_ENOMEM;
	b->node_cap = (uint32_t)cap;
	if ((z->nnodes + 1) * 2 > z->mask + 1 && table_resize(z, (z->mask + 1) * 2))
		return US_ENOMEM;
	uint8_t *name = arena_dup(&b->names, lname, len);
	if (!name)
		return US_ENOMEM;
	uint32_t i = z->nnodes++;
	z->nodes[i] = (zone_node_t){.name = name, .name_len = (uint8_t)len};
	b->parents[i] = parent;
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
	arena_init(&b->names);
	z->refs = 1;
	arena_init(&z->arena);
	arena_init(&z->shared);
	z->apex_len = (uint8_t)dname_len(apex);
	dname_lower(z->apex, apex, z->apex_len);
	z->apex_labels = (uint8_t)dname_labels(z->apex);
	/* Small: the table doubles as nodes come, and most zones have a few names. */
	if (table_resize(z, 16))
		goto fail;
	uint32_t idx;
	if (node_get(b, z->apex, z->apex_len, &idx))
		goto fail;
	return b;
fail:
	if (b)
		b->z = NULL;
	zone_builder_free(b);
	if (z) /* perhaps before its reference was set */
		zone_destroy(z);
	return NULL;
}

void zone_builder_free(zone_builder_t *b)
{
	if (!b)
		return;
	zone_unref(b->z);
	free(b->recs);
	free(b->rd);
	free(b->files);
	free(b->first);
	free(b->parents);
	arena_deinit(&b->names);
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

/* What is wrong with a record's type or rdata, as a format taking the type; NULL if nothing. */
static const char *record_problem(uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
	if (!rdata_valid(type, rdata, rdlen))
		return "malformed rdata for type %u";
	if (type == WIRE_T_OPT || type == WIRE_T_TSIG || (type >= 128 && type <= 255))
		return "type %u cannot appear in a zone";
	return NULL;
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
	const char *bad = record_problem(type, rdata, rdlen);
	if (bad) {
		report(b, &r, true, bad, type);
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

/*
 * The zone checks run on every node of a new zone and on the nodes a change touched. Their
 * problems go to the builder, with the file and line of the RRset, or, for a change, the first
 * error to err.
 */
typedef struct check {
	const zone_t *z;
	zone_builder_t *b;
	char *err;
	size_t errlen;
	unsigned errors;
} check_t;

static void check_report(check_t *c, const zone_rrset_t *rs, bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void check_report(check_t *c, const zone_rrset_t *rs, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->b) {
		report(c->b, rs ? rrset_line(c->b, rs) : NULL, error, "%s", msg);
	} else if (error && c->errors++ == 0) {
		us_errf(c->err, c->errlen, "the changed zone fails a check: %s", msg);
	}
}

/* True if a DNAME sits at any ancestor of n, which then may not exist (RFC 6672 2.4). */
static bool below_dname(const zone_t *z, const zone_node_t *n)
{
	const uint8_t *name = n->name;
	size_t len = n->name_len;
	while (len > z->apex_len && (n->flags & ZONE_NODE_OCCLUDED)) {
		len -= name[0] + 1u;
		name += name[0] + 1u;
		n = zone_find(z, name, len);
		if (n->flags & ZONE_NODE_DNAME)
			return true;
	}
	return false;
}

static bool is_apex(const zone_t *z, const zone_node_t *n)
{
	return n->name_len == z->apex_len;
}

static void check_ns_targets(check_t *c, const zone_node_t *n, const zone_rrset_t *ns)
{
	const zone_t *z = c->z;
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
				check_report(c, ns, is_apex(z, n),
				             "NS %s at %s has no address records (A or AAAA)",
				             name_text(lt, t), name_text(n->name, o));
		}
		off = zone_rr_next(ns, off);
		if (!off)
			break;
	}
}

static void check_node(check_t *c, const zone_node_t *n)
{
	const zone_t *z = c->z;
	char t[DNAME_TEXT_MAX];
	bool apex = is_apex(z, n);
	const zone_rrset_t *cname = zone_node_rrset(n, WIRE_T_CNAME);
	const zone_rrset_t *dname = zone_node_rrset(n, WIRE_T_DNAME);
	bool other = false;

	if (below_dname(z, n)) {
		check_report(c, n->rrsets, true, "%s is below a DNAME", name_text(n->name, t));
		return;
	}
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		const zone_rrset_t *rs = &n->rrsets[i];
		if (rs->type == WIRE_T_SOA && !apex)
			check_report(c, rs, true, "SOA record at %s, outside the apex",
			             name_text(n->name, t));
		if (cname && rs != cname && rs->type != WIRE_T_RRSIG && rs->type != WIRE_T_NSEC)
			other = true;
		if ((n->flags & ZONE_NODE_OCCLUDED) && rs->type != WIRE_T_A &&
		    rs->type != WIRE_T_AAAA)
			check_report(c, rs, false, "%s is below a zone cut and will not be served",
			             name_text(n->name, t));
	}
	if (other)
		check_report(c, cname, true, "CNAME and other data at %s", name_text(n->name, t));
	if (cname && cname->count > 1)
		check_report(c, cname, true, "more than one CNAME at %s", name_text(n->name, t));
	if (dname && dname->count > 1)
		check_report(c, dname, true, "more than one DNAME at %s", name_text(n->name, t));
	const zone_rrset_t *ns = zone_node_rrset(n, WIRE_T_NS);
	if (ns && !(n->flags & ZONE_NODE_OCCLUDED))
		check_ns_targets(c, n, ns);
}

/* The checks of the apex as a whole, beside check_node's. */
static void check_apex(check_t *c)
{
	const zone_t *z = c->z;
	const zone_node_t *apex = zone_find(z, z->apex, z->apex_len);
	if (!z->soa)
		check_report(c, NULL, true, "no SOA record at the zone apex");
	else if (z->soa->count != 1)
		check_report(c, z->soa, true, "more than one SOA record at the apex");
	if (!zone_node_rrset(apex, WIRE_T_NS))
		check_report(c, NULL, true, "no NS records at the zone apex");
}

/* Reads the serial and the negative TTL from the zone's SOA. */
static void read_soa(zone_t *z)
{
	const uint8_t *rd = z->soa->rdata + 2;
	size_t p = dname_len(rd);
	p += dname_len(rd + p);
	z->serial = wire_read32(rd + p);
	uint32_t minimum = wire_read32(rd + p + 16);
	z->neg_ttl = minimum < z->soa->ttl ? minimum : z->soa->ttl;
}

int zone_builder_finish(zone_builder_t *b, zone_t **out)
{
	zone_t *z = b->z;
	int ret = US_ENOMEM;

	if (b->nrecs)
		qsort_r(b->recs, b->nrecs, sizeof(brec_t), rec_cmp, b->rd);

	/* Count RRsets and drop exact duplicates (RFC 2181 5), adding up what the RRsets and
	 * their records will take in the arena. */
	size_t nrrsets = 0, nkept = 0, need = 0, set = 0;
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
		need += arena_round(set);
		set = 0;
	keep:
		set += 2u + r->rdlen;
		b->recs[nkept++] = *r;
	}
	b->nrecs = nkept;
	z->nrecords = nkept;
	need += arena_round(set) + arena_round((nrrsets ? nrrsets : 1) * sizeof(zone_rrset_t));
	for (uint32_t i = 0; i < z->nnodes; i++)
		need += arena_round(z->nodes[i].name_len);

	/* One chunk sized to the names and data, so a zone holds what it needs and no more,
	 * whatever its size: the builder's chunks, grown as records came, go with it. */
	if (arena_reserve(&z->arena, need))
		goto cleanup;
	for (uint32_t i = 0; i < z->nnodes; i++) {
		zone_node_t *n = &z->nodes[i];
		n->name = arena_dup(&z->arena, n->name, n->name_len); /* reserved: cannot fail */
	}
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
			/* Signatures take their covered RRset's TTL (zone_rr_ttl). */
			if (x->ttl != rs->ttl && r->type != WIRE_T_RRSIG)
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
			zone_node_t *p = &z->nodes[b->parents[i]];
			p->children++;
			if ((p->flags & ZONE_NODE_OCCLUDED) ||
			    (p->flags & (ZONE_NODE_DELEG | ZONE_NODE_DNAME)))
				n->flags |= ZONE_NODE_OCCLUDED;
			if (n->name[0] == 1 && n->name[1] == '*')
				p->flags |= ZONE_NODE_WILDCHILD;
		}
	}

	z->soa = zone_node_rrset(&z->nodes[0], WIRE_T_SOA);
	check_t c = {.z = z, .b = b};
	check_apex(&c);
	for (uint32_t i = 0; i < z->nnodes; i++)
		if (z->nodes[i].nrrsets)
			check_node(&c, &z->nodes[i]);

	if (b->errors) {
		ret = US_EZONE;
		goto cleanup;
	}
	if (z->soa)
		read_soa(z);
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
		const uint8_t *rr = rs->rdata + off;
		int ret =
		    fn(ctx, n->name, rs->type, zone_rr_ttl(n, rs, rr), rr + 2, wire_read16(rr));
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

/* Checks that the diffs chain from the old serial to cs->to. */
static int apply_check_chain(const zone_t *old, const zone_changeset_t *cs, char *err,
                             size_t errlen)
{
	uint32_t serial = old->serial;
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
	}
	if (serial != cs->to) {
		us_errf(err, errlen, "the changes end at serial %u, not at %u", serial, cs->to);
		return US_EINVAL;
	}
	return 0;
}

/*
 * zone_apply builds the new version as an overlay over the old one's base: it copies the old
 * overlay table (slots only: nodes are immutable once published and shared), then copies each
 * node it changes into the base's shared arena, marked private until the change is done.
 */
typedef struct apply {
	zone_t *z;             /* the version being built */
	arena_t *mem;          /* the base's shared arena */
	zone_node_t **touched; /* the private nodes, to check at the end */
	size_t ntouched, touched_cap;
	/* Scratch for one RRset: its records and the change's, and a hash table over them. */
	struct apply_rd {
		const uint8_t *rdata;
		uint16_t len;
		bool gone; /* an old record the change deletes */
	} * rd;
	uint32_t *tab;
	size_t rd_cap, tab_cap;
	bool rebuild; /* a change the overlay cannot express cheaply: build a new base */
	zone_apply_lenient_t *lenient; /* NULL: an addition of a record held is an error */
	/* Lenient: the diff being applied as it takes effect (see kept_put). */
	struct kept_list {
		zone_rr_t *head, *tail;
		uint32_t n;
	} kept_rm, kept_add;
	bool kept_differs; /* from the diff as given */
	char *err;
	size_t errlen;
} apply_t;

static int ov_insert(zone_t *z, uint32_t h, uint32_t base, const zone_node_t *n)
{
	uint32_t size = z->ov ? z->ov_mask + 1 : 0;
	if ((z->ov_used + 1) * 2 > size) {
		uint32_t nsize = size ? size * 2 : 64;
		zone_ovslot_t *t = calloc(nsize, sizeof(*t));
		if (!t)
			return US_ENOMEM;
		for (uint32_t i = 0; i < size; i++) {
			if (!z->ov[i].node)
				continue;
			uint32_t j = z->ov[i].hash & (nsize - 1);
			while (t[j].node)
				j = (j + 1) & (nsize - 1);
			t[j] = z->ov[i];
		}
		free(z->ov);
		z->ov = t;
		z->ov_mask = nsize - 1;
	}
	uint32_t i = h & z->ov_mask;
	while (z->ov[i].node)
		i = (i + 1) & z->ov_mask;
	z->ov[i] = (zone_ovslot_t){h, base, n};
	z->ov_used++;
	return 0;
}

/* A new version sharing old's base and overlay; fails only for memory. */
static zone_t *derive(const zone_t *old)
{
	zone_t *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	memcpy(z->apex, old->apex, old->apex_len);
	z->apex_len = old->apex_len;
	z->apex_labels = old->apex_labels;
	z->serial = old->serial;
	z->neg_ttl = old->neg_ttl;
	z->soa = old->soa;
	z->nodes = old->nodes;
	z->nnodes = old->nnodes;
	z->table = old->table;
	z->mask = old->mask;
	z->nrecords = old->nrecords;
	z->refs = 1;
	arena_init(&z->arena);
	z->base = old->base ? old->base : (zone_t *)old;
	zone_ref(z->base);
	size_t words = (old->nnodes + 63) / 64;
	z->hidden = calloc(words ? words : 1, sizeof(uint64_t));
	if (old->ov) {
		z->ov = malloc((old->ov_mask + 1) * sizeof(*z->ov));
		if (z->ov)
			memcpy(z->ov, old->ov, (old->ov_mask + 1) * sizeof(*z->ov));
		z->ov_mask = old->ov_mask;
		z->ov_used = old->ov_used;
	}
	if (!z->hidden || (old->ov && !z->ov)) {
		zone_unref(z);
		return NULL;
	}
	if (old->hidden)
		memcpy(z->hidden, old->hidden, words * sizeof(uint64_t));
	return z;
}

static zone_node_t *node_private(apply_t *a, const zone_node_t *n)
{
	if (a->ntouched == a->touched_cap &&
	    grow((void **)&a->touched, &a->touched_cap, a->ntouched + 1, sizeof(*a->touched)))
		return NULL;
	zone_node_t *c = arena_alloc(a->mem, sizeof(*c));
	zone_rrset_t *rs = NULL;
	if (n->nrrsets)
		rs = arena_dup(a->mem, n->rrsets, n->nrrsets * sizeof(*rs));
	if (!c || (n->nrrsets && !rs))
		return NULL;
	*c = *n;
	c->rrsets = rs;
	c->flags |= ZONE_NODE_PRIVATE;
	a->touched[a->ntouched++] = c;
	return c;
}

/*
 * The private copy of the node named lname (lower-cased, at or below the apex) in the version
 * being built, in *out; with create, the node and its missing ancestors are made, otherwise
 * *out is NULL when the name does not exist.
 */
static int node_write(apply_t *a, const uint8_t *lname, size_t len, bool create, zone_node_t **out)
{
	zone_t *z = a->z;
	uint32_t h = dname_hash(lname, len), idx = ZONE_NOT_IN_BASE;
	zone_ovslot_t *slot = z->ov ? ov_slot(z, lname, len, h) : NULL;
	const zone_node_t *n = slot ? slot->node : base_find(z, lname, len, h, &idx);
	zone_node_t *c;
	*out = NULL;
	if (n && !(n->flags & ZONE_NODE_GONE)) {
		if (n->flags & ZONE_NODE_PRIVATE) {
			*out = (zone_node_t *)n;
			return 0;
		}
		if (!(c = node_private(a, n)))
			return US_ENOMEM;
		if (slot) {
			slot->node = c;
		} else {
			if (ov_insert(z, h, idx, c))
				return US_ENOMEM;
			z->hidden[idx / 64] |= (uint64_t)1 << (idx % 64);
		}
		*out = c;
		return 0;
	}
	if (!create)
		return 0;
	if (len <= z->apex_len) /* the apex always exists */
		return US_EINVAL;
	/* A new name (or one deleted before): its parent first, since every ancestor exists. */
	zone_node_t *p;
	int ret = node_write(a, lname + lname[0] + 1, len - lname[0] - 1u, true, &p);
	if (ret)
		return ret;
	zone_node_t fresh = {.name = n ? n->name : arena_dup(a->mem, lname, len),
	                     .name_len = (uint8_t)len};
	if (!fresh.name || !(c = node_private(a, &fresh)))
		return US_ENOMEM;
	size_t rel = len - z->apex_len;
	memcpy(c->head, lname, rel < ZONE_NODE_HEAD ? rel : ZONE_NODE_HEAD);
	if (p->flags & (ZONE_NODE_OCCLUDED | ZONE_NODE_DELEG | ZONE_NODE_DNAME))
		c->flags |= ZONE_NODE_OCCLUDED;
	if (lname[0] == 1 && lname[1] == '*')
		p->flags |= ZONE_NODE_WILDCHILD;
	p->children++;
	/* The parent's creation may have grown the table: look again. */
	slot = z->ov ? ov_slot(z, lname, len, h) : NULL;
	if (slot)
		slot->node = c;
	else if (ov_insert(z, h, ZONE_NOT_IN_BASE, c))
		return US_ENOMEM;
	*out = c;
	return 0;
}

/* Removes n, left with neither data nor children, and the empty non-terminals above it. */
static int node_remove(apply_t *a, zone_node_t *n)
{
	while (!n->nrrsets && !n->children && !is_apex(a->z, n)) {
		n->flags = ZONE_NODE_GONE | ZONE_NODE_PRIVATE;
		zone_node_t *p;
		int ret = node_write(a, n->name + n->name[0] + 1, n->name_len - n->name[0] - 1u,
		                     false, &p);
		if (ret)
			return ret;
		p->children--;
		if (n->name[0] == 1 && n->name[1] == '*')
			p->flags &= (uint8_t)~ZONE_NODE_WILDCHILD;
		n = p;
	}
	return 0;
}

/* Sets a node's cut flags from its RRsets; a cut appearing or going above names is a rebuild. */
static void node_cut_flags(apply_t *a, zone_node_t *n)
{
	uint8_t f = n->flags & (uint8_t) ~(ZONE_NODE_DELEG | ZONE_NODE_DNAME);
	if (!is_apex(a->z, n) && zone_node_rrset(n, WIRE_T_NS))
		f |= ZONE_NODE_DELEG;
	if (zone_node_rrset(n, WIRE_T_DNAME))
		f |= ZONE_NODE_DNAME;
	if (f != n->flags && n->children)
		a->rebuild = true;
	n->flags = f;
}

static uint32_t rdata_hash(const uint8_t *rd, uint16_t len)
{
	uint32_t h = 2166136261u ^ len;
	for (uint16_t i = 0; i < len; i++)
		h = (h ^ rd[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* The index of rdata among a->rd, or -1; when absent and add >= 0, it becomes entry add. */
static long rd_find(apply_t *a, size_t mask, const uint8_t *rd, uint16_t len, long add)
{
	size_t i = rdata_hash(rd, len) & mask;
	for (; a->tab[i]; i = (i + 1) & mask) {
		const struct apply_rd *e = &a->rd[a->tab[i] - 1];
		if (e->len == len && (!len || memcmp(e->rdata, rd, len) == 0))
			return (long)a->tab[i] - 1;
	}
	if (add >= 0) {
		a->rd[add] = (struct apply_rd){rd, len, false};
		a->tab[i] = (uint32_t)add + 1;
	}
	return -1;
}

/* A record of a diff, with its owner's label count to sort by. */
typedef struct item {
	const zone_rr_t *rr;
	int labels;
} item_t;

static int item_cmp(const void *x, const void *y, void *down)
{
	const item_t *a = x, *b = y;
	if (a->labels != b->labels)
		return (a->labels < b->labels ? -1 : 1) * (*(bool *)down ? -1 : 1);
	int c = dname_cmp(a->rr->owner, b->rr->owner);
	if (c)
		return c;
	return a->rr->type < b->rr->type ? -1 : a->rr->type > b->rr->type;
}

static int change_error(apply_t *a, int code, const zone_diff_t *d, const zone_rr_t *r,
                        const char *verb, const char *why)
{
	char t[DNAME_TEXT_MAX];
	us_errf(a->err, a->errlen, "change %u -> %u %s a type %u record at %s %s", d->from, d->to,
	        verb, r->type, name_text(r->owner, t), why);
	return code;
}

/* Puts the RRset rs (count 0: none) of its type into n, a private node, keeping type order. */
static int node_put_rrset(apply_t *a, zone_node_t *n, const zone_rrset_t *rs)
{
	uint16_t i = 0;
	while (i < n->nrrsets && n->rrsets[i].type < rs->type)
		i++;
	bool have = i < n->nrrsets && n->rrsets[i].type == rs->type;
	if (have && rs->count) {
		n->rrsets[i] = *rs;
	} else if (have) {
		memmove(&n->rrsets[i], &n->rrsets[i + 1],
		        (n->nrrsets - i - 1u) * sizeof(zone_rrset_t));
		n->nrrsets--;
	} else if (rs->count) {
		if (n->nrrsets == UINT16_MAX)
			return US_ELIMIT;
		zone_rrset_t *all = arena_alloc(a->mem, (n->nrrsets + 1u) * sizeof(*all));
		if (!all)
			return US_ENOMEM;
		if (n->nrrsets) { /* an empty non-terminal has no array */
			memcpy(all, n->rrsets, i * sizeof(*all));
			memcpy(all + i + 1, n->rrsets + i, (n->nrrsets - i) * sizeof(*all));
		}
		all[i] = *rs;
		n->rrsets = all;
		n->nrrsets++;
	}
	return 0;
}

/*
 * Lenient: appends a record to the diff as it took effect. There a removal carries the TTL the
 * record had, an addition the TTL its RRset ends with, and an RRset whose TTL changed has all
 * its other records removed and added back, as RFC 1995 carries a TTL change: so the journal's
 * diffs condense record by record (zonediff_condense) to what applying them did.
 */
static int kept_put(apply_t *a, bool add, const zone_rr_t *r, uint32_t ttl)
{
	if (!a->lenient)
		return 0;
	zone_rr_t *c = arena_alloc(a->lenient->mem, sizeof(*c));
	if (!c)
		return US_ENOMEM;
	*c = *r;
	c->next = NULL;
	c->ttl = ttl;
	a->kept_differs |= ttl != r->ttl;
	struct kept_list *l = add ? &a->kept_add : &a->kept_rm;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
	return 0;
}

/* Lenient: an RRset's record that stays while its TTL changes from ttl to nttl. */
static int kept_rettl(apply_t *a, const zone_rr_t *like, const uint8_t *rdata, uint16_t len,
                      uint32_t ttl, uint32_t nttl)
{
	if (!a->lenient)
		return 0;
	/* Copied: the version whose bytes these are may go before the journal takes them. */
	uint8_t *rd = len ? arena_dup(a->lenient->mem, rdata, len) : NULL;
	if (len && !rd)
		return US_ENOMEM;
	zone_rr_t r = {
	    .owner = like->owner, .rdata = rd, .ttl = ttl, .type = like->type, .rdlen = len};
	a->kept_differs = true;
	int ret = kept_put(a, false, &r, ttl);
	return ret ? ret : kept_put(a, true, &r, nttl);
}

/*
 * Applies rrs[0..n), records of one owner and type, as deletions or additions. Records are
 * identified by owner, type and rdata; the TTL is not part of a record's identity (RFC 2181
 * 5.2), and an addition's TTL becomes the RRset's.
 */
static int rrset_change(apply_t *a, const zone_diff_t *d, item_t *items, size_t n, bool add)
{
	zone_t *z = a->z;
	const zone_rr_t *r0 = items[0].rr;
	uint8_t lname[DNAME_MAXLEN];
	size_t len = dname_len(r0->owner);
	dname_lower(lname, r0->owner, len);
	if (!dname_is_sub(lname, z->apex))
		return change_error(a, US_EZONE, d, r0, "puts", "outside the zone");
	if (r0->type == WIRE_T_SOA)
		return change_error(a, US_EZONE, d, r0, "lists", "beside its SOAs");
	const zone_node_t *old = zone_find(z, lname, len);
	const zone_rrset_t *rs = old ? zone_node_rrset(old, r0->type) : NULL;
	if (!add && !rs)
		return change_error(a, US_ENOENT, d, r0, "deletes", "that the zone does not hold");

	/* Index the RRset's records, then check the change's against them. */
	size_t k = rs ? rs->count : 0, tsize = 16;
	while (tsize < 2 * (k + n))
		tsize *= 2;
	if (grow((void **)&a->rd, &a->rd_cap, k + n, sizeof(*a->rd)) ||
	    grow((void **)&a->tab, &a->tab_cap, tsize, sizeof(*a->tab)))
		return US_ENOMEM;
	memset(a->tab, 0, tsize * sizeof(*a->tab));
	size_t i = 0, bytes = rs ? rs->rdata_len : 0, count = k;
	for (uint32_t off = 0; rs;) {
		rd_find(a, tsize - 1, rs->rdata + off + 2, wire_read16(rs->rdata + off), (long)i++);
		off = zone_rr_next(rs, off);
		if (!off)
			break;
	}
	const zone_rr_t *last = NULL; /* the last addition kept: its TTL becomes the RRset's */
	for (size_t j = 0; j < n; j++) {
		const zone_rr_t *r = items[j].rr;
		long at = rd_find(a, tsize - 1, r->rdata, r->rdlen, add ? (long)(k + j) : -1);
		if (add) {
			const char *bad = record_problem(r->type, r->rdata, r->rdlen);
			if (bad) {
				char what[64];
				snprintf(what, sizeof(what), bad, r->type);
				us_errf(a->err, a->errlen, "change %u -> %u adds a record with %s",
				        d->from, d->to, what);
				return US_EZONE;
			}
			/* The deletions are done: a match is a record held, or added twice. With
			 * the same TTL that changes nothing, which a lenient apply lets pass. */
			if (at >= 0) {
				uint32_t ttl =
				    (size_t)at < k ? rs->ttl : items[at - (long)k].rr->ttl;
				if (!a->lenient || r->ttl != ttl)
					return change_error(a, US_EEXIST, d, r, "adds",
					                    "that the zone holds already");
				a->rd[k + j].gone = true; /* left out of what is kept */
				a->lenient->redundant++;
				continue;
			}
			bytes += 2u + r->rdlen;
			count++;
			last = r;
		} else {
			if (at < 0 || (size_t)at >= k || a->rd[at].gone)
				return change_error(a, US_ENOENT, d, r, "deletes",
				                    "that the zone does not hold");
			a->rd[at].gone = true;
			bytes -= 2u + r->rdlen;
			count--;
			int ret = kept_put(a, false, r, rs->ttl);
			if (ret)
				return ret;
		}
	}
	if (count > UINT16_MAX)
		return change_error(a, US_EZONE, d, r0, "adds too many records like", "");
	if (add && !last)
		return 0; /* every addition was there already */
	if (add && a->lenient) {
		for (size_t j = 0; j < k + n; j++) {
			const struct apply_rd *e = &a->rd[j];
			int ret = 0;
			if (j >= k && !e->gone)
				ret = kept_put(a, true, items[j - k].rr, last->ttl);
			else if (j < k && rs->ttl != last->ttl)
				ret = kept_rettl(a, r0, e->rdata, e->len, rs->ttl, last->ttl);
			if (ret)
				return ret;
		}
	}

	zone_rrset_t nrs = {.type = r0->type,
	                    .count = (uint16_t)count,
	                    .ttl = add ? last->ttl : rs->ttl,
	                    .rdata_len = (uint32_t)bytes};
	uint8_t *rd = count ? arena_alloc(a->mem, bytes) : NULL;
	if (count && !rd)
		return US_ENOMEM;
	nrs.rdata = rd;
	for (size_t j = 0; j < k + (add ? n : 0); j++) {
		const struct apply_rd *e = &a->rd[j];
		if (e->gone)
			continue;
		wire_write16(rd, e->len);
		if (e->len)
			memcpy(rd + 2, e->rdata, e->len);
		rd += 2 + e->len;
	}
	zone_node_t *w;
	int ret = node_write(a, lname, len, add, &w);
	if (ret == 0)
		ret = node_put_rrset(a, w, &nrs);
	if (ret)
		return ret;
	z->nrecords = add ? z->nrecords + (count - k) : z->nrecords - n;
	node_cut_flags(a, w);
	return add ? 0 : node_remove(a, w);
}
/*
 * Applies one list of a diff, an RRset at a time: deletions deepest names first, so a zone cut
 * goes after the names below it, and additions shallowest first, so a new cut is in place
 * before the names below it come (either way the cut flags need no rebuild).
 */
static int apply_list(apply_t *a, const zone_diff_t *d, const zone_rr_t *list, bool add,
                      item_t **items, size_t *cap)
{
	size_t n = 0;
	for (const zone_rr_t *r = list; r; r = r->next) {
		if (grow((void **)items, cap, n + 1, sizeof(item_t)))
			return US_ENOMEM;
		(*items)[n++] = (item_t){r, dname_labels(r->owner)};
	}
	bool down = !add;
	if (n)
		qsort_r(*items, n, sizeof(item_t), item_cmp, &down);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && (*items)[j].rr->type == (*items)[i].rr->type &&
		       dname_equal((*items)[j].rr->owner, (*items)[i].rr->owner))
			j++;
		int ret = rrset_change(a, d, *items + i, j - i, add);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/* A lenient apply's record of diff d as it took effect: d itself when that is what it did. */
static int kept_diff(apply_t *a, const zone_diff_t *d, zone_diff_t **out)
{
	zone_diff_t *k = arena_alloc(a->lenient->mem, sizeof(*k));
	if (!k)
		return US_ENOMEM;
	*k = *d;
	k->next = NULL;
	if (a->kept_differs || a->kept_add.n != d->nadded) {
		k->removed = a->kept_rm.head;
		k->added = a->kept_add.head;
		k->nremoved = a->kept_rm.n;
		k->nadded = a->kept_add.n;
	}
	*out = k;
	return 0;
}

/* Puts the last diff's SOA in place and checks what the change touched. */
static int apply_finish(apply_t *a, const zone_rr_t *soa)
{
	zone_t *z = a->z;
	char t[DNAME_TEXT_MAX];
	if (!dname_equal(soa->owner, z->apex)) {
		us_errf(a->err, a->errlen, "the new SOA is at %s, not at the apex",
		        name_text(soa->owner, t));
		return US_EZONE;
	}
	if (record_problem(WIRE_T_SOA, soa->rdata, soa->rdlen)) {
		us_errf(a->err, a->errlen, "the new SOA is malformed");
		return US_EZONE;
	}
	zone_node_t *apex;
	uint8_t *rd = arena_alloc(a->mem, 2u + soa->rdlen);
	int ret = rd ? node_write(a, z->apex, z->apex_len, false, &apex) : US_ENOMEM;
	if (ret)
		return ret;
	wire_write16(rd, soa->rdlen);
	memcpy(rd + 2, soa->rdata, soa->rdlen);
	zone_rrset_t rs = {WIRE_T_SOA, 1, soa->ttl, 2u + soa->rdlen, rd};
	if ((ret = node_put_rrset(a, apex, &rs)))
		return ret;
	z->soa = zone_node_rrset(apex, WIRE_T_SOA);
	read_soa(z);
	/* A rebuild checks the whole zone; the cut flags below a moved cut are stale till then. */
	check_t c = {.z = z, .err = a->err, .errlen = a->errlen};
	if (!a->rebuild) {
		check_apex(&c);
		for (size_t i = 0; i < a->ntouched; i++) {
			const zone_node_t *n = a->touched[i];
			if (!(n->flags & ZONE_NODE_GONE) && n->nrrsets)
				check_node(&c, n);
		}
	}
	for (size_t i = 0; i < a->ntouched; i++)
		a->touched[i]->flags &= (uint8_t)~ZONE_NODE_PRIVATE;
	return c.errors ? US_EZONE : 0;
}

static int rebuild_add(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                       const uint8_t *rdata, uint16_t rdlen)
{
	return zone_builder_add(ctx, owner, type, WIRE_CLASS_IN, ttl, rdata, rdlen, "changeset", 0);
}

/* Replaces *z by a new base with the same records, checked in full. */
static int rebuild(zone_t **z, char *err, size_t errlen)
{
	apply_report_t rep = {err, errlen, false};
	zone_builder_t *b = zone_builder_new((*z)->apex, apply_report, &rep);
	if (!b)
		return US_ENOMEM;
	zone_t *nz = NULL;
	int ret = zone_foreach_rr(*z, rebuild_add, b);
	if (ret == 0)
		ret = zone_builder_finish(b, &nz);
	zone_builder_free(b);
	if (ret == 0) {
		zone_unref(*z);
		*z = nz;
	}
	return ret;
}

/* True when the apex holds DNSSEC data, so a version needs the proofs' index. */
static bool zone_signed(const zone_t *z)
{
	const zone_node_t *apex = zone_find(z, z->apex, z->apex_len);
	return apex &&
	       (zone_node_rrset(apex, WIRE_T_RRSIG) || zone_node_rrset(apex, WIRE_T_DNSKEY) ||
	        zone_node_rrset(apex, WIRE_T_NSEC3PARAM));
}

uint32_t zone__overlay_limit;

/* When the versions of a base have changed this much, a new base is cheaper to keep. */
static bool overlay_full(const zone_t *z)
{
	const zone_t *base = z->base;
	uint32_t limit = zone__overlay_limit ? zone__overlay_limit : 1024 + z->nnodes / 64;
	return z->ov_used > limit ||
	       base->shared.total > ((size_t)16 << 20) + base->arena.total / 2;
}

int zone_apply(const zone_t *old, const zone_changeset_t *cs, zone_apply_lenient_t *lenient,
               zone_t **out, char *err, size_t errlen)
{
	int ret = apply_check_chain(old, cs, err, errlen);
	if (ret)
		return ret;
	apply_t a = {.lenient = lenient, .err = err, .errlen = errlen};
	item_t *items = NULL;
	size_t items_cap = 0;
	const zone_rr_t *soa = NULL;
	const zone_diff_t **kept = NULL;
	if (lenient) {
		lenient->redundant = 0;
		lenient->kept = *cs;
		kept = &lenient->kept.first;
	}
	ret = US_ENOMEM;
	if (!(a.z = derive(old)))
		goto done;
	a.mem = &a.z->base->shared;
	for (const zone_diff_t *d = cs->first; d; d = d->next) {
		a.kept_rm = a.kept_add = (struct kept_list){0};
		a.kept_differs = false;
		ret = apply_list(&a, d, d->removed, false, &items, &items_cap);
		if (ret == 0)
			ret = apply_list(&a, d, d->added, true, &items, &items_cap);
		zone_diff_t *k;
		if (ret == 0 && lenient && (ret = kept_diff(&a, d, &k)) == 0) {
			*kept = k;
			kept = &k->next;
		}
		if (ret)
			goto done;
		soa = d->soa_to;
	}
	ret = apply_finish(&a, soa);
	bool rebuilt = ret == 0 && (a.rebuild || overlay_full(a.z));
	if (rebuilt)
		ret = rebuild(&a.z, err, errlen);
	if (ret == 0 && !rebuilt && (old->dnssec || zone_signed(a.z))) {
		/* A rebuilt base has its proofs' index from the builder; an overlay gets a new
		 * one, built whole for now: in proportion to the zone, not the change. */
		apply_report_t rep = {err, errlen, false};
		ret = dnssec_index_build(a.z, apply_report, &rep);
	}
	if (ret == 0 && a.z->serial != cs->to) {
		us_errf(err, errlen, "the new SOA has serial %u, not %u", a.z->serial, cs->to);
		ret = US_EINVAL;
	}
done:
	if (ret == US_ENOMEM)
		us_errf(err, errlen, "out of memory");
	if (ret == 0)
		*out = a.z;
	else
		zone_unref(a.z);
	free(items);
	free(a.touched);
	free(a.rd);
	free(a.tab);
	return ret;
}

/* zone_foreach_rr callback: 0 when the record is in the zone ctx with the same TTL. */
static int held_by(void *ctx, const uint8_t *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rdata, uint16_t rdlen)
{
	const zone_t *other = ctx;
	const zone_node_t *n = zone_find(other, owner, dname_len(owner));
	const zone_rrset_t *rs = n ? zone_node_rrset(n, type) : NULL;
	if (!rs)
		return 1;
	for (uint32_t off = 0;;) {
		const uint8_t *rr = rs->rdata + off;
		/* The TTL as zone_foreach_rr gives it: a signature's is its covered RRset's. */
		if (wire_read16(rr) == rdlen && (!rdlen || memcmp(rr + 2, rdata, rdlen) == 0))
			return zone_rr_ttl(n, rs, rr) != ttl;
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
