/* SPDX-License-Identifier: MIT */
/* answer: authoritative query processing (RFC 1034 4.3.2 with RFC 2308, 4592, 6672, 6891). */
#include <string.h>

#include "answer.h"
#include "dnssec.h"
#include "error.h"
#include "tsig.h"
#include "wire.h"

#define CHAIN_MAX 16 /* CNAME/DNAME hops followed before the answer is cut short */
#define ADDL_MAX  32 /* names whose addresses may go in the additional section */
#define PROOF_MAX 8  /* NSEC/NSEC3 RRsets of one answer: at most 3 per name, with chains */
#define EDE_SIZE  6  /* an EDE option without EXTRA-TEXT: code, length, INFO-CODE */

typedef struct addl_req {
	const uint8_t *name;    /* target name as it stands in zone rdata */
	const zone_node_t *cut; /* the delegation a referral's glue belongs to, or NULL */
} addl_req_t;

typedef struct qctx {
	const answer_conf_t *conf;
	const zonedb_t *db;
	wire_writer_t w;
	uint16_t qtype;
	uint16_t flags;
	uint16_t rcode; /* extended: the header keeps the low 4 bits, the OPT the rest */
	uint16_t an, ns, ar;
	bool edns, dobit, nsid, expire;
	bool keepalive_asked; /* the query carries edns-tcp-keepalive, empty (RFC 7828 3.2.1) */
	uint16_t keepalive;   /* the idle timeout our OPT signals, when keepalive_out */
	bool keepalive_out;
	const uint8_t *cookie; /* the query's COOKIE option data, cookie_len bytes */
	uint16_t cookie_len;
	bool cookie_out; /* the reply carries cookie_reply */
	uint8_t cookie_reply[COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN]; /* client + server cookie */
	bool stale;                /* EDE 3, Stale Answer, goes in the OPT (room kept for it) */
	const zonedb_slot_t *slot; /* the zone answering, once known */
	bool tsig;         /* signed: answered BADKEY here, verified by the caller if it has keys */
	tsig_rr_t tsig_rr; /* borrows from the query */
	const zone_t *zone;
	addl_req_t addl[ADDL_MAX];
	int naddl;
	const zone_node_t *seen[CHAIN_MAX];
	int nseen;
	uint8_t lname[DNAME_MAXLEN];
	uint8_t offs[DNAME_MAXLABELS];
	int nlabels;
	size_t len;
	uint8_t synth[2][DNAME_MAXLEN]; /* names built by DNAME substitution, alternately */
	uint8_t wild[DNAME_MAXLEN];
	const dnssec_index_t *dnssec; /* the zone's chains when DO is set and it is signed */
	const zone_node_t *proofs[PROOF_MAX]; /* denial RRsets already in the answer */
	int nproofs;
} qctx_t;

/* Makes name the current one: lower-cased, measured and split into labels. */
static void set_name(qctx_t *c, const uint8_t *name)
{
	c->len = dname_len(name);
	dname_lower(c->lname, name, c->len);
	c->nlabels = dname_label_offsets(c->lname, c->offs);
}

/* Appends a whole RRset to the current section, or nothing and TC when it does not fit. */
static int put_rrset(qctx_t *c, const uint8_t *owner, const zone_rrset_t *rs, uint16_t *count)
{
	wire_mark_t m = wire_mark(&c->w);
	for (uint32_t off = 0;;) {
		const uint8_t *rr = rs->rdata + off;
		int ret = wire_put_rr(&c->w, owner, rs->type, WIRE_CLASS_IN, rs->ttl, rr + 2,
		                      wire_read16(rr));
		if (ret) {
			wire_rollback(&c->w, m);
			c->flags |= WIRE_TC;
			return ret;
		}
		off = zone_rr_next(rs, off);
		if (!off)
			break;
	}
	*count += rs->count;
	return 0;
}

/*
 * Appends an RRset of node n and, when DO is set, the RRSIGs at n that cover it (RFC 4035
 * 3.1.1), all or nothing: a signed RRset without its signatures fails validation, so when they
 * do not fit the reply is truncated instead. ttl overrides the RRset's own (negative SOA).
 */
static int put_signed_ttl(qctx_t *c, const uint8_t *owner, const zone_node_t *n,
                          const zone_rrset_t *rs, uint32_t ttl, uint16_t *count)
{
	wire_mark_t m = wire_mark(&c->w);
	uint16_t before = *count;
	zone_rrset_t copy = *rs;
	copy.ttl = ttl;
	int ret = put_rrset(c, owner, &copy, count);
	const zone_rrset_t *sigs = c->dobit && n ? zone_node_rrset(n, WIRE_T_RRSIG) : NULL;
	if (ret || !sigs || rs->type == WIRE_T_RRSIG)
		return ret;
	for (uint32_t off = 0;;) {
		const uint8_t *rr = sigs->rdata + off;
		/* The builder checked every RRSIG holds its fixed fields (dnssec.c). */
		if (wire_read16(rr + 2) == rs->type) {
			ret = wire_put_rr(&c->w, owner, WIRE_T_RRSIG, WIRE_CLASS_IN, ttl, rr + 2,
			                  wire_read16(rr));
			if (ret) {
				wire_rollback(&c->w, m);
				*count = before;
				c->flags |= WIRE_TC;
				return ret;
			}
			(*count)++;
		}
		off = zone_rr_next(sigs, off);
		if (!off)
			return 0;
	}
}

