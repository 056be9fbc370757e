/* SPDX-License-Identifier: MIT */
/* xfr: zone transfers in (RFC 1995, 5936): requests, the SOA check, the AXFR/IXFR decoder. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "serial.h"
#include "wire.h"
#include "xfr.h"

/* Decompressed rdata is at most this long before the 16-bit length check. */
#define RDBUF (UINT16_MAX + 2 * DNAME_MAXLEN)

/* ---- requests ---- */

static int build_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex, uint16_t qtype,
                       const uint32_t *ixfr_serial, bool keepalive)
{
	wire_writer_t w;
	wire_writer_init(&w, buf, cap);
	uint8_t hdr[WIRE_HDR_LEN] = {0};
	wire_write16(hdr + WIRE_ID, id);
	wire_write16(hdr + WIRE_QDCOUNT, 1);
	wire_write16(hdr + WIRE_NSCOUNT, ixfr_serial ? 1 : 0);
	wire_write16(hdr + WIRE_ARCOUNT, 1);
	int ret = wire_put(&w, hdr, sizeof(hdr));
	if (ret == 0)
		ret = wire_put_name(&w, apex, true);
	if (ret == 0)
		ret = wire_put16(&w, qtype);
	if (ret == 0)
		ret = wire_put16(&w, WIRE_CLASS_IN);
	if (ret == 0 && ixfr_serial) {
		/* MNAME and RNAME the root, then serial, refresh, retry, expire, minimum. */
		uint8_t soa[2 + 20] = {0};
		wire_write32(soa + 2, *ixfr_serial);
		ret = wire_put_rr(&w, apex, WIRE_T_SOA, WIRE_CLASS_IN, 0, soa, sizeof(soa));
	}
	/* OPT: root owner, payload size, no extended RCODE, version 0, no flags, and EXPIRE; an
	 * SOA query asks for ZONEVERSION too (RFC 9660), which says the serial an anycast or
	 * load-balanced server's answer came from; over a stream, edns-tcp-keepalive asks how
	 * long the server keeps the connection for the next transfer. All three are empty. */
	uint8_t opt[11 + 12] = {0, 0, WIRE_T_OPT};
	wire_write16(opt + 3, XFR_EDNS_UDP);
	size_t optlen = 11;
	wire_write16(opt + optlen, XFR_EDNS_EXPIRE);
	optlen += 4;
	if (qtype == WIRE_T_SOA) {
		wire_write16(opt + optlen, XFR_EDNS_ZONEVERSION);
		optlen += 4;
	}
	if (keepalive) {
		wire_write16(opt + optlen, XFR_EDNS_KEEPALIVE);
		optlen += 4;
	}
	wire_write16(opt + 9, (uint16_t)(optlen - 11));
	if (ret == 0)
		ret = wire_put(&w, opt, optlen);
	return ret ? ret : (int)w.len;
}

int xfr_build_soa_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex)
{
	return build_query(buf, cap, id, apex, WIRE_T_SOA, NULL, false);
}

int xfr_build_soa_query_stream(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex)
{
	return build_query(buf, cap, id, apex, WIRE_T_SOA, NULL, true);
}

int xfr_build_axfr(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex)
{
	return build_query(buf, cap, id, apex, WIRE_T_AXFR, NULL, true);
}

int xfr_build_ixfr(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex, uint32_t serial)
{
	return build_query(buf, cap, id, apex, WIRE_T_IXFR, &serial, true);
}

/* ---- reading messages ---- */

static const char *name_text(const uint8_t *name, char *buf)
{
	if (dname_to_text(name, buf, DNAME_TEXT_MAX) < 0)
		strcpy(buf, "?");
	return buf;
}

/* One record as read from a message: the owner decompressed, the rdata still in place. */
typedef struct rr_view {
	uint8_t owner[DNAME_MAXLEN];
	size_t owner_len;
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdpos;    /* where the rdata starts in the message */
	size_t wire_len; /* bytes the record takes in the message */
} rr_view_t;

/* Reads the record at *pos and moves past it; US_EMALF when it does not fit or parse. */
static int read_rr(const uint8_t *m, size_t len, size_t *pos, rr_view_t *rr)
{
	size_t start = *pos;
	if (dname_unpack(m, len, pos, rr->owner, &rr->owner_len) < 0 || *pos + 10 > len)
		return US_EMALF;
	const uint8_t *p = m + *pos;
	rr->type = wire_read16(p);
	rr->rclass = wire_read16(p + 2);
	rr->ttl = wire_read32(p + 4);
	rr->rdlen = wire_read16(p + 8);
	rr->rdpos = *pos + 10;
	if (rr->rdpos + rr->rdlen > len)
		return US_EMALF;
	*pos = rr->rdpos + rr->rdlen;
	rr->wire_len = *pos - start;
	return 0;
}

/*
 * Copies a record's rdata into out (cap bytes, at least RDBUF for any record) with the names of
 * the types that may carry compressed names (RFC 3597 4) decompressed. US_EMALF when the rdata
 * is not laid out as its type says or grows past 65535 bytes.
 */
static int unpack_rdata(const uint8_t *m, const rr_view_t *rr, uint8_t *out, size_t cap,
                        size_t *outlen)
{
	size_t p = rr->rdpos, end = rr->rdpos + rr->rdlen, o = 0;
	wire_rdata_layout_t l;
	if (!wire_rdata_layout(rr->type, &l)) {
		if (rr->rdlen > cap)
			return US_EMALF;
		memcpy(out, m + p, rr->rdlen);
		*outlen = rr->rdlen;
		return 0;
	}
	if (l.pre > rr->rdlen || l.pre > cap)
		return US_EMALF;
	memcpy(out, m + p, l.pre);
	p += l.pre;
	o += l.pre;
	for (int i = 0; i < l.strings; i++) {
		if (p >= end || p + 1 + m[p] > end || o + 1 + m[p] > cap)
			return US_EMALF;
		size_t n = 1 + (size_t)m[p];
		memcpy(out + o, m + p, n);
		p += n;
		o += n;
	}
	for (int i = 0; i < l.names; i++) {
		size_t n;
		/* Bounded by the rdata's end, so a name cannot run into the next record. */
		if (o + DNAME_MAXLEN > cap || dname_unpack(m, end, &p, out + o, &n) < 0)
			return US_EMALF;
		o += n;
	}
	if (o + (end - p) > cap || o + (end - p) > UINT16_MAX)
		return US_EMALF;
	memcpy(out + o, m + p, end - p);
	*outlen = o + (end - p);
	return 0;
}

