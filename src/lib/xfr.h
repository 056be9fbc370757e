/* SPDX-License-Identifier: MIT */
/* xfr: zone transfers as I/O-free state machines: requests and a decoder in, an encoder out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone.h"

/* xfr_in_feed: the transfer needs more messages, or is complete. Errors are negative. */
enum { XFR_MORE = 1, XFR_DONE = 2 };

/*
 * Returned when the primary answered with an RCODE other than NOERROR; the message names it and
 * xfr_in_rcode() gives it. (A DNS-level code of this module's own: it belongs in error.h as
 * US_ERCODE once the modules that add codes there are merged.)
 */
#define XFR_ERCODE (-1100)

/* The EDNS EXPIRE option (RFC 7314), asked for in every request built here. */
#define XFR_EDNS_EXPIRE      9
#define XFR_EDNS_ZONEVERSION 19 /* RFC 9660 */
/* edns-tcp-keepalive (RFC 7828): empty in our queries over a stream, the server's idle timeout
 * in units of 100 ms in its answers. */
#define XFR_EDNS_KEEPALIVE 11
/* The UDP payload size offered in our OPT record (only the SOA query may travel over UDP). */
#define XFR_EDNS_UDP 1232

/* Room the error messages of this module need, with the names they quote. */
#define XFR_ERRLEN 512

/* The changeset an IXFR yields: see zone.h. The same type, under the name transfers use. */
typedef zone_changeset_t xfr_changeset_t;

/* ---- requests ---- */

/*
 * Each builder writes a complete query with the given ID for the zone apex (wire form, any
 * case) into buf[0..cap): the question, and an OPT record asking for EDNS EXPIRE as the last
 * record. Returns the length, or US_ETRUNC if cap is too small. A caller that signs appends its
 * TSIG record after that length (and counts it in ARCOUNT), so cap should leave room for it.
 * The transfers and xfr_build_soa_query_stream, which travel over TCP or TLS only, ask for
 * edns-tcp-keepalive too (RFC 7828 3.2.1: never over UDP).
 */
int xfr_build_soa_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex);
int xfr_build_soa_query_stream(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex);
int xfr_build_axfr(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex);
/*
 * The IXFR query carries our SOA in the authority section (RFC 1995 3). Only its serial matters
 * to the primary, so the rest is minimal as BIND sends it: root names and zero timers.
 */
int xfr_build_ixfr(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex, uint32_t serial);

/*
 * The SOA serial a NOTIFY for apex carries as its first answer record (RFC 1996 3.7: a hint),
 * from the whole message msg[0..len), TSIG and all. 0 with *serial set; US_ENOENT when it is
 * a NOTIFY for another name or carries no SOA of apex first; US_EMALF when it is not a
 * NOTIFY request, or the question or that record is malformed. Reads nothing past len.
 */
int xfr_notify_serial(const uint8_t *msg, size_t len, const uint8_t *apex, uint32_t *serial);

/* An answer to an SOA query, as xfr_parse_soa_response reads it. */
typedef struct xfr_soa_answer {
	uint32_t serial;
	bool expire_present;    /* EDNS EXPIRE (RFC 7314) came ... */
	uint32_t expire;        /* ... with this value (0 when absent) */
	bool version_present;   /* ZONEVERSION (RFC 9660) of type SOA-SERIAL came ... */
	uint32_t version;       /* ... with this serial */
	bool keepalive_present; /* edns-tcp-keepalive (RFC 7828) came ... */
	uint16_t keepalive;     /* ... with this idle timeout, in 100 ms units */
	uint16_t rcode;         /* extended, with the OPT's bits */
	bool aa;
} xfr_soa_answer_t;

/*
 * Reads the response to an SOA query for apex sent with id: checks the ID, QR, opcode, the
 * question, NOERROR, AA, and finds the apex SOA in the answer section. Returns 0 with *out
 * filled, or fails with a message in err (errlen bytes, may be 0): US_EMALF (malformed, or not
 * an answer to our question), US_ETRUNC (TC set: ask again over TCP), XFR_ERCODE (out->rcode
 * says which) or US_ENOENT (a NOERROR answer from a server that does not serve the zone:
 * out->aa clear, or no SOA of the apex in the answer). On US_ENOENT and XFR_ERCODE, rcode and
 * aa are set in *out; on other failures *out is untouched.
 */