static int put_signed(qctx_t *c, const uint8_t *owner, const zone_node_t *n, const zone_rrset_t *rs,
                      uint16_t *count)
{
	return put_signed_ttl(c, owner, n, rs, rs->ttl, count);
}

/* Answers QTYPE=RRSIG: every signature at the node, each with its covered RRset's TTL. */
static void put_all_sigs(qctx_t *c, const uint8_t *owner, const zone_node_t *n,
                         const zone_rrset_t *sigs)
{
	wire_mark_t m = wire_mark(&c->w);
	uint16_t before = c->an;
	for (uint32_t off = 0;;) {
		const uint8_t *rr = sigs->rdata + off;
		if (wire_put_rr(&c->w, owner, WIRE_T_RRSIG, WIRE_CLASS_IN, zone_rr_ttl(n, sigs, rr),
		                rr + 2, wire_read16(rr))) {
			wire_rollback(&c->w, m);
			c->an = before;
			c->flags |= WIRE_TC;
			return;
		}
		c->an++;
		off = zone_rr_next(sigs, off);
		if (!off)
			return;
	}
}

/* Remembers the names in an RRset whose addresses belong in the additional section. */
static void want_addl(qctx_t *c, const zone_rrset_t *rs, const zone_node_t *cut)
{
	size_t at;
	switch (rs->type) {
	case WIRE_T_NS:
		at = 0;
		break;
	case WIRE_T_MX:
		at = 2;
		break;
	case WIRE_T_SRV:
		at = 6;
		break;
	default:
		return;
	}
	for (uint32_t off = 0; c->naddl < ADDL_MAX;) {
		c->addl[c->naddl++] = (addl_req_t){rs->rdata + off + 2 + at, cut};
		off = zone_rr_next(rs, off);
		if (!off)
			break;
	}
}

/*
 * Adds A and AAAA for the remembered names that this zone holds. Glue below the delegation
 * of a referral is required (RFC 9471): when it does not fit, the reply is truncated. Other
 * addresses are a courtesy and are simply left out when there is no room.
 */
static void put_addl(qctx_t *c)
{
	const zone_t *z = c->zone;
	const zone_node_t *done[ADDL_MAX];
	int ndone = 0;
	for (int i = 0; i < c->naddl; i++) {
		const addl_req_t *r = &c->addl[i];
		uint8_t lt[DNAME_MAXLEN];
		size_t len = dname_len(r->name);
		dname_lower(lt, r->name, len);
		if (!dname_is_sub(lt, z->apex))
			continue;
		const zone_node_t *n = zone_find(z, lt, len);
		if (!n || ((n->flags & ZONE_NODE_OCCLUDED) && !r->cut))
			continue;
		bool dup = false;
		for (int j = 0; j < ndone; j++)
			dup |= done[j] == n;
		if (dup)
			continue;
		done[ndone++] = n;
		bool required = r->cut && dname_is_sub(lt, r->cut->name);
		static const uint16_t types[] = {WIRE_T_A, WIRE_T_AAAA};
		for (int t = 0; t < 2; t++) {
			const zone_rrset_t *rs = zone_node_rrset(n, types[t]);
			if (!rs)
				continue;
			uint16_t flags = c->flags;
			if (put_signed(c, n->name, n, rs, &c->ar) && !required)
				c->flags = flags;
		}
	}
}

/* The SOA that proves a negative answer (RFC 2308 3), with its TTL capped by MINIMUM. */
static void put_negative(qctx_t *c)
{
	const zone_t *z = c->zone;
	const zone_node_t *apex = c->dnssec ? zone_find(z, z->apex, z->apex_len) : NULL;
	put_signed_ttl(c, z->apex, apex, z->soa, z->neg_ttl, &c->ns);
}

/* ---- denial of existence (RFC 4035 3.1.3, RFC 5155 7.2) ---- */

/* Adds the NSEC or NSEC3 RRset at n with its signatures, once per answer. */
static void put_proof(qctx_t *c, const zone_node_t *n, uint16_t type)
{
	if (!n)
		return;
	for (int i = 0; i < c->nproofs; i++)
		if (c->proofs[i] == n)
			return;
	const zone_rrset_t *rs = zone_node_rrset(n, type);
	if (!rs || c->nproofs == PROOF_MAX)
		return;
	c->proofs[c->nproofs++] = n;
	put_signed(c, n->name, n, rs, &c->ns);
}

