/* SPDX-License-Identifier: MIT */
/* fuzz: libFuzzer entry points and an independent DNS message walker the targets check with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called by libFuzzer, or by replay.c for each file of a corpus. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Aborts with the file and line when an invariant fails, so libFuzzer and the replay main both
 * stop on it with a stack trace.
 */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__,       \
			        #cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * What follows deliberately shares no code with src/lib: a bug in the library's reader must not
 * hide the same bug in the check.
 */

enum {
	FUZZ_T_NS = 2,
	FUZZ_T_MD = 3,
	FUZZ_T_MF = 4,
	FUZZ_T_CNAME = 5,
	FUZZ_T_SOA = 6,
	FUZZ_T_MB = 7,
	FUZZ_T_MG = 8,
	FUZZ_T_MR = 9,
	FUZZ_T_PTR = 12,
	FUZZ_T_MINFO = 14,
	FUZZ_T_MX = 15,
	FUZZ_T_SRV = 33,
	FUZZ_T_DNAME = 39,
	FUZZ_T_OPT = 41,
	FUZZ_TC = 0x0200,
};

static inline uint16_t fuzz_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Reads a name at *pos, following compression pointers, into out (255 bytes). Pointers must go
 * back to where an earlier name or label stood, labels are at most 63 bytes and the whole name
 * at most 255. Sets *compressed when a pointer was used. False when any of that fails.
 */
