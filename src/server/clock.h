/* SPDX-License-Identifier: MIT */
/* clock: the time the zone timers run on, which a step of the system clock does not move. */
#pragma once

#include <time.h>

/*
 * Unix seconds as of the start, advanced by the monotonic clock since: the same as time(NULL)
 * until the system clock is stepped (by an operator, NTP, a VM resume), after which timers
 * still fire after the intervals they were set for. A refresh, retry or expiry is an interval
 * (RFC 1035 3.3.13), so neither a jump forward expires every zone at once nor a jump back
 * leaves a timer that does not fire for days. Stored timers and zone-status are in this time.
 */
time_t clock_now(void);

/* Sets the start; called once before any thread uses clock_now (later calls do nothing). */
void clock_init(void);
