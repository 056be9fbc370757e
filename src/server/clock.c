/* SPDX-License-Identifier: MIT */
/* clock: wall time at the start plus monotonic time since. */
#include <pthread.h>

#include "clock.h"

static time_t wall0;
static struct timespec mono0;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void start(void)
{
	wall0 = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &mono0);
}

void clock_init(void)
{
	pthread_once(&once, start);
}

time_t clock_now(void)
{
	clock_init();
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	return wall0 + (m.tv_sec - mono0.tv_sec);
}
