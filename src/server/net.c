/* SPDX-License-Identifier: MIT */
/* net: blocking client exchanges with deadlines, for SOA checks and transfers in. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "net.h"
#include "tls.h"
#include "wire.h"

int64_t net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

atomic_bool net_cancel;

/* Looks at net_cancel often enough that a stopping server is not held up. */
int net_wait_fd(int fd, short events, int idle_ms, int64_t deadline_ms)
{
	int64_t idle_end = idle_ms >= 0 ? net_now_ms() + idle_ms : deadline_ms;
	int64_t end = idle_end < deadline_ms ? idle_end : deadline_ms;
	for (;;) {
		if (atomic_load(&net_cancel))
			return -ECANCELED;
		int64_t left = end - net_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > 200 ? 200 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int open_socket(const conf_addr_t *to, const conf_addr_t *via, int type)
{
	int fd = socket(to->ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (via && bind(fd, (const struct sockaddr *)&via->ss, via->len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int net_udp_exchange(const conf_addr_t *to, const conf_addr_t *via, const uint8_t *query,
                     size_t qlen, uint8_t *reply, size_t cap, int64_t deadline_ms)
{
	return net_udp_exchange_resend(to, via, query, qlen, reply, cap, deadline_ms, 0, 0, NULL);
}

int net_udp_exchange_resend(const conf_addr_t *to, const conf_addr_t *via, const uint8_t *query,
                            size_t qlen, uint8_t *reply, size_t cap, int64_t deadline_ms,
                            int resend_ms, int resend_max_ms, atomic_bool *stop)
{
	int fd = open_socket(to, via, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	/* Connected, so the kernel drops datagrams from anyone else and reports refusals. */
	int ret = 0;
	if (connect(fd, (const struct sockaddr *)&to->ss, to->len) < 0 ||
	    send(fd, query, qlen, 0) != (ssize_t)qlen)
		ret = -errno;
	/* The copies are the same bytes, ID and all, so the answer to any of them will do: a
	 * late answer to the first is as good as one to the last. */
	int64_t next = resend_ms > 0 ? net_now_ms() + resend_ms : deadline_ms;
	while (ret == 0) {
		int64_t until = next < deadline_ms ? next : deadline_ms;
		/* With a stop flag, waits are a tenth of a second long, so it is seen soon. */
		int idle = stop ? 100 : -1;
		ret = net_wait_fd(fd, POLLIN, idle, until);
		if (ret == -ETIMEDOUT && stop && atomic_load(stop)) {
			ret = -EAGAIN;
			break;
		}
		if (ret == -ETIMEDOUT && net_now_ms() < until)
			ret = 0; /* a slice of the wait, not its end */
		else if (ret == -ETIMEDOUT && until < deadline_ms) {
			ret = send(fd, query, qlen, 0) == (ssize_t)qlen ? 0 : -errno;
			if (resend_ms < resend_max_ms)
				resend_ms =
				    resend_ms * 2 < resend_max_ms ? resend_ms * 2 : resend_max_ms;
			next = net_now_ms() + resend_ms;
			continue;
		}
		if (ret)
			break;
		ssize_t n = recv(fd, reply, cap, 0);
		if (n < 0) {
			ret = errno == EAGAIN || errno == EINTR ? 0 : -errno;
			continue;
		}
		if (n >= 2 && reply[0] == query[0] && reply[1] == query[1]) {
			ret = (int)n;
			break;
		}
	}
	close(fd);
	return ret;
}

int net_tcp_connect(const conf_addr_t *to, const conf_addr_t *via, int64_t deadline_ms)
{
	int fd = open_socket(to, via, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int ret = 0;
	if (connect(fd, (const struct sockaddr *)&to->ss, to->len) < 0) {
		ret = errno == EINPROGRESS ? net_wait_fd(fd, POLLOUT, -1, deadline_ms) : -errno;
		int err = 0;
		socklen_t len = sizeof(err);
		if (ret == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
			ret = -err;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int net_tcp_send(int fd, const uint8_t *msg, size_t len, int64_t deadline_ms)
{
	uint8_t hdr[2];
	wire_write16(hdr, (uint16_t)len);
	struct iovec iov[2] = {{hdr, 2}, {(void *)msg, len}};
	size_t total = len + 2, sent = 0;
	while (sent < total) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			int ret = net_wait_fd(fd, POLLOUT, -1, deadline_ms);
			if (ret)
				return ret;
			continue;
		}
		sent += (size_t)n;
		/* Advance the two iovecs past what went out. */
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t take = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			n -= (ssize_t)take;
		}
	}
	return 0;
}

/* Reads exactly len bytes; 0, -ECONNRESET at end of stream, or another -errno. */
static int read_exact(int fd, uint8_t *buf, size_t len, int idle_ms, int64_t deadline_ms)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			int ret = net_wait_fd(fd, POLLIN, idle_ms, deadline_ms);
			if (ret)
				return ret;
			continue;
		}
		got += (size_t)n;
	}
	return 0;
}

int net_tcp_recv(int fd, uint8_t *buf, int idle_ms, int64_t deadline_ms)
{
	uint8_t hdr[2];
	int ret = read_exact(fd, hdr, 1, idle_ms, deadline_ms);
	if (ret == -ECONNRESET)
		return 0;
	if (ret == 0)
		ret = read_exact(fd, hdr + 1, 1, idle_ms, deadline_ms);
	size_t len = wire_read16(hdr);
	if (ret == 0)
		ret = read_exact(fd, buf, len, idle_ms, deadline_ms);
	if (ret == -ECONNRESET || (ret == 0 && len == 0))
		return -EPROTO; /* cut inside a message, or an empty one: no DNS message is empty */
	return ret ? ret : (int)len;
}

int net_stream_tcp(const conf_addr_t *to, const conf_addr_t *via, int64_t deadline_ms,
                   net_stream_t *out)
{
	int fd = net_tcp_connect(to, via, deadline_ms);
	if (fd < 0)
		return fd;
	*out = (net_stream_t){.fd = fd};
	return 0;
}

const char *net_stream_strerror(const net_stream_t *st, int err)
{
	return err == US_ETLS && st->error[0] ? st->error : us_strerror(err);
}

int net_stream_send(net_stream_t *st, const uint8_t *msg, size_t len, int64_t deadline_ms)
{
	return st->ssl ? tls_stream_send(st, msg, len, deadline_ms)
	               : net_tcp_send(st->fd, msg, len, deadline_ms);
}

int net_stream_recv(net_stream_t *st, uint8_t *buf, int idle_ms, int64_t deadline_ms)
{
	return st->ssl ? tls_stream_recv(st, buf, idle_ms, deadline_ms)
	               : net_tcp_recv(st->fd, buf, idle_ms, deadline_ms);
}

void net_stream_close(net_stream_t *st)
{
	if (st->ssl)
		tls_stream_close(st);
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	st->ssl = NULL;
}
