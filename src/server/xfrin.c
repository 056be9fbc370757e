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
#include "connpool.h"
#include "fleetmon.h"
#include "guard.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "serial.h"
#include "store.h"
#include "tls.h"
#include "tsig.h"
#include "wire.h"
#include "xfr.h"
#include "xfrin.h"
#include "zonediff.h"
#include "zonemd.h"

enum { JOB_FAILED, JOB_UPTODATE, JOB_NEW };

struct xfrin_job {
	server_t *s;
	server_zone_t *z;
	/* The configuration the job began under, held: a reload meanwhile changes z->conf,
	 * while the job reads its remotes and keys by the indexes of this one. */
	server_gen_t *gen;
	const conf_zone_t *zc;
	zone_t *current; /* served when the job began, pinned by a reference */
	bool force_axfr;
	int first; /* the position in the zone's primaries to try first, or -1 */
	int slot;  /* the remote whose transfers-in-per-primary share the job holds */
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
	/* A remote with tls: the connection of the SOA check, kept for the transfer after it
	 * (fd -1 when none is open), and how the outcome travelled, for the log. */
	net_stream_t stream;
	const conf_addr_t *stream_to, *stream_via; /* its ends, its TLS context, and ... */
	const void *stream_tls;
	int64_t stream_keep_ms; /* ... how long it may be kept after a clean check */
	const char *over;       /* " over TLS" or "" */
	/* The policies. Given: serials not to transfer again (held, rejected), and follow, the
	 * lower serial every primary confirmed, which this forced AXFR may take. */
	bool skip_held, skip_rejected, follow;
	uint32_t held_serial, rejected_serial, follow_serial;
	/* Found: primaries whose serial is older than ours (lower_all: every primary, the same
	 * serial, lower_serial); a serial skipped; ZONEMD's verdict on the new version; and the
	 * change guard's, when it holds the new version (hold, why). */
	bool lower, lower_all, skipped, zonemd_failed, hold;
	size_t nlower;
	uint32_t lower_serial;
	char lower_peer[80];
	int zonemd; /* zonemd_status_t of JOB_NEW's version */
	char zonemd_why[160];
	char hold_why[160];
	/* The serial a NOTIFY from the primary at first, signed with its key, carried. */
	bool has_hint;
	uint32_t hint_serial;
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
	log_warning("zone %s: %s", j->zc->domain, j->error);
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
	if (ret < 0)
		server_count_tsig_failure(j->s);
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

/*
 * Connects to one address of the remote: over TLS when it has tls, never falling back to
 * clear text, else over TCP. 0 with *st open, or a negative error (logged in the job).
 */
static int open_stream(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                       const char *peer, const char *what, net_stream_t *st)
{
	const struct tls_client *tc = server_gen_tls(j->gen, j->remote);
	const conf_addr_t *via = r->has_via ? &r->via : NULL;
	int64_t deadline = net_now_ms() + j->zc->primary_timeout * 1000;
	char err[256];
	int ret = tc ? tls_connect(tc, to, via, deadline, st, err, sizeof(err))
	             : net_stream_tcp(to, via, deadline, st);
	if (ret && tc)
		job_fail(j, peer, "%s over TLS: %s", what, err);
	else if (ret)
		job_fail(j, peer, "%s: cannot connect: %s", what, strerror(-ret));
	return ret;
}

/* The SOA query over TLS, on a connection kept open since the last refresh if one is, else
 * on a new one, kept open for the transfer that may follow. */
static int soa_over_tls(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                        const char *peer, const uint8_t *q, size_t qlen, uint8_t *a)
{
	int idle = j->zc->primary_timeout * 1000;
	const conf_addr_t *via = r->has_via ? &r->via : NULL;
	bool reused =
	    connpool_take(j->s->pool, to, via, server_gen_tls(j->gen, j->remote), &j->stream);
	int ret = reused ? 0 : open_stream(j, r, to, peer, "SOA query", &j->stream);
	if (ret)
		return ret;
	j->stream_to = to;
	j->stream_via = via;
	j->stream_tls = server_gen_tls(j->gen, j->remote);
	for (;;) {
		ret = net_stream_send(&j->stream, q, qlen, net_now_ms() + idle);
		if (ret == 0)
			ret = net_stream_recv(&j->stream, a, idle, net_now_ms() + idle);
		if (ret > 0 || !reused || ret == -ECANCELED || ret == -EPROTO)
			break;
		/* Closed by the server while it was kept: not the primary failing (transfer). */
		log_debug("zone %s: SOA query to %s: the connection kept open is gone (%s); on a "
		          "new one",
		          j->zc->domain, peer,
		          ret ? net_stream_strerror(&j->stream, ret) : "closed");
		net_stream_close(&j->stream);
		reused = false;
		ret = open_stream(j, r, to, peer, "SOA query", &j->stream);
		if (ret)
			return ret;
	}
	if (reused)
		log_debug("zone %s: SOA query to %s over TLS on a connection kept open",
		          j->zc->domain, peer);
	if (ret <= 0) {
		ret = ret ? ret : -ECONNRESET;
		job_fail(j, peer, "SOA query over TLS: %s", net_stream_strerror(&j->stream, ret));
		net_stream_close(&j->stream);
	}
	return ret;
}

/* Gives the SOA check's stream back to the pool when the check ended cleanly and no transfer
 * took it, else closes it. */
static void stream_done(xfrin_job_t *j)
{
	if (j->stream.fd >= 0 && j->stream_keep_ms > 0 && j->stream_to)
		connpool_put(j->s->pool, j->gen, j->stream_to, j->stream_via, j->stream_tls,
		             &j->stream, j->stream_keep_ms, net_now_ms());
	net_stream_close(&j->stream);
	j->stream_keep_ms = 0;
	j->stream_to = NULL;
}

/* check_soa's answer for a consumer catalog whose primary refuses SOA queries. */
#define SOA_BY_IXFR 1

/* Asks one address for the zone's SOA serial. 0, or a negative error (logged in the job), or
 * SOA_BY_IXFR. */
static int check_soa(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                     const tsig_key_t *key, const char *peer)
{
	const conf_zone_t *zc = j->zc;
	uint8_t q[512], a[WIRE_MAX_MSG], mac[64];
	size_t mac_len = 0;
	uint16_t id = (uint16_t)arc4random();
	bool tls = server_gen_tls(j->gen, j->remote) != NULL;
	j->stream_keep_ms = 0;
	int len = tls ? xfr_build_soa_query_stream(q, sizeof(q), id, zc->name)
	              : xfr_build_soa_query(q, sizeof(q), id, zc->name);
	if (len > 0)
		len = sign(key, q, (size_t)len, sizeof(q), mac, &mac_len);
	if (len < 0) {
		job_fail(j, peer, "cannot build the SOA query: %s", us_strerror(len));
		return len;
	}
	/* Over UDP the query goes again halfway through primary-timeout, the same bytes, so
	 * one lost datagram (a lossy link) costs half the wait instead of the primary. */
	int wait_ms = zc->primary_timeout * 1000;
	int n = tls ? soa_over_tls(j, r, to, peer, q, (size_t)len, a)
	            : net_udp_exchange_resend(to, r->has_via ? &r->via : NULL, q, (size_t)len, a,
	                                      sizeof(a), net_now_ms() + wait_ms, wait_ms / 2,
	                                      wait_ms / 2, NULL);
	if (n < 0) {
		if (!tls)
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
	if (ret && zc->catalog_role == CONF_CATALOG_CONSUMER && n >= WIRE_HDR_LEN &&
	    wire_read16(a) == id && (a[3] & 0xF) == WIRE_RCODE_REFUSED)
		/* knotd answers no query for a catalog it interprets, yet transfers it: the
		 * IXFR then says whether there is news (RFC 1995 4), as knotd's consumer asks. */
		return SOA_BY_IXFR;
	if (ret) {
		job_fail(j, peer, "bad SOA answer: %s", err);
		return ret;
	}
	j->serial = ans.serial;
	j->has_serial = true;
	j->has_expire = ans.expire_present;
	j->expire = ans.expire;
	/* Over TLS the connection may serve the next refresh too, as a transfer's does. */
	if (tls)
		j->stream_keep_ms =
		    ans.keepalive_present ? (int64_t)ans.keepalive * 100 : CONNPOOL_UNSAID_MS;
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
	const conf_zone_t *zc = j->zc;
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
	/* Following a regression takes the serial every primary showed, or a newer one than
	 * ours; anything else means the primaries moved meanwhile, and is judged afresh. */
	if (j->follow && j->current && j->zone->serial != j->follow_serial &&
	    serial_cmp(j->zone->serial, j->current->serial) <= 0) {
		job_fail(j, peer,
		         "%s carries serial %u, not %u that every primary showed; not taken",
		         j->kind, j->zone->serial, j->follow_serial);
		return false;
	}
	return true;
}

/*
 * RFC 8976: a version that carries ZONEMD must match it to be taken. False (logged in the job)
 * when it does not; a version we cannot verify (schemes or algorithms we do not know) is
 * taken, with a notice when it is published.
 */
static bool zonemd_ok(xfrin_job_t *j, const char *peer)
{
	zonemd_status_t st = ZONEMD_ABSENT;
	j->zonemd_failed = false;
	if (!j->zc->zonemd_verify) {
		j->zonemd = ZONEMD_ABSENT;
		return true;
	}
	if (zonemd_verify(j->zone, &st, j->zonemd_why, sizeof(j->zonemd_why)) != 0) {
		/* Out of memory to verify: not taken unverified; it is tried again. */
		st = ZONEMD_FAILED;
		snprintf(j->zonemd_why, sizeof(j->zonemd_why), "out of memory verifying ZONEMD");
	}
	j->zonemd = st;
	if (st != ZONEMD_FAILED)
		return true;
	j->zonemd_failed = true;
	job_fail(j, peer, "%s: serial %u fails ZONEMD verification: %s; not taken", j->kind,
	         j->zone->serial, j->zonemd_why);
	return false;
}

/*
 * Transfers the zone from one address. Returns 0 with the outcome in the job, US_EAGAIN when
 * an IXFR could not be used and AXFR should follow at once, or another negative error.
 */
static int transfer(xfrin_job_t *j, const conf_remote_t *r, const conf_addr_t *to,
                    const tsig_key_t *key, const char *peer, bool ixfr)
{
	const conf_zone_t *zc = j->zc;
	uint16_t qtype = ixfr ? WIRE_T_IXFR : WIRE_T_AXFR;
	j->kind = ixfr ? "IXFR" : "AXFR";
	char what[16]; /* "AXFR over TLS" in the log, when it is */
	snprintf(what, sizeof(what), "%s%s", j->kind, j->over);
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
	/* The SOA check's TLS connection, if it left one, else one kept open since an earlier
	 * transfer from this address, else a new one. */
	const conf_addr_t *via = r->has_via ? &r->via : NULL;
	const void *tls = server_gen_tls(j->gen, j->remote);
	net_stream_t st = j->stream;
	j->stream = (net_stream_t){.fd = -1};
	j->stream_keep_ms = 0;
	bool reused = false;
	if (st.fd < 0 && connpool_take(j->s->pool, to, via, tls, &st)) {
		reused = true;
		log_debug("zone %s: %s to %s on a connection kept open", zc->domain, j->kind, peer);
	}
	if (st.fd < 0) {
		int ret = open_stream(j, r, to, peer, j->kind, &st);
		if (ret)
			return ret;
	}
	uint8_t *buf = malloc(WIRE_MAX_MSG);
	xfr_limits_t lim = {.max_records = (size_t)zc->max_zone_records,
	                    .max_bytes = (size_t)zc->max_zone_size};
	xfr_in_t *x = xfr_in_new(zc->name, qtype, ixfr ? j->current->serial : 0, &lim, id);
	tsig_verify_t v = {0};
	int ret = buf && x ? 0 : US_ENOMEM;
	if (key)
		tsig_verify_init(&v, key, mac, mac_len);
	/* A primary that takes the connection but says nothing is as good as down: the first
	 * message is due within primary-timeout, like a SOA answer, so the next one is tried. */
	int idle_ms = zc->primary_timeout * 1000;
	bool sent = false, done = false;
	while (ret == 0) {
		if (!sent)
			ret = net_stream_send(&st, q, (size_t)len, deadline);
		int n = ret ? ret : net_stream_recv(&st, buf, idle_ms, deadline);
		if (n <= 0 && reused && n != -ECANCELED && n != -EPROTO) {
			/* A kept connection the server closed meanwhile (RFC 7766 6.2.3 lets it, at
			 * any time), or that no longer carries anything: not the primary failing.
			 * Once more on a new connection, with the same query. (A message cut
			 * short, -EPROTO, is an answer: the primary's doing.) */
			log_debug("zone %s: %s to %s: the connection kept open is gone (%s); on a "
			          "new one",
			          zc->domain, j->kind, peer,
			          n ? net_stream_strerror(&st, n) : "closed");
			net_stream_close(&st);
			reused = false;
			ret = open_stream(j, r, to, peer, j->kind, &st);
			continue;
		}
		if (!sent && ret) {
			job_fail(j, peer, "%s: cannot send the query: %s", what,
			         net_stream_strerror(&st, ret));
			break;
		}
		sent = true;
		reused = false; /* answered: whatever comes now is the primary's doing */
		idle_ms = zc->transfer_idle * 1000;
		if (n <= 0) {
			ret = n == 0 ? xfr_in_eof(x) : n;
			if (ret == 0)
				ret = US_EMALF;
			if (n == 0)
				job_fail(j, peer, "%s: %s", what, xfr_in_error(x));
			else if (n == -EPROTO)
				job_fail(j, peer,
				         "%s: the primary closed the connection inside a message",
				         what);
			else
				job_fail(j, peer, "%s: %s", what, net_stream_strerror(&st, n));
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
			job_fail(j, peer, "%s: %s", what, xfr_in_error(x));
			/* A primary that cannot do IXFR, or sent one we could not use, still gives
			 * AXFR; one that refuses us will refuse that too. */
			uint16_t rc = fed == XFR_ERCODE ? xfr_in_rcode(x) : 0;
			bool refused = rc == WIRE_RCODE_REFUSED || rc == WIRE_RCODE_NOTAUTH;
			ret = ixfr && !refused ? US_EAGAIN : fed;
			break;
		}
		if (fed == XFR_DONE) {
			done = true;
			break;
		}
	}
	if (ret == 0 && key && tsig_verify_done(&v) != 0) {
		job_fail(j, peer, "%s: the last message is not signed", what);
		ret = US_EMALF;
		done = false;
	}
	/* Kept for the next transfer when the stream ended as it should, whatever we make of
	 * the zone it brought: for as long as the primary said (RFC 7828 3.3.2), or without its
	 * word for as long as servers keep one by default (connpool.h). Never after an error, a
	 * timeout or a transfer cut short. */
	const xfr_result_t *said = x ? xfr_in_result(x) : NULL;
	int64_t keep_ms = 0;
	if (done && said)
		keep_ms =
		    said->keepalive_present ? (int64_t)said->keepalive * 100 : CONNPOOL_UNSAID_MS;
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
	if (ret == 0 && j->outcome == JOB_NEW && !zonemd_ok(j, peer)) {
		/* After an IXFR the whole zone follows at once: the digest covers the zone, and
		 * a change that does not match may have met a copy that drifted. */
		bool incremental = xfr_in_result(x)->kind == XFR_INCREMENTAL;
		zone_unref(j->zone);
		j->zone = NULL;
		j->outcome = JOB_FAILED;
		ret = incremental ? US_EAGAIN : US_EZONE;
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
	if (keep_ms > 0)
		connpool_put(j->s->pool, j->gen, to, via, tls, &st, keep_ms, net_now_ms());
	net_stream_close(&st);
	return ret;
}

static void copy_peer(char *dst, const char *src)
{
	snprintf(dst, 80, "%s", src);
}

/* A primary answered a serial older than ours: remembered for the regression alarm. */
static void note_lower(xfrin_job_t *j)
{
	if (!j->nlower++) {
		j->lower = true;
		j->lower_all = true;
		j->lower_serial = j->serial;
		copy_peer(j->lower_peer, j->peer);
	} else if (j->serial != j->lower_serial) {
		j->lower_all = false; /* the primaries disagree: nothing to follow yet */
	}
}

/* The change guard, off the manager thread: does the new version remove too much? */
static void guard(xfrin_job_t *j)
{
	const conf_zone_t *zc = j->zc;
	if (!zc->guard_max_removed && !zc->guard_apex)
		return;
	guard_change_t c;
	/* An IXFR's own changeset, or the AXFR's difference; without one, a whole compare. */
	int ret = guard_judge(j->current, j->zone, j->cs, &j->arena, &c);
	if (ret) {
		/* Cannot tell: held, since the guard is there for changes no one looked at. */
		snprintf(j->hold_why, sizeof(j->hold_why), "the change cannot be judged: %s",
		         us_strerror(ret));
		j->hold = true;
		return;
	}
	j->hold = guard_holds(&c, zc->guard_max_removed, zc->guard_apex, j->hold_why,
	                      sizeof(j->hold_why));
}

static void *job_run(void *arg)
{
	xfrin_job_t *j = arg;
	server_t *s = j->s;
	const conf_t *c = j->gen->conf;
	const conf_zone_t *zc = j->zc;
	bool tried = false; /* a transfer was tried and failed */
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
			stream_done(j); /* a check's left on another address */
			conf_addr_str(&r->addr[a], j->peer, sizeof(j->peer));
			j->over = r->tls ? " over TLS" : "";
			bool check = j->current && !j->force_axfr;
			/* The primary told us its new serial, signed (notify.c): straight to
			 * IXFR, whose answer says the serial again anyway. A hint that is not
			 * news, or names a serial the policies skip, is checked as usual. */
			bool hinted = check && n == 0 && a == 0 && j->has_hint && key &&
			              serial_cmp(j->hint_serial, j->current->serial) > 0 &&
			              !(j->skip_held && j->hint_serial == j->held_serial) &&
			              !(j->skip_rejected && j->hint_serial == j->rejected_serial);
			if (check && n == 0 && a == 0 && j->has_hint && key &&
			    j->hint_serial == j->current->serial) {
				/* The primary's signed word that it has our serial (a NOTIFY
				 * resent, or late): up to date, without asking again. */
				j->serial = j->hint_serial;
				j->has_serial = true;
				j->outcome = JOB_UPTODATE;
				break;
			}
			if (hinted) {
				j->serial = j->hint_serial;
				log_event(
				    LOG_INFO, "refresh",
				    LOG_FIELDS(LOG_STR("zone", zc->domain),
				               LOG_STR("peer", j->peer),
				               LOG_NUM("serial", j->hint_serial),
				               LOG_NUM("ours", j->current->serial),
				               LOG_STR("result", "notified")),
				    "zone %s: %s told us serial %u, signed with its key, ours "
				    "%u: IXFR without a SOA query first",
				    zc->domain, j->peer, j->hint_serial, j->current->serial);
			} else {
				int soa = check ? check_soa(j, r, &r->addr[a], key, j->peer) : 0;
				if (soa == SOA_BY_IXFR)
					check = false;
				else if (soa != 0)
					continue; /* refused or silent: the next address, at once */
			}
			if (check && serial_cmp(j->serial, j->current->serial) < 0) {
				/* RFC 1982: older than ours. The other primaries are asked too: one
				 * that went back in time must not hide one that has news, and with
				 * serial-regression follow every primary must confirm it. */
				log_warning("zone %s: %s has serial %u, older than ours %u",
				            zc->domain, j->peer, j->serial, j->current->serial);
				note_lower(j);
				break;
			}
			if (check && (j->serial == j->current->serial ||
			              (j->skip_held && j->serial == j->held_serial) ||
			              (j->skip_rejected && j->serial == j->rejected_serial))) {
				/* Up to date, or the serial the change guard holds or the operator
				 * rejected: not transferred again (ctl retransfer forces it). */
				j->skipped = j->serial != j->current->serial;
				j->outcome = JOB_UPTODATE;
				break;
			}
			int ret =
			    transfer(j, r, &r->addr[a], key, j->peer, j->current && !j->force_axfr);
			if (ret == US_EAGAIN)
				transfer(j, r, &r->addr[a], key, j->peer, false);
			tried |= j->outcome == JOB_FAILED;
		}
	}
	stream_done(j);
	if (j->nlower) {
		/* Every primary that answered has an older serial: up to date, as far as the
		 * zone's timers go (the primaries are there), with the regression to report. */
		j->lower_all = j->lower_all && j->nlower == zc->nprimaries;
		/* ... unless one had news and its transfer failed: that failure is the outcome. */
		if (j->outcome == JOB_FAILED && !tried) {
			j->outcome = JOB_UPTODATE;
			j->serial = j->lower_serial;
			copy_peer(j->peer, j->lower_peer);
			j->error[0] = 0;
		}
	}
	/* After a whole zone, the journal's entry is computed here, off the manager thread; a
	 * serial that did not move forward starts the journal afresh instead. */
	if (j->outcome == JOB_NEW && !j->cs && j->current &&
	    serial_cmp(j->current->serial, j->zone->serial) < 0 &&
	    zonediff_compute(j->current, j->zone, &j->arena, &j->diff) == 0)
		j->cs = &j->diff;
	if (j->outcome == JOB_NEW && j->current)
		guard(j);
	rcu_unregister_thread();
	atomic_store(&j->z->done, j);
	server_wake(s);
	return NULL;
}

/*
 * Whether a job that asks the remote slot first may start: transfers-in bounds the jobs at
 * once, and transfers-in-per-primary those whose first choice is one primary, so that a
 * restart or a burst of NOTIFYs for thousands of zones becomes a steady stream, not a herd.
 * Counted per first choice, since that is where the job's traffic goes unless it fails.
 */
static bool job_slot_free(const server_t *s, int slot)
{
	return s->xfrin_jobs < (unsigned)s->conf->transfers_in &&
	       s->gen->xfrin_per_primary[slot] < (unsigned)s->conf->transfers_in_per_primary;
}

/* The remote a job asks first: the one at position first in the zone's primaries, if any. */
static int first_choice(const conf_zone_t *zc, int first)
{
	return zc->primaries[first >= 0 && (size_t)first < zc->nprimaries ? first : 0];
}

void xfrin_start(server_t *s, server_zone_t *z, bool force_axfr, int first)
{
	/* A consumer catalog does not wait behind the thousands of members it may have just
	 * brought: its next version decides what they are. Catalogs are few and small. */
	bool catalog = z->conf->catalog_role == CONF_CATALOG_CONSUMER;
	if (z->busy || (!catalog && !job_slot_free(s, first_choice(z->conf, first)))) {
		/* Not lost: it runs when this one ends (or a job ends, if every slot is taken),
		 * with the newest NOTIFY's sender first. */
		bool pending = z->again || z->queued;
		z->again_first = pending && first < 0 ? z->again_first : first;
		z->force_axfr |= force_axfr;
		if (z->busy)
			z->again = true;
		else
			z->queued = true;
		return;
	}
	z->queued = false;
	xfrin_job_t *j = calloc(1, sizeof(*j));
	if (!j) {
		log_error("zone %s: out of memory starting a refresh", z->conf->domain);
		return;
	}
	j->s = s;
	j->z = z;
	j->zc = z->conf;
	j->gen = server_gen_ref(s);
	/* Pinned: the zone may expire, and be unpublished, while the job still reads it. */
	j->current = z->slot->zone;
	if (j->current)
		zone_ref(j->current);
	j->force_axfr = force_axfr || z->force_axfr || z->follow;
	j->first = first >= 0 && (size_t)first < z->conf->nprimaries ? first : -1;
	j->outcome = JOB_FAILED;
	j->stream.fd = -1;
	j->over = "";
	j->skip_held = z->held;
	j->held_serial = z->held_serial;
	j->skip_rejected = z->rejected;
	j->rejected_serial = z->rejected_serial;
	j->follow = z->follow;
	j->follow_serial = z->regressed_serial;
	/* A hint is for the job that its NOTIFY starts, from the primary that sent it. */
	j->has_hint = z->has_hint && j->first >= 0;
	j->hint_serial = z->hint_serial;
	z->has_hint = false;
	arena_init(&j->arena);
	z->force_axfr = false;
	z->follow = false;
	z->busy = true;
	j->slot = first_choice(z->conf, j->first);
	s->xfrin_jobs++;
	j->gen->xfrin_per_primary[j->slot]++;
	if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
		log_error("zone %s: cannot start a refresh thread", z->conf->domain);
		z->busy = false;
		s->xfrin_jobs--;
		j->gen->xfrin_per_primary[j->slot]--;
		zone_unref(j->current);
		server_gen_unref(j->gen);
		arena_deinit(&j->arena);
		free(j);
	}
}

