/* SPDX-License-Identifier: MIT */
/* ctl: the control socket, both ends: one command line in, one text reply out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_ARGS 8

/* A reply under construction; the daemon fills it, ctl_serve sends it. */
typedef struct ctl_reply {
	char *text;
	size_t len, cap;
	bool error;
	bool json;       /* asked with --json: one JSON document */
	bool structured; /* json: the command wrote its own document */
} ctl_reply_t;

void ctl_printf(ctl_reply_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string, quoted and escaped (bytes that are not UTF-8 text as \u00XX);
 * NULL as null. */
void ctl_json_str(ctl_reply_t *r, const char *s);

/*
 * In JSON mode, turns what a command wrote as text lines into {"ok": BOOL, "messages":
 * [LINES]}, unless it wrote a document of its own (structured). Nothing in text mode.
 */
void ctl_json_finish(ctl_reply_t *r);

/* Marks the reply as failed and appends the message. */
void ctl_fail(ctl_reply_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef void (*ctl_handler_fn)(void *ctx, int argc, char **argv, ctl_reply_t *reply);

/* Binds a stream socket at path (a stale one is replaced); fd or a negative errno. */
int ctl_listen(const char *path);

/* Accepts one client on lfd, reads its command (bounded in size and time), lets handler build
 * the reply, sends it and closes. Never blocks for more than a couple of seconds. */
void ctl_serve(int lfd, ctl_handler_fn handler, void *ctx);

/*
 * Sends argv as a command to the daemon at path and prints the reply: the process exit code.
 * With json the reply is one JSON document (the command line then starts with "--json").
 */
int ctl_client(const char *path, bool json, int argc, char **argv);
