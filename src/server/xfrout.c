/* SPDX-License-Identifier: MIT */
/* xfrout: transfers out: requests checked against TSIG and the zone's rules, pinned versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu.h>

#include "acl.h"
#include "error.h"
#include "shield.h"
#include "log.h"
#include "net.h"
#include "serial.h"
#include "store.h"
#include "tsig.h"
#include "wire.h"
#include "xfr.h"
#include "xfrout.h"
#include "zonediff.h"

struct xfrout {
	server_t *s;
	server_gen_t *gen; /* held: key lives in its keys (and its secret in its conf) */
	zone_t *zone;      /* pinned: one reference, dropped by xfrout_free */
	xfr_out_t enc;
	const tsig_key_t *key;     /* NULL when the request was unsigned */
	uint8_t mac[TSIG_MAC_MAX]; /* the MAC the next signature covers: the request's, then
	                            * each message's in turn */
	size_t mac_len;
	bool timers_only; /* every message after the first (RFC 8945 5.3.1) */
	bool ended;       /* finished or failed, and logged */
	const char *kind; /* "AXFR" or "IXFR" */
	uint32_t from;    /* IXFR: the client's serial */
	/* IXFR over TCP: the journal is read on the first xfrout_next, outside the RCU read
	 * section xfrout_begin runs in; until then the request and options wait here. */
	bool journal_pending;
	xfr_request_t req;
	xfr_out_opts_t opts;
	arena_t arena;    /* the condensed diff */
	bool incremental; /* the diff is what goes out */
	uint64_t changed; /* its records */
	char why[160];    /* why an IXFR goes out as a whole zone */
	int64_t start_ms;
	uint8_t zone_apex[DNAME_MAXLEN];
	char zone_name[CONF_DNAME_MAX * 4 + 2];
	char peer[80];
	const char *over;  /* " over TLS", or "" over TCP */
	int slot;          /* its place in the caps on transfers out (shield_xfr_begin) */
	server_zone_t *sz; /* whose counters it adds to when it ends */
};

/* What went out, for the zone's counters: the whole zone, or its changes. */
static void count_end(const xfrout_t *x, int result)
{
	server_count_xfr(x->sz, SERVER_XFR_OUT, x->incremental ? SERVER_XFR_IXFR : SERVER_XFR_AXFR,
	                 result);
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	conf_addr_t a = {.ss = *ss};
	conf_addr_str(&a, buf, len);
}

static const char *key_text(const server_gen_t *g, int key)
{
	return key >= 0 ? g->conf->keys[key].id : "none";
}

/* Signs the answer in resp[0..len) to a request verified with v; returns the new length. */
static size_t sign_answer(const tsig_key_t *k, const tsig_verify_t *v, uint8_t *resp, size_t len,
                          size_t cap)
{
	size_t out;
	if (tsig_sign(k, resp, len, cap, v->mac, v->mac_len, false, (uint64_t)time(NULL),
	              TSIG_FUDGE_DEFAULT, &out, NULL, NULL) != 0)
		return len; /* no room or no memory: unsigned, which the client will reject */
	return out;
}

/* An error answer with no records, signed when the request was validly signed. */
static size_t error_answer(const xfr_request_t *req, uint16_t rcode, uint16_t extra,
                           const tsig_key_t *k, const tsig_verify_t *v, uint8_t *resp, size_t cap)
{
	int n = xfr_out_error(req, rcode, extra, resp, cap);
	if (n < 0)
		return 0;
	return k ? sign_answer(k, v, resp, (size_t)n, cap) : (size_t)n;
}

int xfrout_begin(server_t *s, const uint8_t *q, size_t qlen, const struct sockaddr_storage *peer,
                 bool tcp, uint8_t *resp, size_t cap, size_t *len, answer_info_t *info,
                 xfrout_t **out)
{
	return xfrout_begin_over(s, q, qlen, peer, tcp, NULL, resp, cap, len, info, out);
}

