/* SPDX-License-Identifier: MIT */
/* log: one line per event to stderr, syslog or a file, safe from any thread. */
#pragma once

#include <syslog.h>

/* Sets the destination: target is "stderr", "syslog" or a file path. 0 or a negative errno. */
int log_open(const char *target, int level);
void log_close(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
