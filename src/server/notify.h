/* SPDX-License-Identifier: MIT */
/* notify: NOTIFY messages in (RFC 1996), answered by the workers, handed to the zone manager. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server.h"

/*
 * Answers the NOTIFY in q[0..qlen) from addr into resp (at least 512 bytes): NOERROR when the
 * zone is ours and the sender is allowed (the zone manager is then told to check the primary),
 * NOTAUTH for a zone we do not serve, REFUSED for a sender the zone's rules do not allow
 * (logged), FORMERR for a malformed one. Returns the response length, 0 for no answer.
 */
size_t notify_answer(server_t *s, const uint8_t *q, size_t qlen,
                     const struct sockaddr_storage *addr, uint8_t *resp);

/*
 * Tells the zone's `notify` remotes that version is out (RFC 1996), through the one thread that
 * sends every NOTIFY, paced, with its SOA in the answer section as RFC 1996 3.7 allows (named
 * does the same; it tells a secondary the serial before it asks): TSIG-signed when the remote
 * has a key, from its `via` address, repeated while unanswered, a second apart at first, then
 * less and less often, for an hour at most (notify.c says why). Logged either way. The SOA is
 * copied: version need not outlive the call.
 */
void notify_out(server_t *s, const conf_zone_t *z, const zone_t *version);

/* The same for one remote (an index into s->conf->remotes). */
void notify_remote(server_t *s, const conf_zone_t *z, int remote, const zone_t *version);

/* Stops the NOTIFYs under way and the thread that sends them. */
void notify_shutdown(server_t *s);