/* The NSEC covering "*.ce": no wildcard could have answered (RFC 4035 3.1.3.2). */
static void put_nsec_wild_cover(qctx_t *c, const zone_node_t *ce)
{
	if (ce->name_len + 2 > DNAME_MAXLEN)
		return;
	c->wild[0] = 1;
	c->wild[1] = '*';
	memcpy(c->wild + 2, ce->name, ce->name_len);
	put_proof(c, dnssec_nsec_cover(c->dnssec, c->wild), WIRE_T_NSEC);
}

/* The NSEC3 covering the next closer name of the current name below ce (RFC 5155 7.2.1). */
static void put_nsec3_next_closer(qctx_t *c, const zone_node_t *ce)
{
	for (int i = 1; i < c->nlabels; i++) {
		if (c->len - c->offs[i] == ce->name_len) {
			size_t at = c->offs[i - 1];
			put_proof(c, dnssec_nsec3_cover(c->dnssec, c->lname + at, c->len - at),
			          WIRE_T_NSEC3);
			return;
		}
	}
}

/*
 * The current name does not exist; ce is its closest encloser. NSEC: one covering the name and
 * one covering the wildcard at ce. NSEC3: the closest (provable) encloser, the next closer
 * name's cover and the wildcard's cover (RFC 5155 7.2.2).
 */
static void prove_nxdomain(qctx_t *c, const zone_node_t *ce)
{
	if (dnssec_has_nsec(c->dnssec)) {
		put_proof(c, dnssec_nsec_cover(c->dnssec, c->lname), WIRE_T_NSEC);
		put_nsec_wild_cover(c, ce);
	} else if (dnssec_has_nsec3(c->dnssec)) {
		const dnssec_n3_t *e = dnssec_nsec3_of(c->dnssec, ce);
		if (!e)
			return;
		put_proof(c, e->encloser, WIRE_T_NSEC3);
		if (e->match)
			put_nsec3_next_closer(c, ce);
		else
			put_proof(c, e->next_cover, WIRE_T_NSEC3);
		put_proof(c, e->wild_cover, WIRE_T_NSEC3);
	}
}

/*
 * Node n has no data of the type asked; wildce is the closest encloser when n is the wildcard
 * that stands in for the current name. Without a matching NSEC3 (opt-out, RFC 5155 7.2.4) the
 * closest provable encloser proof shows the name is in an insecure span.
 */
static void prove_nodata(qctx_t *c, const zone_node_t *n, const zone_node_t *wildce)
{
	if (dnssec_has_nsec(c->dnssec)) {
		if (zone_node_rrset(n, WIRE_T_NSEC))
			put_proof(c, n, WIRE_T_NSEC);
		else /* an empty non-terminal: the NSEC before it shows a name below */
			put_proof(c, dnssec_nsec_cover(c->dnssec, c->lname), WIRE_T_NSEC);
		if (wildce)
			put_proof(c, dnssec_nsec_cover(c->dnssec, c->lname), WIRE_T_NSEC);
	} else if (dnssec_has_nsec3(c->dnssec)) {
		const dnssec_n3_t *e = dnssec_nsec3_of(c->dnssec, n);
		if (!e)
			return;
		if (wildce) { /* RFC 5155 7.2.5 */
			const dnssec_n3_t *ce = dnssec_nsec3_of(c->dnssec, wildce);
			if (ce)
				put_proof(c, ce->encloser, WIRE_T_NSEC3);
			put_nsec3_next_closer(c, wildce);
			put_proof(c, e->match, WIRE_T_NSEC3);
		} else if (e->match) {
			put_proof(c, e->match, WIRE_T_NSEC3);
		} else {
			put_proof(c, e->encloser, WIRE_T_NSEC3);
			put_proof(c, e->next_cover, WIRE_T_NSEC3);
		}
	}
}

/* A wildcard answered for the current name: prove the name itself does not exist. */
static void prove_wildcard(qctx_t *c, const zone_node_t *ce)
{
	if (dnssec_has_nsec(c->dnssec))
		put_proof(c, dnssec_nsec_cover(c->dnssec, c->lname), WIRE_T_NSEC);
	else if (dnssec_has_nsec3(c->dnssec)) /* RFC 5155 7.2.6 */
		put_nsec3_next_closer(c, ce);
}

static void put_referral(qctx_t *c, const zone_node_t *cut)
{
	/* AA speaks for the first owner in the answer; a bare referral has none of ours. */
	if (c->an == 0)
		c->flags &= ~WIRE_AA;
	const zone_rrset_t *ns = zone_node_rrset(cut, WIRE_T_NS);
	if (put_rrset(c, cut->name, ns, &c->ns) == 0)
		want_addl(c, ns, cut);
	if (!c->dnssec)
		return;
	/* The child is signed (DS) or provably not (RFC 4035 3.1.4, RFC 5155 7.2.7). */
	const zone_rrset_t *ds = zone_node_rrset(cut, WIRE_T_DS);
	if (ds)
		put_signed(c, cut->name, cut, ds, &c->ns);
	else
		prove_nodata(c, cut, NULL);
}

