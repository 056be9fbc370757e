/* SPDX-License-Identifier: MIT */
/* fleet: what the copies of a zone say, and what it means: lag, sync, propagation, health. */
#include <stdio.h>
#include <string.h>

#include "fleet.h"
#include "serial.h"

void fleet_seen(fleet_serials_t *h, uint32_t serial, int64_t now)
{
	if (fleet_first_seen(h, serial))
		return;
	h->seen[h->next].serial = serial;
	h->seen[h->next].at = now ? now : 1;
	h->next = (uint8_t)((h->next + 1) % FLEET_HISTORY);
	if (h->n < FLEET_HISTORY)
		h->n++;
	if (!h->known || serial_cmp(serial, h->newest) > 0)
		h->newest = serial;
	h->known = true;
}

int64_t fleet_first_seen(const fleet_serials_t *h, uint32_t serial)
{
	for (unsigned i = 0; i < h->n; i++)
		if (h->seen[i].serial == serial)
			return h->seen[i].at;
	return 0;
}

void fleet_obs_init(fleet_obs_t *o)
{
	memset(o, 0, sizeof(*o));
	o->propagation_ms = -1;
}

bool fleet_answered(fleet_serials_t *h, fleet_obs_t *o, uint32_t serial, uint32_t rtt_ms,
                    int64_t now)
{
	fleet_seen(h, serial, now);
	bool caught_up = o->known && o->serial != serial && serial == h->newest;
	if (caught_up) {
		int64_t since = fleet_first_seen(h, serial);
		o->propagation_ms = since && now > since ? now - since : 0;
	}
	o->checked = now;
	o->answered = o->known = true;
	o->serial = serial;
	o->rtt_ms = rtt_ms;
	o->error = NULL;
	return caught_up;
}

void fleet_failed(fleet_obs_t *o, const char *why, int64_t now)
{
	o->checked = now;
	o->answered = false;
	o->error = why;
	o->error_at = now;
}

bool fleet_in_sync(const fleet_serials_t *h, const fleet_obs_t *o)
{
	return o->answered && h->known && o->serial == h->newest;
}

uint32_t fleet_lag(const fleet_serials_t *h, const fleet_obs_t *o)
{
	if (!o->known || !h->known || serial_cmp(o->serial, h->newest) >= 0)
		return 0;
	return h->newest - o->serial;
}

int64_t fleet_behind_ms(const fleet_serials_t *h, const fleet_obs_t *o, int64_t now)
{
	if (fleet_in_sync(h, o) || !h->known)
		return 0;
	/* The first serial the server lacks: the oldest remembered one newer than its own. */
	int64_t since = 0;
	for (unsigned i = 0; i < h->n; i++) {
		bool lacks = !o->known || serial_cmp(h->seen[i].serial, o->serial) > 0;
		if (lacks && (!since || h->seen[i].at < since))
			since = h->seen[i].at;
	}
	if (!since) /* it answered the newest, but its last check failed: behind since then */
		since = o->error_at ? o->error_at : now;
	return now > since ? now - since : 0;
}

/* Appends reason to why, comma-separated. */
static void add_reason(char *why, size_t len, const char *reason)
{
	size_t n = strlen(why);
	if (n + 1 < len)
		snprintf(why + n, len - n, "%s%s", n ? ", " : "", reason);
}

fleet_health_t fleet_verdict(const fleet_zone_facts_t *f, char *why, size_t len)
{
	if (len)
		why[0] = 0;
	if (f->expired) {
		add_reason(why, len, "expired");
		return FLEET_FAIL;
	}
	if (!f->serving) {
		add_reason(why, len, f->secondary ? "not transferred yet" : "not loaded");
		return FLEET_FAIL;
	}
	fleet_health_t h = FLEET_OK;
	struct {
		bool on;
		const char *reason;
	} degraded[] = {
	    {f->stale, "serving past expiry"},
	    {f->secondary && f->failures >= FLEET_FAILURES_DEGRADED, "refreshes failing"},
	    {f->lagging > 0, "a server of the zone lags"},
	    {f->held, "a change is held"},
	    {f->regressed, "a primary's serial went backwards"},
	    {f->bad_digest, "a transfer failed its ZONEMD check"},
	};
	for (size_t i = 0; i < sizeof(degraded) / sizeof(degraded[0]); i++) {
		if (degraded[i].on) {
			add_reason(why, len, degraded[i].reason);
			h = FLEET_DEGRADED;
		}
	}
	return h;
}

const char *fleet_health_name(fleet_health_t h)
{
	return h == FLEET_OK ? "ok" : h == FLEET_DEGRADED ? "degraded" : "fail";
}
