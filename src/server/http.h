/* SPDX-License-Identifier: MIT */
/* http: the monitoring listener (server.http): /health, /metrics, /fleet and the status page. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"
#include "server.h"

/* server.http addresses at most: the zone manager polls each one's descriptor. */
#define HTTP_MAX_LISTEN 16

/* What a request gets: the status, the type of the body and the body itself. */
typedef struct http_reply {
	unsigned status;
	const char *type;  /* Content-Type */
	const char *allow; /* an Allow header (405), or NULL */
	ctl_reply_t body;  /* owned: free(body.text) */
} http_reply_t;

/*
 * Routes one request (out->body may hold a buffer to reuse, with len 0, or be zeroed): GET or HEAD
 * of /health, /metrics, /fleet or /, everything else 404 or 405 (405 for a known path with another
 * method). method and path are what the client sent (path without its query string), any bytes.
 * Reads zone and fleet state, so it runs on the zone manager thread only. The body is built even
 * for HEAD: the listener sends its length.
 */
void http_route(server_t *s, const char *method, const char *path, http_reply_t *out);

typedef struct http http_t;

/*
 * Binds the server.http sockets (while the daemon may still be root, like the DNS ports).
 * *out stays NULL without server.http. 0 or a negative errno, logged.
 */
int http_bind(server_t *s, http_t **out);

/* Starts serving on the bound sockets, in the zone manager's loop: 0 or a negative error. */
int http_start(http_t *h);

/* The descriptors for the zone manager to poll (up to max): how many it wrote. */
int http_pollfds(const http_t *h, struct pollfd *p, int max);

/* How long the zone manager may wait before http_run is due at the latest (at most max ms). */
int http_wait_ms(const http_t *h, int max);

/* Does what is ready or due: reads requests, answers them, times out connections. Zone
 * manager only; never blocks. */
void http_run(http_t *h);

/* Closes every connection and socket; http_free(NULL) is a no-op. */
void http_free(http_t *h);