int xfr_parse_soa_response(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *apex,
                           xfr_soa_answer_t *out, char *err, size_t errlen);

/* ---- the transfer decoder ---- */

/* Bounds on what one transfer may bring; 0 means no bound. */
typedef struct xfr_limits {
	uint64_t max_records; /* answer records, SOAs included */
	/*
	 * Bytes: every message's length, plus whatever name decompression adds to its records.
	 * That is at least the bytes received and at least what the records take in memory.
	 */
	uint64_t max_bytes;
} xfr_limits_t;

typedef enum xfr_kind {
	XFR_UPTODATE = 1, /* IXFR: a first message of one SOA, not newer than ours (RFC 1995 4) */
	XFR_FULL,         /* AXFR, or an IXFR answered with the whole zone */
	XFR_INCREMENTAL,  /* IXFR: a changeset from our serial to the primary's */
} xfr_kind_t;

typedef struct xfr_result {
	xfr_kind_t kind;
	/* The primary's serial, that of the first SOA. An IXFR answered with a full zone may
	 * carry one that is not newer than ours: the caller decides what to do with it. */
	uint32_t serial;
	bool expire_present;
	uint32_t expire; /* EDNS EXPIRE value from the first message with one */
	/* edns-tcp-keepalive (RFC 7828): the idle timeout (100 ms units) the last message that
	 * carried the option gave, for how long the connection may be kept. */
	bool keepalive_present;
	uint16_t keepalive;
	const zone_t *zone;                /* FULL: the checked zone; see xfr_in_take_zone() */
	const xfr_changeset_t *changeset;  /* INCREMENTAL: valid until xfr_in_free() */
	uint64_t messages, records, bytes; /* for the log line; bytes as xfr_limits_t counts */
} xfr_result_t;

typedef struct xfr_in xfr_in_t;

/*
 * Starts decoding the response to an AXFR or IXFR query (qtype WIRE_T_AXFR or WIRE_T_IXFR) for
 * apex (wire form, copied) sent with query_id. our_serial is the serial the IXFR query carried
 * (ignored for AXFR). lim is copied; NULL means no limits. NULL on a bad qtype or no memory.
 */
xfr_in_t *xfr_in_new(const uint8_t *apex, uint16_t qtype, uint32_t our_serial,
                     const xfr_limits_t *lim, uint16_t query_id);

/* Frees the decoder, everything it built and not handed over. NULL is a no-op. */
void xfr_in_free(xfr_in_t *x);

/*
 * Feeds one DNS message of the response stream, de-framed, its TSIG already verified and
 * stripped by the caller. Nothing is kept pointing into msg. Returns XFR_MORE when more
 * messages must follow, XFR_DONE when the transfer is complete (xfr_in_result() tells what came),
 * or a negative error, after which the decoder only repeats that error. A message after
 * XFR_DONE is an error too: the caller stops reading there. The errors:
 *   US_EMALF    a message or the transfer's structure breaks the protocol: wrong ID, flags or
 *               question, bad records, SOAs that do not match or chain, data after the end;
 *   US_EZONE    the data is wrong for this zone: a record outside it or not class IN, or the
 *               transferred zone fails the zone checks;
 *   US_ELIMIT   the limits were exceeded;
 *   XFR_ERCODE  the primary answered with an error RCODE (xfr_in_rcode()); to an IXFR,
 *               NOTIMP or FORMERR says to fall back to AXFR;
 *   US_ENOMEM.
 * xfr_in_error() then says what happened, naming the record or serials at fault.
 */
int xfr_in_feed(xfr_in_t *x, const uint8_t *msg, size_t len);

