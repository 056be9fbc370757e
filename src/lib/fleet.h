/* SPDX-License-Identifier: MIT */
/* fleet: what the copies of a zone say, and what it means: lag, sync, propagation, health. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Times are milliseconds of one monotonic clock, given by the caller (this module reads no
 * clock); 0 means never. The caller turns them into wall-clock times for people.
 */

#define FLEET_HISTORY 16 /* serials whose first sighting is remembered, per zone */

/*
 * A zone's serials as the fleet has shown them: the newest known anywhere (RFC 1982), and when
 * each of the recent ones was first seen (our publication, a primary's answer, a copy's).
 */
typedef struct fleet_serials {
	bool known; /* some serial has been seen */
	uint32_t newest;
	uint8_t n, next; /* entries in seen[], and where the next one goes */
	struct {
		uint32_t serial;
		int64_t at;
	} seen[FLEET_HISTORY];
} fleet_serials_t;

/* Notes that serial exists, at now unless it was seen before. */
void fleet_seen(fleet_serials_t *h, uint32_t serial, int64_t now);

/* When serial was first seen, or 0 if not remembered. */
int64_t fleet_first_seen(const fleet_serials_t *h, uint32_t serial);

/* What one server of the fleet showed. */
typedef struct fleet_obs {
	int64_t checked;        /* when the last check ended */
	bool answered;          /* the last check got an authoritative SOA answer */
	bool known;             /* some check did: serial holds its serial */
	uint32_t serial;        /* from the last answer */
	uint32_t rtt_ms;        /* of the last answer */
	bool has_expire;        /* the last answer had EDNS EXPIRE (RFC 7314) ... */
	uint32_t expire;        /* ... seconds left of its copy */
	bool has_version;       /* the last answer had ZONEVERSION (RFC 9660) ... */
	uint32_t version;       /* ... the serial it says the answer came from */
	int64_t propagation_ms; /* the newest serial it caught up with took this long; -1: none */
	const char *error;      /* why the last check failed, NULL when it answered */
	int64_t error_at;
} fleet_obs_t;

/* A fresh observation: nothing seen yet. */
void fleet_obs_init(fleet_obs_t *o);

/*
 * A check got serial from the server, authoritatively, rtt_ms after asking. The serial counts as
 * seen (it may be the newest). Returns true when the server has caught up: it holds the newest
 * serial, and a serial other than the one its last answer had. Its propagation time is then
 * how long since that serial was first seen (an upper bound, as good as the checks are
 * frequent). A first answer says nothing of when the server got its serial.
 */
bool fleet_answered(fleet_serials_t *h, fleet_obs_t *o, uint32_t serial, uint32_t rtt_ms,
                    int64_t now);

/* A check failed: why is a short reason ("timeout", "REFUSED", "BADKEY", ...), kept by
 * pointer: it must live as long as the observation (a literal, or the caller's interned copy). */
void fleet_failed(fleet_obs_t *o, const char *why, int64_t now);

/* True when the server's last check found the newest serial known. */
bool fleet_in_sync(const fleet_serials_t *h, const fleet_obs_t *o);

/* Serials (RFC 1982) the server's last known serial is behind the newest; 0 when in sync or
 * when it never answered. */
uint32_t fleet_lag(const fleet_serials_t *h, const fleet_obs_t *o);

/*
 * How long the server has been behind at now: since the first serial it lacks was first seen
 * (the oldest remembered one when that is forgotten); 0 when it is in sync. A server that
 * never answered has been behind since the newest serial was seen.
 */
int64_t fleet_behind_ms(const fleet_serials_t *h, const fleet_obs_t *o, int64_t now);

/* ---- health ---- */

typedef enum { FLEET_OK, FLEET_DEGRADED, FLEET_FAIL } fleet_health_t;

/* Refreshes failed in a row after which a secondary's health is degraded. */
#define FLEET_FAILURES_DEGRADED 3

/* What the health of one zone is judged from. */
typedef struct fleet_zone_facts {
	bool secondary;
	bool serving;      /* a version is published */
	bool expired;      /* past its expiry, and not served */
	bool stale;        /* past its expiry, and served by policy (expire-policy keep-serving) */
	unsigned failures; /* refreshes failed in a row */
	unsigned lagging;  /* servers of its fleet behind for longer than it allows */
	bool held;         /* a change is held for `ctl accept` */
	bool regressed;    /* a primary's serial went backwards */
	bool bad_digest;   /* a transfer failed its ZONEMD check */
} fleet_zone_facts_t;

/*
 * The zone's health: FAIL when it is expired and not served, or was never loaded (nothing to
 * serve); DEGRADED when it serves past expiry, refreshes keep failing, a watched server lags, a
 * change is held, a regression or a bad digest is alarmed; OK otherwise. why (len bytes) gets
 * the reasons, comma-separated, or "".
 */
fleet_health_t fleet_verdict(const fleet_zone_facts_t *f, char *why, size_t len);

/* "ok", "degraded" or "fail". */
const char *fleet_health_name(fleet_health_t h);