static void job_free(xfrin_job_t *j)
{
	zone_unref(j->current);
	server_gen_unref(j->gen);
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
/*
 * Up to a quarter early, as BIND's timers: zones loaded together (a start, a catalog's new
 * members) come due together, and each interval repeats that wave until the jitter has spread
 * it; a tenth took many intervals to (bench/soacheck.py: a busiest second 5-8 times the mean).
 */
static time_t jitter(uint32_t interval)
{
	return (time_t)(interval - (interval >= 4 ? arc4random_uniform(interval / 4) : 0));
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

/* The copy is fresh again (a primary answered) after being served past its expiry. */
static void unstale(server_zone_t *z, const char *peer, time_t now)
{
	if (!z->stale)
		return;
	z->stale = false;
	__atomic_store_n(&z->slot->stale, 0, __ATOMIC_RELAXED);
	const zone_t *cur = z->slot->zone;
	uint32_t serial = cur ? cur->serial : 0;
	log_event(LOG_NOTICE, "expire",
	          LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("state", "fresh"),
	                     LOG_STR("policy", "keep-serving"), LOG_STR("peer", peer),
	                     LOG_NUM("serial", serial), LOG_NUM("stale_s", now - z->stale_since)),
	          "zone %s: fresh again: %s answered after %lld s served past expiry; answers "
	          "carry no Stale Answer error any more",
	          z->conf->domain, peer, (long long)(now - z->stale_since));
	z->stale_since = 0;
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
	unstale(z, j->peer, now);
}

/* Lets go of what the change guard holds; why says what became of it, for the log. */
static void drop_held(server_zone_t *z, const char *state, const char *why)
{
	xfrin_job_t *h = z->held_job;
	if (!h)
		return;
	log_event(LOG_NOTICE, "held",
	          LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("peer", z->held_from),
	                     LOG_NUM("serial", z->held_serial), LOG_STR("state", state),
	                     LOG_STR("reason", why)),
	          "zone %s: the held change to serial %u from %s is dropped: %s", z->conf->domain,
	          z->held_serial, z->held_from, why);
	zone_unref(h->zone);
	job_free(h);
	z->held_job = NULL;
	z->held = false;
	z->held_since = 0;
	z->held_serial = 0;
	z->held_from[0] = z->held_why[0] = 0;
}

