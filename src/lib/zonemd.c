/* SPDX-License-Identifier: MIT */
/* zonemd: RFC 8976 message digests over a zone version, computed and verified. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "error.h"
#include "wire.h"
#include "zonemd.h"

size_t zonemd_digest_len(uint8_t alg)
{
	return alg == ZONEMD_HASH_SHA384 ? 48 : alg == ZONEMD_HASH_SHA512 ? 64 : 0;
}

/* Lower-cases the name at rd[*p] if one is there whole, and steps past it; false if not. */
static bool lower_name(uint8_t *rd, size_t len, size_t *p)
{
	if (*p >= len)
		return false;
	int n = dname_check(rd + *p, len - *p);
	if (n < 0)
		return false;
	dname_lower(rd + *p, rd + *p, (size_t)n);
	*p += (size_t)n;
	return true;
}

void zonemd_canonical_rdata(uint16_t type, uint8_t *rd, size_t len)
{
	size_t p = 0;
	wire_rdata_layout_t l;
	switch (type) {
	case 24: /* SIG, laid out as RRSIG (RFC 2535 4.1) */
	case WIRE_T_RRSIG:
		p = 18; /* the signer's name, after the fixed fields */
		lower_name(rd, len, &p);
		return;
	case 30: /* NXT: the next name, then a bitmap (RFC 2535 5.2) */
		lower_name(rd, len, &p);
		return;
	case 38: /* A6: prefix length, address suffix, prefix name when the length is not 0 */
		if (len && rd[0] && rd[0] <= 128) {
			p = 1 + (size_t)(128 - rd[0] + 7) / 8;
			lower_name(rd, len, &p);
		}
		return;
	default:
		break;
	}
	/* The RFC 1035 types and those after them that embed names (NS, SOA, MX, RP, SRV,
	 * NAPTR, DNAME, ...): exactly the list of RFC 4034 6.2 for the types we lay out. */
	if (!wire_rdata_layout(type, &l))
		return;
	p = l.pre;
	for (size_t i = 0; i < l.strings; i++) {
		if (p >= len || p + 1 + rd[p] > len)
			return;
		p += 1 + (size_t)rd[p];
	}
	for (size_t i = 0; i < l.names; i++)
		if (!lower_name(rd, len, &p))
			return;
}

/* One record of an RRset in canonical form, pointing into the scratch buffer. */
typedef struct crr {
	const uint8_t *rd;
	uint16_t len;
	uint32_t ttl;
} crr_t;

typedef struct digest {
	EVP_MD_CTX *md;
	uint8_t *buf; /* canonical rdata of the RRset at hand */
	size_t buf_cap;
	crr_t *rrs;
	size_t rrs_cap;
	bool failed;
} digest_t;

