/* SPDX-License-Identifier: MIT */
/* xfrin: the backup role: SOA checks, transfers in, timers, expiry, for secondary zones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>
#include <urcu.h>

#include "error.h"
#include "clock.h"
#include "fleetmon.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "serial.h"
#include "store.h"
#include "tsig.h"
#include "wire.h"
#include "xfr.h"
#include "xfrin.h"
#include "zonediff.h"

enum { JOB_FAILED, JOB_UPTODATE, JOB_NEW };

struct xfrin_job {
	server_t *s;
	server_zone_t *z;
	zone_t *current; /* served when the job began, pinned by a reference */
	bool force_axfr;
	int first; /* the position in the zone's primaries to try first, or -1 */
	pthread_t thread;
	/* What came of it. */
	int outcome;
	zone_t *zone;     /* JOB_NEW */
	const char *kind; /* "AXFR" or "IXFR" */
	uint32_t serial;  /* the primary's ... */
	bool has_serial;  /* ... when it told us one */
	bool has_expire;  /* the primary answered EDNS EXPIRE (RFC 7314) */
	uint32_t expire;
	int64_t ms;
	size_t changed;   /* IXFR: records removed and added */
	int remote;       /* the remote (index in conf->remotes) the outcome came from */
	size_t redundant; /* IXFR: additions of records we held already, left out */
	/* JOB_NEW: the change from current to zone, for the journal; NULL when unknown. It
	 * lives in xin (an IXFR as received) or in arena (computed after an AXFR). */
	const zone_changeset_t *cs;
	xfr_in_t *xin;
	arena_t arena;
	zone_changeset_t diff;
	char peer[80];
	char error[256];
};

static uint64_t now_epoch(void)
{
	return (uint64_t)time(NULL);
}

