/* SPDX-License-Identifier: MIT */
/* util: helpers shared by the unit tests: zones from text, queries, response walking. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "answer.h"
#include "dname.h"
#include "dnssec.h"
#include "wire.h"
#include "zonefile.h"

/* Loads zone text for origin; returns the zone or NULL, and the number of errors reported. */
static unsigned util_errors;
static char util_last_error[512];

static void util_report(void *ctx, const char *file, unsigned long line, bool error,
                        const char *msg)
{
	(void)ctx;
	(void)file;
	if (error) {
		util_errors++;
		snprintf(util_last_error, sizeof(util_last_error), "%lu: %s", line, msg);
	}
}

static inline zone_t *util_zone(const char *origin, const char *text)
{
	char path[] = "/tmp/us-unit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	uint8_t o[DNAME_MAXLEN];
	assert_true(dname_from_text(origin, o) > 0);
	zone_t *z = NULL;
	util_errors = 0;
	util_last_error[0] = 0;
	int ret = zonefile_load(o, path, util_report, NULL, &z);
	unlink(path);
	return ret ? NULL : z;
}

/* Builds a query; returns its length. */
static inline size_t util_query(uint8_t *buf, const char *name, uint16_t type, uint16_t qclass,
                                int edns_size, bool dobit)
{
	memset(buf, 0, WIRE_HDR_LEN);
	wire_write16(buf, 0x1234);
	wire_write16(buf + WIRE_QDCOUNT, 1);
	int n = dname_from_text(name, buf + WIRE_HDR_LEN);
	assert_true(n > 0);
	size_t p = WIRE_HDR_LEN + (size_t)n;
	wire_write16(buf + p, type);
	wire_write16(buf + p + 2, qclass);
	p += 4;
	if (edns_size) {
		uint8_t opt[11] = {0, 0, 41, 0, 0, 0, 0, dobit ? 0x80 : 0, 0, 0, 0};
		wire_write16(opt + 3, (uint16_t)edns_size);
		memcpy(buf + p, opt, 11);
		p += 11;
		wire_write16(buf + WIRE_ARCOUNT, 1);
	}
	return p;
}

/* One parsed record of a response. */
typedef struct util_rr {
	int section; /* 0 answer, 1 authority, 2 additional */
	char owner[DNAME_TEXT_MAX];
	uint16_t type, rclass;
	uint32_t ttl;
	const uint8_t *rdata;
	uint16_t rdlen;
	char target[DNAME_TEXT_MAX]; /* first embedded name for NS/CNAME/DNAME/MX/SOA */
} util_rr_t;

typedef struct util_msg {
	uint16_t flags;
	int rcode;
	int count[3];
	util_rr_t rr[128];
	int nrr;
} util_msg_t;

/* Parses a response, failing the test if it is malformed in any way. */
static inline void util_parse(const uint8_t *pkt, size_t len, util_msg_t *m)
{
	assert_true(len >= WIRE_HDR_LEN);
	memset(m, 0, sizeof(*m));
	m->flags = wire_read16(pkt + 2);
	m->rcode = m->flags & 0xF;
	size_t pos = WIRE_HDR_LEN;
	uint8_t name[DNAME_MAXLEN];
	size_t nlen;
	for (unsigned i = 0; i < wire_read16(pkt + WIRE_QDCOUNT); i++) {
		assert_int_equal(dname_unpack(pkt, len, &pos, name, &nlen), 0);
		pos += 4;
	}
	for (int s = 0; s < 3; s++) {
		m->count[s] = wire_read16(pkt + 6 + 2 * s);
		for (int i = 0; i < m->count[s]; i++) {
			util_rr_t *r = &m->rr[m->nrr++];
			assert_true(m->nrr <= 128);
			r->section = s;
			assert_int_equal(dname_unpack(pkt, len, &pos, name, &nlen), 0);
			dname_to_text(name, r->owner, sizeof(r->owner));
			assert_true(pos + 10 <= len);
			r->type = wire_read16(pkt + pos);
			r->rclass = wire_read16(pkt + pos + 2);
			r->ttl = wire_read32(pkt + pos + 4);
			r->rdlen = wire_read16(pkt + pos + 8);
			pos += 10;
			assert_true(pos + r->rdlen <= len);
			r->rdata = pkt + pos;
			size_t at = r->type == WIRE_T_MX ? 2 : 0;
			if (r->type == WIRE_T_NS || r->type == WIRE_T_CNAME ||
			    r->type == WIRE_T_DNAME || r->type == WIRE_T_MX ||
			    r->type == WIRE_T_SOA) {
				size_t np = pos + at;
				assert_int_equal(dname_unpack(pkt, len, &np, name, &nlen), 0);
				dname_to_text(name, r->target, sizeof(r->target));
			}
			pos += r->rdlen;
		}
	}
	assert_int_equal(pos, len);
	for (int i = 0; i < m->nrr; i++)
		if (m->rr[i].type == WIRE_T_OPT)
			m->rcode |= (int)(m->rr[i].ttl >> 24) << 4;
}

