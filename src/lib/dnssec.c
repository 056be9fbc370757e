/* SPDX-License-Identifier: MIT */
/* dnssec: NSEC and NSEC3 chains of a signed zone version (RFC 4034, 4035, 5155) and their checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnssec.h"
#include "error.h"
#include "wire.h"

typedef struct n3hash {
	uint8_t hash[DNSSEC_HASH_MAX];
	const zone_node_t *node;
} n3hash_t;

struct dnssec_index {
	const zone_t *z;
	/* Nodes owning an NSEC, in canonical order, for the predecessor search. */
	const zone_node_t **nsec;
	size_t nnsec;
	/* The NSEC3 chain of the NSEC3PARAM's parameters, sorted by the decoded owner hash. */
	n3hash_t *n3;
	size_t nn3;
	uint8_t salt[255];
	uint8_t salt_len;
	uint16_t iterations;
	/* Every name's precomputed NSEC3 facts, open addressing on the node pointer. */
	dnssec_n3_t *map;
	size_t map_mask;
};

typedef struct build {
	zone_t *z;
	dnssec_index_t *x;
	zone_report_fn report;
	void *ctx;
	unsigned errors;
	bool nsec3;     /* an NSEC3PARAM names the chain */
	bool any_nsec3; /* some name has NSEC3 records, named or not */
} build_t;

static void say(build_t *b, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(build_t *b, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		b->errors++;
	if (b->report)
		b->report(b->ctx, NULL, 0, error, msg);
}

static const char *text(const uint8_t *name, char *buf)
{
	dname_to_text(name, buf, DNAME_TEXT_MAX);
	return buf;
}

/* ---- hashing (RFC 5155 5) ---- */

/*
 * SHA-1 (FIPS 180-4 6.1) of at most two blocks' worth of input, written here because OpenSSL
 * 3's one-shot SHA1() goes through EVP and allocates, and the query path must not. NSEC3
 * inputs are a name plus salt: at most 510 bytes.
 */
static inline uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = wire_read32(p + 4 * i);
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void sha1(const uint8_t *data, size_t len, uint8_t out[DNSSEC_HASH_MAX])
{
	uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	size_t full = len / 64 * 64;
	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, data + i);
	uint8_t tail[128] = {0};
	size_t rest = len - full;
	memcpy(tail, data + full, rest);
	tail[rest] = 0x80;
	size_t tlen = rest + 9 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	wire_write32(tail + tlen - 8, (uint32_t)(bits >> 32));
	wire_write32(tail + tlen - 4, (uint32_t)bits);
	sha1_block(h, tail);
	if (tlen == 128)
		sha1_block(h, tail + 64);
	for (int i = 0; i < 5; i++)
		wire_write32(out + 4 * i, h[i]);
}

void dnssec_nsec3_hash(const uint8_t *salt, size_t salt_len, uint16_t iterations,
                       const uint8_t *lname, size_t len, uint8_t out[DNSSEC_HASH_MAX])
{
	uint8_t buf[DNAME_MAXLEN + 255];
	memcpy(buf, lname, len);
	memcpy(buf + len, salt, salt_len);
	sha1(buf, len + salt_len, out);
	for (uint16_t i = 0; i < iterations; i++) {
		memcpy(buf, out, DNSSEC_HASH_MAX);
		memcpy(buf + DNSSEC_HASH_MAX, salt, salt_len);
		sha1(buf, DNSSEC_HASH_MAX + salt_len, out);
	}
}

/* Decodes a base32hex label (RFC 4648 7, any case) of exactly the hash's length. */
static bool base32hex_decode(const uint8_t *label, size_t n, uint8_t out[DNSSEC_HASH_MAX])
{
	if (n != DNSSEC_HASH_MAX * 8 / 5)
		return false;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = label[i], v;
		if (c >= '0' && c <= '9')
			v = (uint8_t)(c - '0');
		else if (c >= 'a' && c <= 'v')
			v = (uint8_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'V')
			v = (uint8_t)(c - 'A' + 10);
		else
			return false;
		acc = acc << 5 | v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == DNSSEC_HASH_MAX;
}

