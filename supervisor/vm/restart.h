/* SPDX-License-Identifier: MIT */
/*
 * The restart policy as a pure function of the history: after each try, whether to start QEMU again and after how
 * long, or to give up. The delay doubles from the profile's restart_delay with each failure in a row, up to 60 s; 5
 * failures within 10 minutes use up the budget. No clock, no I/O: the caller passes the time in.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "profiles/profile.h"

#define RESTART_FAILURES_MAX 5
#define RESTART_WINDOW_SEC 600
#define RESTART_DELAY_MAX 60

/* What happened so far, across tries. Zeroed for the first try. */
struct restart_history {
	uint64_t failures[RESTART_FAILURES_MAX]; /* when the last failures came (monotonic usec), a ring */
	unsigned n_failures;			 /* how many in all */
	unsigned consecutive;			 /* failures since the last success */
	unsigned restarts;			 /* how many restarts were decided */
};

enum restart_verdict {
	RESTART_NO,	 /* the run ends with the try's exit code */
	RESTART_AGAIN,	 /* start QEMU again after .delay */
	RESTART_GIVE_UP, /* the budget is used up: the run ends with the try's exit code */
	RESTART_VERDICT_MAX,
};

struct restart_decision {
	enum restart_verdict verdict;
	unsigned delay; /* seconds, for RESTART_AGAIN */
	char text[128]; /* the log line: "restarting in S s (try N)" or the giving up; "" for RESTART_NO */
};

/*
 * Decides after a try that ended with exit code code at now (monotonic usec); stopped: a stop was asked for, which
 * never leads to a restart. Updates the history.
 */
void restart_decide(struct restart_history *h, enum profile_restart policy, unsigned restart_delay, bool stopped,
		    int code, uint64_t now, struct restart_decision *ret);
