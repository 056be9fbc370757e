/* SPDX-License-Identifier: MIT */
/* metrics: /metrics in the Prometheus text format: the workers' counters summed, zone states. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fleet.h"
#include "fleetmon.h"
#include "metrics.h"
#include "net.h"
#include "tls.h"
#include "wire.h"

/*
 * The per-zone lines are most of a scrape (10,000 zones: 110,000 lines, 8 MB), so they are
 * written with these appenders rather than printf: a scrape then costs the zone manager
 * tens of milliseconds, not hundreds. Out of memory leaves the text cut short, never wrong.
 */
static bool room(ctl_reply_t *r, size_t n)
{
	if (r->len + n + 1 <= r->cap)
		return true;
	size_t cap = r->cap ? r->cap : 4096;
	while (cap < r->len + n + 1)
		cap *= 2;
	char *t = realloc(r->text, cap);
	if (!t)
		return false;
	r->text = t;
	r->cap = cap;
	return true;
}

static void put(ctl_reply_t *r, const char *s, size_t n)
{
	if (!room(r, n))
		return;
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = 0;
}

static void puts_(ctl_reply_t *r, const char *s)
{
	put(r, s, strlen(s));
}

static void put_int(ctl_reply_t *r, long long v)
{
	char b[24], *p = b + sizeof(b);
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	put(r, p, (size_t)(b + sizeof(b) - p));
}

/* A label value as the text format wants it: backslash, double quote and newline escaped. */
static void label(ctl_reply_t *r, const char *v)
{
	if (!strpbrk(v, "\\\"\n")) {
		puts_(r, v);
		return;
	}
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '"')
			ctl_printf(r, "\\%c", *p);
		else if (*p == '\n')
			ctl_printf(r, "\\n");
		else
			ctl_printf(r, "%c", *p);
	}
}