static int crr_cmp(const void *a, const void *b)
{
	const crr_t *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n ? memcmp(x->rd, y->rd, n) : 0;
	if (c)
		return c;
	/* RFC 4034 6.3: the absence of an octet sorts before a zero octet. */
	return x->len < y->len ? -1 : x->len > y->len;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return US_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static void hash(digest_t *d, const void *data, size_t len)
{
	if (EVP_DigestUpdate(d->md, data, len) != 1)
		d->failed = true;
}

/* Hashes one RRset of node n; the apex ZONEMD and its signatures are not part of the digest. */
static int digest_rrset(digest_t *d, const zone_t *z, const zone_node_t *n, const zone_rrset_t *rs)
{
	bool apex = n->name_len == z->apex_len;
	if (apex && rs->type == ZONEMD_TYPE)
		return 0;
	if (!rs->rdata_len)
		return 0;
	if (grow((void **)&d->buf, &d->buf_cap, rs->rdata_len, 1) ||
	    grow((void **)&d->rrs, &d->rrs_cap, rs->count, sizeof(crr_t)))
		return US_ENOMEM;
	size_t nrr = 0, at = 0;
	uint32_t off = 0;
	do {
		const uint8_t *rr = rs->rdata + off;
		uint16_t len = wire_read16(rr);
		if (rs->type == WIRE_T_RRSIG && apex && len >= 2 &&
		    wire_read16(rr + 2) == ZONEMD_TYPE)
			continue;
		if (nrr == d->rrs_cap || at + len > d->buf_cap)
			break; /* count and rdata_len describe the RRset; never past them */
		memcpy(d->buf + at, rr + 2, len);
		zonemd_canonical_rdata(rs->type, d->buf + at, len);
		d->rrs[nrr++] = (crr_t){d->buf + at, len, zone_rr_ttl(n, rs, rr)};
		at += len;
	} while ((off = zone_rr_next(rs, off)) != 0);
	qsort(d->rrs, nrr, sizeof(crr_t), crr_cmp);
	for (size_t i = 0; i < nrr; i++) {
		/* Records that differ only in the case of an embedded name count once. */
		if (i && crr_cmp(&d->rrs[i - 1], &d->rrs[i]) == 0)
			continue;
		uint8_t fixed[10];
		wire_write16(fixed, rs->type);
		wire_write16(fixed + 2, WIRE_CLASS_IN);
		wire_write32(fixed + 4, d->rrs[i].ttl);
		wire_write16(fixed + 8, d->rrs[i].len);
		hash(d, n->name, n->name_len); /* node names are lower-cased already */
		hash(d, fixed, sizeof(fixed));
		hash(d, d->rrs[i].rd, d->rrs[i].len);
	}
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	return dname_cmp((*(const zone_node_t *const *)a)->name,
	                 (*(const zone_node_t *const *)b)->name);
}

static int rrset_cmp(const void *a, const void *b)
{
	uint16_t x = (*(const zone_rrset_t *const *)a)->type;
	uint16_t y = (*(const zone_rrset_t *const *)b)->type;
	return x < y ? -1 : x > y;
}

int zonemd_compute(const zone_t *z, uint8_t scheme, uint8_t alg, uint8_t *out, size_t *len)
{
	const EVP_MD *type = alg == ZONEMD_HASH_SHA384   ? EVP_sha384()
	                     : alg == ZONEMD_HASH_SHA512 ? EVP_sha512()
	                                                 : NULL;
	if (scheme != ZONEMD_SCHEME_SIMPLE || !type)
		return US_EINVAL;
	digest_t d = {.md = EVP_MD_CTX_new()};
	const zone_node_t **nodes = NULL;
	const zone_rrset_t **sets = NULL;
	size_t nn = 0, cap = 0, sets_cap = 0;
	int ret = US_ENOMEM;
	if (!d.md || EVP_DigestInit_ex(d.md, type, NULL) != 1)
		goto cleanup;
	uint32_t pos = 0;
	for (const zone_node_t *n; (n = zone_next_node(z, &pos));) {
		if (!n->nrrsets)
			continue; /* an empty non-terminal holds no record */
		if (grow((void **)&nodes, &cap, nn + 1, sizeof(*nodes)))
			goto cleanup;
		nodes[nn++] = n;
	}
	qsort(nodes, nn, sizeof(*nodes), node_cmp);
	ret = 0;
	for (size_t i = 0; ret == 0 && i < nn; i++) {
		const zone_node_t *n = nodes[i];
		if (grow((void **)&sets, &sets_cap, n->nrrsets, sizeof(*sets))) {
			ret = US_ENOMEM;
			break;
		}
		for (uint16_t j = 0; j < n->nrrsets; j++)
			sets[j] = &n->rrsets[j];
		qsort(sets, n->nrrsets, sizeof(*sets), rrset_cmp);
		for (uint16_t j = 0; ret == 0 && j < n->nrrsets; j++)
			ret = digest_rrset(&d, z, n, sets[j]);
	}
	unsigned int mdlen = 0;
	if (ret == 0 && (d.failed || EVP_DigestFinal_ex(d.md, out, &mdlen) != 1))
		ret = US_ENOMEM;
	if (ret == 0)
		*len = mdlen;
cleanup:
	EVP_MD_CTX_free(d.md);
	free(d.buf);
	free(d.rrs);
	free(nodes);
	free(sets);
	return ret;
}

/* Appends to why, cut to fit. */
static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	if (!whylen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int zonemd_verify(const zone_t *z, zonemd_status_t *status, char *why, size_t whylen)
{
	const zone_node_t *apex = zone_find(z, z->apex, z->apex_len);
	const zone_rrset_t *rs = apex ? zone_node_rrset(apex, ZONEMD_TYPE) : NULL;
	say(why, whylen, "no ZONEMD");
	*status = ZONEMD_ABSENT;
	if (!rs || !rs->rdata_len)
		return 0;
	uint8_t seen[256 * 256 / 8]; /* (scheme, algorithm) pairs met, for duplicates */
	uint8_t computed[2][ZONEMD_DIGEST_MAX];
	bool have[2] = {false, false}, said = false;
	size_t known = 0;
	uint32_t off = 0;
	memset(seen, 0, sizeof(seen));
	do {
		const uint8_t *rr = rs->rdata + off;
		uint16_t len = wire_read16(rr);
		const uint8_t *rd = rr + 2;
		if (len < 6) {
			say(why, whylen, "a ZONEMD record of %u bytes, too short for its fields",
			    len);
			*status = ZONEMD_FAILED;
			return 0;
		}
		uint8_t scheme = rd[4], alg = rd[5];
		unsigned pair = (unsigned)scheme << 8 | alg;
		/* RFC 8976 2: one record per scheme and algorithm at most. */
		if (seen[pair / 8] & (1u << (pair % 8))) {
			say(why, whylen, "two ZONEMD records with scheme %u and hash algorithm %u",
			    scheme, alg);
			*status = ZONEMD_FAILED;
			return 0;
		}
		seen[pair / 8] |= (uint8_t)(1u << (pair % 8));
		size_t dlen = zonemd_digest_len(alg);
		if (scheme != ZONEMD_SCHEME_SIMPLE || !dlen)
			continue; /* RFC 8976 4: not ours to verify, and no failure */
		known++;
		if ((size_t)len - 6 != dlen) {
			say(why, whylen, "a ZONEMD digest of %u bytes for hash algorithm %u (%zu)",
			    len - 6, alg, dlen);
			*status = ZONEMD_FAILED;
			return 0;
		}
		uint32_t serial = wire_read32(rd);
		if (serial != z->serial) {
			if (!said)
				say(why, whylen, "ZONEMD serial %u is not the SOA serial %u",
				    serial, z->serial);
			said = true;
			continue;
		}
		uint8_t *mine = computed[alg - 1];
		if (!have[alg - 1]) {
			size_t mlen;
			int ret = zonemd_compute(z, scheme, alg, mine, &mlen);
			if (ret)
				return ret;
			have[alg - 1] = true;
		}
		if (memcmp(mine, rd + 6, dlen) == 0) {
			say(why, whylen, "ZONEMD verified (scheme %u, hash algorithm %u)", scheme,
			    alg);
			*status = ZONEMD_VERIFIED;
			return 0;
		}
		if (!said)
			say(why, whylen,
			    "ZONEMD digest mismatch (scheme %u, hash algorithm %u, serial %u)",
			    scheme, alg, serial);
		said = true;
	} while ((off = zone_rr_next(rs, off)) != 0);
	if (!known) {
		say(why, whylen,
		    "ZONEMD with no scheme and hash algorithm we know (SIMPLE with SHA-384 or "
		    "SHA-512)");
		*status = ZONEMD_UNSUPPORTED;
		return 0;
	}
	*status = ZONEMD_FAILED;
	return 0;
}