/* Number of records in section s with owner and type. */
static inline int util_count(const util_msg_t *m, int s, const char *owner, uint16_t type)
{
	int n = 0;
	for (int i = 0; i < m->nrr; i++)
		if (m->rr[i].section == s && m->rr[i].type == type &&
		    (!owner || strcasecmp(m->rr[i].owner, owner) == 0))
			n++;
	return n;
}

/* ---- signed zones for tests: real structure, fake signature bytes ---- */

typedef struct util_rec {
	const char *owner; /* relative, "@" for the apex */
	const char *type;  /* mnemonic */
	const char *rdata;
} util_rec_t;

typedef struct util_name {
	uint8_t wire[DNAME_MAXLEN];
	char text[DNAME_TEXT_MAX];
	char types[256];
	bool data, occluded;
	uint8_t hash[20];
} util_name_t;

static int util_name_cmp(const void *a, const void *b)
{
	return dname_cmp(((const util_name_t *)a)->wire, ((const util_name_t *)b)->wire);
}

static int util_hash_cmp(const void *a, const void *b)
{
	return memcmp(((const util_name_t *)a)->hash, ((const util_name_t *)b)->hash, 20);
}

static inline void util_b32hex(const uint8_t *h, char *out)
{
	static const char a[] = "0123456789abcdefghijklmnopqrstuv";
	for (int i = 0; i < 32; i++) {
		int bit = i * 5, byte = bit / 8, sh = bit % 8;
		unsigned v = (unsigned)h[byte] << 8 | (byte + 1 < 20 ? h[byte + 1] : 0);
		out[i] = a[(v >> (11 - sh)) & 31];
	}
	out[32] = 0;
}

/*
 * Zone text for recs, signed the way a signer would lay it out but with fake signature bytes
 * (answers need only the shape): an RRSIG per authoritative RRset, and an NSEC chain (nsec3
 * false) or an NSEC3 chain with salt AB and 2 iterations, opt-out leaving out the delegations
 * listed as insecure (delegations without DS) and names only they need. cut names a
 * delegation whose descendants are glue. Returns text (static, overwritten by the next call).
 */
