/* SPDX-License-Identifier: MIT */
/* error: the project's error codes and their names. */
#pragma once

#include <errno.h>
#include <stddef.h>

/* System errors are negative errno values; DNS-level errors sit below -1000. */
enum {
	US_EOK = 0,
	US_ENOMEM = -ENOMEM,
	US_EINVAL = -EINVAL,
	US_ERANGE = -ERANGE,
	US_ENOENT = -ENOENT,
	US_EEXIST = -EEXIST,
	US_ENOSPC = -ENOSPC,
	US_EAGAIN = -EAGAIN,
	US_EMALF = -1001,     /* malformed wire data */
	US_ELIMIT = -1002,    /* a configured or protocol limit exceeded */
	US_ETRUNC = -1003,    /* output does not fit its buffer */
	US_ENAME = -1004,     /* bad domain name */
	US_EZONE = -1005,     /* zone content fails a check */
	US_ESYNTAX = -1006,   /* text input does not parse */
	US_ECOMPRESS = -1007, /* bad compression pointer */
	US_ETSIG = -1020,     /* a TSIG check failed */
	US_ETLS = -1030,      /* a TLS handshake or a check of the peer's certificate failed */
};

/* Returns a static string naming err; never NULL. */
const char *us_strerror(int err);

/* Writes a formatted message into err (errlen bytes, cut to fit); errlen 0 writes nothing. */
void us_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