/* Reads the serial from uncompressed SOA rdata; false unless it is two names and 20 bytes. */
static bool soa_serial(const uint8_t *rd, size_t len, uint32_t *serial)
{
	int n1 = dname_check(rd, len);
	if (n1 < 0)
		return false;
	int n2 = dname_check(rd + n1, len - (size_t)n1);
	if (n2 < 0 || (size_t)n1 + (size_t)n2 + 20 != len)
		return false;
	*serial = wire_read32(rd + n1 + n2);
	return true;
}

/* What a first pass over a whole message found. */
typedef struct msg_info {
	uint16_t flags;
	uint16_t rcode; /* extended with the OPT's bits */
	uint16_t qd, an;
	size_t an_pos; /* the first answer record */
	uint8_t qname[DNAME_MAXLEN];
	uint16_t qtype, qclass;
	bool expire;
	uint32_t expire_val;
	bool version; /* ZONEVERSION of type SOA-SERIAL */
	uint32_t version_val;
	bool keepalive; /* edns-tcp-keepalive with a timeout */
	uint16_t keepalive_val;
} msg_info_t;

static int read_opt(const uint8_t *m, const rr_view_t *rr, msg_info_t *mi, char *err, size_t errlen)
{
	const uint8_t *o = m + rr->rdpos;
	for (size_t p = 0; p < rr->rdlen;) {
		if (p + 4 > rr->rdlen)
			goto malformed;
		uint16_t code = wire_read16(o + p), len = wire_read16(o + p + 2);
		if (p + 4 + len > rr->rdlen)
			goto malformed;
		if (code == XFR_EDNS_EXPIRE) {
			/* RFC 7314 2: a response's option holds the 32-bit expire value. */
			if (len != 4) {
				us_errf(err, errlen, "EDNS EXPIRE option of %u bytes, not 4", len);
				return US_EMALF;
			}
			mi->expire = true;
			mi->expire_val = wire_read32(o + p + 4);
		} else if (code == XFR_EDNS_ZONEVERSION && len == 6 && o[p + 5] == 0) {
			/* RFC 9660 3: label count, type 0 (SOA-SERIAL), the serial. Other types and
			 * lengths are versions we cannot read, which the RFC lets us ignore. */
			mi->version = true;
			mi->version_val = wire_read32(o + p + 6);
		} else if (code == XFR_EDNS_KEEPALIVE && len == 2) {
			/* RFC 7828 3.3.1: the server's idle timeout. Without one (length 0) the
			 * answer says nothing we could keep the connection for. */
			mi->keepalive = true;
			mi->keepalive_val = wire_read16(o + p + 4);
		}
		p += 4 + (size_t)len;
	}
	mi->rcode |= (uint16_t)((rr->ttl >> 24) << 4);
	return 0;
malformed:
	us_errf(err, errlen, "malformed OPT record");
	return US_EMALF;
}

/*
 * Checks a response's header against the query ID, walks every record so later passes can
 * trust the layout, and reads the OPT record. Leaves RCODE and question checks to check_msg.
 */
static int scan_msg(const uint8_t *m, size_t len, uint16_t id, msg_info_t *mi, char *err,
                    size_t errlen)
{
	memset(mi, 0, sizeof(*mi));
	if (len < WIRE_HDR_LEN) {
		us_errf(err, errlen, "a message of %zu bytes, shorter than a header", len);
		return US_EMALF;
	}
	if (wire_read16(m + WIRE_ID) != id) {
		us_errf(err, errlen, "message ID %u does not match the query's %u",
		        wire_read16(m + WIRE_ID), id);
		return US_EMALF;
	}
	mi->flags = wire_read16(m + WIRE_FLAGS);
	mi->rcode = mi->flags & 0xF;
	if (!(mi->flags & WIRE_QR)) {
		us_errf(err, errlen, "the message is not a response (QR clear)");
		return US_EMALF;
	}
	if (WIRE_OPCODE(mi->flags) != WIRE_OPCODE_QUERY) {
		us_errf(err, errlen, "response with opcode %u", WIRE_OPCODE(mi->flags));
		return US_EMALF;
	}
	mi->qd = wire_read16(m + WIRE_QDCOUNT);
	mi->an = wire_read16(m + WIRE_ANCOUNT);
	unsigned ns = wire_read16(m + WIRE_NSCOUNT), ar = wire_read16(m + WIRE_ARCOUNT);
	if (mi->qd > 1) {
		us_errf(err, errlen, "response with %u questions", mi->qd);
		return US_EMALF;
	}
	size_t pos = WIRE_HDR_LEN, qlen;
	if (mi->qd) {
		if (dname_unpack(m, len, &pos, mi->qname, &qlen) < 0 || pos + 4 > len) {
			us_errf(err, errlen, "malformed question");
			return US_EMALF;
		}
		mi->qtype = wire_read16(m + pos);
		mi->qclass = wire_read16(m + pos + 2);
		pos += 4;
	}
	mi->an_pos = pos;
	bool opt = false;
	rr_view_t rr;
	for (unsigned i = 0; i < mi->an + ns + ar; i++) {
		if (read_rr(m, len, &pos, &rr)) {
			us_errf(err, errlen, "malformed record %u of the message", i + 1);
			return US_EMALF;
		}
		if (rr.type != WIRE_T_OPT)
			continue;
		/* One OPT, owned by the root, in the additional section (RFC 6891 6.1.1). */
		if (i < mi->an + ns || opt || rr.owner_len != 1) {
			us_errf(err, errlen, "misplaced OPT record");
			return US_EMALF;
		}
		opt = true;
		int ret = read_opt(m, &rr, mi, err, errlen);
		if (ret)
			return ret;
	}
	if (pos != len) {
		us_errf(err, errlen, "%zu bytes after the last record", len - pos);
		return US_EMALF;
	}
	return 0;
}

