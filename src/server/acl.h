/* SPDX-License-Identifier: MIT */
/* acl: who may transfer a zone from us or NOTIFY us about it, and the TSIG that says who. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "tsig.h"

/*
 * Decides whether a request from addr, signed with key (an index into conf->keys, or -1 when
 * unsigned), may do action (one CONF_ACTION_* bit) on zone z. The zone's rules are tried in
 * order and the first whose action, addresses and key all match decides: deny refuses, any
 * other allows. A NOTIFY from one of a secondary zone's primaries, signed with that remote's
 * key if it has one, is allowed without a rule, as in BIND. Anything else is refused.
 */
bool acl_allows(const conf_t *conf, const conf_zone_t *z, const struct sockaddr_storage *addr,
                int key, int action);

/* True if addr lies in the prefix. */
bool acl_prefix_match(const conf_prefix_t *p, const struct sockaddr_storage *addr);

/* The position in z->primaries of the first primary with an address on addr's host (the port
 * aside: a NOTIFY comes from any port), or -1. */
int acl_primary_of(const conf_t *conf, const conf_zone_t *z, const struct sockaddr_storage *addr);

/* acl_check_tsig: the request is unsigned, has a bad signature, or a malformed TSIG record. */
enum { ACL_TSIG_NONE = -1, ACL_TSIG_BAD = -2, ACL_TSIG_MALFORMED = -3 };

/*
 * Checks the TSIG of the request q[0..qlen) against keys[0..nkeys) at time now. Returns the
 * index of the key it is validly signed with (for acl_allows), ACL_TSIG_NONE when it is
 * unsigned, ACL_TSIG_MALFORMED (answer FORMERR), or ACL_TSIG_BAD: then *terr is the TSIG error
 * to answer with (tsig_answer_error with v->key and *rr; it may be 0, see tsig_verify_msg).
 * v is initialised unless the result is ACL_TSIG_NONE or ACL_TSIG_MALFORMED, or BAD with
 * BADKEY; tsig_verify_deinit it in any case (it must start zeroed). On success v->mac is the
 * request's MAC, which the response's signature covers. rr borrows from q.
 */
int acl_check_tsig(const tsig_key_t *keys, size_t nkeys, const uint8_t *q, size_t qlen,
                   uint64_t now, tsig_verify_t *v, tsig_rr_t *rr, uint16_t *terr);
