/* SPDX-License-Identifier: MIT */
/* serial: RFC 1982 serial number arithmetic for SOA serials. */
#pragma once

#include <stdint.h>

/* <0 if a precedes b, 0 if equal, >0 if a follows b; the undefined half-way case counts as
 * following, as BIND and Knot treat it. */
static inline int serial_cmp(uint32_t a, uint32_t b)
{
	uint32_t d = b - a;
	if (d == 0)
		return 0;
	return d < 0x80000000u ? -1 : 1;
}