/*
 * The checks every response to our query passes: NOERROR, not truncated, and the question we
 * asked (which may be absent when need_question is false: RFC 5936 2.2.1).
 */
static int check_msg(const msg_info_t *mi, const uint8_t *apex, uint16_t qtype, bool need_question,
                     char *err, size_t errlen)
{
	char t[DNAME_TEXT_MAX];
	if (mi->rcode != WIRE_RCODE_NOERROR) {
		us_errf(err, errlen, "the primary answered %s",
		        wire_rcode_text(mi->rcode, t, sizeof(t)));
		return XFR_ERCODE;
	}
	if (mi->flags & WIRE_TC) {
		us_errf(err, errlen, "the response is truncated (TC)");
		return US_ETRUNC;
	}
	if (!mi->qd && !need_question)
		return 0;
	if (!mi->qd) {
		us_errf(err, errlen, "the response has no question");
		return US_EMALF;
	}
	if (!dname_equal(mi->qname, apex) || mi->qtype != qtype || mi->qclass != WIRE_CLASS_IN) {
		us_errf(err, errlen, "the response's question (%s type %u class %u) is not ours",
		        name_text(mi->qname, t), mi->qtype, mi->qclass);
		return US_EMALF;
	}
	return 0;
}

int xfr_parse_soa_response(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *apex,
                           xfr_soa_answer_t *out, char *err, size_t errlen)
{
	char t[DNAME_TEXT_MAX];
	msg_info_t mi;
	int ret = scan_msg(msg, len, id, &mi, err, errlen);
	if (ret == 0)
		ret = check_msg(&mi, apex, WIRE_T_SOA, true, err, errlen);
	if (ret == 0 || ret == XFR_ERCODE) {
		out->rcode = mi.rcode;
		out->aa = (mi.flags & WIRE_AA) != 0;
	}
	if (ret)
		return ret;
	if (!(mi.flags & WIRE_AA)) {
		us_errf(err, errlen, "the answer is not authoritative (AA clear)");
		return US_ENOENT;
	}
	size_t pos = mi.an_pos;
	rr_view_t rr;
	for (unsigned i = 0; i < mi.an; i++) {
		read_rr(msg, len, &pos, &rr); /* cannot fail: scan_msg read it */
		if (rr.type != WIRE_T_SOA || rr.rclass != WIRE_CLASS_IN ||
		    !dname_equal(rr.owner, apex))
			continue;
		uint8_t rd[2 * DNAME_MAXLEN + 20];
		size_t rdlen;
		uint32_t s;
		if (unpack_rdata(msg, &rr, rd, sizeof(rd), &rdlen) || !soa_serial(rd, rdlen, &s)) {
			us_errf(err, errlen, "malformed SOA record");
			return US_EMALF;
		}
		out->serial = s;
		out->expire_present = mi.expire;
		out->expire = mi.expire ? mi.expire_val : 0;
		out->version_present = mi.version;
		out->version = mi.version ? mi.version_val : 0;
		out->keepalive_present = mi.keepalive;
		out->keepalive = mi.keepalive ? mi.keepalive_val : 0;
		return 0;
	}
	us_errf(err, errlen, "no SOA record for %s in the answer", name_text(apex, t));
	return US_ENOENT;
}

int xfr_notify_serial(const uint8_t *msg, size_t len, const uint8_t *apex, uint32_t *serial)
{
	if (len < WIRE_HDR_LEN)
		return US_EMALF;
	uint16_t flags = wire_read16(msg + WIRE_FLAGS);
	if ((flags & WIRE_QR) || WIRE_OPCODE(flags) != WIRE_OPCODE_NOTIFY ||
	    wire_read16(msg + WIRE_QDCOUNT) != 1)
		return US_EMALF;
	uint8_t qname[DNAME_MAXLEN];
	size_t qlen, pos = WIRE_HDR_LEN;
	if (dname_unpack(msg, len, &pos, qname, &qlen) < 0 || pos + 4 > len)
		return US_EMALF;
	pos += 4;
	if (!dname_equal(qname, apex) || wire_read16(msg + WIRE_ANCOUNT) == 0)
		return US_ENOENT;
	rr_view_t rr;
	if (read_rr(msg, len, &pos, &rr))
		return US_EMALF;
	if (rr.type != WIRE_T_SOA || rr.rclass != WIRE_CLASS_IN || !dname_equal(rr.owner, apex))
		return US_ENOENT;
	uint8_t rd[2 * DNAME_MAXLEN + 20];
	size_t rdlen;
	uint32_t s;
	if (unpack_rdata(msg, &rr, rd, sizeof(rd), &rdlen) || !soa_serial(rd, rdlen, &s))
		return US_EMALF;
	*serial = s;
	return 0;
}

/* ---- the transfer decoder ---- */

enum {
	ST_FIRST,       /* expecting the first SOA */
	ST_IXFR_SECOND, /* IXFR: the second record tells incremental from full */
	ST_AXFR,        /* records of a full zone, until the SOA that closes it */
	ST_DEL,         /* IXFR: a diff's deletions, until its new SOA */
	ST_ADD,         /* IXFR: a diff's additions, until the next diff's old SOA or the end */
	ST_DONE,
	ST_FAILED,
};

