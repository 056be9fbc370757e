// SPDX-License-Identifier: MIT
/* tcpgen: DNS over TCP load generator for `make bench`: a connection per query, or pipelined. */

/*
 * One thread, epoll, C connections at once. With -m oneshot each connection sends one query,
 * reads its answer and is closed (with SO_LINGER 0, so no TIME_WAIT piles up: the client
 * resets, as a resolver finished with a connection might), and a new one takes its place.
 * With -m pipeline each connection stays open and keeps W queries in flight (RFC 7766 6.2.1.1).
 * Output is key=value lines: answered, qps_answered, connects, errors.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TG_MAX_CONNS 4096
#define TG_BUF       8192

struct tg_conn {
	int fd;
	bool connected;
	unsigned inflight;
	size_t rlen;
	uint8_t rbuf[TG_BUF];
};

static struct sockaddr_in dst;
static struct in_addr src;
static unsigned nsrc, src_next;
static uint8_t *wires; /* length-prefixed queries, back to back */
static size_t *offs;
static size_t nq, qpos;
static bool oneshot = true;
static unsigned window = 1;
static uint64_t answered, connects, errors;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	size_t cap = 0, len = 0, ncap = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[300], type[32];
		if (sscanf(line, "%299s %31s", name, type) != 2)
			continue;
		uint16_t qt = strcmp(type, "AAAA") == 0  ? 28
		              : strcmp(type, "MX") == 0  ? 15
		              : strcmp(type, "TXT") == 0 ? 16
		              : strcmp(type, "NS") == 0  ? 2
		              : strcmp(type, "SOA") == 0 ? 6
		                                         : 1;
		uint8_t q[320];
		size_t o = 2;
		memset(q, 0, 14);
		q[2 + 5] = 1; /* QDCOUNT */
		o += 12;
		char *lab = strtok(name, ".");
		while (lab && o + strlen(lab) + 1 < sizeof(q) - 5) {
			q[o++] = (uint8_t)strlen(lab);
			memcpy(q + o, lab, strlen(lab));
			o += strlen(lab);
			lab = strtok(NULL, ".");
		}
		q[o++] = 0;
		q[o++] = (uint8_t)(qt >> 8);
		q[o++] = (uint8_t)qt;
		q[o++] = 0;
		q[o++] = 1;
		q[0] = (uint8_t)((o - 2) >> 8);
		q[1] = (uint8_t)(o - 2);
		if (len + o > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			wires = realloc(wires, cap);
		}
		if (nq == ncap) {
			ncap = ncap ? 2 * ncap : 1 << 16;
			offs = realloc(offs, ncap * sizeof(*offs));
		}
		if (!wires || !offs)
			return -1;
		memcpy(wires + len, q, o);
		offs[nq++] = len;
		len += o;
	}
	fclose(f);
	return nq ? 0 : -1;
}

static int send_query(struct tg_conn *c)
{
	const uint8_t *q = wires + offs[qpos];
	size_t n = 2 + ((size_t)q[0] << 8 | q[1]);
	uint8_t buf[330];
	memcpy(buf, q, n);
	buf[2] = (uint8_t)(qpos >> 8);
	buf[3] = (uint8_t)qpos;
	qpos = (qpos + 1) % nq;
	if (send(c->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	c->inflight++;
	return 0;
}

static int open_conn(int ep, struct tg_conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	struct linger lg = {1, 0};
	int one = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nsrc) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		sin.sin_addr.s_addr = htonl(ntohl(src.s_addr) + src_next++ % nsrc);
		bind(c->fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	c->connected = false;
	c->inflight = 0;
	c->rlen = 0;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	connects++;
	return 0;
}

static void restart(int ep, struct tg_conn *c)
{
	close(c->fd);
	while (open_conn(ep, c) != 0)
		errors++;
}

/* Reads what came; counts whole answers; false when the connection is done or dead. */
static bool on_read(struct tg_conn *c)
{
	ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	c->rlen += (size_t)n;
	size_t p = 0;
	while (c->rlen - p >= 2) {
		size_t m = (size_t)c->rbuf[p] << 8 | c->rbuf[p + 1];
		if (c->rlen - p < 2 + m)
			break;
		p += 2 + m;
		answered++;
		c->inflight--;
		if (oneshot)
			return false;
		if (send_query(c) != 0)
			return false;
	}
	memmove(c->rbuf, c->rbuf + p, c->rlen - p);
	c->rlen -= p;
	if (c->rlen == sizeof(c->rbuf))
		return false;
	return true;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *qfile = NULL, *mode = "oneshot";
	int port = 0;
	double seconds = 10;
	unsigned nconns = 64;
	int opt;
	while ((opt = getopt(argc, argv, "s:p:q:d:c:m:w:B:")) != -1) {
		switch (opt) {
		case 's':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'q':
			qfile = optarg;
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 'c':
			nconns = (unsigned)atoi(optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'w':
			window = (unsigned)atoi(optarg);
			break;
		case 'B': {
			char a[64];
			const char *slash = strchr(optarg, '/');
			size_t n = slash ? (size_t)(slash - optarg) : strlen(optarg);
			snprintf(a, sizeof(a), "%.*s", (int)n, optarg);
			nsrc = slash ? (unsigned)atoi(slash + 1) : 1;
			if (inet_pton(AF_INET, a, &src) != 1)
				return 2;
			break;
		}
		default:
			fprintf(stderr,
			        "usage: tcpgen -s ADDR -p PORT -q QUERYFILE [-d SECONDS] "
			        "[-c CONNS] [-m oneshot|pipeline] [-w WINDOW] [-B ADDR/N]\n");
			return 2;
		}
	}
	oneshot = strcmp(mode, "pipeline") != 0;
	if (!qfile || !port || nconns < 1 || nconns > TG_MAX_CONNS || window < 1 ||
	    inet_pton(AF_INET, host, &dst.sin_addr) != 1 || load(qfile) != 0) {
		fprintf(stderr, "tcpgen: bad arguments or query file\n");
		return 2;
	}
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	struct tg_conn *conns = calloc(nconns, sizeof(*conns));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		return 1;
	for (unsigned i = 0; i < nconns; i++)
		if (open_conn(ep, &conns[i]) != 0)
			errors++;
	double t0 = now_s(), end = t0 + seconds;
	struct epoll_event evs[256];
	while (now_s() < end) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct tg_conn *c = evs[i].data.ptr;
			if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
				errors++;
				restart(ep, c);
				continue;
			}
			if (!c->connected && (evs[i].events & EPOLLOUT)) {
				c->connected = true;
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				unsigned w = oneshot ? 1 : window;
				for (unsigned k = 0; k < w; k++)
					if (send_query(c) != 0)
						break;
			}
			if ((evs[i].events & EPOLLIN) && !on_read(c)) {
				if (c->inflight && !oneshot)
					errors++;
				restart(ep, c);
			}
		}
	}
	double el = now_s() - t0;
	printf("answered=%llu\nqps_answered=%.0f\nconnects=%llu\nerrors=%llu\nseconds=%.3f\n",
	       (unsigned long long)answered, answered / el, (unsigned long long)connects,
	       (unsigned long long)errors, el);
	return 0;
}