static void head(ctl_reply_t *r, const char *name, const char *type, const char *help)
{
	ctl_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{zone="Z"} value */
static void zone_value(ctl_reply_t *r, const char *name, const server_zone_t *z, long long v)
{
	puts_(r, name);
	put(r, "{zone=\"", 7);
	label(r, z->conf->domain);
	put(r, "\"} ", 3);
	put_int(r, v);
	put(r, "\n", 1);
}

static void counter(ctl_reply_t *r, const char *name, const char *help, unsigned long long v)
{
	head(r, name, "counter", help);
	ctl_printf(r, "%s %llu\n", name, v);
}

/* The workers' counters, summed: each has one writer, so a relaxed load of each will do. */
typedef struct sums {
	server_stats_t all;
	uint64_t queries[3], rcode[3][16]; /* by transport: udp, tcp, tls */
} sums_t;

static void add(sums_t *t, const server_stats_t *w, int transport)
{
	const atomic_uint_fast64_t *src = (const atomic_uint_fast64_t *)w;
	atomic_uint_fast64_t *dst = (atomic_uint_fast64_t *)&t->all;
	/* Every field of server_stats_t is a counter of the same type. */
	for (size_t i = 0; i < sizeof(server_stats_t) / sizeof(atomic_uint_fast64_t); i++)
		atomic_store_explicit(&dst[i],
		                      atomic_load_explicit(&dst[i], memory_order_relaxed) +
		                          atomic_load_explicit(&src[i], memory_order_relaxed),
		                      memory_order_relaxed);
	t->queries[transport] += atomic_load_explicit(&w->queries, memory_order_relaxed);
	for (int c = 0; c < 16; c++)
		t->rcode[transport][c] += atomic_load_explicit(&w->rcode[c], memory_order_relaxed);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static void queries(server_t *s, ctl_reply_t *r, sums_t *t)
{
	static const char *const transports[] = {"udp", "tcp", "tls"};
	int nudp = s->conf->udp_workers * (int)s->conf->nlisten;
	for (int i = 0; i < s->nstats; i++)
		add(t, &s->stats[i], i < nudp ? 0 : 1);
	const server_stats_t *w;
	for (int i = 0; (w = tls_stats(s->tls, i)) != NULL; i++)
		add(t, w, 2);
	int ntransports = s->conf->tls ? 3 : 2;
	head(r, "understudy_queries_total", "counter",
	     "Queries answered, by transport and response code (queries dropped unanswered count "
	     "under no rcode).");
	for (int tr = 0; tr < ntransports; tr++) {
		for (int c = 0; c < 16; c++) {
			/* The common codes always, so that rates start from zero; others once seen.
			 */
			if (c > WIRE_RCODE_REFUSED && !t->rcode[tr][c])
				continue;
			char buf[32];
			const char *name = wire_rcode_text((uint16_t)c, buf, sizeof(buf));
			ctl_printf(r,
			           "understudy_queries_total{transport=\"%s\",rcode=\"%s\"} %llu\n",
			           transports[tr], name, (unsigned long long)t->rcode[tr][c]);
		}
	}
	head(r, "understudy_queries_received_total", "counter",
	     "Messages received by the DNS listeners, answered or not, by transport.");
	for (int tr = 0; tr < ntransports; tr++)
		ctl_printf(r, "understudy_queries_received_total{transport=\"%s\"} %llu\n",
		           transports[tr], (unsigned long long)t->queries[tr]);
}

static void defences(server_t *s, ctl_reply_t *r, const sums_t *t)
{
	const server_stats_t *a = &t->all;
	counter(r, "understudy_rrl_limited_total",
	        "Responses over the response rate limit (slipped and dropped).",
	        LOAD(a->rrl_limited));
	counter(r, "understudy_rrl_slipped_total",
	        "Responses over the rate sent truncated (or BADCOOKIE) instead.",
	        LOAD(a->rrl_slipped));
	counter(r, "understudy_rrl_dropped_total", "Responses over the rate not sent.",
	        LOAD(a->rrl_dropped));
	head(r, "understudy_cookies_total", "counter",
	     "Queries by what their DNS COOKIE option said (RFC 7873).");
	ctl_printf(r, "understudy_cookies_total{result=\"good\"} %llu\n", LOAD(a->cookie_good));
	ctl_printf(r, "understudy_cookies_total{result=\"bad\"} %llu\n", LOAD(a->cookie_bad));
	ctl_printf(r, "understudy_cookies_total{result=\"client_only\"} %llu\n",
	           LOAD(a->cookie_client_only));
	counter(r, "understudy_badcookie_total", "BADCOOKIE answers sent.", LOAD(a->badcookie));
	counter(r, "understudy_blocked_total", "Queries dropped: the client is blocked.",
	        LOAD(a->blocked));
	counter(r, "understudy_tsig_failures_total",
	        "TSIG checks that failed: signed requests to us, answers to our signed requests, "
	        "and peers refusing our key.",
	        LOAD(a->tsig_failures) + LOAD(s->cold.tsig_failures));
	head(r, "understudy_transfer_requests_total", "counter",
	     "Transfer requests turned away: over the per-source rate, or refused.");
	ctl_printf(r, "understudy_transfer_requests_total{result=\"limited\"} %llu\n",
	           LOAD(a->transfer_limited));
	ctl_printf(r, "understudy_transfer_requests_total{result=\"refused\"} %llu\n",
	           LOAD(a->transfer_refused));
	head(r, "understudy_tcp_refused_total", "counter",
	     "TCP connections turned away at a limit: tcp-max-clients (limit) or "
	     "tcp-max-clients-per-address (address).");
	ctl_printf(r, "understudy_tcp_refused_total{reason=\"limit\"} %llu\n",
	           LOAD(a->tcp_refused));
	ctl_printf(r, "understudy_tcp_refused_total{reason=\"address\"} %llu\n",
	           LOAD(a->tcp_refused_address));
	counter(r, "understudy_tcp_timeouts_total",
	        "TCP messages that did not arrive whole within tcp-io-timeout.",
	        LOAD(a->tcp_timeouts));
	head(r, "understudy_notify_total", "counter",
	     "NOTIFY messages: in (accepted, refused, limited) and out (answered, failed).");
	ctl_printf(r, "understudy_notify_total{direction=\"in\",result=\"accepted\"} %llu\n",
	           LOAD(a->notify_accepted));
	ctl_printf(r, "understudy_notify_total{direction=\"in\",result=\"refused\"} %llu\n",
	           LOAD(a->notify_refused));
	ctl_printf(r, "understudy_notify_total{direction=\"in\",result=\"limited\"} %llu\n",
	           LOAD(a->notify_limited));
	ctl_printf(r, "understudy_notify_total{direction=\"out\",result=\"answered\"} %llu\n",
	           LOAD(s->cold.notify_out_answered));
	ctl_printf(r, "understudy_notify_total{direction=\"out\",result=\"failed\"} %llu\n",
	           LOAD(s->cold.notify_out_failed));
}

/* The zone's health verdict, as /health gives it. */
static fleet_health_t verdict(server_t *s, const server_zone_t *z, char *why, size_t len)
{
	char none[1]; /* no room: fleet_verdict then writes no reason, and fast */
	if (!why) {
		why = none;
		len = sizeof(none);
	}
	fleet_zone_facts_t f = {
	    .secondary = z->conf->role == CONF_ROLE_SECONDARY,
	    .serving = z->slot->zone != NULL,
	    .expired = z->expired,
	    .stale = z->stale,
	    .failures = z->failures,
	    .lagging = fleetmon_lagging(s->fleet, z),
	    .held = z->held,
	    .regressed = z->regressed,
	    .bad_digest = z->zonemd_failed,
	};
	return fleet_verdict(&f, why, len);
}

/* Each zone's verdict (a fleet_health_t) and whether a server of its fleet lags, worked out
 * once per scrape. */
typedef struct zone_facts {
	uint8_t health;
	bool lagging;
} zone_facts_t;

static void zones(server_t *s, ctl_reply_t *r, const zone_facts_t *zf)
{
	time_t now = clock_now();
	size_t n = s->conf->nzones;
	head(r, "understudy_zone_serial", "gauge", "The serial of the zone's served copy.");
	for (size_t i = 0; i < n; i++) {
		const zone_t *v = s->zones[i]->slot->zone;
		if (v)
			zone_value(r, "understudy_zone_serial", s->zones[i], v->serial);
	}
	head(r, "understudy_zone_expires_seconds", "gauge",
	     "Secondary: seconds until the copy expires (negative: served past expiry).");
	for (size_t i = 0; i < n; i++) {
		const server_zone_t *z = s->zones[i];
		if (z->conf->role == CONF_ROLE_SECONDARY && z->expire_at)
			zone_value(r, "understudy_zone_expires_seconds", z,
			           (long long)(z->expire_at - now));
		else if (z->conf->role == CONF_ROLE_SECONDARY && z->stale)
			zone_value(r, "understudy_zone_expires_seconds", z,
			           -(long long)(time(NULL) - z->stale_since));
	}
	head(r, "understudy_zone_last_refresh_seconds", "gauge",
	     "Secondary: seconds since a check last reached a primary.");
	for (size_t i = 0; i < n; i++) {
		const server_zone_t *z = s->zones[i];
		if (z->conf->role == CONF_ROLE_SECONDARY && z->last_refresh)
			zone_value(r, "understudy_zone_last_refresh_seconds", z,
			           (long long)(now - z->last_refresh));
	}
	head(r, "understudy_zone_refresh_failures", "gauge",
	     "Secondary: checks of the primaries failed in a row.");
	for (size_t i = 0; i < n; i++)
		if (s->zones[i]->conf->role == CONF_ROLE_SECONDARY)
			zone_value(r, "understudy_zone_refresh_failures", s->zones[i],
			           s->zones[i]->failures);
	head(r, "understudy_zone_health", "gauge",
	     "The zone's health as /health judges it: 0 ok, 1 degraded, 2 fail.");
	for (size_t i = 0; i < n; i++)
		zone_value(r, "understudy_zone_health", s->zones[i], zf ? zf[i].health : 0);
	/* One series per state that is on, so 10,000 healthy zones cost no line each. */
	head(r, "understudy_zone_state", "gauge",
	     "1 for each policy state the zone is in: expired, stale (served past expiry), "
	     "refresh_failing, serial_regression, change_held, zonemd_failed, fleet_lagging, "
	     "not_loaded.");
	for (size_t i = 0; i < n; i++) {
		const server_zone_t *z = s->zones[i];
		const struct {
			bool on;
			const char *name;
		} st[] = {
		    {z->expired, "expired"},
		    {z->stale, "stale"},
		    {z->conf->role == CONF_ROLE_SECONDARY && z->failures >= FLEET_FAILURES_DEGRADED,
		     "refresh_failing"},
		    {z->regressed, "serial_regression"},
		    {z->held, "change_held"},
		    {z->zonemd_failed, "zonemd_failed"},
		    {zf && zf[i].lagging, "fleet_lagging"},
		    {!z->slot->zone && !z->expired, "not_loaded"},
		};
		for (size_t k = 0; k < sizeof(st) / sizeof(st[0]); k++) {
			if (!st[k].on)
				continue;
			ctl_printf(r, "understudy_zone_state{zone=\"");
			label(r, z->conf->domain);
			ctl_printf(r, "\",state=\"%s\"} 1\n", st[k].name);
		}
	}
}

static void transfers(server_t *s, ctl_reply_t *r)
{
	static const char *const dirs[] = {"in", "out"}, *const kinds[] = {"axfr", "ixfr"},
	                         *const results[] = {"ok", "failed", "held"};
	head(r, "understudy_transfers_total", "counter",
	     "Zone transfers finished, by zone, direction, kind (what was sent: the whole zone or "
	     "its changes) and result; a series appears with its first transfer.");
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *z = s->zones[i];
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < 2; k++)
				for (int res = 0; res < SERVER_XFR_NRESULTS; res++) {
					unsigned long long v = LOAD(z->xfr[d][k][res]);
					if (!v)
						continue;
					ctl_printf(r, "understudy_transfers_total{zone=\"");
					label(r, z->conf->domain);
					ctl_printf(r,
					           "\",direction=\"%s\",kind=\"%s\",result=\"%s\"} "
					           "%llu\n",
					           dirs[d], kinds[k], results[res], v);
				}
	}
}

