/* SPDX-License-Identifier: MIT */
/* catalog: catalog zones (RFC 9432): a version read into its members, diffs, and generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "siphash.h"
#include "wire.h"

void catalog_init(catalog_t *c)
{
	memset(c, 0, sizeof(*c));
	arena_init(&c->arena);
}

void catalog_deinit(catalog_t *c)
{
	free(c->members);
	arena_deinit(&c->arena);
	catalog_init(c);
}

/* Wire labels of the name relative to the apex: the node's name minus the apex, or -1. */
static int rel_labels(const zone_node_t *n, const zone_t *z)
{
	if (n->name_len < z->apex_len)
		return -1;
	return dname_labels(n->name) - z->apex_labels;
}

/* True if the node is <label>.zones.$CATZ; the label is then at name[0]. */
static bool is_member_node(const zone_t *z, const zone_node_t *n)
{
	if (rel_labels(n, z) != 2)
		return false;
	const uint8_t *second = n->name + 1 + n->name[0];
	return second[0] == 5 && memcmp(second + 1, "zones", 5) == 0;
}

/* The first character-string of a TXT record's rdata (length-prefixed, as the zone stores it),
 * copied NUL-terminated into buf; false when the rdata holds none. */
static bool txt_first(const uint8_t *rr, char *buf)
{
	uint16_t rdlen = (uint16_t)(rr[0] << 8 | rr[1]);
	if (rdlen < 1 || rr[2] + 1u > rdlen)
		return false;
	memcpy(buf, rr + 3, rr[2]);
	buf[rr[2]] = 0;
	/* A NUL inside the string would cut it short silently; such a group names nothing. */
	return strlen(buf) == rr[2];
}

/* IDs are labels: any bytes, NUL included, so they compare by length and bytes. */
static int cmp_id(const catalog_member_t *x, const catalog_member_t *y)
{
	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	return memcmp(x->id, y->id, x->id_len);
}

static int cmp_member(const void *a, const void *b)
{
	const catalog_member_t *x = a, *y = b;
	int c = dname_cmp(x->name, y->name);
	if (c)
		return c;
	return cmp_id(x, y);
}

/* Looks up prop.<member node> in z; NULL when absent or the name would be too long. */
static const zone_node_t *prop_node(const zone_t *z, const zone_node_t *n, const char *prop)
{
	uint8_t name[DNAME_MAXLEN];
	size_t pl = strlen(prop);
	if (1 + pl + n->name_len > DNAME_MAXLEN)
		return NULL;
	name[0] = (uint8_t)pl;
	memcpy(name + 1, prop, pl);
	memcpy(name + 1 + pl, n->name, n->name_len);
	return zone_find(z, name, 1 + pl + n->name_len);
}

/* Reads the member at node n into m; 0, or US_EZONE with err, or US_ENOMEM. */
static int read_member(const zone_t *z, const zone_node_t *n, const zone_rrset_t *ptr, catalog_t *c,
                       catalog_member_t *m, char *err, size_t errlen)
{
	char text[DNAME_TEXT_MAX];
	memset(m, 0, sizeof(*m));
	if (ptr->count != 1) {
		dname_to_text(n->name, text, sizeof(text));
		us_errf(err, errlen, "%s holds %u PTR records, RFC 9432 4.1 allows one", text,
		        ptr->count);
		return US_EZONE;
	}
	if (n->name[0] > CATALOG_ID_MAX) {
		dname_to_text(n->name, text, sizeof(text));
		us_errf(err, errlen, "%s: unique ID longer than %d bytes", text, CATALOG_ID_MAX);
		return US_EZONE;
	}
	m->id_len = n->name[0];
	memcpy(m->id, n->name + 1, m->id_len);
	m->id[m->id_len] = 0;
	size_t len = (size_t)(ptr->rdata[0] << 8 | ptr->rdata[1]);
	/* The zone stores a PTR's name whole and uncompressed; check it all the same, since a
	 * zone from elsewhere may hold anything under an unknown-type encoding. */
	if (dname_check(ptr->rdata + 2, len) != (int)len) {
		dname_to_text(n->name, text, sizeof(text));
		us_errf(err, errlen, "%s: PTR is not a domain name", text);
		return US_EZONE;
	}
	dname_lower(m->name, ptr->rdata + 2, len);
	m->name_len = (uint8_t)len;

	const zone_node_t *p = prop_node(z, n, "coo");
	const zone_rrset_t *rs = p ? zone_node_rrset(p, WIRE_T_PTR) : NULL;
	if (rs) {
		if (rs->count != 1) {
			dname_to_text(n->name, text, sizeof(text));
			us_errf(err, errlen,
			        "coo.%s holds %u PTR records, RFC 9432 4.4.1 allows one", text,
			        rs->count);
			return US_EZONE;
		}
		size_t cl = (size_t)(rs->rdata[0] << 8 | rs->rdata[1]);
		uint8_t *coo = arena_alloc(&c->arena, cl);
		if (!coo)
			return US_ENOMEM;
		if (dname_check(rs->rdata + 2, cl) == (int)cl) {
			dname_lower(coo, rs->rdata + 2, cl);
			m->coo = coo;
		}
	}
	p = prop_node(z, n, "group");
	rs = p ? zone_node_rrset(p, WIRE_T_TXT) : NULL;
	if (rs) {
		/* Several groups are allowed and their meaning left to the consumer (RFC 9432
		 * 4.4.2). One picks the template here: the lowest in byte order, so the choice
		 * does not depend on the order a transfer sent them in; the count is kept so the
		 * consumer can say it saw more. */
		char g[CATALOG_GROUP_MAX + 1], best[CATALOG_GROUP_MAX + 1];
		bool have = false;
		m->ngroups = rs->count;
		for (uint32_t off = 0;; off = zone_rr_next(rs, off)) {
			if (txt_first(rs->rdata + off, g) && (!have || strcmp(g, best) < 0)) {
				memcpy(best, g, strlen(g) + 1);
				have = true;
			}
			if (!zone_rr_next(rs, off))
				break;
		}
		if (have) {
			char *dup = arena_dup(&c->arena, best, strlen(best) + 1);
			if (!dup)
				return US_ENOMEM;
			m->group = dup;
		}
	}
	return 0;
}