int xfrout_begin_over(server_t *s, const uint8_t *q, size_t qlen,
                      const struct sockaddr_storage *peer, bool tcp, const char *transport,
                      uint8_t *resp, size_t cap, size_t *len, answer_info_t *info, xfrout_t **out)
{
	xfr_request_t req;
	int ret = xfr_request_parse(q, qlen, &req);
	if (ret == XFR_NOT_REQUEST || (ret == 0 && !tcp && req.qtype == WIRE_T_AXFR))
		return XFROUT_QUERY;
	*out = NULL;
	*len = 0;
	info->opcode = WIRE_OPCODE_QUERY;
	info->qtype = req.qtype;
	const char *kind = req.qtype == WIRE_T_AXFR ? "AXFR" : "IXFR";
	char addr[64], from[80], name[DNAME_TEXT_MAX];
	peer_text(peer, addr, sizeof(addr));
	/* Every line of this request says how it travels. */
	snprintf(from, sizeof(from), "%s%s%s", addr, transport ? " over " : "",
	         transport ? transport : "");
	/* Without the final dot, as zone names are written in the configuration and logs. */
	int nt = dname_to_text(req.lname, name, sizeof(name));
	if (nt < 0)
		snprintf(name, sizeof(name), "?");
	else if (nt > 1 && name[nt - 1] == '.')
		name[nt - 1] = 0;

	uint16_t rcode = WIRE_RCODE_FORMERR, terr = 0;
	tsig_verify_t v = {0};
	tsig_rr_t rr;
	const tsig_key_t *k = NULL;
	uint64_t now = (uint64_t)time(NULL);
	/* Loaded once, so keys, their count, the acls and the zone table are of one
	 * configuration (the caller is in an RCU read section). */
	server_gen_t *g = rcu_dereference(s->gen);
	int key = ret ? ACL_TSIG_MALFORMED
	              : acl_check_tsig(g->keys, g->conf->nkeys, q, qlen, now, &v, &rr, &terr);
	if (key == ACL_TSIG_MALFORMED) {
		shield_log(LOG_NOTICE, "%s for %s from %s: malformed request, FORMERR", kind, name,
		           from);
		*len = error_answer(&req, rcode, 0, NULL, NULL, resp, cap);
		goto done;
	}
	if (key == ACL_TSIG_BAD) {
		rcode = WIRE_RCODE_NOTAUTH;
		server_count_tsig_failure(s);
		shield_log(LOG_WARNING, "%s %s to %s: TSIG error %u (key %s), NOTAUTH", kind, name,
		           from, terr, v.key ? key_text(g, (int)(v.key - g->keys)) : "unknown");
		int n = xfr_out_error(&req, rcode, 0, resp, cap);
		/* Unsigned for BADKEY and BADSIG, signed for BADTIME (RFC 8945 5.3.2). */
		if (n > 0 && tsig_answer_error(v.key, &rr, terr, resp, (size_t)n, cap, now, len))
			*len = (size_t)n;
		goto done;
	}
	if (key >= 0)
		k = &g->keys[key];
	if (req.edns && req.edns_version != 0) {
		rcode = WIRE_RCODE_BADVERS;
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}

	uint8_t offs[DNAME_MAXLABELS];
	int nl = dname_label_offsets(req.lname, offs);
	zonedb_slot_t *slot = zonedb_find(g->db, req.lname, req.lname_len, offs, nl, 0);
	if (!slot || slot->apex_len != req.lname_len) {
		rcode = WIRE_RCODE_NOTAUTH;
		shield_log(LOG_NOTICE, "%s for %s from %s: not a zone of ours, NOTAUTH", kind, name,
		           from);
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}
	const conf_zone_t *zc = server_gen_zone(g, slot);
	const char *zname = zc->domain;
	if (req.qtype == WIRE_T_IXFR && !req.has_soa) {
		shield_log(LOG_NOTICE, "IXFR %s to %s: no SOA in the request, FORMERR", zname,
		           from);
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}
	int proto = transport ? CONF_PROTO_TLS : tcp ? CONF_PROTO_TCP : CONF_PROTO_UDP;
	if (!acl_allows_over(g->conf, zc, peer, key, CONF_ACTION_TRANSFER, proto)) {
		rcode = WIRE_RCODE_REFUSED;
		shield_log(LOG_WARNING, "%s %s to %s: refused by the zone's rules (key %s)", kind,
		           zname, from, key_text(g, key));
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}
	zone_t *cur = zonedb_zone(slot);
	if (!cur) {
		rcode = WIRE_RCODE_SERVFAIL;
		shield_log(LOG_NOTICE, "%s %s to %s: no copy of the zone to serve, SERVFAIL", kind,
		           zname, from);
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}

	rcode = WIRE_RCODE_NOERROR;
	xfr_out_opts_t opts = {
	    .edns_udp = s->answer.max_udp,
	    .expire = req.expire,
	    .expire_val = req.expire ? answer_expire(&s->answer, slot, cur) : 0,
	    .reserve = k ? tsig_space(k) : 0,
	    /* RFC 7828 3.3.2: over a stream, the idle timeout the connection has, so a
	     * secondary keeps it for its next transfer; in 100 ms units. */
	    .keepalive = tcp,
	    .keepalive_val =
	        (uint16_t)(10 * (transport && g->conf->tls ? g->conf->tls->idle_timeout
	                                                   : g->conf->tcp_idle_timeout)),
	};
	bool uptodate = req.qtype == WIRE_T_IXFR && serial_cmp(req.serial, cur->serial) >= 0;
	if (req.qtype == WIRE_T_IXFR && (uptodate || !tcp)) {
		/* Over UDP only what fits the client's buffer, or TC to send it to TCP. */
		size_t room = tcp ? cap : WIRE_MAX_UDP_STD;
		if (!tcp && req.edns && req.udp_size > room)
			room = req.udp_size < s->answer.max_udp ? req.udp_size : s->answer.max_udp;
		room = room < cap ? room : cap;
		opts.soa_only = true;
		xfr_out_t enc;
		xfr_out_init(&enc, cur, &req, &opts);
		if (xfr_out_next(&enc, resp, room, len) < 0) {
			*len = error_answer(&req, rcode, WIRE_AA | WIRE_TC, k, &v, resp, room);
			goto done;
		}
		if (k)
			*len = sign_answer(k, &v, resp, *len, room);
		if (uptodate)
			shield_log(LOG_INFO, "IXFR %s to %s: serial %u, up to date", zname, from,
			           cur->serial);
		else
			shield_log(LOG_INFO,
			           "IXFR %s to %s over UDP: serial %u -> %u, answered with the SOA "
			           "alone",
			           zname, from, req.serial, cur->serial);
		goto done;
	}

	/* The caps keep a flood of transfer requests from taking the TCP workers (and the
	 * memory of their buffers) away from the queries. */
	int xslot = -1;
	bool total;
	if (!shield_xfr_begin(s->shield, peer, &xslot, &total)) {
		rcode = WIRE_RCODE_REFUSED;
		shield_log(LOG_WARNING, "%s %s to %s: refused, %s", kind, zname, from,
		           total ? "the most transfers out (transfers-out) are under way"
		                 : "the most transfers out to this address "
		                   "(transfers-out-per-address) are under way");
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}
	xfrout_t *x = calloc(1, sizeof(*x));
	if (!x) {
		shield_xfr_end(s->shield, xslot);
		rcode = WIRE_RCODE_SERVFAIL;
		log_error("%s %s to %s: out of memory, SERVFAIL", kind, zname, from);
		*len = error_answer(&req, rcode, 0, k, &v, resp, cap);
		goto done;
	}
	x->slot = xslot;
	/* Pinned inside the read section this version was found in: it outlives a publication
	 * of a newer one, which never waits for us. */
	zone_ref(cur);
	x->s = s;
	x->gen = g;
	atomic_fetch_add(&g->refs, 1);
	x->zone = cur;
	x->sz = slot->user;
	atomic_fetch_add(&x->sz->xfr_out, 1);
	arena_init(&x->arena);
	if (req.qtype == WIRE_T_IXFR && s->store) {
		x->journal_pending = true;
		x->req = req;
		x->opts = opts;
		memcpy(x->zone_apex, slot->apex, slot->apex_len);
	} else {
		snprintf(x->why, sizeof(x->why), "no history kept");
	}
	xfr_out_init(&x->enc, cur, &req, &opts);
	x->key = k;
	if (k) {
		memcpy(x->mac, v.mac, v.mac_len);
		x->mac_len = v.mac_len;
	}
	x->kind = kind;
	x->from = req.serial;
	x->start_ms = net_now_ms();
	snprintf(x->zone_name, sizeof(x->zone_name), "%s", zname);
	snprintf(x->peer, sizeof(x->peer), "%s", addr);
	x->over = transport ? " over TLS" : "";
	*out = x;
	info->rcode = (uint8_t)rcode;
	tsig_verify_deinit(&v);
	return XFROUT_STREAM;
done:
	info->rcode = (uint8_t)rcode;
	tsig_verify_deinit(&v);
	return XFROUT_ANSWER;
}

