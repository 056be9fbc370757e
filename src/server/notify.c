/* SPDX-License-Identifier: MIT */
/* notify: NOTIFY messages in (RFC 1996), answered by the workers, handed to the zone manager. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

/*
 * One thread sends every NOTIFY under way and reads the answers, so that 10,000 zones changed
 * at once, or a backup that is down under all of them, are 10,000 small records, not 10,000
 * threads. There is one job per zone and remote: a newer serial, or the fleet monitor asking
 * again, joins the one that is there instead of starting a second stream of retries to the
 * same server.
 *
 * How a primary keeps telling a backup that has not answered: RFC 1996 4.2 leaves it open.
 * The first copies are resent after a second, about three round trips between continents,
 * and at most a second apart for NOTIFY_FAST_MS, so a backup cut off by a partition hears of
 * the change a second after the partition heals; after that they back off to one every
 * NOTIFY_SLOW_MAX_MS, and stop after NOTIFY_GIVE_UP_MS, when the backup's own timers and the
 * fleet monitor (fleetmon.c, which comes back here) are left to bring it up to date. The
 * copies are the same bytes, ID and TSIG time included, so an answer to any of them will do;
 * the message is signed afresh every NOTIFY_SIGN_MS, so its TSIG time never ages past the
 * fudge.
 *
 * Copies leave at most NOTIFY_RATE a second in all (a token bucket of NOTIFY_BURST), first
 * copies before resends: a reload that changes 10,000 zones tells their backups within
 * seconds and never in one burst, and a backup that is down under all of them gets each copy
 * again as the rate allows, without holding up the NOTIFYs to the others.
 */
#define NOTIFY_RESEND_MS   1000
#define NOTIFY_FAST_MS     (5 * 60 * 1000)
#define NOTIFY_SLOW_MAX_MS 60000
#define NOTIFY_GIVE_UP_MS  (60 * 60 * 1000)
#define NOTIFY_SIGN_MS     60000
#define NOTIFY_RATE        2000
#define NOTIFY_BURST       200
#define NOTIFY_MSG_MAX     2048
#define NOTIFY_ID_BUCKETS  1024
#define NOTIFY_SOCKS       16 /* one per address family and source address */

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
	int64_t start;      /* when the first copy of this serial went */
	int64_t due;        /* when the next copy goes */
	int64_t signed_at;  /* when the message got its ID and TSIG time; 0: to do */
	uint64_t sign_time; /* the TSIG time, in seconds since the epoch */
	int gap_ms;         /* between copies, growing past NOTIFY_FAST_MS */
	unsigned sends;     /* copies of this serial sent; 0: a fresh job, sent first */
	uint16_t id;
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len;
	struct notify_job *link, *id_link;
} notify_job_t;

/* All under jobs_lock: the cold path only (a new serial, a fleet check, the sender's turns). */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static notify_job_t *jobs, **jobs_end = &jobs; /* in the order they came */
static notify_job_t *by_id[NOTIFY_ID_BUCKETS]; /* the signed ones, by their message's ID */
static double tokens = NOTIFY_BURST;
static int64_t refilled;
static pthread_t sender;
static bool sender_up, sender_stop;
static int sender_wake = -1; /* an eventfd: a new job, or the end */
static struct {
	sa_family_t family;
	bool has_via;
	conf_addr_t via;
	int fd;
} socks[NOTIFY_SOCKS];
static int nsocks;

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

static const tsig_key_t *job_key(const notify_job_t *j)
{
	return j->remote->key >= 0 ? &j->gen->keys[j->remote->key] : NULL;
}

/* Writes j's message to q (its ID, SOA and TSIG time: the same bytes every time), and its MAC
 * to j->mac. Returns the length or a negative US_E*. */
static int message(notify_job_t *j, uint8_t *q)
{
	int n = xfr_build_soa_query(q, NOTIFY_MSG_MAX, j->id, j->zone->name);
	if (n < 0)
		return n;
	wire_write16(q + WIRE_FLAGS, (uint16_t)(WIRE_OPCODE_NOTIFY << 11 | WIRE_AA));
	size_t len = put_soa(j, q);
	const tsig_key_t *key = job_key(j);
	j->mac_len = 0;
	if (key && tsig_sign(key, q, len, NOTIFY_MSG_MAX, NULL, 0, false, j->sign_time,
	                     TSIG_FUDGE_DEFAULT, &len, j->mac, &j->mac_len))
		return US_ETSIG;
	return (int)len;
}

