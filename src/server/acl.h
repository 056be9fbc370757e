/* SPDX-License-Identifier: MIT */
/* acl: who may transfer a zone from us or NOTIFY us about it. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "conf.h"

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
