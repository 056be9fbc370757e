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