static void id_unlink(notify_job_t *j)
{
	for (notify_job_t **p = &by_id[j->id % NOTIFY_ID_BUCKETS]; *p; p = &(*p)->id_link)
		if (*p == j) {
			*p = j->id_link;
			break;
		}
	j->signed_at = 0;
}

/* Takes j off the lists and frees it, counted as answered or not. */
static void job_end(notify_job_t **p, bool answered)
{
	notify_job_t *j = *p;
	if (j->signed_at)
		id_unlink(j);
	*p = j->link;
	if (jobs_end == &j->link)
		jobs_end = p;
	atomic_fetch_add_explicit(answered ? &j->s->cold.notify_out_answered
	                                   : &j->s->cold.notify_out_failed,
	                          1, memory_order_relaxed);
	server_gen_unref(j->gen);
	free(j);
}

/* The sender's socket for a copy to `to` from the remote's source address. */
static int sock_for(const conf_addr_t *to, const conf_remote_t *r)
{
	for (int i = 0; i < nsocks; i++)
		if (socks[i].family == to->ss.ss_family && socks[i].has_via == r->has_via &&
		    (!r->has_via || (socks[i].via.len == r->via.len &&
		                     memcmp(&socks[i].via.ss, &r->via.ss, r->via.len) == 0)))
			return socks[i].fd;
	if (nsocks == NOTIFY_SOCKS)
		return -EMFILE;
	int fd = socket(to->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (r->has_via && bind(fd, (const struct sockaddr *)&r->via.ss, r->via.len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	socks[nsocks].family = to->ss.ss_family;
	socks[nsocks].has_via = r->has_via;
	socks[nsocks].via = r->via;
	socks[nsocks++].fd = fd;
	return fd;
}

/*
 * Sends the next copy of j's NOTIFY, to the remote's addresses in turn; a network error is as
 * good as silence (another copy goes later). False when the message cannot be made (logged).
 */
static bool send_copy(notify_job_t *j, int64_t now)
{
	if (!j->sends) {
		j->start = now;
		j->gap_ms = NOTIFY_RESEND_MS;
	}
	if (j->signed_at && now - j->signed_at >= NOTIFY_SIGN_MS)
		id_unlink(j);
	if (!j->signed_at) {
		j->id = (uint16_t)arc4random();
		j->sign_time = (uint64_t)time(NULL);
		j->signed_at = now;
		notify_job_t **b = &by_id[j->id % NOTIFY_ID_BUCKETS];
		j->id_link = *b;
		*b = j;
	}
	uint8_t q[NOTIFY_MSG_MAX];
	int len = message(j, q);
	if (len < 0) {
		log_error("NOTIFY for %s: cannot make the message: %s", j->zone->domain,
		          us_strerror(len));
		return false;
	}
	const conf_addr_t *to = &j->remote->addr[j->sends % j->remote->naddr];
	int fd = sock_for(to, j->remote);
	if (fd >= 0)
		(void)sendto(fd, q, (size_t)len, 0, (const struct sockaddr *)&to->ss, to->len);
	j->sends++;
	if (now - j->start >= NOTIFY_FAST_MS)
		j->gap_ms = j->gap_ms * 2 < NOTIFY_SLOW_MAX_MS ? j->gap_ms * 2 : NOTIFY_SLOW_MAX_MS;
	j->due = now + j->gap_ms;
	return true;
}

/* One turn of the sender: the copies that are due, as the rate allows. Returns when the next
 * turn is due. */
static int64_t sender_turn(int64_t now)
{
	tokens += (double)(now - refilled) * NOTIFY_RATE / 1000.0;
	if (tokens > NOTIFY_BURST)
		tokens = NOTIFY_BURST;
	refilled = now;
	int64_t wake = now + 1000;
	/* First copies first: news goes out before the retries to servers that are silent. */
	for (int pass = 0; pass < 2; pass++) {
		for (notify_job_t **p = &jobs; *p;) {
			notify_job_t *j = *p;
			if ((j->sends == 0) != (pass == 0) || j->due > now) {
				wake = j->due > now && j->due < wake ? j->due : wake;
				p = &j->link;
				continue;
			}
			if (j->sends && now - j->start >= NOTIFY_GIVE_UP_MS) {
				char peer[80];
				conf_addr_str(&j->remote->addr[0], peer, sizeof(peer));
				log_event(LOG_WARNING, "notify",
				          NOTIFY_OUT_FIELDS("failed", "no answer"),
				          "NOTIFY for %s serial %u to %s: no answer for an hour, "
				          "giving up",
				          j->zone->domain, j->serial, peer);
				job_end(p, false);
				continue;
			}
			if (tokens < 1) {
				/* Back when a tenth of the burst has come in. */
				int64_t t = now + 1 + NOTIFY_BURST * 100 / NOTIFY_RATE;
				wake = t < wake ? t : wake;
				p = &j->link;
				continue;
			}
			tokens -= 1;
			if (!send_copy(j, now)) {
				job_end(p, false);
				continue;
			}
			wake = j->due < wake ? j->due : wake;
			p = &j->link;
		}
	}
	return wake;
}

static bool addr_is(const conf_addr_t *a, const struct sockaddr_storage *b)
{
	if (a->ss.ss_family != b->ss_family)
		return false;
	if (b->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)b;
	return b->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The job whose NOTIFY a is the answer to, from `from`: by ID, address and question. */
static notify_job_t *job_of(const uint8_t *a, size_t n, const struct sockaddr_storage *from)
{
	uint8_t name[DNAME_MAXLEN];
	size_t nlen, pos = WIRE_HDR_LEN;
	if (n < WIRE_HDR_LEN || !(wire_read16(a + WIRE_FLAGS) & WIRE_QR) ||
	    ((wire_read16(a + WIRE_FLAGS) >> 11) & 0xF) != WIRE_OPCODE_NOTIFY ||
	    wire_read16(a + WIRE_QDCOUNT) != 1 || dname_unpack(a, n, &pos, name, &nlen) < 0)
		return NULL;
	uint16_t id = wire_read16(a);
	for (notify_job_t *j = by_id[id % NOTIFY_ID_BUCKETS]; j; j = j->id_link) {
		if (j->id != id || !dname_equal(name, j->zone->name))
			continue;
		for (size_t i = 0; i < j->remote->naddr; i++) {
			const conf_addr_t *to = &j->remote->addr[i];
			if (addr_is(to, from))
				return j;
		}
	}
	return NULL;
}

/* An answer to j: it ends the job, whatever it says (an error or a bad TSIG is logged). */
static void answered(notify_job_t *j, uint8_t *a, size_t n, const struct sockaddr_storage *from)
{
	char peer[80];
	addr_text(from, peer, sizeof(peer));
	const tsig_key_t *key = job_key(j);
	uint8_t rcode = a[3] & 0xF;
	bool ok = false;
	if (key) {
		tsig_verify_t v;
		uint16_t terr = 0;
		size_t stripped;
		tsig_verify_init(&v, key, j->mac, j->mac_len);
		int ret = tsig_verify_msg(&v, a, n, (uint64_t)time(NULL), &terr, &stripped);
		uint16_t peer_error = v.peer_error;
		tsig_verify_deinit(&v);
		if (ret != 0) {
			server_count_tsig_failure(j->s);
			const char *why = tsig_error_name(peer_error ? peer_error : terr);
			log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", why),
			          "NOTIFY for %s to %s: answer fails TSIG (%s)", j->zone->domain,
			          peer, why);
			goto end;
		}
	}
	if (rcode != WIRE_RCODE_NOERROR) {
		char why[32];
		snprintf(why, sizeof(why), "rcode %u", rcode);
		log_event(LOG_WARNING, "notify", NOTIFY_OUT_FIELDS("failed", why),
		          "NOTIFY for %s serial %u to %s: answered with rcode %u", j->zone->domain,
		          j->serial, peer, rcode);
		goto end;
	}
	ok = true;
	log_event(LOG_INFO, "notify", NOTIFY_OUT_FIELDS("answered", ""),
	          "NOTIFY for %s serial %u to %s: answered", j->zone->domain, j->serial, peer);
end:
	for (notify_job_t **p = &jobs; *p; p = &(*p)->link)
		if (*p == j) {
			job_end(p, ok);
			break;
		}
}

static void read_answers(int fd)
{
	uint8_t a[4096];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, a, sizeof(a), 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return; /* EAGAIN, or an error a copy's ICMP brought: silence either way */
		pthread_mutex_lock(&jobs_lock);
		notify_job_t *j = job_of(a, (size_t)n, &from);
		if (j)
			answered(j, a, (size_t)n, &from);
		pthread_mutex_unlock(&jobs_lock);
	}
}

static void *sender_run(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&jobs_lock);
		if (sender_stop) {
			pthread_mutex_unlock(&jobs_lock);
			return NULL;
		}
		int64_t now = net_now_ms();
		int64_t wake = sender_turn(now);
		struct pollfd p[NOTIFY_SOCKS + 1] = {{.fd = sender_wake, .events = POLLIN}};
		int n = 1;
		for (int i = 0; i < nsocks; i++)
			p[n++] = (struct pollfd){.fd = socks[i].fd, .events = POLLIN};
		pthread_mutex_unlock(&jobs_lock);
		if (poll(p, (nfds_t)n, (int)(wake > now ? wake - now : 0)) <= 0)
			continue;
		uint64_t v;
		/* A failed read leaves the count set: the next poll says so again at once. */
		ssize_t r = p[0].revents & POLLIN ? read(sender_wake, &v, sizeof(v)) : 0;
		(void)r;
		for (int i = 1; i < n; i++)
			if (p[i].revents & POLLIN)
				read_answers(p[i].fd);
	}
}

