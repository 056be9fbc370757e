/* SPDX-License-Identifier: MIT */
/* tls: XFR over TLS (RFC 9103): the listener's worker pool and the transfer client's TLS. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "shield.h"
#include "signed.h"
#include "tls.h"
#include "wire.h"
#include "xfr.h"
#include "xfrout.h"

#define TLS_EVENTS    64
#define TLS_MSG_MAX   (2 + WIRE_MAX_MSG)
#define TLS_OUT_PAUSE (256 * 1024) /* stop reading while this much output waits */
#define TLS_XFR_LOW   (64 * 1024)  /* render more of a transfer below this */
#define TLS_ROUNDS    64           /* steps one connection gets per wake-up */

/* RFC 9103 7.1: the ALPN token of DNS over TLS, which XoT uses too. */
static const unsigned char alpn_dot[] = {3, 'd', 'o', 't'};

struct tls_client {
	SSL_CTX *ctx;
	const conf_remote_tls_t *conf; /* &own: the client outlives the conf it was made from */
	conf_remote_tls_t own;         /* what a connection checks: hostname, ca (set?), pins */
	atomic_int refs;               /* the tls_t made at start, and each generation using it */
};

typedef struct tconn tconn_t;

/* Connections in the order their deadline comes: each list has one timeout for all. */
typedef struct tlist {
	tconn_t *head, *tail;
} tlist_t;

struct tconn {
	int fd;
	bool listener;
	SSL *ssl;
	bool open;         /* handshake done */
	bool alpn_refused; /* the client offered ALPN without "dot" */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint32_t events;  /* what epoll watches for now */
	uint32_t rd_want; /* what the last SSL_read (or handshake) waits for */
	uint32_t wr_want; /* what the last SSL_write waits for */
	xfrout_t *xfr;    /* a transfer under way: pipelined messages wait behind it */
	int64_t last;     /* ms: accepted (handshake) or last progress */
	struct sockaddr_storage peer;
	answer_client_t client; /* the peer, for cookies, and our idle timeout (RFC 7828) */
	char peer_text[64];
	tlist_t *list;
	tconn_t *prev, *next;
};

typedef struct tworker {
	tls_t *t;
	server_t *s;
	int ep;
	int nconns, max_conns;
	tlist_t handshaking, established;
	tconn_t *listeners;
	size_t nlisteners;
	server_stats_t *stats; /* this pool's own (tls.stats): not in s->stats */
	uint16_t keepalive;    /* idle-timeout in 100 ms units, for RFC 7828 answers */
	uint8_t resp[TLS_MSG_MAX];
} tworker_t;

struct tls {
	server_t *s;
	SSL_CTX *srv; /* NULL: no listener */
	int *fds;     /* fds[worker * nlisten + address], -1 once a worker owns it */
	size_t nfds;
	pthread_t *threads;
	int nthreads;
	struct tls_client **clients; /* per remote; NULL for a clear-text one */
	size_t nremotes;
	server_stats_t *stats; /* one per worker, kept until tls_free for /metrics to read */
};

/* The first error OpenSSL queued for this thread, as text; the queue is emptied. */
static void ssl_error_text(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, len, "%s", r ? r : fallback);
	ERR_clear_error();
}

/* --- the listener's pool */

