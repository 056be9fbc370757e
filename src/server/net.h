/* SPDX-License-Identifier: MIT */
/* net: blocking client exchanges with deadlines, for SOA checks and transfers in. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Set when the server stops: every wait then ends at once with -ECANCELED. */
extern atomic_bool net_cancel;

/* Milliseconds on the monotonic clock. */
int64_t net_now_ms(void);

/*
 * Sends query over UDP from via (NULL: any source) to to, and waits until deadline_ms for a
 * reply whose ID matches, ignoring others. Returns the reply length, or a negative errno:
 * -ETIMEDOUT when nothing came, -ECONNREFUSED when the port is closed.
 */
int net_udp_exchange(const conf_addr_t *to, const conf_addr_t *via, const uint8_t *query,
                     size_t qlen, uint8_t *reply, size_t cap, int64_t deadline_ms);

/*
 * The same, sending the query again while no answer came: resend_ms after the first, the
 * interval doubling up to resend_max_ms (resend_ms 0: never again). Every copy is the same
 * bytes with the same ID, so an answer to any of them ends the wait. When stop (may be NULL)
 * is set meanwhile, it ends within a tenth of a second with -EAGAIN.
 */
int net_udp_exchange_resend(const conf_addr_t *to, const conf_addr_t *via, const uint8_t *query,
                            size_t qlen, uint8_t *reply, size_t cap, int64_t deadline_ms,
                            int resend_ms, int resend_max_ms, atomic_bool *stop);

/* Connects over TCP from via to to by deadline_ms; the socket (non-blocking) or -errno. */
int net_tcp_connect(const conf_addr_t *to, const conf_addr_t *via, int64_t deadline_ms);

/* Writes one message with its 2-byte length prefix by deadline_ms; 0 or -errno. */
int net_tcp_send(int fd, const uint8_t *msg, size_t len, int64_t deadline_ms);

/*
 * Reads one length-prefixed message into buf (65535 bytes) within idle_ms of waiting for
 * data and before deadline_ms. Returns its length, 0 at a clean end of stream between
 * messages, or -errno (-ETIMEDOUT, -ECONNRESET, -EPROTO for a stream cut inside a message).
 */
int net_tcp_recv(int fd, uint8_t *buf, int idle_ms, int64_t deadline_ms);

/*
 * Waits for events (POLLIN, POLLOUT) on fd until the earlier of idle_ms from now (-1: no
 * idle bound) and deadline_ms: 0, -ETIMEDOUT, -ECANCELED when the server stops, or -errno.
 */
int net_wait_fd(int fd, short events, int idle_ms, int64_t deadline_ms);

/* A connection to a primary: TCP, or TLS over it when ssl is set (tls_connect). */
typedef struct net_stream {
	int fd;
	struct ssl_st *ssl; /* NULL: clear text */
	char error[128];    /* TLS: why the last call failed with US_ETLS (an alert, ...) */
} net_stream_t;

/* What err from a call on st means: the TLS reason for US_ETLS, else strerror. */
const char *net_stream_strerror(const net_stream_t *st, int err);

/* Connects over TCP (net_tcp_connect) into *out; 0 or -errno. */
int net_stream_tcp(const conf_addr_t *to, const conf_addr_t *via, int64_t deadline_ms,
                   net_stream_t *out);

/* net_tcp_send and net_tcp_recv over either transport, with the same results. */
int net_stream_send(net_stream_t *st, const uint8_t *msg, size_t len, int64_t deadline_ms);
int net_stream_recv(net_stream_t *st, uint8_t *buf, int idle_ms, int64_t deadline_ms);

/* Ends the stream (TLS: close_notify, not waited for) and closes its socket; a stream with
 * fd -1 is a no-op. */
void net_stream_close(net_stream_t *st);
