/* SPDX-License-Identifier: MIT */
/* zonefile: RFC 1035 zone files in (libzscanner, checked into a zone version) and out (libknot). */
#pragma once

#include "zone.h"

/*
 * Parses the zone file at path for the zone named origin (wire form) and checks it. Every
 * problem goes to report with its file and line ($INCLUDEd files name themselves). Returns 0
 * with *out owning the new zone; US_ESYNTAX when the file does not parse, US_EZONE when the
 * contents fail a check, US_ENOENT when it cannot be read, US_ENOMEM.
 */
int zonefile_load(const uint8_t *origin, const char *path, zone_report_fn report, void *ctx,
                  zone_t **out);

/*
 * Writes z to path as a zone file: the SOA first, then every name in canonical order (RFC 4034
 * 6.1), each RRset in libknot's presentation format. The file appears atomically: it is
 * written and synced beside path, renamed over it, and the directory synced, so a reader or a
 * crash sees the old file or the new one, whole. Returns 0, US_ENOMEM, or a negative errno
 * with a message in err naming the file.
 */
int zonefile_write(const zone_t *z, const char *path, char *err, size_t errlen);
