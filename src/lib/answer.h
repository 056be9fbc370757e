/* SPDX-License-Identifier: MIT */
/* answer: authoritative query processing, from query bytes to response bytes, with no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cookie.h"
#include "zonedb.h"

typedef struct answer_conf {
	const char *identity; /* id.server / hostname.bind; NULL or "" refuses them */
	const char *version;  /* version.bind / version.server; NULL or "" refuses them */
	const uint8_t *nsid;  /* EDNS NSID payload (RFC 5001); NULL for none */
	uint16_t nsid_len;
	uint16_t max_udp; /* the EDNS buffer size we offer and the most we send over UDP */
	uint32_t now;     /* Unix seconds, kept current by the server (relaxed atomic) */
	uint32_t wall;    /* the wall clock's Unix seconds, for cookie timestamps (RFC 9018) */
	/* DNS cookies (RFC 7873, RFC 9018 server cookies): NULL when they are off. The server
	 * publishes new secrets by pointer swap (rotation); read with an acquire load. */
	const cookie_secrets_t *cookies;
} answer_conf_t;

/* The client a query came from: its server cookie is made for this address (RFC 9018). */
typedef struct answer_client {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
	/* Over TCP: the connection's idle timeout in 100 ms units, signalled to a query that
	 * carries edns-tcp-keepalive (RFC 7828 3.3.2); 0 signals nothing. */
	uint16_t keepalive;
} answer_client_t;

/* What the caller may want to know about a query it handled, e.g. for statistics. */
typedef struct answer_info {
	uint16_t opcode;
	uint16_t qtype;
	uint8_t rcode;
	uint8_t cookie; /* cookie_state_t: what the query's COOKIE option said */
	/* The apex (lower-case wire name) of the zone that answered, NULL when none did: the
	 * account of negative answers for response rate limiting. Zone data, valid while the
	 * caller's RCU read section lasts. */
	const uint8_t *apex;
	/* The query is signed (TSIG) and was answered NOTAUTH, BADKEY, since this module knows
	 * no keys: a caller that does verifies it, and answers it stripped of its TSIG record. */
	bool tsig;
} answer_info_t;

/*
 * Answers the query in q[0..qlen) from db. resp must hold at least 65535 bytes for TCP and
 * conf->max_udp (at least 512) for UDP. Returns the response length, or 0 when the query must
 * get no answer at all (too short to parse a header, or itself a response). Never allocates.
 * Reads zone versions through zonedb_zone(); the caller keeps them alive meanwhile (an RCU read
 * section).
 */
size_t answer_query(const answer_conf_t *conf, const zonedb_t *db, const uint8_t *q, size_t qlen,
                    uint8_t *resp, bool tcp, answer_info_t *info);

/* answer_query keeping reserve bytes free at the end of the largest answer it may send, for a
 * TSIG record the caller appends. */
size_t answer_query_room(const answer_conf_t *conf, const zonedb_t *db, const uint8_t *q,
                         size_t qlen, uint8_t *resp, bool tcp, size_t reserve, answer_info_t *info);

/*
 * answer_query_room for a query from client (NULL: unknown, then no cookies are made or
 * checked). With cookies on, a malformed COOKIE option is answered FORMERR (RFC 7873 5.2.2),
 * any other gets the client cookie back with a server cookie for client, and info->cookie
 * says whether the query's server cookie was valid; no BADCOOKIE is sent from here (see
 * rrl_slip for where it is).
 */
size_t answer_query_from(const answer_conf_t *conf, const zonedb_t *db,
                         const answer_client_t *client, const uint8_t *q, size_t qlen,
                         uint8_t *resp, bool tcp, size_t reserve, answer_info_t *info);

/*
 * The EDNS EXPIRE value (RFC 7314) for version z of the zone in slot: a secondary counts down
 * from its own expiry (slot->expire_at against conf->now), so a chain of backups never
 * stretches it; a primary (expire_at 0) says its SOA expire; a copy served past its expiry
 * (slot->stale) says 0.
 */
uint32_t answer_expire(const answer_conf_t *conf, const zonedb_slot_t *slot, const zone_t *z);