/* The last chain entry whose hash is not above h; the last one when h is below them all. */
static const n3hash_t *n3_floor(const dnssec_index_t *x, const uint8_t *h)
{
	size_t lo = 0, hi = x->nn3;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(x->n3[mid].hash, h, DNSSEC_HASH_MAX) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &x->n3[lo - 1] : &x->n3[x->nn3 - 1];
}

/* ---- the node map ---- */

static size_t ptr_hash(const zone_node_t *n)
{
	uint64_t v = (uint64_t)(uintptr_t)n;
	v = (v ^ (v >> 29)) * 0xBF58476D1CE4E5B9u;
	return (size_t)(v ^ (v >> 32));
}

const dnssec_n3_t *dnssec_nsec3_of(const dnssec_index_t *x, const zone_node_t *n)
{
	if (!x || !x->map)
		return NULL;
	for (size_t i = ptr_hash(n) & x->map_mask;; i = (i + 1) & x->map_mask) {
		if (x->map[i].node == n)
			return &x->map[i];
		if (!x->map[i].node)
			return NULL;
	}
}

static dnssec_n3_t *map_put(dnssec_index_t *x, const zone_node_t *n)
{
	size_t i = ptr_hash(n) & x->map_mask;
	while (x->map[i].node)
		i = (i + 1) & x->map_mask;
	x->map[i].node = n;
	return &x->map[i];
}

/* ---- queries ---- */

bool dnssec_has_nsec(const dnssec_index_t *x)
{
	return x && x->nnsec;
}

bool dnssec_has_nsec3(const dnssec_index_t *x)
{
	return x && x->nn3;
}

const zone_node_t *dnssec_nsec_cover(const dnssec_index_t *x, const uint8_t *lname)
{
	size_t lo = 0, hi = x->nnsec;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dname_cmp(x->nsec[mid]->name, lname) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Nothing sorts before the apex, which owns the first NSEC of a complete chain. */
	return lo ? x->nsec[lo - 1] : x->nsec[x->nnsec - 1];
}

bool dnssec_nsec3_owner_only(const dnssec_index_t *x, const zone_node_t *n)
{
	if (!x || !x->nn3 || !n->nrrsets)
		return false;
	for (uint16_t i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type != WIRE_T_NSEC3 && n->rrsets[i].type != WIRE_T_RRSIG)
			return false;
	return true;
}

const zone_node_t *dnssec_nsec3_cover(const dnssec_index_t *x, const uint8_t *lname, size_t len)
{
	uint8_t h[DNSSEC_HASH_MAX];
	dnssec_nsec3_hash(x->salt, x->salt_len, x->iterations, lname, len, h);
	return n3_floor(x, h)->node;
}

/* ---- building ---- */

void dnssec_index_free(dnssec_index_t *x)
{
	if (!x)
		return;
	free(x->nsec);
	free(x->n3);
	free(x->map);
	free(x);
}

static int nsec_cmp(const void *a, const void *b)
{
	const zone_node_t *const *x = a, *const *y = b;
	return dname_cmp((*x)->name, (*y)->name);
}

static int n3_cmp(const void *a, const void *b)
{
	return memcmp(((const n3hash_t *)a)->hash, ((const n3hash_t *)b)->hash, DNSSEC_HASH_MAX);
}