int catalog_read(const zone_t *z, size_t max_members, catalog_t *out, char *err, size_t errlen)
{
	char text[DNAME_TEXT_MAX];
	if (!max_members)
		max_members = CATALOG_DEFAULT_MAX;
	catalog_t c;
	catalog_init(&c);
	int ret = 0;

	/* version.$CATZ first: without the right version nothing else may be read (4.2). */
	uint8_t vname[DNAME_MAXLEN];
	const zone_rrset_t *ver = NULL;
	if (z->apex_len + 8 <= DNAME_MAXLEN) {
		vname[0] = 7;
		memcpy(vname + 1, "version", 7);
		memcpy(vname + 8, z->apex, z->apex_len);
		const zone_node_t *vn = zone_find(z, vname, z->apex_len + 8u);
		ver = vn ? zone_node_rrset(vn, WIRE_T_TXT) : NULL;
	}
	char v[CATALOG_GROUP_MAX + 1];
	if (!ver) {
		us_errf(err, errlen, "no version.%s TXT record: not a catalog zone (RFC 9432 4.2)",
		        dname_to_text(z->apex, text, sizeof(text)) > 0 ? text : "?");
		ret = US_EZONE;
		goto fail;
	}
	if (ver->count != 1 || !txt_first(ver->rdata, v) || strcmp(v, "2") != 0) {
		us_errf(err, errlen,
		        "version property is %s, only one TXT \"2\" is supported (RFC 9432 4.2)",
		        ver->count != 1            ? "several TXT records"
		        : txt_first(ver->rdata, v) ? v
		                                   : "an empty TXT");
		ret = US_EZONE;
		goto fail;
	}

	size_t cap = 0, n = 0;
	uint32_t pos = 0;
	for (const zone_node_t *node; (node = zone_next_node(z, &pos));) {
		if (!is_member_node(z, node))
			continue;
		const zone_rrset_t *ptr = zone_node_rrset(node, WIRE_T_PTR);
		if (!ptr)
			continue;
		if (n == max_members) {
			us_errf(err, errlen, "more than %zu members", max_members);
			ret = US_ELIMIT;
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			catalog_member_t *nm = realloc(c.members, ncap * sizeof(*nm));
			if (!nm) {
				ret = US_ENOMEM;
				goto fail;
			}
			c.members = nm;
			cap = ncap;
		}
		catalog_member_t *m = &c.members[n];
		if ((ret = read_member(z, node, ptr, &c, m, err, errlen)) != 0)
			goto fail;
		/* A catalog cannot list itself: serving it as its own member would loop. */
		if (m->name_len == z->apex_len && memcmp(m->name, z->apex, z->apex_len) == 0)
			continue;
		n++;
	}
	if (n)
		qsort(c.members, n, sizeof(*c.members), cmp_member);
	/* Keep each name once, under its lowest unique ID (the first after sorting). */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w && dname_equal(c.members[w - 1].name, c.members[i].name)) {
			if (!c.nduplicates++)
				c.duplicate = c.members[i];
			continue;
		}
		c.members[w++] = c.members[i];
	}
	c.nmembers = w;
	*out = c;
	return 0;
fail:
	catalog_deinit(&c);
	return ret;
}