/*
 * Substitutes the DNAME at cut into qname (RFC 6672 2.2), writing the DNAME and the CNAME it
 * implies. Returns the new name, or NULL when the answer ends here (YXDOMAIN or no room).
 */
static const uint8_t *put_dname(qctx_t *c, const uint8_t *qname, const zone_node_t *cut, int hop)
{
	const zone_rrset_t *dn = zone_node_rrset(cut, WIRE_T_DNAME);
	if (put_signed(c, cut->name, cut, dn, &c->an))
		return NULL;
	const uint8_t *target = dn->rdata + 2;
	size_t prefix = c->len - cut->name_len, tlen = dname_len(target);
	if (prefix + tlen > DNAME_MAXLEN) {
		c->rcode = WIRE_RCODE_YXDOMAIN;
		return NULL;
	}
	uint8_t *name = c->synth[hop & 1];
	memcpy(name, qname, prefix);
	memcpy(name + prefix, target, tlen);
	wire_mark_t m = wire_mark(&c->w);
	if (wire_put_rr(&c->w, qname, WIRE_T_CNAME, WIRE_CLASS_IN, dn->ttl, name,
	                (uint16_t)(prefix + tlen))) {
		wire_rollback(&c->w, m);
		c->flags |= WIRE_TC;
		return NULL;
	}
	c->an++;
	return name;
}

/*
 * Notes that the chain passes node n (a CNAME's owner, a DNAME's, or the answer's). False when
 * it passed n before: a loop, and what is in the answer already says it all. So a DNAME goes
 * into an answer once (RFC 2181 5: one RRset once), however often the chain would apply it;
 * a resolver applies it again itself, as to a DNAME whose target lies below it. nsd stops
 * there too; knotd also stops at a name it has seen, but goes on through a DNAME seen before.
 */
static bool visit(qctx_t *c, const zone_node_t *n)
{
	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i] == n)
			return false;
	c->seen[c->nseen++] = n;
	return true;
}

/*
 * Answers from an existing node, or from the wildcard n standing in for qname below wildce.
 * Returns the CNAME target to follow, or NULL when the answer is complete.
 */
static const uint8_t *answer_node(qctx_t *c, const uint8_t *owner, const zone_node_t *n,
                                  const zone_node_t *wildce)
{
	if (!visit(c, n))
		return NULL;

	const zone_rrset_t *rs = NULL;
	if (c->qtype == WIRE_T_ANY) {
		/* RFC 8482 4.1: one RRset is a complete answer to ANY, and keeps it small. */
		rs = n->nrrsets ? &n->rrsets[0] : NULL;
	} else {
		rs = zone_node_rrset(n, c->qtype);
	}
	if (rs && rs->type == WIRE_T_RRSIG) {
		put_all_sigs(c, owner, n, rs);
		if (wildce && c->dnssec)
			prove_wildcard(c, wildce);
		return NULL;
	}
	if (rs) {
		if (put_signed(c, owner, n, rs, &c->an) == 0)
			want_addl(c, rs, NULL);
		if (wildce && c->dnssec)
			prove_wildcard(c, wildce);
		return NULL;
	}
	const zone_rrset_t *cname = zone_node_rrset(n, WIRE_T_CNAME);
	if (cname) {
		if (put_signed(c, owner, n, cname, &c->an))
			return NULL;
		if (wildce && c->dnssec)
			prove_wildcard(c, wildce);
		return cname->rdata + 2;
	}
	put_negative(c);
	if (c->dnssec)
		prove_nodata(c, n, wildce);
	return NULL;
}

/* Answers class IN, and class ANY the same way but without AA: our data is only class IN,
 * which cannot be an authoritative answer for every class (RFC 6895 3.2, as nsd does). */
