/* SPDX-License-Identifier: MIT */
/* Monotonic deadlines: every timeout in vgpuvm is an absolute CLOCK_MONOTONIC time in microseconds. */
#pragma once

#include <stdint.h>
#include <time.h>

#define USEC_INFINITY UINT64_MAX
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

static inline uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Turns a relative timeout into a deadline, saturating at USEC_INFINITY. */
static inline uint64_t deadline_after(uint64_t usec)
{
	uint64_t n = now_usec();

	return usec >= USEC_INFINITY - n ? USEC_INFINITY : n + usec;
}

/* Milliseconds left until a deadline, in the form poll() takes: -1 for none, 0 when it has passed. */
static inline int deadline_poll_ms(uint64_t deadline)
{
	uint64_t n;

	if (deadline == USEC_INFINITY)
		return -1;
	n = now_usec();
	if (deadline <= n)
		return 0;
	/* Round up so that poll() does not wake a little early and spin. */
	uint64_t ms = (deadline - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}