/*
 * Tells the decoder the stream has ended (the connection closed or timed out). Returns 0 when
 * the transfer was complete; otherwise US_EMALF (it ended early; xfr_in_error() says where) or
 * the error the decoder already had. An IXFR response that is only an SOA newer than ours, in a
 * message of its own, is complete or not depending on what follows, so it waits for more; if
 * nothing follows, this reports it as an error and the caller should fall back to AXFR.
 */
int xfr_in_eof(xfr_in_t *x);

/* The result once xfr_in_feed() returned XFR_DONE; NULL before and after an error. */
const xfr_result_t *xfr_in_result(const xfr_in_t *x);

/* Hands the FULL result's zone to the caller, who frees it; NULL if there is none (any more). */
zone_t *xfr_in_take_zone(xfr_in_t *x);

/* The message describing the last error, "" if none. Valid until the next call on x. */
const char *xfr_in_error(const xfr_in_t *x);

/* The RCODE (extended, with the OPT's bits) after XFR_ERCODE; 0 otherwise. */
uint16_t xfr_in_rcode(const xfr_in_t *x);

/* ---- transfers out ---- */

/* xfr_request_parse: the message is not a transfer request; answer it as a query. */
#define XFR_NOT_REQUEST 1

/* Messages of a transfer out stop taking records at about this size (RFC 5936 2.2 leaves it
 * to us): compression pointers reach only the first 16 KiB, and a client sees progress. */
#define XFR_OUT_TARGET 16384

/* A transfer request as xfr_request_parse reads it. */
typedef struct xfr_request {
	uint16_t id;
	uint16_t flags;                     /* the request's header flags */
	uint16_t qtype;                     /* WIRE_T_AXFR or WIRE_T_IXFR */
	uint8_t question[DNAME_MAXLEN + 4]; /* name (uncompressed, case kept), type, class */
	size_t question_len;
	uint8_t lname[DNAME_MAXLEN]; /* the question's name, lower-cased */
	size_t lname_len;
	bool has_soa;    /* IXFR: the client's SOA came (RFC 1995 3) ... */
	uint32_t serial; /* ... with this serial */
	bool edns;       /* an OPT record came */
	bool dobit;      /* ... with DO set, which every response echoes (RFC 3225 3) */
	uint8_t edns_version;
	uint16_t udp_size; /* the OPT's payload size, 0 without one */
	bool expire;       /* EDNS EXPIRE (RFC 7314) was asked for */
	bool keepalive;    /* edns-tcp-keepalive (RFC 7828) came, empty as a query's must be */
} xfr_request_t;

/*
 * A quick look for the query path: true when msg[0..len) might be a transfer request, its
 * question's type being AXFR or IXFR (the name walked, not checked). Cheap enough for every
 * query; xfr_request_parse decides.
 */
static inline bool xfr_maybe_request(const uint8_t *msg, size_t len)
{
	size_t p = 12;
	while (p < len && msg[p] && !(msg[p] & 0xC0))
		p += 1 + (size_t)msg[p];
	if (p < len && (msg[p] & 0xC0))
		p++; /* a pointer: two bytes, the first of which the loop stopped at */
	if (p + 3 > len)
		return false;
	uint16_t t = (uint16_t)(msg[p + 1] << 8 | msg[p + 2]);
	return t == 251 || t == 252;
}

/*
 * Reads msg[0..len) as a request for a transfer out: a query (QR clear, opcode QUERY) with one
 * question of type AXFR or IXFR and class IN. Returns 0 and fills *req; XFR_NOT_REQUEST for any
 * other message, including malformed ones whose question cannot be read (the query path
 * answers them); or US_EMALF for a transfer request that breaks the protocol elsewhere: records
 * that do not parse, bytes after the last one, a misplaced or second OPT, an SOA for another
 * name or with bad rdata in an IXFR's authority section. *req is then filled as far as the
 * question, enough to answer FORMERR with xfr_out_error. An IXFR without the client's SOA
 * parses, has_soa false: the caller answers FORMERR once it knows the zone is ours (for another
 * name NOTAUTH comes first, as from knotd and nsd). A TSIG record is skipped: tsig_find checks
 * it.
 */
int xfr_request_parse(const uint8_t *msg, size_t len, xfr_request_t *req);