static void answer_in(qctx_t *c, const uint8_t *qname, bool any_class)
{
	const zonedb_slot_t *slot = zonedb_find(c->db, c->lname, c->len, c->offs, c->nlabels, 0);
	if (slot && c->qtype == WIRE_T_DS && slot->apex_len == c->len) {
		/* DS lives on the parent side of the cut (RFC 4035 3.1.4.1). */
		const zonedb_slot_t *parent =
		    zonedb_find(c->db, c->lname, c->len, c->offs, c->nlabels, 1);
		if (parent)
			slot = parent;
	}
	if (!slot) {
		c->rcode = WIRE_RCODE_REFUSED;
		return;
	}
	c->slot = slot;
	c->zone = zonedb_zone(slot);
	if (!c->zone) {
		c->rcode = WIRE_RCODE_SERVFAIL;
		return;
	}
	/* A copy served past its expiry says so in every answer (RFC 8914 4.4), the room for the
	 * option kept back before anything is rendered. One relaxed load: no lock, no fence. */
	if (c->edns && __atomic_load_n(&slot->stale, __ATOMIC_RELAXED) &&
	    c->w.limit >= c->w.len + EDE_SIZE) {
		c->stale = true;
		c->w.limit -= EDE_SIZE;
	}
	c->dnssec = c->dobit ? c->zone->dnssec : NULL;
	if (!any_class)
		c->flags |= WIRE_AA;

	for (int hop = 0; qname && hop < CHAIN_MAX; hop++) {
		const zone_t *z = c->zone;
		if (hop) {
			set_name(c, qname);
			/* Chains are followed only inside the zone they start in, as knotd and nsd
			 * do: the rest is the resolver's work and may need another server's data.
			 */
			if (!dname_is_sub(c->lname, z->apex))
				break;
		}
		zone_lookup_t lk;
		zone_lookup(z, c->lname, c->len, c->offs, c->nlabels, &lk);
		if (z->dnssec && dnssec_nsec3_owner_only(z->dnssec, lk.encloser)) {
			/* Hashed owner names are not names of the zone (RFC 5155 7.2.8); they sit
			 * right below the apex. */
			lk.node = NULL;
			lk.encloser = zone_find(z, z->apex, z->apex_len);
		}
		if (lk.cut && (lk.cut->flags & ZONE_NODE_DELEG) &&
		    !(c->qtype == WIRE_T_DS && lk.cut == lk.node)) {
			put_referral(c, lk.cut);
			break;
		}
		if (lk.cut && lk.cut != lk.node) {
			if (!visit(c, lk.cut))
				break;
			qname = put_dname(c, qname, lk.cut, hop);
			/* The synthesized CNAME is what was asked for (RFC 6672 3.2, RFC 1034
			 * 4.3.2 step 3a). */
			if (c->qtype == WIRE_T_CNAME)
				break;
			continue;
		}
		const zone_node_t *n = lk.node;
		if (!n && (lk.encloser->flags & ZONE_NODE_WILDCHILD)) {
			c->wild[0] = 1;
			c->wild[1] = '*';
			memcpy(c->wild + 2, lk.encloser->name, lk.encloser->name_len);
			n = zone_find(z, c->wild, lk.encloser->name_len + 2);
		}
		if (!n) {
			c->rcode = WIRE_RCODE_NXDOMAIN;
			put_negative(c);
			if (c->dnssec)
				prove_nxdomain(c, lk.encloser);
			break;
		}
		qname = answer_node(c, qname, n, n == lk.node ? NULL : lk.encloser);
	}
	if (c->naddl)
		put_addl(c);
}

static bool name_is(const uint8_t *lname, const char *wire)
{
	return strcmp((const char *)lname, wire) == 0;
}

/* CHAOS TXT identity and version queries, answered from the configuration. */
static void answer_chaos(qctx_t *c)
{
	const char *text = NULL;
	if (name_is(c->lname, "\7version\4bind") || name_is(c->lname, "\7version\6server"))
		text = c->conf->version;
	else if (name_is(c->lname, "\2id\6server") || name_is(c->lname, "\10hostname\4bind"))
		text = c->conf->identity;
	if (!text || !*text || (c->qtype != WIRE_T_TXT && c->qtype != WIRE_T_ANY)) {
		c->rcode = WIRE_RCODE_REFUSED;
		return;
	}
	uint8_t rd[256];
	size_t n = strlen(text);
	if (n > 255)
		n = 255;
	rd[0] = (uint8_t)n;
	memcpy(rd + 1, text, n);
	/* No AA: this is not zone data, and knotd and nsd do not claim authority for it. */
	if (wire_put_rr(&c->w, c->w.pkt + WIRE_HDR_LEN, WIRE_T_TXT, WIRE_CLASS_CH, 0, rd,
	                (uint16_t)(n + 1)) == 0)
		c->an = 1;
}

/* Skips one resource record at *pos; false when it is malformed. */
static bool skip_rr(const uint8_t *q, size_t qlen, size_t *pos, uint8_t *owner, size_t *olen,
                    const uint8_t **rr)
{
	if (dname_unpack(q, qlen, pos, owner, olen) < 0 || *pos + 10 > qlen)
		return false;
	*rr = q + *pos;
	size_t rdlen = wire_read16(q + *pos + 8);
	if (*pos + 10 + rdlen > qlen)
		return false;
	*pos += 10 + rdlen;
	return true;
}

/* Reads the OPT record (RFC 6891 6.1); false when it is malformed. */
static bool read_opt(qctx_t *c, const uint8_t *rr, uint16_t *udp, uint8_t *version)
{
	*udp = wire_read16(rr + 2);
	*version = rr[5];
	c->dobit = (rr[6] & 0x80) != 0;
	size_t rdlen = wire_read16(rr + 8);
	const uint8_t *o = rr + 10;
	for (size_t p = 0; p < rdlen;) {
		if (p + 4 > rdlen)
			return false;
		uint16_t code = wire_read16(o + p), len = wire_read16(o + p + 2);
		if (p + 4 + len > rdlen)
			return false;
		if (code == WIRE_EDNS_NSID)
			c->nsid = true;
		else if (code == WIRE_EDNS_EXPIRE)
			c->expire = true;
		else if (code == WIRE_EDNS_KEEPALIVE && len == 0)
			c->keepalive_asked = true;
		else if (code == WIRE_EDNS_COOKIE && !c->cookie) {
			c->cookie = o + p + 4;
			c->cookie_len = len;
		}
		p += 4 + (size_t)len;
	}
	return true;
}

