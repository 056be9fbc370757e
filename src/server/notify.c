/* SPDX-License-Identifier: MIT */
/* notify: NOTIFY messages in (RFC 1996), answered by the workers, handed to the zone manager. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <urcu.h>

#include "acl.h"
#include "shield.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "xfr.h"
#include "tsig.h"
#include "wire.h"

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s@%u", a, port);
}

/* The fields of a NOTIFY's events (log.h), in and out. */
#define NOTIFY_IN_FIELDS(result, why)                                                              \
	LOG_FIELDS(LOG_STR("direction", "in"), LOG_STR("zone", zname), LOG_STR("peer", from),      \
	           LOG_STR("result", (result)), LOG_STR("error", (why)))
#define NOTIFY_OUT_FIELDS(result, why)                                                             \
	LOG_FIELDS(LOG_STR("direction", "out"), LOG_STR("zone", j->zone->domain),                  \
	           LOG_STR("peer", peer), LOG_NUM("serial", j->serial),                            \
	           LOG_STR("result", (result)), LOG_STR("error", (why)))

size_t notify_answer(server_t *s, const uint8_t *q, size_t qlen,
                     const struct sockaddr_storage *addr, uint8_t *resp)
{
	if (qlen < WIRE_HDR_LEN || (wire_read16(q + WIRE_FLAGS) & WIRE_QR))
		return 0;
	memset(resp, 0, WIRE_HDR_LEN);
	memcpy(resp, q, 2);
	uint16_t flags = WIRE_QR | (uint16_t)(WIRE_OPCODE_NOTIFY << 11);
	size_t len = WIRE_HDR_LEN;
	uint8_t rcode = WIRE_RCODE_FORMERR;
	tsig_verify_t v = {0};
	tsig_rr_t rr;
	uint16_t terr = 0;
	int key = -1;
	/* Loaded once, so keys, their count, the acls and the zone table are of one
	 * configuration (the caller is in an RCU read section). */
	const server_gen_t *g = rcu_dereference(s->gen);

	uint8_t name[DNAME_MAXLEN], lname[DNAME_MAXLEN], offs[DNAME_MAXLABELS];
	size_t nlen, pos = WIRE_HDR_LEN;
	if (wire_read16(q + WIRE_QDCOUNT) != 1 || dname_unpack(q, qlen, &pos, name, &nlen) < 0 ||
	    pos + 4 > qlen || wire_read16(q + pos + 2) != WIRE_CLASS_IN)
		goto out;
	/* The question, uncompressed, is echoed (RFC 1996 3.7). */
	memcpy(resp + len, name, nlen);
	memcpy(resp + len + nlen, q + pos, 4);
	len += nlen + 4;
	wire_write16(resp + WIRE_QDCOUNT, 1);

	dname_lower(lname, name, nlen);
	int nl = dname_label_offsets(lname, offs);
	const zonedb_slot_t *slot = zonedb_find(g->db, lname, nlen, offs, nl, 0);
	char from[80], zname[DNAME_TEXT_MAX];
	addr_text(addr, from, sizeof(from));
	dname_to_text(lname, zname, sizeof(zname));
	if (!slot || slot->apex_len != nlen) {
		rcode = WIRE_RCODE_NOTAUTH;
		if (shield_log_allow())
			log_event(LOG_NOTICE, "notify",
			          NOTIFY_IN_FIELDS("refused", "not a zone of ours"),
			          "NOTIFY for %s from %s: not a zone of ours", zname, from);
		goto out;
	}
	server_zone_t *z = slot->user;
	const conf_zone_t *zc = server_gen_zone(g, slot);
	snprintf(zname, sizeof(zname), "%s", zc->domain); /* as the other log lines say it */
	key =
	    acl_check_tsig(g->keys, g->conf->nkeys, q, qlen, (uint64_t)time(NULL), &v, &rr, &terr);
	if (key == ACL_TSIG_MALFORMED)
		goto out;
	if (key == ACL_TSIG_BAD) {
		rcode = WIRE_RCODE_NOTAUTH;
		server_count_tsig_failure(s);
		if (shield_log_allow())
			log_event(LOG_WARNING, "notify",
			          NOTIFY_IN_FIELDS("refused", tsig_error_name(terr)),
			          "NOTIFY for %s from %s: TSIG error %s", zname, from,
			          tsig_error_name(terr));
		goto out;
	}
	if (!acl_allows(g->conf, zc, addr, key, CONF_ACTION_NOTIFY)) {
		rcode = WIRE_RCODE_REFUSED;
		if (shield_log_allow())
			log_event(
			    LOG_WARNING, "notify", NOTIFY_IN_FIELDS("refused", "the zone's rules"),
			    "NOTIFY for %s from %s: refused by the zone's rules", zname, from);
		goto out;
	}
	flags |= WIRE_AA;
	rcode = WIRE_RCODE_NOERROR;
	if (shield_log_allow())
		log_event(LOG_INFO, "notify", NOTIFY_IN_FIELDS("accepted", ""),
		          "NOTIFY for %s from %s", zname, from);
	/* The primary that says it has news is the one to ask first (knotd and PowerDNS do so). */
	int p = acl_primary_of(g->conf, zc, addr);
	atomic_store(&z->notified, p < 0 ? NOTIFIED_OTHER : NOTIFIED_BY + p);
	server_wake(s);
out:
	wire_write16(resp + WIRE_FLAGS, (uint16_t)(flags | rcode));
	size_t out = len;
	if (key == ACL_TSIG_BAD) {
		/* Unsigned for BADKEY and BADSIG, signed for BADTIME (RFC 8945 5.3.2). */
		const tsig_key_t *k = v.key;
		if (tsig_answer_error(k, &rr, terr, resp, len, 512, (uint64_t)time(NULL), &out))
			out = len;
	} else if (key >= 0) {
		uint8_t mac[TSIG_MAC_MAX];
		size_t mac_len;
		if (tsig_sign(&g->keys[key], resp, len, 512, v.mac, v.mac_len, false,
		              (uint64_t)time(NULL), TSIG_FUDGE_DEFAULT, &out, mac, &mac_len))
			out = len;
	}
	tsig_verify_deinit(&v);
	return out;
}