/* The ZONEMD state of what a job brought, once it is published (or failed to verify). */
static void zonemd_seen(server_zone_t *z, const xfrin_job_t *j, uint32_t serial, time_t now)
{
	const char *zone = z->conf->domain;
	if (j->zonemd_failed) {
		z->zonemd_failed = true;
		z->zonemd_failed_at = now;
		z->zonemd_failed_serial = serial;
		copy_text(z->zonemd_error, sizeof(z->zonemd_error), j->zonemd_why);
		log_event(LOG_ERR, "zonemd",
		          LOG_FIELDS(LOG_STR("zone", zone), LOG_STR("peer", j->peer),
		                     LOG_NUM("serial", serial), LOG_STR("result", "failed"),
		                     LOG_STR("reason", j->zonemd_why)),
		          "zone %s: ZONEMD: serial %u from %s fails verification (%s); not "
		          "published, the copy served stays",
		          zone, serial, j->peer, j->zonemd_why);
		return;
	}
	z->zonemd = j->zonemd;
	if (z->zonemd_failed && j->zonemd != ZONEMD_FAILED) {
		z->zonemd_failed = false;
		z->zonemd_failed_at = 0;
		z->zonemd_error[0] = 0;
	}
	if (j->zonemd == ZONEMD_VERIFIED || j->zonemd == ZONEMD_UNSUPPORTED)
		log_event(
		    j->zonemd == ZONEMD_VERIFIED ? LOG_INFO : LOG_NOTICE, "zonemd",
		    LOG_FIELDS(LOG_STR("zone", zone), LOG_STR("peer", j->peer),
		               LOG_NUM("serial", serial),
		               LOG_STR("result",
		                       j->zonemd == ZONEMD_VERIFIED ? "verified" : "unsupported"),
		               LOG_STR("reason", j->zonemd_why)),
		    "zone %s: serial %u: %s%s", zone, serial, j->zonemd_why,
		    j->zonemd == ZONEMD_VERIFIED ? "" : "; taken unverified (RFC 8976 4)");
}

