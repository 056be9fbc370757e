/* SPDX-License-Identifier: MIT */
/* error: names for the project's error codes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *us_strerror(int err)
{
	switch (err) {
	case US_EOK:
		return "ok";
	case US_EMALF:
		return "malformed data";
	case US_ELIMIT:
		return "limit exceeded";
	case US_ETRUNC:
		return "does not fit";
	case US_ENAME:
		return "bad domain name";
	case US_EZONE:
		return "zone check failed";
	case US_ESYNTAX:
		return "syntax error";
	case US_ECOMPRESS:
		return "bad compression pointer";
	case US_ETSIG:
		return "TSIG check failed";
	case US_ETLS:
		return "TLS failed";
	default:
		return err < 0 && err > -1000 ? strerror(-err) : "unknown error";
	}
}

void us_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
