/* SPDX-License-Identifier: MIT */
/* fleetmon: asks every server that holds each zone for its SOA, paced, and acts on the answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "error.h"
#include "fleetmon.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "serial.h"
#include "tsig.h"
#include "wire.h"
#include "xfr.h"

/*
 * Pacing. Checks leave at most FLEET_RATE a second in all (a token bucket), at most
 * FLEET_PER_DEST of them in flight to one address, so the first round after a start with
 * 10,000 zones takes a minute of steady trickle, never a burst, and a primary of all of them
 * sees a few queries at a time. A new server is first asked within FLEET_START_SPREAD ms, as
 * the bucket allows; later checks come every fleet-interval, jittered by a tenth of it.
 */
#define FLEET_RATE         500
#define FLEET_BURST        50
#define FLEET_PER_DEST     4
#define FLEET_INFLIGHT     512 /* checks in flight in all */
#define FLEET_TCP_MAX      16  /* of which over TCP (answers with TC) */
#define FLEET_START_SPREAD 1000
#define FLEET_TRY_MS       1000    /* an unanswered UDP query is sent once more after this ... */
#define FLEET_TIMEOUT_MS   3000    /* ... and the check fails after this */
#define FLEET_NOTIFY_GAP   10000   /* ms between NOTIFYs to a copy that stays behind */
#define FLEET_RESOLVE_MS   3600000 /* NS names outside the zone are resolved again hourly */
#define FLEET_MSG_MAX      16384   /* an SOA answer, with room for TSIG and EDNS */

typedef struct fleet_zone fleet_zone_t;

/* After a new serial, copies that lack it are asked again after these ms, then normally. */
static const int fast_ms[] = {200, 500, 1000, 2000, 4000, 8000, 16000, 32000};
#define FAST_STEPS ((int)(sizeof(fast_ms) / sizeof(fast_ms[0])))

/* An address as small as its family allows: a fleet of many zones holds many. */
typedef struct maddr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
	socklen_t len;
} maddr_t;

typedef struct member {
	maddr_t addr;
	int key;                /* index into conf->keys, or -1 */
	const conf_addr_t *via; /* source address, or NULL */
	int remote;             /* the notify remote it is (conf->remotes), or -1 */
	unsigned roles;         /* FLEET_ROLE_* */
	const char *name;       /* the remote's id or the NS name it came from (interned) */
	fleet_obs_t obs;
	int64_t due;      /* the next check; 0 while one is in flight */
	int fast;         /* fast rechecks made since the last new serial; -1: none due */
	bool lagging;     /* said to be out of sync (logged) */
	bool failing;     /* said to fail (logged) */
	int64_t notified; /* when we last NOTIFYed it */
} member_t;

/*
 * An NS name outside every zone it serves, and the addresses the system resolver gave it:
 * one entry per name however many zones name it (a provider's 10,000 zones share their NS).
 */
typedef struct ns_ext {
	char name[DNAME_TEXT_MAX]; /* as in the zone, with the final dot */
	char host[DNAME_TEXT_MAX]; /* as the resolver takes it: without (hosts files have none) */
	struct gaicb req;
	struct addrinfo hints;
	bool pending;
	int error; /* a getaddrinfo error, or 0 */
	conf_addr_t *addr;
	size_t naddr;
	int64_t resolved; /* when the last answer came; 0: never asked */
} ns_ext_t;

struct fleet_zone {
	fleetmon_t *mon;
	member_t *m; /* m[0] is ourselves */
	size_t n;
	fleet_serials_t serials;
	uint32_t gen;  /* changes with the membership: older heap entries are stale */
	uint32_t *ext; /* the NS names outside the zone: indexes into fleetmon.ext */
	size_t next;
};

typedef struct heap_ent {
	int64_t due;
	uint32_t zone, member, gen;
} heap_ent_t;

typedef struct query {
	bool used;
	uint32_t zone, member, gen;
	uint16_t id;
	int fd;    /* the UDP socket it went out on, or its own TCP socket */
	bool tcp;  /* TCP: connecting, then reading */
	bool sent; /* TCP: the query is written */
	int tries; /* UDP sends */
	int64_t start, resend, deadline;
	uint8_t msg[512]; /* the query, signed */
	size_t msg_len;
	uint8_t mac[TSIG_MAC_MAX];
	size_t mac_len;
	uint8_t *in; /* TCP: what has come so far */
	size_t in_len;
} query_t;

struct fleetmon {
	server_t *s;
	int udp4, udp6;
	struct {
		conf_addr_t via;
		int fd;
	} vias[16];
	int nvias;
	heap_ent_t *heap;
	size_t nheap, heap_cap;
	query_t q[FLEET_INFLIGHT];
	int inflight, tcp;
	double tokens;
	int64_t refilled;
	bool built; /* every zone's membership was built once */
	char **str; /* interned names and reasons: an open-addressing set */
	size_t str_mask, nstr;
	ns_ext_t **ext; /* each on its own: the resolver's thread writes to it */
	size_t next;
	int64_t resolve_at;
	uint8_t buf[FLEET_MSG_MAX];
};

static uint32_t rnd(uint32_t n)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)random();
	return n ? r % n : 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the schedule: a min-heap of checks, with stale entries skipped ---- */

static void heap_push(fleetmon_t *f, int64_t due, uint32_t zone, uint32_t member, uint32_t gen)
{
	if (f->nheap == f->heap_cap) {
		size_t cap = f->heap_cap ? f->heap_cap * 2 : 256;
		heap_ent_t *h = realloc(f->heap, cap * sizeof(*h));
		if (!h)
			return; /* the check is lost; its zone's next membership rebuild adds it */
		f->heap = h;
		f->heap_cap = cap;
	}
	size_t i = f->nheap++;
	while (i && f->heap[(i - 1) / 2].due > due) {
		f->heap[i] = f->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	f->heap[i] = (heap_ent_t){due, zone, member, gen};
}

static heap_ent_t heap_pop(fleetmon_t *f)
{
	heap_ent_t top = f->heap[0], last = f->heap[--f->nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= f->nheap)
			break;
		if (c + 1 < f->nheap && f->heap[c + 1].due < f->heap[c].due)
			c++;
		if (f->heap[c].due >= last.due)
			break;
		f->heap[i] = f->heap[c];
		i = c;
	}
	if (f->nheap)
		f->heap[i] = last;
	return top;
}

static server_zone_t *zone_at(fleetmon_t *f, uint32_t i)
{
	return f->s->zones[i];
}

static uint32_t zone_index(fleetmon_t *f, const server_zone_t *z)
{
	(void)f;
	return (uint32_t)z->index;
}

