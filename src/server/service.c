/* SPDX-License-Identifier: MIT */
/* service: what the daemon tells its service manager (systemd's sd_notify protocol). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "service.h"

/*
 * The protocol is one datagram per message to a Unix socket, so it is written here rather
 * than linking libsystemd: a dozen lines, and the daemon runs the same with or without
 * systemd. The connection is made once, before the daemon gives up root.
 */
static int notify_fd = -1;
static char last_status[256];
static time_t last_check;

int service_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		log_warning("NOTIFY_SOCKET=%s: not a socket path; the service manager will not "
		            "hear from us",
		            path);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = 0; /* an abstract name: no file, the length tells where it ends */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		int e = errno;
		log_warning("NOTIFY_SOCKET=%s: %s; the service manager will not hear from us", path,
		            strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	notify_fd = fd;
	return 0;
}

void service_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

void service_notify(const char *fmt, ...)
{
	if (notify_fd < 0)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	ssize_t r = send(notify_fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0)
		log_debug("sd_notify: %s", strerror(errno));
}

void service_status_text(const struct server *s, char *buf, size_t len)
{
	size_t n = s->conf->nzones, serving = 0, waiting = 0, expired = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		const server_zone_t *z = s->zones[i];
		if (z->slot->zone)
			serving++;
		else if (z->expired)
			expired++;
		else if (z->conf->role == CONF_ROLE_SECONDARY)
			waiting++;
		else
			failed++;
	}
	int w = snprintf(buf, len, "serving %zu of %zu zones", serving, n);
	if (waiting && w >= 0 && (size_t)w < len)
		w += snprintf(buf + w, len - (size_t)w, "; %zu waiting for a first transfer",
		              waiting);
	if (expired && w >= 0 && (size_t)w < len)
		w += snprintf(buf + w, len - (size_t)w, "; %zu expired", expired);
	if (failed && w >= 0 && (size_t)w < len)
		snprintf(buf + w, len - (size_t)w, "; %zu not loaded (see ctl zone-status)",
		         failed);
}

void service_ready(struct server *s)
{
	service_status_text(s, last_status, sizeof(last_status));
	last_check = time(NULL);
	service_notify("READY=1\nSTATUS=%s", last_status);
}

void service_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	service_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	               (unsigned long long)ts.tv_sec * 1000000ULL +
	                   (unsigned long long)ts.tv_nsec / 1000);
}

void service_stopping(void)
{
	service_notify("STOPPING=1\nSTATUS=stopping");
}

void service_update(struct server *s)
{
	time_t now = time(NULL);
	if (notify_fd < 0 || now == last_check)
		return;
	last_check = now;
	char text[sizeof(last_status)];
	service_status_text(s, text, sizeof(text));
	if (strcmp(text, last_status) == 0)
		return;
	memcpy(last_status, text, sizeof(text));
	service_notify("STATUS=%s", last_status);
}