/* Checks the fixed layout of RRSIG, NSEC and NSEC3 rdata, which the answer path reads. */
static bool check_rdata(build_t *b, const zone_node_t *n, const zone_rrset_t *rs)
{
	char t[DNAME_TEXT_MAX];
	for (uint32_t off = 0;;) {
		const uint8_t *rd = rs->rdata + off + 2;
		size_t len = wire_read16(rs->rdata + off);
		bool ok = true;
		if (rs->type == WIRE_T_RRSIG) {
			int sl = len > 18 ? dname_check(rd + 18, len - 18) : -1;
			ok = sl > 0 && 18 + (size_t)sl < len;
		} else if (rs->type == WIRE_T_NSEC) {
			ok = len > 0 && dname_check(rd, len) > 0;
		} else if (rs->type == WIRE_T_NSEC3) {
			size_t s = len >= 5 ? rd[4] : 0;
			ok = len >= 6 + s && 6 + s + rd[5 + s] <= len && rd[5 + s] > 0;
		} else if (rs->type == WIRE_T_NSEC3PARAM) {
			ok = len >= 5 && len == 5 + (size_t)rd[4];
		}
		if (!ok) {
			say(b, true, "malformed type %u record at %s", rs->type, text(n->name, t));
			return false;
		}
		off = zone_rr_next(rs, off);
		if (!off)
			return true;
	}
}

/* True when the node's RRSIGs cover type. */
static bool signed_type(const zone_node_t *n, uint16_t type)
{
	const zone_rrset_t *sigs = zone_node_rrset(n, WIRE_T_RRSIG);
	for (uint32_t off = 0; sigs;) {
		if (wire_read16(sigs->rdata + off + 2) == type)
			return true;
		off = zone_rr_next(sigs, off);
		if (!off)
			break;
	}
	return false;
}

/* Reads the zone's NSEC3PARAM; false when it has none usable (reported). */
static bool read_param(build_t *b, const zone_node_t *apex)
{
	const zone_rrset_t *p = zone_node_rrset(apex, WIRE_T_NSEC3PARAM);
	if (!p)
		return false;
	const uint8_t *rd = p->rdata + 2;
	/* Several NSEC3PARAMs during a rollover: the first is as good as any, every chain
	 * named by one must be complete. */
	if (wire_read16(p->rdata) < 5 || rd[0] != 1) {
		say(b, true, "NSEC3PARAM with hash algorithm %u, only SHA-1 (1) is known",
		    wire_read16(p->rdata) ? rd[0] : 0);
		return false;
	}
	b->x->iterations = wire_read16(rd + 2);
	/* Each NXDOMAIN hashes its next closer name iterations + 1 times, and validators may
	 * call such a zone insecure anyway (RFC 9276 3.2). */
	if (b->x->iterations > 100)
		say(b, false,
		    "NSEC3PARAM with %u iterations: RFC 9276 advises 0; every negative answer "
		    "costs "
		    "that many hashes and validators may treat the zone as insecure",
		    b->x->iterations);
	/* Builders check NSEC3PARAM rdata, but this reads it on its own word: the salt must be
	 * inside the record (found by fuzz_catalog, whose zones skip the builders' checks). */
	if (wire_read16(p->rdata) < 5u + rd[4]) {
		say(b, true, "NSEC3PARAM with a salt longer than its record");
		return false;
	}
	b->x->salt_len = rd[4];
	memcpy(b->x->salt, rd + 5, rd[4]);
	return true;
}

/* True when this NSEC3 record has the chain's parameters. */
static bool n3_params_match(const dnssec_index_t *x, const uint8_t *rd)
{
	return rd[0] == 1 && wire_read16(rd + 2) == x->iterations && rd[4] == x->salt_len &&
	       memcmp(rd + 5, x->salt, x->salt_len) == 0;
}

/* The NSEC3 record of node n with the chain's parameters, or NULL. */
static const uint8_t *n3_record(const dnssec_index_t *x, const zone_node_t *n, size_t *len)
{
	const zone_rrset_t *rs = zone_node_rrset(n, WIRE_T_NSEC3);
	for (uint32_t off = 0; rs;) {
		if (n3_params_match(x, rs->rdata + off + 2)) {
			*len = wire_read16(rs->rdata + off);
			return rs->rdata + off + 2;
		}
		off = zone_rr_next(rs, off);
		if (!off)
			break;
	}
	return NULL;
}