/*
 * Stores and publishes the version a job brought, or that the operator accepted, and tells
 * the secondaries. Durable first: a copy we serve must survive a crash the moment after. The
 * change goes to the journal, which IXFR out reads, and a full snapshot is written only when
 * the store needs one. The job keeps no version after this.
 */
static void publish_new(server_t *s, server_zone_t *z, xfrin_job_t *j, time_t now, bool accepted)
{
	const conf_zone_t *zc = z->conf;
	uint32_t from = z->slot->zone ? z->slot->zone->serial : 0;
	store_timers_t t;
	timers_of(z, j->zone->serial, &t);
	store_journal_limits_t lim = server_journal_limits(zc);
	int ret = store_save_change(s->store, j->zone, j->cs, &lim, &t);
	if (ret) {
		snprintf(z->error, sizeof(z->error), "cannot store serial %u: %s", j->zone->serial,
		         us_strerror(ret));
		z->error_at = now;
		log_error("zone %s: %s (%s); keeping serial %u", zc->domain, z->error,
		          store_errmsg(s->store), from);
		zone_unref(j->zone);
		j->zone = NULL;
		z->next_refresh = now + jitter(z->retry);
		return;
	}
	char what[64];
	if (j->changed)
		snprintf(what, sizeof(what), "%zu records changed", j->changed);
	else
		snprintf(what, sizeof(what), "%zu records", j->zone->nrecords);
	if (j->redundant && !j->gen->lenient_noted[j->remote]) {
		j->gen->lenient_noted[j->remote] = true;
		log_notice("zone %s: the IXFR from %s adds %zu records the zone holds already; "
		           "taken as no change, as named takes them (said once per primary)",
		           zc->domain, j->peer, j->redundant);
	}
	log_event(LOG_INFO, "transfer",
	          LOG_FIELDS(LOG_STR("direction", "in"), LOG_STR("kind", j->kind),
	                     LOG_STR("zone", zc->domain), LOG_STR("peer", j->peer),
	                     LOG_NUM("serial_from", from), LOG_NUM("serial", j->zone->serial),
	                     LOG_NUM("records", j->zone->nrecords), LOG_NUM("changed", j->changed),
	                     LOG_NUM("ms", j->ms), LOG_STR("result", accepted ? "accepted" : "ok"),
	                     LOG_STR("transport", j->over[0] ? "tls" : "tcp")),
	          "%s %s from %s%s: serial %u -> %u, %s in %lld ms%s, finished", j->kind,
	          zc->domain, j->peer, j->over, from, j->zone->serial, what, (long long)j->ms,
	          accepted ? ", held, then accepted by the operator" : "");
	zonemd_seen(z, j, j->zone->serial, now);
	server_publish(z, j->zone);
	j->zone = NULL;
	/* A backup tells its own backups. */
	notify_out(s, zc, z->slot->zone);
	server_compact(s, z);
}