static inline bool fuzz_name(const uint8_t *m, size_t len, size_t *pos, uint8_t *out,
                             size_t *outlen, bool *compressed)
{
	size_t p = *pos, n = 0, end = 0;
	int hops = 0;
	*compressed = false;
	for (;;) {
		if (p >= len)
			return false;
		uint8_t l = m[p];
		if ((l & 0xC0) == 0xC0) {
			if (p + 1 >= len || ++hops > 127)
				return false;
			size_t to = (size_t)(l & 0x3F) << 8 | m[p + 1];
			if (to >= p)
				return false;
			if (!*compressed)
				end = p + 2;
			*compressed = true;
			p = to;
			continue;
		}
		if (l & 0xC0)
			return false;
		if (p + 1 + l > len || n + 1 + l > 255)
			return false;
		memcpy(out + n, m + p, 1 + (size_t)l);
		n += 1 + (size_t)l;
		p += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*outlen = n;
	*pos = *compressed ? end : p;
	return true;
}

/* What the walker learnt about a message. */
typedef struct fuzz_msg {
	uint16_t flags, qd, an, ns, ar;
	size_t qend;  /* end of the question section */
	size_t nsend; /* end of the authority section */
	int nopt;
	uint16_t opt_udp;
	uint8_t opt_ercode;
} fuzz_msg_t;

/* Checks one name in rdata at *p, which must not pass end; compression only when allowed. */
static inline void fuzz_rdata_name(const uint8_t *m, size_t len, size_t *p, size_t end,
                                   bool may_compress, uint16_t type)
{
	uint8_t name[255];
	size_t nlen;
	bool comp;
	FUZZ_CHECK(fuzz_name(m, len, p, name, &nlen, &comp), "bad name in type %u rdata at %zu",
	           type, *p);
	FUZZ_CHECK(*p <= end, "type %u rdata name runs past the rdata", type);
	FUZZ_CHECK(may_compress || !comp, "type %u rdata name is compressed", type);
}

/*
 * Walks a whole response and aborts unless every section holds as many well-formed records as
 * the header says and nothing is left over. Names in the rdata of the RFC 1035 types must
 * decompress and fill their rdata exactly; SRV and DNAME targets must not be compressed
 * (RFC 2782, RFC 6672 2.5). At most one OPT, owned by the root, last in the additional section.
 */
static inline void fuzz_walk_response(const uint8_t *m, size_t len, fuzz_msg_t *out)
{
	memset(out, 0, sizeof(*out));
	FUZZ_CHECK(len >= 12, "response of %zu bytes", len);
	out->flags = fuzz_u16(m + 2);
	out->qd = fuzz_u16(m + 4);
	out->an = fuzz_u16(m + 6);
	out->ns = fuzz_u16(m + 8);
	out->ar = fuzz_u16(m + 10);
	FUZZ_CHECK(out->qd <= 1, "qdcount %u", out->qd);

	uint8_t name[255];
	size_t nlen, p = 12;
	bool comp;
	if (out->qd) {
		FUZZ_CHECK(fuzz_name(m, len, &p, name, &nlen, &comp), "bad question name");
		FUZZ_CHECK(p + 4 <= len, "question truncated");
		p += 4;
	}
	out->qend = p;

	unsigned total = (unsigned)out->an + out->ns + out->ar;
	for (unsigned i = 0; i < total; i++) {
		if (i == (unsigned)out->an + out->ns)
			out->nsend = p;
		FUZZ_CHECK(fuzz_name(m, len, &p, name, &nlen, &comp), "bad owner of RR %u at %zu",
		           i, p);
		FUZZ_CHECK(p + 10 <= len, "RR %u header truncated", i);
		uint16_t type = fuzz_u16(m + p);
		size_t rdlen = fuzz_u16(m + p + 8);
		size_t rd = p + 10, end = rd + rdlen;
		FUZZ_CHECK(end <= len, "RR %u rdata (%zu bytes) runs past the message", i, rdlen);
		size_t q = rd;
		switch (type) {
		case FUZZ_T_NS:
		case FUZZ_T_MD:
		case FUZZ_T_MF:
		case FUZZ_T_CNAME:
		case FUZZ_T_MB:
		case FUZZ_T_MG:
		case FUZZ_T_MR:
		case FUZZ_T_PTR:
			fuzz_rdata_name(m, len, &q, end, true, type);
			FUZZ_CHECK(q == end, "RR %u: type %u rdata has trailing bytes", i, type);
			break;
		case FUZZ_T_SOA:
			fuzz_rdata_name(m, len, &q, end, true, type);
			fuzz_rdata_name(m, len, &q, end, true, type);
			FUZZ_CHECK(q + 20 == end, "RR %u: SOA rdata is not two names and 20 bytes",
			           i);
			break;
		case FUZZ_T_MINFO:
			fuzz_rdata_name(m, len, &q, end, true, type);
			fuzz_rdata_name(m, len, &q, end, true, type);
			FUZZ_CHECK(q == end, "RR %u: MINFO rdata has trailing bytes", i);
			break;
		case FUZZ_T_MX:
			FUZZ_CHECK(rdlen >= 2, "RR %u: MX rdata too short", i);
			q += 2;
			fuzz_rdata_name(m, len, &q, end, true, type);
			FUZZ_CHECK(q == end, "RR %u: MX rdata has trailing bytes", i);
			break;
		case FUZZ_T_SRV:
			FUZZ_CHECK(rdlen >= 6, "RR %u: SRV rdata too short", i);
			q += 6;
			fuzz_rdata_name(m, len, &q, end, false, type);
			FUZZ_CHECK(q == end, "RR %u: SRV rdata has trailing bytes", i);
			break;
		case FUZZ_T_DNAME:
			fuzz_rdata_name(m, len, &q, end, false, type);
			FUZZ_CHECK(q == end, "RR %u: DNAME rdata has trailing bytes", i);
			break;
		case FUZZ_T_OPT:
			FUZZ_CHECK(i == total - 1, "OPT is RR %u of %u, not the last", i, total);
			FUZZ_CHECK(i >= (unsigned)out->an + out->ns,
			           "OPT outside the additional section");
			FUZZ_CHECK(nlen == 1, "OPT owner is not the root");
			out->nopt++;
			out->opt_udp = fuzz_u16(m + p + 2);
			out->opt_ercode = m[p + 4];
			for (size_t o = rd; o < end;) {
				FUZZ_CHECK(o + 4 <= end, "OPT option header truncated");
				o += 4 + (size_t)fuzz_u16(m + o + 2);
				FUZZ_CHECK(o <= end, "OPT option data truncated");
			}
			break;
		default:
			break;
		}
		p = end;
	}
	if (total == (unsigned)out->an + out->ns)
		out->nsend = p;
	FUZZ_CHECK(p == len, "%zu bytes after the last record (message is %zu)", len - p, len);
}

/*
 * Finds the EDNS UDP size a server can have read from query q: the first OPT in the additional
 * section, reached by skipping records without decompressing. It accepts more than a strict
 * parser does, so every OPT a correct server sees is found here too. False when there is none.
 */
static inline bool fuzz_query_udp(const uint8_t *q, size_t qlen, uint16_t *udp)
{
	if (qlen < 12 || fuzz_u16(q + 4) != 1)
		return false;
	unsigned an = fuzz_u16(q + 6), ns = fuzz_u16(q + 8), ar = fuzz_u16(q + 10);
	size_t p = 12;
	for (unsigned i = 0; i <= an + ns + ar; i++) {
		/* Skip a name: labels up to a root label or a pointer. */
		for (;;) {
			if (p >= qlen)
				return false;
			uint8_t l = q[p];
			if ((l & 0xC0) == 0xC0) {
				p += 2;
				break;
			}
			if (l & 0xC0)
				return false;
			p += 1 + (size_t)l;
			if (l == 0)
				break;
		}
		if (i == 0) { /* the question */
			p += 4;
			continue;
		}
		if (p + 10 > qlen)
			return false;
		if (i > an + ns && fuzz_u16(q + p) == FUZZ_T_OPT) {
			*udp = fuzz_u16(q + p + 2);
			return true;
		}
		p += 10 + (size_t)fuzz_u16(q + p + 8);
	}
	return false;
}
