/* SPDX-License-Identifier: MIT */
/* connpool: idle TCP connections to primaries, kept open between transfers. */
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "connpool.h"
#include "tls.h"

typedef struct conn {
	net_stream_t st; /* fd -1: a free entry */
	const void *tls; /* the TLS client context it was made with; NULL: clear text */
	conf_addr_t to, via;
	bool has_via;
	int64_t until; /* ms: closed by then, before the server closes it */
} conn_t;

/* A handful of entries, walked whole: the mutex is held for microseconds, by the refresh jobs
 * only, never on the query path. */
struct connpool {
	pthread_mutex_t lock;
	const void *tag;
	conn_t conns[CONNPOOL_MAX];
};

connpool_t *connpool_new(void)
{
	connpool_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	for (size_t i = 0; i < CONNPOOL_MAX; i++)
		p->conns[i].st.fd = -1;
	return p;
}

static void drop(conn_t *c)
{
	net_stream_close(&c->st);
}

void connpool_free(connpool_t *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < CONNPOOL_MAX; i++)
		drop(&p->conns[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static bool addr_equal(const conf_addr_t *a, const conf_addr_t *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
	return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static bool same_ends(const conn_t *c, const conf_addr_t *to, const conf_addr_t *via,
                      const void *tls)
{
	return c->tls == tls && addr_equal(&c->to, to) && c->has_via == (via != NULL) &&
	       (!via || addr_equal(&c->via, via));
}

/* A primary sends nothing unasked: readable means it closed (EOF or a reset) or misbehaves,
 * and either way the connection is not one to send a query on. Over TLS the server may send
 * records of its own after the handshake (TLS 1.3 session tickets), which TLS reads away. */
static bool looks_open(net_stream_t *st)
{
	struct pollfd pf = {.fd = st->fd, .events = POLLIN | POLLRDHUP};
	int n = poll(&pf, 1, 0);
	if (n == 0)
		return true;
	return n > 0 && st->ssl && !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR)) &&
	       tls_stream_idle(st);
}

bool connpool_take(connpool_t *p, const conf_addr_t *to, const conf_addr_t *via, const void *tls,
                   net_stream_t *out)
{
	pthread_mutex_lock(&p->lock);
	/* The one kept longest left to go first, so the others' timers run from later. */
	conn_t *best = NULL;
	for (size_t i = 0; i < CONNPOOL_MAX; i++) {
		conn_t *c = &p->conns[i];
		if (c->st.fd < 0 || !same_ends(c, to, via, tls))
			continue;
		if (!looks_open(&c->st)) {
			drop(c);
			continue;
		}
		if (!best || c->until > best->until)
			best = c;
	}
	if (best) {
		*out = best->st;
		best->st = (net_stream_t){.fd = -1};
	}
	pthread_mutex_unlock(&p->lock);
	return best != NULL;
}

void connpool_put(connpool_t *p, const void *tag, const conf_addr_t *to, const conf_addr_t *via,
                  const void *tls, net_stream_t *st, int64_t keep_ms, int64_t now_ms)
{
	if (st->fd < 0)
		return;
	if (keep_ms > CONNPOOL_KEEP_MAX_MS)
		keep_ms = CONNPOOL_KEEP_MAX_MS;
	keep_ms -= CONNPOOL_MARGIN_MS;
	pthread_mutex_lock(&p->lock);
	if (keep_ms <= 0 || tag != p->tag) {
		pthread_mutex_unlock(&p->lock);
		net_stream_close(st);
		return;
	}
	conn_t *slot = NULL, *oldest = NULL, *oldest_here = NULL;
	int here = 0;
	for (size_t i = 0; i < CONNPOOL_MAX; i++) {
		conn_t *c = &p->conns[i];
		if (c->st.fd < 0) {
			slot = slot ? slot : c;
			continue;
		}
		if (!oldest || c->until < oldest->until)
			oldest = c;
		if (same_ends(c, to, via, tls)) {
			here++;
			if (!oldest_here || c->until < oldest_here->until)
				oldest_here = c;
		}
	}
	/* Bounded per primary, then in all: the connection just used is the freshest, so the
	 * one that would end first makes room. */
	if (here >= CONNPOOL_PER_ADDRESS)
		slot = oldest_here;
	else if (!slot)
		slot = oldest;
	drop(slot);
	*slot = (conn_t){
	    .st = *st, .tls = tls, .to = *to, .has_via = via != NULL, .until = now_ms + keep_ms};
	if (via)
		slot->via = *via;
	*st = (net_stream_t){.fd = -1};
	pthread_mutex_unlock(&p->lock);
}

int connpool_reap(connpool_t *p, int64_t now_ms)
{
	int64_t next = -1;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < CONNPOOL_MAX; i++) {
		conn_t *c = &p->conns[i];
		if (c->st.fd < 0)
			continue;
		/* Closed by the server meanwhile: its socket goes now, not at our deadline. */
		if (c->until <= now_ms || !looks_open(&c->st)) {
			drop(c);
			continue;
		}
		if (next < 0 || c->until - now_ms < next)
			next = c->until - now_ms;
	}
	pthread_mutex_unlock(&p->lock);
	return next < 0 ? -1 : next > 3600000 ? 3600000 : (int)next;
}

static bool in_conf(const conn_t *c, const conf_t *conf)
{
	for (size_t i = 0; i < conf->nremotes; i++) {
		const conf_remote_t *r = &conf->remotes[i];
		if (r->tls || r->has_via != c->has_via ||
		    (r->has_via && !addr_equal(&r->via, &c->via)))
			continue;
		for (size_t a = 0; a < r->naddr; a++)
			if (addr_equal(&r->addr[a], &c->to))
				return true;
	}
	return false;
}

void connpool_retain(connpool_t *p, const void *tag, const conf_t *conf)
{
	pthread_mutex_lock(&p->lock);
	p->tag = tag;
	for (size_t i = 0; i < CONNPOOL_MAX; i++)
		if (p->conns[i].st.fd >= 0 && !in_conf(&p->conns[i], conf))
			drop(&p->conns[i]);
	pthread_mutex_unlock(&p->lock);
}

int connpool_count(connpool_t *p)
{
	int n = 0;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < CONNPOOL_MAX; i++)
		n += p->conns[i].st.fd >= 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}
