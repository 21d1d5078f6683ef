/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for supervisor/restart.c: the delay doubling up to 60 s, the budget of 5 failures in 10 minutes, the
 * policies, and stops that never restart, with the time given in and no process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "supervisor/vm/restart.h"
#include "util/macro.h"
#include "util/time-util.h"

/* An arbitrary monotonic time for the first try's end; tries end this many seconds after it. */
#define T0 (5000 * USEC_PER_SEC)
#define AT(sec) (T0 + (uint64_t)((sec) * (double)USEC_PER_SEC))

struct t {
	struct restart_history h;
	enum profile_restart policy;
	unsigned delay;
	struct restart_decision d;
};

static void init(struct t *t, enum profile_restart policy, unsigned delay)
{
	*t = (struct t){ .policy = policy, .delay = delay };
}

/* A try ended with code at sec; returns the verdict, the decision in t->d. */
static enum restart_verdict end(struct t *t, bool stopped, int code, double sec)
{
	memset(&t->d, 0x5a, sizeof(t->d));
	restart_decide(&t->h, t->policy, t->delay, stopped, code, AT(sec), &t->d);
	return t->d.verdict;
}

/* A failure with exit code 3 at sec that restarts after delay seconds, as try `try`. */
static void assert_restart(struct t *t, int code, double sec, unsigned delay, unsigned try)
{
	char text[64];

	assert_int_equal(end(t, false, code, sec), RESTART_AGAIN);
	assert_int_equal(t->d.delay, delay);
	snprintf(text, sizeof(text), "restarting in %u s (try %u)", delay, try);
	assert_string_equal(t->d.text, text);
}

static void test_delay_doubles_up_to_60(void **state)
{
	static const unsigned want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	struct t t;

	(void)state;
	/* Failures 3 minutes apart: never 5 within 10 minutes, so the delay alone is seen. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		assert_restart(&t, 3, 180.0 * (double)i, want[i], (unsigned)i + 2);
	assert_int_equal(t.h.restarts, ELEMENTSOF(want));
	assert_int_equal(t.h.consecutive, ELEMENTSOF(want));

	init(&t, PROFILE_RESTART_ON_FAILURE, 5);
	assert_restart(&t, 1, 0, 5, 2);
	assert_restart(&t, 1, 180, 10, 3);
	assert_restart(&t, 1, 360, 20, 4);
	assert_restart(&t, 1, 540, 40, 5);
	assert_restart(&t, 1, 720, 60, 6);

	/* A restart_delay above the cap is cut to it; 0 stays 0. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 100);
	assert_restart(&t, 1, 0, 60, 2);
	init(&t, PROFILE_RESTART_ON_FAILURE, 0);
	assert_restart(&t, 1, 0, 0, 2);
	assert_restart(&t, 1, 180, 0, 3);
	assert_restart(&t, 1, 360, 0, 4);
}

static void test_budget(void **state)
{
	struct t t;

	(void)state;
	/* Five failures a minute apart: the fifth gives up, with the last exit code. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	assert_restart(&t, 3, 0, 1, 2);
	assert_restart(&t, 3, 60, 2, 3);
	assert_restart(&t, 3, 120, 4, 4);
	assert_restart(&t, 3, 180, 8, 5);
	assert_int_equal(end(&t, false, 7, 240), RESTART_GIVE_UP);
	assert_string_equal(t.d.text, "QEMU failed 5 times within 10 minutes; giving up (last exit code 7)");
	assert_int_equal(t.h.restarts, 4);

	/* The window is 10 minutes inclusive: the fifth failure exactly 600 s after the first still gives up... */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(end(&t, false, 1, 10.0 * i), RESTART_AGAIN);
	assert_int_equal(end(&t, false, 1, 600), RESTART_GIVE_UP);
	/* ...a microsecond later it does not. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(end(&t, false, 1, 10.0 * i), RESTART_AGAIN);
	assert_int_equal(end(&t, false, 1, 600.000001), RESTART_AGAIN);
}

static void test_five_failures_over_eleven_minutes(void **state)
{
	struct t t;

	(void)state;
	/* Spread over 11 minutes, five failures never fit in 10: no giving up. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	assert_restart(&t, 3, 0, 1, 2);
	assert_restart(&t, 3, 165, 2, 3);
	assert_restart(&t, 3, 330, 4, 4);
	assert_restart(&t, 3, 495, 8, 5);
	assert_restart(&t, 3, 660, 16, 6);
	/* The sixth, 30 s later: the last five (165 s to 690 s) fit in 10 minutes. */
	assert_int_equal(end(&t, false, 3, 690), RESTART_GIVE_UP);
}