static inline const char *util_signed_zone(const char *origin, const util_rec_t *recs, bool nsec3,
                                           bool optout)
{
	static char out[65536];
	static util_name_t names[64];
	int nn = 0;
	size_t o = 0;
	uint8_t apex[DNAME_MAXLEN];
	int alen = dname_from_text(origin, apex);
	assert_true(alen > 0);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "$TTL 3600\n");
	for (const util_rec_t *r = recs; r->owner; r++) {
		char full[DNAME_TEXT_MAX];
		if (strcmp(r->owner, "@") == 0)
			snprintf(full, sizeof(full), "%s.", origin);
		else
			snprintf(full, sizeof(full), "%s.%s.", r->owner, origin);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s %s %s\n", full, r->type,
		                      r->rdata);
		/* the name and its ancestors */
		uint8_t w[DNAME_MAXLEN];
		int len = dname_from_text(full, w);
		assert_true(len > 0);
		dname_lower(w, w, (size_t)len);
		for (const uint8_t *p = w; dname_labels(p) >= dname_labels(apex); p += *p + 1) {
			int i;
			for (i = 0; i < nn; i++)
				if (dname_equal(names[i].wire, p))
					break;
			if (i == nn) {
				assert_true(nn < 64);
				memset(&names[nn], 0, sizeof(names[nn]));
				memcpy(names[nn].wire, p, dname_len(p));
				dname_to_text(p, names[nn].text, sizeof(names[nn].text));
				nn++;
			}
			if (p == w) {
				names[i].data = true;
				size_t tl = strlen(names[i].types);
				if (!strstr(names[i].types, r->type))
					snprintf(names[i].types + tl, sizeof(names[i].types) - tl,
					         " %s", r->type);
			}
			if (*p == 0)
				break;
		}
	}
	/* Below a delegation (NS off the apex) everything is glue. */
	for (int i = 0; i < nn; i++)
		for (int j = 0; j < nn; j++)
			if (i != j && strstr(names[j].types, " NS") &&
			    !dname_equal(names[j].wire, apex) &&
			    dname_is_sub(names[i].wire, names[j].wire))
				names[i].occluded = true;
	for (int i = 0; i < nn; i++) {
		util_name_t *n = &names[i];
		if (!n->data || n->occluded)
			continue;
		bool deleg = strstr(n->types, " NS") && !dname_equal(n->wire, apex);
		char types[256];
		snprintf(types, sizeof(types), "%s", n->types);
		for (char *t = strtok(types, " "); t; t = strtok(NULL, " ")) {
			if (deleg && strcmp(t, "NS") == 0)
				continue; /* the parent does not sign the child's NS */
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o,
			    "%s RRSIG %s 13 %d 3600 20400101000000 20200101000000 "
			    "4711 %s. AAAA\n",
			    n->text, t, dname_labels(n->wire) - (n->text[0] == '*'), origin);
		}
	}
	if (!nsec3) {
		qsort(names, (size_t)nn, sizeof(names[0]), util_name_cmp);
		int first = -1, prev = -1;
		for (int i = 0; i <= nn; i++) {
			int k = i < nn ? i : first;
			if (i < nn && (!names[i].data || names[i].occluded))
				continue;
			if (prev >= 0) {
				o += (size_t)snprintf(
				    out + o, sizeof(out) - o,
				    "%s NSEC %s%s RRSIG NSEC\n%s RRSIG NSEC 13 %d 300 "
				    "20400101000000 20200101000000 4711 %s. AAAA\n",
				    names[prev].text, names[k].text, names[prev].types,
				    names[prev].text, dname_labels(names[prev].wire), origin);
			} else {
				first = i;
			}
			prev = i;
			if (i == nn)
				break;
		}
		return out;
	}
	o += (size_t)snprintf(out + o, sizeof(out) - o, "%s. NSEC3PARAM 1 0 2 AB\n", origin);
	o += (size_t)snprintf(out + o, sizeof(out) - o,
	                      "%s. RRSIG NSEC3PARAM 13 %d 3600 20400101000000 20200101000000 "
	                      "4711 %s. AAAA\n",
	                      origin, dname_labels(apex), origin);
	int m = 0;
	for (int i = 0; i < nn; i++) {
		util_name_t *n = &names[i];
		if (n->occluded)
			continue;
		bool insecure = strstr(n->types, " NS") && !strstr(n->types, " DS") &&
		                !dname_equal(n->wire, apex);
		if (optout && insecure)
			continue;
		dnssec_nsec3_hash((const uint8_t *)"\xab", 1, 2, n->wire, dname_len(n->wire),
		                  n->hash);
		names[m++] = *n;
	}
	qsort(names, (size_t)m, sizeof(names[0]), util_hash_cmp);
	for (int i = 0; i < m; i++) {
		char h[33], next[33];
		util_b32hex(names[i].hash, h);
		util_b32hex(names[(i + 1) % m].hash, next);
		o += (size_t)snprintf(out + o, sizeof(out) - o,
		                      "%s.%s. NSEC3 1 %d 2 AB %s%s%s\n%s.%s. RRSIG NSEC3 13 %d 300 "
		                      "20400101000000 20200101000000 4711 %s. AAAA\n",
		                      h, origin, optout ? 1 : 0, next, names[i].types,
		                      names[i].data ? " RRSIG" : "", h, origin,
		                      dname_labels(apex) + 1, origin);
	}
	return out;
}