struct xfr_in {
	uint8_t apex[DNAME_MAXLEN];
	uint16_t qtype;
	uint16_t id;
	uint32_t our_serial;
	xfr_limits_t lim;
	int state;
	int error;
	uint16_t rcode;
	bool builder_failed; /* the builder reported an error */
	char err[XFR_ERRLEN];
	xfr_result_t res;
	zone_builder_t *b;
	zone_t *zone;
	arena_t arena;          /* the first SOA and the changeset */
	const zone_rr_t *first; /* the first SOA record */
	zone_changeset_t cs;    /* INCREMENTAL */
	zone_diff_t *diff;      /* the diff being read */
	zone_rr_t *tail;        /* the last record of the list being read */
	uint8_t rd[RDBUF];      /* the current record's rdata, decompressed */
};

static int fail(xfr_in_t *x, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Enters the failed state with code; fmt NULL keeps the message already in x->err. */
static int fail(xfr_in_t *x, int code, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(x->err, sizeof(x->err), fmt, ap);
		va_end(ap);
	}
	x->state = ST_FAILED;
	x->error = code;
	return code;
}

static void on_report(void *ctx, const char *file, unsigned long line, bool error, const char *msg)
{
	xfr_in_t *x = ctx;
	(void)file;
	if (!error || x->builder_failed)
		return;
	x->builder_failed = true;
	if (line)
		us_errf(x->err, sizeof(x->err),
		        "the transferred zone fails a check: record %lu: %s", line, msg);
	else
		us_errf(x->err, sizeof(x->err), "the transferred zone fails a check: %s", msg);
}

xfr_in_t *xfr_in_new(const uint8_t *apex, uint16_t qtype, uint32_t our_serial,
                     const xfr_limits_t *lim, uint16_t query_id)
{
	if (qtype != WIRE_T_AXFR && qtype != WIRE_T_IXFR)
		return NULL;
	xfr_in_t *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	size_t len = dname_len(apex);
	dname_lower(x->apex, apex, len);
	x->qtype = qtype;
	x->id = query_id;
	x->our_serial = our_serial;
	if (lim)
		x->lim = *lim;
	x->state = ST_FIRST;
	arena_init(&x->arena);
	return x;
}

void xfr_in_free(xfr_in_t *x)
{
	if (!x)
		return;
	zone_builder_free(x->b);
	zone_unref(x->zone);
	arena_deinit(&x->arena);
	free(x);
}

/* Copies a record into the arena. */
static zone_rr_t *rr_keep(xfr_in_t *x, const rr_view_t *rr, size_t rdlen)
{
	zone_rr_t *r = arena_alloc(&x->arena, sizeof(*r) + rr->owner_len + rdlen);
	if (!r)
		return NULL;
	uint8_t *owner = (uint8_t *)(r + 1);
	memcpy(owner, rr->owner, rr->owner_len);
	memcpy(owner + rr->owner_len, x->rd, rdlen);
	*r = (zone_rr_t){.owner = owner,
	                 .rdata = owner + rr->owner_len,
	                 .ttl = rr->ttl,
	                 .type = rr->type,
	                 .rdlen = (uint16_t)rdlen};
	return r;
}

static const char *kind_name(const xfr_in_t *x)
{
	return x->qtype == WIRE_T_AXFR ? "AXFR" : "IXFR";
}

/* Adds a record to the full zone; its number in the transfer names it in error messages. */
static int builder_add(xfr_in_t *x, const uint8_t *owner, uint16_t type, uint32_t ttl,
                       const uint8_t *rd, uint16_t rdlen, uint64_t number)
{
	int ret = zone_builder_add(x->b, owner, type, WIRE_CLASS_IN, ttl, rd, rdlen, kind_name(x),
	                           (unsigned long)number);
	if (ret)
		return fail(x, ret, "out of memory");
	if (x->builder_failed)
		return fail(x, US_EZONE, NULL);
	return 0;
}

/* The transfer is a full zone: start the builder with the first SOA. */
static int start_full(xfr_in_t *x)
{
	x->b = zone_builder_new(x->apex, on_report, x);
	if (!x->b)
		return fail(x, US_ENOMEM, "out of memory");
	x->state = ST_AXFR;
	return builder_add(x, x->first->owner, WIRE_T_SOA, x->first->ttl, x->first->rdata,
	                   x->first->rdlen, 1);
}

static int finish_full(xfr_in_t *x)
{
	int ret = zone_builder_finish(x->b, &x->zone);
	zone_builder_free(x->b);
	x->b = NULL;
	if (ret == US_EZONE)
		return fail(x, ret, NULL);
	if (ret)
		return fail(x, ret, "out of memory");
	x->res.kind = XFR_FULL;
	x->res.zone = x->zone;
	x->state = ST_DONE;
	return 0;
}

/* Starts the next diff with its old SOA. */
static int start_diff(xfr_in_t *x, const rr_view_t *rr, size_t rdlen, uint32_t serial)
{
	zone_diff_t *d = arena_alloc(&x->arena, sizeof(*d));
	zone_rr_t *soa = rr_keep(x, rr, rdlen);
	if (!d || !soa)
		return fail(x, US_ENOMEM, "out of memory");
	*d = (zone_diff_t){.soa_from = soa, .from = serial};
	if (x->diff)
		x->diff->next = d;
	else
		x->cs.first = d;
	x->cs.ndiffs++;
	x->diff = d;
	x->tail = NULL;
	x->state = ST_DEL;
	return 0;
}