/* ---- NOTIFY out ---- */

#define SOA_RDATA_MAX (2 * DNAME_MAXLEN + 20)

typedef struct notify_job {
	server_t *s;
	server_gen_t *gen; /* held: zone and remote live in its conf, the key in its keys */
	const conf_zone_t *zone;
	const conf_remote_t *remote;
	uint32_t serial;
	uint32_t soa_ttl;
	uint16_t soa_len;
	uint8_t soa[SOA_RDATA_MAX];
} notify_job_t;

/* Puts the zone's SOA right after the question of the NOTIFY in q, in place of the SOA
 * query's OPT record, which a NOTIFY has no use for; returns the new length. */
static size_t put_soa(const notify_job_t *j, uint8_t *q)
{
	size_t len = WIRE_HDR_LEN + dname_len(q + WIRE_HDR_LEN) + 4;
	uint8_t *p = q + len;
	wire_write16(p, 0xC000 | WIRE_HDR_LEN);
	wire_write16(p + 2, WIRE_T_SOA);
	wire_write16(p + 4, WIRE_CLASS_IN);
	wire_write32(p + 6, j->soa_ttl);
	wire_write16(p + 10, j->soa_len);
	memcpy(p + 12, j->soa, j->soa_len);
	wire_write16(q + WIRE_ANCOUNT, 1);
	wire_write16(q + WIRE_ARCOUNT, 0);
	return len + 12 + j->soa_len;
}

