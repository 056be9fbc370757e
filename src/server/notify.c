/* SPDX-License-Identifier: MIT */
/* notify: NOTIFY messages in (RFC 1996), answered by the workers, handed to the zone manager. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
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
	/* RFC 1996 3.7: the SOA in a NOTIFY is a hint. We take it only from the primary itself
	 * proving it with the primary's own TSIG key: then the backup asks IXFR at once, one
	 * round trip fewer. An unsigned one could be anyone's, spoofed from the primary's
	 * address, and would make us open TCP connections on a stranger's word: its SOA is
	 * checked by a SOA query first, as before. Whatever the hint says, the IXFR's answer
	 * is the primary's word, so a wrong hint costs a connection, never a wrong copy. */
	uint32_t serial;
	bool trusted = p >= 0 && key >= 0 && g->conf->remotes[zc->primaries[p]].key == key &&
	               xfr_notify_serial(q, qlen, lname, &serial) == 0;
	atomic_store(&z->notify_hint, trusted ? NOTIFY_HINT | serial : 0);
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

typedef struct notify_soa {
	uint32_t serial;
	uint32_t ttl;
	uint16_t len;
	uint8_t rdata[SOA_RDATA_MAX];
} notify_soa_t;

typedef struct notify_job {
	server_t *s;
	server_gen_t *gen; /* held: zone and remote live in its conf, the key in its keys */
	const conf_zone_t *zone;
	int remote_id; /* in s->conf->remotes */
	const conf_remote_t *remote;
	uint32_t serial;
	notify_soa_t soa;
	/* Under jobs_lock: a newer version to tell of, given while this one was under way;
	 * newer is also set then, so a wait for an answer about the old one ends at once. */
	bool has_next;
	atomic_bool newer;
	bool long_phase; /* counted in long_jobs */
	notify_soa_t next;
	struct notify_job *link;
} notify_job_t;

/*
 * The NOTIFYs under way, one per zone and remote: a newer serial, or the fleet monitor asking
 * again, joins the one that is there instead of starting a second stream of retries to the
 * same server. Cold path only (a new serial, a fleet check), so a mutex is fine.
 */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static notify_job_t *jobs;
static int long_jobs; /* jobs past NOTIFY_SHORT_MS, at most NOTIFY_LONG_MAX */

/*
 * How a primary keeps telling a backup that has not answered. RFC 1996 4.2 leaves it open;
 * the first copies are resent after a second, about three round trips between continents,
 * and at most a second apart for NOTIFY_FAST_MS, so a backup cut off by a partition hears
 * of the change a second after the partition heals; after that they back off to one every
 * NOTIFY_SLOW_MAX_MS, and stop after NOTIFY_GIVE_UP_MS, when the backup's own timers and
 * the fleet monitor (fleetmon.c, which comes back here) are left to bring it up to date.
 * Each window re-signs the NOTIFY, so a TSIG time never ages past its fudge.
 */
#define NOTIFY_RESEND_MS   1000
#define NOTIFY_WINDOW_MS   10000
#define NOTIFY_FAST_MS     (5 * 60 * 1000)
#define NOTIFY_SLOW_MAX_MS 60000
#define NOTIFY_GIVE_UP_MS  (60 * 60 * 1000)
/*
 * Each NOTIFY under way is a thread, so past NOTIFY_SHORT_MS (what RFC 1996's few tries took
 * before) only NOTIFY_LONG_MAX of them go on: a backup down under 10,000 zones must not mean
 * 10,000 threads for an hour. The others stop there, as before, and the fleet monitor, which
 * NOTIFYs a copy it finds behind once it answers again, brings theirs back within
 * fleet-interval of the heal.
 */
#define NOTIFY_SHORT_MS 30000
#define NOTIFY_LONG_MAX 64

/* Puts the zone's SOA right after the question of the NOTIFY in q, in place of the SOA
 * query's OPT record, which a NOTIFY has no use for; returns the new length. */
static size_t put_soa(const notify_job_t *j, uint8_t *q)
{
	size_t len = WIRE_HDR_LEN + dname_len(q + WIRE_HDR_LEN) + 4;
	uint8_t *p = q + len;
	wire_write16(p, 0xC000 | WIRE_HDR_LEN);
	wire_write16(p + 2, WIRE_T_SOA);
	wire_write16(p + 4, WIRE_CLASS_IN);
	wire_write32(p + 6, j->soa.ttl);
	wire_write16(p + 10, j->soa.len);
	memcpy(p + 12, j->soa.rdata, j->soa.len);
	wire_write16(q + WIRE_ANCOUNT, 1);
	wire_write16(q + WIRE_ARCOUNT, 0);
	return len + 12 + j->soa.len;
}

/* Sends one NOTIFY to one address, copies of it again while no answer comes (resend_ms, up to
 * resend_max_ms apart), until deadline. 0 when it was answered with NOERROR, 1 with another
 * rcode (logged), a negative errno when the network gave no answer (-ETIMEDOUT: nothing
 * came), or a negative US_E* below -1000 for an answer that fails TSIG (logged). */
static int notify_send(notify_job_t *j, const conf_addr_t *to, const char *peer, int64_t deadline,
                       int resend_ms, int resend_max_ms)
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
		return US_ETSIG;
	n = net_udp_exchange_resend(to, r->has_via ? &r->via : NULL, q, len, a, sizeof(a), deadline,
	                            resend_ms, resend_max_ms, &j->newer);
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
		return 1;
	}
	log_event(LOG_INFO, "notify", NOTIFY_OUT_FIELDS("answered", ""),
	          "NOTIFY for %s serial %u to %s: answered", j->zone->domain, j->serial, peer);
	return 0;
}

