/* SPDX-License-Identifier: MIT */
/* zonediff: the changeset between two versions of a zone, and condensing a chain of diffs. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire.h"
#include "zonediff.h"

/*
 * Only zone.h's public walk and lookups are used here, never the layout of a version, so this
 * keeps working whatever structure zone.c gives its versions.
 */

/* A list under construction, kept in the order records are appended. */
typedef struct rr_list {
	zone_rr_t *head, *tail;
	uint32_t n;
} rr_list_t;

static int list_add(arena_t *a, rr_list_t *l, const uint8_t *owner, uint16_t type, uint32_t ttl,
                    const uint8_t *rdata, uint16_t rdlen)
{
	zone_rr_t *r = arena_alloc(a, sizeof(*r));
	if (!r)
		return US_ENOMEM;
	*r = (zone_rr_t){.owner = owner, .rdata = rdata, .ttl = ttl, .type = type, .rdlen = rdlen};
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	if (l->n == UINT32_MAX)
		return US_ENOMEM;
	l->n++;
	return 0;
}

static uint16_t rr_len(const zone_rrset_t *rs, uint32_t off)
{
	return (uint16_t)wire_read16(rs->rdata + off);
}

/* Every record of an RRset, into the list. */
static int list_add_rrset(arena_t *a, rr_list_t *l, const uint8_t *owner, const zone_rrset_t *rs)
{
	if (!rs->rdata_len)
		return 0;
	uint32_t off = 0;
	do {
		int ret =
		    list_add(a, l, owner, rs->type, rs->ttl, rs->rdata + off + 2, rr_len(rs, off));
		if (ret)
			return ret;
	} while ((off = zone_rr_next(rs, off)) != 0);
	return 0;
}

static uint32_t bytes_hash(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (h >> 15);
}

/*
 * The records of one RRset, findable by rdata: a small RRset is searched linearly (a handful
 * of comparisons beats building a table), a large one through an open-addressing table, so a
 * 10,000-record RRset is not compared pairwise.
 */
#define SMALL_RRSET 16

typedef struct rec_set {
	const zone_rrset_t *rs;
	uint32_t *slots; /* record offset + 1, 0 for empty; NULL for a small RRset */
	uint32_t mask;
} rec_set_t;

static int rec_set_init(rec_set_t *s, const zone_rrset_t *rs)
{
	*s = (rec_set_t){.rs = rs};
	if (rs->count <= SMALL_RRSET || !rs->rdata_len)
		return 0;
	uint32_t size = 16;
	while (size < 2u * rs->count)
		size <<= 1;
	s->slots = calloc(size, sizeof(*s->slots));
	if (!s->slots)
		return US_ENOMEM;
	s->mask = size - 1;
	uint32_t off = 0;
	do {
		uint16_t n = rr_len(rs, off);
		uint32_t i = bytes_hash(2166136261u, rs->rdata + off + 2, n) & s->mask;
		while (s->slots[i])
			i = (i + 1) & s->mask;
		s->slots[i] = off + 1;
	} while ((off = zone_rr_next(rs, off)) != 0);
	return 0;
}

static void rec_set_deinit(rec_set_t *s)
{
	free(s->slots);
}

static bool rec_set_has(const rec_set_t *s, const uint8_t *rdata, uint16_t rdlen)
{
	const zone_rrset_t *rs = s->rs;
	if (!rs->rdata_len)
		return false;
	if (!s->slots) {
		uint32_t off = 0;
		do {
			if (rr_len(rs, off) == rdlen &&
			    memcmp(rs->rdata + off + 2, rdata, rdlen) == 0)
				return true;
		} while ((off = zone_rr_next(rs, off)) != 0);
		return false;
	}
	for (uint32_t i = bytes_hash(2166136261u, rdata, rdlen) & s->mask; s->slots[i];
	     i = (i + 1) & s->mask) {
		uint32_t off = s->slots[i] - 1;
		if (rr_len(rs, off) == rdlen && memcmp(rs->rdata + off + 2, rdata, rdlen) == 0)
			return true;
	}
	return false;
}

/* The records of `from` that `in` lacks, into the list. */
static int add_missing(arena_t *a, rr_list_t *l, const uint8_t *owner, const zone_rrset_t *from,
                       const rec_set_t *in)
{
	if (!from->rdata_len)
		return 0;
	uint32_t off = 0;
	do {
		const uint8_t *rd = from->rdata + off + 2;
		uint16_t n = rr_len(from, off);
		if (!rec_set_has(in, rd, n)) {
			int ret = list_add(a, l, owner, from->type, from->ttl, rd, n);
			if (ret)
				return ret;
		}
	} while ((off = zone_rr_next(from, off)) != 0);
	return 0;
}