static int collect(build_t *b)
{
	zone_t *z = b->z;
	dnssec_index_t *x = b->x;
	size_t cap_nsec = 0, cap_n3 = 0;
	uint32_t pos = 0;
	char t[DNAME_TEXT_MAX];
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));) {
		bool bad = false;
		for (uint16_t i = 0; i < n->nrrsets; i++) {
			uint16_t type = n->rrsets[i].type;
			if (type == WIRE_T_RRSIG || type == WIRE_T_NSEC || type == WIRE_T_NSEC3 ||
			    type == WIRE_T_NSEC3PARAM)
				bad |= !check_rdata(b, n, &n->rrsets[i]);
		}
		if (bad)
			continue;
		if (zone_node_rrset(n, WIRE_T_NSEC) && !(n->flags & ZONE_NODE_OCCLUDED)) {
			if (x->nnsec == cap_nsec) {
				cap_nsec = cap_nsec ? cap_nsec * 2 : 64;
				void *p = realloc(x->nsec, cap_nsec * sizeof(*x->nsec));
				if (!p)
					return US_ENOMEM;
				x->nsec = p;
			}
			x->nsec[x->nnsec++] = n;
		}
		size_t len;
		if (!zone_node_rrset(n, WIRE_T_NSEC3))
			continue;
		b->any_nsec3 = true;
		if (!b->nsec3)
			continue;
		const uint8_t *rd = n3_record(x, n, &len);
		if (!rd)
			continue;
		n3hash_t e = {.node = n};
		if (n->name_len != z->apex_len + 1 + n->name[0] ||
		    !base32hex_decode(n->name + 1, n->name[0], e.hash)) {
			say(b, true, "NSEC3 owner %s is not a SHA-1 hash directly below the apex",
			    text(n->name, t));
			continue;
		}
		if (x->nn3 == cap_n3) {
			cap_n3 = cap_n3 ? cap_n3 * 2 : 64;
			void *p = realloc(x->n3, cap_n3 * sizeof(*x->n3));
			if (!p)
				return US_ENOMEM;
			x->n3 = p;
		}
		x->n3[x->nn3++] = e;
	}
	return 0;
}

static void check_nsec_chain(build_t *b)
{
	dnssec_index_t *x = b->x;
	zone_t *z = b->z;
	char t[DNAME_TEXT_MAX], u[DNAME_TEXT_MAX], v[DNAME_TEXT_MAX];
	for (size_t i = 0; i < x->nnsec; i++) {
		const zone_rrset_t *rs = zone_node_rrset(x->nsec[i], WIRE_T_NSEC);
		const uint8_t *next = rs->rdata + 2;
		const uint8_t *want = i + 1 < x->nnsec ? x->nsec[i + 1]->name : z->apex;
		if (!dname_equal(next, want))
			say(b, false,
			    "NSEC chain gap: NSEC at %s points to %s, the next name is %s",
			    text(x->nsec[i]->name, t), text(next, u), text(want, v));
	}
	uint32_t pos = 0;
	unsigned missing = 0;
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));) {
		if (!n->nrrsets || (n->flags & ZONE_NODE_OCCLUDED) ||
		    zone_node_rrset(n, WIRE_T_NSEC))
			continue;
		if (!missing++)
			say(b, false, "NSEC chain gap: %s has no NSEC", text(n->name, t));
	}
	if (missing > 1)
		say(b, false, "NSEC chain gap: %u names in all have no NSEC", missing);
}