/* What a check says of the primaries' serials: the regression alarm, and following it. */
static void regression_seen(server_zone_t *z, const xfrin_job_t *j, time_t now)
{
	const conf_zone_t *zc = z->conf;
	const zone_t *cur = z->slot->zone;
	if (!j->lower || !cur) {
		if (!z->regressed)
			return;
		log_event(LOG_NOTICE, "regression",
		          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("primary", j->peer),
		                     LOG_NUM("serial", j->serial),
		                     LOG_NUM("ours", cur ? cur->serial : 0),
		                     LOG_STR("state", "over")),
		          "zone %s: serial regression over: %s has serial %u (ours %u)", zc->domain,
		          j->peer, j->serial, cur ? cur->serial : 0);
		z->regressed = false;
		z->regressed_since = 0;
		z->regressed_serial = 0;
		z->regressed_primary[0] = 0;
		z->regressed_checks = 0;
		return;
	}
	bool follow = zc->serial_regression == CONF_REGRESSION_FOLLOW;
	if (!z->regressed || z->regressed_serial != j->lower_serial) {
		z->regressed = true;
		z->regressed_since = now;
		z->regressed_serial = j->lower_serial;
		z->regressed_checks = 0;
		copy_text(z->regressed_primary, sizeof(z->regressed_primary), j->lower_peer);
		log_event(LOG_WARNING, "regression",
		          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("primary", j->lower_peer),
		                     LOG_NUM("serial", j->lower_serial),
		                     LOG_NUM("ours", cur->serial), LOG_STR("state", "alarm")),
		          "zone %s: SERIAL REGRESSION: %s has serial %u, older than ours %u "
		          "(RFC 1982); %s",
		          zc->domain, j->lower_peer, j->lower_serial, cur->serial,
		          follow ? "serial-regression follow takes it once every primary has shown "
		                   "it for serial-regression-hold"
		                 : "keeping ours (serial-regression alarm)");
	}
	z->regressed_checks = j->lower_all ? z->regressed_checks + 1 : 0;
	time_t hold_s =
	    zc->serial_regression_hold ? zc->serial_regression_hold : (time_t)z->refresh;
	if (!follow || z->regressed_checks < 2 || now - z->regressed_since < hold_s)
		return;
	if (z->held && z->held_serial == j->lower_serial)
		return; /* taken already, and held by the change guard: ctl accept decides */
	log_event(LOG_WARNING, "regression",
	          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("primary", j->lower_peer),
	                     LOG_NUM("serial", j->lower_serial), LOG_NUM("ours", cur->serial),
	                     LOG_STR("state", "follow")),
	          "zone %s: following the serial regression: every primary has shown serial %u "
	          "in %u checks for %lld s; taking it by AXFR in place of ours %u",
	          zc->domain, j->lower_serial, z->regressed_checks,
	          (long long)(now - z->regressed_since), cur->serial);
	z->follow = true;
}