static int on_soa(xfr_in_t *x, const rr_view_t *rr, size_t rdlen, uint32_t serial, bool last)
{
	uint32_t final = x->res.serial;
	zone_diff_t *d = x->diff;
	switch (x->state) {
	case ST_FIRST:
		x->res.serial = serial;
		x->first = rr_keep(x, rr, rdlen);
		if (!x->first)
			return fail(x, US_ENOMEM, "out of memory");
		if (x->qtype == WIRE_T_AXFR)
			return start_full(x);
		/* RFC 1995 4: a lone SOA not newer than ours says we are up to date. A lone newer
		 * one waits: the rest may follow in the next message, as with BIND's one-answer
		 * format. */
		if (last && serial_cmp(serial, x->our_serial) <= 0) {
			x->res.kind = XFR_UPTODATE;
			x->state = ST_DONE;
			return 0;
		}
		x->state = ST_IXFR_SECOND;
		return 0;
	case ST_IXFR_SECOND:
		if (serial == final) {
			/* SOA, SOA: a full zone of just its SOA, which the checks reject. */
			int ret = start_full(x);
			return ret ? ret : finish_full(x);
		}
		if (serial != x->our_serial)
			return fail(x, US_EMALF, "the IXFR starts from serial %u, but ours is %u",
			            serial, x->our_serial);
		return start_diff(x, rr, rdlen, serial);
	case ST_AXFR:
		if (serial != final)
			return fail(
			    x, US_EMALF,
			    "an SOA with serial %u follows the first SOA's %u (record %" PRIu64 ")",
			    serial, final, x->res.records);
		return finish_full(x);
	case ST_DEL:
		if (serial_cmp(serial, d->from) <= 0)
			return fail(x, US_EMALF, "a change from serial %u goes back to %u", d->from,
			            serial);
		d->soa_to = rr_keep(x, rr, rdlen);
		if (!d->soa_to)
			return fail(x, US_ENOMEM, "out of memory");
		d->to = serial;
		x->tail = NULL;
		x->state = ST_ADD;
		return 0;
	case ST_ADD:
		if (serial == final && d->to == final) {
			x->cs.from = x->our_serial;
			x->cs.to = final;
			x->res.kind = XFR_INCREMENTAL;
			x->res.changeset = &x->cs;
			x->state = ST_DONE;
			return 0;
		}
		if (d->to == final)
			return fail(
			    x, US_EMALF,
			    "after the change to the final serial %u comes an SOA with serial %u",
			    final, serial);
		if (serial != d->to)
			return fail(
			    x, US_EMALF,
			    "serial gap: the change to serial %u is followed by one from %u", d->to,
			    serial);
		return start_diff(x, rr, rdlen, serial);
	default:
		return fail(x, US_EMALF, "records after the final SOA");
	}
}

static int on_data(xfr_in_t *x, const rr_view_t *rr, size_t rdlen)
{
	char t[DNAME_TEXT_MAX];
	switch (x->state) {
	case ST_FIRST:
		return fail(x, US_EMALF, "the first record (%s type %u) is not the zone's SOA",
		            name_text(rr->owner, t), rr->type);
	case ST_IXFR_SECOND: {
		/* RFC 1995 4: SOA then anything but an SOA is a full zone, AXFR style. */
		int ret = start_full(x);
		if (ret)
			return ret;
	}
		/* fall through */
	case ST_AXFR:
		return builder_add(x, rr->owner, rr->type, rr->ttl, x->rd, (uint16_t)rdlen,
		                   x->res.records);
	case ST_DEL:
	case ST_ADD: {
		zone_rr_t *r = rr_keep(x, rr, rdlen);
		if (!r)
			return fail(x, US_ENOMEM, "out of memory");
		zone_diff_t *d = x->diff;
		if (x->tail)
			x->tail->next = r;
		else if (x->state == ST_DEL)
			d->removed = r;
		else
			d->added = r;
		x->tail = r;
		if (x->state == ST_DEL)
			d->nremoved++;
		else
			d->nadded++;
		return 0;
	}
	default:
		return fail(x, US_EMALF, "records after the final SOA");
	}
}

static bool add_bytes(xfr_in_t *x, uint64_t n)
{
	x->res.bytes += n;
	return !x->lim.max_bytes || x->res.bytes <= x->lim.max_bytes;
}

/* Checks one answer record and hands it on. last: it ends its message. */
static int on_record(xfr_in_t *x, const uint8_t *m, const rr_view_t *rr, bool last)
{
	char t[DNAME_TEXT_MAX];
	uint64_t n = ++x->res.records;
	if (x->state == ST_DONE)
		return fail(x, US_EMALF, "records after the final SOA");
	if (x->lim.max_records && n > x->lim.max_records)
		return fail(x, US_ELIMIT, "the transfer has more than %" PRIu64 " records",
		            x->lim.max_records);
	size_t rdlen;
	if (unpack_rdata(m, rr, x->rd, sizeof(x->rd), &rdlen))
		return fail(x, US_EMALF, "record %" PRIu64 " (%s type %u) has malformed rdata", n,
		            name_text(rr->owner, t), rr->type);
	size_t size = rr->owner_len + 10 + rdlen;
	if (size > rr->wire_len && !add_bytes(x, size - rr->wire_len))
		return fail(x, US_ELIMIT, "the transfer is larger than %" PRIu64 " bytes",
		            x->lim.max_bytes);
	if (rr->rclass != WIRE_CLASS_IN)
		return fail(x, US_EZONE, "record %s type %u has class %u, not IN",
		            name_text(rr->owner, t), rr->type, rr->rclass);
	if (!dname_is_sub(rr->owner, x->apex))
		return fail(x, US_EZONE, "record %s type %u is outside the zone",
		            name_text(rr->owner, t), rr->type);
	if (rr->type == WIRE_T_OPT || rr->type == WIRE_T_TSIG ||
	    (rr->type >= 128 && rr->type <= 255))
		return fail(x, US_EMALF, "record %s has type %u, which cannot be in a zone",
		            name_text(rr->owner, t), rr->type);
	if (rr->type != WIRE_T_SOA)
		return on_data(x, rr, rdlen);
	uint32_t serial;
	if (!dname_equal(rr->owner, x->apex))
		return fail(x, US_EZONE, "SOA record at %s, outside the apex",
		            name_text(rr->owner, t));
	if (!soa_serial(x->rd, rdlen, &serial))
		return fail(x, US_EMALF, "malformed SOA record (record %" PRIu64 ")", n);
	return on_soa(x, rr, rdlen, serial, last);
}