/* Checks that the NSEC3 records form one ring, each next hash the following owner's. */
static void check_nsec3_ring(build_t *b)
{
	dnssec_index_t *x = b->x;
	char t[DNAME_TEXT_MAX];
	for (size_t i = 0; i < x->nn3; i++) {
		size_t len;
		const uint8_t *rd = n3_record(x, x->n3[i].node, &len);
		const uint8_t *next = rd + 6 + rd[4];
		const n3hash_t *want = &x->n3[(i + 1) % x->nn3];
		if (i + 1 < x->nn3 && memcmp(x->n3[i].hash, want->hash, DNSSEC_HASH_MAX) == 0) {
			say(b, true, "broken NSEC3 chain: two NSEC3 records for hash %s",
			    text(x->n3[i].node->name, t));
			continue;
		}
		if (next[-1] != DNSSEC_HASH_MAX || memcmp(next, want->hash, DNSSEC_HASH_MAX) != 0)
			say(b, true,
			    "broken NSEC3 chain: the NSEC3 at %s does not point to the next hash "
			    "%.32s",
			    text(x->n3[i].node->name, t), (const char *)want->node->name + 1);
	}
}

/* Fills the map entry of n; reports names that need an NSEC3 and have none. */
static void map_node(build_t *b, const zone_node_t *n)
{
	dnssec_index_t *x = b->x;
	const zone_t *z = b->z;
	char t[DNAME_TEXT_MAX];
	uint8_t h[DNSSEC_HASH_MAX];
	dnssec_n3_t *e = map_put(x, n);
	dnssec_nsec3_hash(x->salt, x->salt_len, x->iterations, n->name, n->name_len, h);
	const n3hash_t *f = n3_floor(x, h);
	const uint8_t *enc = n->name;
	size_t enc_len = n->name_len;
	if (memcmp(f->hash, h, DNSSEC_HASH_MAX) == 0) {
		e->match = e->encloser = f->node;
	} else {
		/* Opt-out (RFC 5155 6) leaves out insecure delegations and the empty
		 * non-terminals that exist only for them; nothing else may be missing. */
		size_t len;
		const uint8_t *rd = n3_record(x, f->node, &len);
		bool insecure = (n->flags & ZONE_NODE_DELEG) && !zone_node_rrset(n, WIRE_T_DS);
		if (!(rd[1] & 1) || !(insecure || n->nrrsets == 0)) {
			say(b, true, "broken NSEC3 chain: %s has no NSEC3", text(n->name, t));
			return;
		}
		/* The closest provable encloser: the nearest ancestor with an NSEC3. */
		for (;;) {
			const uint8_t *parent = enc + enc[0] + 1;
			size_t plen = enc_len - enc[0] - 1;
			dnssec_nsec3_hash(x->salt, x->salt_len, x->iterations, parent, plen, h);
			f = n3_floor(x, h);
			if (memcmp(f->hash, h, DNSSEC_HASH_MAX) == 0 || plen <= z->apex_len) {
				e->encloser = f->node;
				e->next_cover = dnssec_nsec3_cover(x, enc, enc_len);
				enc = parent;
				enc_len = plen;
				break;
			}
			enc = parent;
			enc_len = plen;
		}
	}
	uint8_t wild[DNAME_MAXLEN];
	if (enc_len + 2 <= DNAME_MAXLEN) {
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, enc, enc_len);
		e->wild_cover = dnssec_nsec3_cover(x, wild, enc_len + 2);
	}
}

static int build_nsec3(build_t *b)
{
	dnssec_index_t *x = b->x;
	zone_t *z = b->z;
	qsort(x->n3, x->nn3, sizeof(*x->n3), n3_cmp);
	check_nsec3_ring(b);
	if (b->errors)
		return 0;
	uint32_t pos = 0;
	size_t names = 0;
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));)
		names++;
	size_t size = 64;
	while (size < names * 2)
		size *= 2;
	x->map = calloc(size, sizeof(*x->map));
	if (!x->map)
		return US_ENOMEM;
	x->map_mask = size - 1;
	pos = 0;
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));) {
		if ((n->flags & ZONE_NODE_OCCLUDED) || dnssec_nsec3_owner_only(x, n))
			continue;
		map_node(b, n);
	}
	return 0;
}

