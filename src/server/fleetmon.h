/* SPDX-License-Identifier: MIT */
/* fleetmon: asks every server that holds each zone for its SOA, paced, and acts on the answers. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "fleet.h"
#include "server.h"

/* What a server of a zone's fleet is to us; one server may be several. */
enum {
	FLEET_ROLE_SELF = 1 << 0,
	FLEET_ROLE_PRIMARY = 1 << 1,
	FLEET_ROLE_NOTIFY = 1 << 2, /* downstream: we NOTIFY it */
	FLEET_ROLE_WATCH = 1 << 3,
	FLEET_ROLE_NS = 1 << 4, /* an address of the apex NS set */
};

typedef struct fleetmon fleetmon_t;

/*
 * The monitor for every zone of s (zone manager thread only, as is everything here): opens
 * no socket until a check needs one. 0, or US_ENOMEM.
 */
int fleetmon_new(server_t *s, fleetmon_t **out);
void fleetmon_free(fleetmon_t *f);

/* Drops what the monitor knows of z, a zone a reload takes out of the zone set. */
void fleetmon_forget(server_zone_t *z);

/*
 * After a reload changed the zone set and the configuration: the zones that stay keep what
 * was observed of each copy that stays and its schedule, the added ones start afresh, and every
 * membership is built again from the new configuration. 0, or US_ENOMEM (then free it).
 */
int fleetmon_reload(fleetmon_t *f);

/*
 * Runs what is due: membership from each zone's version and configuration, checks as the
 * pacing allows, timeouts, NOTIFYs to copies that need one. now is CLOCK_MONOTONIC in ms.
 * Returns how many ms may pass before it must run again.
 */
int fleetmon_tick(fleetmon_t *f, int64_t now);

/* The sockets to poll: writes up to max entries to p, returns how many. */
int fleetmon_pollfds(const fleetmon_t *f, struct pollfd *p, int max);

/* Reads what came on the polled sockets (p and n as fleetmon_pollfds gave them, revents set). */
void fleetmon_input(fleetmon_t *f, const struct pollfd *p, int n, int64_t now);

/*
 * Notes that zone z now serves version v (NULL: none): its serial is seen, and every other
 * copy is checked again soon, then less and less often, until each has it. Zone manager only;
 * nothing before the monitor's first tick (which looks at every zone).
 */
void fleetmon_published(server_zone_t *z, const zone_t *v);

/* Notes a serial a primary or a NOTIFY told of, before we have it. Zone manager only. */
void fleetmon_seen(server_zone_t *z, uint32_t serial);

/* Writes `ctl fleet` for zone z (NULL: every zone), as a table or as JSON (r->json). */
void fleetmon_report(fleetmon_t *f, server_zone_t *z, ctl_reply_t *r);

/* One server of a zone's fleet, as /metrics shows it: borrowed from the monitor, valid until
 * its next tick. */
typedef struct fleetmon_server {
	char address[80]; /* ADDR@PORT, as in ctl fleet */
	unsigned roles;   /* FLEET_ROLE_* */
	bool known;       /* serial holds the last serial it answered */
	uint32_t serial, lag;
	bool in_sync;
	bool lagging;                      /* behind for longer than the zone's fleet-interval */
	int64_t behind_ms, propagation_ms; /* propagation_ms -1: none seen */
	bool answered;                     /* the last check got an authoritative answer */
	uint32_t rtt_ms;
	const char *error; /* NULL, or why the last check failed */
} fleetmon_server_t;

/* Servers in zone z's fleet (ourselves first), 0 before the monitor has looked at it. */
size_t fleetmon_nservers(const server_zone_t *z);

/* Server i (< fleetmon_nservers) of zone z's fleet at now (CLOCK_MONOTONIC ms) into out. */
void fleetmon_server(const server_zone_t *z, size_t i, int64_t now, fleetmon_server_t *out);

/* The health verdict facts of zone z that the fleet gives: how many of its servers lag. */
unsigned fleetmon_lagging(const fleetmon_t *f, const server_zone_t *z);