static void list_remove(tconn_t *c)
{
	tlist_t *l = c->list;
	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

static void list_append(tlist_t *l, tconn_t *c)
{
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	c->list = l;
}

static void touch(tworker_t *w, tconn_t *c)
{
	c->last = net_now_ms();
	list_remove(c);
	list_append(&w->established, c);
}

static void conn_close(tworker_t *w, tconn_t *c)
{
	xfrout_free(c->xfr);
	list_remove(c);
	if (c->ssl) {
		/* close_notify, best effort: a client that is gone does not hold us up. */
		if (c->open)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	/* Unread input would make close() send a reset, which can discard the alert just sent
	 * (a client refused in TLS 1.3 sends its query before it reads why): read it away. */
	uint8_t junk[4096];
	for (int i = 0; i < 16 && recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; i++)
		;
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

/*
 * Answers the complete messages read, up to the first transfer request, which starts c->xfr:
 * as the TCP workers do, with transfers checked by the zones' rules and TSIG alike. False
 * when out of memory.
 */
static bool conn_answer(tworker_t *w, tconn_t *c)
{
	server_t *s = w->s;
	size_t off = 0;
	rcu_read_lock();
	while (!c->xfr && c->in_len - off >= 2 && c->out_len <= TLS_OUT_PAUSE) {
		size_t mlen = wire_read16(c->in + off);
		if (c->in_len - off < 2 + mlen)
			break;
		answer_info_t info = {0};
		uint8_t *q = c->in + off + 2;
		size_t len;
		if (mlen >= WIRE_HDR_LEN &&
		    WIRE_OPCODE(wire_read16(q + WIRE_FLAGS)) == WIRE_OPCODE_NOTIFY)
			len = notify_answer(s, q, mlen, &c->peer, w->resp + 2);
		else if (!xfr_maybe_request(q, mlen) ||
		         xfrout_begin_over(s, q, mlen, &c->peer, true, "TLS", w->resp + 2,
		                           WIRE_MAX_MSG, &len, &info, &c->xfr) == XFROUT_QUERY)
			len = answer_query_from(&s->answer, rcu_dereference(s->gen)->db, &c->client,
			                        q, mlen, w->resp + 2, true, 0, &info);
		if (info.tsig)
			len = signed_answer(s, &c->client, q, mlen, true, w->resp + 2, len,
			                    WIRE_MAX_MSG, &info);
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

/* Renders the transfer's next messages while little output waits; false when it failed. */
static bool conn_pump(tconn_t *c)
{
	while (c->xfr && c->out_len < TLS_XFR_LOW) {
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

/* What an SSL call that returned ret <= 0 waits for: EPOLLIN or EPOLLOUT, or 0 when the
 * connection is over (closed by the peer, or broken). */
static uint32_t ssl_wants(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	default:
		return 0;
	}
}

/* Lets the client's ALPN pass only with "dot" in it (RFC 9103 7.1); none at all is taken,
 * as from a DoT client of RFC 7858. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == 3 && i + 4 <= inlen && !memcmp(in + i + 1, "dot", 3)) {
			*out = in + i + 1;
			*outlen = 3;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	tconn_t *c = SSL_get_app_data(ssl);
	if (c)
		c->alpn_refused = true;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Runs the handshake on; false when it failed (logged) and the connection must go. */
static bool conn_handshake(tworker_t *w, tconn_t *c)
{
	ERR_clear_error();
	int ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->open = true;
		c->rd_want = EPOLLIN;
		touch(w, c);
		const unsigned char *alpn = NULL;
		unsigned int alen = 0;
		SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
		log_debug("TLS from %s: %s, ALPN %s%s", c->peer_text, SSL_get_version(c->ssl),
		          alen ? "dot" : "none",
		          SSL_get0_peer_certificate(c->ssl) ? ", client certificate checked" : "");
		return true;
	}
	c->rd_want = ssl_wants(c->ssl, ret);
	if (c->rd_want)
		return true;
	char why[160];
	long v = SSL_get_verify_result(c->ssl);
	if (c->alpn_refused)
		snprintf(why, sizeof(why),
		         "the client offered ALPN without \"dot\" (RFC 9103 7.1)");
	else if (v != X509_V_OK)
		snprintf(why, sizeof(why), "client certificate: %s",
		         X509_verify_cert_error_string(v));
	else
		ssl_error_text(why, sizeof(why), "the connection ended");
	ERR_clear_error();
	log_notice("TLS from %s: handshake refused or failed: %s", c->peer_text, why);
	return false;
}

/*
 * Does everything the connection can do now: the handshake, then in turn sending what
 * waits, rendering more of a transfer, answering what was read and reading more, until
 * nothing moves or its share of steps is used up. Then watches for what it waits for. False
 * when the connection must go.
 */
static bool conn_run(tworker_t *w, tconn_t *c)
{
	bool more = false;
	if (!c->open && (!conn_handshake(w, c) || !c->open)) {
		if (!c->rd_want)
			return false;
		goto watch;
	}
	for (int round = 0; round < TLS_ROUNDS; round++) {
		bool moved = false;
		c->wr_want = 0;
		if (c->out_off < c->out_len) {
			ERR_clear_error();
			int n =
			    SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
			if (n > 0) {
				c->out_off += (size_t)n;
				moved = true;
				/* A transfer the client keeps reading is activity, however long. */
				if (c->xfr)
					touch(w, c);
			} else if (!(c->wr_want = ssl_wants(c->ssl, n))) {
				return false;
			}
		}
		if (c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
		if (c->xfr && c->out_len < TLS_XFR_LOW) {
			if (!conn_pump(c))
				return false;
			moved = true;
		}
		if (!c->xfr && c->in_len >= 2 && c->out_len <= TLS_OUT_PAUSE) {
			size_t before = c->in_len;
			if (!conn_answer(w, c))
				return false;
			moved |= c->in_len != before;
		}
		bool reading = !c->xfr && c->out_len <= TLS_OUT_PAUSE;
		if (reading) {
			/* Room for the message under way whole, and a few small ones pipelined. */
			size_t need = c->in_len >= 2 ? 2 + (size_t)wire_read16(c->in) : 0;
			if (reserve(&c->in, &c->in_cap, need > 1024 ? need : 1024))
				return false;
		}
		if (reading && c->in_len < c->in_cap) {
			ERR_clear_error();
			int n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
			if (n > 0) {
				c->in_len += (size_t)n;
				moved = true;
				touch(w, c);
			} else if (!(c->rd_want = ssl_wants(c->ssl, n))) {
				return false; /* closed by the client, or broken */
			}
		}
		if (!moved)
			break;
		more = round == TLS_ROUNDS - 1;
	}
watch:;
	/* Level-triggered: what the blocked calls wait for, or, when the share of steps ran
	 * out with work left, a writable socket to come back at once. */
	uint32_t events = more ? EPOLLIN | EPOLLOUT : 0;
	if (!c->open)
		events |= c->rd_want;
	else {
		if (c->out_len)
			events |= c->wr_want ? c->wr_want : EPOLLOUT;
		if (!c->xfr && c->out_len <= TLS_OUT_PAUSE)
			events |= c->rd_want ? c->rd_want : EPOLLIN;
	}
	if (!events)
		events = EPOLLIN;
	if (events != c->events) {
		struct epoll_event ev = {.events = events, .data.ptr = c};
		epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = events;
	}
	return true;
}

static void accept_all(tworker_t *w, int lfd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd =
		    accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (w->nconns >= w->max_conns) {
			/* Full: refuse now rather than let handshakes queue up. */
			close(fd);
			stat_inc(&w->stats->tcp_refused);
			continue;
		}
		tconn_t *c = calloc(1, sizeof(*c));
		SSL *ssl = c ? SSL_new(w->t->srv) : NULL;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!ssl || !SSL_set_fd(ssl, fd) || epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			SSL_free(ssl);
			ERR_clear_error();
			close(fd);
			free(c);
			continue;
		}
		/* TLS sends its handshake and records in small writes: Nagle's algorithm with
		 * the peer's delayed ACK would hold each up by 40 ms. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		SSL_set_accept_state(ssl);
		SSL_set_app_data(ssl, c);
		c->fd = fd;
		c->ssl = ssl;
		c->peer = peer;
		shield_client(&peer, &c->client);
		c->client.keepalive = w->keepalive;
		conf_addr_t a = {.ss = peer};
		conf_addr_str(&a, c->peer_text, sizeof(c->peer_text));
		c->events = EPOLLIN;
		c->last = net_now_ms();
		list_append(&w->handshaking, c);
		w->nconns++;
		/* The ClientHello is often there already. */
		if (!conn_run(w, c))
			conn_close(w, c);
	}
}

/* Closes the connections of l whose time since c->last reached timeout_ms. */
static void expire(tworker_t *w, tlist_t *l, int64_t now, int64_t timeout_ms, const char *what)
{
	while (l->head && now - l->head->last >= timeout_ms) {
		tconn_t *c = l->head;
		if (what)
			log_notice("TLS from %s: %s", c->peer_text, what);
		conn_close(w, c);
	}
}

static void *tls_loop(void *arg)
{
	tworker_t *w = arg;
	server_t *s = w->s;
	const conf_tls_t *tc = s->conf->tls;
	w->keepalive = (uint16_t)(10 * tc->idle_timeout);
	struct epoll_event events[TLS_EVENTS];
	rcu_register_thread();
	server_stats_self = w->stats;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		int n = epoll_wait(w->ep, events, TLS_EVENTS, 200);
		for (int i = 0; i < n; i++) {
			tconn_t *c = events[i].data.ptr;
			if (c->listener)
				accept_all(w, c->fd);
			else if (!conn_run(w, c))
				conn_close(w, c);
		}
		int64_t now = net_now_ms();
		expire(w, &w->handshaking, now, (int64_t)tc->handshake_timeout * 1000,
		       "no handshake within handshake-timeout, closed");
		expire(w, &w->established, now, (int64_t)tc->idle_timeout * 1000, NULL);
	}
	while (w->handshaking.head)
		conn_close(w, w->handshaking.head);
	while (w->established.head)
		conn_close(w, w->established.head);
	for (size_t i = 0; i < w->nlisteners; i++)
		close(w->listeners[i].fd);
	rcu_unregister_thread();
	close(w->ep);
	free(w->listeners);
	free(w);
	return NULL;
}

int tls_start(tls_t *t)
{
	if (!t || !t->srv)
		return 0;
	const conf_tls_t *tc = t->s->conf->tls;
	t->threads = calloc((size_t)tc->workers, sizeof(pthread_t));
	t->stats = aligned_alloc(64, sizeof(server_stats_t) * (size_t)tc->workers);
	if (!t->threads || !t->stats)
		return -ENOMEM;
	memset(t->stats, 0, sizeof(server_stats_t) * (size_t)tc->workers);
	for (int i = 0; i < tc->workers; i++) {
		tworker_t *w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->t = t;
		w->s = t->s;
		w->stats = &t->stats[i];
		w->max_conns = (tc->max_clients + tc->workers - 1) / tc->workers;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->listeners = calloc(tc->nlisten, sizeof(tconn_t));
		if (w->ep < 0 || !w->listeners) {
			if (w->ep >= 0)
				close(w->ep);
			free(w->listeners);
			free(w);
			return -ENOMEM;
		}
		for (size_t a = 0; a < tc->nlisten; a++) {
			tconn_t *l = &w->listeners[w->nlisteners++];
			l->fd = t->fds[(size_t)i * tc->nlisten + a];
			t->fds[(size_t)i * tc->nlisten + a] = -1;
			l->listener = true;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
			epoll_ctl(w->ep, EPOLL_CTL_ADD, l->fd, &ev);
		}
		int ret = pthread_create(&t->threads[t->nthreads], NULL, tls_loop, w);
		if (ret)
			return -ret;
		t->nthreads++;
	}
	for (size_t a = 0; a < tc->nlisten; a++) {
		char text[80];
		conf_addr_str(&tc->listen[a], text, sizeof(text));
		log_info("listening on %s (TLS: transfers and queries, ALPN dot%s)", text,
		         tc->ca ? ", client certificates required" : "");
	}
	return 0;
}

/* --- contexts */

static SSL_CTX *server_ctx(const conf_tls_t *tc)
{
	char why[160];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *step = "cannot make a TLS context";
	const char *file = "";
	if (!ctx)
		goto fail;
	/* RFC 9103 5.1: TLS 1.3 or later. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	step = "cannot read the certificate";
	file = tc->certificate;
	if (SSL_CTX_use_certificate_chain_file(ctx, tc->certificate) != 1)
		goto fail;
	step = "cannot read the key";
	file = tc->key;
	if (SSL_CTX_use_PrivateKey_file(ctx, tc->key, SSL_FILETYPE_PEM) != 1)
		goto fail;
	step = "the key does not match the certificate";
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (tc->ca) {
		/* Mutual TLS: a client without a certificate the CA signed is refused. */
		step = "cannot read the CA";
		file = tc->ca;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tc->ca);
		if (!names || SSL_CTX_load_verify_locations(ctx, tc->ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	ssl_error_text(why, sizeof(why), "unknown error");
	log_error("server.tls: %s %s: %s", step, file, why);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Pins alone check the key, not the chain: every chain passes here, the pin after. */
static int accept_any_chain(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static void client_free(struct tls_client *c);

/* The settings a connection checks, copied: 0 or US_ENOMEM. */
static int client_own(struct tls_client *c, const conf_remote_tls_t *rc)
{
	c->own.npins = rc->npins;
	if ((rc->ca && !(c->own.ca = strdup(rc->ca))) ||
	    (rc->hostname && !(c->own.hostname = strdup(rc->hostname))) ||
	    (rc->npins && !(c->own.pins = malloc(rc->npins * sizeof(*rc->pins)))))
		return US_ENOMEM;
	if (rc->npins)
		memcpy(c->own.pins, rc->pins, rc->npins * sizeof(*rc->pins));
	c->conf = &c->own;
	return 0;
}

struct tls_client *tls_client_new(const conf_remote_t *r)
{
	const conf_remote_tls_t *rc = r->tls;
	char why[160];
	const char *step = "cannot make a TLS context", *file = "";
	struct tls_client *c = calloc(1, sizeof(*c));
	SSL_CTX *ctx = c ? SSL_CTX_new(TLS_client_method()) : NULL;
	if (!ctx)
		goto fail;
	c->ctx = ctx;
	atomic_init(&c->refs, 1);
	step = "out of memory";
	if (client_own(c, rc) != 0)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	step = "cannot set ALPN";
	if (SSL_CTX_set_alpn_protos(ctx, alpn_dot, sizeof(alpn_dot)) != 0)
		goto fail;
	if (rc->ca) {
		step = "cannot read the CA";
		file = rc->ca;
		if (SSL_CTX_load_verify_locations(ctx, rc->ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_chain);
	}
	if (rc->certificate) {
		step = "cannot read the client certificate";
		file = rc->certificate;
		if (SSL_CTX_use_certificate_chain_file(ctx, rc->certificate) != 1)
			goto fail;
		step = "cannot read the client key";
		file = rc->key;
		if (SSL_CTX_use_PrivateKey_file(ctx, rc->key, SSL_FILETYPE_PEM) != 1)
			goto fail;
		step = "the client key does not match its certificate";
		if (SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	return c;
fail:
	ssl_error_text(why, sizeof(why), "unknown error");
	log_error("remote %s: tls: %s %s: %s", r->id, step, file, why);
	if (c)
		c->ctx = NULL;
	SSL_CTX_free(ctx);
	client_free(c);
	return NULL;
}

static void client_free(struct tls_client *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c->own.ca);
	free(c->own.hostname);
	free(c->own.pins);
	free(c);
}

struct tls_client *tls_client_ref(struct tls_client *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void tls_client_unref(struct tls_client *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		client_free(c);
}

int tls_setup(server_t *s, tls_t **out)
{
	const conf_t *conf = s->conf;
	bool any = conf->tls != NULL;
	for (size_t i = 0; i < conf->nremotes; i++)
		any |= conf->remotes[i].tls != NULL;
	*out = NULL;
	if (!any)
		return 0;
	tls_t *t = calloc(1, sizeof(*t));
	if (!t)
		return US_ENOMEM;
	t->s = s;
	t->nremotes = conf->nremotes;
	t->clients = calloc(conf->nremotes ? conf->nremotes : 1, sizeof(*t->clients));
	if (!t->clients) {
		free(t);
		return US_ENOMEM;
	}
	*out = t; /* from here tls_free cleans up whatever was made */
	for (size_t i = 0; i < conf->nremotes; i++)
		if (conf->remotes[i].tls && !(t->clients[i] = tls_client_new(&conf->remotes[i])))
			return US_ETLS;
	const conf_tls_t *tc = conf->tls;
	if (!tc)
		return 0;
	if (!(t->srv = server_ctx(tc)))
		return US_ETLS;
	t->nfds = tc->nlisten * (size_t)tc->workers;
	t->fds = malloc(sizeof(int) * (t->nfds ? t->nfds : 1));
	if (!t->fds)
		return US_ENOMEM;
	for (size_t i = 0; i < t->nfds; i++)
		t->fds[i] = -1;
	for (size_t a = 0; a < tc->nlisten; a++) {
		char text[80];
		conf_addr_str(&tc->listen[a], text, sizeof(text));
		int ret = server_port_free(&tc->listen[a], SOCK_STREAM);
		for (int i = 0; ret == 0 && i < tc->workers; i++) {
			int fd = server_listen(&tc->listen[a], SOCK_STREAM);
			if (fd < 0)
				ret = fd;
			else
				t->fds[(size_t)i * tc->nlisten + a] = fd;
		}
		if (ret < 0) {
			log_error("cannot listen on %s (TLS): %s", text, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void tls_free(tls_t *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	free(t->threads);
	free(t->stats);
	for (size_t i = 0; t->fds && i < t->nfds; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	free(t->fds);
	for (size_t i = 0; i < t->nremotes; i++)
		tls_client_unref(t->clients[i]);
	free(t->clients);
	SSL_CTX_free(t->srv);
	free(t);
}

const struct server_stats *tls_stats(const tls_t *t, int i)
{
	return t && t->stats && i >= 0 && i < t->nthreads ? &t->stats[i] : NULL;
}

const struct tls_client *tls_client(const tls_t *t, int remote)
{
	if (!t || remote < 0 || (size_t)remote >= t->nremotes)
		return NULL;
	return t->clients[remote];
}

/* --- the transfer client: blocking calls with deadlines, on a non-blocking socket */

/* Waits for what the SSL call that returned ret needs; 0 to try again, or a negative error
 * (US_ETLS when the connection failed, with why in st->error when st is given, -ECONNRESET
 * when the peer closed it). */
static int ssl_wait(SSL *ssl, int fd, int ret, int idle_ms, int64_t deadline_ms, net_stream_t *st)
{
	int err = SSL_get_error(ssl, ret);
	if (st && (err == SSL_ERROR_SSL || (err == SSL_ERROR_SYSCALL && ERR_peek_error())))
		ssl_error_text(st->error, sizeof(st->error), "TLS failed");
	switch (err) {
	case SSL_ERROR_WANT_READ:
		return net_wait_fd(fd, POLLIN, idle_ms, deadline_ms);
	case SSL_ERROR_WANT_WRITE:
		return net_wait_fd(fd, POLLOUT, idle_ms, deadline_ms);
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		return ERR_peek_error() ? US_ETLS : errno ? -errno : -ECONNRESET;
	default:
		return US_ETLS;
	}
}

/* The base64 SHA-256 of the certificate's SubjectPublicKeyInfo (RFC 7469 2.4) into pin. */
static int spki_pin(X509 *cert, uint8_t digest[32], char *b64, size_t b64len)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	unsigned int dlen = 0;
	int ok = len > 0 && EVP_Digest(der, (size_t)len, digest, &dlen, EVP_sha256(), NULL) &&
	         dlen == 32;
	OPENSSL_free(der);
	if (!ok)
		return US_ETLS;
	if (b64len >= 45)
		EVP_EncodeBlock((unsigned char *)b64, digest, 32);
	return 0;
}

/* Checks what the handshake gave: ALPN, and the pins. 0, or US_ETLS with err set. */
static int check_peer(const struct tls_client *c, SSL *ssl, char *err, size_t errlen)
{
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	/* A server may ignore ALPN; one that picked another protocol is not speaking XoT. */
	if (alen && (alen != 3 || memcmp(alpn, "dot", 3))) {
		us_errf(err, errlen, "the server chose ALPN \"%.*s\", not \"dot\"", (int)alen,
		        alpn);
		return US_ETLS;
	}
	const conf_remote_tls_t *rc = c->conf;
	if (!rc->npins)
		return 0;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	uint8_t digest[32];
	char b64[48] = "";
	if (!cert || spki_pin(cert, digest, b64, sizeof(b64))) {
		us_errf(err, errlen, "the server sent no certificate to check the pin against");
		return US_ETLS;
	}
	for (size_t i = 0; i < rc->npins; i++)
		if (!memcmp(rc->pins[i], digest, 32))
			return 0;
	us_errf(err, errlen, "no pin matches the server's key (its pin is %s)", b64);
	return US_ETLS;
}

int tls_connect(const struct tls_client *c, const conf_addr_t *to, const conf_addr_t *via,
                int64_t deadline_ms, net_stream_t *out, char *err, size_t errlen)
{
	const conf_remote_tls_t *rc = c->conf;
	int fd = net_tcp_connect(to, via, deadline_ms);
	if (fd < 0) {
		us_errf(err, errlen, "cannot connect: %s", strerror(-fd));
		return fd;
	}
	int one = 1; /* as on the listener's side: no 40 ms stalls between small records */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ERR_clear_error();
	SSL *ssl = SSL_new(c->ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		us_errf(err, errlen, "out of memory");
		SSL_free(ssl);
		close(fd);
		return US_ENOMEM;
	}
	/* The name to check: the hostname, or with a CA alone the address we connect to. */
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	char ip[INET6_ADDRSTRLEN] = "";
	const void *bin = to->ss.ss_family == AF_INET
	                      ? (const void *)&((const struct sockaddr_in *)&to->ss)->sin_addr
	                      : (const void *)&((const struct sockaddr_in6 *)&to->ss)->sin6_addr;
	inet_ntop(to->ss.ss_family, bin, ip, sizeof(ip));
	unsigned char tmp[16];
	const char *name = rc->hostname;
	bool literal =
	    name && (inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1);
	int ok = 1;
	if (name && !literal)
		ok = SSL_set_tlsext_host_name(ssl, name);
	if (rc->ca && name && !literal)
		ok &= SSL_set1_host(ssl, name);
	else if (rc->ca)
		ok &= X509_VERIFY_PARAM_set1_ip_asc(param, literal ? name : ip);
	int ret = ok ? 0 : US_ENOMEM;
	while (ret == 0) {
		ERR_clear_error();
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		ret = ssl_wait(ssl, fd, r, -1, deadline_ms, NULL);
	}
	if (ret == US_ETLS || ret == -ECONNRESET) {
		long v = SSL_get_verify_result(ssl);
		char why[160];
		if (v != X509_V_OK)
			snprintf(why, sizeof(why), "the server's certificate: %s",
			         X509_verify_cert_error_string(v));
		else
			ssl_error_text(why, sizeof(why), "the server closed the connection");
		us_errf(err, errlen, "TLS handshake failed: %s", why);
		ret = US_ETLS;
	} else if (ret) {
		us_errf(err, errlen, "TLS handshake: %s", us_strerror(ret));
	} else {
		ret = check_peer(c, ssl, err, errlen);
	}
	ERR_clear_error();
	if (ret) {
		SSL_free(ssl);
		close(fd);
		return ret;
	}
	*out = (net_stream_t){.fd = fd, .ssl = ssl};
	return 0;
}

int tls_stream_send(net_stream_t *st, const uint8_t *msg, size_t len, int64_t deadline_ms)
{
	/* One record for a query: the length and the message together. */
	uint8_t buf[2 + 4096];
	const uint8_t *parts[2] = {buf, msg};
	size_t lens[2] = {2, len};
	wire_write16(buf, (uint16_t)len);
	int nparts = 2;
	if (len <= sizeof(buf) - 2) {
		memcpy(buf + 2, msg, len);
		lens[0] = 2 + len;
		nparts = 1;
	}
	for (int i = 0; i < nparts; i++) {
		for (;;) {
			ERR_clear_error();
			int n = SSL_write(st->ssl, parts[i], (int)lens[i]);
			if (n > 0)
				break; /* all of it: partial writes are off */
			int ret = ssl_wait(st->ssl, st->fd, n, -1, deadline_ms, st);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Reads exactly len bytes; 0, -ECONNRESET at the end of the stream, or another error. */
static int tls_read_exact(net_stream_t *st, uint8_t *buf, size_t len, int idle_ms,
                          int64_t deadline_ms)
{
	size_t got = 0;
	while (got < len) {
		ERR_clear_error();
		int n = SSL_read(st->ssl, buf + got, (int)(len - got));
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		int ret = ssl_wait(st->ssl, st->fd, n, idle_ms, deadline_ms, st);
		if (ret)
			return ret;
	}
	return 0;
}

int tls_stream_recv(net_stream_t *st, uint8_t *buf, int idle_ms, int64_t deadline_ms)
{
	uint8_t hdr[2];
	int ret = tls_read_exact(st, hdr, 1, idle_ms, deadline_ms);
	if (ret == -ECONNRESET)
		return 0;
	if (ret == 0)
		ret = tls_read_exact(st, hdr + 1, 1, idle_ms, deadline_ms);
	size_t len = wire_read16(hdr);
	if (ret == 0)
		ret = tls_read_exact(st, buf, len, idle_ms, deadline_ms);
	if (ret == -ECONNRESET || (ret == 0 && len == 0))
		return -EPROTO;
	return ret ? ret : (int)len;
}

void tls_stream_close(net_stream_t *st)
{
	SSL_shutdown(st->ssl);
	SSL_free(st->ssl);
	ERR_clear_error();
	st->ssl = NULL;
}

bool tls_stream_idle(net_stream_t *st)
{
	uint8_t b;
	ERR_clear_error();
	int n = SSL_peek(st->ssl, &b, 1);
	int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(st->ssl, n);
	ERR_clear_error();
	return n <= 0 && e == SSL_ERROR_WANT_READ;
}