/*
 * Parses everything after the question. Returns the rcode to answer with when the query
 * is malformed, or 0.
 */
static int parse_rest(qctx_t *c, const uint8_t *q, size_t qlen, size_t pos, uint16_t *udp,
                      uint8_t *version)
{
	unsigned an = wire_read16(q + WIRE_ANCOUNT), ns = wire_read16(q + WIRE_NSCOUNT);
	unsigned ar = wire_read16(q + WIRE_ARCOUNT);
	uint8_t owner[DNAME_MAXLEN];
	size_t olen;
	const uint8_t *rr;
	for (unsigned i = 0; i < an + ns + ar; i++) {
		if (!skip_rr(q, qlen, &pos, owner, &olen, &rr))
			return WIRE_RCODE_FORMERR;
		if (wire_read16(rr) == WIRE_T_TSIG) {
			/* The last record, in the additional section (RFC 8945 5.1). */
			if (i != an + ns + ar - 1 || i < an + ns ||
			    tsig_find(q, qlen, &c->tsig_rr) != 1)
				return WIRE_RCODE_FORMERR;
			c->tsig = true;
			continue;
		}
		if (wire_read16(rr) != WIRE_T_OPT)
			continue;
		/* One OPT, owned by the root, in the additional section only. */
		if (i < an + ns || c->edns || olen != 1)
			return WIRE_RCODE_FORMERR;
		c->edns = true;
		if (!read_opt(c, rr, udp, version))
			return WIRE_RCODE_FORMERR;
	}
	return pos == qlen ? 0 : WIRE_RCODE_FORMERR;
}

/* Copies the question (header end to qend) into the response, as the client wrote it. */
static void put_question(qctx_t *c, const uint8_t *q, size_t qend)
{
	memcpy(c->w.pkt + WIRE_HDR_LEN, q + WIRE_HDR_LEN, qend - WIRE_HDR_LEN);
	c->w.len = qend;
	wire_write16(c->w.pkt + WIRE_QDCOUNT, 1);
	wire_remember_name(&c->w, WIRE_HDR_LEN);
}

/*
 * The transfers the server does not take over from here (it serves AXFR and IXFR of class IN
 * itself, see xfrout): AXFR over UDP is not a thing (RFC 5936 4.2: NOTIMP, as knotd and nsd
 * say); a transfer of a name that is no zone apex gets NOTAUTH as from both of them, and the
 * rest (other classes) REFUSED.
 */
static void refuse_transfer(qctx_t *c, bool tcp)
{
	const zonedb_slot_t *slot = zonedb_find(c->db, c->lname, c->len, c->offs, c->nlabels, 0);
	if (c->qtype == WIRE_T_AXFR && !tcp)
		c->rcode = WIRE_RCODE_NOTIMP;
	else if (!slot || slot->apex_len != c->len)
		c->rcode = WIRE_RCODE_NOTAUTH;
	else
		c->rcode = WIRE_RCODE_REFUSED;
}

/* Room the OPT record takes: kept back from the start so it always fits. */
static size_t opt_size(const qctx_t *c)
{
	size_t nsid = c->nsid && c->conf->nsid ? 4 + (size_t)c->conf->nsid_len : 0;
	return 11 + nsid + (c->expire ? 8 : 0) + (c->keepalive_out ? 6 : 0) +
	       (c->cookie_out ? 4 + sizeof(c->cookie_reply) : 0);
}

/*
 * Reads the query's COOKIE option when cookies are on: FORMERR (false) when it is malformed,
 * otherwise the reply gets the client cookie and our server cookie, the one the client sent when
 * it is still fresh, else a new one (RFC 9018 4.3).
 */
static bool read_cookie(qctx_t *c, const cookie_secrets_t *secrets, const answer_client_t *client,
                        answer_info_t *info)
{
	const uint8_t *cc, *sc;
	size_t sclen;
	if (cookie_parse(c->cookie, c->cookie_len, &cc, &sc, &sclen) != 0) {
		info->cookie = COOKIE_BAD;
		return false;
	}
	uint32_t now = __atomic_load_n(&c->conf->wall, __ATOMIC_RELAXED);
	bool reuse;
	info->cookie =
	    cookie_check(secrets, cc, sc, sclen, client->family, client->addr, now, &reuse);
	memcpy(c->cookie_reply, cc, COOKIE_CLIENT_LEN);
	if (reuse)
		memcpy(c->cookie_reply + COOKIE_CLIENT_LEN, sc, COOKIE_SERVER_LEN);
	else
		cookie_make(secrets->current, cc, client->family, client->addr, now,
		            c->cookie_reply + COOKIE_CLIENT_LEN);
	c->cookie_out = true;
	return true;
}