int xfr_in_feed(xfr_in_t *x, const uint8_t *msg, size_t len)
{
	if (x->state == ST_FAILED)
		return x->error;
	if (x->state == ST_DONE)
		return fail(x, US_EMALF, "a message came after the end of the transfer");
	x->res.messages++;
	if (!add_bytes(x, len))
		return fail(x, US_ELIMIT, "the transfer is larger than %" PRIu64 " bytes",
		            x->lim.max_bytes);
	msg_info_t mi;
	int ret = scan_msg(msg, len, x->id, &mi, x->err, sizeof(x->err));
	if (ret == 0)
		ret =
		    check_msg(&mi, x->apex, x->qtype, x->res.messages == 1, x->err, sizeof(x->err));
	if (ret == XFR_ERCODE)
		x->rcode = mi.rcode;
	else if (ret == US_ETRUNC)
		ret = US_EMALF; /* TC means nothing on TCP but that data is missing */
	if (ret)
		return fail(x, ret, NULL);
	if (mi.expire && !x->res.expire_present) {
		x->res.expire_present = true;
		x->res.expire = mi.expire_val;
	}
	if (mi.keepalive) {
		/* The latest word stands: a server under load may shorten it (RFC 7828 3.3.2). */
		x->res.keepalive_present = true;
		x->res.keepalive = mi.keepalive_val;
	}
	if (mi.an == 0 && x->state == ST_FIRST)
		return fail(x, US_EMALF, "the response has no records");
	size_t pos = mi.an_pos;
	rr_view_t rr;
	for (unsigned i = 0; i < mi.an; i++) {
		read_rr(msg, len, &pos, &rr); /* cannot fail: scan_msg read it */
		ret = on_record(x, msg, &rr, i + 1 == mi.an);
		if (ret)
			return ret;
	}
	return x->state == ST_DONE ? XFR_DONE : XFR_MORE;
}

int xfr_in_eof(xfr_in_t *x)
{
	switch (x->state) {
	case ST_DONE:
		return 0;
	case ST_FAILED:
		return x->error;
	case ST_FIRST:
		return fail(x, US_EMALF, "the stream ended before the first record");
	case ST_IXFR_SECOND:
		return fail(
		    x, US_EMALF,
		    "the primary sent only its SOA, serial %u, newer than ours (%u), and no "
		    "changes",
		    x->res.serial, x->our_serial);
	default:
		return fail(x, US_EMALF,
		            "the %s ended early, after %" PRIu64 " records, without its final SOA",
		            kind_name(x), x->res.records);
	}
}

const xfr_result_t *xfr_in_result(const xfr_in_t *x)
{
	return x->state == ST_DONE ? &x->res : NULL;
}

zone_t *xfr_in_take_zone(xfr_in_t *x)
{
	zone_t *z = x->state == ST_DONE ? x->zone : NULL;
	if (z) {
		x->zone = NULL;
		x->res.zone = NULL;
	}
	return z;
}

const char *xfr_in_error(const xfr_in_t *x)
{
	return x->state == ST_FAILED ? x->err : "";
}

uint16_t xfr_in_rcode(const xfr_in_t *x)
{
	return x->state == ST_FAILED && x->error == XFR_ERCODE ? x->rcode : 0;
}

/* ---- transfers out ---- */

/* Reads the OPT record of a request: version, payload size, and whether EXPIRE is asked. */
static int read_request_opt(const uint8_t *m, const rr_view_t *rr, xfr_request_t *req)
{
	req->edns = true;
	req->udp_size = rr->rclass;
	req->edns_version = (uint8_t)(rr->ttl >> 16);
	req->dobit = (rr->ttl & 0x8000) != 0;
	const uint8_t *o = m + rr->rdpos;
	for (size_t p = 0; p < rr->rdlen;) {
		if (p + 4 > rr->rdlen)
			return US_EMALF;
		uint16_t code = wire_read16(o + p), len = wire_read16(o + p + 2);
		if (p + 4 + len > rr->rdlen)
			return US_EMALF;
		/* RFC 7314 2: empty in a query; a value there means nothing to us. */
		if (code == XFR_EDNS_EXPIRE)
			req->expire = true;
		/* RFC 7828 3.2.1: a query's is empty; one with a timeout is not a request we
		 * answer with ours. */
		else if (code == XFR_EDNS_KEEPALIVE && len == 0)
			req->keepalive = true;
		p += 4 + (size_t)len;
	}
	return 0;
}

int xfr_request_parse(const uint8_t *m, size_t len, xfr_request_t *req)
{
	memset(req, 0, sizeof(*req));
	if (len < WIRE_HDR_LEN)
		return XFR_NOT_REQUEST;
	uint16_t flags = wire_read16(m + WIRE_FLAGS);
	if ((flags & WIRE_QR) || WIRE_OPCODE(flags) != WIRE_OPCODE_QUERY ||
	    wire_read16(m + WIRE_QDCOUNT) != 1)
		return XFR_NOT_REQUEST;
	size_t pos = WIRE_HDR_LEN, nlen;
	uint8_t name[DNAME_MAXLEN];
	if (dname_unpack(m, len, &pos, name, &nlen) < 0 || pos + 4 > len)
		return XFR_NOT_REQUEST;
	uint16_t qtype = wire_read16(m + pos), qclass = wire_read16(m + pos + 2);
	if ((qtype != WIRE_T_AXFR && qtype != WIRE_T_IXFR) || qclass != WIRE_CLASS_IN)
		return XFR_NOT_REQUEST;
	pos += 4;
	req->id = wire_read16(m + WIRE_ID);
	req->flags = flags;
	req->qtype = qtype;
	memcpy(req->question, name, nlen);
	memcpy(req->question + nlen, m + pos - 4, 4);
	req->question_len = nlen + 4;
	dname_lower(req->lname, name, nlen);
	req->lname_len = nlen;

	unsigned an = wire_read16(m + WIRE_ANCOUNT), ns = wire_read16(m + WIRE_NSCOUNT);
	unsigned ar = wire_read16(m + WIRE_ARCOUNT);
	rr_view_t rr;
	for (unsigned i = 0; i < an + ns + ar; i++) {
		if (read_rr(m, len, &pos, &rr))
			return US_EMALF;
		if (rr.type == WIRE_T_SOA && i >= an && i < an + ns && qtype == WIRE_T_IXFR &&
		    !req->has_soa) {
			uint8_t rd[2 * DNAME_MAXLEN + 20];
			size_t rdlen;
			if (rr.rclass != WIRE_CLASS_IN || !dname_equal(rr.owner, req->lname) ||
			    unpack_rdata(m, &rr, rd, sizeof(rd), &rdlen) ||
			    !soa_serial(rd, rdlen, &req->serial))
				return US_EMALF;
			req->has_soa = true;
		} else if (rr.type == WIRE_T_OPT) {
			/* One OPT, owned by the root, in the additional section (RFC 6891 6.1.1).
			 */
			if (i < an + ns || req->edns || rr.owner_len != 1 ||
			    read_request_opt(m, &rr, req))
				return US_EMALF;
		}
	}
	if (pos != len)
		return US_EMALF;
	return 0;
}