static bool rrset_same(const zone_rrset_t *x, const zone_rrset_t *y)
{
	return x->ttl == y->ttl && x->count == y->count && x->rdata_len == y->rdata_len &&
	       memcmp(x->rdata, y->rdata, x->rdata_len) == 0;
}

/* An RRset held by both versions: what changed between ra and rb. */
static int diff_rrsets(arena_t *a, rr_list_t *rm, rr_list_t *add, const uint8_t *owner,
                       const zone_rrset_t *ra, const zone_rrset_t *rb)
{
	if (rrset_same(ra, rb))
		return 0;
	int ret;
	if (ra->ttl != rb->ttl) {
		ret = list_add_rrset(a, rm, owner, ra);
		return ret ? ret : list_add_rrset(a, add, owner, rb);
	}
	rec_set_t sa, sb;
	ret = rec_set_init(&sa, ra);
	if (ret)
		return ret;
	ret = rec_set_init(&sb, rb);
	if (ret == 0)
		ret = add_missing(a, rm, owner, ra, &sb);
	if (ret == 0)
		ret = add_missing(a, add, owner, rb, &sa);
	rec_set_deinit(&sb);
	rec_set_deinit(&sa);
	return ret;
}

/* The apex SOA as a single record. */
static zone_rr_t *soa_cell(arena_t *a, const zone_t *z)
{
	zone_rr_t *r = arena_alloc(a, sizeof(*r));
	if (r)
		*r = (zone_rr_t){.owner = z->apex,
		                 .rdata = z->soa->rdata + 2,
		                 .ttl = z->soa->ttl,
		                 .type = WIRE_T_SOA,
		                 .rdlen = rr_len(z->soa, 0)};
	return r;
}

int zonediff_compute(const zone_t *a, const zone_t *b, arena_t *arena, zone_changeset_t *out)
{
	if (a->apex_len != b->apex_len || memcmp(a->apex, b->apex, a->apex_len) != 0)
		return US_EINVAL;
	rr_list_t rm = {0}, add = {0};
	int ret = 0;
	uint32_t pos = 0;
	/* b's records against a's: additions, and removals inside RRsets both hold. */
	for (const zone_node_t *nb; ret == 0 && (nb = zone_next_node(b, &pos));) {
		const zone_node_t *na = zone_find(a, nb->name, nb->name_len);
		for (uint16_t i = 0; ret == 0 && i < nb->nrrsets; i++) {
			const zone_rrset_t *rb = &nb->rrsets[i];
			if (rb->type == WIRE_T_SOA && nb->name_len == b->apex_len)
				continue;
			const zone_rrset_t *ra = na ? zone_node_rrset(na, rb->type) : NULL;
			ret = ra ? diff_rrsets(arena, &rm, &add, nb->name, ra, rb)
			         : list_add_rrset(arena, &add, nb->name, rb);
		}
	}
	/* a's RRsets that b lacks altogether. */
	pos = 0;
	for (const zone_node_t *na; ret == 0 && (na = zone_next_node(a, &pos));) {
		const zone_node_t *nb = zone_find(b, na->name, na->name_len);
		for (uint16_t i = 0; ret == 0 && i < na->nrrsets; i++) {
			const zone_rrset_t *ra = &na->rrsets[i];
			if (ra->type == WIRE_T_SOA && na->name_len == a->apex_len)
				continue;
			if (!nb || !zone_node_rrset(nb, ra->type))
				ret = list_add_rrset(arena, &rm, na->name, ra);
		}
	}
	zone_diff_t *d = ret ? NULL : arena_alloc(arena, sizeof(*d));
	zone_rr_t *sa = d ? soa_cell(arena, a) : NULL;
	zone_rr_t *sb = sa ? soa_cell(arena, b) : NULL;
	if (!sb)
		return ret ? ret : US_ENOMEM;
	*d = (zone_diff_t){.soa_from = sa,
	                   .soa_to = sb,
	                   .removed = rm.head,
	                   .added = add.head,
	                   .from = a->serial,
	                   .to = b->serial,
	                   .nremoved = rm.n,
	                   .nadded = add.n};
	*out = (zone_changeset_t){.first = d, .ndiffs = 1, .from = a->serial, .to = b->serial};
	return 0;
}

/* ---- condensing ---- */