/* Under jobs_lock: takes the newer version given meanwhile, if any. */
static bool take_next(notify_job_t *j)
{
	if (!j->has_next)
		return false;
	j->soa = j->next;
	j->serial = j->soa.serial;
	j->has_next = false;
	atomic_store(&j->newer, false);
	return true;
}

static void *notify_run(void *arg)
{
	notify_job_t *j = arg;
	char peer[80] = "";
	int64_t start = net_now_ms();
	bool done = false, crowded = false;
	int slow_ms = NOTIFY_RESEND_MS;
	for (;;) {
		int64_t now = net_now_ms();
		bool fast = now - start < NOTIFY_FAST_MS;
		int resend = fast ? NOTIFY_RESEND_MS : slow_ms;
		/* Silence and the network's errors (a closed port while the backup restarts, no
		 * route) are worth another try; an answer, even an error or a bad TSIG, ends it. */
		bool silent = true;
		for (size_t i = 0; i < j->remote->naddr && silent; i++) {
			conf_addr_str(&j->remote->addr[i], peer, sizeof(peer));
			int64_t until = net_now_ms() + (fast ? NOTIFY_WINDOW_MS : 2 * resend);
			int ret = notify_send(j, &j->remote->addr[i], peer, until, resend,
			                      fast ? NOTIFY_RESEND_MS : NOTIFY_SLOW_MAX_MS);
			done = ret == 0;
			silent = ret < 0 && ret > -1000 && ret != -ECANCELED; /* errno */
			if (ret == -EAGAIN)
				break; /* a newer serial came: told at once, below */
			if (silent && ret != -ETIMEDOUT && net_sleep_ms(resend) < 0)
				break;
		}
		if (!fast && slow_ms < NOTIFY_SLOW_MAX_MS)
			slow_ms =
			    slow_ms * 2 < NOTIFY_SLOW_MAX_MS ? slow_ms * 2 : NOTIFY_SLOW_MAX_MS;
		pthread_mutex_lock(&jobs_lock);
		bool newer = take_next(j);
		bool end = !newer && (!silent || atomic_load(&net_cancel) ||
		                      net_now_ms() - start >= NOTIFY_GIVE_UP_MS);
		if (!end && !j->long_phase && net_now_ms() - start >= NOTIFY_SHORT_MS) {
			j->long_phase = long_jobs < NOTIFY_LONG_MAX;
			long_jobs += j->long_phase;
			end = !j->long_phase;
			crowded = end;
		}
		if (end) {
			long_jobs -= j->long_phase;
			for (notify_job_t **p = &jobs; *p; p = &(*p)->link)
				if (*p == j) {
					*p = j->link;
					break;
				}
		}
		pthread_mutex_unlock(&jobs_lock);
		if (end)
			break;
		if (newer) {
			start = net_now_ms(); /* news: told as promptly as the first */
			slow_ms = NOTIFY_RESEND_MS;
		}
	}
	if (done)
		atomic_fetch_add_explicit(&j->s->cold.notify_out_answered, 1, memory_order_relaxed);
	else if (!atomic_load(&net_cancel))
		atomic_fetch_add_explicit(&j->s->cold.notify_out_failed, 1, memory_order_relaxed);
	if (!done && !atomic_load(&net_cancel))
		log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", "no answer"),
		          "NOTIFY for %s serial %u to %s: %s", j->zone->domain, j->serial, peer,
		          crowded ? "no answer for 30 s; left to the fleet monitor, as many "
		                    "other NOTIFYs are retrying"
		          : net_now_ms() - start >= NOTIFY_GIVE_UP_MS
		              ? "no answer for an hour, giving up"
		              : "not answered");
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
	notify_soa_t v = {.serial = version->serial, .ttl = soa->ttl, .len = soa_len};
	memcpy(v.rdata, soa->rdata + 2, soa_len);

	pthread_mutex_lock(&jobs_lock);
	for (notify_job_t *o = jobs; o; o = o->link) {
		/* The remote by address in its generation: a reload may renumber them. */
		if (o->s == s && o->zone == z && o->remote == &s->conf->remotes[remote]) {
			/* One under way: it tells this version next, or goes on telling it. */
			if (v.serial != o->serial) {
				o->next = v;
				o->has_next = true;
				atomic_store(&o->newer, true);
			}
			pthread_mutex_unlock(&jobs_lock);
			return;
		}
	}
	notify_job_t *j = malloc(sizeof(*j));
	if (!j) {
		pthread_mutex_unlock(&jobs_lock);
		return;
	}
	*j = (notify_job_t){.s = s,
	                    .gen = server_gen_ref(s),
	                    .zone = z,
	                    .remote_id = remote,
	                    .remote = &s->conf->remotes[remote],
	                    .serial = v.serial,
	                    .soa = v};
	pthread_t t;
	pthread_attr_t attr;
	atomic_fetch_add(&s->notifying, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	j->link = jobs;
	jobs = j;
	if (pthread_create(&t, &attr, notify_run, j) != 0) {
		jobs = j->link;
		server_gen_unref(j->gen);
		atomic_fetch_sub(&s->notifying, 1);
		free(j);
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_unlock(&jobs_lock);
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