/* Sends one NOTIFY to one address and reads the answer; 0 when it was answered. */
static int notify_send(notify_job_t *j, const conf_addr_t *to, const char *peer)
{
	const conf_remote_t *r = j->remote;
	const tsig_key_t *key = r->key >= 0 ? &j->gen->keys[r->key] : NULL;
	uint8_t q[2048], a[4096], mac[TSIG_MAC_MAX];
	size_t mac_len = 0, len;
	uint16_t id = (uint16_t)arc4random();
	int n = xfr_build_soa_query(q, sizeof(q), id, j->zone->name);
	if (n < 0)
		return n;
	wire_write16(q + WIRE_FLAGS, (uint16_t)(WIRE_OPCODE_NOTIFY << 11 | WIRE_AA));
	len = put_soa(j, q);
	if (key && tsig_sign(key, q, len, sizeof(q), NULL, 0, false, (uint64_t)time(NULL),
	                     TSIG_FUDGE_DEFAULT, &len, mac, &mac_len))
		return US_EINVAL;
	n = net_udp_exchange(to, r->has_via ? &r->via : NULL, q, len, a, sizeof(a),
	                     net_now_ms() + 2000);
	if (n < WIRE_HDR_LEN)
		return n < 0 ? n : US_EMALF;
	if (key) {
		tsig_verify_t v;
		uint16_t terr = 0;
		size_t stripped;
		tsig_verify_init(&v, key, mac, mac_len);
		int ret = tsig_verify_msg(&v, a, (size_t)n, (uint64_t)time(NULL), &terr, &stripped);
		uint16_t peer_error = v.peer_error;
		tsig_verify_deinit(&v);
		if (ret != 0) {
			server_count_tsig_failure(j->s);
			const char *why = tsig_error_name(peer_error ? peer_error : terr);
			log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", why),
			          "NOTIFY for %s to %s: answer fails TSIG (%s)", j->zone->domain,
			          peer, why);
			return US_ETSIG;
		}
	}
	uint8_t rcode = a[3] & 0xF;
	if (rcode != WIRE_RCODE_NOERROR) {
		char why[32];
		snprintf(why, sizeof(why), "rcode %u", rcode);
		log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", why),
		          "NOTIFY for %s serial %u to %s: answered with rcode %u", j->zone->domain,
		          j->serial, peer, rcode);
		return US_EINVAL;
	}
	log_event(LOG_INFO, "notify", NOTIFY_OUT_FIELDS("answered", ""),
	          "NOTIFY for %s serial %u to %s: answered", j->zone->domain, j->serial, peer);
	return 0;
}

static void *notify_run(void *arg)
{
	notify_job_t *j = arg;
	char peer[80] = "";
	/* RFC 1996 4.2: repeat until answered, with growing intervals; then leave it to the
	 * secondary's own refresh timer. */
	int64_t wait_ms = 1000;
	bool done = false;
	for (int attempt = 0; attempt < 5 && !done && !atomic_load(&net_cancel); attempt++) {
		if (attempt && net_sleep_ms(wait_ms) < 0)
			break;
		wait_ms *= 2;
		for (size_t i = 0; i < j->remote->naddr && !done; i++) {
			conf_addr_str(&j->remote->addr[i], peer, sizeof(peer));
			done = notify_send(j, &j->remote->addr[i], peer) == 0;
		}
	}
	if (done)
		atomic_fetch_add_explicit(&j->s->cold.notify_out_answered, 1, memory_order_relaxed);
	else if (!atomic_load(&net_cancel))
		atomic_fetch_add_explicit(&j->s->cold.notify_out_failed, 1, memory_order_relaxed);
	if (!done && !atomic_load(&net_cancel))
		log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", "no answer"),
		          "NOTIFY for %s serial %u to %s: no answer after 5 tries, giving up",
		          j->zone->domain, j->serial, peer);
	server_gen_unref(j->gen);
	atomic_fetch_sub(&j->s->notifying, 1);
	free(j);
	return NULL;
}

void notify_remote(server_t *s, const conf_zone_t *z, int remote, const zone_t *version)
{
	const zone_rrset_t *soa = version->soa;
	uint16_t soa_len = (uint16_t)(soa->rdata_len - 2);
	if (soa_len > SOA_RDATA_MAX)
		return; /* cannot be: the builder checked two names and 20 bytes */
	notify_job_t *j = malloc(sizeof(*j));
	pthread_t t;
	pthread_attr_t attr;
	if (!j)
		return;
	*j = (notify_job_t){.s = s,
	                    .gen = server_gen_ref(s),
	                    .zone = z,
	                    .remote = &s->conf->remotes[remote],
	                    .serial = version->serial,
	                    .soa_ttl = soa->ttl,
	                    .soa_len = soa_len};
	memcpy(j->soa, soa->rdata + 2, soa_len);
	atomic_fetch_add(&s->notifying, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, notify_run, j) != 0) {
		server_gen_unref(j->gen);
		atomic_fetch_sub(&s->notifying, 1);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

void notify_out(server_t *s, const conf_zone_t *z, const zone_t *version)
{
	for (size_t i = 0; i < z->nnotify; i++)
		notify_remote(s, z, z->notify[i], version);
}

void notify_shutdown(server_t *s)
{
	atomic_store(&net_cancel, true);
	while (atomic_load(&s->notifying) > 0)
		usleep(10000);
}