/* Puts member i of z on the schedule at due. */
static void schedule(fleetmon_t *f, server_zone_t *z, size_t i, int64_t due)
{
	member_t *m = &z->fleet->m[i];
	m->due = due;
	heap_push(f, due, zone_index(f, z), (uint32_t)i, z->fleet->gen);
}

static int64_t next_normal(const server_zone_t *z, int64_t now)
{
	int64_t ms = (int64_t)z->conf->fleet_interval * 1000;
	return now + ms - ms / 20 + (int64_t)rnd((uint32_t)(ms / 10 + 1));
}

/* After a new serial: everyone who lacks it is asked again soon. */
static void hurry(fleetmon_t *f, server_zone_t *z, int64_t now)
{
	fleet_zone_t *fz = z->fleet;
	for (size_t i = 1; i < fz->n; i++) {
		member_t *m = &fz->m[i];
		m->fast = 0;
		if (m->due) /* not in flight: the answer in flight reschedules it */
			schedule(f, z, i, now + fast_ms[0]);
	}
}

/* ---- membership ---- */

static bool same_addr(const conf_addr_t *a, const conf_addr_t *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static bool maddr_is(const maddr_t *m, const void *sa, socklen_t len)
{
	return m->len == len && memcmp(&m->u, sa, len) == 0;
}

static maddr_t maddr_of(const conf_addr_t *a)
{
	maddr_t m = {.len = a->len <= sizeof(m.u) ? a->len : 0};
	memcpy(&m.u, &a->ss, m.len);
	return m;
}

/*
 * A copy of s that lives as long as the monitor, one per distinct string: names and reasons
 * that many members share are held once. NULL when out of memory.
 */
static const char *intern(fleetmon_t *f, const char *s)
{
	uint32_t h = 2166136261u;
	for (const char *p = s; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	if (!f->str || f->nstr * 2 >= f->str_mask + 1) {
		size_t size = f->str_mask ? (f->str_mask + 1) * 2 : 256;
		char **t = calloc(size, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t i = 0; f->str_mask && i <= f->str_mask; i++) {
			if (!f->str[i])
				continue;
			uint32_t g = 2166136261u;
			for (const char *p = f->str[i]; *p; p++)
				g = (g ^ (uint8_t)*p) * 16777619u;
			size_t j = g & (size - 1);
			while (t[j])
				j = (j + 1) & (size - 1);
			t[j] = f->str[i];
		}
		free(f->str);
		f->str = t;
		f->str_mask = size - 1;
	}
	size_t j = h & f->str_mask;
	for (; f->str[j]; j = (j + 1) & f->str_mask)
		if (strcmp(f->str[j], s) == 0)
			return f->str[j];
	if (!(f->str[j] = strdup(s)))
		return NULL;
	f->nstr++;
	return f->str[j];
}

static member_t *member_add(fleetmon_t *f, fleet_zone_t *fz, size_t *cap, const conf_addr_t *a,
                            unsigned role, const char *name)
{
	for (size_t i = 0; i < fz->n; i++) {
		if (maddr_is(&fz->m[i].addr, &a->ss, a->len)) {
			fz->m[i].roles |= role;
			return &fz->m[i];
		}
	}
	if (fz->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		member_t *m = realloc(fz->m, ncap * sizeof(*m));
		if (!m)
			return NULL;
		fz->m = m;
		*cap = ncap;
	}
	const char *iname = intern(f, name);
	if (!iname)
		return NULL;
	member_t *m = &fz->m[fz->n++];
	*m = (member_t){
	    .addr = maddr_of(a), .key = -1, .remote = -1, .roles = role, .name = iname, .fast = -1};
	fleet_obs_init(&m->obs);
	return m;
}

static void add_remotes(fleetmon_t *f, fleet_zone_t *fz, size_t *cap, const int *ids, size_t n,
                        unsigned role)
{
	const conf_t *c = f->s->conf;
	for (size_t i = 0; i < n; i++) {
		const conf_remote_t *r = &c->remotes[ids[i]];
		/* Its address is a TLS port, which takes no UDP query: not asked (yet). */
		if (r->tls)
			continue;
		for (size_t j = 0; j < r->naddr; j++) {
			member_t *m = member_add(f, fz, cap, &r->addr[j], role, r->id);
			if (!m)
				continue;
			if (m->key < 0)
				m->key = r->key;
			if (!m->via && r->has_via)
				m->via = &r->via;
			if (role == FLEET_ROLE_NOTIFY && m->remote < 0)
				m->remote = ids[i];
		}
	}
}

/* An address at port 53 from A or AAAA rdata. */
static void addr_of(const uint8_t *rd, uint16_t len, conf_addr_t *a)
{
	memset(a, 0, sizeof(*a));
	if (len == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(53);
		memcpy(&in->sin_addr, rd, 4);
		a->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(53);
		memcpy(&in6->sin6_addr, rd, 16);
		a->len = sizeof(*in6);
	}
}

static void add_ns_addr(fleetmon_t *f, fleet_zone_t *fz, size_t *cap, const conf_addr_t *a,
                        const char *name)
{
	/* Our own address in the NS set is us. */
	for (size_t i = 0; i < f->s->conf->nlisten; i++)
		if (same_addr(&f->s->conf->listen[i], a))
			return;
	member_add(f, fz, cap, a, FLEET_ROLE_NS, name);
}

/* The resolver's entry for name, made (and so asked for) when it is new; -1 out of memory. */
static long ext_find(fleetmon_t *f, const char *name)
{
	for (size_t i = 0; i < f->next; i++)
		if (strcmp(f->ext[i]->name, name) == 0)
			return (long)i;
	ns_ext_t **x = realloc(f->ext, (f->next + 1) * sizeof(*x));
	if (!x)
		return -1;
	f->ext = x;
	if (!(x[f->next] = calloc(1, sizeof(ns_ext_t))))
		return -1;
	ns_ext_t *e = x[f->next];
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->host, sizeof(e->host), "%s", name);
	size_t n = strlen(e->host);
	if (n > 1 && e->host[n - 1] == '.')
		e->host[n - 1] = 0;
	return (long)f->next++;
}

static void zone_uses(fleet_zone_t *fz, uint32_t ext)
{
	for (size_t i = 0; i < fz->next; i++)
		if (fz->ext[i] == ext)
			return;
	uint32_t *x = realloc(fz->ext, (fz->next + 1) * sizeof(*x));
	if (x) {
		fz->ext = x;
		x[fz->next++] = ext;
	}
}

/* The NS targets of version v: in-zone ones by their addresses in the zone, the others by the
 * resolver's (started here, added when they come). */
static void add_ns(fleetmon_t *f, server_zone_t *z, size_t *cap, const zone_t *v)
{
	fleet_zone_t *fz = z->fleet;
	fz->next = 0;
	const zone_node_t *apex = zone_find(v, v->apex, v->apex_len);
	const zone_rrset_t *ns = apex ? zone_node_rrset(apex, WIRE_T_NS) : NULL;
	for (uint32_t off = 0; ns;) {
		const uint8_t *target = ns->rdata + off + 2;
		char name[DNAME_TEXT_MAX];
		if (dname_to_text(target, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "?");
		uint8_t lt[DNAME_MAXLEN];
		size_t len = dname_len(target);
		dname_lower(lt, target, len);
		if (dname_is_sub(lt, v->apex)) {
			const zone_node_t *n = zone_find(v, lt, len);
			static const uint16_t types[] = {WIRE_T_A, WIRE_T_AAAA};
			for (int t = 0; n && t < 2; t++) {
				const zone_rrset_t *rs = zone_node_rrset(n, types[t]);
				for (uint32_t o = 0; rs;) {
					conf_addr_t a;
					addr_of(rs->rdata + o + 2, wire_read16(rs->rdata + o), &a);
					add_ns_addr(f, fz, cap, &a, name);
					if (!(o = zone_rr_next(rs, o)))
						break;
				}
			}
		} else {
			long e = ext_find(f, name);
			if (e >= 0) {
				zone_uses(fz, (uint32_t)e);
				for (size_t i = 0; i < f->ext[e]->naddr; i++)
					add_ns_addr(f, fz, cap, &f->ext[e]->addr[i], name);
			}
		}
		if (!(off = zone_rr_next(ns, off)))
			break;
	}
}

/*
 * Builds the zone's members from its configuration and version, keeping what was observed of
 * servers that stay, and puts them on the schedule: new ones soon, those that stay soon too,
 * or with keep_due when their next check was due (a reload: what it left alone is not asked
 * again early).
 */
static void rebuild(fleetmon_t *f, server_zone_t *z, int64_t now, bool keep_due)
{
	const conf_t *c = f->s->conf;
	const conf_zone_t *zc = z->conf;
	fleet_zone_t *fz = z->fleet;
	member_t *old = fz->m;
	size_t nold = fz->n, cap = 0;
	fz->m = NULL;
	fz->n = 0;
	const zone_t *v = z->slot->zone;
	member_add(f, fz, &cap, &c->listen[0], FLEET_ROLE_SELF, "self");
	if (zc->fleet_interval > 0) {
		add_remotes(f, fz, &cap, zc->primaries, zc->nprimaries, FLEET_ROLE_PRIMARY);
		add_remotes(f, fz, &cap, zc->notify, zc->nnotify, FLEET_ROLE_NOTIFY);
		add_remotes(f, fz, &cap, zc->watch, zc->nwatch, FLEET_ROLE_WATCH);
		if (zc->watch_ns && v)
			add_ns(f, z, &cap, v);
	}
	fz->gen++;
	if (fz->m && fz->n < cap) { /* most zones have a few servers: hold no more room */
		member_t *m = realloc(fz->m, fz->n * sizeof(*m));
		fz->m = m ? m : fz->m;
	}
	if (!fz->m) { /* out of memory: keep what there was */
		fz->m = old;
		fz->n = nold;
		return;
	}
	if (nold)
		fz->m[0].obs = old[0].obs;
	for (size_t i = 1; i < fz->n; i++) {
		member_t *m = &fz->m[i];
		bool kept = false;
		int64_t due = now + fast_ms[0];
		for (size_t j = 1; j < nold && !kept; j++) {
			if (maddr_is(&old[j].addr, &m->addr.u, m->addr.len)) {
				m->obs = old[j].obs;
				m->lagging = old[j].lagging;
				m->failing = old[j].failing;
				m->notified = old[j].notified;
				m->fast = old[j].fast;
				kept = true;
				if (keep_due && old[j].due)
					due = old[j].due;
			}
		}
		schedule(f, z, i, kept ? due : now + (int64_t)rnd(FLEET_START_SPREAD));
	}
	free(old);
}

/* Takes in what the resolver said of e: its addresses, and the zones that name it built again. */
static void took_answer(fleetmon_t *f, uint32_t idx, int ret, int64_t now)
{
	ns_ext_t *e = f->ext[idx];
	e->pending = false;
	e->resolved = now;
	if (ret && ret != e->error)
		log_notice("fleet: NS %s does not resolve (%s); left out of the zones that name it",
		           e->name, gai_strerror(ret));
	e->error = ret;
	free(e->addr);
	e->addr = NULL;
	e->naddr = 0;
	size_t n = 0;
	for (struct addrinfo *ai = ret ? NULL : e->req.ar_result; ai; ai = ai->ai_next)
		n++;
	if (n && (e->addr = calloc(n, sizeof(*e->addr)))) {
		for (struct addrinfo *ai = e->req.ar_result; ai; ai = ai->ai_next) {
			conf_addr_t *a = &e->addr[e->naddr];
			if (ai->ai_addrlen > sizeof(a->ss))
				continue;
			memset(a, 0, sizeof(*a));
			memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
			a->len = ai->ai_addrlen;
			bool dup = false;
			for (size_t k = 0; k < e->naddr; k++)
				dup |= same_addr(&e->addr[k], a);
			e->naddr += !dup;
		}
	}
	if (!ret)
		freeaddrinfo(e->req.ar_result);
	e->req.ar_result = NULL;
	for (size_t i = 0; i < f->s->conf->nzones; i++) {
		server_zone_t *z = f->s->zones[i];
		for (size_t j = 0; j < z->fleet->next; j++) {
			if (z->fleet->ext[j] == idx) {
				rebuild(f, z, now, false);
				break;
			}
		}
	}
}

/*
 * Starts the resolver on NS names that are due and takes in what it answered. Returns when it
 * must look again; every zone that names a name that got new addresses is built again.
 */
static int64_t resolve(fleetmon_t *f, int64_t now)
{
	int64_t next = now + FLEET_RESOLVE_MS;
	for (size_t i = 0; i < f->next; i++) {
		ns_ext_t *e = f->ext[i];
		if (!e->pending && (!e->resolved || now - e->resolved >= FLEET_RESOLVE_MS)) {
			e->hints = (struct addrinfo){.ai_socktype = SOCK_DGRAM};
			e->req = (struct gaicb){
			    .ar_name = e->host, .ar_service = "53", .ar_request = &e->hints};
			struct gaicb *list[] = {&e->req};
			if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) == 0)
				e->pending = true;
			else
				e->resolved = now; /* try again later */
		}
		if (e->pending) {
			int ret = gai_error(&e->req);
			if (ret == EAI_INPROGRESS) {
				next = now + 100;
				continue;
			}
			took_answer(f, (uint32_t)i, ret, now);
		}
		if (e->resolved + FLEET_RESOLVE_MS < next)
			next = e->resolved + FLEET_RESOLVE_MS;
	}
	return next;
}