/*
 * RFC 7314: how long our copy stays valid. A secondary counts down from its own expiry so a
 * chain of backups never stretches it; a primary says its SOA expire.
 */
uint32_t answer_expire(const answer_conf_t *conf, const zonedb_slot_t *slot, const zone_t *z)
{
	uint32_t at = __atomic_load_n(&slot->expire_at, __ATOMIC_RELAXED);
	if (__atomic_load_n(&slot->stale, __ATOMIC_RELAXED))
		return 0; /* expired, and served all the same: no time left to promise */
	if (at) {
		uint32_t now = __atomic_load_n(&conf->now, __ATOMIC_RELAXED);
		return at > now ? at - now : 0;
	}
	const uint8_t *rd = z->soa->rdata + 2;
	size_t p = dname_len(rd);
	p += dname_len(rd + p);
	return wire_read32(rd + p + 12);
}

static bool expire_value(const qctx_t *c, uint32_t *out)
{
	if (!c->expire || !c->slot || !c->zone || !(c->flags & WIRE_AA))
		return false;
	*out = answer_expire(c->conf, c->slot, c->zone);
	return true;
}

static size_t finish(qctx_t *c)
{
	wire_writer_t *w = &c->w;
	if (c->edns) {
		size_t nsid = c->nsid && c->conf->nsid ? c->conf->nsid_len : 0;
		uint32_t expire;
		bool has_expire = expire_value(c, &expire);
		/* The room kept back: the OPT's, and the EDE's that answer_in took off. */
		w->limit += opt_size(c) + (c->stale ? EDE_SIZE : 0);
		uint8_t opt[11] = {
		    0, 0, WIRE_T_OPT, 0, 0, (uint8_t)(c->rcode >> 4), 0, c->dobit ? 0x80 : 0,
		    0, 0, 0};
		wire_write16(opt + 3, c->conf->max_udp);
		wire_write16(opt + 9,
		             (uint16_t)((nsid ? 4 + nsid : 0) + (has_expire ? 8 : 0) +
		                        (c->keepalive_out ? 6 : 0) + (c->stale ? EDE_SIZE : 0) +
		                        (c->cookie_out ? 4 + sizeof(c->cookie_reply) : 0)));
		wire_put(w, opt, sizeof(opt));
		if (nsid) {
			wire_put16(w, WIRE_EDNS_NSID);
			wire_put16(w, (uint16_t)nsid);
			wire_put(w, c->conf->nsid, nsid);
		}
		if (has_expire) {
			wire_put16(w, WIRE_EDNS_EXPIRE);
			wire_put16(w, 4);
			wire_put32(w, expire);
		}
		if (c->keepalive_out) {
			wire_put16(w, WIRE_EDNS_KEEPALIVE);
			wire_put16(w, 2);
			wire_put16(w, c->keepalive);
		}
		if (c->cookie_out) {
			wire_put16(w, WIRE_EDNS_COOKIE);
			wire_put16(w, sizeof(c->cookie_reply));
			wire_put(w, c->cookie_reply, sizeof(c->cookie_reply));
		}
		if (c->stale) {
			wire_put16(w, WIRE_EDNS_EDE);
			wire_put16(w, 2);
			wire_put16(w, WIRE_EDE_STALE_ANSWER);
		}
		c->ar++;
	}
	uint8_t *h = w->pkt;
	wire_write16(h + WIRE_FLAGS, (uint16_t)(c->flags | (c->rcode & 0xF)));
	wire_write16(h + WIRE_ANCOUNT, c->an);
	wire_write16(h + WIRE_NSCOUNT, c->ns);
	wire_write16(h + WIRE_ARCOUNT, c->ar);
	size_t out;
	/* Unsigned BADKEY (RFC 8945 5.3.2): the response is a header, question and OPT, so this
	 * room is there in any buffer answer_query may be given. */
	if (c->tsig && tsig_answer_error(NULL, &c->tsig_rr, TSIG_ERR_BADKEY, w->pkt, w->len,
	                                 w->len + 16 + 2 * DNAME_MAXLEN + 10, 0, &out) == 0)
		w->len = out;
	return w->len;
}

size_t answer_query(const answer_conf_t *conf, const zonedb_t *db, const uint8_t *q, size_t qlen,
                    uint8_t *resp, bool tcp, answer_info_t *info)
{
	return answer_query_room(conf, db, q, qlen, resp, tcp, 0, info);
}

size_t answer_query_room(const answer_conf_t *conf, const zonedb_t *db, const uint8_t *q,
                         size_t qlen, uint8_t *resp, bool tcp, size_t reserve, answer_info_t *info)
{
	return answer_query_from(conf, db, NULL, q, qlen, resp, tcp, reserve, info);
}

