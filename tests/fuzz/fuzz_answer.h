/* SPDX-License-Identifier: MIT */
/* fuzz_answer: answers one query over UDP and TCP and checks what must hold of both replies. */
#pragma once

#include "answer.h"
#include "fuzz.h"
#include "wire.h"

/* Checks one response r to query q; fills msg with what the walker learnt. */
static inline void fuzz_check_answer(const answer_conf_t *conf, const uint8_t *q, size_t qlen,
                                     const uint8_t *r, size_t rlen, bool tcp,
                                     const answer_info_t *info, fuzz_msg_t *msg)
{
	const char *how = tcp ? "TCP" : "UDP";
	memset(msg, 0, sizeof(*msg));
	/* answer_query promises silence exactly for these two cases. */
	if (qlen < WIRE_HDR_LEN || (q[2] & 0x80)) {
		FUZZ_CHECK(rlen == 0, "%s: %zu-byte answer to a short query or a response", how,
		           rlen);
		return;
	}
	FUZZ_CHECK(rlen >= WIRE_HDR_LEN, "%s: response of %zu bytes", how, rlen);

	/* 512 without EDNS, else the client's size capped by ours, never below 512. */
	uint16_t udp = 0;
	bool edns = fuzz_query_udp(q, qlen, &udp);
	size_t limit = WIRE_MAX_MSG;
	if (!tcp) {
		limit = WIRE_MAX_UDP_STD;
		if (edns && udp > limit)
			limit = udp < conf->max_udp ? udp : conf->max_udp;
	}
	FUZZ_CHECK(rlen <= limit, "%s: %zu bytes, over the limit of %zu", how, rlen, limit);

	FUZZ_CHECK(r[0] == q[0] && r[1] == q[1], "%s: ID not copied", how);
	fuzz_walk_response(r, rlen, msg);
	uint16_t qflags = wire_read16(q + WIRE_FLAGS);
	FUZZ_CHECK(msg->flags & WIRE_QR, "%s: QR not set", how);
	FUZZ_CHECK(WIRE_OPCODE(msg->flags) == WIRE_OPCODE(qflags), "%s: opcode changed", how);
	FUZZ_CHECK(info->opcode == WIRE_OPCODE(qflags), "%s: info->opcode %u", how, info->opcode);
	FUZZ_CHECK((msg->flags & WIRE_RD) == (qflags & WIRE_RD), "%s: RD not copied", how);

	/* The rcode is split between the header and the OPT, and told to the caller whole. */
	FUZZ_CHECK((msg->flags & 0xF) == (info->rcode & 0xF), "%s: header rcode %u, info %u", how,
	           msg->flags & 0xF, info->rcode);
	FUZZ_CHECK(msg->nopt <= 1, "%s: %d OPT records", how, msg->nopt);
	if (msg->nopt) {
		FUZZ_CHECK(edns, "%s: an OPT in reply to a query without one", how);
		FUZZ_CHECK(msg->opt_udp == conf->max_udp, "%s: OPT offers %u", how, msg->opt_udp);
		FUZZ_CHECK(msg->opt_ercode == info->rcode >> 4,
		           "%s: OPT extended rcode %u, info %u", how, msg->opt_ercode, info->rcode);
	} else {
		FUZZ_CHECK(info->rcode < 16, "%s: extended rcode %u without an OPT", how,
		           info->rcode);
	}

	/* A question in the reply is the query's, byte for byte. */
	if (msg->qd)
		FUZZ_CHECK(qlen >= msg->qend && memcmp(r + WIRE_HDR_LEN, q + WIRE_HDR_LEN,
		                                       msg->qend - WIRE_HDR_LEN) == 0,
		           "%s: question differs from the query's", how);
}

/*
 * Answers q over UDP into udp_buf (conf->max_udp bytes) and over TCP into tcp_buf (65535
 * bytes), checks both replies, and checks that they agree.
 */
static inline void fuzz_answer(const answer_conf_t *conf, const zonedb_t *db, const uint8_t *q,
                               size_t qlen, uint8_t *udp_buf, uint8_t *tcp_buf)
{
	answer_info_t ui, ti;
	fuzz_msg_t um, tm;

	size_t ulen = answer_query(conf, db, q, qlen, udp_buf, false, &ui);
	fuzz_check_answer(conf, q, qlen, udp_buf, ulen, false, &ui, &um);
	size_t tlen = answer_query(conf, db, q, qlen, tcp_buf, true, &ti);
	fuzz_check_answer(conf, q, qlen, tcp_buf, tlen, true, &ti, &tm);

	FUZZ_CHECK((ulen == 0) == (tlen == 0), "UDP answered %zu bytes, TCP %zu", ulen, tlen);
	if (!ulen)
		return;
	FUZZ_CHECK(ui.qtype == ti.qtype && ui.opcode == ti.opcode, "UDP and TCP disagree on info");
	/*
	 * With nothing truncated over UDP, the rcode, answer and authority sections are what TCP
	 * gives: only the optional addresses in the additional section may be left out for room.
	 * A truncated reply may stop early with another rcode (a DNAME chain that would end in
	 * YXDOMAIN), which the client learns when it retries over TCP. AXFR is the one query
	 * whose answer depends on the transport (NOTIMP over UDP, RFC 5936 4.2).
	 */
	if (!(um.flags & WIRE_TC) && ui.qtype != WIRE_T_AXFR) {
		FUZZ_CHECK(ui.rcode == ti.rcode, "untruncated UDP rcode %u, TCP %u", ui.rcode,
		           ti.rcode);
		FUZZ_CHECK(um.flags == tm.flags && um.an == tm.an && um.ns == tm.ns,
		           "untruncated UDP header differs from TCP's: flags %04x/%04x an %u/%u "
		           "ns %u/%u",
		           um.flags, tm.flags, um.an, tm.an, um.ns, tm.ns);
		FUZZ_CHECK(um.nsend == tm.nsend &&
		               memcmp(udp_buf + WIRE_HDR_LEN, tcp_buf + WIRE_HDR_LEN,
		                      um.nsend - WIRE_HDR_LEN) == 0,
		           "untruncated UDP answer and authority differ from TCP's");
	}
}
