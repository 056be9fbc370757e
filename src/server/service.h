/* SPDX-License-Identifier: MIT */
/* service: what the daemon tells its service manager (systemd's sd_notify protocol). */
#pragma once

#include <stddef.h>

struct server;

/*
 * Connects to the datagram socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract
 * one), as systemd sets it for a Type=notify unit. Call it before giving up root, since the
 * socket may be one only root can write to; later messages go over the connection. Without
 * the variable, or when it cannot connect (logged), every call below does nothing. Returns 0
 * or the negative errno it logged.
 */
int service_open(void);

/* Closes the connection; safe without one. */
void service_close(void);

/*
 * Sends one message of newline-separated VARIABLE=value assignments ("READY=1",
 * "STATUS=..."), best effort: a service manager that went away costs nothing.
 */
void service_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* READY=1 with the zones' state in STATUS=: every zone that can be served answers. */
void service_ready(struct server *s);

/* RELOADING=1 (with the monotonic clock, which newer systemd wants) before a reload. */
void service_reloading(void);

/* STOPPING=1 once the daemon begins to stop. */
void service_stopping(void);

/* Sends STATUS= again when the zones' state changed since the last message; cheap to call
 * from the zone manager's loop. */
void service_update(struct server *s);

/* Writes the one-line summary STATUS= carries ("serving 3 of 4 zones; ...") into buf. */
void service_status_text(const struct server *s, char *buf, size_t len);
