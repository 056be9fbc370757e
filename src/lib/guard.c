/* SPDX-License-Identifier: MIT */
/* guard: what a new version of a zone takes away from the one served, for the change guard. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "guard.h"
#include "wire.h"
#include "zonediff.h"

/* True if the RRset holds a record with this rdata; a linear scan, as this path is cold. */
static bool rrset_has(const zone_rrset_t *rs, const uint8_t *rd, uint16_t len, bool names)
{
	if (!rs || !rs->rdata_len)
		return false;
	uint32_t off = 0;
	do {
		const uint8_t *r = rs->rdata + off;
		if (names ? dname_equal(r + 2, rd)
		          : wire_read16(r) == len && (len == 0 || memcmp(r + 2, rd, len) == 0))
			return true;
	} while ((off = zone_rr_next(rs, off)) != 0);
	return false;
}

/* True if no record of a's RRset is in b's (NS: their names, ignoring case). */
static bool replaced(const zone_rrset_t *a, const zone_rrset_t *b, bool names)
{
	if (!a || !a->rdata_len)
		return false;
	uint32_t off = 0;
	do {
		const uint8_t *r = a->rdata + off;
		if (rrset_has(b, r + 2, wire_read16(r), names))
			return false;
	} while ((off = zone_rr_next(a, off)) != 0);
	return true;
}

static bool zone_has(const zone_t *z, const zone_rr_t *rr)
{
	uint8_t lname[DNAME_MAXLEN];
	size_t len = dname_len(rr->owner);
	dname_lower(lname, rr->owner, len);
	const zone_node_t *n = zone_find(z, lname, len);
	return n && rrset_has(zone_node_rrset(n, rr->type), rr->rdata, rr->rdlen, false);
}

int guard_judge(const zone_t *old, const zone_t *nz, const zone_changeset_t *cs, arena_t *arena,
                guard_change_t *out)
{
	zone_changeset_t net;
	int ret = cs ? zonediff_condense(cs, arena, &net) : zonediff_compute(old, nz, arena, &net);
	if (ret)
		return ret;
	guard_change_t c = {.records = old->nrecords};
	for (const zone_diff_t *d = net.first; d; d = d->next)
		for (const zone_rr_t *rr = d->removed; rr; rr = rr->next)
			c.removed += !zone_has(nz, rr);
	const zone_node_t *oa = zone_find(old, old->apex, old->apex_len);
	const zone_node_t *na = zone_find(nz, nz->apex, nz->apex_len);
	if (oa && na) {
		c.ns_replaced =
		    replaced(zone_node_rrset(oa, WIRE_T_NS), zone_node_rrset(na, WIRE_T_NS), true);
		c.dnskey_replaced = replaced(zone_node_rrset(oa, WIRE_T_DNSKEY),
		                             zone_node_rrset(na, WIRE_T_DNSKEY), false);
	}
	*out = c;
	return 0;
}

bool guard_holds(const guard_change_t *c, int max_removed_pct, bool apex, char *why, size_t whylen)
{
	const char *what = NULL;
	char share[96];
	if (apex && c->ns_replaced)
		what = "it replaces the apex NS set whole";
	else if (apex && c->dnskey_replaced)
		what = "it removes every apex DNSKEY";
	else if (max_removed_pct > 0 && c->records &&
	         c->removed * 100 > (uint64_t)max_removed_pct * c->records) {
		snprintf(
		    share, sizeof(share),
		    "it removes %llu of %llu records (%llu%%, more than guard-max-removed %d%%)",
		    (unsigned long long)c->removed, (unsigned long long)c->records,
		    (unsigned long long)(c->removed * 100 / c->records), max_removed_pct);
		what = share;
	}
	if (what && whylen)
		snprintf(why, whylen, "%s", what);
	return what != NULL;
}