/* The change guard holds j's version: it is kept aside, the served one stays. */
static void hold(server_t *s, server_zone_t *z, xfrin_job_t *j, time_t now)
{
	const conf_zone_t *zc = z->conf;
	const zone_t *cur = z->slot->zone;
	drop_held(z, "dropped", "a newer change is held in its place");
	z->held = true;
	z->held_since = now;
	z->held_serial = j->zone->serial;
	copy_text(z->held_from, sizeof(z->held_from), j->peer);
	copy_text(z->held_why, sizeof(z->held_why), j->hold_why);
	z->held_job = j;
	log_event(LOG_WARNING, "held",
	          LOG_FIELDS(LOG_STR("direction", "in"), LOG_STR("kind", j->kind),
	                     LOG_STR("zone", zc->domain), LOG_STR("peer", j->peer),
	                     LOG_NUM("serial", j->zone->serial), LOG_NUM("ours", cur->serial),
	                     LOG_STR("state", "held"), LOG_STR("reason", j->hold_why)),
	          "%s %s from %s%s: serial %u -> %u, %zu records in %lld ms, HELD by the change "
	          "guard: %s; serial %u goes on serving until `ctl accept %s` or `ctl reject %s`",
	          j->kind, zc->domain, j->peer, j->over, cur->serial, j->zone->serial,
	          j->zone->nrecords, (long long)j->ms, j->hold_why, cur->serial, zc->domain,
	          zc->domain);
	zonemd_seen(z, j, j->zone->serial, now);
	save_timers(s, z, cur->serial);
}

/* A job that ran a transfer (j->kind is set when one starts) adds to the zone's counters. */
static void count_in(server_zone_t *z, const xfrin_job_t *j, int result)
{
	if (j->kind)
		server_count_xfr(z, SERVER_XFR_IN,
		                 strcmp(j->kind, "IXFR") ? SERVER_XFR_AXFR : SERVER_XFR_IXFR,
		                 result);
}

