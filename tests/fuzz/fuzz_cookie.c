/* SPDX-License-Identifier: MIT */
/* fuzz_cookie: queries with any COOKIE option, answered with cookies on; the cookie handed out
 * must be valid for its client and no other, and its slipped and BADCOOKIE forms well formed. */
#include <string.h>

#include "answer.h"
#include "cookie.h"
#include "fuzz.h"
#include "fuzz_answer.h"
#include "rrl.h"
#include "wire.h"
#include "zonedb.h"

#define MAX_UDP 1232
#define HEAD    (1 + 16 + 16 + 4) /* flags, secret, client address, time */

/* The COOKIE option in an OPT record of the response, or NULL. */
static const uint8_t *find_cookie(const uint8_t *r, size_t len, uint16_t *olen)
{
	fuzz_msg_t m;
	fuzz_walk_response(r, len, &m);
	if (!m.nopt)
		return NULL;
	/* The OPT is the last record: find it by walking from the authority's end. */
	size_t p = m.nsend;
	for (unsigned i = 0; i < m.ar; i++) {
		uint8_t name[255];
		size_t nlen;
		bool comp;
		FUZZ_CHECK(fuzz_name(r, len, &p, name, &nlen, &comp), "additional owner");
		uint16_t type = fuzz_u16(r + p);
		size_t rdlen = fuzz_u16(r + p + 8), rd = p + 10;
		if (type == 41) {
			for (size_t o = rd; o + 4 <= rd + rdlen;) {
				uint16_t code = fuzz_u16(r + o), l = fuzz_u16(r + o + 2);
				if (code == 10) {
					*olen = l;
					return r + o + 4;
				}
				o += 4 + (size_t)l;
			}
		}
		p = rd + rdlen;
	}
	return NULL;
}

/* The query's own COOKIE option (the first), or NULL. */
static const uint8_t *query_cookie(const uint8_t *q, size_t qlen, uint16_t *olen)
{
	/* Only the simple shape: one question, no other records before the OPT. */
	if (qlen < WIRE_HDR_LEN || fuzz_u16(q + 4) != 1 || fuzz_u16(q + 6) || fuzz_u16(q + 8))
		return NULL;
	size_t p = WIRE_HDR_LEN;
	while (p < qlen && q[p] && !(q[p] & 0xC0))
		p += 1 + (size_t)q[p];
	p += 5;
	if (p + 11 > qlen || q[p] != 0 || fuzz_u16(q + p + 1) != 41)
		return NULL;
	size_t rd = p + 11, end = rd + fuzz_u16(q + p + 9);
	if (end > qlen)
		return NULL;
	for (size_t o = rd; o + 4 <= end;) {
		uint16_t code = fuzz_u16(q + o), l = fuzz_u16(q + o + 2);
		if (o + 4 + l > end)
			return NULL;
		if (code == 10) {
			*olen = l;
			return q + o + 4;
		}
		o += 4 + (size_t)l;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static zonedb_t *db;
	static uint8_t resp[MAX_UDP], again[MAX_UDP + 64], q2[4096];
	if (!db)
		db = zonedb_new(1);
	if (size < HEAD)
		return 0;
	cookie_secrets_t secrets = {.has_previous = data[0] & 1};
	memcpy(secrets.current, data + 1, 16);
	for (int i = 0; i < 16; i++)
		secrets.previous[i] = (uint8_t)(data[1 + i] ^ 0x5a);
	answer_client_t client = {.family = data[0] & 2 ? 6 : 4};
	memcpy(client.addr, data + 17, 16);
	if (client.family == 4)
		memset(client.addr + 4, 0, 12);
	uint32_t now = (uint32_t)data[33] << 24 | (uint32_t)data[34] << 16 |
	               (uint32_t)data[35] << 8 | data[36];
	answer_conf_t conf = {.max_udp = MAX_UDP, .now = now, .wall = now, .cookies = &secrets};
	const uint8_t *q = data + HEAD;
	size_t qlen = size - HEAD;

	answer_info_t info;
	size_t len = answer_query_from(&conf, db, &client, q, qlen, resp, false, 0, &info);
	fuzz_msg_t m;
	fuzz_check_answer(&conf, q, qlen, resp, len, false, &info, &m);
	if (!len)
		return 0;
	uint16_t clen = 0, qclen = 0;
	const uint8_t *c = find_cookie(resp, len, &clen);
	const uint8_t *qc = query_cookie(q, qlen, &qclen);
	if (info.cookie == COOKIE_NONE) {
		FUZZ_CHECK(!c, "a cookie in the reply to a query whose cookie was not read");
	} else if (info.rcode == WIRE_RCODE_FORMERR) {
		FUZZ_CHECK(!c, "a cookie in a FORMERR");
	} else {
		FUZZ_CHECK(c && clen == 24, "cookie of %u bytes in the reply", clen);
		if (qc)
			FUZZ_CHECK(qclen >= 8 && memcmp(c, qc, 8) == 0, "client cookie not echoed");
		/* What we hand out is good for this client, now, with these secrets... */
		bool reuse;
		FUZZ_CHECK(cookie_check(&secrets, c, c + 8, 16, client.family, client.addr, now,
		                        &reuse) == COOKIE_GOOD,
		           "our own server cookie does not check");
		/* ...and for no other address. */
		answer_client_t other = client;
		other.addr[3] ^= 1;
		FUZZ_CHECK(cookie_check(&secrets, c, c + 8, 16, other.family, other.addr, now,
		                        &reuse) == COOKIE_BAD,
		           "our server cookie checks for another address");
		/* The slipped and BADCOOKIE forms are well-formed and keep the cookie. */
		for (int bc = 0; bc < 2; bc++) {
			memcpy(again, resp, len);
			size_t slen = rrl_slip(again, len, bc);
			FUZZ_CHECK(slen <= len, "slipped answer grew to %zu from %zu", slen, len);
			fuzz_msg_t sm;
			fuzz_walk_response(again, slen, &sm);
			FUZZ_CHECK(sm.an == 0 && sm.ns == 0 && sm.nopt == 1, "slipped shape");
			uint16_t sl;
			const uint8_t *sc = find_cookie(again, slen, &sl);
			FUZZ_CHECK(sc && sl == 24 && memcmp(sc, c, 24) == 0,
			           "slip lost the cookie");
			FUZZ_CHECK(bc ? (sm.flags & 0xF) == (WIRE_RCODE_BADCOOKIE & 0xF) &&
			                    sm.opt_ercode == WIRE_RCODE_BADCOOKIE >> 4
			              : (sm.flags & WIRE_TC) != 0,
			           "slip flags %04x", sm.flags);
		}
	}
	/* Sent back in a query of its own, the server cookie is good. */
	if (c && clen == 24) {
		static const uint8_t head[] = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0,
		                               0,    0,    1, 0, 0, 1, 0, 1};
		size_t n = sizeof(head);
		memcpy(q2, head, n);
		const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 28, 0, 10, 0, 24};
		memcpy(q2 + n, opt, sizeof(opt));
		memcpy(q2 + n + sizeof(opt), c, 24);
		n += sizeof(opt) + 24;
		size_t l2 = answer_query_from(&conf, db, &client, q2, n, again, false, 0, &info);
		FUZZ_CHECK(l2 && info.cookie == COOKIE_GOOD, "our cookie, sent back, is %u",
		           info.cookie);
	}
	return 0;
}