/* ---- checks ---- */

static int udp_socket(fleetmon_t *f, const member_t *m)
{
	int family = m->addr.u.sa.sa_family;
	if (m->via) {
		for (int i = 0; i < f->nvias; i++)
			if (same_addr(&f->vias[i].via, m->via))
				return f->vias[i].fd;
		if (f->nvias == (int)(sizeof(f->vias) / sizeof(f->vias[0])))
			return -EMFILE;
	}
	int *slot = m->via ? NULL : family == AF_INET ? &f->udp4 : &f->udp6;
	if (slot && *slot >= 0)
		return *slot;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (m->via && bind(fd, (const struct sockaddr *)&m->via->ss, m->via->len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (slot) {
		*slot = fd;
	} else {
		f->vias[f->nvias].via = *m->via;
		f->vias[f->nvias++].fd = fd;
	}
	return fd;
}

static bool id_used(const fleetmon_t *f, uint16_t id)
{
	for (int i = 0; i < FLEET_INFLIGHT; i++)
		if (f->q[i].used && f->q[i].id == id)
			return true;
	return false;
}

static int in_flight_to(const fleetmon_t *f, const maddr_t *a)
{
	int n = 0;
	for (int i = 0; i < FLEET_INFLIGHT; i++)
		if (f->q[i].used)
			n += maddr_is(&f->s->zones[f->q[i].zone]->fleet->m[f->q[i].member].addr,
			              &a->u, a->len);
	return n;
}

static void finish_check(fleetmon_t *f, query_t *q, const xfr_soa_answer_t *a, const char *why,
                         int64_t now);

/* Sends the check's query over UDP (again). */
static void send_udp(fleetmon_t *f, query_t *q, const member_t *m, int64_t now)
{
	q->tries++;
	q->resend = now + FLEET_TRY_MS;
	if (sendto(q->fd, q->msg, q->msg_len, 0, &m->addr.u.sa, m->addr.len) < 0) {
		char why[64];
		snprintf(why, sizeof(why), "cannot send: %s", strerror(errno));
		finish_check(f, q, NULL, why, now);
	}
}

/* Starts the check of member i of z; false when it cannot start now (try again later). */
static bool start_check(fleetmon_t *f, server_zone_t *z, size_t i, int64_t now)
{
	member_t *m = &z->fleet->m[i];
	if (f->inflight >= FLEET_INFLIGHT || in_flight_to(f, &m->addr) >= FLEET_PER_DEST)
		return false;
	query_t *q = NULL;
	for (int k = 0; k < FLEET_INFLIGHT && !q; k++)
		if (!f->q[k].used)
			q = &f->q[k];
	*q = (query_t){.zone = zone_index(f, z),
	               .member = (uint32_t)i,
	               .gen = z->fleet->gen,
	               .fd = -1,
	               .start = now,
	               .deadline = now + FLEET_TIMEOUT_MS};
	uint16_t id;
	do
		id = (uint16_t)rnd(65536);
	while (id_used(f, id));
	q->id = id;
	q->used = true;
	f->inflight++;
	m->due = 0;
	int len = xfr_build_soa_query(q->msg, sizeof(q->msg), q->id, z->conf->name);
	if (len > 0 && m->key >= 0) {
		size_t out;
		len = tsig_sign(&f->s->keys[m->key], q->msg, (size_t)len, sizeof(q->msg), NULL, 0,
		                false, (uint64_t)time(NULL), TSIG_FUDGE_DEFAULT, &out, q->mac,
		                &q->mac_len) == 0
		          ? (int)out
		          : US_EINVAL;
	}
	if (len < 0) {
		finish_check(f, q, NULL, "cannot build the query", now);
		return true;
	}
	q->msg_len = (size_t)len;
	q->fd = udp_socket(f, m);
	if (q->fd < 0) {
		char why[64];
		snprintf(why, sizeof(why), "no socket: %s", strerror(-q->fd));
		q->fd = -1;
		finish_check(f, q, NULL, why, now);
		return true;
	}
	send_udp(f, q, m, now);
	return true;
}

/* Goes on over TCP after a truncated answer (RFC 7766 5). */
static void to_tcp(fleetmon_t *f, query_t *q, const member_t *m, int64_t now)
{
	if (f->tcp >= FLEET_TCP_MAX) {
		finish_check(f, q, NULL, "truncated, and too many checks over TCP", now);
		return;
	}
	int fd = socket(m->addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && m->via && bind(fd, (const struct sockaddr *)&m->via->ss, m->via->len) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0 || (connect(fd, &m->addr.u.sa, m->addr.len) < 0 && errno != EINPROGRESS)) {
		char why[64];
		snprintf(why, sizeof(why), "TCP: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		finish_check(f, q, NULL, why, now);
		return;
	}
	q->fd = fd;
	q->tcp = true;
	q->deadline = now + FLEET_TIMEOUT_MS;
	f->tcp++;
}

/* A short reason for an answer that is no good, for the table and the logs. */
static const char *judge(fleetmon_t *f, query_t *q, const member_t *m, uint8_t *msg, size_t len,
                         xfr_soa_answer_t *a, char *why, size_t whylen)
{
	if (m->key >= 0) {
		tsig_verify_t v;
		uint16_t terr = 0;
		size_t stripped = len;
		tsig_verify_init(&v, &f->s->keys[m->key], q->mac, q->mac_len);
		int ret = tsig_verify_msg(&v, msg, len, (uint64_t)time(NULL), &terr, &stripped);
		if (ret == 0 && tsig_strip(msg, len, &stripped) < 0)
			ret = US_EMALF;
		uint16_t peer = v.peer_error;
		tsig_verify_deinit(&v);
		if (ret < 0)
			server_count_tsig_failure(f->s);
		if (ret < 0 && peer)
			return tsig_error_name(
			    peer); /* it refused our key: BADKEY, BADSIG, BADTIME */
		if (ret < 0 && terr) {
			snprintf(why, whylen, "answer fails TSIG (%s)", tsig_error_name(terr));
			return why;
		}
		if (ret < 0)
			return len > 3 && (msg[3] & 0xF)
			           ? wire_rcode_text(msg[3] & 0xF, why, whylen)
			           : "unsigned answer";
		len = stripped;
	}
	char err[XFR_ERRLEN];
	int ret = xfr_parse_soa_response(msg, len, q->id, f->s->zones[q->zone]->conf->name, a, err,
	                                 sizeof(err));
	if (ret == 0)
		return NULL;
	if (ret == XFR_ERCODE)
		return wire_rcode_text(a->rcode, why, whylen);
	if (ret == US_ENOENT)
		return a->aa ? "wrong zone" : "not authoritative";
	if (ret == US_ETRUNC)
		return "truncated";
	return "malformed answer";
}

/* Takes in an answer to q; false when it is not one (another ID's, a spoofed source). */
static void answer(fleetmon_t *f, query_t *q, uint8_t *msg, size_t len, int64_t now)
{
	server_zone_t *z = zone_at(f, q->zone);
	const member_t *m = &z->fleet->m[q->member];
	xfr_soa_answer_t a;
	char why[64];
	const char *bad = judge(f, q, m, msg, len, &a, why, sizeof(why));
	if (bad && strcmp(bad, "truncated") == 0 && !q->tcp) {
		to_tcp(f, q, m, now);
		return;
	}
	finish_check(f, q, bad ? NULL : &a, bad, now);
}

static void close_query(fleetmon_t *f, query_t *q)
{
	if (q->tcp) {
		close(q->fd);
		f->tcp--;
	}
	free(q->in);
	q->used = false;
	f->inflight--;
}

static void text_addr(const member_t *m, char *buf, size_t len)
{
	conf_addr_t a = {.len = m->addr.len};
	memcpy(&a.ss, &m->addr.u, m->addr.len);
	conf_addr_str(&a, buf, len);
}

/*
 * A primary of our secondary zone answered a serial newer than our copy: a NOTIFY we never got
 * (lost, or sent while we were cut off by a partition, by a primary that stopped repeating it:
 * knotd does after about 10 s). The check is as good as that NOTIFY, so the zone is refreshed
 * from that primary now rather than at its refresh timer; on the serial's word (no SOA query
 * again) when the answer was signed with the primary's key, as for a signed NOTIFY.
 */
static void primary_ahead(fleetmon_t *f, server_zone_t *z, const member_t *m, uint32_t serial)
{
	const zone_t *cur = z->slot->zone;
	if (!(m->roles & FLEET_ROLE_PRIMARY) || z->conf->role != CONF_ROLE_SECONDARY || !cur ||
	    z->busy || serial_cmp(serial, cur->serial) <= 0 ||
	    atomic_load(&z->notified) != NOTIFIED_NONE)
		return;
	struct sockaddr_storage ss = {0};
	memcpy(&ss, &m->addr.u, m->addr.len);
	int p = acl_primary_of(f->s->conf, z->conf, &ss);
	if (p < 0)
		return;
	char addr[80];
	text_addr(m, addr, sizeof(addr));
	log_info("zone %s: fleet: primary %s (%s) has serial %u, newer than ours %u; refreshing",
	         z->conf->domain, addr, m->name, serial, cur->serial);
	atomic_store(&z->notify_hint, m->key >= 0 ? NOTIFY_HINT | serial : 0);
	atomic_store(&z->notified, NOTIFIED_BY + p);
	server_wake(f->s);
}

/* What to make of one finished check: the observation, the log, a NOTIFY, the next check. */
static void finish_check(fleetmon_t *f, query_t *q, const xfr_soa_answer_t *a, const char *why,
                         int64_t now)
{
	server_zone_t *z = zone_at(f, q->zone);
	fleet_zone_t *fz = z->fleet;
	uint32_t gen = q->gen, i = q->member;
	close_query(f, q);
	if (gen != fz->gen)
		return; /* the membership changed meanwhile: that member is gone or renumbered */
	member_t *m = &fz->m[i];
	const char *zone = z->conf->domain;
	char addr[80];
	text_addr(m, addr, sizeof(addr));
	uint32_t newest = fz->serials.newest;
	bool had_newest = fz->serials.known;
	if (a) {
		bool caught_up = fleet_answered(&fz->serials, &m->obs, a->serial,
		                                (uint32_t)(now - q->start), now);
		m->obs.has_expire = a->expire_present;
		m->obs.expire = a->expire;
		m->obs.has_version = a->version_present;
		m->obs.version = a->version;
		if (m->failing) {
			m->failing = false;
			log_notice("zone %s: fleet: %s (%s) answers again, serial %u", zone, addr,
			           m->name, a->serial);
		}
		if (caught_up && m->lagging) {
			m->lagging = false;
			log_event(LOG_NOTICE, "fleet",
			          LOG_FIELDS(LOG_STR("zone", zone), LOG_STR("server", addr),
			                     LOG_STR("name", m->name), LOG_NUM("serial", a->serial),
			                     LOG_NUM("lag", 0), LOG_STR("state", "in-sync"),
			                     LOG_NUM("propagation_ms", m->obs.propagation_ms)),
			          "zone %s: fleet: %s (%s) is back in sync at serial %u, %lld ms "
			          "after it was first seen",
			          zone, addr, m->name, a->serial, (long long)m->obs.propagation_ms);
		}
	} else {
		const char *reason = intern(f, why);
		fleet_failed(&m->obs, reason ? reason : "error", now);
		if (!m->failing) {
			m->failing = true;
			log_notice("zone %s: fleet: %s (%s) fails its SOA check: %s", zone, addr,
			           m->name, why);
		}
	}
	if (had_newest && fz->serials.newest != newest)
		hurry(f, z,
		      now); /* it showed a serial newer than any seen: the others may lack it */
	if (a)
		primary_ahead(f, z, m, a->serial);

	/* Out of sync: behind for longer than a check interval (a change takes that long to be
	 * seen everywhere at worst). Logged once, until it catches up. */
	int64_t behind = fleet_behind_ms(&fz->serials, &m->obs, now);
	if (!m->lagging && behind > (int64_t)z->conf->fleet_interval * 1000 && m->obs.known) {
		m->lagging = true;
		log_event(LOG_WARNING, "fleet",
		          LOG_FIELDS(LOG_STR("zone", zone), LOG_STR("server", addr),
		                     LOG_STR("name", m->name), LOG_NUM("serial", m->obs.serial),
		                     LOG_NUM("lag", fleet_lag(&fz->serials, &m->obs)),
		                     LOG_NUM("newest", fz->serials.newest),
		                     LOG_STR("state", "behind"), LOG_NUM("behind_s", behind / 1000),
		                     LOG_STR("error", m->obs.error)),
		          "zone %s: fleet: %s (%s) is out of sync: serial %u, %u behind %u for "
		          "%lld s%s%s",
		          zone, addr, m->name, m->obs.serial, fleet_lag(&fz->serials, &m->obs),
		          fz->serials.newest, (long long)(behind / 1000), m->obs.error ? ", " : "",
		          m->obs.error ? m->obs.error : "");
	}

	/* A copy downstream of us that lacks our version, or does not serve the zone (expired,
	 * not loaded), is told again: a NOTIFY brings it back at once where its own timers would
	 * take minutes. Not in the seconds after a NOTIFY already went. */
	const zone_t *cur = z->slot->zone;
	bool needs = a ? serial_cmp(a->serial, cur ? cur->serial : a->serial) < 0
	               : strcmp(why, "timeout") != 0 && strncmp(why, "cannot", 6) != 0;
	if (cur && m->remote >= 0 && needs && now - m->notified >= FLEET_NOTIFY_GAP) {
		m->notified = now;
		log_info("zone %s: fleet: %s (%s) %s; sending NOTIFY", zone, addr, m->name,
		         a ? "is behind" : why);
		notify_remote(f->s, z->conf, m->remote, cur);
	}

	if (m->fast >= 0 && !fleet_in_sync(&fz->serials, &m->obs) && m->fast < FAST_STEPS) {
		schedule(f, z, i, now + fast_ms[m->fast++]);
	} else {
		m->fast = -1;
		schedule(f, z, i, next_normal(z, now));
	}
}

/* ---- the loop ---- */

/* Gives every zone of the server that has none its (empty) state. */
static int attach_zones(fleetmon_t *f)
{
	for (size_t i = 0; i < f->s->conf->nzones; i++) {
		server_zone_t *z = f->s->zones[i];
		if (z->fleet)
			continue;
		if (!(z->fleet = calloc(1, sizeof(fleet_zone_t))))
			return US_ENOMEM;
		z->fleet->mon = f;
	}
	return 0;
}

int fleetmon_new(server_t *s, fleetmon_t **out)
{
	fleetmon_t *f = calloc(1, sizeof(*f));
	if (!f)
		return US_ENOMEM;
	f->s = s;
	f->udp4 = f->udp6 = -1;
	f->tokens = FLEET_BURST;
	if (attach_zones(f)) {
		fleetmon_free(f);
		return US_ENOMEM;
	}
	*out = f;
	return 0;
}

static void free_zone(server_zone_t *z)
{
	if (!z->fleet)
		return;
	free(z->fleet->ext);
	free(z->fleet->m);
	free(z->fleet);
	z->fleet = NULL;
}

void fleetmon_forget(server_zone_t *z)
{
	free_zone(z);
}

void fleetmon_free(fleetmon_t *f)
{
	if (!f)
		return;
	for (int i = 0; i < FLEET_INFLIGHT; i++)
		if (f->q[i].used)
			close_query(f, &f->q[i]);
	for (size_t i = 0; i < f->s->conf->nzones; i++)
		free_zone(f->s->zones[i]);
	for (size_t j = 0; j < f->next; j++) {
		ns_ext_t *e = f->ext[j];
		if (e->pending && gai_cancel(&e->req) != EAI_CANCELED)
			while (gai_error(&e->req) == EAI_INPROGRESS)
				usleep(1000); /* the resolver's thread still writes to e */
		if (e->pending && gai_error(&e->req) == 0)
			freeaddrinfo(e->req.ar_result);
		free(e->addr);
		free(e);
	}
	free(f->ext);
	if (f->udp4 >= 0)
		close(f->udp4);
	if (f->udp6 >= 0)
		close(f->udp6);
	for (int i = 0; i < f->nvias; i++)
		close(f->vias[i].fd);
	for (size_t i = 0; f->str && i <= f->str_mask; i++)
		free(f->str[i]);
	free(f->str);
	free(f->heap);
	free(f);
}

/* Notes our own copy's state: its serial is seen, and a new one hurries the others. */
static void self_state(fleetmon_t *f, server_zone_t *z, const zone_t *v, int64_t now)
{
	fleet_zone_t *fz = z->fleet;
	if (!v) {
		fleet_failed(&fz->m[0].obs, z->expired ? "expired" : "not serving", now);
		return;
	}
	if (fz->serials.known && serial_cmp(v->serial, fz->serials.newest) < 0)
		memset(&fz->serials, 0, sizeof(fz->serials)); /* we went back, as a primary did */
	uint32_t newest = fz->serials.newest;
	bool known = fz->serials.known;
	fleet_answered(&fz->serials, &fz->m[0].obs, v->serial, 0, now);
	if (!known || newest == fz->serials.newest)
		return; /* at start nobody was told: the first checks find who needs a NOTIFY */
	for (size_t i = 1; i < fz->n; i++)
		if (fz->m[i].roles & FLEET_ROLE_NOTIFY)
			fz->m[i].notified = now; /* notify_out tells them as this is published */
	hurry(f, z, now);
}

int fleetmon_reload(fleetmon_t *f)
{
	/* Checks in flight and the schedule name zones by their old positions: dropped, and
	 * every member is put on the schedule again as it was. */
	for (int i = 0; i < FLEET_INFLIGHT; i++)
		if (f->q[i].used)
			close_query(f, &f->q[i]);
	f->nheap = 0;
	int ret = attach_zones(f);
	if (ret || !f->built)
		return ret; /* the first tick builds every zone */
	int64_t now = net_now_ms();
	for (size_t i = 0; i < f->s->conf->nzones; i++) {
		server_zone_t *z = f->s->zones[i];
		bool fresh = z->fleet->n == 0; /* added by the reload */
		rebuild(f, z, now, true);
		if (fresh && z->slot->zone)
			self_state(f, z, z->slot->zone, now);
	}
	return 0;
}

void fleetmon_published(server_zone_t *z, const zone_t *v)
{
	fleetmon_t *f = z->fleet ? z->fleet->mon : NULL;
	if (!f || !f->built)
		return; /* the first tick builds everything */
	int64_t now = net_now_ms();
	rebuild(f, z, now, false); /* the NS set may have changed */
	self_state(f, z, v, now);
}

void fleetmon_seen(server_zone_t *z, uint32_t serial)
{
	fleet_zone_t *fz = z->fleet;
	fleetmon_t *f = fz ? fz->mon : NULL;
	if (!f || !f->built)
		return;
	int64_t now = net_now_ms();
	uint32_t newest = fz->serials.newest;
	bool known = fz->serials.known;
	fleet_seen(&fz->serials, serial, now);
	if (known && newest != fz->serials.newest)
		hurry(f, z, now);
}

int fleetmon_tick(fleetmon_t *f, int64_t now)
{
	int64_t wake = now + 1000;
	server_t *s = f->s;
	if (!f->built) {
		for (size_t i = 0; i < s->conf->nzones; i++) {
			rebuild(f, s->zones[i], now, false);
			if (s->zones[i]->slot->zone)
				self_state(f, s->zones[i], s->zones[i]->slot->zone, now);
		}
		f->built = true;
	}
	if (f->next && now >= f->resolve_at)
		f->resolve_at = resolve(f, now);
	if (f->next && f->resolve_at < wake)
		wake = f->resolve_at;
	/* Timeouts and resends. */
	for (int k = 0; k < FLEET_INFLIGHT; k++) {
		query_t *q = &f->q[k];
		if (!q->used)
			continue;
		if (now >= q->deadline) {
			finish_check(f, q, NULL, "timeout", now);
			continue;
		}
		if (!q->tcp && now >= q->resend && q->tries < 2)
			send_udp(f, q, &s->zones[q->zone]->fleet->m[q->member], now);
		if (q->used) {
			int64_t t = q->tcp || q->tries >= 2 ? q->deadline : q->resend;
			wake = t < wake ? t : wake;
		}
	}
	/* Due checks, as the pacing allows. */
	f->tokens += (double)(now - f->refilled) * FLEET_RATE / 1000.0;
	if (f->tokens > FLEET_BURST)
		f->tokens = FLEET_BURST;
	f->refilled = now;
	while (f->nheap && f->heap[0].due <= now) {
		heap_ent_t e = f->heap[0];
		server_zone_t *z = zone_at(f, e.zone);
		fleet_zone_t *fz = z->fleet;
		if (e.gen != fz->gen || e.member >= fz->n || fz->m[e.member].due != e.due) {
			heap_pop(f); /* rescheduled or gone since */
			continue;
		}
		if (f->tokens < 1)
			break;
		/* Off the heap first: the check may put the member back on it. */
		heap_pop(f);
		if (start_check(f, z, e.member, now))
			f->tokens -= 1;
		else /* too much in flight to that server, or at all: a little later */
			schedule(f, z, e.member, now + 20 + rnd(80));
	}
	if (f->nheap) {
		int64_t t = f->heap[0].due > now ? f->heap[0].due : now + 1000 / FLEET_RATE + 1;
		wake = t < wake ? t : wake;
	}
	return wake > now ? (int)(wake - now) : 0;
}

int fleetmon_pollfds(const fleetmon_t *f, struct pollfd *p, int max)
{
	int n = 0;
	if (f->udp4 >= 0 && n < max)
		p[n++] = (struct pollfd){.fd = f->udp4, .events = POLLIN};
	if (f->udp6 >= 0 && n < max)
		p[n++] = (struct pollfd){.fd = f->udp6, .events = POLLIN};
	for (int i = 0; i < f->nvias && n < max; i++)
		p[n++] = (struct pollfd){.fd = f->vias[i].fd, .events = POLLIN};
	for (int i = 0; i < FLEET_INFLIGHT && n < max; i++)
		if (f->q[i].used && f->q[i].tcp)
			p[n++] = (struct pollfd){.fd = f->q[i].fd,
			                         .events = f->q[i].sent ? POLLIN : POLLOUT};
	return n;
}

static query_t *query_of_tcp(fleetmon_t *f, int fd)
{
	for (int i = 0; i < FLEET_INFLIGHT; i++)
		if (f->q[i].used && f->q[i].tcp && f->q[i].fd == fd)
			return &f->q[i];
	return NULL;
}

/* Reads the datagrams waiting on a UDP socket; each goes to the check it answers. */
static void read_udp(fleetmon_t *f, int fd, int64_t now)
{
	for (int budget = 0; budget < 256; budget++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n =
		    recvfrom(fd, f->buf, sizeof(f->buf), 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		if (n < WIRE_HDR_LEN)
			continue;
		uint16_t id = wire_read16(f->buf);
		for (int i = 0; i < FLEET_INFLIGHT; i++) {
			query_t *q = &f->q[i];
			if (!q->used || q->tcp || q->fd != fd || q->id != id)
				continue;
			const member_t *m = &f->s->zones[q->zone]->fleet->m[q->member];
			/* From the address asked, or it is not the answer (RFC 5452 9.1). */
			if (!maddr_is(&m->addr, &from, flen))
				break;
			answer(f, q, f->buf, (size_t)n, now);
			break;
		}
	}
}

/* Moves a TCP check on: writes the query once connected, reads the answer as it comes. */
static void pump_tcp(fleetmon_t *f, query_t *q, short revents, int64_t now)
{
	if (!q->sent) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		uint8_t frame[2 + sizeof(q->msg)];
		wire_write16(frame, (uint16_t)q->msg_len);
		memcpy(frame + 2, q->msg, q->msg_len);
		if (err ||
		    send(q->fd, frame, q->msg_len + 2, MSG_NOSIGNAL) != (ssize_t)(q->msg_len + 2)) {
			char why[64];
			snprintf(why, sizeof(why), "TCP: %s", strerror(err ? err : errno));
			finish_check(f, q, NULL, why, now);
			return;
		}
		q->sent = true;
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (!q->in && !(q->in = malloc(FLEET_MSG_MAX + 2))) {
		finish_check(f, q, NULL, "out of memory", now);
		return;
	}
	ssize_t n = recv(q->fd, q->in + q->in_len, FLEET_MSG_MAX + 2 - q->in_len, 0);
	if (n <= 0) {
		finish_check(f, q, NULL, n == 0 ? "TCP: closed without an answer" : "TCP: reset",
		             now);
		return;
	}
	q->in_len += (size_t)n;
	if (q->in_len < 2)
		return;
	size_t want = wire_read16(q->in);
	if (want + 2 > FLEET_MSG_MAX + 2) {
		finish_check(f, q, NULL, "answer too large", now);
		return;
	}
	if (q->in_len >= want + 2)
		answer(f, q, q->in + 2, want, now);
}

void fleetmon_input(fleetmon_t *f, const struct pollfd *p, int n, int64_t now)
{
	for (int i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		query_t *q = query_of_tcp(f, p[i].fd);
		if (q)
			pump_tcp(f, q, p[i].revents, now);
		else
			read_udp(f, p[i].fd, now);
	}
}

/* ---- reports ---- */

unsigned fleetmon_lagging(const fleetmon_t *f, const server_zone_t *z)
{
	unsigned n = 0;
	if (!f || !z->fleet)
		return 0;
	for (size_t i = 1; i < z->fleet->n; i++)
		n += z->fleet->m[i].lagging;
	return n;
}

size_t fleetmon_nservers(const server_zone_t *z)
{
	return z->fleet ? z->fleet->n : 0;
}

/*
 * text_addr, remembered for the last few addresses: the members of 10,000 zones are mostly the
 * same few servers, and every scrape of /metrics asks for each. Zone manager thread only.
 */
static void text_addr_cached(const member_t *m, char *buf, size_t len)
{
	static struct {
		maddr_t a;
		char text[80];
	} cache[8];
	static unsigned next;
	for (unsigned i = 0; i < 8; i++) {
		if (m->addr.len && cache[i].a.len == m->addr.len &&
		    memcmp(&cache[i].a.u, &m->addr.u, m->addr.len) == 0) {
			snprintf(buf, len, "%s", cache[i].text);
			return;
		}
	}
	unsigned k = next++ % 8;
	text_addr(m, cache[k].text, sizeof(cache[k].text));
	cache[k].a = m->addr;
	snprintf(buf, len, "%s", cache[k].text);
}

void fleetmon_server(const server_zone_t *z, size_t i, int64_t now, fleetmon_server_t *out)
{
	const fleet_zone_t *fz = z->fleet;
	const member_t *m = &fz->m[i];
	const fleet_obs_t *o = &m->obs;
	text_addr_cached(m, out->address, sizeof(out->address));
	out->roles = m->roles;
	out->known = o->known;
	out->serial = o->serial;
	out->lag = fleet_lag(&fz->serials, o);
	out->in_sync = fleet_in_sync(&fz->serials, o);
	out->lagging = m->lagging;
	out->behind_ms = fleet_behind_ms(&fz->serials, o, now);
	out->propagation_ms = o->propagation_ms;
	out->answered = i && o->answered;
	out->rtt_ms = o->rtt_ms;
	out->error = o->answered ? NULL : o->error;
}

static void roles_text(unsigned roles, char *buf, size_t len, bool json)
{
	static const char *const names[] = {"self", "primary", "notify", "watch", "ns"};
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < 5; i++)
		if (roles & (1u << i))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0,
			                      json ? "%s\"%s\"" : "%s%s", n ? "," : "", names[i]);
}

static void iso_time(int64_t wall, char *buf, size_t len)
{
	time_t t = (time_t)(wall / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void report_json(server_zone_t *z, ctl_reply_t *r, int64_t now, int64_t wall)
{
	fleet_zone_t *fz = z->fleet;
	ctl_printf(r, "{\"zone\": ");
	ctl_json_str(r, z->conf->domain);
	if (fz->serials.known)
		ctl_printf(r, ", \"serial\": %u", fz->serials.newest);
	else
		ctl_printf(r, ", \"serial\": null");
	ctl_printf(r, ", \"servers\": [");
	for (size_t i = 0; i < fz->n; i++) {
		const member_t *m = &fz->m[i];
		const fleet_obs_t *o = &m->obs;
		char addr[80], roles[80], t[32];
		text_addr(m, addr, sizeof(addr));
		roles_text(m->roles, roles, sizeof(roles), true);
		ctl_printf(r, "%s{\"address\": \"%s\", \"name\": ", i ? ", " : "", addr);
		ctl_json_str(r, m->name);
		ctl_printf(r, ", \"roles\": [%s], \"serial\": ", roles);
		if (o->known)
			ctl_printf(r, "%u", o->serial);
		else
			ctl_printf(r, "null");
		ctl_printf(r, ", \"lag\": %u, \"in_sync\": %s, \"behind_seconds\": %lld",
		           fleet_lag(&fz->serials, o),
		           fleet_in_sync(&fz->serials, o) ? "true" : "false",
		           (long long)(fleet_behind_ms(&fz->serials, o, now) / 1000));
		if (o->propagation_ms >= 0)
			ctl_printf(r, ", \"last_propagation_ms\": %lld",
			           (long long)o->propagation_ms);
		else
			ctl_printf(r, ", \"last_propagation_ms\": null");
		if (i && o->checked) {
			iso_time(wall - (now - o->checked), t, sizeof(t));
			ctl_printf(r, ", \"checked\": \"%s\"", t);
		} else {
			ctl_printf(r, ", \"checked\": null");
		}
		if (i && o->answered)
			ctl_printf(r, ", \"rtt_ms\": %u", o->rtt_ms);
		else
			ctl_printf(r, ", \"rtt_ms\": null");
		if (o->has_expire)
			ctl_printf(r, ", \"expire_seconds\": %u", o->expire);
		if (o->has_version)
			ctl_printf(r, ", \"zoneversion\": %u", o->version);
		ctl_printf(r, ", \"error\": ");
		ctl_json_str(r, o->answered ? NULL : o->error);
		if (o->error_at) {
			iso_time(wall - (now - o->error_at), t, sizeof(t));
			ctl_printf(r, ", \"error_at\": \"%s\"", t);
		}
		ctl_printf(r, "}");
	}
	ctl_printf(r, "]}");
}

static void report_text(server_zone_t *z, ctl_reply_t *r, int64_t now)
{
	fleet_zone_t *fz = z->fleet;
	if (fz->serials.known)
		ctl_printf(r, "%s  newest serial %u\n", z->conf->domain, fz->serials.newest);
	else
		ctl_printf(r, "%s  no serial seen yet\n", z->conf->domain);
	ctl_printf(r, "  %-32s %-20s %-12s %5s %-4s %8s %11s %6s  %s\n", "SERVER", "ROLE", "SERIAL",
	           "LAG", "SYNC", "BEHIND", "PROPAGATION", "RTT", "ERROR");
	for (size_t i = 0; i < fz->n; i++) {
		const member_t *m = &fz->m[i];
		const fleet_obs_t *o = &m->obs;
		char addr[180], a[80], roles[80], serial[16] = "-", behind[32] = "-",
		                                  prop[32] = "-", rtt[16] = "-";
		text_addr(m, a, sizeof(a));
		if (strcmp(m->name, "self") && strcmp(m->name, a))
			snprintf(addr, sizeof(addr), "%s (%s)", a, m->name);
		else
			snprintf(addr, sizeof(addr), "%s", a);
		roles_text(m->roles, roles, sizeof(roles), false);
		if (o->known)
			snprintf(serial, sizeof(serial), "%u", o->serial);
		int64_t b = fleet_behind_ms(&fz->serials, o, now);
		if (b)
			snprintf(behind, sizeof(behind), "%llds", (long long)(b / 1000));
		if (o->propagation_ms >= 0)
			snprintf(prop, sizeof(prop), "%lldms", (long long)o->propagation_ms);
		if (i && o->answered)
			snprintf(rtt, sizeof(rtt), "%ums", o->rtt_ms);
		ctl_printf(r, "  %-32s %-20s %-12s %5u %-4s %8s %11s %6s  %s\n", addr, roles,
		           serial, fleet_lag(&fz->serials, o),
		           fleet_in_sync(&fz->serials, o) ? "yes" : "NO", behind, prop, rtt,
		           o->answered || !o->error ? "-" : o->error);
	}
}

void fleetmon_report(fleetmon_t *f, server_zone_t *z, ctl_reply_t *r)
{
	int64_t now = net_now_ms(), wall = wall_ms();
	server_t *s = f->s;
	if (r->json) {
		r->structured = true;
		ctl_printf(r, "{\"zones\": [");
	}
	bool first = true;
	for (size_t i = 0; i < s->conf->nzones; i++) {
		server_zone_t *x = s->zones[i];
		if ((z && z != x) || !x->fleet)
			continue;
		if (r->json) {
			ctl_printf(r, "%s", first ? "" : ", ");
			report_json(x, r, now, wall);
		} else {
			report_text(x, r, now);
		}
		first = false;
	}
	if (r->json)
		ctl_printf(r, "]}\n");
}