/*
 * "serial N" for an AXFR; "serial A -> B, N records changed" for an IXFR from the journal;
 * "serial A -> B as a full zone (why)" for an IXFR answered in full.
 */
/* The fields of a transfer out's event (log.h): the same for its end, whole or cut. */
#define XFROUT_FIELDS(x, result, why)                                                              \
	LOG_FIELDS(LOG_STR("direction", "out"), LOG_STR("kind", (x)->kind),                        \
	           LOG_STR("zone", (x)->zone_name), LOG_STR("peer", (x)->peer),                    \
	           LOG_NUM("serial_from", (x)->kind[0] == 'I' ? (x)->from : 0),                    \
	           LOG_NUM("serial", (x)->zone->serial), LOG_NUM("records", (x)->enc.records),     \
	           LOG_NUM("messages", (x)->enc.messages),                                         \
	           LOG_NUM("ms", net_now_ms() - (x)->start_ms), LOG_STR("result", (result)),       \
	           LOG_STR("error", (why)), LOG_STR("transport", (x)->over[0] ? "tls" : "tcp"))

static void serials_text(const xfrout_t *x, char *buf, size_t len)
{
	if (x->kind[0] != 'I')
		snprintf(buf, len, "serial %u", x->zone->serial);
	else if (x->incremental)
		snprintf(buf, len, "serial %u -> %u, %llu records changed", x->from,
		         x->zone->serial, (unsigned long long)x->changed);
	else
		snprintf(buf, len, "serial %u -> %u as a full zone (%s)", x->from, x->zone->serial,
		         x->why);
}