static void job_fail(xfrin_job_t *j, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void job_fail(xfrin_job_t *j, const char *peer, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(j->error, sizeof(j->error), "%s: %s", peer, msg);
	log_warning("zone %s: %s", j->z->conf->domain, j->error);
}

/*
 * Checks a signed reply and strips its TSIG so the decoders see the message as unsigned.
 * Returns 0 (or TSIG_UNSIGNED for an allowed unsigned message inside a transfer) with *len
 * updated, or a negative error after logging why: our check, or the primary's refusal of our
 * key (an error reply carries its reason in its own TSIG, RFC 8945 5.3.2).
 */
static int verify_reply(xfrin_job_t *j, const char *peer, const char *what, tsig_verify_t *v,
                        uint8_t *msg, size_t *len)
{
	uint16_t terr = 0;
	size_t stripped = *len;
	int ret = tsig_verify_msg(v, msg, *len, now_epoch(), &terr, &stripped);
	if (ret == 0 && tsig_strip(msg, *len, &stripped) < 0)
		ret = US_EMALF;
	if (ret < 0 && v->peer_error) {
		job_fail(j, peer, "%s: the primary rejected our TSIG key: rcode %u, TSIG error %s",
		         what, *len > 3 ? msg[3] & 0xF : 0, tsig_error_name(v->peer_error));
		return ret;
	}
	if (ret < 0) {
		job_fail(j, peer, "%s: the answer fails our TSIG check (%s%s%s)", what,
		         us_strerror(ret), terr ? ", " : "", terr ? tsig_error_name(terr) : "");
		return ret;
	}
	*len = stripped;
	return ret;
}

/* Signs msg in place when there is a key; returns the new length or a negative error. */
static int sign(const tsig_key_t *key, uint8_t *msg, size_t len, size_t cap, uint8_t *mac,
                size_t *mac_len)
{
	if (!key)
		return (int)len;
	size_t out;
	int ret =
	    tsig_sign(key, msg, len, cap, NULL, 0, false, now_epoch(), 300, &out, mac, mac_len);
	return ret ? ret : (int)out;
}

/* Asks one address for the zone's SOA serial. 0, or a negative error (logged in the job). */
static int check_soa(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                     const tsig_key_t *key, const char *peer)
{
	const conf_zone_t *zc = j->z->conf;
	uint8_t q[512], a[WIRE_MAX_MSG], mac[64];
	size_t mac_len = 0;
	uint16_t id = (uint16_t)arc4random();
	int len = xfr_build_soa_query(q, sizeof(q), id, zc->name);
	if (len > 0)
		len = sign(key, q, (size_t)len, sizeof(q), mac, &mac_len);
	if (len < 0) {
		job_fail(j, peer, "cannot build the SOA query: %s", us_strerror(len));
		return len;
	}
	int n = net_udp_exchange(to, r->has_via ? &r->via : NULL, q, (size_t)len, a, sizeof(a),
	                         net_now_ms() + zc->primary_timeout * 1000);
	if (n < 0) {
		job_fail(j, peer, "SOA query: %s", strerror(-n));
		return n;
	}
	if (key) {
		tsig_verify_t v;
		size_t alen = (size_t)n;
		tsig_verify_init(&v, key, mac, mac_len);
		int ret = verify_reply(j, peer, "SOA query", &v, a, &alen);
		tsig_verify_deinit(&v);
		if (ret != 0)
			return ret < 0 ? ret : US_ETSIG;
		n = (int)alen;
	}
	char err[XFR_ERRLEN];
	xfr_soa_answer_t ans;
	int ret = xfr_parse_soa_response(a, (size_t)n, id, zc->name, &ans, err, sizeof(err));
	if (ret) {
		job_fail(j, peer, "bad SOA answer: %s", err);
		return ret;
	}
	j->serial = ans.serial;
	j->has_serial = true;
	j->has_expire = ans.expire_present;
	j->expire = ans.expire;
	return 0;
}

/*
 * Judges a new version whole: max-zone-records bounds the zone, not only one transfer (small
 * IXFRs must not grow it past it; max-zone-size counts transfer bytes, which the decoder
 * bounds), and it must be newer than ours unless a full transfer was asked
 * for (a stale primary behind a fresh SOA answer must not take the zone back in time).
 */
static bool acceptable(xfrin_job_t *j, const char *peer)
{
	const conf_zone_t *zc = j->z->conf;
	if (j->zone->nrecords > (size_t)zc->max_zone_records) {
		job_fail(j, peer, "%s: serial %u has %zu records, more than max-zone-records %d",
		         j->kind, j->zone->serial, j->zone->nrecords, zc->max_zone_records);
		return false;
	}

	if (j->current && !j->force_axfr && serial_cmp(j->zone->serial, j->current->serial) <= 0) {
		job_fail(j, peer, "%s carries serial %u, not newer than ours %u; not taken",
		         j->kind, j->zone->serial, j->current->serial);
		return false;
	}
	return true;
}

/*
 * Transfers the zone from one address. Returns 0 with the outcome in the job, US_EAGAIN when
 * an IXFR could not be used and AXFR should follow at once, or another negative error.
 */
static int transfer(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                    const tsig_key_t *key, const char *peer, bool ixfr)
{
	const conf_zone_t *zc = j->z->conf;
	uint16_t qtype = ixfr ? WIRE_T_IXFR : WIRE_T_AXFR;
	j->kind = ixfr ? "IXFR" : "AXFR";
	int64_t start = net_now_ms(), deadline = start + (int64_t)zc->transfer_timeout * 1000;
	uint8_t q[1024], mac[64];
	size_t mac_len = 0;
	uint16_t id = (uint16_t)arc4random();
	int len = ixfr ? xfr_build_ixfr(q, sizeof(q), id, zc->name, j->current->serial)
	               : xfr_build_axfr(q, sizeof(q), id, zc->name);
	if (len > 0)
		len = sign(key, q, (size_t)len, sizeof(q), mac, &mac_len);
	if (len < 0) {
		job_fail(j, peer, "cannot build the %s query: %s", j->kind, us_strerror(len));
		return len;
	}
	int fd = net_tcp_connect(to, r->has_via ? &r->via : NULL,
	                         net_now_ms() + zc->primary_timeout * 1000);
	if (fd < 0) {
		job_fail(j, peer, "%s: cannot connect: %s", j->kind, strerror(-fd));
		return fd;
	}
	uint8_t *buf = malloc(WIRE_MAX_MSG);
	xfr_limits_t lim = {.max_records = (size_t)zc->max_zone_records,
	                    .max_bytes = (size_t)zc->max_zone_size};
	xfr_in_t *x = xfr_in_new(zc->name, qtype, ixfr ? j->current->serial : 0, &lim, id);
	tsig_verify_t v = {0};
	int ret = buf && x ? net_tcp_send(fd, q, (size_t)len, deadline) : US_ENOMEM;
	if (key)
		tsig_verify_init(&v, key, mac, mac_len);
	/* A primary that takes the connection but says nothing is as good as down: the first
	 * message is due within primary-timeout, like a SOA answer, so the next one is tried. */
	int idle_ms = zc->primary_timeout * 1000;
	while (ret == 0) {
		int n = net_tcp_recv(fd, buf, idle_ms, deadline);
		idle_ms = zc->transfer_idle * 1000;
		if (n <= 0) {
			ret = n == 0 ? xfr_in_eof(x) : n;
			if (ret == 0)
				ret = US_EMALF;
			if (n == 0)
				job_fail(j, peer, "%s: %s", j->kind, xfr_in_error(x));
			else if (n == -EPROTO)
				job_fail(j, peer,
				         "%s: the primary closed the connection inside a message",
				         j->kind);
			else
				job_fail(j, peer, "%s: %s", j->kind, strerror(-n));
			break;
		}
		if (key) {
			size_t mlen = (size_t)n;
			int t = verify_reply(j, peer, j->kind, &v, buf, &mlen);
			if (t < 0) {
				ret = t;
				break;
			}
			n = (int)mlen;
		}
		int fed = xfr_in_feed(x, buf, (size_t)n);
		if (fed < 0) {
			job_fail(j, peer, "%s: %s", j->kind, xfr_in_error(x));
			/* A primary that cannot do IXFR, or sent one we could not use, still gives
			 * AXFR; one that refuses us will refuse that too. */
			uint16_t rc = fed == XFR_ERCODE ? xfr_in_rcode(x) : 0;
			bool refused = rc == WIRE_RCODE_REFUSED || rc == WIRE_RCODE_NOTAUTH;
			ret = ixfr && !refused ? US_EAGAIN : fed;
			break;
		}
		if (fed == XFR_DONE)
			break;
	}
	if (ret == 0 && key && tsig_verify_done(&v) != 0) {
		job_fail(j, peer, "%s: the last message is not signed", j->kind);
		ret = US_EMALF;
	}
	if (ret == 0) {
		const xfr_result_t *res = xfr_in_result(x);
		j->serial = res->serial;
		j->has_serial = true;
		if (res->expire_present) {
			j->has_expire = true;
			j->expire = res->expire;
		}
		if (res->kind == XFR_UPTODATE) {
			j->outcome = JOB_UPTODATE;
		} else if (res->kind == XFR_FULL) {
			j->zone = xfr_in_take_zone(x);
			j->outcome = JOB_NEW;
			j->kind = "AXFR"; /* what the primary sent, whatever we asked for */
		} else {
			char err[200];
			/* Additions of records we hold change nothing, and nsd 4.6 sends them
			 * (docs/design-notes.md): taken as named takes them, and left out of what
			 * is journalled and sent on. */
			zone_apply_lenient_t lenient = {.mem = &j->arena};
			ret = zone_apply(j->current, res->changeset, &lenient, &j->zone, err,
			                 sizeof(err));
			if (ret) {
				job_fail(j, peer, "IXFR does not apply: %s", err);
				ret = US_EAGAIN;
			} else {
				j->outcome = JOB_NEW;
				j->diff = lenient.kept;
				j->redundant = lenient.redundant;
				for (const zone_diff_t *d = j->diff.first; d; d = d->next)
					j->changed += d->nremoved + d->nadded;
			}
		}
	}
	if (ret == 0 && j->outcome == JOB_NEW) {
		bool same = j->current && !j->force_axfr && j->zone->serial == j->current->serial;
		if (same || !acceptable(j, peer)) {
			/* The same serial sent whole is only news that we are up to date. */
			zone_unref(j->zone);
			j->zone = NULL;
			j->outcome = same ? JOB_UPTODATE : JOB_FAILED;
			ret = same ? 0 : US_EZONE;
		}
	}
	j->ms = net_now_ms() - start;
	tsig_verify_deinit(&v);
	if (ret == 0 && j->outcome == JOB_NEW && xfr_in_result(x)->kind == XFR_INCREMENTAL) {
		/* The IXFR as it took effect is the journal's entry: it borrows from the decoder,
		 * kept until it is stored. */
		j->cs = &j->diff;
		j->xin = x;
		x = NULL;
	}
	xfr_in_free(x);
	free(buf);
	close(fd);
	return ret;
}

static void *job_run(void *arg)
{
	xfrin_job_t *j = arg;
	server_t *s = j->s;
	const conf_t *c = s->conf;
	const conf_zone_t *zc = j->z->conf;
	rcu_register_thread();
	for (size_t n = 0; n < zc->nprimaries && j->outcome == JOB_FAILED; n++) {
		/* The first to ask, then the others in their order. */
		size_t first = j->first < 0 ? 0 : (size_t)j->first;
		size_t i = j->first < 0 ? n : n == 0 ? first : n - (n <= first);
		j->remote = zc->primaries[i];
		const conf_remote_t *r = &c->remotes[j->remote];
		tsig_key_t keybuf, *key = NULL;
		if (r->key >= 0) {
			const conf_key_t *k = &c->keys[r->key];
			if (tsig_key_init(&keybuf, k->id, (tsig_alg_t)k->algorithm, k->secret,
			                  k->secret_len) == 0)
				key = &keybuf;
		}
		for (size_t a = 0; a < r->naddr && j->outcome == JOB_FAILED; a++) {
			if (atomic_load(&s->stop))
				break;
			conf_addr_str(&r->addr[a], j->peer, sizeof(j->peer));
			bool check = j->current && !j->force_axfr;
			if (check && check_soa(j, r, &r->addr[a], key, j->peer) != 0)
				continue; /* refused or silent: the next address, at once */
			if (check && serial_cmp(j->serial, j->current->serial) <= 0) {
				if (serial_cmp(j->serial, j->current->serial) < 0)
					log_warning("zone %s: %s has serial %u, older than ours %u",
					            zc->domain, j->peer, j->serial,
					            j->current->serial);
				j->outcome = JOB_UPTODATE;
				break;
			}
			int ret =
			    transfer(j, r, &r->addr[a], key, j->peer, j->current && !j->force_axfr);
			if (ret == US_EAGAIN)
				transfer(j, r, &r->addr[a], key, j->peer, false);
		}
	}
	/* After a whole zone, the journal's entry is computed here, off the manager thread; a
	 * serial that did not move forward starts the journal afresh instead. */
	if (j->outcome == JOB_NEW && !j->cs && j->current &&
	    serial_cmp(j->current->serial, j->zone->serial) < 0 &&
	    zonediff_compute(j->current, j->zone, &j->arena, &j->diff) == 0)
		j->cs = &j->diff;
	rcu_unregister_thread();
	atomic_store(&j->z->done, j);
	server_wake(s);
	return NULL;
}

void xfrin_start(server_t *s, server_zone_t *z, bool force_axfr, int first)
{
	if (z->busy) {
		/* Not lost: it runs when this one ends, with the newest NOTIFY's sender first. */
		z->again_first = z->again && first < 0 ? z->again_first : first;
		z->again = true;
		z->force_axfr |= force_axfr;
		return;
	}
	xfrin_job_t *j = calloc(1, sizeof(*j));
	if (!j) {
		log_error("zone %s: out of memory starting a refresh", z->conf->domain);
		return;
	}
	j->s = s;
	j->z = z;
	/* Pinned: the zone may expire, and be unpublished, while the job still reads it. */
	j->current = z->slot->zone;
	if (j->current)
		zone_ref(j->current);
	j->force_axfr = force_axfr || z->force_axfr;
	j->first = first >= 0 && (size_t)first < z->conf->nprimaries ? first : -1;
	j->outcome = JOB_FAILED;
	arena_init(&j->arena);
	z->force_axfr = false;
	z->busy = true;
	if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
		log_error("zone %s: cannot start a refresh thread", z->conf->domain);
		z->busy = false;
		zone_unref(j->current);
		arena_deinit(&j->arena);
		free(j);
	}
}

