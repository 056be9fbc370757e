/* SPDX-License-Identifier: MIT */
/* udp: one thread and one SO_REUSEPORT socket per worker, batched with recvmmsg/sendmmsg. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <urcu.h>

#include "shield.h"
#include "log.h"
#include "notify.h"
#include "wire.h"
#include "server.h"
#include "signed.h"
#include "xfr.h"
#include "xfrout.h"

#define UDP_BATCH    64
#define UDP_RECV_MAX 4096

typedef struct udp_worker {
	server_t *s;
	server_stats_t *stats;
	int fd;
	unsigned index;      /* among all UDP workers: its RRL table */
	uint64_t suppressed; /* RRL events not logged */
	uint32_t summary_at; /* when that was last said */
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec iin[UDP_BATCH], iout[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	shield_pending_t pend[UDP_BATCH]; /* answers waiting for their RRL decision */
	uint8_t qbuf[UDP_BATCH][UDP_RECV_MAX];
	uint8_t rbuf[UDP_BATCH][UDP_RECV_MAX];
} udp_worker_t;

static void *udp_loop(void *arg)
{
	udp_worker_t *w = arg;
	server_t *s = w->s;
	rcu_register_thread();
	server_stats_self = w->stats;
	for (int i = 0; i < UDP_BATCH; i++) {
		w->iin[i] = (struct iovec){w->qbuf[i], UDP_RECV_MAX};
		w->in[i].msg_hdr = (struct msghdr){
		    .msg_name = &w->addr[i], .msg_iov = &w->iin[i], .msg_iovlen = 1};
		w->out[i].msg_hdr = (struct msghdr){.msg_iov = &w->iout[i], .msg_iovlen = 1};
	}
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		for (int i = 0; i < UDP_BATCH; i++)
			w->in[i].msg_hdr.msg_namelen = sizeof(w->addr[i]);
		int n = recvmmsg(w->fd, w->in, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			/* The receive timeout lets the stop flag be seen, and an idle worker
			 * still says when its limited accounts stop being limited. */
			shield_tick(s->shield, s->shield->udp, w->index, shield_now(),
			            &w->suppressed, &w->summary_at);
			continue;
		}
		int nout = 0, npend = 0;
		uint32_t now = shield_now();
		shield_t *g = s->shield;
		rcu_read_lock();
		const shield_settings_t *gs = shield_settings(g);
		for (int i = 0; i < n; i++) {
			answer_info_t info = {0};
			size_t len;
			xfrout_t *xfr; /* never set over UDP: no transfer streams there */
			const uint8_t *q = w->qbuf[i];
			size_t qlen = w->in[i].msg_len;
			answer_client_t cl;
			shield_client(&w->addr[i], &cl);
			stat_inc(&w->stats->queries);
			if (shield_blocked(gs, &cl)) {
				stat_inc(&w->stats->blocked);
				continue;
			}
			/* NOTIFY is rare and not for the query path, which it only passes by. */
			if (qlen >= WIRE_HDR_LEN &&
			    WIRE_OPCODE(wire_read16(q + WIRE_FLAGS)) == WIRE_OPCODE_NOTIFY) {
				if (!shield_allow(g->udp, w->index, RRL_NOTIFY, gs->notify_rate,
				                  &gs->rrl, &cl, now)) {
					stat_inc(&w->stats->notify_limited);
					continue;
				}
				len = notify_answer(s, q, qlen, &w->addr[i], w->rbuf[nout]);
				if (len && (w->rbuf[nout][3] & 0xF) != WIRE_RCODE_NOERROR)
					stat_inc(&w->stats->notify_refused);
				else if (len)
					stat_inc(&w->stats->notify_accepted);
			} else if (xfr_maybe_request(q, qlen) &&
			           !shield_allow(g->udp, w->index, RRL_XFR, gs->transfer_rate,
			                         &gs->rrl, &cl, now)) {
				stat_inc(&w->stats->transfer_limited);
				continue;
			} else if (!xfr_maybe_request(q, qlen) ||
			           xfrout_begin(s, q, qlen, &w->addr[i], false, w->rbuf[nout],
			                        UDP_RECV_MAX, &len, &info, &xfr) == XFROUT_QUERY) {
				len =
				    answer_query_from(&s->answer, rcu_dereference(s->gen)->db, &cl,
				                      q, qlen, w->rbuf[nout], false, 0, &info);
			} else if (info.rcode != WIRE_RCODE_NOERROR) {
				stat_inc(&w->stats->transfer_refused);
			}
			bool was_signed = info.tsig;
			if (info.tsig)
				len = signed_answer(s, NULL, w->qbuf[i], qlen, false, w->rbuf[nout],
				                    len, UDP_RECV_MAX, &info);
			shield_count_cookie(w->stats, &info);
			if (!len)
				continue;
			if (gs->rrl.rate && info.opcode == WIRE_OPCODE_QUERY) {
				shield_pending_t *p = &w->pend[npend];
				p->out = nout;
				p->was_signed = was_signed;
				p->client = cl;
				p->info = info;
				npend += shield_rrl_prepare(g, w->index, gs, p, w->rbuf[nout], len);
			}
			stat_inc(&w->stats->rcode[info.rcode & 15]);
			w->iout[nout] = (struct iovec){w->rbuf[nout], len};
			w->out[nout].msg_hdr.msg_name = &w->addr[i];
			w->out[nout].msg_hdr.msg_namelen = w->in[i].msg_hdr.msg_namelen;
			nout++;
		}
		if (npend) {
			/* Second pass: the buckets were prefetched while the batch was answered. */
			for (int i = 0; i < npend; i++) {
				shield_pending_t *p = &w->pend[i];
				struct iovec *v = &w->iout[p->out];
				v->iov_len = shield_rrl_finish(g, w->index, gs, p, v->iov_base,
				                               v->iov_len, w->stats, now);
			}
			int k = 0;
			for (int i = 0; i < nout; i++) {
				if (!w->iout[i].iov_len)
					continue;
				w->iout[k] = w->iout[i];
				w->out[k].msg_hdr.msg_name = w->out[i].msg_hdr.msg_name;
				w->out[k].msg_hdr.msg_namelen = w->out[i].msg_hdr.msg_namelen;
				k++;
			}
			nout = k;
		}
		rcu_read_unlock();
		for (int sent = 0; sent < nout;) {
			int r = sendmmsg(w->fd, w->out + sent, (unsigned)(nout - sent), 0);
			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				break; /* a full socket buffer drops the rest, as any UDP loss */
			}
			sent += r;
		}
		shield_tick(g, g->udp, w->index, now, &w->suppressed, &w->summary_at);
	}
	rcu_unregister_thread();
	close(w->fd);
	free(w);
	return NULL;
}

int udp_start(server_t *s, pthread_t *threads, int *nthreads, int first_stats)
{
	const conf_t *c = s->conf;
	int k = first_stats;
	for (size_t a = 0; a < c->nlisten; a++) {
		for (int i = 0; i < c->udp_workers; i++) {
			/* Bound before the daemon gave up root; the worker owns it from here. */
			int fd = s->udp_fds[a * (size_t)c->udp_workers + (size_t)i];
			s->udp_fds[a * (size_t)c->udp_workers + (size_t)i] = -1;
			struct timeval tv = {0, 200000};
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			udp_worker_t *w = calloc(1, sizeof(*w));
			if (!w) {
				close(fd);
				return -ENOMEM;
			}
			w->s = s;
			w->fd = fd;
			w->index = (unsigned)(k - first_stats);
			w->stats = &s->stats[k++];
			int ret = pthread_create(&threads[*nthreads], NULL, udp_loop, w);
			if (ret) {
				close(fd);
				free(w);
				return -ret;
			}
			(*nthreads)++;
		}
	}
	return 0;
}