/* What a chain of diffs did to one record (owner, type, rdata). */
typedef struct cond_ent {
	const zone_rr_t *first_rm; /* the first removal, when it came before any addition */
	const zone_rr_t *last_add; /* the latest addition */
	uint32_t hash;
	bool present; /* after the diffs so far */
} cond_ent_t;

static uint32_t rr_hash(const zone_rr_t *r)
{
	uint8_t lname[DNAME_MAXLEN];
	size_t len = dname_len(r->owner);
	dname_lower(lname, r->owner, len);
	uint32_t h = bytes_hash(2166136261u ^ r->type, lname, len);
	return bytes_hash(h, r->rdata, r->rdlen);
}

static bool rr_match(const zone_rr_t *x, const zone_rr_t *y)
{
	return x->type == y->type && x->rdlen == y->rdlen &&
	       memcmp(x->rdata, y->rdata, x->rdlen) == 0 && dname_equal(x->owner, y->owner);
}

typedef struct cond {
	cond_ent_t *ents;
	size_t nents;
	uint32_t *table; /* entry index + 1 */
	size_t mask;
} cond_t;

static cond_ent_t *cond_get(cond_t *c, const zone_rr_t *r, bool *fresh)
{
	uint32_t h = rr_hash(r);
	size_t i = h & c->mask;
	for (; c->table[i]; i = (i + 1) & c->mask) {
		cond_ent_t *e = &c->ents[c->table[i] - 1];
		const zone_rr_t *k = e->first_rm ? e->first_rm : e->last_add;
		if (e->hash == h && rr_match(k, r)) {
			*fresh = false;
			return e;
		}
	}
	cond_ent_t *e = &c->ents[c->nents];
	*e = (cond_ent_t){.hash = h};
	c->table[i] = (uint32_t)++c->nents;
	*fresh = true;
	return e;
}

int zonediff_condense(const zone_changeset_t *cs, arena_t *arena, zone_changeset_t *out)
{
	const zone_diff_t *first = cs->first, *last = NULL;
	uint64_t total = 0;
	for (const zone_diff_t *d = first; d; d = d->next) {
		if (last && d->from != last->to)
			return US_EINVAL;
		total += zonediff_size(d);
		last = d;
	}
	if (!first || total > UINT32_MAX / 4)
		return US_EINVAL;
	size_t size = 16;
	while (size < 2 * total)
		size <<= 1;
	cond_t c = {.ents = malloc((total ? total : 1) * sizeof(cond_ent_t)),
	            .table = calloc(size, sizeof(uint32_t)),
	            .mask = size - 1};
	int ret = c.ents && c.table ? 0 : US_ENOMEM;
	for (const zone_diff_t *d = first; ret == 0 && d; d = d->next) {
		bool fresh;
		for (const zone_rr_t *r = d->removed; r; r = r->next) {
			cond_ent_t *e = cond_get(&c, r, &fresh);
			if (fresh)
				e->first_rm = r;
			e->present = false;
		}
		for (const zone_rr_t *r = d->added; r; r = r->next) {
			cond_ent_t *e = cond_get(&c, r, &fresh);
			e->last_add = r;
			e->present = true;
		}
	}
	rr_list_t rm = {0}, add = {0};
	/* In the order records first appeared: a stable, reproducible stream. */
	for (size_t i = 0; ret == 0 && i < c.nents; i++) {
		const cond_ent_t *e = &c.ents[i];
		const zone_rr_t *was = e->first_rm, *now = e->present ? e->last_add : NULL;
		if (was && now && was->ttl == now->ttl)
			continue;
		if (was)
			ret = list_add(arena, &rm, was->owner, was->type, was->ttl, was->rdata,
			               was->rdlen);
		if (ret == 0 && now)
			ret = list_add(arena, &add, now->owner, now->type, now->ttl, now->rdata,
			               now->rdlen);
	}
	free(c.ents);
	free(c.table);
	zone_diff_t *d = ret ? NULL : arena_alloc(arena, sizeof(*d));
	if (!d)
		return ret ? ret : US_ENOMEM;
	*d = (zone_diff_t){.soa_from = first->soa_from,
	                   .soa_to = last->soa_to,
	                   .removed = rm.head,
	                   .added = add.head,
	                   .from = first->from,
	                   .to = last->to,
	                   .nremoved = rm.n,
	                   .nadded = add.n};
	*out = (zone_changeset_t){.first = d, .ndiffs = 1, .from = d->from, .to = d->to};
	return 0;
}