/*
 * Looks up the client's serial in the journal and, when the condensed difference is smaller
 * than the zone, switches the stream to it (RFC 1995 4: otherwise the whole zone goes).
 */
static void use_journal(xfrout_t *x)
{
	const zone_t *z = x->zone;
	zone_changeset_t cs;
	char err[200];
	/* A chain with twice the zone's records will hardly condense below the zone. */
	int ret =
	    store_journal_read(x->s->store, x->zone_apex, x->from, z->serial,
	                       2 * (uint64_t)z->nrecords + 2, &x->arena, &cs, err, sizeof(err));
	if (ret) {
		snprintf(x->why, sizeof(x->why), "%.150s", err);
		if (ret != US_ENOENT && ret != US_ELIMIT)
			log_warning("IXFR %s to %s: the journal cannot be read: %s", x->zone_name,
			            x->peer, err);
		return;
	}
	uint64_t changed = zonediff_size(cs.first);
	if (changed >= z->nrecords) {
		snprintf(x->why, sizeof(x->why), "%llu records changed, the zone has %zu",
		         (unsigned long long)changed, z->nrecords);
		return;
	}
	x->incremental = true;
	x->changed = changed;
	xfr_out_init_ixfr(&x->enc, z, cs.first, &x->req, &x->opts);
}

int xfrout_next(xfrout_t *x, uint8_t *buf, size_t *len)
{
	size_t n;
	if (x->journal_pending) {
		x->journal_pending = false;
		use_journal(x);
	}
	int ret = xfr_out_next(&x->enc, buf, WIRE_MAX_MSG, &n);
	if (ret >= 0 && x->key) {
		uint8_t mac[TSIG_MAC_MAX];
		size_t mac_len;
		int sret =
		    tsig_sign(x->key, buf, n, WIRE_MAX_MSG, x->mac, x->mac_len, x->timers_only,
		              (uint64_t)time(NULL), TSIG_FUDGE_DEFAULT, &n, mac, &mac_len);
		if (sret) {
			ret = sret;
		} else {
			memcpy(x->mac, mac, mac_len);
			x->mac_len = mac_len;
			x->timers_only = true;
		}
	}
	char serials[256];
	serials_text(x, serials, sizeof(serials));
	if (ret < 0) {
		x->ended = true;
		count_end(x, SERVER_XFR_FAILED);
		const char *why =
		    ret == US_ELIMIT ? "a record too big for a message" : us_strerror(ret);
		log_event(LOG_ERR, "transfer", XFROUT_FIELDS(x, "failed", why),
		          "%s %s to %s%s: %s, cut short after %llu records: message %llu: %s",
		          x->kind, x->zone_name, x->peer, x->over, serials,
		          (unsigned long long)x->enc.records,
		          (unsigned long long)x->enc.messages + 1, why);
		return ret;
	}
	*len = n;
	if (ret == XFR_DONE) {
		x->ended = true;
		count_end(x, SERVER_XFR_OK);
		log_event(LOG_INFO, "transfer", XFROUT_FIELDS(x, "ok", ""),
		          "%s %s to %s%s: %s, %llu records, %llu messages in %lld ms, finished",
		          x->kind, x->zone_name, x->peer, x->over, serials,
		          (unsigned long long)x->enc.records, (unsigned long long)x->enc.messages,
		          (long long)(net_now_ms() - x->start_ms));
	}
	return ret;
}

void xfrout_free(xfrout_t *x)
{
	if (!x)
		return;
	if (!x->ended) {
		count_end(x, SERVER_XFR_FAILED);
		char serials[256];
		serials_text(x, serials, sizeof(serials));
		log_event(LOG_WARNING, "transfer", XFROUT_FIELDS(x, "cut", "the connection ended"),
		          "%s %s to %s%s: %s, cut short after %llu records in %llu messages, "
		          "%lld ms: the connection ended",
		          x->kind, x->zone_name, x->peer, x->over, serials,
		          (unsigned long long)x->enc.records, (unsigned long long)x->enc.messages,
		          (long long)(net_now_ms() - x->start_ms));
	}
	atomic_fetch_sub(&x->sz->xfr_out, 1);
	shield_xfr_end(x->s->shield, x->slot);
	zone_unref(x->zone);
	server_gen_unref(x->gen);
	arena_deinit(&x->arena);
	free(x);
}