static void job_free(xfrin_job_t *j)
{
	zone_unref(j->current);
	xfr_in_free(j->xin);
	arena_deinit(&j->arena);
	free(j);
}

/* SOA refresh/retry/expire of a zone version, as the primary set them. */
static void soa_timers(const zone_t *z, uint32_t *refresh, uint32_t *retry, uint32_t *expire)
{
	const uint8_t *rd = z->soa->rdata + 2;
	size_t p = dname_len(rd);
	p += dname_len(rd + p);
	*refresh = wire_read32(rd + p + 4);
	*retry = wire_read32(rd + p + 8);
	*expire = wire_read32(rd + p + 12);
}

static uint32_t clamp(uint32_t v, int lo, int hi)
{
	return v < (uint32_t)lo ? (uint32_t)lo : v > (uint32_t)hi ? (uint32_t)hi : v;
}

/* Up to a tenth earlier, so zones loaded together do not refresh in lockstep. */
static time_t jitter(uint32_t interval)
{
	return (time_t)(interval - (interval >= 10 ? arc4random_uniform(interval / 10) : 0));
}

/* Copies text into a fixed field, cut to fit: the stored copy is for operators' eyes. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void timers_of(const server_zone_t *z, uint32_t serial, store_timers_t *t)
{
	*t = (store_timers_t){.last_refresh = z->last_refresh,
	                      .next_refresh = z->next_refresh,
	                      .expire_at = z->expire_at,
	                      .serial = serial,
	                      .last_error_at = z->error[0] ? z->error_at : 0};
	copy_text(t->primary, sizeof(t->primary), z->primary);
	copy_text(t->last_error, sizeof(t->last_error), z->error);
}

static void save_timers(server_t *s, server_zone_t *z, uint32_t serial)
{
	store_timers_t t;
	timers_of(z, serial, &t);
	int ret = store_save_timers(s->store, z->conf->name, &t);
	if (ret)
		log_error("zone %s: cannot save its timers: %s", z->conf->domain, us_strerror(ret));
}

/* The answer path reads the expiry for EDNS EXPIRE (RFC 7314) without locks. */
static void set_expire(server_zone_t *z, time_t at)
{
	z->expire_at = at;
	__atomic_store_n(&z->slot->expire_at, (uint32_t)at, __ATOMIC_RELAXED);
}

