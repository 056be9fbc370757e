/* SPDX-License-Identifier: MIT */
/* zonefile: RFC 1035 zone files in, through libzscanner, checked into a zone version. */
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