size_t answer_query_from(const answer_conf_t *conf, const zonedb_t *db,
                         const answer_client_t *client, const uint8_t *q, size_t qlen,
                         uint8_t *resp, bool tcp, size_t reserve, answer_info_t *info)
{
	info->tsig = false;
	info->cookie = COOKIE_NONE;
	if (qlen < WIRE_HDR_LEN)
		return 0;
	uint16_t qflags = wire_read16(q + WIRE_FLAGS);
	if (qflags & WIRE_QR)
		return 0;

	qctx_t c;
	c.conf = conf;
	c.db = db;
	c.flags = WIRE_QR | (qflags & (0x7800 | WIRE_RD | WIRE_CD));
	c.rcode = 0;
	c.an = c.ns = c.ar = 0;
	c.edns = c.dobit = c.nsid = c.expire = c.stale = c.cookie_out = false;
	c.keepalive_asked = c.keepalive_out = false;
	c.keepalive = 0;
	c.cookie = NULL;
	c.cookie_len = 0;
	c.slot = NULL;
	c.zone = NULL;
	c.tsig = false;
	c.naddl = c.nseen = c.nproofs = 0;
	c.dnssec = NULL;
	c.qtype = 0;
	memset(resp, 0, WIRE_HDR_LEN);
	memcpy(resp, q, 2);
	wire_writer_init(&c.w, resp, WIRE_MAX_UDP_STD);
	c.w.len = WIRE_HDR_LEN;
	info->opcode = WIRE_OPCODE(qflags);

	/* The question, uncompressed as every sane client sends it. */
	size_t pos = WIRE_HDR_LEN;
	bool question = wire_read16(q + WIRE_QDCOUNT) == 1;
	while (question) {
		if (pos >= qlen || (q[pos] & 0xC0) || pos + 1 + q[pos] > qlen ||
		    pos + 1 + q[pos] - WIRE_HDR_LEN > DNAME_MAXLEN)
			question = false;
		else if (q[pos] == 0)
			break;
		else
			pos += 1 + (size_t)q[pos];
	}
	if (question && pos + 5 > qlen)
		question = false;
	/* Other opcodes are not ours to judge further (DSO has no question, RFC 8490). */
	if (info->opcode != WIRE_OPCODE_QUERY) {
		c.rcode = WIRE_RCODE_NOTIMP;
		if (question)
			put_question(&c, q, pos + 5);
		goto out;
	}
	if (!question) {
		c.rcode = WIRE_RCODE_FORMERR;
		goto out;
	}
	pos += 5;
	c.qtype = wire_read16(q + pos - 4);
	uint16_t qclass = wire_read16(q + pos - 2);
	put_question(&c, q, pos);

	uint16_t udp = 0;
	uint8_t version = 0;
	c.rcode = (uint16_t)parse_rest(&c, q, qlen, pos, &udp, &version);
	if (c.rcode) {
		/* An OPT or TSIG we could not read is not one to answer with. */
		c.edns = false;
		c.tsig = false;
		goto out;
	}
	/* RFC 7828 3.3: over TCP only; a UDP query's option is ignored. */
	if (c.keepalive_asked && tcp && client && client->keepalive) {
		c.keepalive_out = true;
		c.keepalive = client->keepalive;
	}
	const cookie_secrets_t *secrets = __atomic_load_n(&conf->cookies, __ATOMIC_ACQUIRE);
	if (c.cookie && secrets && client && !read_cookie(&c, secrets, client, info)) {
		c.rcode = WIRE_RCODE_FORMERR;
		goto out;
	}
	size_t max = WIRE_MAX_UDP_STD;
	if (tcp)
		max = WIRE_MAX_MSG;
	else if (c.edns && udp > WIRE_MAX_UDP_STD)
		max = udp < conf->max_udp ? udp : conf->max_udp;
	if (c.edns)
		max -= opt_size(&c);
	/* Room kept back for the caller's TSIG; a key name so long that nothing else fits
	 * leaves the question alone, and TC. */
	max = max > c.w.len + reserve ? max - reserve : c.w.len;
	c.w.limit = max;
	if (c.edns && version != 0) {
		c.rcode = WIRE_RCODE_BADVERS;
		goto out;
	}
	if (c.tsig) {
		c.rcode = WIRE_RCODE_NOTAUTH;
		info->tsig = true;
		goto out;
	}
	set_name(&c, resp + WIRE_HDR_LEN);
	if (c.qtype == WIRE_T_AXFR || c.qtype == WIRE_T_IXFR)
		refuse_transfer(&c, tcp);
	else if (qclass == WIRE_CLASS_IN || qclass == WIRE_CLASS_ANY)
		answer_in(&c, resp + WIRE_HDR_LEN, qclass == WIRE_CLASS_ANY);
	else if (qclass == WIRE_CLASS_CH)
		answer_chaos(&c);
	else
		c.rcode = WIRE_RCODE_REFUSED;
out:
	info->qtype = c.qtype;
	info->rcode = (uint8_t)c.rcode;
	info->apex = c.slot ? c.slot->apex : NULL;
	return finish(&c);
}
