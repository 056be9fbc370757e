/* SPDX-License-Identifier: MIT */
/* cookie: DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018, SipHash-2-4). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define COOKIE_CLIENT_LEN     8
#define COOKIE_SERVER_LEN     16 /* RFC 9018: version, reserved, timestamp, hash */
#define COOKIE_SERVER_MIN     8  /* RFC 7873 4: a server cookie is 8 to 32 bytes */
#define COOKIE_SERVER_MAX     32
#define COOKIE_SECRET_LEN     SIPHASH_KEY_LEN
#define COOKIE_VERSION        1
#define COOKIE_LIFETIME       3600 /* RFC 9018 4.3: valid up to an hour after it was made */
#define COOKIE_FUTURE         300  /* and up to five minutes before (clock differences) */
#define COOKIE_REFRESH        1800 /* a server cookie older than this is replaced (4.3) */
#define COOKIE_OPTION_MAX_LEN (4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN)

/*
 * The server secrets: current makes new cookies, previous (when has_previous) is still accepted,
 * so that rotating the secret across a fleet never turns valid cookies away (RFC 9018 4.4).
 */
typedef struct cookie_secrets {
	uint8_t current[COOKIE_SECRET_LEN];
	uint8_t previous[COOKIE_SECRET_LEN];
	bool has_previous;
} cookie_secrets_t;

/* What the COOKIE option of a query said, as the query path and its counters see it. */
typedef enum {
	COOKIE_NONE,        /* no COOKIE option */
	COOKIE_CLIENT_ONLY, /* a client cookie alone */
	COOKIE_BAD,         /* a server cookie that is not valid (not ours, too old, another IP) */
	COOKIE_GOOD, /* a valid server cookie: the client has talked to us from its address */
} cookie_state_t;

/*
 * Splits a COOKIE option's data[0..len) into the client cookie (*cc, 8 bytes) and the server
 * cookie (*sc, *sclen bytes, 0 when absent). Returns 0, or US_EMALF when the length is not 8 or
 * 16 to 40 (RFC 7873 5.2.2: FORMERR).
 */
int cookie_parse(const uint8_t *data, size_t len, const uint8_t **cc, const uint8_t **sc,
                 size_t *sclen);

/*
 * The RFC 9018 server cookie for client cookie cc from the client address addr (family 4 or 6:
 * 4 or 16 bytes) at Unix time now, made with secret, into out (16 bytes): version 1, three
 * reserved zero bytes, the timestamp, and SipHash-2-4 of the client cookie, those 8 bytes and
 * the address. Any server sharing the secret makes and accepts the same cookies.
 */
void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t cc[COOKIE_CLIENT_LEN],
                 uint8_t family, const uint8_t *addr, uint32_t now, uint8_t out[COOKIE_SERVER_LEN]);

/*
 * Checks server cookie sc[0..sclen) against client cookie cc from addr at time now: COOKIE_GOOD
 * when it is an RFC 9018 cookie made with one of the secrets no more than an hour ago (or five
 * minutes ahead), COOKIE_BAD otherwise, COOKIE_CLIENT_ONLY when sclen is 0. *reuse is set
 * when the cookie may be sent back as it is: good, from the current secret, and younger than
 * half an hour; otherwise the reply carries a new one. Allocates nothing.
 */
cookie_state_t cookie_check(const cookie_secrets_t *secrets, const uint8_t cc[COOKIE_CLIENT_LEN],
                            const uint8_t *sc, size_t sclen, uint8_t family, const uint8_t *addr,
                            uint32_t now, bool *reuse);