/* The fleet's four families in one pass over the members (each family's lines must stay
 * together, so each gets a buffer of its own, appended in turn). */
static void fleet_series(server_t *s, ctl_reply_t *r, int64_t now)
{
	static const char *const names[] = {"understudy_fleet_lag", "understudy_fleet_in_sync",
	                                    "understudy_fleet_behind_seconds",
	                                    "understudy_fleet_propagation_seconds"};
	static const char *const helps[] = {
	    "Serials (RFC 1982) the server's copy is behind the newest known for the zone.",
	    "1 when the server answered the last check with the newest serial known, else 0.",
	    "Seconds the server has been behind the newest serial (0 in sync).",
	    "Seconds the last change the server caught up with took to reach it."};
	/* Kept from scrape to scrape (zone manager thread only): fresh megabytes each time would
	 * cost a page fault per page. */
	static ctl_reply_t b[4];
	for (int w = 0; w < 4; w++)
		b[w].len = 0;
	size_t total = 0;
	for (size_t i = 0; i < s->conf->nzones; i++)
		total += fleetmon_nservers(s->zones[i]);
	for (int w = 0; w < 4; w++)
		room(&b[w], total * 96); /* a line each, of about this size: no doubling */
	for (size_t i = 0; i < s->conf->nzones; i++) {
		const server_zone_t *z = s->zones[i];
		size_t n = fleetmon_nservers(z);
		for (size_t k = 0; k < n; k++) {
			fleetmon_server_t m;
			fleetmon_server(z, k, now, &m);
			for (int w = 0; w < 4; w++) {
				if (w == 3 && m.propagation_ms < 0)
					continue;
				puts_(&b[w], names[w]);
				put(&b[w], "{zone=\"", 7);
				label(&b[w], z->conf->domain);
				put(&b[w], "\",server=\"", 10);
				puts_(&b[w], m.address);
				put(&b[w], "\"} ", 3);
				if (w == 0) {
					put_int(&b[w], m.lag);
				} else if (w == 1) {
					put_int(&b[w], m.in_sync);
				} else if (w == 2) {
					put_int(&b[w], m.behind_ms / 1000);
				} else {
					/* Milliseconds as seconds with three decimals. */
					put_int(&b[w], m.propagation_ms / 1000);
					char ms[5] = {'.',
					              (char)('0' + m.propagation_ms / 100 % 10),
					              (char)('0' + m.propagation_ms / 10 % 10),
					              (char)('0' + m.propagation_ms % 10), 0};
					put(&b[w], ms, 4);
				}
				put(&b[w], "\n", 1);
			}
		}
	}
	for (int w = 0; w < 4; w++) {
		head(r, names[w], "gauge", helps[w]);
		if (b[w].len)
			put(r, b[w].text, b[w].len);
	}
}