int dnssec_index_build(zone_t *z, zone_report_fn report, void *ctx)
{
	const zone_node_t *apex = zone_find(z, z->apex, z->apex_len);
	z->dnssec = NULL;
	if (!apex)
		return 0;
	dnssec_index_t *x = calloc(1, sizeof(*x));
	if (!x)
		return US_ENOMEM;
	x->z = z;
	build_t b = {.z = z, .x = x, .report = report, .ctx = ctx};
	bool nsec3 = b.nsec3 = read_param(&b, apex);
	int ret = collect(&b);
	if (ret)
		goto fail;
	/* Without NSEC3PARAM the salt is unknown: a chain there cannot be used. */
	if (!nsec3 && b.any_nsec3 && !b.errors)
		say(&b, true, "NSEC3 records but no NSEC3PARAM at the apex");
	if (nsec3 && !x->nn3 && !b.errors)
		say(&b, true, "NSEC3PARAM at the apex but no NSEC3 chain with its parameters");
	if (x->nnsec) {
		qsort(x->nsec, x->nnsec, sizeof(*x->nsec), nsec_cmp);
		check_nsec_chain(&b);
	}
	if (x->nn3 && !b.errors) {
		ret = build_nsec3(&b);
		if (ret)
			goto fail;
	}
	bool is_signed = x->nnsec || x->nn3 || zone_node_rrset(apex, WIRE_T_RRSIG) ||
	                 zone_node_rrset(apex, WIRE_T_DNSKEY);
	if (is_signed) {
		static const uint16_t need[] = {WIRE_T_SOA, WIRE_T_NS, WIRE_T_DNSKEY};
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (zone_node_rrset(apex, need[i]) && !signed_type(apex, need[i]))
				say(&b, false, "the apex %s RRset has no RRSIG",
				    need[i] == WIRE_T_SOA  ? "SOA"
				    : need[i] == WIRE_T_NS ? "NS"
				                           : "DNSKEY");
		if (!zone_node_rrset(apex, WIRE_T_DNSKEY))
			say(&b, false, "signed zone without a DNSKEY at the apex");
	}
	if (b.errors) {
		ret = US_EZONE;
		goto fail;
	}
	if (!is_signed) {
		dnssec_index_free(x);
		return 0;
	}
	z->dnssec = x;
	return 0;
fail:
	dnssec_index_free(x);
	return ret;
}

/* ---- signature times ---- */

unsigned long dnssec_check_times(const zone_t *z, uint32_t now, zone_report_fn report, void *ctx)
{
	unsigned long expired = 0, early = 0;
	char first_expired[DNAME_TEXT_MAX] = "", first_early[DNAME_TEXT_MAX] = "";
	uint32_t pos = 0;
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));) {
		const zone_rrset_t *sigs = zone_node_rrset(n, WIRE_T_RRSIG);
		for (uint32_t off = 0; sigs;) {
			const uint8_t *rd = sigs->rdata + off + 2;
			/* RFC 4034 3.1.5: times compare in serial number arithmetic. */
			int32_t to_exp = (int32_t)(wire_read32(rd + 8) - now);
			int32_t to_inc = (int32_t)(wire_read32(rd + 12) - now);
			if (to_exp < 0 && !expired++)
				dname_to_text(n->name, first_expired, sizeof(first_expired));
			if (to_inc > 0 && !early++)
				dname_to_text(n->name, first_early, sizeof(first_early));
			off = zone_rr_next(sigs, off);
			if (!off)
				break;
		}
	}
	char msg[DNAME_TEXT_MAX + 128];
	if (expired && report) {
		snprintf(msg, sizeof(msg), "%lu signatures have expired, the first at %s", expired,
		         first_expired);
		report(ctx, NULL, 0, false, msg);
	}
	if (early && report) {
		snprintf(msg, sizeof(msg), "%lu signatures are not valid yet, the first at %s",
		         early, first_early);
		report(ctx, NULL, 0, false, msg);
	}
	return expired + early;
}