/* After a check that reached the primary: timers from the SOA, bounded by the configuration;
 * the primary's EDNS EXPIRE, when it sent one, stands for the SOA expire (RFC 7314 4). */
static void refreshed(server_zone_t *z, const zone_t *cur, const xfrin_job_t *j, time_t now)
{
	const conf_zone_t *zc = z->conf;
	uint32_t refresh, retry, expire;
	soa_timers(cur, &refresh, &retry, &expire);
	if (j->has_expire)
		expire = j->expire;
	z->refresh = clamp(refresh, zc->refresh_min, zc->refresh_max);
	z->retry = clamp(retry, zc->retry_min, zc->retry_max);
	z->last_refresh = now;
	z->next_refresh = now + jitter(z->refresh);
	set_expire(z, now + clamp(expire, zc->expire_min, zc->expire_max));
	z->expired = false;
	z->failures = 0;
	z->error[0] = 0;
	copy_text(z->primary, sizeof(z->primary), j->peer);
}

static void finish(server_t *s, server_zone_t *z, xfrin_job_t *j)
{
	time_t now = clock_now();
	pthread_join(j->thread, NULL);
	z->busy = false;
	const conf_zone_t *zc = z->conf;
	/* The primary's serial is news for the fleet before we have it, or if we cannot take it. */
	if (j->has_serial)
		fleetmon_seen(z, j->serial);
	if (j->outcome == JOB_NEW) {
		uint32_t from = z->slot->zone ? z->slot->zone->serial : 0;
		refreshed(z, j->zone, j, now);
		store_timers_t t;
		timers_of(z, j->zone->serial, &t);
		/* Durable first: a copy we serve must survive a crash the moment after. The
		 * change goes to the journal, which IXFR out reads, and a full snapshot is
		 * written only when the store needs one. */
		store_journal_limits_t lim = server_journal_limits(zc);
		int ret = store_save_change(s->store, j->zone, j->cs, &lim, &t);
		if (ret) {
			snprintf(z->error, sizeof(z->error), "cannot store serial %u: %s",
			         j->zone->serial, us_strerror(ret));
			z->error_at = now;
			log_error("zone %s: %s (%s); keeping serial %u", zc->domain, z->error,
			          store_errmsg(s->store), from);
			zone_unref(j->zone);
			z->next_refresh = now + jitter(z->retry);
		} else {
			char what[64];
			if (j->changed)
				snprintf(what, sizeof(what), "%zu records changed", j->changed);
			else
				snprintf(what, sizeof(what), "%zu records", j->zone->nrecords);
			if (j->redundant && !s->lenient_noted[j->remote]) {
				s->lenient_noted[j->remote] = true;
				log_notice(
				    "zone %s: the IXFR from %s adds %zu records the zone holds "
				    "already; taken as no change, as named takes them (said once "
				    "per primary)",
				    zc->domain, j->peer, j->redundant);
			}
			log_info("%s %s from %s: serial %u -> %u, %s in %lld ms, finished", j->kind,
			         zc->domain, j->peer, from, j->zone->serial, what,
			         (long long)j->ms);
			server_publish(z, j->zone);
			/* A backup tells its own backups. */
			notify_out(s, zc, z->slot->zone);
			server_compact(s, z);
		}
	} else if (j->outcome == JOB_UPTODATE) {
		/* Expired while the check ran? The primary just vouched for our copy again. */
		if (!z->slot->zone) {
			zone_ref(j->current);
			server_publish(z, j->current);
		}
		refreshed(z, z->slot->zone, j, now);
		if (serial_cmp(j->serial, z->slot->zone->serial) < 0)
			log_info("zone %s: %s has serial %u, older than ours %u; keeping ours",
			         zc->domain, j->peer, j->serial, z->slot->zone->serial);
		else
			log_info("zone %s: %s has serial %u, up to date", zc->domain, j->peer,
			         j->serial);
		save_timers(s, z, z->slot->zone->serial);
	} else {
		snprintf(z->error, sizeof(z->error), "%s",
		         j->error[0] ? j->error : "no primary could be reached");
		z->error_at = now;
		/* Without a copy there is no SOA retry to follow: back off from the minimum, so an
		 * unreachable primary is asked every few minutes at most, not every second. */
		uint32_t retry = z->retry;
		if (!retry) {
			unsigned shift = z->failures < 8 ? z->failures : 8;
			retry = (uint32_t)zc->retry_min << shift;
			if (retry > 300)
				retry = 300;
		}
		z->failures++;
		z->next_refresh = now + jitter(clamp(retry, zc->retry_min, zc->retry_max));
		log_warning("zone %s: refresh failed (%s), next try in %lld s", zc->domain,
		            z->error, (long long)(z->next_refresh - now));
		if (z->slot->zone)
			save_timers(s, z, z->slot->zone->serial);
	}
	job_free(j);
	if (z->again) {
		z->again = false;
		xfrin_start(s, z, false, z->again_first);
	}
}