void metrics_render(server_t *s, ctl_reply_t *r)
{
	/* About what a zone with a few copies takes: one allocation, not twenty doublings. */
	room(r, 4096 + s->conf->nzones * 512);
	sums_t t;
	memset(&t, 0, sizeof(t));
	head(r, "understudy_build_info", "gauge", "The version of the running server.");
	ctl_printf(r, "understudy_build_info{version=\"");
	label(r, UNDERSTUDY_VERSION);
	ctl_printf(r, "\"} 1\n");
	head(r, "understudy_start_time_seconds", "gauge", "When the server started (Unix time).");
	ctl_printf(r, "understudy_start_time_seconds %lld\n", (long long)s->started);
	head(r, "understudy_zones", "gauge", "Zones configured.");
	ctl_printf(r, "understudy_zones %zu\n", s->conf->nzones);
	fleet_health_t worst = FLEET_OK;
	/* Without memory for these, the zones' gauges say 0 and /health stays the judge. */
	zone_facts_t *zf = malloc(sizeof(*zf) * (s->conf->nzones ? s->conf->nzones : 1));
	for (size_t i = 0; i < s->conf->nzones; i++) {
		fleet_health_t h = verdict(s, s->zones[i], NULL, 0);
		worst = h > worst ? h : worst;
		if (zf)
			zf[i] =
			    (zone_facts_t){.health = (uint8_t)h,
			                   .lagging = fleetmon_lagging(s->fleet, s->zones[i]) > 0};
	}
	head(r, "understudy_health", "gauge",
	     "The server's health as /health gives it: 0 ok, 1 degraded, 2 fail.");
	ctl_printf(r, "understudy_health %d\n", (int)worst);
	queries(s, r, &t);
	defences(s, r, &t);
	zones(s, r, zf);
	free(zf);
	transfers(s, r);
	fleet_series(s, r, net_now_ms());
}

