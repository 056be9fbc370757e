/* SPDX-License-Identifier: MIT */
/* ctl: the control socket, both ends: one command line in, one text reply out. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

#define CTL_LINE_MAX   1024
#define CTL_TIMEOUT_MS 2000

/* The reply's first byte says how it went, so the client can exit with the right status. */
#define CTL_OK  '0'
#define CTL_ERR '1'

static void vappend(ctl_reply_t *r, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	/* Straight into the room left, which is most often enough: /metrics writes many lines. */
	size_t room = r->cap - r->len;
	int n = vsnprintf(room ? r->text + r->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < room) {
		r->len += (size_t)n;
		return;
	}
	if (r->len + (size_t)n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < r->len + (size_t)n + 1)
			cap *= 2;
		char *t = realloc(r->text, cap);
		if (!t)
			return;
		r->text = t;
		r->cap = cap;
	}
	vsnprintf(r->text + r->len, r->cap - r->len, fmt, ap);
	r->len += (size_t)n;
}

void ctl_printf(ctl_reply_t *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vappend(r, fmt, ap);
	va_end(ap);
}

void ctl_fail(ctl_reply_t *r, const char *fmt, ...)
{
	va_list ap;
	r->error = true;
	va_start(ap, fmt);
	vappend(r, fmt, ap);
	va_end(ap);
}

void ctl_json_str(ctl_reply_t *r, const char *s)
{
	if (!s) {
		ctl_printf(r, "null");
		return;
	}
	ctl_printf(r, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			ctl_printf(r, "\\%c", *p);
		else if (*p == '\n')
			ctl_printf(r, "\\n");
		else if (*p < 0x20 || *p >= 0x7f) /* names and messages are ASCII; keep it so */
			ctl_printf(r, "\\u%04x", *p);
		else
			ctl_printf(r, "%c", *p);
	}
	ctl_printf(r, "\"");
}

void ctl_json_finish(ctl_reply_t *r)
{
	if (!r->json || r->structured)
		return;
	ctl_reply_t out = {.json = true, .error = r->error};
	ctl_printf(&out, "{\"ok\": %s, \"messages\": [", r->error ? "false" : "true");
	char *line = r->text;
	for (size_t n = 0; line && line < r->text + r->len; n++) {
		char *end = memchr(line, '\n', (size_t)(r->text + r->len - line));
		if (end)
			*end = 0;
		ctl_printf(&out, "%s", n ? ", " : "");
		ctl_json_str(&out, line);
		line = end ? end + 1 : NULL;
	}
	ctl_printf(&out, "]}\n");
	free(r->text);
	*r = out;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	int ret = unix_addr(path, &sa);
	if (ret)
		return ret;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	mode_t old = umask(0077); /* the socket controls the daemon: owner only */
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Waits for fd to be ready for events within the deadline; false on timeout or error. */
static bool wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, CTL_TIMEOUT_MS) == 1;
}

static int split(char *line, char **argv)
{
	int argc = 0;
	for (char *tok = strtok(line, " \t\r\n"); tok && argc < CTL_MAX_ARGS;
	     tok = strtok(NULL, " \t\r\n"))
		argv[argc++] = tok;
	return argc;
}

/*
 * Whoever may write to the socket file may connect, so the daemon asks the kernel who did
 * (SO_PEERCRED) and takes commands only from root and from the user it runs as.
 */
static bool peer_allowed(int fd, ctl_reply_t *r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		ctl_fail(r, "refused: cannot tell who is asking: %s\n", strerror(errno));
		return false;
	}
	uid_t self = geteuid();
	if (cred.uid == 0 || cred.uid == self)
		return true;
	log_warning("control: refused a connection from uid %u (pid %d): only root and uid %u may "
	            "control this server",
	            (unsigned)cred.uid, (int)cred.pid, (unsigned)self);
	ctl_fail(r, "refused: uid %u may not control this server; only root and uid %u may\n",
	         (unsigned)cred.uid, (unsigned)self);
	return false;
}

void ctl_serve(int lfd, ctl_handler_fn handler, void *ctx)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	char line[CTL_LINE_MAX];
	size_t len = 0;
	ctl_reply_t r = {0};
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		if (!wait_fd(fd, POLLIN))
			break;
		ssize_t n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = 0;
	char *argv[CTL_MAX_ARGS];
	/* The command is read first even from a peer that is refused, so that its client,
	 * which writes before it reads, gets the refusal rather than a broken pipe. */
	int argc = split(line, argv);
	char **args = argv;
	if (argc > 0 && strcmp(argv[0], "--json") == 0) {
		r.json = true;
		args++;
		argc--;
	}
	if (!peer_allowed(fd, &r))
		;
	else if (argc == 0)
		ctl_fail(&r, "empty command\n");
	else
		handler(ctx, argc, args, &r);
	ctl_json_finish(&r);
	char status = r.error ? CTL_ERR : CTL_OK;
	if (wait_fd(fd, POLLOUT) && send(fd, &status, 1, MSG_NOSIGNAL) == 1) {
		for (size_t off = 0; off < r.len;) {
			if (!wait_fd(fd, POLLOUT))
				break;
			ssize_t n = send(fd, r.text + off, r.len - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	free(r.text);
	close(fd);
}

int ctl_client(const char *path, bool json, int argc, char **argv)
{
	struct sockaddr_un sa;
	if (unix_addr(path, &sa)) {
		fprintf(stderr, "error: control socket path too long: %s\n", path);
		return 2;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "error: cannot connect to %s: %s (is the daemon running?)\n", path,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	char line[CTL_LINE_MAX];
	size_t len = json ? (size_t)snprintf(line, sizeof(line), "--json ") : 0;
	for (int i = 0; i < argc; i++) {
		int n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len - 1) {
			fprintf(stderr, "error: command too long\n");
			close(fd);
			return 2;
		}
		len += (size_t)n;
	}
	line[len++] = '\n';
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "error: cannot send the command: %s\n", strerror(errno));
		close(fd);
		return 2;
	}
	char buf[4096];
	int status = -1;
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		size_t skip = 0;
		if (status < 0) {
			status = buf[0] == CTL_OK ? 0 : 1;
			skip = 1;
		}
		/* A JSON reply is for a program: stdout either way, the exit code says which. */
		fwrite(buf + skip, 1, (size_t)n - skip, status && !json ? stderr : stdout);
	}
	close(fd);
	if (status < 0) {
		fprintf(stderr, "error: the daemon closed the connection without a reply\n");
		return 2;
	}
	return status;
}
