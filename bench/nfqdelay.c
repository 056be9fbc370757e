/* SPDX-License-Identifier: MIT */
/* nfqdelay: a userspace packet delayer for multi-site tests (this kernel has no sch_netem). */

/*
 * Reads one netfilter queue (an iptables rule `-j NFQUEUE --queue-num N` in the network
 * namespace it runs in), holds each packet for a fixed delay and then accepts it, or drops a
 * given share of them at random. The delay is the same for every packet, so the order is kept
 * and a FIFO is all the state: a link 100 ms long, not a jittery one.
 *
 *     nfqdelay -q QUEUE -d DELAY_MS [-l LOSS_PERMILLE] [-s SEED]
 *
 * It prints "ready" on stdout once the queue is bound, so the caller adds its rule after that
 * (packets queued to a queue no one reads are dropped by the kernel). SIGTERM ends it; packets
 * still held are released first. Statistics go to stderr at the end.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HELD_MAX 65536 /* packets in flight: 100 ms of a busy test link is far below */

typedef struct {
	uint32_t id;
	int64_t due_us;
} held_t;

static held_t held[HELD_MAX];
static size_t head, count;
static int64_t delay_us;
static unsigned loss_permille;
static unsigned seed = 1;
static uint64_t n_seen, n_dropped, n_overflow;
static volatile sig_atomic_t stop;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
	(void)msg;
	(void)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (!ph)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	n_seen++;
	if (loss_permille && (unsigned)(rand_r(&seed) % 1000) < loss_permille) {
		n_dropped++;
		return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
	}
	if (count == HELD_MAX) {
		/* A full FIFO is a full router queue: tail drop. */
		n_overflow++;
		return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
	}
	held[(head + count) % HELD_MAX] = (held_t){.id = id, .due_us = now_us() + delay_us};
	count++;
	return 0;
}

/* Accepts every packet whose time has come (all of them when flush); returns the ms until the
 * next one is due, -1 when none is held. */
static int release(struct nfq_q_handle *qh, int flush)
{
	int64_t now = now_us();
	while (count && (flush || held[head].due_us <= now)) {
		nfq_set_verdict(qh, held[head].id, NF_ACCEPT, 0, NULL);
		head = (head + 1) % HELD_MAX;
		count--;
	}
	if (!count)
		return -1;
	int64_t wait = (held[head].due_us - now + 999) / 1000;
	return wait < 1 ? 1 : (int)wait;
}

static void usage(void)
{
	fprintf(stderr, "usage: nfqdelay -q QUEUE -d DELAY_MS [-l LOSS_PERMILLE] [-s SEED]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt, queue = -1;
	long delay_ms = -1;
	while ((opt = getopt(argc, argv, "q:d:l:s:")) != -1) {
		char *end;
		long v = strtol(optarg, &end, 10);
		if (*end || v < 0)
			usage();
		switch (opt) {
		case 'q':
			if (v > 65535)
				usage();
			queue = (int)v;
			break;
		case 'd':
			if (v > 60000)
				usage();
			delay_ms = v;
			break;
		case 'l':
			if (v > 1000)
				usage();
			loss_permille = (unsigned)v;
			break;
		case 's':
			seed = (unsigned)v;
			break;
		default:
			usage();
		}
	}
	if (queue < 0 || delay_ms < 0)
		usage();
	delay_us = delay_ms * 1000;

	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct nfq_handle *h = nfq_open();
	if (!h) {
		perror("nfqdelay: nfq_open");
		return 1;
	}
	struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
	if (!qh) {
		perror("nfqdelay: nfq_create_queue");
		nfq_close(h);
		return 1;
	}
	/* Only the verdict is ours to give: the packet's bytes stay in the kernel. */
	if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, HELD_MAX) < 0) {
		perror("nfqdelay: queue setup");
		nfq_destroy_queue(qh);
		nfq_close(h);
		return 1;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20);
	int fd = nfq_fd(h);
	printf("ready\n");
	fflush(stdout);

	char buf[65536] __attribute__((aligned));
	int timeout = -1;
	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, timeout);
		if (r < 0 && errno != EINTR) {
			perror("nfqdelay: poll");
			break;
		}
		if (r > 0) {
			/* Everything that is waiting, without blocking between packets. */
			for (;;) {
				ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n < 0 && errno == ENOBUFS) {
					n_overflow++; /* the kernel dropped some: also a tail drop
					               */
					continue;
				}
				if (n <= 0)
					break;
				nfq_handle_packet(h, buf, (int)n);
			}
		}
		timeout = release(qh, 0);
	}
	release(qh, 1);
	fprintf(stderr, "nfqdelay: queue %d: %llu packets, %llu dropped at random, %llu overflow\n",
	        queue, (unsigned long long)n_seen, (unsigned long long)n_dropped,
	        (unsigned long long)n_overflow);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
