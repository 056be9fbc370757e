/* SPDX-License-Identifier: MIT */
/* connpool: idle TCP and TLS connections to primaries, kept open between transfers for as long
 * as the primary says it keeps them (RFC 7766 6.2.1, RFC 7828), shared by the refresh jobs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "net.h"

/* Idle connections kept to one address (and source), and in all. */
#define CONNPOOL_PER_ADDRESS 2
#define CONNPOOL_MAX         64
/* Our own bound on how long an idle connection is kept, whatever the server offers. */
#define CONNPOOL_KEEP_MAX_MS 30000
/*
 * How long a server that does not say (knotd 3.2 and nsd 4.6 send no edns-tcp-keepalive)
 * keeps an idle connection, as we assume: the shortest default among the servers we know
 * (PowerDNS 5 s; knotd 10 s, named 30 s). One that closes earlier costs nothing: its close is
 * seen before the connection is used, or the query goes again on a new one.
 */
#define CONNPOOL_UNSAID_MS 5000
/*
 * Given back this long before the server's timeout ends: the server counts from before its
 * answer reached us (half a round trip), may count in whole seconds (and so close up to one
 * early), and closes while our next query may be on its way. A timeout no longer than this is
 * not kept for.
 */
#define CONNPOOL_MARGIN_MS 1500

typedef struct connpool connpool_t;

/* A new empty pool; NULL when out of memory. */
connpool_t *connpool_new(void);

/* Closes every connection and frees the pool; NULL is a no-op. */
void connpool_free(connpool_t *p);

/*
 * Takes an idle connection to `to` from `via` (NULL: any source), over TLS with the client
 * context tls (NULL: clear text), that is still open as far as can be told without sending:
 * the server has not closed it and sent nothing unasked (TLS records of its own, such as
 * session tickets, aside). True with the stream, now the caller's, in *out; false when there
 * is none. Any thread.
 */
bool connpool_take(connpool_t *p, const conf_addr_t *to, const conf_addr_t *via, const void *tls,
                   net_stream_t *out);

/*
 * Gives *st back after an exchange that ended cleanly, to be taken again within keep_ms (the
 * server's idle timeout, which this bounds by CONNPOOL_KEEP_MAX_MS and shortens by
 * CONNPOOL_MARGIN_MS) from now_ms. tag is the configuration the caller's remote belongs to: a
 * connection of a configuration no longer current is closed, as is one the server offers too
 * short a time for, or one past the bounds (the oldest goes first). The stream is the pool's
 * or closed after the call, and st->fd -1. Any thread.
 */
void connpool_put(connpool_t *p, const void *tag, const conf_addr_t *to, const conf_addr_t *via,
                  const void *tls, net_stream_t *st, int64_t keep_ms, int64_t now_ms);

/* Closes the connections past their time; returns the ms until the next one's ends, or -1. */
int connpool_reap(connpool_t *p, int64_t now_ms);

/*
 * A new configuration, tag, is current: connections to addresses that are no remote of conf
 * any more (with the same source) are closed, and those given back under an older tag from now
 * on. Zone manager.
 */
void connpool_retain(connpool_t *p, const void *tag, const conf_t *conf);

/* How many idle connections the pool holds, for tests and status. */
int connpool_count(connpool_t *p);
