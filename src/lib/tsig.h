/* SPDX-License-Identifier: MIT */
/* tsig: RFC 8945 transaction signatures: signing, verification of messages and streams. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"
#include "error.h"

#define TSIG_MAC_MAX       64  /* HMAC-SHA512 */
#define TSIG_FUDGE_DEFAULT 300 /* seconds, as RFC 8945 10 recommends */
#define TSIG_UNSIGNED_MAX  99  /* unsigned messages allowed in a row in a stream (5.3.1) */
#define TSIG_UNSIGNED      1   /* tsig_verify_msg: a valid unsigned intermediate message */

/* TSIG error codes (RFC 8945 3), carried in the TSIG RR; the RCODE with them is NOTAUTH. */
enum {
	TSIG_ERR_NONE = 0,
	TSIG_ERR_BADSIG = 16,
	TSIG_ERR_BADKEY = 17,
	TSIG_ERR_BADTIME = 18,
	TSIG_ERR_BADTRUNC = 22,
};

/* In the order of conf_hmac_t, so that a cast converts one into the other. */
typedef enum {
	TSIG_HMAC_MD5,
	TSIG_HMAC_SHA1,
	TSIG_HMAC_SHA224,
	TSIG_HMAC_SHA256,
	TSIG_HMAC_SHA384,
	TSIG_HMAC_SHA512,
	TSIG_ALG_COUNT
} tsig_alg_t;

typedef struct tsig_key {
	uint8_t name[DNAME_MAXLEN]; /* lower-cased wire form */
	size_t name_len;
	tsig_alg_t alg;
	const uint8_t *secret; /* borrowed: must outlive the key */
	size_t secret_len;
} tsig_key_t;

/* A TSIG RR as found in a message. The pointers borrow from that message. */
typedef struct tsig_rr {
	size_t start;                /* offset of the RR in the message: the length without it */
	uint8_t owner[DNAME_MAXLEN]; /* the key name as sent (case kept), uncompressed */
	size_t owner_len;
	const uint8_t *alg_name; /* uncompressed wire name, as sent */
	size_t alg_len;
	int alg;              /* a tsig_alg_t, or -1 for an algorithm we do not implement */
	uint64_t time_signed; /* 48 bits, seconds since the epoch */
	uint16_t fudge;
	uint16_t mac_len;
	const uint8_t *mac;
	uint16_t orig_id;
	uint16_t error;
	uint16_t other_len;
	const uint8_t *other;
} tsig_rr_t;

/*
 * Verification state for one request (server side) or one response stream (client side). The
 * fields are readable; change only min_mac_len, and only between init and the first message.
 */
typedef struct tsig_verify {
	const tsig_key_t *key;      /* borrowed */
	struct evp_mac_ctx_st *ctx; /* digest running since the last signed message */
	uint8_t mac[TSIG_MAC_MAX];  /* MAC of the last signed message (at init: the request's) */
	size_t mac_len;             /* as received, so possibly truncated */
	size_t min_mac_len;         /* local policy: shorter MACs fail with BADTRUNC (5.2.4) */
	unsigned nmsg;              /* messages seen */
	unsigned nunsigned;         /* unsigned messages since the last signed one */
	bool failed;                /* a message failed: so does every later one */
	uint16_t peer_error;        /* error field of the last TSIG RR seen */
	tsig_rr_t rr;               /* the last TSIG RR seen; borrows from that message */
} tsig_verify_t;

/*
 * Fills k with the key named name_text (presentation form, trailing dot optional), stored
 * lower-cased. secret is borrowed and must outlive k; it may be empty. Fails with US_ENAME for
 * a bad name or US_EINVAL for an unknown algorithm; k is then unchanged.
 */
int tsig_key_init(tsig_key_t *k, const char *name_text, tsig_alg_t alg, const uint8_t *secret,
                  size_t len);

/*
 * Returns the key among keys[0..n) whose name equals name (wire form, any case), or NULL.
 * Only the name is compared: a key with the right name and another algorithm is BADKEY, which
 * tsig_verify_msg reports.
 */
const tsig_key_t *tsig_key_find(const tsig_key_t *keys, size_t n, const uint8_t *name);

/* Full MAC length of alg in bytes, 0 for a value outside tsig_alg_t. */
size_t tsig_alg_mac_len(tsig_alg_t alg);

/* The algorithm's name in lower-case wire form (static storage); its length into *len. */
const uint8_t *tsig_alg_name(tsig_alg_t alg, size_t *len);

/* The algorithm named by the wire name (any case), or -1 when we do not implement it. */
int tsig_alg_from_name(const uint8_t *name);

/* Bytes tsig_sign appends with key k: the room a caller keeps back when rendering. */
size_t tsig_space(const tsig_key_t *k);

/*
 * Finds the TSIG RR of msg[0..len), walking the whole message with every read bounds-checked.
 * Returns 1 and fills *rr when there is one, 0 when the message is well formed and unsigned,
 * US_EMALF when the message is malformed, has bytes after its last record, or has a TSIG RR
 * that is not the single last record of the additional section, is not of class ANY or whose
 * rdata does not parse (all FORMERR, RFC 8945 5.2). rr borrows from msg.
 */
int tsig_find(const uint8_t *msg, size_t len, tsig_rr_t *rr);