static void finish(server_t *s, server_zone_t *z, xfrin_job_t *j)
{
	time_t now = clock_now();
	pthread_join(j->thread, NULL);
	z->busy = false;
	s->xfrin_jobs--;
	j->gen->xfrin_per_primary[j->slot]--;
	const conf_zone_t *zc = z->conf;
	/* The primary's serial is news for the fleet before we have it, or if we cannot take it. */
	if (j->has_serial)
		fleetmon_seen(z, j->serial);
	if (j->outcome == JOB_NEW && z->slot->zone && j->current != z->slot->zone) {
		/* Another version was published while this job ran (ctl accept): its change
		 * starts from one no longer served. Asked again, from the new one. */
		log_debug("zone %s: serial %u came for a version no longer served; checking again",
		          zc->domain, j->zone->serial);
		zone_unref(j->zone);
		j->zone = NULL;
		j->outcome = JOB_FAILED;
		z->again = true;
		job_free(j);
		goto again;
	}
	if (j->outcome == JOB_NEW) {
		bool held = j->hold && z->slot->zone;
		count_in(z, j, held ? SERVER_XFR_HELD : SERVER_XFR_OK);
		if (j->zone->serial != z->rejected_serial)
			z->rejected = false;
		refreshed(z, held ? z->slot->zone : j->zone, j, now);
		if (held) {
			if (!j->follow) /* a held follow leaves the regression as it was */
				regression_seen(z, j, now);
			hold(s, z, j, now);
			goto again; /* the job is kept, as held_job */
		}
		drop_held(z, "dropped", "a later change passes the guard and is published");
		publish_new(s, z, j, now, false);
		/* Against the serial now served: a primary still behind it is a regression. */
		regression_seen(z, j, now);
	} else if (j->outcome == JOB_UPTODATE) {
		/* Expired while the check ran? The primary just vouched for our copy again. */
		if (!z->slot->zone) {
			zone_ref(j->current);
			server_publish(z, j->current);
		}
		refreshed(z, z->slot->zone, j, now);
		if (serial_cmp(j->serial, z->slot->zone->serial) < 0)
			log_event(LOG_INFO, "refresh",
			          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("peer", j->peer),
			                     LOG_NUM("serial", j->serial),
			                     LOG_NUM("ours", z->slot->zone->serial),
			                     LOG_STR("result", "older")),
			          "zone %s: %s has serial %u, older than ours %u; keeping ours",
			          zc->domain, j->peer, j->serial, z->slot->zone->serial);
		else if (j->skipped)
			log_info("zone %s: %s has serial %u, which %s; serial %u goes on serving",
			         zc->domain, j->peer, j->serial,
			         z->held && j->serial == z->held_serial
			             ? "the change guard holds"
			             : "the operator rejected (ctl reject)",
			         z->slot->zone->serial);
		else
			log_event(LOG_INFO, "refresh",
			          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("peer", j->peer),
			                     LOG_NUM("serial", j->serial),
			                     LOG_STR("result", "up-to-date")),
			          "zone %s: %s has serial %u, up to date", zc->domain, j->peer,
			          j->serial);
		regression_seen(z, j, now);
		save_timers(s, z, z->slot->zone->serial);
	} else {
		count_in(z, j, SERVER_XFR_FAILED);
		snprintf(z->error, sizeof(z->error), "%s",
		         j->error[0] ? j->error : "no primary could be reached");
		z->error_at = now;
		if (j->zonemd_failed)
			zonemd_seen(z, j, j->serial, now);
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
		log_event(LOG_WARNING, "refresh",
		          LOG_FIELDS(LOG_STR("zone", zc->domain), LOG_STR("result", "failed"),
		                     LOG_STR("error", z->error), LOG_NUM("failures", z->failures),
		                     LOG_NUM("retry_s", z->next_refresh - now)),
		          "zone %s: refresh failed (%s), next try in %lld s", zc->domain, z->error,
		          (long long)(z->next_refresh - now));
		if (z->slot->zone)
			save_timers(s, z, z->slot->zone->serial);
	}
	job_free(j);
again:
	if (z->follow || z->again) {
		bool force = z->follow;
		z->again = false;
		xfrin_start(s, z, force, force ? -1 : z->again_first);
	}
}

/* RFC 1035 4.3.5 / 3.3.13: past expire, the copy is no longer authoritative. Unless the
 * operator chose to keep serving it (expire-policy keep-serving), loudly: EDE 3 on every
 * answer, EXPIRE 0, an error in the log and zone-status, degraded health. */
static void expire(server_zone_t *z)
{
	time_t now = time(NULL);
	const zone_t *cur = z->slot->zone;
	if (z->conf->expire_policy == CONF_EXPIRE_KEEP_SERVING && cur) {
		z->stale = true;
		z->stale_since = now;
		__atomic_store_n(&z->slot->stale, 1, __ATOMIC_RELAXED);
		snprintf(z->error, sizeof(z->error), "expired; serving serial %u stale",
		         cur->serial);
		z->error_at = now;
		log_event(
		    LOG_ERR, "expire",
		    LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("state", "stale"),
		               LOG_STR("policy", "keep-serving"), LOG_NUM("serial", cur->serial)),
		    "zone %s: EXPIRED: no primary answered for longer than the expire interval; "
		    "serving serial %u past its expiry (expire-policy keep-serving), every "
		    "answer with Extended DNS Error 3 (Stale Answer), until a primary answers",
		    z->conf->domain, cur->serial);
		return;
	}
	log_event(LOG_ERR, "expire",
	          LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("state", "expired"),
	                     LOG_STR("policy", "servfail"),
	                     LOG_NUM("serial", cur ? cur->serial : 0)),
	          "zone %s: EXPIRED: no primary answered for longer than the expire interval; "
	          "answering SERVFAIL until a transfer succeeds",
	          z->conf->domain);
	z->expired = true;
	snprintf(z->error, sizeof(z->error), "expired");
	z->error_at = now;
	drop_held(z, "dropped", "the zone expired");
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
	bool expired = t.expire_at && (time_t)t.expire_at <= now;
	if (expired && z->conf->expire_policy != CONF_EXPIRE_KEEP_SERVING) {
		log_event(LOG_ERR, "expire",
		          LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("state", "expired"),
		                     LOG_STR("policy", "servfail"),
		                     LOG_NUM("serial", saved->serial)),
		          "zone %s: the stored copy (serial %u) expired while we were down; "
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
	if (expired) {
		z->stale = true;
		z->stale_since = (time_t)t.expire_at;
		__atomic_store_n(&z->slot->stale, 1, __ATOMIC_RELAXED);
		snprintf(z->error, sizeof(z->error), "expired; serving serial %u stale",
		         saved->serial);
		z->error_at = now;
		log_event(
		    LOG_ERR, "expire",
		    LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("state", "stale"),
		               LOG_STR("policy", "keep-serving"), LOG_NUM("serial", saved->serial)),
		    "zone %s: the stored copy (serial %u) expired while we were down; serving "
		    "it past its expiry (expire-policy keep-serving), every answer with Extended "
		    "DNS Error 3 (Stale Answer), until a primary answers",
		    z->conf->domain, saved->serial);
	} else {
		log_info("zone %s: serving stored serial %u, expires in %lld s", z->conf->domain,
		         saved->serial, (long long)(z->expire_at - now));
	}
	server_publish(z, saved);
}