/* RFC 1035 4.3.5 / 3.3.13: past expire, the copy is no longer authoritative. */
static void expire(server_zone_t *z)
{
	log_error("zone %s: EXPIRED: no primary answered for longer than the expire interval; "
	          "answering SERVFAIL until a transfer succeeds",
	          z->conf->domain);
	z->expired = true;
	snprintf(z->error, sizeof(z->error), "expired");
	z->error_at = time(NULL);
	server_publish(z, NULL);
	set_expire(z, 0);
	z->force_axfr = true;
}

void xfrin_restore(server_t *s, server_zone_t *z)
{
	time_t now = clock_now();
	zone_t *saved = NULL;
	store_timers_t t;
	z->next_refresh = now;
	int ret = store_load_zone(s->store, z->conf->name, &saved, &t);
	if (ret == US_ENOENT) {
		log_info("zone %s: no copy stored yet, transferring it", z->conf->domain);
		return;
	}
	if (ret) {
		log_error("zone %s: the stored copy is unusable (%s), transferring it anew",
		          z->conf->domain, us_strerror(ret));
		return;
	}
	copy_text(z->primary, sizeof(z->primary), t.primary);
	z->last_refresh = (time_t)t.last_refresh;
	if (t.expire_at && (time_t)t.expire_at <= now) {
		log_error("zone %s: the stored copy (serial %u) expired while we were down; "
		          "answering SERVFAIL until a transfer succeeds",
		          z->conf->domain, saved->serial);
		zone_unref(saved);
		z->expired = true;
		z->force_axfr = true;
		return;
	}
	uint32_t refresh, retry, exp;
	soa_timers(saved, &refresh, &retry, &exp);
	z->refresh = clamp(refresh, z->conf->refresh_min, z->conf->refresh_max);
	z->retry = clamp(retry, z->conf->retry_min, z->conf->retry_max);
	set_expire(z, (time_t)t.expire_at);
	if ((time_t)t.next_refresh > now)
		z->next_refresh = (time_t)t.next_refresh;
	log_info("zone %s: serving stored serial %u, expires in %lld s", z->conf->domain,
	         saved->serial, (long long)(z->expire_at - now));
	server_publish(z, saved);
}

