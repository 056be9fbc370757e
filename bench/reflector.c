// SPDX-License-Identifier: MIT
/* reflector: do-nothing UDP "DNS server" that sets QR and sends each datagram straight back. */

/*
 * It does the least a server can do per query (one recvmmsg slot, one bit, one sendmmsg slot),
 * so a load generator run against it shows the generator's own ceiling on this machine: if the
 * reflector answers far more than a real server does, the server was the bottleneck.
 * One thread per -t, each with its own SO_REUSEPORT socket, as understudy's workers have.
 * On SIGINT/SIGTERM it prints reflected=N and exits.
 */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RF_MAX_BATCH   256
#define RF_MAX_THREADS 64
#define RF_BUF         4096

struct rf_thread {
	pthread_t tid;
	int fd;
	uint64_t reflected;
	struct mmsghdr rx[RF_MAX_BATCH];
	struct mmsghdr tx[RF_MAX_BATCH];
	struct iovec rxiov[RF_MAX_BATCH];
	struct iovec txiov[RF_MAX_BATCH];
	struct sockaddr_storage peer[RF_MAX_BATCH];
	uint8_t buf[RF_MAX_BATCH][RF_BUF];
};

static volatile sig_atomic_t rf_stop;
static unsigned rf_batch = 64;

static void rf_on_signal(int sig)
{
	(void)sig;
	rf_stop = 1;
}

static void *rf_thread_main(void *arg)
{
	struct rf_thread *t = arg;
	while (!rf_stop) {
		for (unsigned i = 0; i < rf_batch; i++)
			t->rx[i].msg_hdr.msg_namelen = sizeof(t->peer[i]);
		/* Blocks for the first datagram (or the 100 ms receive timeout), then takes what
		 * is queued. */
		int n = recvmmsg(t->fd, t->rx, rf_batch, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			t->buf[i][2] |= 0x80; /* QR */
			t->txiov[i].iov_len = t->rx[i].msg_len;
			t->tx[i].msg_hdr.msg_namelen = t->rx[i].msg_hdr.msg_namelen;
		}
		int off = 0;
		while (off < n && !rf_stop) {
			int r = sendmmsg(t->fd, t->tx + off, (unsigned)(n - off), 0);
			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				break; /* drop the rest, as a busy server would */
			}
			off += r;
		}
		t->reflected += (uint64_t)off;
	}
	return NULL;
}

static int rf_socket(const struct addrinfo *ai)
{
	int one = 1, size = 4 << 20;
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	unsigned threads = 1;
	int c;
	while ((c = getopt(argc, argv, "s:p:t:b:")) != -1) {
		switch (c) {
		case 's':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 't':
			threads = (unsigned)atoi(optarg);
			break;
		case 'b':
			rf_batch = (unsigned)atoi(optarg);
			break;
		default:
			port = NULL;
			optind = argc;
			break;
		}
	}
	if (port == NULL || threads < 1 || threads > RF_MAX_THREADS || rf_batch < 1 ||
	    rf_batch > RF_MAX_BATCH) {
		fprintf(stderr, "usage: reflector -p PORT [-s ADDR] [-t THREADS] [-b BATCH]\n");
		return 2;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "reflector: %s port %s: %s\n", host, port, gai_strerror(rc));
		return 1;
	}

	/* No SA_RESTART: a blocked recvmmsg returns EINTR in the thread that got the signal;
	 * the others notice within their receive timeout. */
	struct sigaction sa = {.sa_handler = rf_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* SO_REUSEPORT would let us silently share the port with a leftover reflector (same
	 * user) and split the traffic with it; a plain bind first makes that an error. */
	int probe = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0 || bind(probe, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "reflector: bind %s@%s: %s\n", host, port, strerror(errno));
		return 1;
	}
	close(probe);

	struct rf_thread *th = calloc(threads, sizeof(*th));
	if (th == NULL) {
		fprintf(stderr, "reflector: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < threads; i++) {
		struct rf_thread *t = &th[i];
		t->fd = rf_socket(ai);
		if (t->fd < 0) {
			fprintf(stderr, "reflector: bind %s@%s: %s\n", host, port, strerror(errno));
			return 1;
		}
		for (unsigned k = 0; k < RF_MAX_BATCH; k++) {
			t->rxiov[k] = (struct iovec){.iov_base = t->buf[k], .iov_len = RF_BUF};
			t->txiov[k] = (struct iovec){.iov_base = t->buf[k], .iov_len = 0};
			t->rx[k].msg_hdr = (struct msghdr){.msg_name = &t->peer[k],
			                                   .msg_namelen = sizeof(t->peer[k]),
			                                   .msg_iov = &t->rxiov[k],
			                                   .msg_iovlen = 1};
			t->tx[k].msg_hdr = (struct msghdr){
			    .msg_name = &t->peer[k], .msg_iov = &t->txiov[k], .msg_iovlen = 1};
		}
	}
	freeaddrinfo(ai);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&th[i].tid, NULL, rf_thread_main, &th[i]) != 0) {
			fprintf(stderr, "reflector: pthread_create failed\n");
			return 1;
		}
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(th[i].tid, NULL);
		total += th[i].reflected;
	}
	printf("reflected=%llu\n", (unsigned long long)total);
	return 0;
}