static void sender_kick(void)
{
	uint64_t one = 1;
	/* Fails only when the count would overflow: the sender is woken either way. */
	ssize_t r = write(sender_wake, &one, sizeof(one));
	(void)r;
}

void notify_remote(server_t *s, const conf_zone_t *z, int remote, const zone_t *version)
{
	const zone_rrset_t *soa = version->soa;
	uint16_t soa_len = (uint16_t)(soa->rdata_len - 2);
	if (soa_len > SOA_RDATA_MAX)
		return; /* cannot be: the builder checked two names and 20 bytes */
	const conf_remote_t *r = &s->conf->remotes[remote];
	if (!r->naddr)
		return;
	pthread_mutex_lock(&jobs_lock);
	if (sender_stop) {
		pthread_mutex_unlock(&jobs_lock);
		return; /* shutting down */
	}
	if (!sender_up) {
		sender_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		sender_up =
		    sender_wake >= 0 && pthread_create(&sender, NULL, sender_run, NULL) == 0;
		if (!sender_up) {
			if (sender_wake >= 0)
				close(sender_wake);
			sender_wake = -1;
			pthread_mutex_unlock(&jobs_lock);
			log_error("NOTIFY for %s: cannot start the NOTIFY sender", z->domain);
			return;
		}
	}
	notify_job_t *j = NULL;
	/* The remote by address in its generation: a reload may renumber them. */
	for (notify_job_t *o = jobs; o && !j; o = o->link)
		if (o->s == s && o->zone == z && o->remote == r)
			j = o;
	if (j && j->serial == version->serial) {
		pthread_mutex_unlock(&jobs_lock); /* under way: it goes on telling this one */
		return;
	}
	if (j) {
		/* One under way of an older serial: it tells this one next, as news. */
		if (j->signed_at)
			id_unlink(j);
		j->sends = 0;
		j->due = 0;
	} else if ((j = calloc(1, sizeof(*j)))) {
		*j = (notify_job_t){.s = s, .gen = server_gen_ref(s), .zone = z, .remote = r};
		*jobs_end = j;
		jobs_end = &j->link;
	}
	if (j) {
		j->serial = version->serial;
		j->soa_ttl = soa->ttl;
		j->soa_len = soa_len;
		memcpy(j->soa, soa->rdata + 2, soa_len);
		sender_kick();
	}
	pthread_mutex_unlock(&jobs_lock);
}

void notify_out(server_t *s, const conf_zone_t *z, const zone_t *version)
{
	for (size_t i = 0; i < z->nnotify; i++)
		notify_remote(s, z, z->notify[i], version);
}

void notify_shutdown(server_t *s)
{
	(void)s;
	pthread_mutex_lock(&jobs_lock);
	bool up = sender_up;
	sender_stop = true;
	if (up)
		sender_kick();
	pthread_mutex_unlock(&jobs_lock);
	if (up)
		pthread_join(sender, NULL);
	/* Unanswered at the end: not counted as failures, nobody waits for them. */
	while (jobs) {
		notify_job_t *j = jobs;
		jobs = j->link;
		server_gen_unref(j->gen);
		free(j);
	}
	jobs_end = &jobs;
	memset(by_id, 0, sizeof(by_id));
	for (int i = 0; i < nsocks; i++)
		close(socks[i].fd);
	nsocks = 0;
	if (sender_wake >= 0)
		close(sender_wake);
	sender_wake = -1;
	sender_up = false;
}
