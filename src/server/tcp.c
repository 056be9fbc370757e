/* SPDX-License-Identifier: MIT */
/* tcp: epoll loops answering DNS over TCP (RFC 7766): pipelining, idle timeout, connection cap,
 * and streaming transfers out. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "shield.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "signed.h"
#include "wire.h"
#include "xfr.h"
#include "xfrout.h"

#define TCP_EVENTS    64
#define TCP_MSG_MAX   (2 + WIRE_MAX_MSG)
#define TCP_OUT_PAUSE (256 * 1024) /* stop reading while this much output waits */
/* A transfer out renders its next messages only when less than this waits to be sent, so a
 * huge zone never sits whole in memory and each wake-up does a bounded share of the work. */
#define TCP_XFR_LOW (64 * 1024)

typedef struct tcp_conn {
	int fd;
	bool listener;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint32_t events; /* what epoll watches for now */
	struct sockaddr_storage peer;
	/* A transfer out under way: until it ends, the messages pipelined after it wait. */
	xfrout_t *xfr;
	int64_t last; /* ms: the idle timeout runs from here, to the millisecond, as signalled */
	struct tcp_conn *prev, *next; /* least recently active first */
	/* A message begun but not whole: it must be whole by msg_start + tcp-io-timeout, so a
	 * client that trickles bytes (slow-loris) cannot hold the connection. */
	int64_t msg_start;              /* ms; 0 when no message is in part */
	struct tcp_conn *pprev, *pnext; /* the connections with one, oldest first */
	answer_client_t client;
	int addr_slot; /* its place in the per-address count */
} tcp_conn_t;

typedef struct tcp_worker {
	server_t *s;
	server_stats_t *stats;
	int ep;
	int nconns, max_conns;
	unsigned index;     /* among the TCP workers: its table for the per-source limits */
	uint16_t keepalive; /* tcp-idle-timeout in 100 ms units, for RFC 7828 answers */
	tcp_conn_t *head, *tail;
	tcp_conn_t *phead, *ptail; /* connections with a message in part */
	tcp_conn_t *listeners;
	size_t nlisteners;
	uint8_t resp[TCP_MSG_MAX];
} tcp_worker_t;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void partial_remove(tcp_worker_t *w, tcp_conn_t *c)
{
	if (!c->msg_start)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		w->phead = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		w->ptail = c->pprev;
	c->pprev = c->pnext = NULL;
	c->msg_start = 0;
}

/* Notes whether a message is in part after what was read was answered. */
static void partial_update(tcp_worker_t *w, tcp_conn_t *c)
{
	bool part = c->in_len && (c->in_len < 2 || c->in_len < 2 + (size_t)wire_read16(c->in));
	if (!part) {
		partial_remove(w, c);
		return;
	}
	if (c->msg_start)
		return;
	c->msg_start = now_ms();
	c->pprev = w->ptail;
	c->pnext = NULL;
	if (w->ptail)
		w->ptail->pnext = c;
	else
		w->phead = c;
	w->ptail = c;
}

static void list_remove(tcp_worker_t *w, tcp_conn_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(tcp_worker_t *w, tcp_conn_t *c)
{
	c->prev = w->tail;
	c->next = NULL;
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
}

static void touch(tcp_worker_t *w, tcp_conn_t *c)
{
	c->last = now_ms();
	list_remove(w, c);
	list_append(w, c);
}

static void conn_close(tcp_worker_t *w, tcp_conn_t *c)
{
	xfrout_free(c->xfr);
	list_remove(w, c);
	partial_remove(w, c);
	shield_tcp_end(w->s->shield, c->addr_slot);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	w->nconns--;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 512;
	while (ncap < need)
		ncap *= 2;
	uint8_t *p = realloc(*buf, ncap);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = ncap;
	return 0;
}

/* Writes what is pending; returns false when the connection is dead. */
static bool conn_flush(tcp_worker_t *w, tcp_conn_t *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return false;
		}
		c->out_off += (size_t)n;
		/* A transfer the client keeps reading is activity, however long it takes. */
		if (c->xfr)
			touch(w, c);
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/* A client that does not read its answers stops being read from; so does one with a
	 * transfer under way, whose next messages are made as the socket takes them. */
	uint32_t events = EPOLLIN;
	if (c->xfr)
		events = EPOLLOUT;
	else if (c->out_len)
		events = EPOLLOUT | (c->out_len > TCP_OUT_PAUSE ? 0 : EPOLLIN);
	if (events != c->events) {
		struct epoll_event ev = {.events = events, .data.ptr = c};
		epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = events;
	}
	return true;
}

/*
 * Answers the complete messages in the input buffer, up to the first transfer request, which
 * starts c->xfr. False when out of memory.
 */