unsigned metrics_health(server_t *s, ctl_reply_t *r)
{
	fleet_health_t worst = FLEET_OK;
	size_t bad = 0;
	char why[256];
	for (size_t i = 0; i < s->conf->nzones; i++) {
		fleet_health_t h = verdict(s, s->zones[i], NULL, 0);
		worst = h > worst ? h : worst;
	}
	ctl_printf(r, "{\"status\": \"%s\"", fleet_health_name(worst));
	if (worst == FLEET_OK) {
		ctl_printf(r, "}\n");
		return 200;
	}
	ctl_printf(r, ", \"zones\": [");
	int64_t now = net_now_ms();
	for (size_t i = 0; i < s->conf->nzones; i++) {
		const server_zone_t *z = s->zones[i];
		fleet_health_t h = verdict(s, z, why, sizeof(why));
		if (h == FLEET_OK)
			continue;
		ctl_printf(r, "%s{\"zone\": ", bad++ ? ", " : "");
		ctl_json_str(r, z->conf->domain);
		ctl_printf(r, ", \"status\": \"%s\", \"reasons\": [", fleet_health_name(h));
		/* fleet_verdict joins its reasons with ", "; none holds one itself. */
		char *p = why;
		for (int k = 0; *p; k++) {
			char *end = strstr(p, ", ");
			if (end)
				*end = 0;
			ctl_printf(r, "%s", k ? ", " : "");
			ctl_json_str(r, p);
			p = end ? end + 2 : p + strlen(p);
		}
		ctl_printf(r, "]");
		if (z->slot->zone)
			ctl_printf(r, ", \"serial\": %u", z->slot->zone->serial);
		else
			ctl_printf(r, ", \"serial\": null");
		if (z->conf->role == CONF_ROLE_SECONDARY)
			ctl_printf(r, ", \"failures\": %u", z->failures);
		if (z->stale)
			ctl_printf(r, ", \"stale_seconds\": %lld",
			           (long long)(time(NULL) - z->stale_since));
		if (z->regressed)
			ctl_printf(r, ", \"regressed_serial\": %u", z->regressed_serial);
		if (z->held)
			ctl_printf(r, ", \"held_serial\": %u", z->held_serial);
		size_t n = fleetmon_nservers(z), nl = 0;
		for (size_t k = 1; k < n; k++) {
			fleetmon_server_t m;
			fleetmon_server(z, k, now, &m);
			if (!m.lagging)
				continue;
			ctl_printf(r, "%s\"%s\"", nl++ ? ", " : ", \"lagging\": [", m.address);
		}
		if (nl)
			ctl_printf(r, "]");
		ctl_printf(r, ", \"error\": ");
		ctl_json_str(r, z->error[0] ? z->error : NULL);
		ctl_printf(r, "}");
	}
	ctl_printf(r, "]}\n");
	return worst == FLEET_FAIL ? 503 : 200;
}