int xfrin_tick(server_t *s)
{
	time_t now = clock_now();
	time_t next = now + 3600;
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *z = &s->zones[i];
		if (z->conf->role != CONF_ROLE_SECONDARY)
			continue;
		xfrin_job_t *j = atomic_exchange(&z->done, NULL);
		if (j)
			finish(s, z, j);
		int notified = atomic_exchange(&z->notified, NOTIFIED_NONE);
		if (notified != NOTIFIED_NONE)
			xfrin_start(s, z, false, notified - NOTIFIED_BY);
		if (z->expire_at && now >= z->expire_at)
			expire(z);
		if (!z->busy && z->next_refresh <= now)
			xfrin_start(s, z, false, -1);
		if (!z->busy && z->next_refresh < next)
			next = z->next_refresh;
		if (z->expire_at && z->expire_at < next)
			next = z->expire_at;
	}
	return next <= now ? 0 : (int)(next - now) * 1000;
}

void xfrin_shutdown(server_t *s)
{
	atomic_store(&net_cancel, true);
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *z = &s->zones[i];
		while (z->busy) {
			xfrin_job_t *j = atomic_exchange(&z->done, NULL);
			if (!j) {
				usleep(10000);
				continue;
			}
			pthread_join(j->thread, NULL);
			zone_unref(j->zone);
			job_free(j);
			z->busy = false;
		}
	}
}