/*
 * Writes into buf[0..cap) a complete response to req with rcode (extended RCODEs such as
 * BADVERS go in the OPT record) and no records: the question echoed, an OPT record when the
 * request had one, extra_flags (e.g. WIRE_AA, WIRE_TC) in the header. Returns the length, or
 * US_ETRUNC when cap is too small (512 is always enough).
 */
int xfr_out_error(const xfr_request_t *req, uint16_t rcode, uint16_t extra_flags, uint8_t *buf,
                  size_t cap);

typedef struct xfr_out_opts {
	bool soa_only;       /* one message with the SOA alone: an IXFR that is up to date, or over
	                      * UDP (RFC 1995 2, 4) */
	uint16_t edns_udp;   /* the payload size our OPT records offer */
	bool expire;         /* send EDNS EXPIRE with ... */
	uint32_t expire_val; /* ... this value (only when req asked for it) */
	bool keepalive;      /* send edns-tcp-keepalive with ... */
	uint16_t keepalive_val; /* ... this idle timeout, 100 ms units (only when req asked) */
	size_t reserve;         /* bytes each message keeps back, e.g. for the caller's TSIG */
	size_t target;          /* records stop at about this message size; 0: XFR_OUT_TARGET */
} xfr_out_opts_t;

/*
 * The encoder of one response stream. Its fields are readable: messages, records and bytes
 * for the log line.
 */
typedef struct xfr_out {
	const zone_t *zone;      /* borrowed: the caller keeps the version alive (a reference) */
	const zone_diff_t *diff; /* an IXFR's diff, borrowed; NULL for a whole zone */
	xfr_out_opts_t opts;
	uint16_t id, flags;
	uint8_t question[DNAME_MAXLEN + 4];
	size_t question_len;
	bool edns, dobit; /* the request had an OPT record; with DO set */
	int state;
	/* The walk: zone_next_node's position, its node, the RRset index in it, the record
	 * offset in that. */
	uint32_t pos;
	const zone_node_t *node;
	uint16_t rrset;
	uint32_t off;
	const zone_rr_t *cell; /* the diff's record the walk stands on */
	uint64_t messages, records, bytes;
} xfr_out_t;

/*
 * Starts the response to req (copied from) from zone z: the SOA, every other record of the
 * zone node by node (zone_foreach_rr's order), the SOA again, as an AXFR (RFC 5936 2.2) or an
 * IXFR answered with the whole zone (RFC 1995 4); or, with opts->soa_only, the SOA alone.
 * Every message is authoritative and carries an OPT record when the request had one; only the
 * first carries the question (RFC 5936 2.2.1).
 */
void xfr_out_init(xfr_out_t *x, const zone_t *z, const xfr_request_t *req,
                  const xfr_out_opts_t *opts);

/*
 * Starts an IXFR response (RFC 1995 4) carrying one diff (e.g. zonediff_condense's) that takes
 * the client to z: z's SOA, diff->soa_from, diff->removed, z's SOA, diff->added, z's SOA.
 * diff->to must be z's serial; diff and its records are borrowed until the stream ends. The
 * rest is as xfr_out_init (opts->soa_only is ignored). The stream is a pure function of z and
 * diff: what to send instead when the diff is unknown or larger than the zone is the
 * caller's choice.
 */
void xfr_out_init_ixfr(xfr_out_t *x, const zone_t *z, const zone_diff_t *diff,
                       const xfr_request_t *req, const xfr_out_opts_t *opts);

/*
 * Renders the next message into buf (cap bytes; more than 65535 are not used), keeping
 * opts.reserve bytes free at the end, and writes its length to *len. Records are added while the
 * message stays within opts.target, and a record bigger than that goes alone in a message of
 * its own. Returns XFR_MORE when messages remain, XFR_DONE when this was the last, or
 * US_ELIMIT when a record does not fit in cap at all; nothing is written to *len then, and the
 * caller ends the stream (its client sees it cut short, never a wrong zone).
 */
int xfr_out_next(xfr_out_t *x, uint8_t *buf, size_t cap, size_t *len);
