/* SPDX-License-Identifier: MIT */
/* server: the daemon's lifecycle, its zone manager and the control commands. */
#include <errno.h>
#include <malloc.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu.h>

#include "catz.h"
#include "clock.h"
#include "ctl.h"
#include "dnssec.h"
#include "error.h"
#include "fleetmon.h"
#include "shield.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "priv.h"
#include "recover.h"
#include "serial.h"
#include "service.h"
#include "server.h"
#include "store.h"
#include "tls.h"
#include "tsig.h"
#include "xfrin.h"
#include "zonediff.h"
#include "zonefile.h"
#include "zonemd.h"

void server_wake(server_t *s)
{
	uint64_t one = 1;
	ssize_t r = write(s->wake_fd, &one, sizeof(one));
	(void)r; /* a full counter means a wake-up is pending anyway */
}

int server_port_free(const conf_addr_t *a, int type)
{
	/* Without SO_REUSEPORT the bind fails if anyone holds the port, even another process
	 * using SO_REUSEPORT, which would otherwise silently get a share of our traffic. */
	int fd = socket(a->ss.ss_family, type | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	int ret = bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int server_listen(const conf_addr_t *a, int type)
{
	int fam = a->ss.ss_family, one = 1;
	int fd = socket(fam, type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Remembers a zone's latest error for zone-status; long messages are cut. */
static void set_error(server_zone_t *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(server_zone_t *z, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(z->error, sizeof(z->error), fmt, ap);
	va_end(ap);
	z->error_at = time(NULL);
}

typedef struct report_ctx {
	server_zone_t *z;
	unsigned errors;
} report_ctx_t;

static void zone_report(void *ctx, const char *file, unsigned long line, bool error,
                        const char *msg)
{
	report_ctx_t *r = ctx;
	char where[600];
	if (file && line)
		snprintf(where, sizeof(where), "%s:%lu: ", file, line);
	else if (file)
		snprintf(where, sizeof(where), "%s: ", file);
	else
		where[0] = 0;
	log_msg(error ? LOG_ERR : LOG_WARNING, "zone %s: %s%s", r->z->conf->domain, where, msg);
	if (error && r->errors++ == 0)
		set_error(r->z, "%s%s", where, msg);
}

void server_publish(server_zone_t *z, zone_t *nz)
{
	zone_t *old = z->slot->zone;
	rcu_assign_pointer(z->slot->zone, nz);
	if (nz)
		z->loaded_at = time(NULL);
	fleetmon_published(z, nz);
	if (!old)
		return;
	/* Readers finish their batch before the old version goes; a transfer out that pinned it
	 * keeps it until it ends. */
	synchronize_rcu();
	zone_unref(old);
	/* A whole zone just went back to the allocator, often from a transfer thread's arena:
	 * return it to the system, or every version's peak would add up (seen: 4x on 1M RRs). */
	malloc_trim(0);
}

/*
 * At start, the version stored before the restart stands in for the one a reload would
 * compare against: it tells whether the file changed while we were down. NULL when there is
 * none or it cannot be read (logged).
 */
static zone_t *stored_version(server_t *s, server_zone_t *z)
{
	zone_t *stored = NULL;
	int ret = store_load_zone(s->store, z->conf->name, &stored, NULL);
	if (ret && ret != US_ENOENT)
		log_warning("zone %s: the stored copy is unusable (%s: %s); its journal starts "
		            "afresh",
		            z->conf->domain, us_strerror(ret), store_errmsg(s->store));
	return ret ? NULL : stored;
}

store_journal_limits_t server_journal_limits(const conf_zone_t *zc)
{
	return (store_journal_limits_t){.max_depth = (uint32_t)zc->journal_max_depth,
	                                .max_size = (uint64_t)zc->journal_max_size};
}

void server_compact(server_t *s, server_zone_t *z)
{
	store_journal_limits_t lim = server_journal_limits(z->conf);
	if (s->store && z->slot->zone && store_compact(s->store, z->slot->zone, &lim) != 0)
		log_warning("zone %s: cannot write a snapshot of serial %u: %s; the journal keeps "
		            "growing until one is written",
		            z->conf->domain, z->slot->zone->serial, store_errmsg(s->store));
}

/*
 * Stores nz, the change from prev (NULL: none known) going to the journal, so IXFR out can
 * serve it and a restart knows what it last served. Returns 0 or the store's error.
 */
static int journal_version(server_t *s, server_zone_t *z, const zone_t *prev, const zone_t *nz)
{
	const conf_zone_t *zc = z->conf;
	arena_t a;
	arena_init(&a);
	zone_changeset_t diff, *cs = NULL;
	if (prev && serial_cmp(prev->serial, nz->serial) < 0 &&
	    zonediff_compute(prev, nz, &a, &diff) == 0)
		cs = &diff;
	store_timers_t t = {.serial = nz->serial};
	store_journal_limits_t lim = server_journal_limits(zc);
	int ret = store_save_change(s->store, nz, cs, &lim, &t);
	if (ret == 0 && cs)
		log_info("zone %s: serial %u -> %u, %u records changed", zc->domain, prev->serial,
		         nz->serial, cs->first->nremoved + cs->first->nadded);
	arena_deinit(&a);
	return ret;
}

static void warn_backwards(const conf_zone_t *zc, const zone_t *prev, const zone_t *nz)
{
	if (serial_cmp(nz->serial, prev->serial) < 0)
		log_warning("zone %s: serial went backwards from %u to %u; secondaries will not "
		            "follow",
		            zc->domain, prev->serial, nz->serial);
}

/*
 * After the first load of a primary zone, served already: journals its difference to the
 * version stored before the restart. Returns true when the serial changed meanwhile, so the
 * secondaries are to hear of it (an unchanged one is no news).
 */
static bool journal_start(server_t *s, server_zone_t *z, const zone_t *nz)
{
	const conf_zone_t *zc = z->conf;
	zone_t *stored = stored_version(s, z);
	const zone_t *prev = stored;
	bool journal = true;
	if (stored && serial_cmp(nz->serial, stored->serial) == 0) {
		/* The file wins, and its history starts over, since the stored changes no
		 * longer lead to it. */
		bool same = zone_same(nz, stored);
		if (!same)
			log_warning(
			    "zone %s: %s changed while we were stopped but serial %u did not; "
			    "secondaries that have it will not see the change until the "
			    "serial is bumped",
			    zc->domain, zc->file, nz->serial);
		journal = !same;
		prev = NULL;
	} else if (stored) {
		warn_backwards(zc, stored, nz);
	}
	int ret = journal ? journal_version(s, z, prev, nz) : 0;
	if (ret)
		log_error("zone %s: cannot store serial %u: %s (%s); serving it without history",
		          zc->domain, nz->serial, us_strerror(ret), store_errmsg(s->store));
	bool changed = stored && stored->serial != nz->serial;
	zone_unref(stored);
	if (journal && ret == 0)
		server_compact(s, z);
	return changed;
}

/* Zones per batch of first snapshots, and records: a large zone is a batch of its own. */
#define START_BATCH_ZONES   1000
#define START_BATCH_RECORDS 100000

/* Ends a batch of journal_start calls: commits it, then sends the NOTIFYs it held back. */
static void journal_start_commit(server_t *s, size_t from, size_t to)
{
	int ret = s->store ? store_batch_commit(s->store) : 0;
	if (ret)
		log_error("cannot store the first versions of %zu zones loaded at start: %s (%s); "
		          "they are served without history",
		          to - from, us_strerror(ret), store_errmsg(s->store));
	for (size_t i = from; i < to; i++) {
		server_zone_t *z = &s->zones[i];
		if (z->notify_pending && z->slot->zone)
			notify_out(s, z->conf, z->slot->zone);
		z->notify_pending = false;
	}
}

/*
 * Journals every primary zone loaded at start (journal_start). Their zone files are the
 * source and nothing waits on these writes, so they are committed in batches, one sync for
 * many zones rather than one each: start-up then costs in proportion to the data, not to the
 * number of zones. NOTIFYs go once their batch is on disk, so that a secondary asking for the
 * change finds it in the journal.
 */
static void journal_start_all(server_t *s)
{
	size_t from = 0, zones = 0, records = 0;
	bool batch = s->store && store_batch_begin(s->store) == 0;
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *z = &s->zones[i];
		if (!z->journal_pending || !z->slot->zone) {
			z->journal_pending = false;
			continue;
		}
		z->journal_pending = false;
		z->notify_pending = journal_start(s, z, z->slot->zone);
		if (!batch) {
			journal_start_commit(s, i, i + 1);
			continue;
		}
		records += z->slot->zone->nrecords;
		if (++zones >= START_BATCH_ZONES || records >= START_BATCH_RECORDS) {
			journal_start_commit(s, from, i + 1);
			from = i + 1;
			zones = records = 0;
			batch = store_batch_begin(s->store) == 0;
		}
	}
	if (batch)
		journal_start_commit(s, from, s->conf->nzones);
}

/*
 * A producer catalog's new version, generated from the members in the configuration, against
 * the version served, or at start the one stored, so that a restart with the same members
 * keeps the serial and one with other members moves past it (and the journal gets the
 * difference, for IXFR out).
 */
static int catalog_load(server_t *s, server_zone_t *z, zone_t **out)
{
	const conf_zone_t *zc = z->conf;
	zone_t *stored = !z->slot->zone && s->store ? stored_version(s, z) : NULL;
	char err[256];
	int ret = catz_generate(s->conf, zc, z->slot->zone ? z->slot->zone : stored,
	                        (uint32_t)time(NULL), out, err, sizeof(err));
	zone_unref(stored);
	if (ret) {
		set_error(z, "cannot generate the catalog: %s", err);
		log_error("zone %s: %s%s", zc->domain, z->error,
		          z->slot->zone ? "; the previous version keeps serving" : "");
	}
	return ret;
}

int server_zone_load(server_t *s, server_zone_t *z)
{
	const conf_zone_t *zc = z->conf;
	bool catalog = zc->catalog_role == CONF_CATALOG_PRODUCER;
	if (!zc->file && !catalog) {
		log_error("zone %s: no zone file configured", zc->domain);
		return US_EINVAL;
	}
	report_ctx_t r = {.z = z};
	zone_t *nz = NULL;
	zone_t *old = z->slot->zone;
	if (catalog) {
		int ret = catalog_load(s, z, &nz);
		if (ret)
			return ret;
		goto loaded;
	}
	int ret = zonefile_load(zc->name, zc->file, zone_report, &r, &nz);
	if (ret) {
		if (!r.errors) {
			set_error(z, "%s: %s", zc->file, us_strerror(ret));
			log_error("zone %s: %s", zc->domain, z->error);
		}
		log_error("zone %s: not loaded from %s%s", zc->domain, zc->file,
		          old ? "; the previous version keeps serving" : "");
		return ret;
	}
loaded:
	if (!old) {
		/* At start the file is what there is to serve, so serve it first; what was stored
		 * only decides what goes to the journal and whether secondaries hear of it. */
		z->error[0] = 0;
		dnssec_check_times(nz, (uint32_t)time(NULL), zone_report, &r);
		log_info("zone %s: loaded serial %u, %zu records", zc->domain, nz->serial,
		         nz->nrecords);
		server_publish(z, nz);
		/* The comparison loads the stored copy, as long as the file took: the workers
		 * start answering first. */
		z->journal_pending = s->store != NULL;
		return 0;
	}
	if (serial_cmp(nz->serial, old->serial) == 0) {
		/* Secondaries only look at the serial: new contents under the old one would
		 * never reach them, so such a file is refused until the serial is bumped. */
		bool same = zone_same(nz, old);
		zone_unref(nz);
		if (!same) {
			set_error(z, "%s: contents changed but serial %u did not; bump the serial",
			          zc->file, old->serial);
			log_error("zone %s: %s; serial %u keeps serving", zc->domain, z->error,
			          old->serial);
			return US_EZONE;
		}
		log_info("zone %s: serial %u unchanged, keeping the loaded version", zc->domain,
		         old->serial);
		z->error[0] = 0;
		return 0;
	}
	warn_backwards(zc, old, nz);
	if (s->store && (ret = journal_version(s, z, old, nz)) != 0) {
		/* A version we cannot keep must not be served: a restart would lose it, and IXFR
		 * out would have no history for it. */
		set_error(z, "cannot store serial %u: %s", nz->serial, us_strerror(ret));
		log_error("zone %s: %s (%s); serial %u keeps serving", zc->domain, z->error,
		          store_errmsg(s->store), old->serial);
		zone_unref(nz);
		return ret;
	}
	z->error[0] = 0;
	/* Served all the same: a backup passes on what its primary signed. */
	dnssec_check_times(nz, (uint32_t)time(NULL), zone_report, &r);
	log_info("zone %s: loaded serial %u, %zu records", zc->domain, nz->serial, nz->nrecords);
	server_publish(z, nz);
	notify_out(s, zc, z->slot->zone);
	if (s->store)
		server_compact(s, z);
	return 0;
}

static server_zone_t *find_zone(server_t *s, const char *name, ctl_reply_t *r)
{
	uint8_t wire[DNAME_MAXLEN];
	int len = dname_from_text(name, wire);
	if (len < 0) {
		ctl_fail(r, "invalid zone name: %s\n", name);
		return NULL;
	}
	dname_lower(wire, wire, (size_t)len);
	for (size_t i = 0; i < s->conf->nzones; i++)
		if (s->zones[i].slot->apex_len == len &&
		    memcmp(s->zones[i].slot->apex, wire, (size_t)len) == 0)
			return &s->zones[i];
	ctl_fail(r, "no such zone: %s\n", name);
	return NULL;
}

static void fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (!t) {
		snprintf(buf, len, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * A record of fields, written as "NAME key=value ...\n" or, with --json, as an object whose
 * keys are the same with '_' for '-'. A value NULL is "none" in text and null in JSON; a time
 * of 0 is "never" and null.
 */
static void field(ctl_reply_t *r, const char *key, const char *value, bool quote)
{
	if (!r->json) {
		ctl_printf(r, quote ? " %s=\"%s\"" : " %s=%s", key, value ? value : "none");
		return;
	}
	ctl_printf(r, ", \"");
	for (const char *k = key; *k; k++)
		ctl_printf(r, "%c", *k == '-' ? '_' : *k);
	ctl_printf(r, "\": ");
	ctl_json_str(r, value);
}

static void field_num(ctl_reply_t *r, const char *key, unsigned long long v)
{
	char t[24];
	snprintf(t, sizeof(t), "%llu", v);
	if (!r->json) {
		field(r, key, t, false);
		return;
	}
	field(r, key, "", false);
	r->len -= 2; /* the empty string's quotes: a number goes there */
	ctl_printf(r, "%s", t);
}

static void field_time(ctl_reply_t *r, const char *key, time_t t)
{
	char buf[32];
	fmt_time(t, buf, sizeof(buf));
	field(r, key, t || !r->json ? buf : NULL, false);
}

/*
 * The states of a secondary's policies (docs/configuration.md), each only while it is on:
 * state=stale (expire-policy keep-serving), regression=..., held-..., rejected-serial,
 * zonemd=...
 */
static void policy_status(const server_zone_t *z, ctl_reply_t *r)
{
	if (z->stale) {
		field(r, "state", "stale", false);
		field_time(r, "stale-since", z->stale_since);
	}
	if (z->regressed) {
		bool follow = z->conf->serial_regression == CONF_REGRESSION_FOLLOW;
		field(r, "regression", follow ? "follow" : "alarm", false);
		field_num(r, "regression-serial", z->regressed_serial);
		field(r, "regression-primary", z->regressed_primary, false);
		field_time(r, "regression-since", z->regressed_since);
		field_num(r, "regression-checks", z->regressed_checks);
	}
	if (z->held) {
		field_num(r, "held-serial", z->held_serial);
		field(r, "held-from", z->held_from, false);
		field_time(r, "held-since", z->held_since);
		field(r, "held-why", z->held_why, true);
	}
	if (z->rejected)
		field_num(r, "rejected-serial", z->rejected_serial);
	if (z->zonemd_failed) {
		field(r, "zonemd", "failed", false);
		field_num(r, "zonemd-serial", z->zonemd_failed_serial);
		field(r, "zonemd-error", z->zonemd_error, true);
		field_time(r, "zonemd-at", z->zonemd_failed_at);
	} else if (z->zonemd == ZONEMD_VERIFIED || z->zonemd == ZONEMD_UNSUPPORTED) {
		field(r, "zonemd", z->zonemd == ZONEMD_VERIFIED ? "verified" : "unverifiable",
		      false);
	}
}

static void zone_status(server_t *s, server_zone_t *z, ctl_reply_t *r, size_t n)
{
	const zone_t *cur = z->slot->zone;
	if (r->json) {
		ctl_printf(r, "%s{\"zone\": ", n ? ", " : "");
		ctl_json_str(r, z->conf->domain);
	} else {
		ctl_printf(r, "%s", z->conf->domain);
	}
	field(r, "role", z->conf->role == CONF_ROLE_PRIMARY ? "primary" : "secondary", false);
	if (cur) {
		field_num(r, "serial", cur->serial);
		field_num(r, "records", cur->nrecords);
		field_time(r, "loaded", z->loaded_at);
	} else {
		field(r, "serial", NULL, false);
		field(r, "state", z->expired ? "EXPIRED" : "not-serving", false);
	}
	if (z->conf->role == CONF_ROLE_SECONDARY) {
		field(r, "primary", z->primary[0] ? z->primary : NULL, false);
		field_time(r, "last-refresh", z->last_refresh);
		if (z->busy)
			field(r, "next-refresh", "running", false);
		else
			field_time(r, "next-refresh", z->next_refresh);
		field_time(r, "expires", z->expire_at);
	}
	store_journal_info_t ji;
	if (s->store && store_journal_info(s->store, z->conf->name, &ji) == 0) {
		field_num(r, "journal-changes", ji.entries);
		field_num(r, "journal-bytes", ji.bytes);
		field_num(r, "journal-from", ji.oldest);
	}
	if (z->error[0]) {
		field(r, "last-error", z->error, true);
		field_time(r, "error-at", z->error_at);
	}
	policy_status(z, r);
	ctl_printf(r, r->json ? "}" : "\n");
}

static void cmd_status(server_t *s, ctl_reply_t *r)
{
	uint64_t q = 0, refused = 0;
	size_t serving = 0;
	for (int i = 0; i < s->nstats; i++) {
		q += atomic_load(&s->stats[i].queries);
		refused += atomic_load(&s->stats[i].tcp_refused);
	}
	for (size_t i = 0; i < s->conf->nzones; i++)
		serving += s->zones[i].slot->zone != NULL;
	if (r->json) {
		r->structured = true;
		ctl_printf(r, "{\"version\": ");
		ctl_json_str(r, s->answer.version);
		ctl_printf(r,
		           ", \"uptime_seconds\": %ld, \"zones\": %zu, \"serving\": %zu, "
		           "\"udp_workers\": %d, \"tcp_workers\": %d, \"queries\": %llu, "
		           "\"tcp_refused\": %llu",
		           (long)(time(NULL) - s->started), s->conf->nzones, serving,
		           s->conf->udp_workers, s->conf->tcp_workers, (unsigned long long)q,
		           (unsigned long long)refused);
		shield_status(s, r);
		ctl_printf(r, "}\n");
		return;
	}
	ctl_printf(r,
	           "version=\"%s\" uptime=%lds zones=%zu serving=%zu udp-workers=%d "
	           "tcp-workers=%d queries=%llu tcp-refused=%llu",
	           s->answer.version ? s->answer.version : "", (long)(time(NULL) - s->started),
	           s->conf->nzones, serving, s->conf->udp_workers, s->conf->tcp_workers,
	           (unsigned long long)q, (unsigned long long)refused);
	shield_status(s, r);
	ctl_printf(r, "\n");
}

/*
 * Writes a secondary zone's current copy to its `file`, for operators and tools that read zone
 * files (as named and knotd keep their secondaries' files). The stored copy in LMDB stays the
 * one a restart serves. A primary's file is its source and is never written.
 */
static void sync_zone(server_zone_t *z, bool named, ctl_reply_t *r)
{
	const conf_zone_t *zc = z->conf;
	const zone_t *cur = z->slot->zone;
	char err[512];
	if (zc->role == CONF_ROLE_PRIMARY) {
		ctl_printf(r, "%s: primary, its zone file is the source\n", zc->domain);
	} else if (!zc->file) {
		(named ? ctl_fail : ctl_printf)(r, "%s: no file configured to write to\n",
		                                zc->domain);
	} else if (!cur) {
		(named ? ctl_fail : ctl_printf)(r, "%s: no copy to write yet\n", zc->domain);
	} else if (zonefile_write(cur, zc->file, err, sizeof(err)) != 0) {
		log_error("zone %s: sync: %s", zc->domain, err);
		ctl_fail(r, "%s: %s\n", zc->domain, err);
	} else {
		log_info("zone %s: serial %u written to %s", zc->domain, cur->serial, zc->file);
		ctl_printf(r, "%s: serial %u written to %s\n", zc->domain, cur->serial, zc->file);
	}
}

static void reload_zone(server_t *s, server_zone_t *z, ctl_reply_t *r)
{
	if (z->conf->role != CONF_ROLE_PRIMARY) {
		ctl_printf(r, "%s: secondary, nothing to reload\n", z->conf->domain);
		return;
	}
	if (server_zone_load(s, z))
		ctl_fail(r, "%s: reload failed: %s\n", z->conf->domain, z->error);
	else
		ctl_printf(r, "%s: serial %u\n", z->conf->domain, z->slot->zone->serial);
}

static void ctl_handle(void *ctx, int argc, char **argv, ctl_reply_t *r)
{
	server_t *s = ctx;
	const char *cmd = argv[0];
	server_zone_t *z = NULL;
	if (shield_ctl(s, argc, argv, r))
		return;
	if (argc > 2) {
		ctl_fail(r, "%s: too many arguments\n", cmd);
		return;
	}
	if (argc == 2 && !(z = find_zone(s, argv[1], r)))
		return;
	if (strcmp(cmd, "status") == 0) {
		cmd_status(s, r);
	} else if (strcmp(cmd, "zone-status") == 0) {
		if (r->json) {
			r->structured = true;
			ctl_printf(r, "{\"zones\": [");
		}
		for (size_t i = 0, n = 0; i < s->conf->nzones; i++)
			if (!z || z == &s->zones[i])
				zone_status(s, &s->zones[i], r, n++);
		if (r->json)
			ctl_printf(r, "]}\n");
	} else if (strcmp(cmd, "catalog") == 0) {
		catz_ctl(s, z, r);
	} else if (strcmp(cmd, "fleet") == 0) {
		fleetmon_report(s->fleet, z, r);
	} else if (strcmp(cmd, "reload") == 0) {
		log_info("control: reload %s", z ? z->conf->domain : "all zones");
		service_reloading();
		for (size_t i = 0; i < s->conf->nzones; i++)
			if (!z || z == &s->zones[i])
				reload_zone(s, &s->zones[i], r);
		service_ready(s);
	} else if (strcmp(cmd, "stop") == 0) {
		atomic_store(&s->stop, true);
		ctl_printf(r, "stopping\n");
	} else if (strcmp(cmd, "refresh") == 0 || strcmp(cmd, "retransfer") == 0) {
		bool force = cmd[2] == 't';
		size_t n = 0;
		for (size_t i = 0; i < s->conf->nzones; i++) {
			server_zone_t *x = &s->zones[i];
			if ((z && z != x) || x->conf->role != CONF_ROLE_SECONDARY)
				continue;
			log_info("control: %s %s", cmd, x->conf->domain);
			xfrin_start(s, x, force, -1);
			ctl_printf(r, "%s: %s started\n", x->conf->domain, cmd);
			n++;
		}
		if (!n)
			ctl_fail(r, "%s: no secondary zone to %s\n", z ? z->conf->domain : "*",
			         cmd);
	} else if (strcmp(cmd, "notify") == 0) {
		for (size_t i = 0; i < s->conf->nzones; i++) {
			server_zone_t *x = &s->zones[i];
			if ((z && z != x) || !x->slot->zone || !x->conf->nnotify)
				continue;
			notify_out(s, x->conf, x->slot->zone);
			ctl_printf(r, "%s: NOTIFY sent to %zu remotes\n", x->conf->domain,
			           x->conf->nnotify);
		}
		if (!r->len)
			ctl_fail(r, "notify: no zone with a copy and notify remotes\n");
	} else if (strcmp(cmd, "accept") == 0 || strcmp(cmd, "reject") == 0) {
		/* The change guard's held transfers (DESIGN.md): one zone at a time, by name. */
		char msg[256];
		if (!z) {
			ctl_fail(r, "%s: which zone? (understudy ctl %s ZONE)\n", cmd, cmd);
			return;
		}
		log_info("control: %s %s", cmd, z->conf->domain);
		int ret = cmd[0] == 'a' ? xfrin_accept(s, z, msg, sizeof(msg))
		                        : xfrin_reject(s, z, msg, sizeof(msg));
		(ret ? ctl_fail : ctl_printf)(r, "%s\n", msg);
	} else if (strcmp(cmd, "sync") == 0) {
		for (size_t i = 0; i < s->conf->nzones; i++)
			if (!z || z == &s->zones[i])
				sync_zone(&s->zones[i], z != NULL, r);
	} else {
		ctl_fail(r,
		         "unknown command: %s (try status, zone-status, fleet, reload, refresh, "
		         "retransfer, notify, accept, reject, sync, stop)\n",
		         cmd);
	}
}

static int setup(server_t *s, const char *conf_path)
{
	char err[8192];
	int ret = conf_load(conf_path, &s->conf, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s", err);
		return ret;
	}
	conf_t *c = s->conf;
	for (size_t i = 0; i < c->nzones; i++)
		if (c->zones[i].catalog_role == CONF_CATALOG_CONSUMER) {
			/* Read and checked already; its members need the run-time zone set. */
			fprintf(stderr,
			        "%s:%d: catalog-role: consumer is not supported by this build "
			        "yet\n",
			        c->path, c->zones[i].line);
			return US_EINVAL;
		}
	ret = log_open(c->log_target == CONF_LOG_STDERR   ? "stderr"
	               : c->log_target == CONF_LOG_SYSLOG ? "syslog"
	                                                  : c->log_file,
	               c->log_level);
	if (ret) {
		fprintf(stderr, "error: cannot open log %s: %s\n", c->log_file, strerror(-ret));
		return ret;
	}
	log_set_json(c->log_format == CONF_LOG_JSON);
	s->answer = (answer_conf_t){
	    .identity = c->identity,
	    .version = c->version,
	    .nsid = (const uint8_t *)c->nsid,
	    .nsid_len = c->nsid ? (uint16_t)strlen(c->nsid) : 0,
	    .max_udp = (uint16_t)c->udp_max_payload,
	};
	s->db = zonedb_new((uint32_t)c->nzones);
	s->zones = calloc(c->nzones ? c->nzones : 1, sizeof(server_zone_t));
	s->nstats = c->udp_workers * (int)c->nlisten + c->tcp_workers;
	s->stats = aligned_alloc(64, sizeof(server_stats_t) * (size_t)s->nstats);
	if (!s->db || !s->zones || !s->stats)
		return US_ENOMEM;
	memset(s->stats, 0, sizeof(server_stats_t) * (size_t)s->nstats);
	s->keys = calloc(c->nkeys ? c->nkeys : 1, sizeof(tsig_key_t));
	s->lenient_noted = calloc(c->nremotes ? c->nremotes : 1, sizeof(bool));
	if (!s->keys || !s->lenient_noted)
		return US_ENOMEM;
	for (size_t i = 0; i < c->nkeys; i++)
		if (tsig_key_init(&s->keys[i], c->keys[i].id, (tsig_alg_t)c->keys[i].algorithm,
		                  c->keys[i].secret, c->keys[i].secret_len))
			return US_EINVAL;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	for (size_t i = 0; i < c->nzones; i++) {
		server_zone_t *z = &s->zones[i];
		z->conf = &c->zones[i];
		ret = zonedb_add(s->db, z->conf->name, &z->slot);
		if (ret)
			return ret;
		z->slot->user = z;
	}
	return fleetmon_new(s, &s->fleet);
}

/*
 * Binds every listening socket the workers will use, while the daemon may still be root (port
 * 53). Each address is first checked to be free for UDP and TCP, since SO_REUSEPORT would
 * otherwise share it with whoever holds it. 0, or a negative errno (logged).
 */
static int bind_listeners(server_t *s)
{
	const conf_t *c = s->conf;
	size_t nudp = c->nlisten * (size_t)c->udp_workers,
	       ntcp = c->nlisten * (size_t)c->tcp_workers;
	s->udp_fds = malloc(sizeof(int) * (nudp ? nudp : 1));
	s->tcp_fds = malloc(sizeof(int) * (ntcp ? ntcp : 1));
	if (!s->udp_fds || !s->tcp_fds)
		return US_ENOMEM;
	for (size_t i = 0; i < nudp; i++)
		s->udp_fds[i] = -1;
	for (size_t i = 0; i < ntcp; i++)
		s->tcp_fds[i] = -1;
	for (size_t a = 0; a < c->nlisten; a++) {
		int ret;
		char text[80];
		conf_addr_str(&c->listen[a], text, sizeof(text));
		if ((ret = server_port_free(&c->listen[a], SOCK_DGRAM)) < 0 ||
		    (ret = server_port_free(&c->listen[a], SOCK_STREAM)) < 0) {
			log_error("cannot listen on %s: %s", text, strerror(-ret));
			return ret;
		}
		for (int i = 0; i < c->udp_workers; i++) {
			int fd = server_listen(&c->listen[a], SOCK_DGRAM);
			if (fd < 0) {
				log_error("cannot listen on %s: %s", text, strerror(-fd));
				return fd;
			}
			s->udp_fds[a * (size_t)c->udp_workers + (size_t)i] = fd;
		}
		for (int i = 0; i < c->tcp_workers; i++) {
			int fd = server_listen(&c->listen[a], SOCK_STREAM);
			if (fd < 0) {
				log_error("cannot listen on %s: %s", text, strerror(-fd));
				return fd;
			}
			s->tcp_fds[(size_t)i * c->nlisten + a] = fd;
		}
	}
	return 0;
}

/* Closes the listening sockets no worker took over. */
static void close_listeners(server_t *s)
{
	const conf_t *c = s->conf;
	if (!c)
		return;
	for (size_t i = 0; s->udp_fds && i < c->nlisten * (size_t)c->udp_workers; i++)
		if (s->udp_fds[i] >= 0)
			close(s->udp_fds[i]);
	for (size_t i = 0; s->tcp_fds && i < c->nlisten * (size_t)c->tcp_workers; i++)
		if (s->tcp_fds[i] >= 0)
			close(s->tcp_fds[i]);
	free(s->udp_fds);
	free(s->tcp_fds);
	s->udp_fds = s->tcp_fds = NULL;
}

/* The files store_open keeps in the storage directory, handed to server.user with it. */
static const char *const store_files[] = {"data.mdb", "lock.mdb", NULL};

/*
 * Everything that needs root, then the drop: the listening sockets and the control socket are
 * bound, the storage directory is made the user's, the service manager's socket is connected,
 * and only then does the daemon become server.user with no capability left. Nothing after
 * this runs as root: the storage is opened and the zone files are read as the user, the way
 * every later reload reads them. Runs before any thread starts. 0 or an error (logged).
 */
static int start_privileged(server_t *s, int *ctl_fd)
{
	conf_t *c = s->conf;
	priv_user_t user, *u = NULL;
	char err[4400];
	int ret;
	if (c->user) {
		if ((ret = priv_lookup(c->user, &user, err, sizeof(err))) != 0) {
			log_error("server.user: %s", err);
			return ret;
		}
		u = &user;
	}
	if ((ret = bind_listeners(s)) < 0)
		return ret;
	/* Certificates and keys may be root's alone, as the TLS port may need root. */
	if ((ret = tls_setup(s, &s->tls)) < 0)
		return ret;
	if (u && c->nzones &&
	    (ret = priv_own_dir(c->storage, 0750, store_files, u, err, sizeof(err))) < 0) {
		/* As in server_run: only secondaries cannot do without the storage. */
		bool need_store = false;
		for (size_t i = 0; i < c->nzones; i++)
			need_store |= c->zones[i].role == CONF_ROLE_SECONDARY;
		if (need_store) {
			log_error("storage: %s", err);
			return ret;
		}
		log_warning("storage: %s", err);
	}
	char *dir = strdup(c->control);
	if (!dir)
		return US_ENOMEM;
	ret = priv_mkdirs(dirname(dir), u, err, sizeof(err));
	free(dir);
	if (ret < 0) {
		log_error("cannot open the control socket %s: %s", c->control, err);
		return ret;
	}
	if ((*ctl_fd = ctl_listen(c->control)) < 0) {
		log_error("cannot open the control socket %s: %s", c->control, strerror(-*ctl_fd));
		return *ctl_fd;
	}
	/* Only root and the user may connect; the daemon checks who did, too (ctl_serve). */
	if (u && chown(c->control, u->uid, u->gid) < 0) {
		ret = -errno;
		log_error("cannot hand the control socket %s to user %s: %s", c->control, u->name,
		          strerror(-ret));
		return ret;
	}
	service_open();
	/* Root without server.user stays root, as asked; anyone else keeps no capability, such
	 * as the CAP_NET_BIND_SERVICE a unit grants for port 53, once the sockets are bound. */
	if (u || geteuid() != 0) {
		if ((ret = priv_drop(u, err, sizeof(err))) < 0) {
			log_error("%s; not going on with more privileges than configured", err);
			return ret;
		}
		if (u)
			log_info("running as user %s (uid %u, gid %u), without capabilities",
			         u->name, (unsigned)u->uid, (unsigned)u->gid);
	} else {
		log_notice("running as root: set server.user to give up root after binding");
	}
	return 0;
}

static void reload_files(server_t *s)
{
	service_reloading();
	for (size_t i = 0; i < s->conf->nzones; i++)
		if (s->zones[i].conf->role == CONF_ROLE_PRIMARY)
			server_zone_load(s, &s->zones[i]);
	service_ready(s);
}

int server_run(const char *conf_path)
{
	server_t s = {0};
	pthread_t *threads = NULL;
	int nthreads = 0, ctl_fd = -1, sig_fd = -1, code = 1;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	/* Threads inherit the mask, so only the signalfd below ever sees these. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	s.started = time(NULL);
	clock_init();
	rcu_register_thread();

	int ret = setup(&s, conf_path);
	if (ret)
		goto cleanup;
	if ((ret = start_privileged(&s, &ctl_fd)) != 0)
		goto cleanup;
	/* As the user we run as, so the cookie secret it keeps in the storage is its own. */
	if ((ret = shield_init(&s)) != 0) {
		if (ret == US_ENOMEM)
			log_error("out of memory at start");
		goto cleanup;
	}
	/* Secondaries cannot work without the storage; primaries only lose their journals
	 * (IXFR out, and knowing at start what changed while we were down). */
	bool need_store = false;
	for (size_t i = 0; i < s.conf->nzones; i++)
		need_store |= s.zones[i].conf->role == CONF_ROLE_SECONDARY;
	recover_catch_sigbus();
	if (s.conf->nzones && (ret = recover_store_open(s.conf->storage, &s.store)) < 0) {
		if (need_store) {
			log_error("cannot open the storage in %s: %s", s.conf->storage,
			          us_strerror(ret));
			goto cleanup;
		}
		log_warning("cannot open the storage in %s: %s; primary zones are served without "
		            "journals, and IXFR out sends whole zones",
		            s.conf->storage, us_strerror(ret));
	}
	for (size_t i = 0; i < s.conf->nzones; i++) {
		if (s.zones[i].conf->role == CONF_ROLE_PRIMARY)
			server_zone_load(&s, &s.zones[i]);
		else
			xfrin_restore(&s, &s.zones[i]);
	}
	/* The builders' scratch went back to the allocator, which keeps it in the heap below
	 * the zones: give it to the system, or it stays in the RSS (15 MB on the 1M-record
	 * zone) until some reload trims. */
	malloc_trim(0);
	threads = calloc((size_t)s.nstats, sizeof(pthread_t));
	if (!threads)
		goto cleanup;
	if ((ret = udp_start(&s, threads, &nthreads, 0)) < 0 ||
	    (ret = tcp_start(&s, threads, &nthreads, s.conf->udp_workers * (int)s.conf->nlisten)) <
	        0) {
		log_error("cannot listen: %s", strerror(-ret));
		goto cleanup;
	}
	if ((ret = tls_start(s.tls)) < 0) {
		log_error("cannot start the TLS workers: %s", strerror(-ret));
		goto cleanup;
	}
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	for (size_t i = 0; i < s.conf->nlisten; i++) {
		char a[80];
		conf_addr_str(&s.conf->listen[i], a, sizeof(a));
		log_info("listening on %s (UDP and TCP)", a);
	}
	log_info("understudy started: %zu zones, %d UDP workers per address, %d TCP workers",
	         s.conf->nzones, s.conf->udp_workers, s.conf->tcp_workers);
	/* Every zone that can be served is: the primaries from their files, the secondaries
	 * from their stored copies, on sockets the workers now read. */
	service_ready(&s);
	journal_start_all(&s);

	while (!atomic_load(&s.stop)) {
		struct pollfd p[3 + 64] = {{.fd = sig_fd, .events = POLLIN},
		                           {.fd = ctl_fd, .events = POLLIN},
		                           {.fd = s.wake_fd, .events = POLLIN}};
		/* Timers (EDNS EXPIRE against slot->expire_at) in the timers' time; cookies in
		 * the wall clock's, which the other servers of the fleet share. */
		__atomic_store_n(&s.answer.now, (uint32_t)clock_now(), __ATOMIC_RELAXED);
		__atomic_store_n(&s.answer.wall, (uint32_t)time(NULL), __ATOMIC_RELAXED);
		int wait = xfrin_tick(&s);
		int fwait = fleetmon_tick(s.fleet, net_now_ms());
		wait = fwait < wait ? fwait : wait;
		int nf = fleetmon_pollfds(s.fleet, p + 3, 64);
		service_update(&s);
		if (poll(p, (nfds_t)(3 + nf), wait < 1000 ? wait : 1000) <= 0)
			continue;
		fleetmon_input(s.fleet, p + 3, nf, net_now_ms());
		if (p[2].revents & POLLIN) {
			uint64_t n;
			ssize_t rd = read(s.wake_fd, &n, sizeof(n));
			(void)rd; /* the flags say what happened; xfrin_tick reads them */
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: reloading zone files");
					reload_files(&s);
				} else if (si.ssi_signo != SIGPIPE) {
					log_info("signal %u: stopping", si.ssi_signo);
					atomic_store(&s.stop, true);
				}
			}
		}
		if (p[1].revents & POLLIN)
			ctl_serve(ctl_fd, ctl_handle, &s);
	}
	code = 0;
cleanup:
	service_stopping();
	atomic_store(&s.stop, true);
	if (s.conf)
		xfrin_shutdown(&s);
	notify_shutdown(&s);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	tls_free(s.tls);
	fleetmon_free(s.fleet);
	free(threads);
	close_listeners(&s);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(s.conf->control);
	}
	if (sig_fd >= 0)
		close(sig_fd);
	if (code == 0)
		log_info("understudy stopped");
	shield_deinit(&s);
	service_close();
	zonedb_free(s.db);
	store_close(s.store);
	free(s.keys);
	free(s.lenient_noted);
	if (s.wake_fd > 0)
		close(s.wake_fd);
	free(s.zones);
	free(s.stats);
	conf_free(s.conf);
	rcu_unregister_thread();
	log_close();
	return code;
}