int xfrin_tick(server_t *s)
{
	time_t now = clock_now();
	time_t next = now + 3600;
	size_t n = s->conf->nzones;
	/* Finished jobs first, so their slots are free for the zones that wait. */
	for (size_t i = 0; i < n; i++) {
		xfrin_job_t *j = atomic_exchange(&s->zones[i]->done, NULL);
		if (j)
			finish(s, s->zones[i], j);
	}
	/* From where the last full pass stopped, so that when transfers-in is the limit every
	 * zone gets its turn. A zone that must wait for a slot is left out of `next`: a job's
	 * end wakes this loop. */
	size_t start = n ? s->xfrin_cursor % n : 0, waiting = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		size_t i = (start + k) % n;
		server_zone_t *z = s->zones[i];
		if (z->conf->role != CONF_ROLE_SECONDARY)
			continue;
		int notified = atomic_exchange(&z->notified, NOTIFIED_NONE);
		if (notified != NOTIFIED_NONE) {
			uint64_t hint = atomic_exchange(&z->notify_hint, 0);
			z->has_hint = hint != 0;
			z->hint_serial = (uint32_t)hint;
			xfrin_start(s, z, false, notified - NOTIFIED_BY);
		}
		bool expiring = z->expire_at && !z->stale;
		if (expiring && now >= z->expire_at)
			expire(z);
		if (!z->busy && (z->queued || z->next_refresh <= now))
			xfrin_start(s, z, false, z->queued ? z->again_first : -1);
		if (z->queued && waiting == SIZE_MAX)
			waiting = i;
		if (!z->busy && !z->queued && z->next_refresh < next)
			next = z->next_refresh;
		if (expiring && z->expire_at && z->expire_at < next)
			next = z->expire_at;
	}
	if (waiting != SIZE_MAX)
		s->xfrin_cursor = waiting; /* the first zone left waiting goes first next time */
	/* Kept connections go when their time is up or the primary closed them, so none sits
	 * half-closed on our side. */
	int keep = connpool_reap(s->pool, net_now_ms());
	int wait = next <= now ? 0 : (int)(next - now) * 1000;
	return keep >= 0 && keep < wait ? keep : wait;
}

int xfrin_accept(server_t *s, server_zone_t *z, char *msg, size_t len)
{
	xfrin_job_t *h = z->held_job;
	if (!h) {
		snprintf(msg, len, "%s: no change is held", z->conf->domain);
		return US_ENOENT;
	}
	if (z->slot->zone != h->current) {
		/* Cannot be while the invariant holds (a publish drops what is held); refuse
		 * rather than journal a change from a version not served. */
		snprintf(msg, len, "%s: the held change no longer starts from the served version",
		         z->conf->domain);
		drop_held(z, "dropped", "the served version changed");
		return US_EINVAL;
	}
	time_t now = time(NULL);
	uint32_t serial = h->zone->serial;
	z->held_job = NULL;
	z->held = false;
	log_event(LOG_NOTICE, "held",
	          LOG_FIELDS(LOG_STR("zone", z->conf->domain), LOG_STR("peer", z->held_from),
	                     LOG_NUM("serial", serial), LOG_STR("state", "accepted")),
	          "zone %s: the held change to serial %u from %s is accepted by the operator",
	          z->conf->domain, serial, z->held_from);
	uint32_t refresh, retry, exp;
	soa_timers(h->zone, &refresh, &retry, &exp);
	z->refresh = clamp(refresh, z->conf->refresh_min, z->conf->refresh_max);
	z->retry = clamp(retry, z->conf->retry_min, z->conf->retry_max);
	publish_new(s, z, h, now, true);
	bool ok = z->slot->zone && z->slot->zone->serial == serial;
	z->held_since = 0;
	z->held_serial = 0;
	z->held_from[0] = z->held_why[0] = 0;
	job_free(h);
	if (!ok) {
		snprintf(msg, len, "%s: serial %u cannot be stored: %s", z->conf->domain, serial,
		         z->error);
		return US_EINVAL;
	}
	snprintf(msg, len, "%s: serial %u accepted and published", z->conf->domain, serial);
	return 0;
}

int xfrin_reject(server_t *s, server_zone_t *z, char *msg, size_t len)
{
	(void)s;
	if (!z->held_job) {
		snprintf(msg, len, "%s: no change is held", z->conf->domain);
		return US_ENOENT;
	}
	uint32_t serial = z->held_serial;
	z->rejected = true;
	z->rejected_serial = serial;
	drop_held(z, "rejected",
	          "rejected by the operator; not taken again until the primary's "
	          "serial moves on (or ctl retransfer)");
	snprintf(msg, len, "%s: serial %u rejected; serial %u goes on serving", z->conf->domain,
	         serial, z->slot->zone ? z->slot->zone->serial : 0);
	return 0;
}

void xfrin_shutdown(server_t *s)
{
	atomic_store(&net_cancel, true);
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *z = s->zones[i];
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
		/* What the guard held lives in memory only: a restart transfers it again, and
		 * the guard holds it again. */
		if (z->held_job) {
			zone_unref(z->held_job->zone);
			job_free(z->held_job);
			z->held_job = NULL;
		}
	}
}

bool xfrin_idle(server_zone_t *z)
{
	xfrin_job_t *j = atomic_exchange(&z->done, NULL);
	if (j) {
		pthread_join(j->thread, NULL);
		j->s->xfrin_jobs--;
		j->gen->xfrin_per_primary[j->slot]--;
		zone_unref(j->zone);
		job_free(j);
		z->busy = false;
	}
	if (z->held_job) {
		zone_unref(z->held_job->zone);
		job_free(z->held_job);
		z->held_job = NULL;
	}
	return !z->busy;
}
