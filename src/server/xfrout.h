/* SPDX-License-Identifier: MIT */
/* xfrout: transfers out: requests checked against TSIG and the zone's rules, pinned versions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "answer.h"
#include "server.h"

typedef struct xfrout xfrout_t;

/* What xfrout_begin made of a message. */
enum {
	XFROUT_QUERY,  /* not a transfer request served here: answer it as a query */
	XFROUT_ANSWER, /* the whole answer is in resp */
	XFROUT_STREAM, /* a transfer to stream with xfrout_next */
};

/*
 * Looks at the message q[0..qlen) from peer, received over TCP or (tcp false) UDP. When it is
 * not a transfer request served here (xfr_request_parse says so, or it is an AXFR over UDP,
 * which the query path answers NOTIMP), returns XFROUT_QUERY and writes nothing. Otherwise
 * the request is checked in this order, and the first failure is the answer, in resp[0..*len)
 * (cap bytes, at least 512; *len 0 means no answer at all), with XFROUT_ANSWER:
 *   FORMERR   a malformed request or TSIG record;
 *   NOTAUTH   with TSIG error BADKEY, BADSIG (unsigned) or BADTIME (signed) (RFC 8945 5.2);
 *   BADVERS   an EDNS version other than 0;
 *   NOTAUTH   a name that is not the apex of a zone of ours (as knotd and nsd answer);
 *   REFUSED   a peer or key the zone's `transfer` rules do not allow (acl_allows), logged;
 *   SERVFAIL  a zone with no version to serve (a secondary without a copy yet, or expired).
 * An IXFR that is up to date (its serial not older than ours), or any IXFR over UDP (RFC 1995
 * 2), is answered with the SOA alone, also XFROUT_ANSWER. Everything else is a transfer:
 * XFROUT_STREAM, and *out holds it, with the zone's current version pinned (a reference). An
 * IXFR over TCP gets the condensed difference from its serial out of the zone's journal when
 * the journal holds it and it is smaller than the zone (read by the first xfrout_next, not
 * here, to keep the RCU read section short), and the whole zone otherwise (RFC 1995 4). Answers to
 * a validly signed request are signed. Call inside an RCU read section: the version is read and
 * pinned there. info gets the opcode, qtype and RCODE for statistics. Never fails otherwise: out of
 * memory is answered SERVFAIL.
 */
int xfrout_begin(server_t *s, const uint8_t *q, size_t qlen, const struct sockaddr_storage *peer,
                 bool tcp, uint8_t *resp, size_t cap, size_t *len, answer_info_t *info,
                 xfrout_t **out);

/* xfrout_begin for a request that came over transport ("TLS"; NULL: plain TCP or UDP), which
 * every log line of the transfer names after the peer: "... to ADDR@PORT over TLS: ...". */
int xfrout_begin_over(server_t *s, const uint8_t *q, size_t qlen,
                      const struct sockaddr_storage *peer, bool tcp, const char *transport,
                      uint8_t *resp, size_t cap, size_t *len, answer_info_t *info, xfrout_t **out);

/*
 * Renders the next message of the transfer into buf (65535 bytes), signed when the request
 * was (every message, each signature chained to the previous one, RFC 8945 5.3.1). Returns
 * XFR_MORE, or XFR_DONE after the last message (then the transfer is logged as finished),
 * with the length in *len. A negative error (a record too big for a message, libcrypto
 * failing) is logged; the caller then closes the connection, which tells the client the
 * transfer failed, and frees x. Needs no RCU read section: the version is pinned.
 */
int xfrout_next(xfrout_t *x, uint8_t *buf, size_t *len);

/*
 * Ends the transfer: logs it as cut short unless it finished or failed already, drops the
 * pinned version (freeing it if a newer one was published meanwhile) and frees x. NULL is a
 * no-op.
 */
void xfrout_free(xfrout_t *x);