/* Room an OPT record takes in our responses. */
static size_t opt_len(bool expire, bool keepalive)
{
	return 11 + (expire ? 8 : 0) + (keepalive ? 6 : 0);
}

/* Appends our OPT record: payload size, the extended RCODE bits, the request's DO bit, EXPIRE
 * and edns-tcp-keepalive if given. */
static int put_opt(wire_writer_t *w, uint16_t udp, uint16_t rcode, bool dobit,
                   const uint32_t *expire, const uint16_t *keepalive)
{
	uint8_t opt[11 + 8 + 6] = {0, 0, WIRE_T_OPT};
	wire_write16(opt + 3, udp);
	opt[5] = (uint8_t)(rcode >> 4);
	opt[7] = dobit ? 0x80 : 0;
	size_t p = 11;
	if (expire) {
		wire_write16(opt + p, XFR_EDNS_EXPIRE);
		wire_write16(opt + p + 2, 4);
		wire_write32(opt + p + 4, *expire);
		p += 8;
	}
	if (keepalive) {
		wire_write16(opt + p, XFR_EDNS_KEEPALIVE);
		wire_write16(opt + p + 2, 2);
		wire_write16(opt + p + 4, *keepalive);
		p += 6;
	}
	wire_write16(opt + 9, (uint16_t)(p - 11));
	return wire_put(w, opt, p);
}

/* The header of a response to a request with id and flags; counts are filled in later. */
static int put_header(wire_writer_t *w, uint16_t id, uint16_t flags)
{
	uint8_t h[WIRE_HDR_LEN] = {0};
	wire_write16(h + WIRE_ID, id);
	wire_write16(h + WIRE_FLAGS, flags);
	return wire_put(w, h, sizeof(h));
}

/* Response flags: QR, the request's opcode (QUERY), RD and CD copied as RFC 1035 asks. */
static uint16_t response_flags(uint16_t req_flags)
{
	return (uint16_t)(WIRE_QR | (req_flags & (0x7800 | WIRE_RD | WIRE_CD)));
}

/* Appends the question, uncompressed, and remembers its name for later records to point at. */
static int put_question(wire_writer_t *w, const uint8_t *q, size_t qlen)
{
	size_t at = w->len;
	int ret = wire_put(w, q, qlen);
	if (ret == 0)
		wire_remember_name(w, at);
	return ret;
}

int xfr_out_error(const xfr_request_t *req, uint16_t rcode, uint16_t extra_flags, uint8_t *buf,
                  size_t cap)
{
	wire_writer_t w;
	wire_writer_init(&w, buf, cap < WIRE_MAX_MSG ? cap : WIRE_MAX_MSG);
	uint16_t flags = (uint16_t)(response_flags(req->flags) | extra_flags | (rcode & 0xF));
	int ret = put_header(&w, req->id, flags);
	if (ret == 0)
		ret = put_question(&w, req->question, req->question_len);
	if (ret == 0 && req->edns)
		ret = put_opt(&w, XFR_EDNS_UDP, rcode, req->dobit, NULL, NULL);
	if (ret)
		return ret;
	wire_write16(buf + WIRE_QDCOUNT, 1);
	wire_write16(buf + WIRE_ARCOUNT, req->edns ? 1 : 0);
	return (int)w.len;
}

/*
 * The stream's states, in order. An AXFR (or an IXFR answered in full) goes FIRST_SOA, BODY,
 * LAST_SOA; an IXFR carrying a diff goes FIRST_SOA, OLD_SOA, REMOVED, MID_SOA, ADDED,
 * LAST_SOA (RFC 1995 4).
 */
enum {
	OUT_FIRST_SOA,
	OUT_BODY,
	OUT_OLD_SOA,
	OUT_REMOVED,
	OUT_MID_SOA,
	OUT_ADDED,
	OUT_LAST_SOA,
	OUT_END
};

/* Moves the walk to the next record that is not the apex SOA, or to the closing SOA. */
static void out_settle(xfr_out_t *x)
{
	const zone_t *z = x->zone;
	while (x->node) {
		if (x->rrset >= x->node->nrrsets) {
			x->node = zone_next_node(z, &x->pos);
			x->rrset = 0;
		} else if (&x->node->rrsets[x->rrset] == z->soa) {
			x->rrset++;
		} else {
			return;
		}
	}
	x->state = OUT_LAST_SOA;
}

/* Enters a list of the diff: its first record, or the state after it when it is empty. */
static void out_list(xfr_out_t *x, int state, const zone_rr_t *first, int after)
{
	x->cell = first;
	x->state = first ? state : after;
}