static bool conn_answer(tcp_worker_t *w, tcp_conn_t *c)
{
	server_t *s = w->s;
	size_t off = 0;
	rcu_read_lock();
	while (!c->xfr && c->in_len - off >= 2 && c->out_len <= TCP_OUT_PAUSE) {
		size_t mlen = wire_read16(c->in + off);
		if (c->in_len - off < 2 + mlen)
			break;
		answer_info_t info = {0};
		uint8_t *q = c->in + off + 2;
		size_t len;
		shield_t *g = s->shield;
		const shield_settings_t *gs = shield_settings(g);
		uint32_t now = shield_now();
		bool notify = mlen >= WIRE_HDR_LEN &&
		              WIRE_OPCODE(wire_read16(q + WIRE_FLAGS)) == WIRE_OPCODE_NOTIFY;
		bool xfr = !notify && xfr_maybe_request(q, mlen);
		if ((notify && !shield_allow(g->tcp, w->index, RRL_NOTIFY, gs->notify_rate,
		                             &gs->rrl, &c->client, now)) ||
		    (xfr && !shield_allow(g->tcp, w->index, RRL_XFR, gs->transfer_rate, &gs->rrl,
		                          &c->client, now))) {
			/* Over the per-source rate: no answer, no work, and the client goes. */
			stat_inc(notify ? &w->stats->notify_limited : &w->stats->transfer_limited);
			stat_inc(&w->stats->queries);
			rcu_read_unlock();
			return false;
		}
		if (notify) {
			len = notify_answer(s, q, mlen, &c->peer, w->resp + 2);
			if (len && (w->resp[2 + 3] & 0xF) != WIRE_RCODE_NOERROR)
				stat_inc(&w->stats->notify_refused);
			else if (len)
				stat_inc(&w->stats->notify_accepted);
		} else if (!xfr ||
		           xfrout_begin(s, q, mlen, &c->peer, true, w->resp + 2, WIRE_MAX_MSG, &len,
		                        &info, &c->xfr) == XFROUT_QUERY) {
			len = answer_query_from(&s->answer, rcu_dereference(s->gen)->db, &c->client,
			                        q, mlen, w->resp + 2, true, 0, &info);
		} else if (!c->xfr && info.rcode != WIRE_RCODE_NOERROR) {
			stat_inc(&w->stats->transfer_refused);
		}
		if (info.tsig)
			len = signed_answer(s, &c->client, q, mlen, true, w->resp + 2, len,
			                    WIRE_MAX_MSG, &info);
		shield_count_cookie(w->stats, &info);
		off += 2 + mlen;
		stat_inc(&w->stats->queries);
		if (!len)
			continue;
		stat_inc(&w->stats->rcode[info.rcode & 15]);
		wire_write16(w->resp, (uint16_t)len);
		if (reserve(&c->out, &c->out_cap, c->out_len + 2 + len)) {
			rcu_read_unlock();
			return false;
		}
		memcpy(c->out + c->out_len, w->resp, 2 + len);
		c->out_len += 2 + len;
	}
	rcu_read_unlock();
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return true;
}

/*
 * Renders the transfer's next messages while little output waits. False when the connection
 * must go: out of memory, or the transfer failed (the client learns it from the close).
 */
static bool conn_pump(tcp_conn_t *c)
{
	while (c->xfr && c->out_len < TCP_XFR_LOW) {
		if (reserve(&c->out, &c->out_cap, c->out_len + 2 + WIRE_MAX_MSG))
			return false;
		size_t len;
		int ret = xfrout_next(c->xfr, c->out + c->out_len + 2, &len);
		if (ret < 0)
			return false;
		wire_write16(c->out + c->out_len, (uint16_t)len);
		c->out_len += 2 + len;
		if (ret == XFR_DONE) {
			xfrout_free(c->xfr);
			c->xfr = NULL;
		}
	}
	return true;
}

/*
 * Does what the connection has to do: streams its transfer, answers what was read, starts
 * the next transfer when one comes up, then sends what it can. False when it must go.
 */
static bool conn_process(tcp_worker_t *w, tcp_conn_t *c)
{
	for (;;) {
		if (!conn_pump(c))
			return false;
		if (c->xfr)
			break; /* enough output waits: more when the socket takes it */
		if (!conn_answer(w, c))
			return false;
		if (!c->xfr)
			break;
	}
	return conn_flush(w, c);
}

static void conn_read(tcp_worker_t *w, tcp_conn_t *c)
{
	for (;;) {
		/* Room for the message under way whole, and for a few small ones pipelined. */
		size_t need = c->in_len >= 2 ? 2 + (size_t)wire_read16(c->in) : 0;
		if (reserve(&c->in, &c->in_cap, need > 1024 ? need : 1024)) {
			conn_close(w, c);
			return;
		}
		if (c->in_len == c->in_cap)
			return; /* answers are waiting to be read: read on after they drain */
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(w, c);
			return;
		}
		c->in_len += (size_t)n;
		touch(w, c);
		if (!conn_process(w, c)) {
			conn_close(w, c);
			return;
		}
		partial_update(w, c);
	}
}

