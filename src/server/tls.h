/* SPDX-License-Identifier: MIT */
/* tls: XFR over TLS (RFC 9103): the listener's worker pool and the transfer client's TLS. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "net.h"

struct server;
typedef struct tls tls_t;

/*
 * Reads every certificate and key the configuration names (server.tls and each remote's
 * tls) into OpenSSL contexts and binds the server.tls listeners, one socket per address and
 * worker. Runs at start before the daemon gives up root, so the files may be root's alone.
 * With neither a listener nor a TLS remote configured, *out is NULL and nothing is done.
 * Returns 0, or a negative error after logging which file or address failed and why.
 */
int tls_setup(struct server *s, tls_t **out);

/*
 * Starts the listener's worker threads (server.tls.workers), each an epoll loop over
 * non-blocking TLS connections: handshakes bounded by handshake-timeout, connections by
 * max-clients and idle-timeout. They answer transfers (AXFR, IXFR, checked by the zones'
 * rules and TSIG as over TCP), SOA and other queries, as DoT. 0 or a negative errno.
 */
int tls_start(tls_t *t);

/* Stops the workers (once s->stop is set they end within 200 ms), closes every socket and
 * frees everything. NULL is a no-op. */
void tls_free(tls_t *t);

/* The counters of TLS worker i (0 ..), NULL past the last one or without a listener; they
 * live until tls_free. */
const struct server_stats *tls_stats(const tls_t *t, int i);

/* The client context of remote i (an index in conf->remotes), NULL for a clear-text one. */
const struct tls_client *tls_client(const tls_t *t, int remote);

/*
 * A client context for remote r (which has tls): its CA, certificate and key read now, its
 * hostname and pins copied, so it outlives the conf r belongs to. One reference; NULL (logged
 * with the file and the reason) when a file cannot be read or does not fit.
 */
struct tls_client *tls_client_new(const conf_remote_t *r);

/* References, for each generation of the configuration that uses the context (server.h);
 * the last unref frees it. NULL is a no-op for both. */
struct tls_client *tls_client_ref(struct tls_client *c);
void tls_client_unref(struct tls_client *c);

/*
 * Connects to to (from via, if given) over TCP and runs the TLS handshake as client: TLS 1.3,
 * ALPN "dot", the server's certificate checked against the remote's ca and hostname (the
 * address when no hostname is given) and/or its pins, our client certificate when
 * configured. Everything must finish by deadline_ms. On success *out holds the stream. On
 * failure returns a negative error (-ETIMEDOUT, -ECONNREFUSED, US_ETLS for a handshake or
 * check that failed) and writes why to err; never falls back to clear text.
 */
int tls_connect(const struct tls_client *c, const conf_addr_t *to, const conf_addr_t *via,
                int64_t deadline_ms, net_stream_t *out, char *err, size_t errlen);

/* net_stream_send/recv/close for a TLS stream; see net.h. A TLS failure (an alert from the
 * server, a bad record) is US_ETLS, with the reason in st->error. */
int tls_stream_send(net_stream_t *st, const uint8_t *msg, size_t len, int64_t deadline_ms);
int tls_stream_recv(net_stream_t *st, uint8_t *buf, int idle_ms, int64_t deadline_ms);
void tls_stream_close(net_stream_t *st);

/* An idle stream whose socket is readable: true when what came is TLS's own (a session
 * ticket, read away here), false when it is a close, an error or data no one asked for. */
bool tls_stream_idle(net_stream_t *st);