static void test_success_resets_the_delay_not_the_budget(void **state)
{
	struct t t;

	(void)state;
	init(&t, PROFILE_RESTART_ALWAYS, 1);
	assert_restart(&t, 3, 0, 1, 2);
	assert_restart(&t, 3, 60, 2, 3);
	assert_restart(&t, 3, 120, 4, 4);
	assert_restart(&t, 3, 180, 8, 5);
	/* A try that ends well (the guest powered off): started again after restart_delay, not 16 s. */
	assert_restart(&t, 0, 240, 1, 6);
	assert_int_equal(t.h.consecutive, 0);
	/* The next failure is the fifth within 10 minutes all the same. */
	assert_int_equal(end(&t, false, 3, 300), RESTART_GIVE_UP);

	/* Failures after the success, once the first four have left the window: the delay starts over. */
	init(&t, PROFILE_RESTART_ALWAYS, 1);
	assert_restart(&t, 3, 0, 1, 2);
	assert_restart(&t, 3, 60, 2, 3);
	assert_restart(&t, 3, 120, 4, 4);
	assert_restart(&t, 3, 180, 8, 5);
	assert_restart(&t, 0, 240, 1, 6);
	assert_restart(&t, 3, 700, 1, 7);
	assert_restart(&t, 3, 760, 2, 8);
	assert_restart(&t, 3, 820, 4, 9);
	assert_restart(&t, 3, 880, 8, 10);
	/* The fifth since 700 s. */
	assert_int_equal(end(&t, false, 3, 940), RESTART_GIVE_UP);
}

static void test_policies(void **state)
{
	struct t t;

	(void)state;
	/* "no" (the default): never, whatever the code. */
	init(&t, PROFILE_RESTART_NO, 1);
	assert_int_equal(end(&t, false, 3, 0), RESTART_NO);
	assert_string_equal(t.d.text, "");
	assert_int_equal(end(&t, false, 0, 1), RESTART_NO);
	assert_int_equal(t.h.restarts, 0);

	/* "on-failure": a failure restarts, a success ends the run. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	assert_int_equal(end(&t, false, 0, 0), RESTART_NO);
	assert_int_equal(end(&t, false, 137, 1), RESTART_AGAIN);

	/* "always": a success restarts too, after restart_delay each time, and never uses up the budget. */
	init(&t, PROFILE_RESTART_ALWAYS, 2);
	for (int i = 0; i < 20; i++)
		assert_restart(&t, 0, i, 2, (unsigned)i + 2);
	assert_int_equal(t.h.n_failures, 0);
}

static void test_stop_never_restarts(void **state)
{
	static const enum profile_restart policies[] = { PROFILE_RESTART_NO, PROFILE_RESTART_ON_FAILURE,
							 PROFILE_RESTART_ALWAYS };
	static const int codes[] = { 0, 1, 74, 137 };
	struct t t;

	(void)state;
	for (size_t p = 0; p < ELEMENTSOF(policies); p++)
		for (size_t c = 0; c < ELEMENTSOF(codes); c++) {
			init(&t, policies[p], 1);
			assert_int_equal(end(&t, true, codes[c], 0), RESTART_NO);
			assert_string_equal(t.d.text, "");
			/* Nothing is counted: it was no failure of QEMU's. */
			assert_int_equal(t.h.n_failures, 0);
			assert_int_equal(t.h.restarts, 0);
		}
	/* Nor after failures that had restarts. */
	init(&t, PROFILE_RESTART_ON_FAILURE, 1);
	assert_restart(&t, 3, 0, 1, 2);
	assert_int_equal(end(&t, true, 3, 1), RESTART_NO);
	assert_int_equal(t.h.restarts, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_doubles_up_to_60),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_five_failures_over_eleven_minutes),
		cmocka_unit_test(test_success_resets_the_delay_not_the_budget),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_stop_never_restarts),
	};

	return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