static void accept_all(tcp_worker_t *w, int lfd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd =
		    accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (w->nconns >= w->max_conns) {
			/* Full: refuse now rather than let the backlog stall clients (RFC
			 * 7766 6.2). */
			close(fd);
			stat_inc(&w->stats->tcp_refused);
			continue;
		}
		answer_client_t client;
		shield_client(&peer, &client);
		int slot = -1;
		rcu_read_lock();
		const shield_settings_t *gs = shield_settings(w->s->shield);
		bool blocked = shield_blocked(gs, &client);
		bool room = !blocked && shield_tcp_begin(w->s->shield, gs, &peer, &slot);
		rcu_read_unlock();
		if (!room) {
			/* One client cannot take every connection (RFC 7766 6.2.2). */
			close(fd);
			stat_inc(blocked ? &w->stats->blocked : &w->stats->tcp_refused_address);
			continue;
		}
		tcp_conn_t *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			shield_tcp_end(w->s->shield, slot);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->client = client;
		/* RFC 7828 3.3.2: what answers signal when asked, in 100 ms units. */
		c->client.keepalive = w->keepalive;
		c->addr_slot = slot;
		c->events = EPOLLIN;
		c->last = now_ms();
		list_append(w, c);
		w->nconns++;
	}
}

static void *tcp_loop(void *arg)
{
	tcp_worker_t *w = arg;
	server_t *s = w->s;
	server_stats_self = w->stats;
	int idle = s->conf->tcp_idle_timeout;
	w->keepalive = (uint16_t)(10 * idle);
	int64_t io_timeout = s->conf->tcp_io_timeout;
	struct epoll_event events[TCP_EVENTS];
	/* Below the UDP workers on a busy CPU: a transfer out streams as fast as the client reads,
	 * and on a shared core it would take half of it from the queries. The nice value is per
	 * thread on Linux (setpriority on the thread's id). */
	if (s->conf->tcp_nice &&
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), s->conf->tcp_nice) != 0)
		log_warning("tcp: cannot lower the TCP workers' priority: %s", strerror(errno));
	rcu_register_thread();
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		int wait = 200;
		if (w->phead) {
			int64_t left = w->phead->msg_start + io_timeout - now_ms();
			wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
		}
		int n = epoll_wait(w->ep, events, TCP_EVENTS, wait);
		for (int i = 0; i < n; i++) {
			tcp_conn_t *c = events[i].data.ptr;
			if (c->listener) {
				accept_all(w, c->fd);
			} else if (events[i].events & (EPOLLERR | EPOLLHUP)) {
				conn_close(w, c);
			} else if (events[i].events & EPOLLOUT) {
				if (!conn_flush(w, c))
					conn_close(w, c);
				else if ((c->xfr || (c->out_len == 0 && c->in_len)) &&
				         !conn_process(w, c))
					conn_close(w, c);
				else
					partial_update(w, c);
			} else if (events[i].events & EPOLLIN) {
				conn_read(w, c);
			}
		}
		int64_t ms = now_ms();
		while (w->head && ms - w->head->last >= (int64_t)idle * 1000)
			conn_close(w, w->head);
		while (w->phead && ms - w->phead->msg_start >= io_timeout) {
			stat_inc(&w->stats->tcp_timeouts);
			conn_close(w, w->phead);
		}
	}
	while (w->head)
		conn_close(w, w->head);
	for (size_t i = 0; i < w->nlisteners; i++)
		close(w->listeners[i].fd);
	rcu_unregister_thread();
	close(w->ep);
	free(w->listeners);
	free(w);
	return NULL;
}

int tcp_start(server_t *s, pthread_t *threads, int *nthreads, int first_stats)
{
	const conf_t *c = s->conf;
	for (int i = 0; i < c->tcp_workers; i++) {
		tcp_worker_t *w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->s = s;
		w->index = (unsigned)i;
		w->stats = &s->stats[first_stats + i];
		w->max_conns = (c->tcp_max_clients + c->tcp_workers - 1) / c->tcp_workers;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->listeners = calloc(c->nlisten, sizeof(tcp_conn_t));
		if (w->ep < 0 || !w->listeners) {
			free(w->listeners);
			free(w);
			return -ENOMEM;
		}
		for (size_t a = 0; a < c->nlisten; a++) {
			/* Bound before the daemon gave up root; the worker owns it from here. */
			int fd = s->tcp_fds[(size_t)i * c->nlisten + a];
			s->tcp_fds[(size_t)i * c->nlisten + a] = -1;
			tcp_conn_t *l = &w->listeners[w->nlisteners++];
			l->fd = fd;
			l->listener = true;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
			epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
		}
		int ret = pthread_create(&threads[*nthreads], NULL, tcp_loop, w);
		if (ret)
			return -ret;
		(*nthreads)++;
	}
	return 0;
}