const catalog_member_t *catalog_find(const catalog_t *c, const uint8_t *name, size_t len)
{
	size_t lo = 0, hi = c->nmembers;
	(void)len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = dname_cmp(c->members[mid].name, name);
		if (r == 0)
			return &c->members[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_name(const uint8_t *a, const uint8_t *b)
{
	return a == b || (a && b && dname_equal(a, b));
}

int catalog_diff(const catalog_t *a, const catalog_t *b, catalog_change_t **out, size_t *nout)
{
	size_t cap = 0, n = 0, i = 0, j = 0;
	catalog_change_t *ch = NULL;
	while (i < a->nmembers || j < b->nmembers) {
		const catalog_member_t *x = i < a->nmembers ? &a->members[i] : NULL;
		const catalog_member_t *y = j < b->nmembers ? &b->members[j] : NULL;
		int c = !x ? 1 : !y ? -1 : dname_cmp(x->name, y->name);
		catalog_change_t one = {.old = c <= 0 ? x : NULL, .new = c >= 0 ? y : NULL};
		if (c < 0) {
			one.kind = CATALOG_REMOVED;
			i++;
		} else if (c > 0) {
			one.kind = CATALOG_ADDED;
			j++;
		} else {
			i++;
			j++;
			if (cmp_id(x, y) != 0)
				one.kind = CATALOG_RESET;
			else if (!same_str(x->group, y->group) || !same_name(x->coo, y->coo))
				one.kind = CATALOG_CHANGED;
			else
				continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			catalog_change_t *nc = realloc(ch, ncap * sizeof(*nc));
			if (!nc) {
				free(ch);
				return US_ENOMEM;
			}
			ch = nc;
			cap = ncap;
		}
		ch[n++] = one;
	}
	*out = ch;
	*nout = n;
	return 0;
}

/* ---- producing ---- */

/* A fixed key: the IDs must be the same on every producer and across restarts, and nothing
 * here is secret (knotd hashes the member name for the same reason). */
static const uint8_t id_key[SIPHASH_KEY_LEN] = "understudy-catz";

void catalog_member_id(const uint8_t *name, size_t len, char id[17])
{
	uint8_t l[DNAME_MAXLEN];
	dname_lower(l, name, len);
	snprintf(id, 17, "%016llx", (unsigned long long)siphash24(id_key, l, len));
}

static void build_report(void *ctx, const char *file, unsigned long line, bool error,
                         const char *msg)
{
	(void)file;
	(void)line;
	if (error && ctx) {
		char **e = ctx;
		if (!**e)
			snprintf(*e, 256, "%s", msg);
	}
}

/* Adds owner (labels, then the apex) with one record. */
static int add(zone_builder_t *b, const uint8_t *owner, uint16_t type, const uint8_t *rd,
               size_t rdlen)
{
	return zone_builder_add(b, owner, type, 1, 0, rd, (uint16_t)rdlen, "catalog", 0);
}

/* Writes label (text) + "zones" + apex into out; its length, or 0 when too long. */
static size_t member_owner(const char *prop, const char *id, size_t il, const uint8_t *apex,
                           size_t apex_len, uint8_t *out)
{
	size_t p = 0, pl = prop ? strlen(prop) : 0;
	if ((prop ? 1 + pl : 0) + 1 + il + 6 + apex_len > DNAME_MAXLEN)
		return 0;
	if (prop) {
		out[p++] = (uint8_t)pl;
		memcpy(out + p, prop, pl);
		p += pl;
	}
	out[p++] = (uint8_t)il;
	memcpy(out + p, id, il);
	p += il;
	out[p++] = 5;
	memcpy(out + p, "zones", 5);
	p += 5;
	memcpy(out + p, apex, apex_len);
	return p + apex_len;
}

/*
 * An entry's ID in 17 bytes: the hash's 16 hex digits, or a given ID; a given one is the
 * label as it is, so it is compared whole (length first) rather than as a string.
 */
static void entry_id(const catalog_entry_t *e, char id[17])
{
	memset(id, 0, 17);
	if (!e->id) {
		catalog_member_id(e->name, e->name_len, id);
		return;
	}
	/* Marked apart from hashes, which never start with a byte below '0'. */
	id[0] = 1;
	id[1] = (char)e->id_len;
	/* Long given IDs are compared by their first 15 bytes here and in full when built. */
	memcpy(id + 2, e->id, e->id_len < 15 ? e->id_len : 15);
}

static int cmp_entry_id(const void *a, const void *b)
{
	return memcmp(a, b, 17);
}

int catalog_build(const uint8_t *apex, size_t apex_len, uint32_t serial,
                  const catalog_entry_t *entries, size_t n, zone_t **out, char *err, size_t errlen)
{
	char text[DNAME_TEXT_MAX], text2[DNAME_TEXT_MAX];
	int ret = 0;
	char msg[256] = "", *msgp = msg;
	/* The IDs, each followed by the entry's index, to find two entries of one ID. */
	char(*ids)[24] = n ? calloc(n, sizeof(*ids)) : NULL;
	zone_builder_t *b = zone_builder_new(apex, build_report, &msgp);
	if (!b || (n && !ids)) {
		ret = US_ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		entry_id(&entries[i], ids[i]);
		memcpy(ids[i] + 17, &(uint32_t){(uint32_t)i}, 4);
	}
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_entry_id);
	for (size_t i = 1; i < n; i++) {
		if (memcmp(ids[i - 1], ids[i], 17) != 0)
			continue;
		uint32_t x, y;
		memcpy(&x, ids[i - 1] + 17, 4);
		memcpy(&y, ids[i] + 17, 4);
		if (entries[x].id && (entries[x].id_len != entries[y].id_len ||
		                      memcmp(entries[x].id, entries[y].id, entries[x].id_len)))
			continue; /* alike in their first 15 bytes only */
		dname_to_text(entries[x].name, text, sizeof(text));
		dname_to_text(entries[y].name, text2, sizeof(text2));
		us_errf(err, errlen, "%s and %s %s", text, text2,
		        dname_equal(entries[x].name, entries[y].name) ? "are the same member"
		        : entries[x].id                               ? "have the same unique ID"
		                        : "hash to the same unique ID; rename one");
		ret = US_EEXIST;
		goto cleanup;
	}

	uint8_t soa[2 * 9 + 20];
	static const uint8_t invalid[] = {7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0};
	memcpy(soa, invalid, 9);
	memcpy(soa + 9, invalid, 9);
	/* refresh 3600, retry 600, expire 2147483646, minimum 0, as knotd's generated catalogs:
	 * nothing answers from a catalog, so only the transfer timers matter. */
	uint32_t t[5] = {serial, 3600, 600, 2147483646u, 0};
	for (int i = 0; i < 5; i++)
		wire_write32(soa + 18 + 4 * i, t[i]);
	static const uint8_t two[] = {1, '2'};
	uint8_t vname[DNAME_MAXLEN];
	if (apex_len + 8 > DNAME_MAXLEN) {
		us_errf(err, errlen, "catalog name too long");
		ret = US_EINVAL;
		goto cleanup;
	}
	vname[0] = 7;
	memcpy(vname + 1, "version", 7);
	memcpy(vname + 8, apex, apex_len);
	if ((ret = add(b, apex, WIRE_T_SOA, soa, sizeof(soa))) != 0 ||
	    (ret = add(b, apex, WIRE_T_NS, invalid, sizeof(invalid))) != 0 ||
	    (ret = add(b, vname, WIRE_T_TXT, two, sizeof(two))) != 0)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const catalog_entry_t *e = &entries[i];
		char id[CATALOG_ID_MAX + 1];
		uint8_t owner[DNAME_MAXLEN];
		size_t il = 16;
		if (e->id && (e->id_len < 1 || e->id_len > CATALOG_ID_MAX)) {
			us_errf(err, errlen, "a member ID of %zu bytes", e->id_len);
			ret = US_EINVAL;
			goto cleanup;
		}
		if (e->id) {
			memcpy(id, e->id, e->id_len);
			il = e->id_len;
		} else {
			catalog_member_id(e->name, e->name_len, id);
		}
		size_t ol = member_owner(NULL, id, il, apex, apex_len, owner);
		if (!ol) {
			us_errf(err, errlen, "catalog name too long for its members");
			ret = US_EINVAL;
			goto cleanup;
		}
		if ((ret = add(b, owner, WIRE_T_PTR, e->name, e->name_len)) != 0)
			goto cleanup;
		if (!e->group)
			continue;
		size_t gl = strlen(e->group);
		uint8_t txt[1 + CATALOG_GROUP_MAX];
		if (gl > CATALOG_GROUP_MAX ||
		    !(ol = member_owner("group", id, il, apex, apex_len, owner))) {
			dname_to_text(e->name, text, sizeof(text));
			us_errf(err, errlen, "%s: group name too long", text);
			ret = US_EINVAL;
			goto cleanup;
		}
		txt[0] = (uint8_t)gl;
		memcpy(txt + 1, e->group, gl);
		if ((ret = add(b, owner, WIRE_T_TXT, txt, 1 + gl)) != 0)
			goto cleanup;
	}
	ret = zone_builder_finish(b, out);
	if (ret == US_EZONE)
		us_errf(err, errlen, "%s", msg[0] ? msg : "the generated catalog fails a check");
cleanup:
	zone_builder_free(b);
	free(ids);
	return ret;
}