/*
 * Removes the TSIG RR from msg[0..len) in place: decrements ARCOUNT and restores the original
 * ID, leaving the message as it was before it was signed. Returns 1 with the new length in
 * *out_len, 0 (and *out_len = len) for an unsigned message, or US_EMALF as tsig_find; msg is
 * changed only when 1 is returned.
 */
int tsig_strip(uint8_t *msg, size_t len, size_t *out_len);

/*
 * Signs the message in buf[0..len) (room for cap bytes) with k: appends a TSIG RR and
 * increments ARCOUNT. The RR's original ID is the message's ID, time signed is now, error 0.
 *   request:                     prior_mac NULL, timers_only false
 *   response or first message of a stream: prior_mac = the request's MAC as received (v->mac
 *                                 after tsig_verify_msg accepted the request)
 *   2nd..nth message of a stream: prior_mac = the MAC of the previous message, timers_only
 *                                 true (RFC 8945 4.3.1, 5.3.1)
 * Writes the new length to *out_len and, unless mac is NULL, the full MAC, for chaining, to mac
 * (TSIG_MAC_MAX bytes) and *mac_len. Fails with US_EINVAL (len shorter than a header, or ARCOUNT
 * already 65535), US_ETRUNC (no room in cap or beyond 65535 bytes) or US_ENOMEM (libcrypto);
 * buf[0..len) and the outputs are then unchanged.
 */
int tsig_sign(const tsig_key_t *k, uint8_t *buf, size_t len, size_t cap, const uint8_t *prior_mac,
              size_t prior_len, bool timers_only, uint64_t now, uint16_t fudge, size_t *out_len,
              uint8_t *mac, size_t *mac_len);

/*
 * Starts verifying with key k (borrowed). For a server checking a request, request_mac is NULL.
 * For a client checking the response (stream) to a signed request, request_mac is the MAC of
 * that request as sent (copied; at most TSIG_MAC_MAX bytes). min_mac_len starts at the RFC
 * 8945 5.2.2.1 minimum, max(10, half the hash); raise it to refuse shorter truncations with
 * BADTRUNC. Allocates nothing; tsig_verify_deinit frees what tsig_verify_msg allocates.
 */
void tsig_verify_init(tsig_verify_t *v, const tsig_key_t *k, const uint8_t *request_mac,
                      size_t request_mac_len);

/*
 * Checks the next message msg[0..len) at time now (seconds since the epoch), in the order of
 * RFC 8945 5.2: key, MAC (constant-time), time, truncation policy. Returns
 *   0             signed and valid; *stripped_len = the length without the TSIG RR
 *   TSIG_UNSIGNED unsigned, allowed as message 2..n of a stream (at most 99 in a row); its
 *                 bytes join the digest checked with the next signed message; *stripped_len
 *                 = len
 *   US_EMALF      malformed message or TSIG RR, a MAC longer than the hash or shorter than
 *                 the 5.2.2.1 minimum: the caller answers FORMERR
 *   US_ETSIG      *tsig_error = BADKEY (owner or algorithm not the key's), BADSIG, BADTIME or
 *                 BADTRUNC, to answer with (tsig_answer_error) and log; or 0 when the message
 *                 should have been signed and was not (the first one, or a 100th unsigned one
 *                 in a row), or when the peer's TSIG carries an error of its own: see
 *                 v->peer_error (a signed one like BADTIME has had its MAC checked)
 *   US_ENOMEM     libcrypto failed
 * After any failure the stream is dead and every later call fails with US_ETSIG. *tsig_error
 * is always written; *stripped_len only on 0 and TSIG_UNSIGNED. v->rr, when a TSIG RR was
 * found, borrows from msg.
 */
int tsig_verify_msg(tsig_verify_t *v, const uint8_t *msg, size_t len, uint64_t now,
                    uint16_t *tsig_error, size_t *stripped_len);

/*
 * Ends a stream: 0 if at least one message was seen, none failed and the last was signed;
 * US_ETSIG otherwise (a stream must end with a signed message, RFC 8945 5.3.1).
 */
int tsig_verify_done(const tsig_verify_t *v);

/* Frees what v holds; v may then be initialised again. Safe on a zeroed or initialised v. */
void tsig_verify_deinit(tsig_verify_t *v);

/*
 * Appends the TSIG RR of an error response to the response in buf[0..len) (room for cap),
 * whose header must already be final, RCODE NOTAUTH included, since a signature covers it.
 * req is the request's TSIG RR (from tsig_find or v->rr: its pointers must still be valid).
 *   BADKEY, BADSIG: unsigned (5.3.2): req's key name, algorithm, time and fudge, no MAC;
 *                   k may be NULL and is not used.
 *   BADTIME:        signed with k over req's MAC; time signed and fudge copied from req so
 *                   the client can check it, Other Data = now, 48 bits (5.2.3).
 *   BADTRUNC:       signed with k over req's MAC, time signed now.
 * Writes the new length to *out_len. Fails with US_EINVAL (another error code, k NULL for a
 * signed one, len shorter than a header), US_ETRUNC or US_ENOMEM, buf[0..len) unchanged.
 */
int tsig_answer_error(const tsig_key_t *k, const tsig_rr_t *req, uint16_t tsig_error, uint8_t *buf,
                      size_t len, size_t cap, uint64_t now, size_t *out_len);

/* The name of a TSIG error code (BADSIG, BADKEY, ...), or "none". */
const char *tsig_error_name(uint16_t error);
