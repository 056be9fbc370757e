/* SPDX-License-Identifier: MIT */
/* xfrin: the backup role: SOA checks, transfers in, timers, expiry, for secondary zones. */
#pragma once

#include "server.h"

typedef struct xfrin_job xfrin_job_t;

/* At start: serves the copy persisted in storage at once, with its timers carried over (a copy
 * whose expiry passed while we were down is not served), and schedules the first check. */
void xfrin_restore(server_t *s, server_zone_t *z);

/* Starts checking the zone's primaries in a thread of its own, unless one is running (then it
 * runs again when that ends); with force_axfr the zone is transferred whole whatever the
 * serials say. The primaries are tried in their order, but first the one at position first in
 * the zone's primaries when first >= 0 (the sender of a NOTIFY). */
void xfrin_start(server_t *s, server_zone_t *z, bool force_axfr, int first);

/* Zone manager thread: takes in finished jobs and NOTIFYs, starts due checks, expires zones.
 * Returns how many milliseconds may pass before it must run again. */
int xfrin_tick(server_t *s);

/*
 * ctl accept: stores and publishes the version the change guard holds (journal, NOTIFY, as for
 * any transfer in). ctl reject: drops it, and the same serial is not transferred again until
 * the primary's serial moves on or a transfer is forced (ctl retransfer). Zone manager thread.
 * Return 0 or a negative US_E* (US_ENOENT: nothing held), with what happened in msg.
 */
int xfrin_accept(server_t *s, server_zone_t *z, char *msg, size_t len);
int xfrin_reject(server_t *s, server_zone_t *z, char *msg, size_t len);

/* Waits for running jobs to end (they stop at their next deadline) and frees them. */
/*
 * For a zone a reload removed: takes in its finished job, if any, without applying it, and
 * drops what the change guard held. True once no job runs for it. Zone manager only.
 */
bool xfrin_idle(server_zone_t *z);

void xfrin_shutdown(server_t *s);
