/* SPDX-License-Identifier: MIT */
/* log: one line per event to stderr, syslog or a file, as text or JSON, safe from any thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* A message is cut at MSG_MAX bytes and a field's value at FIELD_MAX, before escaping, and an
 * event has at most FIELDS_MAX fields, so that even escaped six-fold every line fits LINE_MAX
 * whole: a JSON line is never cut into something that does not parse. */
#define MSG_MAX    2048
#define FIELD_MAX  256
#define FIELDS_MAX 16
#define LINE_MAX   65536

static int log_fd = STDERR_FILENO;
static bool log_syslog;
static int log_level = LOG_INFO;
static bool log_json;

int log_open(const char *target, int level)
{
	log_level = level;
	if (strcmp(target, "stderr") == 0)
		return 0;
	if (strcmp(target, "syslog") == 0) {
		openlog("understudy", LOG_PID, LOG_DAEMON);
		log_syslog = true;
		return 0;
	}
	int fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	log_fd = fd;
	return 0;
}

void log_set_json(bool json)
{
	log_json = json;
}

void log_close(void)
{
	if (log_syslog)
		closelog();
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	log_syslog = false;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* The length of the UTF-8 sequence at s (at most len bytes), or 0 when it is not one: no
 * overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629 4). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n = c < 0x80                 ? 1
	           : c >= 0xC2 && c <= 0xDF ? 2
	           : c >= 0xE0 && c <= 0xEF ? 3
	           : c >= 0xF0 && c <= 0xF4 ? 4
	                                    : 0;
	if (!n || n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
	    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

size_t log_json_escape(const char *str, size_t len, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		char esc[8];
		const char *put = esc;
		size_t n = 0, step = 1;
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else if (c < 0x80) {
			esc[0] = (char)c;
			n = 1;
		} else if ((step = utf8_len(s + i, len - i)) != 0) {
			put = (const char *)s + i;
			n = step;
		} else {
			put = "\\ufffd"; /* not UTF-8: replaced, as RFC 8259 8.1 wants UTF-8 */
			n = 6;
			step = 1;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, put, n);
		o += n;
		i += step;
	}
	out[o] = 0;
	return o;
}

/* Appends to line[*n..LINE_MAX), cut to fit. */
static void put(char *line, size_t *n, const char *s, size_t len)
{
	if (*n + len >= LINE_MAX)
		len = LINE_MAX - 1 - *n;
	memcpy(line + *n, s, len);
	*n += len;
}

static void put_json(char *line, size_t *n, const char *s)
{
	put(line, n, "\"", 1);
	*n += log_json_escape(s, strnlen(s, FIELD_MAX), line + *n, LINE_MAX - 1 - *n);
	put(line, n, "\"", 1);
}

/* A text value: bare when it is one plain word, else quoted with \" \\ and \xHH. */
static void put_text_value(char *line, size_t *n, const char *s)
{
	bool bare = *s != 0;
	size_t len = strnlen(s, FIELD_MAX);
	for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
		bare = *p > ' ' && *p < 0x7f && *p != '"' && *p != '\\' && *p != ']' && *p != '=';
	if (bare) {
		put(line, n, s, len);
		return;
	}
	put(line, n, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + len;
	     p++) {
		char esc[8];
		size_t k = 1;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			k = 2;
		} else if (*p < ' ' || *p == 0x7f) {
			k = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else {
			esc[0] = (char)*p;
		}
		put(line, n, esc, k);
	}
	put(line, n, "\"", 1);
}

static pthread_key_t line_key;
static bool line_key_made;

static void make_line_key(void)
{
	line_key_made = pthread_key_create(&line_key, free) == 0;
}

/*
 * The calling thread's line, made at its first line and freed when it ends; NULL when out of
 * memory. Per thread rather than on the stack, since 64 KiB is more than some stacks like to
 * give; and not static TLS, which the loader zeroes for every thread as it is created: a
 * refresh of a secondary zone runs in a thread of its own, and 10,000 zones make hundreds a
 * second, most of which never log.
 */
static char *line_buffer(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_line_key);
	if (!line_key_made)
		return NULL;
	char *line = pthread_getspecific(line_key);
	if (line)
		return line;
	line = malloc(LINE_MAX);
	if (line && pthread_setspecific(line_key, line) != 0) {
		free(line);
		line = NULL;
	}
	return line;
}

static void emit(int level, const char *event, const log_field_t *f, size_t nf, const char *msg)
{
	char *line = line_buffer();
	if (!line) {
		static const char lost[] = "log: out of memory, a line is lost\n";
		ssize_t r = write(log_fd, lost, sizeof(lost) - 1);
		(void)r;
		return;
	}
	char num[32];
	size_t n = 0;
	if (nf > FIELDS_MAX)
		nf = FIELDS_MAX;
	if (!log_syslog || log_json) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		char t[40];
		size_t tl = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(t + tl, sizeof(t) - tl, ".%03ldZ", ts.tv_nsec / 1000000);
		if (log_json) {
			put(line, &n, "{\"time\":\"", 9);
			put(line, &n, t, strlen(t));
			put(line, &n, "\",\"level\":\"", 11);
			put(line, &n, level_name(level), strlen(level_name(level)));
			put(line, &n, "\",\"message\":\"", 13);
			n += log_json_escape(msg, strlen(msg), line + n, LINE_MAX - 1 - n);
			put(line, &n, "\"", 1);
		} else {
			put(line, &n, t, strlen(t));
			put(line, &n, " ", 1);
			put(line, &n, level_name(level), strlen(level_name(level)));
			put(line, &n, ": ", 2);
		}
	}
	if (!log_json)
		put(line, &n, msg, strlen(msg));
	if (event && log_json) {
		put(line, &n, ",\"event\":", 9);
		put_json(line, &n, event);
	} else if (event) {
		put(line, &n, " [event=", 8);
		put(line, &n, event, strlen(event));
	}
	for (size_t i = 0; i < nf; i++) {
		const char *v = f[i].str;
		if (v && !*v)
			continue; /* an empty text field is no field, in either format */
		if (!v)
			snprintf(num, sizeof(num), "%lld", f[i].num);
		if (log_json) {
			put(line, &n, ",", 1);
			put_json(line, &n, f[i].key);
			put(line, &n, ":", 1);
			if (v)
				put_json(line, &n, v);
			else
				put(line, &n, num, strlen(num));
		} else {
			put(line, &n, " ", 1);
			put(line, &n, f[i].key, strnlen(f[i].key, FIELD_MAX));
			put(line, &n, "=", 1);
			put_text_value(line, &n, v ? v : num);
		}
	}
	if (event && !log_json)
		put(line, &n, "]", 1);
	if (log_json)
		put(line, &n, "}", 1);
	if (log_syslog) {
		line[n] = 0;
		syslog(level, "%s", line);
		return;
	}
	/* A line cut short by put() still ends the line; a cut JSON object is not valid, which
	 * the bounds (MSG_MAX before escaping) keep from happening. */
	if (n >= LINE_MAX - 1)
		n = LINE_MAX - 2;
	line[n++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	ssize_t r = write(log_fd, line, n);
	(void)r;
}

void log_msg(int level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	char msg[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, NULL, NULL, 0, msg);
}

void log_event(int level, const char *event, const log_field_t *fields, size_t nfields,
               const char *fmt, ...)
{
	if (level > log_level)
		return;
	char msg[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, event, fields, nfields, msg);
}
