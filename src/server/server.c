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
#include "connpool.h"
#include "ctl.h"
#include "dnssec.h"
#include "error.h"
#include "fleetmon.h"
#include "http.h"
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

_Thread_local server_stats_t *server_stats_self;

void server_count_tsig_failure(server_t *s)
{
	if (server_stats_self)
		stat_inc(&server_stats_self->tsig_failures);
	else
		atomic_fetch_add_explicit(&s->cold.tsig_failures, 1, memory_order_relaxed);
}

void server_count_xfr(server_zone_t *z, int direction, int kind, int result)
{
	atomic_fetch_add_explicit(&z->xfr[direction][kind][result], 1, memory_order_relaxed);
}

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

/* Zones per batch of stored versions, and records: a large zone is a batch of its own. */
#define BATCH_ZONES   1000
#define BATCH_RECORDS 100000

/* Ends a batch of journal_start calls: commits it, then sends the NOTIFYs it held back. */
static void journal_start_commit(server_t *s, size_t from, size_t to)
{
	int ret = s->store ? store_batch_commit(s->store) : 0;
	if (ret)
		log_error("cannot store the first versions of %zu zones loaded at start: %s (%s); "
		          "they are served without history",
		          to - from, us_strerror(ret), store_errmsg(s->store));
	for (size_t i = from; i < to; i++) {
		server_zone_t *z = s->zones[i];
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
		server_zone_t *z = s->zones[i];
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
		if (++zones >= BATCH_ZONES || records >= BATCH_RECORDS) {
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

/*
 * A reload's changed primary zones, stored in one batch (store_batch_begin) and served once it
 * is on disk: a reload that changes 10,000 zone files costs a few syncs, not 10,000 (it took
 * 17 s for 3,000 zones), and no version is served that a restart would lose.
 */
typedef struct reload_batch {
	struct {
		server_zone_t *z;
		zone_t *nz;
	} * v;
	size_t n, cap, records;
} reload_batch_t;

/* Serves a version just loaded from the file and stored. */
static void publish_loaded(server_t *s, server_zone_t *z, zone_t *nz)
{
	report_ctx_t r = {.z = z};
	z->error[0] = 0;
	/* Served all the same: a backup passes on what its primary signed. */
	dnssec_check_times(nz, (uint32_t)time(NULL), zone_report, &r);
	log_info("zone %s: loaded serial %u, %zu records", z->conf->domain, nz->serial,
	         nz->nrecords);
	server_publish(z, nz);
	notify_out(s, z->conf, z->slot->zone);
	if (s->store)
		server_compact(s, z);
}

/* Loads z's file; with b, a new version is stored in b's batch and served at its commit. */
static int zone_load(server_t *s, server_zone_t *z, reload_batch_t *b)
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
	if (b && s->store) {
		if (b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 64;
			void *v = realloc(b->v, cap * sizeof(*b->v));
			if (!v) {
				zone_unref(nz);
				return US_ENOMEM;
			}
			b->v = v;
			b->cap = cap;
		}
		b->v[b->n].z = z;
		b->v[b->n++].nz = nz;
		b->records += nz->nrecords;
		return 0;
	}
	publish_loaded(s, z, nz);
	return 0;
}

int server_zone_load(server_t *s, server_zone_t *z)
{
	return zone_load(s, z, NULL);
}

/* Commits b's batch and serves its versions, or none when the commit fails. */
static void reload_commit(server_t *s, reload_batch_t *b, ctl_reply_t *r)
{
	int ret = store_batch_commit(s->store);
	for (size_t i = 0; i < b->n; i++) {
		server_zone_t *z = b->v[i].z;
		zone_t *nz = b->v[i].nz;
		if (ret) {
			set_error(z, "cannot store serial %u: %s", nz->serial, us_strerror(ret));
			log_error("zone %s: %s (%s); serial %u keeps serving", z->conf->domain,
			          z->error, store_errmsg(s->store), z->slot->zone->serial);
			ctl_fail(r, "%s: reload failed: %s\n", z->conf->domain, z->error);
			zone_unref(nz);
			continue;
		}
		publish_loaded(s, z, nz);
		ctl_printf(r, "%s: serial %u\n", z->conf->domain, nz->serial);
	}
	b->n = b->records = 0;
}

/* ---- generations and live configuration (server_apply_conf) ---- */

server_gen_t *server_gen_ref(server_t *s)
{
	atomic_fetch_add(&s->gen->refs, 1);
	return s->gen;
}

void server_gen_unref(server_gen_t *g)
{
	if (g)
		atomic_fetch_sub(&g->refs, 1);
}

static void zone_free(server_zone_t *z)
{
	free(z);
}

/* Frees a generation and its conf; its zone table went at the swap. */
static void gen_free(server_gen_t *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->ndropped; i++)
		zone_free(g->dropped[i]);
	free(g->dropped);
	for (size_t i = 0; g->tls_clients && g->conf && i < g->conf->nremotes; i++)
		tls_client_unref(g->tls_clients[i]);
	free(g->tls_clients);
	conf_free(g->conf);
	free(g->keys);
	free(g->lenient_noted);
	free(g->xfrin_per_primary);
	free(g);
}

void server_reap(server_t *s)
{
	for (server_gen_t **p = &s->retired; *p;) {
		server_gen_t *g = *p;
		bool idle = true;
		for (size_t i = 0; i < g->ndropped; i++)
			idle &=
			    xfrin_idle(g->dropped[i]) && atomic_load(&g->dropped[i]->xfr_out) == 0;
		if (!idle || atomic_load(&g->refs) > 0) {
			p = &g->next;
			continue;
		}
		*p = g->next;
		gen_free(g);
	}
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool addrs_same(const conf_addr_t *a, size_t na, const conf_addr_t *b, size_t nb)
{
	return na == nb && (!na || memcmp(a, b, na * sizeof(*a)) == 0);
}

static bool prefixes_same(const conf_prefix_t *a, size_t na, const conf_prefix_t *b, size_t nb)
{
	return na == nb && (!na || memcmp(a, b, na * sizeof(*a)) == 0);
}

static bool tls_same(const conf_tls_t *a, const conf_tls_t *b)
{
	if (!a || !b)
		return a == b;
	return str_same(a->certificate, b->certificate) && str_same(a->key, b->key) &&
	       str_same(a->ca, b->ca) && addrs_same(a->listen, a->nlisten, b->listen, b->nlisten) &&
	       a->workers == b->workers && a->max_clients == b->max_clients &&
	       a->handshake_timeout == b->handshake_timeout && a->idle_timeout == b->idle_timeout;
}

static bool remote_tls_same(const conf_remote_tls_t *a, const conf_remote_tls_t *b)
{
	if (!a || !b)
		return a == b;
	return str_same(a->ca, b->ca) && str_same(a->hostname, b->hostname) &&
	       a->npins == b->npins && (!a->npins || !memcmp(a->pins, b->pins, 32 * a->npins)) &&
	       str_same(a->certificate, b->certificate) && str_same(a->key, b->key);
}

#define SWAP_FIELD(a, b, f)                                                                        \
	do {                                                                                       \
		__typeof__((a)->f) t_ = (a)->f;                                                    \
		(a)->f = (b)->f;                                                                   \
		(b)->f = t_;                                                                       \
	} while (0)

/*
 * The server settings the running daemon took at start (sockets bound, threads started,
 * privileges dropped, defences sized) keep their running values: next gets them from cur (and
 * cur, to be freed, next's). Each one that differs is named in r and logged, so that a change
 * is never silently ignored.
 */
static void keep_restart_settings(conf_t *cur, conf_t *next, ctl_reply_t *r)
{
	const char *changed[32];
	size_t n = 0;
#define CHANGED(cond, name)                                                                        \
	do {                                                                                       \
		if (cond)                                                                          \
			changed[n++] = name;                                                       \
	} while (0)
	CHANGED(!addrs_same(cur->listen, cur->nlisten, next->listen, next->nlisten),
	        "server.listen");
	CHANGED(!str_same(cur->storage, next->storage), "server.storage");
	CHANGED(!str_same(cur->control, next->control), "server.control");
	CHANGED(!str_same(cur->identity, next->identity), "server.identity");
	CHANGED(!str_same(cur->version, next->version), "server.version");
	CHANGED(!str_same(cur->nsid, next->nsid), "server.nsid");
	CHANGED(!str_same(cur->user, next->user), "server.user");
	CHANGED(cur->udp_workers != next->udp_workers, "server.udp-workers");
	CHANGED(cur->tcp_workers != next->tcp_workers, "server.tcp-workers");
	CHANGED(cur->tcp_max_clients != next->tcp_max_clients ||
	            cur->tcp_max_clients_per_address != next->tcp_max_clients_per_address ||
	            cur->tcp_idle_timeout != next->tcp_idle_timeout ||
	            cur->tcp_io_timeout != next->tcp_io_timeout || cur->tcp_nice != next->tcp_nice,
	        "server.tcp-*");
	CHANGED(cur->udp_max_payload != next->udp_max_payload, "server.udp-max-payload");
	CHANGED(cur->rrl.rate_limit != next->rrl.rate_limit || cur->rrl.slip != next->rrl.slip ||
	            cur->rrl.ipv4_prefix_length != next->rrl.ipv4_prefix_length ||
	            cur->rrl.ipv6_prefix_length != next->rrl.ipv6_prefix_length ||
	            cur->rrl.table_size != next->rrl.table_size ||
	            !prefixes_same(cur->rrl.whitelist, cur->rrl.nwhitelist, next->rrl.whitelist,
	                           next->rrl.nwhitelist),
	        "server.rrl");
	CHANGED(cur->cookies != next->cookies || cur->ncookie_secrets != next->ncookie_secrets ||
	            memcmp(cur->cookie_secret, next->cookie_secret, sizeof(cur->cookie_secret)),
	        "server.cookies");
	CHANGED(!prefixes_same(cur->block, cur->nblock, next->block, next->nblock), "server.block");
	CHANGED(cur->notify_rate_limit != next->notify_rate_limit ||
	            cur->transfer_rate_limit != next->transfer_rate_limit ||
	            cur->transfers_out != next->transfers_out ||
	            cur->transfers_out_per_address != next->transfers_out_per_address,
	        "server rate limits");
	CHANGED(!tls_same(cur->tls, next->tls), "server.tls");
	CHANGED(!addrs_same(cur->http, cur->nhttp, next->http, next->nhttp) ||
	            cur->http_max_clients != next->http_max_clients ||
	            cur->http_timeout != next->http_timeout,
	        "server.http");
	CHANGED(cur->log_target != next->log_target || !str_same(cur->log_file, next->log_file) ||
	            cur->log_level != next->log_level || cur->log_format != next->log_format,
	        "log");
#undef CHANGED
	for (size_t i = 0; i < n; i++) {
		log_warning("reload: %s changed: it needs a restart, the running value stays",
		            changed[i]);
		ctl_printf(r, "needs a restart: %s (the running value stays)\n", changed[i]);
	}
	SWAP_FIELD(cur, next, listen);
	SWAP_FIELD(cur, next, nlisten);
	SWAP_FIELD(cur, next, storage);
	SWAP_FIELD(cur, next, control);
	SWAP_FIELD(cur, next, identity);
	SWAP_FIELD(cur, next, version);
	SWAP_FIELD(cur, next, nsid);
	SWAP_FIELD(cur, next, user);
	SWAP_FIELD(cur, next, udp_workers);
	SWAP_FIELD(cur, next, tcp_workers);
	SWAP_FIELD(cur, next, tcp_max_clients);
	SWAP_FIELD(cur, next, tcp_max_clients_per_address);
	SWAP_FIELD(cur, next, tcp_idle_timeout);
	SWAP_FIELD(cur, next, tcp_io_timeout);
	SWAP_FIELD(cur, next, tcp_nice);
	SWAP_FIELD(cur, next, udp_max_payload);
	SWAP_FIELD(cur, next, rrl);
	SWAP_FIELD(cur, next, cookies);
	SWAP_FIELD(cur, next, ncookie_secrets);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < CONF_COOKIE_SECRET_LEN; j++)
			SWAP_FIELD(cur, next, cookie_secret[i][j]);
	SWAP_FIELD(cur, next, block);
	SWAP_FIELD(cur, next, nblock);
	SWAP_FIELD(cur, next, http);
	SWAP_FIELD(cur, next, nhttp);
	SWAP_FIELD(cur, next, http_max_clients);
	SWAP_FIELD(cur, next, http_timeout);
	SWAP_FIELD(cur, next, notify_rate_limit);
	SWAP_FIELD(cur, next, transfer_rate_limit);
	SWAP_FIELD(cur, next, transfers_out);
	SWAP_FIELD(cur, next, transfers_out_per_address);
	SWAP_FIELD(cur, next, tls);
	SWAP_FIELD(cur, next, log_target);
	SWAP_FIELD(cur, next, log_file);
	SWAP_FIELD(cur, next, log_level);
	SWAP_FIELD(cur, next, log_format);
}

/*
 * The TLS client contexts of next's remotes, in g: a remote with tls whose id and tls
 * settings are those of a running one shares its context (made at start, perhaps from files
 * only root can read); a new or changed one gets a context made now, as the user we run as.
 * False (the reason in r and the log) when one cannot be made.
 */
static bool tls_clients_for(server_t *s, const conf_t *next, server_gen_t *g, ctl_reply_t *r)
{
	const conf_t *cur = s->conf;
	if (!(g->tls_clients = calloc(next->nremotes ? next->nremotes : 1, sizeof(void *))))
		return false;
	for (size_t i = 0; i < next->nremotes; i++) {
		const conf_remote_t *b = &next->remotes[i];
		if (!b->tls)
			continue;
		for (size_t j = 0; j < cur->nremotes && !g->tls_clients[i]; j++)
			if (str_same(cur->remotes[j].id, b->id) &&
			    remote_tls_same(cur->remotes[j].tls, b->tls))
				g->tls_clients[i] = tls_client_ref(s->gen->tls_clients[j]);
		if (!g->tls_clients[i] && !(g->tls_clients[i] = tls_client_new(b))) {
			ctl_fail(r,
			         "reload refused: remote %s: its tls settings cannot be used (the "
			         "log says which file and why); nothing changed\n",
			         b->id);
			return false;
		}
	}
	return true;
}

/* Whether a zone's primaries are the same remotes, reached the same way with the same key. */
static bool primaries_same(const conf_t *ca, const conf_zone_t *a, const conf_t *cb,
                           const conf_zone_t *b)
{
	if (a->nprimaries != b->nprimaries)
		return false;
	for (size_t i = 0; i < a->nprimaries; i++) {
		const conf_remote_t *ra = &ca->remotes[a->primaries[i]],
		                    *rb = &cb->remotes[b->primaries[i]];
		if (!str_same(ra->id, rb->id) ||
		    !addrs_same(ra->addr, ra->naddr, rb->addr, rb->naddr) ||
		    ra->has_via != rb->has_via ||
		    (ra->has_via && memcmp(&ra->via, &rb->via, sizeof(ra->via))) ||
		    (ra->key < 0) != (rb->key < 0) || !remote_tls_same(ra->tls, rb->tls))
			return false;
		if (ra->key >= 0) {
			const conf_key_t *ka = &ca->keys[ra->key], *kb = &cb->keys[rb->key];
			if (strcasecmp(ka->id, kb->id) || ka->algorithm != kb->algorithm ||
			    ka->secret_len != kb->secret_len ||
			    memcmp(ka->secret, kb->secret, ka->secret_len))
				return false;
		}
	}
	return true;
}

/* The zone of db named as zc is, or NULL: a hash lookup, for tables of any size. */
static server_zone_t *db_zone(const zonedb_t *db, const conf_zone_t *zc)
{
	uint8_t offs[DNAME_MAXLABELS];
	int nl = dname_label_offsets(zc->name, offs);
	zonedb_slot_t *slot = zonedb_find(db, zc->name, zc->name_len, offs, nl, 0);
	return slot && slot->apex_len == zc->name_len ? slot->user : NULL;
}

int server_apply_conf(server_t *s, conf_t *next, ctl_reply_t *r)
{
	conf_t *cur = s->conf;
	size_t n = next->nzones;
	server_gen_t *g = calloc(1, sizeof(*g));
	server_zone_t **zones = calloc(n ? n : 1, sizeof(*zones));
	bool *carried = calloc(cur->nzones ? cur->nzones : 1, sizeof(bool));
	server_zone_t **dropped = calloc(cur->nzones ? cur->nzones : 1, sizeof(*dropped));
	zonedb_slot_t **slots = calloc(n ? n : 1, sizeof(*slots));
	size_t ndropped = 0, added = 0, kept = 0, reprimaried = 0;
	int ret = US_ENOMEM;
	if (!g || !zones || !carried || !dropped || !slots)
		goto fail;
	g->conf = next;
	g->db = zonedb_new((uint32_t)n);
	g->keys = calloc(next->nkeys ? next->nkeys : 1, sizeof(tsig_key_t));
	g->lenient_noted = calloc(next->nremotes ? next->nremotes : 1, sizeof(bool));
	g->xfrin_per_primary = calloc(next->nremotes ? next->nremotes : 1, sizeof(unsigned));
	if (!g->db || !g->keys || !g->lenient_noted || !g->xfrin_per_primary)
		goto fail;
	ret = US_EINVAL;
	for (size_t i = 0; i < next->nkeys; i++)
		if (tsig_key_init(&g->keys[i], next->keys[i].id,
		                  (tsig_alg_t)next->keys[i].algorithm, next->keys[i].secret,
		                  next->keys[i].secret_len)) {
			ctl_fail(r, "reload refused: key %s cannot be used; nothing changed\n",
			         next->keys[i].id);
			goto fail;
		}
	if (!tls_clients_for(s, next, g, r))
		goto fail;
	bool need_store = false;
	for (size_t i = 0; i < n; i++)
		need_store |= next->zones[i].role == CONF_ROLE_SECONDARY;
	if (!s->store && n && (ret = recover_store_open(cur->storage, &s->store)) < 0 &&
	    need_store) {
		ctl_fail(r, "reload refused: cannot open the storage in %s: %s; nothing changed\n",
		         cur->storage, us_strerror(ret));
		goto fail;
	}

	/* The new zone table, beside the one the workers read: zones that stay are carried over
	 * with their state and served version; new ones get a fresh state. */
	ret = US_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const conf_zone_t *zc = &next->zones[i];
		server_zone_t *z = db_zone(s->db, zc);
		if (z && z->conf->role != zc->role)
			z = NULL; /* a new role is a new zone; the stored copy stays, to start from
			           */
		if (z) {
			carried[z->index] = true;
			kept++;
		} else if (!(z = calloc(1, sizeof(*z)))) {
			goto undo;
		} else {
			z->conf = zc;
			added++;
		}
		zones[i] = z;
	}
	for (size_t i = 0; i < n; i++) {
		server_zone_t *z = zones[i];
		zonedb_slot_t *slot;
		if (zonedb_add(g->db, next->zones[i].name, &slot) != 0)
			goto undo;
		slots[i] = slot;
		slot->user = z;
		if (z->slot) {
			/* The same version: the table changes, not what it serves. */
			slot->zone = z->slot->zone;
			slot->expire_at = z->slot->expire_at;
			slot->stale = z->slot->stale;
		}
	}
	/* Committed: nothing below fails. The settings only a restart changes go over to next
	 * first, so that what the daemon runs with stays what its conf says. */
	keep_restart_settings(cur, next, r);
	for (size_t i = 0; i < cur->nzones; i++) {
		if (carried[i])
			continue;
		server_zone_t *z = s->zones[i];
		bool stays = db_zone(g->db, z->conf) != NULL;
		log_info("zone %s: %s by the configuration", z->conf->domain,
		         stays ? "changes role" : "removed");
		if (!stays)
			ctl_printf(r, "%s: removed\n", z->conf->domain);
		dropped[ndropped++] = z;
	}
	for (size_t i = 0; i < ndropped; i++)
		fleetmon_forget(dropped[i]);
	for (size_t i = 0; i < n; i++) {
		server_zone_t *z = zones[i];
		const conf_zone_t *zc = &next->zones[i];
		z->index = i;
		if (!z->slot)
			continue;
		if (zc->role == CONF_ROLE_SECONDARY && !primaries_same(cur, z->conf, next, zc)) {
			/* New primaries, or a new way to them: asked now, not at the next refresh.
			 */
			log_info("zone %s: new primaries, checking them now", zc->domain);
			reprimaried++;
			if (z->busy) {
				z->again = true;
				z->again_first = -1;
			} else {
				z->next_refresh = 0;
			}
		}
	}
	/* The added zones, loaded into the new table before anyone can see it: they answer
	 * from the moment they are visible. */
	server_gen_t *old = s->gen;
	free(s->zones); /* the manager's alone: the workers reach zones through the table */
	s->conf = next;
	s->zones = zones;
	zonedb_t *old_db = s->db;
	s->db = g->db;
	s->keys = g->keys;
	for (size_t i = 0; i < n; i++) {
		server_zone_t *z = zones[i];
		z->conf = &next->zones[i];
		bool fresh = z->slot == NULL;
		z->slot = slots[i];
		if (!fresh)
			continue;
		log_info("zone %s: added by the configuration", z->conf->domain);
		z->added = true;
		ctl_printf(r, "%s: added\n", z->conf->domain);
		if (z->conf->role == CONF_ROLE_PRIMARY)
			server_zone_load(s, z);
		else if (s->store)
			xfrin_restore(s, z);
	}
	rcu_assign_pointer(s->gen, g);
	/* Connections kept to remotes that went are closed; those of jobs that started under
	 * the old configuration are not kept when they end. */
	connpool_retain(s->pool, g, next);
	/* After this no reader holds the old table: the versions it shares with the new one
	 * are the new one's, those of removed zones go with it. */
	synchronize_rcu();
	for (uint32_t i = 0; i < old_db->nslots; i++) {
		server_zone_t *z = old_db->slots[i].user;
		if (z && z->index < n && zones[z->index] == z)
			old_db->slots[i].zone = NULL;
	}
	zonedb_free(old_db);
	/* One commit (one sync) per thousand zones purged, not one each: removing 10,000 zones
	 * took 25 s one by one. */
	bool batch = s->store && ndropped && store_batch_begin(s->store) == 0;
	for (size_t i = 0, k = 0; i < ndropped; i++) {
		server_zone_t *z = dropped[i];
		z->slot = NULL;
		/* Removed, not just changed in role: its stored copy and journal go
		 * (docs/design-notes.md says why, and what the others do). */
		if (!s->store || db_zone(s->db, z->conf)) /* s->db: the new table by now */
			continue;
		if (store_drop_zone(s->store, z->conf->name) != 0)
			log_warning("zone %s: cannot purge its stored copy: %s", z->conf->domain,
			            store_errmsg(s->store));
		if (batch && ++k % 1000 == 0) {
			if (store_batch_commit(s->store) != 0)
				log_warning(
				    "reload: cannot purge the stored copies of removed zones: "
				    "%s",
				    store_errmsg(s->store));
			batch = store_batch_begin(s->store) == 0;
		}
	}
	if (batch && store_batch_commit(s->store) != 0)
		log_warning("reload: cannot purge the stored copies of removed zones: %s",
		            store_errmsg(s->store));
	free(slots);
	old->dropped = dropped;
	old->ndropped = ndropped;
	old->next = s->retired;
	s->retired = old;
	free(carried);
	if (s->fleet ? fleetmon_reload(s->fleet) : fleetmon_new(s, &s->fleet)) {
		log_error("reload: out of memory for the fleet monitor; ctl fleet is off");
		fleetmon_free(s->fleet);
		s->fleet = NULL;
	}
	journal_start_all(s);
	server_reap(s);
	malloc_trim(0);
	log_info("reload: %zu zones: %zu added, %zu removed, %zu kept (%zu with new primaries)", n,
	         added, ndropped, kept, reprimaried);
	ctl_printf(r, "configuration applied: %zu zones, %zu added, %zu removed, %zu kept\n", n,
	           added, ndropped, kept);
	return 0;
undo:
	for (size_t i = 0; i < n; i++)
		if (zones[i] && !zones[i]->slot)
			free(zones[i]);
fail:
	if (ret == US_ENOMEM && !r->error)
		ctl_fail(r, "reload refused: out of memory; nothing changed\n");
	if (g && g->db) {
		/* Its versions are borrowed from the running table: not its to drop. */
		for (uint32_t i = 0; i < g->db->nslots; i++)
			g->db->slots[i].zone = NULL;
		zonedb_free(g->db);
		g->db = NULL;
	}
	gen_free(g);
	if (!g)
		conf_free(next);
	free(zones);
	free(carried);
	free(dropped);
	free(slots);
	return ret;
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
		if (s->zones[i]->slot->apex_len == len &&
		    memcmp(s->zones[i]->slot->apex, wire, (size_t)len) == 0)
			return s->zones[i];
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
		if (z->busy || z->queued)
			field(r, "next-refresh", z->busy ? "running" : "waiting for transfers-in",
			      false);
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
		serving += s->zones[i]->slot->zone != NULL;
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

static void reload_zone(server_t *s, server_zone_t *z, ctl_reply_t *r, reload_batch_t *b)
{
	if (z->conf->role != CONF_ROLE_PRIMARY) {
		ctl_printf(r, "%s: secondary, nothing to reload\n", z->conf->domain);
		return;
	}
	size_t queued = b ? b->n : 0;
	if (zone_load(s, z, b))
		ctl_fail(r, "%s: reload failed: %s\n", z->conf->domain, z->error);
	else if (!b || b->n == queued) /* else said at the commit */
		ctl_printf(r, "%s: serial %u\n", z->conf->domain, z->slot->zone->serial);
}

/*
 * ctl reload and SIGHUP: the configuration file is read again and applied (server_apply_conf),
 * then every primary zone that was there before re-reads its file; the added ones were just
 * loaded. A file with errors changes nothing, and r says why.
 */
static void server_reload(server_t *s, ctl_reply_t *r)
{
	char err[8192];
	conf_t *next = NULL;
	int ret = conf_load(s->conf->path, &next, err, sizeof(err));
	if (ret) {
		log_error("reload refused, nothing changed: %s", err);
		ctl_fail(r, "reload refused: the configuration has errors; nothing changed\n%s",
		         err);
		return;
	}
	if (s->extend_conf && (ret = s->extend_conf(s, next, r)) != 0) {
		log_error("reload refused, nothing changed: %s", us_strerror(ret));
		conf_free(next);
		return;
	}
	service_reloading();
	if (server_apply_conf(s, next, r) == 0) {
		reload_batch_t b = {0};
		bool batch = s->store && store_batch_begin(s->store) == 0;
		for (size_t i = 0; i < s->conf->nzones; i++) {
			server_zone_t *z = s->zones[i];
			if (z->conf->role == CONF_ROLE_PRIMARY && !z->added)
				reload_zone(s, z, r, batch ? &b : NULL);
			z->added = false;
			if (batch && (b.n >= BATCH_ZONES || b.records >= BATCH_RECORDS)) {
				reload_commit(s, &b, r);
				batch = store_batch_begin(s->store) == 0;
			}
		}
		if (batch)
			reload_commit(s, &b, r);
		free(b.v);
	} else {
		log_error("reload refused, nothing changed: %s", r->text ? r->text : "");
	}
	service_ready(s);
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
			if (!z || z == s->zones[i])
				zone_status(s, s->zones[i], r, n++);
		if (r->json)
			ctl_printf(r, "]}\n");
	} else if (strcmp(cmd, "catalog") == 0) {
		catz_ctl(s, z, r);
	} else if (strcmp(cmd, "fleet") == 0) {
		if (s->fleet)
			fleetmon_report(s->fleet, z, r);
		else
			ctl_fail(r,
			         "fleet: the fleet monitor is off (out of memory at a reload)\n");
	} else if (strcmp(cmd, "reload") == 0 && z) {
		/* One zone: its file only, the configuration stays. */
		log_info("control: reload %s", z->conf->domain);
		service_reloading();
		reload_zone(s, z, r, NULL);
		service_ready(s);
	} else if (strcmp(cmd, "reload") == 0) {
		log_info("control: reload: the configuration and every zone file");
		server_reload(s, r);
	} else if (strcmp(cmd, "stop") == 0) {
		atomic_store(&s->stop, true);
		ctl_printf(r, "stopping\n");
	} else if (strcmp(cmd, "refresh") == 0 || strcmp(cmd, "retransfer") == 0) {
		bool force = cmd[2] == 't';
		size_t n = 0;
		for (size_t i = 0; i < s->conf->nzones; i++) {
			server_zone_t *x = s->zones[i];
			if ((z && z != x) || x->conf->role != CONF_ROLE_SECONDARY)
				continue;
			log_info("control: %s %s", cmd, x->conf->domain);
			xfrin_start(s, x, force, -1);
			ctl_printf(r, "%s: %s %s\n", x->conf->domain, cmd,
			           x->queued ? "queued (transfers-in is full)" : "started");
			n++;
		}
		if (!n)
			ctl_fail(r, "%s: no secondary zone to %s\n", z ? z->conf->domain : "*",
			         cmd);
	} else if (strcmp(cmd, "notify") == 0) {
		for (size_t i = 0; i < s->conf->nzones; i++) {
			server_zone_t *x = s->zones[i];
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
			if (!z || z == s->zones[i])
				sync_zone(s->zones[i], z != NULL, r);
	} else {
		ctl_fail(r,
		         "unknown command: %s (try status, zone-status, fleet, catalog, reload, "
		         "refresh, "
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
	s->extend_conf = catz_extend;
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
	s->zones = calloc(c->nzones ? c->nzones : 1, sizeof(*s->zones));
	s->gen = calloc(1, sizeof(*s->gen));
	s->nstats = c->udp_workers * (int)c->nlisten + c->tcp_workers;
	s->stats = aligned_alloc(64, sizeof(server_stats_t) * (size_t)s->nstats);
	if (!s->db || !s->zones || !s->stats || !s->gen)
		return US_ENOMEM;
	s->gen->conf = c;
	s->gen->db = s->db;
	s->pool = connpool_new();
	if (!s->pool)
		return US_ENOMEM;
	connpool_retain(s->pool, s->gen, c);
	memset(s->stats, 0, sizeof(server_stats_t) * (size_t)s->nstats);
	s->keys = s->gen->keys = calloc(c->nkeys ? c->nkeys : 1, sizeof(tsig_key_t));
	s->gen->lenient_noted = calloc(c->nremotes ? c->nremotes : 1, sizeof(bool));
	s->gen->xfrin_per_primary = calloc(c->nremotes ? c->nremotes : 1, sizeof(unsigned));
	if (!s->keys || !s->gen->lenient_noted || !s->gen->xfrin_per_primary)
		return US_ENOMEM;
	for (size_t i = 0; i < c->nkeys; i++)
		if (tsig_key_init(&s->keys[i], c->keys[i].id, (tsig_alg_t)c->keys[i].algorithm,
		                  c->keys[i].secret, c->keys[i].secret_len))
			return US_EINVAL;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	for (size_t i = 0; i < c->nzones; i++) {
		server_zone_t *z = s->zones[i] = calloc(1, sizeof(server_zone_t));
		if (!z)
			return US_ENOMEM;
		z->index = i;
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
	if ((ret = http_bind(s, &s->http)) < 0)
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
	/* The first generation shares the contexts tls_setup made as root. */
	s.gen->tls_clients = calloc(s.conf->nremotes ? s.conf->nremotes : 1, sizeof(void *));
	if (!s.gen->tls_clients) {
		ret = US_ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < s.conf->nremotes; i++)
		s.gen->tls_clients[i] =
		    tls_client_ref((struct tls_client *)tls_client(s.tls, (int)i));
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
		need_store |= s.zones[i]->conf->role == CONF_ROLE_SECONDARY;
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
		if (s.zones[i]->conf->role == CONF_ROLE_PRIMARY)
			server_zone_load(&s, s.zones[i]);
		else
			xfrin_restore(&s, s.zones[i]);
	}
	/* The consumer catalogs' members, from the lists kept and the catalogs just restored,
	 * before the workers answer: a restart must not show them REFUSED for a moment. */
	catz_check(&s);
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
	if ((ret = http_start(s.http)) < 0)
		goto cleanup;
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

	/*
	 * The zones' walks (refresh timers, finished jobs, NOTIFYs, catalogs) run when something
	 * may have changed them (the wake eventfd, ctl, a signal, a new configuration) or when
	 * their own next deadline comes, at least once a second: not at every wake of this loop,
	 * which the fleet monitor's checks and the HTTP listener make hundreds of times a second.
	 * With 10,000 zones a walk per wake was a tenth of a core spent idle.
	 */
	bool kick = true;
	int64_t due = 0;
	while (!atomic_load(&s.stop)) {
		struct pollfd p[3 + 64 + HTTP_MAX_LISTEN] = {{.fd = sig_fd, .events = POLLIN},
		                                             {.fd = ctl_fd, .events = POLLIN},
		                                             {.fd = s.wake_fd, .events = POLLIN}};
		/* Timers (EDNS EXPIRE against slot->expire_at) in the timers' time; cookies in
		 * the wall clock's, which the other servers of the fleet share. */
		__atomic_store_n(&s.answer.now, (uint32_t)clock_now(), __ATOMIC_RELAXED);
		__atomic_store_n(&s.answer.wall, (uint32_t)time(NULL), __ATOMIC_RELAXED);
		int64_t now_ms = net_now_ms();
		if (kick || now_ms >= due) {
			kick = false;
			int zwait = xfrin_tick(&s);
			/* After the transfers taken in: a consumer catalog's new version applies
			 * now, and the members it added are asked for at once rather than after the
			 * poll. */
			if (catz_check(&s))
				kick = true;
			due = now_ms + (kick ? 0 : zwait < 1000 ? zwait : 1000);
		}
		int wait = due > now_ms ? (int)(due - now_ms) : 0;
		int fwait = s.fleet ? fleetmon_tick(s.fleet, now_ms) : 1000;
		wait = fwait < wait ? fwait : wait;
		int nf = s.fleet ? fleetmon_pollfds(s.fleet, p + 3, 64) : 0;
		if (s.retired)
			server_reap(&s);
		int nh = http_pollfds(s.http, p + 3 + nf, HTTP_MAX_LISTEN);
		wait = http_wait_ms(s.http, wait < 1000 ? wait : 1000);
		service_update(&s);
		int ready = poll(p, (nfds_t)(3 + nf + nh), wait);
		/* Every round: MHD also times out idle connections, with nothing to read. */
		http_run(s.http);
		if (ready <= 0)
			continue;
		if (s.fleet)
			fleetmon_input(s.fleet, p + 3, nf, net_now_ms());
		if (p[2].revents & POLLIN) {
			uint64_t n;
			ssize_t rd = read(s.wake_fd, &n, sizeof(n));
			(void)rd; /* the flags say what happened; xfrin_tick reads them */
			kick = true;
		}
		if (p[0].revents & POLLIN) {
			kick = true;
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					/* As ctl reload, as knotd does on SIGHUP. */
					log_info(
					    "SIGHUP: reloading the configuration and zone files");
					ctl_reply_t hr = {0};
					server_reload(&s, &hr);
					free(hr.text);
				} else if (si.ssi_signo != SIGPIPE) {
					log_info("signal %u: stopping", si.ssi_signo);
					atomic_store(&s.stop, true);
				}
			}
		}
		if (p[1].revents & POLLIN) {
			ctl_serve(ctl_fd, ctl_handle, &s);
			kick = true;
		}
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
	/* After the jobs: none gives one back any more. */
	connpool_free(s.pool);
	s.pool = NULL;
	tls_free(s.tls);
	http_free(s.http);
	catz_free(&s);
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
	server_reap(&s);
	for (server_gen_t *g = s.retired, *nx; g; g = nx) {
		/* Every thread is gone: what is left is unreachable. */
		nx = g->next;
		g->refs = 0;
		for (size_t i = 0; i < g->ndropped; i++)
			while (!xfrin_idle(g->dropped[i]))
				usleep(10000); /* net_cancel is set: the job ends soon */
		gen_free(g);
	}
	if (s.gen) {
		for (size_t i = 0; s.gen->tls_clients && i < s.conf->nremotes; i++)
			tls_client_unref(s.gen->tls_clients[i]);
		free(s.gen->tls_clients);
		free(s.gen->keys);
		free(s.gen->lenient_noted);
		free(s.gen->xfrin_per_primary);
		free(s.gen);
	}
	for (size_t i = 0; s.zones && s.conf && i < s.conf->nzones; i++)
		free(s.zones[i]);
	if (s.wake_fd > 0)
		close(s.wake_fd);
	free(s.zones);
	free(s.stats);
	conf_free(s.conf);
	rcu_unregister_thread();
	log_close();
	return code;
}