static void out_advance(xfr_out_t *x)
{
	switch (x->state) {
	case OUT_FIRST_SOA:
		if (x->diff) {
			x->state = OUT_OLD_SOA;
			break;
		}
		x->state = OUT_BODY;
		x->pos = 0;
		x->node = zone_next_node(x->zone, &x->pos);
		x->rrset = 0;
		x->off = 0;
		out_settle(x);
		break;
	case OUT_BODY: {
		const zone_rrset_t *rs = &x->node->rrsets[x->rrset];
		x->off = zone_rr_next(rs, x->off);
		if (!x->off) {
			x->rrset++;
			out_settle(x);
		}
		break;
	}
	case OUT_OLD_SOA:
		out_list(x, OUT_REMOVED, x->diff->removed, OUT_MID_SOA);
		break;
	case OUT_REMOVED:
		out_list(x, OUT_REMOVED, x->cell->next, OUT_MID_SOA);
		break;
	case OUT_MID_SOA:
		out_list(x, OUT_ADDED, x->diff->added, OUT_LAST_SOA);
		break;
	case OUT_ADDED:
		out_list(x, OUT_ADDED, x->cell->next, OUT_LAST_SOA);
		break;
	default:
		x->state = OUT_END;
		break;
	}
}

/* The record the walk stands on. */
typedef struct out_rr {
	const uint8_t *owner;
	const uint8_t *rdata;
	uint32_t ttl;
	uint16_t type, rdlen;
} out_rr_t;

static void out_current(const xfr_out_t *x, out_rr_t *r)
{
	const zone_t *z = x->zone;
	const zone_rr_t *c = x->state == OUT_OLD_SOA ? x->diff->soa_from : x->cell;
	if (x->state == OUT_BODY) {
		const zone_rrset_t *rs = &x->node->rrsets[x->rrset];
		*r = (out_rr_t){x->node->name, rs->rdata + x->off + 2,
		                zone_rr_ttl(x->node, rs, rs->rdata + x->off), rs->type,
		                wire_read16(rs->rdata + x->off)};
	} else if (x->state == OUT_OLD_SOA || x->state == OUT_REMOVED || x->state == OUT_ADDED) {
		*r = (out_rr_t){c->owner, c->rdata, c->ttl, c->type, c->rdlen};
	} else {
		*r = (out_rr_t){z->apex, z->soa->rdata + 2, z->soa->ttl, WIRE_T_SOA,
		                wire_read16(z->soa->rdata)};
	}
}

static void out_init(xfr_out_t *x, const zone_t *z, const zone_diff_t *diff,
                     const xfr_request_t *req, const xfr_out_opts_t *opts)
{
	memset(x, 0, sizeof(*x));
	x->zone = z;
	x->diff = diff;
	x->opts = *opts;
	if (!x->opts.target)
		x->opts.target = XFR_OUT_TARGET;
	x->opts.expire = opts->expire && req->expire;
	x->opts.keepalive = opts->keepalive && req->keepalive;
	x->id = req->id;
	x->flags = (uint16_t)(response_flags(req->flags) | WIRE_AA);
	memcpy(x->question, req->question, req->question_len);
	x->question_len = req->question_len;
	x->edns = req->edns;
	x->dobit = req->dobit;
	x->state = opts->soa_only ? OUT_LAST_SOA : OUT_FIRST_SOA;
}

void xfr_out_init(xfr_out_t *x, const zone_t *z, const xfr_request_t *req,
                  const xfr_out_opts_t *opts)
{
	out_init(x, z, NULL, req, opts);
}

void xfr_out_init_ixfr(xfr_out_t *x, const zone_t *z, const zone_diff_t *diff,
                       const xfr_request_t *req, const xfr_out_opts_t *opts)
{
	xfr_out_opts_t o = *opts;
	o.soa_only = false;
	out_init(x, z, diff, req, &o);
}

int xfr_out_next(xfr_out_t *x, uint8_t *buf, size_t cap, size_t *len)
{
	size_t opt = x->edns ? opt_len(x->opts.expire, x->opts.keepalive) : 0;
	if (cap > WIRE_MAX_MSG)
		cap = WIRE_MAX_MSG;
	if (x->state == OUT_END || cap < WIRE_HDR_LEN + x->opts.reserve + opt)
		return US_ELIMIT;
	size_t hard = cap - x->opts.reserve - opt;
	size_t soft = x->opts.target < hard ? x->opts.target : hard;
	wire_writer_t w;
	wire_writer_init(&w, buf, hard);
	/* The secondary gets the zone's bytes, whatever case the question used. */
	w.exact_case = true;
	int ret = put_header(&w, x->id, x->flags);
	bool first = x->messages == 0;
	if (ret == 0 && first)
		ret = put_question(&w, x->question, x->question_len);
	if (ret)
		return US_ELIMIT;
	unsigned an = 0;
	while (x->state != OUT_END && an < UINT16_MAX) {
		out_rr_t r;
		out_current(x, &r);
		/* The first record of a message may use all the room; the others stop at soft. */
		w.limit = an ? soft : hard;
		if (wire_put_rr(&w, r.owner, r.type, WIRE_CLASS_IN, r.ttl, r.rdata, r.rdlen) != 0) {
			if (!an)
				return US_ELIMIT;
			break;
		}
		an++;
		out_advance(x);
	}
	w.limit = hard + opt;
	if (x->edns)
		put_opt(&w, x->opts.edns_udp, 0, x->dobit,
		        x->opts.expire ? &x->opts.expire_val : NULL,
		        x->opts.keepalive ? &x->opts.keepalive_val : NULL);
	wire_write16(buf + WIRE_QDCOUNT, first ? 1 : 0);
	wire_write16(buf + WIRE_ANCOUNT, (uint16_t)an);
	wire_write16(buf + WIRE_ARCOUNT, x->edns ? 1 : 0);
	x->messages++;
	x->records += an;
	x->bytes += w.len;
	*len = w.len;
	return x->state == OUT_END ? XFR_DONE : XFR_MORE;
}
