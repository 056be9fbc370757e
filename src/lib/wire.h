/* SPDX-License-Identifier: MIT */
/* wire: DNS message layout, a bounds-checked reader and a compressing writer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WIRE_HDR_LEN     12
#define WIRE_COMP_MAX    96 /* label positions remembered for compression */
#define WIRE_COMP_KEEP   8  /* of which a full table never replaces the first */
#define WIRE_MAX_UDP_STD 512
#define WIRE_MAX_MSG     65535

/* Header flag bits in the 16-bit flags word (bytes 2-3). */
#define WIRE_QR            0x8000
#define WIRE_AA            0x0400
#define WIRE_TC            0x0200
#define WIRE_RD            0x0100
#define WIRE_RA            0x0080
#define WIRE_AD            0x0020
#define WIRE_CD            0x0010
#define WIRE_OPCODE(flags) (((flags) >> 11) & 0xF)

enum { WIRE_OPCODE_QUERY = 0, WIRE_OPCODE_NOTIFY = 4, WIRE_OPCODE_UPDATE = 5 };
enum {
	WIRE_RCODE_NOERROR = 0,
	WIRE_RCODE_FORMERR = 1,
	WIRE_RCODE_SERVFAIL = 2,
	WIRE_RCODE_NXDOMAIN = 3,
	WIRE_RCODE_NOTIMP = 4,
	WIRE_RCODE_REFUSED = 5,
	WIRE_RCODE_YXDOMAIN = 6,
	WIRE_RCODE_NOTAUTH = 9,
	WIRE_RCODE_BADVERS = 16,
	WIRE_RCODE_BADCOOKIE = 23,
};
enum { WIRE_CLASS_IN = 1, WIRE_CLASS_CH = 3, WIRE_CLASS_NONE = 254, WIRE_CLASS_ANY = 255 };
enum {
	WIRE_T_A = 1,
	WIRE_T_NS = 2,
	WIRE_T_MD = 3,
	WIRE_T_MF = 4,
	WIRE_T_CNAME = 5,
	WIRE_T_SOA = 6,
	WIRE_T_MB = 7,
	WIRE_T_MG = 8,
	WIRE_T_MR = 9,
	WIRE_T_NULL = 10,
	WIRE_T_PTR = 12,
	WIRE_T_MINFO = 14,
	WIRE_T_MX = 15,
	WIRE_T_TXT = 16,
	WIRE_T_RP = 17,
	WIRE_T_AFSDB = 18,
	WIRE_T_RT = 21,
	WIRE_T_PX = 26,
	WIRE_T_AAAA = 28,
	WIRE_T_SRV = 33,
	WIRE_T_NAPTR = 35,
	WIRE_T_KX = 36,
	WIRE_T_DNAME = 39,
	WIRE_T_OPT = 41,
	WIRE_T_DS = 43,
	WIRE_T_RRSIG = 46,
	WIRE_T_NSEC = 47,
	WIRE_T_DNSKEY = 48,
	WIRE_T_NSEC3 = 50,
	WIRE_T_NSEC3PARAM = 51,
	WIRE_T_TSIG = 250,
	WIRE_T_IXFR = 251,
	WIRE_T_AXFR = 252,
	WIRE_T_MAILB = 253,
	WIRE_T_MAILA = 254,
	WIRE_T_ANY = 255,
};
enum { WIRE_EDNS_NSID = 3, WIRE_EDNS_EXPIRE = 9, WIRE_EDNS_COOKIE = 10, WIRE_EDNS_KEEPALIVE = 11 };
/* Extended DNS Errors (RFC 8914): the option, and the info codes we send. */
enum { WIRE_EDNS_EDE = 15, WIRE_EDE_STALE_ANSWER = 3 };

static inline uint16_t wire_read16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_read32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_write16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_write32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Where the domain names sit in a type's rdata: pre fixed bytes, then strings
 * character-strings, then names names, then exactly post bytes. compress marks the RFC 1035
 * types, whose names may be sent compressed (RFC 3597 4); receivers also decompress the
 * others listed, as senders of old did compress them.
 */
typedef struct wire_rdata_layout {
	uint8_t pre, strings, names, post;
	bool compress;
} wire_rdata_layout_t;

/* Fills l for a type with names in its rdata and returns true; false for any other type. */
bool wire_rdata_layout(uint16_t type, wire_rdata_layout_t *l);

/* Header fields by offset. */
#define WIRE_ID      0
#define WIRE_FLAGS   2
#define WIRE_QDCOUNT 4
#define WIRE_ANCOUNT 6
#define WIRE_NSCOUNT 8
#define WIRE_ARCOUNT 10

/*
 * A writer renders into a caller-owned buffer. limit is where rendering must stop (below cap
 * when room is kept back, e.g. for the OPT record). Names are compressed against the label
 * positions remembered in comp.
 */
typedef struct wire_writer {
	uint8_t *pkt;
	size_t limit;
	size_t len;
	uint16_t comp[WIRE_COMP_MAX];       /* where a remembered name suffix starts */
	uint8_t comp_labels[WIRE_COMP_MAX]; /* how many labels that suffix has */
	int ncomp;
	/* A full table takes new names in place of old ones, round the slots after the first
	 * WIRE_COMP_KEEP (the question's, usually), so a long transfer message keeps compressing
	 * each owner against the one before; rolling back must then forget by offset. */
	int comp_next;
	bool comp_wrapped;
	/* Compress only against names of the same case, so that what a reader decompresses is
	 * byte for byte what was written (zone transfers); answers compress across case. */
	bool exact_case;
} wire_writer_t;

/* A point to roll back to when an RRset does not fit whole. */
typedef struct wire_mark {
	size_t len;
	int ncomp;
} wire_mark_t;

static inline wire_mark_t wire_mark(const wire_writer_t *w)
{
	return (wire_mark_t){w->len, w->ncomp};
}

void wire_forget_after(wire_writer_t *w, size_t len);

static inline void wire_rollback(wire_writer_t *w, wire_mark_t m)
{
	w->len = m.len;
	if (w->comp_wrapped)
		wire_forget_after(w, m.len);
	else
		w->ncomp = m.ncomp;
}

/* Starts a writer on buf with room for limit bytes; nothing is written yet. exact_case is
 * false: set it after init for a byte-exact copy of names. */
void wire_writer_init(wire_writer_t *w, uint8_t *buf, size_t limit);

/* The name of an RCODE (extended ones too), e.g. "REFUSED"; unknown ones as "RCODE23" in buf
 * (at least 16 bytes), which is returned then. */
const char *wire_rcode_text(uint16_t rcode, char *buf, size_t len);

/* Appends n raw bytes; US_ETRUNC if they do not fit (nothing is written then). */
int wire_put(wire_writer_t *w, const void *data, size_t n);
int wire_put16(wire_writer_t *w, uint16_t v);
int wire_put32(wire_writer_t *w, uint32_t v);

/*
 * Appends an uncompressed wire name, compressed against earlier names when compress is set,
 * and remembers its labels for later names. US_ETRUNC if it does not fit.
 */
int wire_put_name(wire_writer_t *w, const uint8_t *name, bool compress);

/* Remembers the name already in the buffer at off as a compression target. */
void wire_remember_name(wire_writer_t *w, size_t off);

/*
 * Appends one resource record: owner (compressed), type, class, ttl and rdata, with the names
 * in rdata compressed for the RFC 1035 types that allow it (RFC 3597 4). US_ETRUNC if it does
 * not fit; the writer is then unchanged.
 */
int wire_put_rr(wire_writer_t *w, const uint8_t *owner, uint16_t type, uint16_t rclass,
                uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
