/* SPDX-License-Identifier: MIT */
/* log: one line per event to stderr, syslog or a file, as text or JSON, safe from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Sets the destination: target is "stderr", "syslog" or a file path. 0 or a negative errno. */
int log_open(const char *target, int level);
void log_close(void);

/*
 * Text (the default): "TIME LEVEL: MESSAGE", and for an event " [event=NAME key=value ...]"
 * after the message. JSON: one object per line, {"time", "level", "message"} and for an event
 * "event" and its fields, numbers as JSON numbers; strings escaped (control characters,
 * quotes, backslashes), bytes that are not UTF-8 replaced by U+FFFD, so every line parses.
 */
void log_set_json(bool json);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)

/* A field of an event: a name and a value, text (str) or, when str is NULL, a number. */
typedef struct log_field {
	const char *key;
	const char *str;
	long long num;
} log_field_t;

/* A text field (NULL is taken as ""), and a number field. */
static inline log_field_t log_str_field(const char *key, const char *v)
{
	return (log_field_t){.key = key, .str = v ? v : ""};
}

#define LOG_STR(k, v) log_str_field((k), (v))
#define LOG_NUM(k, v) ((log_field_t){.key = (k), .num = (long long)(v)})
/* The fields of one event, as the two arguments log_event takes. */
#define LOG_FIELDS(...)                                                                            \
	(const log_field_t[]){__VA_ARGS__},                                                        \
	    sizeof((const log_field_t[]){__VA_ARGS__}) / sizeof(log_field_t)

/*
 * Logs an event: what happened as a message for people (fmt), and the same facts as fields
 * for machines, under the same names in both formats. The events and their fields:
 *
 *   transfer  direction (in|out), kind (AXFR|IXFR), zone, peer, serial_from, serial,
 *             records, messages (out), ms, result (ok|failed|cut|held)
 *   notify    direction (in|out), zone, peer, serial (out), result (accepted|refused|
 *             answered|failed)
 *   refresh   zone, peer, serial, result (failed), error, retry_s
 *   expire    zone, state (expired|stale|fresh), policy (servfail|keep-serving), serial
 *   regression zone, primary, serial (the primary's), ours, state (alarm|over|follow)
 *   held      zone, peer, serial, ours, state (held|accepted|rejected|dropped), reason
 *   zonemd    zone, peer, serial, result (verified|unsupported|failed), reason
 *   fleet     zone, server, name, serial, lag, newest, state (behind|in-sync), behind_s,
 *             propagation_ms, error
 *
 * zone is the zone's name as configured, peer and server ADDR@PORT, serials and counts
 * numbers. A text field whose value is "" is left out. Keys must not be time, level, message
 * or event.
 */
void log_event(int level, const char *event, const log_field_t *fields, size_t nfields,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Writes s (len bytes) into out as the inside of a JSON string (without the quotes), escaped
 * as log_set_json says; stops before overflowing outlen (always NUL-terminated, outlen > 0).
 * Returns the bytes written. For the tests and anyone else who emits JSON.
 */
size_t log_json_escape(const char *s, size_t len, char *out, size_t outlen);
