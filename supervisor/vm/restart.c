/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "supervisor/vm/restart.h"
#include "util/time-util.h"

/* The delay before the next try: restart_delay, doubled for each failure in a row after the first, at most 60 s. */
static unsigned next_delay(unsigned restart_delay, unsigned consecutive)
{
	unsigned delay = restart_delay;

	for (unsigned i = 1; i < consecutive && delay > 0 && delay < RESTART_DELAY_MAX; i++)
		delay *= 2;
	return delay > RESTART_DELAY_MAX ? RESTART_DELAY_MAX : delay;
}

void restart_decide(struct restart_history *h, enum profile_restart policy, unsigned restart_delay, bool stopped,
		    int code, uint64_t now, struct restart_decision *ret)
{
	bool again = policy == PROFILE_RESTART_ALWAYS || (policy == PROFILE_RESTART_ON_FAILURE && code != 0);

	*ret = (struct restart_decision){ .verdict = RESTART_NO };
	/* A stop that was asked for is never undone by a restart. */
	if (stopped || !again)
		return;
	if (code != 0) {
		h->failures[h->n_failures++ % RESTART_FAILURES_MAX] = now;
		h->consecutive++;
		/* The oldest of the last RESTART_FAILURES_MAX failures, where the next one will go. */
		if (h->n_failures >= RESTART_FAILURES_MAX &&
		    now - h->failures[h->n_failures % RESTART_FAILURES_MAX] <= RESTART_WINDOW_SEC * USEC_PER_SEC) {
			ret->verdict = RESTART_GIVE_UP;
			snprintf(ret->text, sizeof(ret->text),
				 "QEMU failed %d times within %d minutes; giving up (last exit code %d)",
				 RESTART_FAILURES_MAX, RESTART_WINDOW_SEC / 60, code);
			return;
		}
	} else
		h->consecutive = 0;
	h->restarts++;
	ret->verdict = RESTART_AGAIN;
	ret->delay = next_delay(restart_delay, h->consecutive);
	snprintf(ret->text, sizeof(ret->text), "restarting in %u s (try %u)", ret->delay, h->restarts + 1);
}
