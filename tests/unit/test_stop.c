/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for supervisor/stop.c: every path of the start deadline and the shutdown steps, walked without a
 * process. Each event's actions are written out as text, one line each, and compared whole, so that a test sees the
 * order, the texts and the absence of anything else, as the loop would carry them out.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <syslog.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "supervisor/vm/stop.h"
#include "util/macro.h"
#include "util/time-util.h"

#define PID 4242
/* An arbitrary monotonic time for QEMU's start; events are given in milliseconds after it. */
#define T0 (1000 * USEC_PER_SEC)
#define AT(ms) (T0 + (uint64_t)(ms)*USEC_PER_MSEC)

#define EV(t, ...) ((struct stop_event){ .type = STOP_EV_##t, __VA_ARGS__ })
#define SIGNAL(n) EV(SIGNAL, .signo = (n))
#define STOP(w, f, t) EV(STOP, .why = (w), .force = (f), .timeout = (t))
#define DEADLINE EV(DEADLINE)
#define EXITED(h, st) EV(EXITED, .how = (h), .status = (st))
#define SHUTDOWN(g, r) EV(SHUTDOWN, .guest = (g), .reason = (r))
#define REPLY(cmd, good) EV(REPLY, .command = (cmd), .ok = (good))
#define AGENT(up) EV(AGENT, .ok = (up))

static const struct profile_shutdown defaults = { .powerdown_timeout = 60, .quit_timeout = 10, .kill_timeout = 5 };
static const struct profile_shutdown with_agent = {
	.agent_timeout = 30, .powerdown_timeout = 60, .quit_timeout = 10, .kill_timeout = 5
};

struct t {
	struct stop s;
	char out[4096];
};

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "?";
	}
}

/* Feeds one event at AT(ms) and returns its actions as text, one line each. */
static const char *feed(struct t *t, struct stop_event e, uint64_t ms)
{
	struct stop_actions a;
	size_t len = 0;

	memset(&a, 0x5a, sizeof(a));
	stop_feed(&t->s, &e, AT(ms), &a);
	assert_true(a.n <= STOP_ACTIONS_MAX);
	t->out[0] = 0;
	for (size_t i = 0; i < a.n; i++) {
		const struct stop_action *x = &a.a[i];
		const char *sep = i ? "\n" : "";

		switch (x->type) {
		case STOP_ACTION_QMP:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%sqmp %s", sep, x->command);
			break;
		case STOP_ACTION_SIGNAL:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%ssignal %s", sep, sigabbrev_np(x->signo));
			break;
		case STOP_ACTION_LOG:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%s%s: %s", sep, level_name(x->level),
					x->text);
			break;
		case STOP_ACTION_NOTIFY:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%snotify %s", sep, x->text);
			break;
		case STOP_ACTION_AGENT:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%sagent %s", sep, x->command);
			break;
		case STOP_ACTION_STEP:
			len += snprintf(t->out + len, sizeof(t->out) - len, "%sstep %s %.3f", sep, x->step, x->elapsed);
			break;
		default:
			fail_msg("action %zu has an unknown type %d", i, (int)x->type);
		}
		assert_true(len < sizeof(t->out));
	}
	return t->out;
}

static void init(struct t *t, const struct profile_shutdown *sd, unsigned start_timeout)
{
	stop_init(&t->s, sd ?: &defaults, start_timeout, PID, T0);
}

/* A QEMU that has negotiated QMP and reports running. */
static void init_running(struct t *t, const struct profile_shutdown *sd)
{
	init(t, sd, 120);
	assert_string_equal(feed(t, EV(QMP_READY), 100), "");
	assert_string_equal(feed(t, EV(RUNNING), 200), "notify READY=1\nSTATUS=running (QEMU pid 4242)");
}

/* The deadline is ms after QEMU's start. */
static void assert_deadline_in(struct t *t, uint64_t ms)
{
	assert_int_equal(t->s.deadline, AT(ms));
}

static void test_start(void **state)
{
	struct t t;

	(void)state;
	init(&t, NULL, 120);
	assert_int_equal(t.s.phase, STOP_PHASE_STARTING);
	assert_string_equal(stop_phase_to_string(t.s.phase), "starting");
	assert_deadline_in(&t, 120000);
	assert_string_equal(feed(&t, EV(QMP_READY), 50), "");
	assert_string_equal(feed(&t, EV(POWERDOWN), 60), "");
	assert_string_equal(feed(&t, DEADLINE, 119999), "");
	assert_int_equal(t.s.phase, STOP_PHASE_STARTING);
	assert_string_equal(feed(&t, EV(RUNNING), 100), "notify READY=1\nSTATUS=running (QEMU pid 4242)");
	assert_int_equal(t.s.phase, STOP_PHASE_RUNNING);
	assert_string_equal(stop_phase_to_string(t.s.phase), "running");
	assert_int_equal(t.s.deadline, USEC_INFINITY);
	/* Told again (RESUME after a pause asks again): nothing more. */
	assert_string_equal(feed(&t, EV(RUNNING), 200), "");
	assert_string_equal(feed(&t, DEADLINE, 999999), "");
	assert_int_equal(t.s.step, -1);

	/* QEMU failing by itself, no stop anywhere: its own status, no "shutdown took". */
	assert_string_equal(feed(&t, EXITED(CLD_EXITED, 3), 300), "");
	assert_int_equal(t.s.phase, STOP_PHASE_EXITED);
	assert_int_equal(stop_exit_code(&t.s), 3);
}

static void test_every_deadline_in_turn(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	assert_string_equal(
	    feed(&t, SIGNAL(SIGTERM), 1000),
	    "notify STOPPING=1\n"
	    "qmp system_powerdown\n"
	    "info: shutdown: got SIGTERM; pressing the power button (system_powerdown), waiting up to 60 s "
	    "for the guest to power off\n"
	    "step powerdown 0.000\n"
	    "notify STATUS=stopping: powerdown");
	assert_int_equal(t.s.phase, STOP_PHASE_STOPPING);
	assert_string_equal(stop_phase_to_string(t.s.phase), "stopping");
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	assert_deadline_in(&t, 61000);
	/* The power button's answer, and a deadline not yet passed, change nothing. */
	assert_string_equal(feed(&t, REPLY("system_powerdown", true), 1001), "");
	assert_string_equal(feed(&t, EV(POWERDOWN), 1002), "");
	assert_string_equal(feed(&t, DEADLINE, 60999), "");
	assert_string_equal(feed(&t, DEADLINE, 61000),
			    "qmp quit\n"
			    "info: shutdown: the guest did not power off in time; asking QEMU to quit (QMP quit) after "
			    "60.000 s, waiting up to 10 s\n"
			    "step quit 60.000\n"
			    "notify STATUS=stopping: quit");
	assert_deadline_in(&t, 71000);
	assert_string_equal(
	    feed(&t, DEADLINE, 71500),
	    "signal TERM\n"
	    "info: shutdown: QEMU did not quit in time; sending SIGTERM to QEMU (pid 4242) after 70.500 s, "
	    "waiting up to 5 s\n"
	    "step term 70.500\n"
	    "notify STATUS=stopping: term");
	assert_deadline_in(&t, 76500);
	assert_string_equal(feed(&t, DEADLINE, 76500),
			    "signal KILL\n"
			    "warning: shutdown: QEMU did not exit on SIGTERM in time; killing QEMU (pid 4242, SIGKILL) "
			    "after 75.500 s\n"
			    "step kill 75.500\n"
			    "notify STATUS=stopping: kill");
	assert_int_equal(t.s.deadline, USEC_INFINITY);
	/* Nothing is left after SIGKILL but the reaping. */
	assert_string_equal(feed(&t, DEADLINE, 999000), "");
	assert_string_equal(feed(&t, SIGNAL(SIGTERM), 999000), "");
	assert_string_equal(feed(&t, STOP("again", true, -1), 999000), "");
	assert_string_equal(feed(&t, EXITED(CLD_KILLED, SIGKILL), 77000), "info: shutdown took 76.000 s");
	assert_int_equal(t.s.phase, STOP_PHASE_EXITED);
	assert_int_equal(stop_exit_code(&t.s), 0);
}

/* The steps a SIGTERM to a running QEMU takes, deadline after deadline, with the given timeouts. */
static void walk(const struct profile_shutdown *sd, const char *expect)
{
	struct t t;
	char seen[128] = "";
	uint64_t ms = 1000;

	init_running(&t, sd);
	feed(&t, SIGNAL(SIGTERM), ms);
	for (int i = 0; i < 8 && t.s.phase == STOP_PHASE_STOPPING; i++) {
		size_t len = strlen(seen);

		snprintf(seen + len, sizeof(seen) - len, "%s%s", len ? " " : "", stop_step_name(t.s.step));
		if (t.s.deadline == USEC_INFINITY)
			break;
		ms = (t.s.deadline - T0) / USEC_PER_MSEC;
		feed(&t, DEADLINE, ms);
	}
	assert_string_equal(seen, expect);
}

static void test_zero_deadline_skips_its_step(void **state)
{
	(void)state;
	walk(&(struct profile_shutdown){ 60, 10, 5, 0 }, "powerdown quit term kill");
	walk(&(struct profile_shutdown){ 0, 10, 5, 0 }, "quit term kill");
	walk(&(struct profile_shutdown){ 60, 0, 5, 0 }, "powerdown term kill");
	walk(&(struct profile_shutdown){ 60, 10, 0, 0 }, "powerdown quit kill");
	walk(&(struct profile_shutdown){ 0, 0, 5, 0 }, "term kill");
	walk(&(struct profile_shutdown){ 0, 0, 0, 0 }, "kill");
}

static void test_zero_deadline_texts(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, &(struct profile_shutdown){ 0, 0, 0, 0 });
	assert_string_equal(feed(&t, SIGNAL(SIGINT), 1000),
			    "notify STOPPING=1\n"
			    "signal KILL\n"
			    "warning: shutdown: got SIGINT; killing QEMU (pid 4242, SIGKILL) after 0.000 s\n"
			    "step kill 0.000\n"
			    "notify STATUS=stopping: kill");
}

static void test_second_signal_skips_a_step(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(
	    feed(&t, SIGNAL(SIGINT), 3000),
	    "qmp quit\n"
	    "info: shutdown: got SIGINT again; asking QEMU to quit (QMP quit) after 2.000 s, waiting up to "
	    "10 s\n"
	    "step quit 2.000\n"
	    "notify STATUS=stopping: quit");
	assert_deadline_in(&t, 13000);
	assert_string_equal(
	    feed(&t, SIGNAL(SIGHUP), 3500),
	    "signal TERM\n"
	    "info: shutdown: got SIGHUP again; sending SIGTERM to QEMU (pid 4242) after 2.500 s, waiting up "
	    "to 5 s\n"
	    "step term 2.500\n"
	    "notify STATUS=stopping: term");
	assert_string_equal(feed(&t, SIGNAL(SIGTERM), 3600),
			    "signal KILL\n"
			    "warning: shutdown: got SIGTERM again; killing QEMU (pid 4242, SIGKILL) after 2.600 s\n"
			    "step kill 2.600\n"
			    "notify STATUS=stopping: kill");
	assert_string_equal(feed(&t, SIGNAL(SIGTERM), 3700), "");
	feed(&t, EXITED(CLD_KILLED, SIGKILL), 3800);
	assert_int_equal(stop_exit_code(&t.s), 0);
}

static void test_control_stop(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	assert_string_equal(
	    feed(&t, STOP("a stop was asked for", false, -1), 1000),
	    "notify STOPPING=1\n"
	    "qmp system_powerdown\n"
	    "info: shutdown: a stop was asked for; pressing the power button (system_powerdown), waiting up "
	    "to 60 s for the guest to power off\n"
	    "step powerdown 0.000\n"
	    "notify STATUS=stopping: powerdown");
	/* Asked again: only a forced stop hurries the step under way. */
	assert_string_equal(feed(&t, STOP("a stop was asked for", false, -1), 2000), "");
	assert_string_equal(
	    feed(&t, STOP("a forced stop was asked for", true, -1), 3000),
	    "qmp quit\n"
	    "info: shutdown: a forced stop was asked for; asking QEMU to quit (QMP quit) after 2.000 s, "
	    "waiting up to 10 s\n"
	    "step quit 2.000\n"
	    "notify STATUS=stopping: quit");
	/* A signal after a control stop is a second request too. */
	assert_string_equal(
	    feed(&t, SIGNAL(SIGTERM), 4000),
	    "signal TERM\n"
	    "info: shutdown: got SIGTERM again; sending SIGTERM to QEMU (pid 4242) after 3.000 s, waiting "
	    "up to 5 s\n"
	    "step term 3.000\n"
	    "notify STATUS=stopping: term");
	feed(&t, EXITED(CLD_EXITED, 0), 4100);
	assert_int_equal(stop_exit_code(&t.s), 0);
}

static void test_force_skips_powerdown(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	assert_string_equal(
	    feed(&t, STOP("a forced stop was asked for", true, -1), 1000),
	    "notify STOPPING=1\n"
	    "qmp quit\n"
	    "info: shutdown: a forced stop was asked for; asking QEMU to quit (QMP quit) after 0.000 s, "
	    "waiting up to 10 s\n"
	    "step quit 0.000\n"
	    "notify STATUS=stopping: quit");
	assert_deadline_in(&t, 11000);
	/* A signal now goes on from quit, never back to the power button. */
	feed(&t, SIGNAL(SIGTERM), 1500);
	assert_string_equal(stop_step_name(t.s.step), "term");
}

static void test_stop_timeout(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	assert_string_equal(
	    feed(&t, STOP("a stop was asked for", false, 2), 1000),
	    "notify STOPPING=1\n"
	    "qmp system_powerdown\n"
	    "info: shutdown: a stop was asked for; pressing the power button (system_powerdown), waiting up "
	    "to 2 s for the guest to power off\n"
	    "step powerdown 0.000\n"
	    "notify STATUS=stopping: powerdown");
	assert_deadline_in(&t, 3000);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	feed(&t, DEADLINE, 3000);
	assert_string_equal(stop_step_name(t.s.step), "quit");

	/* --timeout 0: no time for the guest, so no power button. */
	init_running(&t, NULL);
	feed(&t, STOP("a stop was asked for", false, 0), 1000);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_deadline_in(&t, 11000);
}

static void test_guest_powers_off_during_powerdown(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(feed(&t, EV(POWERDOWN), 1010), "");
	assert_string_equal(feed(&t, SHUTDOWN(true, "guest-shutdown"), 4000), "");
	assert_true(t.s.guest_off);
	assert_string_equal(t.s.shutdown_reason, "guest-shutdown");
	/* The step and its deadline stay: QEMU exits by itself, or the next step comes after all. */
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	assert_deadline_in(&t, 61000);
	assert_string_equal(feed(&t, EV(QMP_LOST), 4100), "");
	assert_string_equal(feed(&t, EXITED(CLD_EXITED, 0), 4200), "info: shutdown took 3.200 s");
	assert_int_equal(stop_exit_code(&t.s), 0);

	/* The same, but QEMU hangs after SHUTDOWN: at the power button's deadline, quit (QMP still up). */
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 4000);
	feed(&t, DEADLINE, 61000);
	assert_string_equal(stop_step_name(t.s.step), "quit");
}

static void test_shutdown_during_quit(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	feed(&t, STOP("a forced stop was asked for", true, -1), 1000);
	assert_string_equal(feed(&t, SHUTDOWN(false, "host-qmp-quit"), 1100), "");
	assert_false(t.s.guest_off);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_deadline_in(&t, 11000);
	assert_string_equal(feed(&t, REPLY("quit", true), 1101), "");
	assert_string_equal(feed(&t, EV(QMP_LOST), 1200), "");
	assert_string_equal(feed(&t, EXITED(CLD_EXITED, 0), 1300), "info: shutdown took 0.300 s");
	assert_int_equal(stop_exit_code(&t.s), 0);
}

static void test_guest_powers_off_by_itself(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	/* No STOPPING=1 and no step of its own: QEMU is waited for as after quit. */
	assert_string_equal(feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000), "");
	assert_int_equal(t.s.phase, STOP_PHASE_STOPPING);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_deadline_in(&t, 15000);
	assert_false(t.s.stop_requested);
	assert_string_equal(feed(&t, EXITED(CLD_EXITED, 0), 5300), "info: shutdown took 0.300 s");
	assert_int_equal(stop_exit_code(&t.s), 0);

	/* A first signal meanwhile lets the guest finish; a second goes on to the step after quit. */
	init_running(&t, NULL);
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000);
	assert_string_equal(feed(&t, SIGNAL(SIGTERM), 5100),
			    "info: shutdown: got SIGTERM; the guest is already shutting down");
	assert_true(t.s.stop_requested);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_string_equal(
	    feed(&t, SIGNAL(SIGTERM), 5200),
	    "signal TERM\n"
	    "info: shutdown: got SIGTERM again; sending SIGTERM to QEMU (pid 4242) after 0.200 s, waiting "
	    "up to 5 s\n"
	    "step term 0.200\n"
	    "notify STATUS=stopping: term");
	/* So does a stop asked over the control socket, then a forced one. */
	init_running(&t, NULL);
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000);
	assert_string_equal(feed(&t, STOP("a forced stop was asked for", true, -1), 5100), "");
	assert_string_equal(
	    feed(&t, STOP("a forced stop was asked for", true, -1), 5200),
	    "signal TERM\n"
	    "info: shutdown: a forced stop was asked for; sending SIGTERM to QEMU (pid 4242) after 0.200 s, "
	    "waiting up to 5 s\n"
	    "step term 0.200\n"
	    "notify STATUS=stopping: term");
}

/* The guest powered off but QEMU hangs: the steps after quit end it, and that is no failure. */
static void test_guest_off_and_qemu_hangs(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000);
	assert_string_equal(
	    feed(&t, DEADLINE, 15000),
	    "signal TERM\n"
	    "info: shutdown: QEMU did not quit in time; sending SIGTERM to QEMU (pid 4242) after 10.000 s, "
	    "waiting up to 5 s\n"
	    "step term 10.000\n"
	    "notify STATUS=stopping: term");
	feed(&t, DEADLINE, 20000);
	assert_string_equal(stop_step_name(t.s.step), "kill");
	feed(&t, EXITED(CLD_KILLED, SIGKILL), 20100);
	assert_int_equal(stop_exit_code(&t.s), 0);

	/* A quit_timeout of 0: SIGTERM at once. */
	init_running(&t, &(struct profile_shutdown){ 60, 0, 5, 0 });
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000);
	assert_deadline_in(&t, 5000);
	feed(&t, DEADLINE, 5000);
	assert_string_equal(stop_step_name(t.s.step), "term");
	feed(&t, EXITED(CLD_KILLED, SIGTERM), 5100);
	assert_int_equal(stop_exit_code(&t.s), 0);

	/* A signal vgpuvm did not send is a failure, even after SHUTDOWN. */
	init_running(&t, NULL);
	feed(&t, SHUTDOWN(true, "guest-shutdown"), 5000);
	feed(&t, EXITED(CLD_KILLED, SIGKILL), 5100);
	assert_int_equal(stop_exit_code(&t.s), 128 + SIGKILL);
}

/* QEMU exiting at each step ends the machine there: nothing after, whatever comes, and exit code 0 for a stop. */
static void test_qemu_exits_at_each_step(void **state)
{
	static const struct {
		int how, status;
	} ends[] = { { CLD_EXITED, 0 }, { CLD_EXITED, 1 }, { CLD_KILLED, SIGTERM }, { CLD_KILLED, SIGKILL } };

	(void)state;
	/* With an agent that answers, so that every row is taken in turn. */
	for (int step = 0; step < 5; step++)
		for (size_t e = 0; e < ELEMENTSOF(ends); e++) {
			struct t t;
			uint64_t ms = 1000;

			init_running(&t, &with_agent);
			assert_string_equal(feed(&t, AGENT(true), 500), "");
			feed(&t, SIGNAL(SIGTERM), ms);
			while (t.s.step < step) {
				ms = (t.s.deadline - T0) / USEC_PER_MSEC;
				feed(&t, DEADLINE, ms);
			}
			assert_int_equal(t.s.step, step);
			assert_string_not_equal(feed(&t, EXITED(ends[e].how, ends[e].status), ms + 10), "");
			assert_int_equal(t.s.phase, STOP_PHASE_EXITED);
			assert_int_equal(t.s.deadline, USEC_INFINITY);
			assert_string_equal(feed(&t, DEADLINE, ms + 999999), "");
			assert_string_equal(feed(&t, SIGNAL(SIGTERM), ms + 20), "");
			assert_string_equal(feed(&t, STOP("a forced stop was asked for", true, -1), ms + 20), "");
			assert_string_equal(feed(&t, REPLY("quit", false), ms + 20), "");
			assert_string_equal(feed(&t, EV(FAILED), ms + 20), "");
			assert_string_equal(feed(&t, SHUTDOWN(true, "guest-shutdown"), ms + 20), "");
			assert_int_equal(t.s.phase, STOP_PHASE_EXITED);
			assert_int_equal(stop_exit_code(&t.s), 0);
		}
}

static void test_stop_during_start(void **state)
{
	struct t t;

	(void)state;
	/* Before QMP is up: no power button, no quit; SIGTERM at once, and the start deadline no longer counts. */
	init(&t, NULL, 120);
	assert_string_equal(
	    feed(&t, SIGNAL(SIGTERM), 500),
	    "notify STOPPING=1\n"
	    "signal TERM\n"
	    "info: shutdown: got SIGTERM; sending SIGTERM to QEMU (pid 4242) after 0.000 s, waiting up to "
	    "5 s\n"
	    "step term 0.000\n"
	    "notify STATUS=stopping: term");
	assert_deadline_in(&t, 5500);
	/* QMP coming up, or QEMU running, afterwards changes nothing. */
	assert_string_equal(feed(&t, EV(QMP_READY), 600), "");
	assert_string_equal(feed(&t, EV(RUNNING), 700), "");
	assert_int_equal(t.s.phase, STOP_PHASE_STOPPING);
	assert_deadline_in(&t, 5500);
	feed(&t, DEADLINE, 5500);
	assert_string_equal(stop_step_name(t.s.step), "kill");
	feed(&t, EXITED(CLD_KILLED, SIGKILL), 5600);
	assert_int_equal(stop_exit_code(&t.s), 0);

	/* With QMP up but the guest not yet running: quit, since a guest that does not run cannot obey the button. */
	init(&t, NULL, 120);
	feed(&t, EV(QMP_READY), 500);
	assert_string_equal(
	    feed(&t, STOP("a stop was asked for", false, -1), 600),
	    "notify STOPPING=1\n"
	    "qmp quit\n"
	    "info: shutdown: a stop was asked for; asking QEMU to quit (QMP quit) after 0.000 s, waiting up "
	    "to 10 s\n"
	    "step quit 0.000\n"
	    "notify STATUS=stopping: quit");

	/* Forced, before QMP: SIGTERM too. */
	init(&t, NULL, 120);
	feed(&t, STOP("a forced stop was asked for", true, -1), 600);
	assert_string_equal(stop_step_name(t.s.step), "term");
}

static void test_start_timeout(void **state)
{
	struct t t;

	(void)state;
	init(&t, NULL, 2);
	assert_deadline_in(&t, 2000);
	assert_string_equal(feed(&t, DEADLINE, 1999), "");
	assert_string_equal(
	    feed(&t, DEADLINE, 2000),
	    "error: QEMU (pid 4242) did not report running within 2 s (no QMP greeting); stopping it\n"
	    "notify STOPPING=1\n"
	    "signal TERM\n"
	    "info: shutdown: QEMU did not start properly; sending SIGTERM to QEMU (pid 4242) after 0.000 s, "
	    "waiting up to 5 s\n"
	    "step term 0.000\n"
	    "notify STATUS=stopping: term");
	assert_int_equal(t.s.failure, STOP_FAIL_START_TIMEOUT);
	feed(&t, EXITED(CLD_KILLED, SIGTERM), 2100);
	assert_int_equal(stop_exit_code(&t.s), -EPROTO);

	/* QMP up but never "running": quit, and no word of the greeting. */
	init(&t, NULL, 2);
	feed(&t, EV(QMP_READY), 100);
	assert_string_equal(
	    feed(&t, DEADLINE, 2500),
	    "error: QEMU (pid 4242) did not report running within 2 s; stopping it\n"
	    "notify STOPPING=1\n"
	    "qmp quit\n"
	    "info: shutdown: QEMU did not start properly; asking QEMU to quit (QMP quit) after 0.000 s, "
	    "waiting up to 10 s\n"
	    "step quit 0.000\n"
	    "notify STATUS=stopping: quit");
	/* Even if QEMU exits cleanly after quit, the run failed. */
	feed(&t, EXITED(CLD_EXITED, 0), 2600);
	assert_int_equal(stop_exit_code(&t.s), -EPROTO);
}

static void test_start_failed(void **state)
{
	struct t t;

	(void)state;
	/* A monitor that talks garbage before the capabilities: SIGTERM. */
	init(&t, NULL, 120);
	assert_string_equal(
	    feed(&t, EV(START_FAILED, .failure = STOP_FAIL_PROTOCOL, .why = "does not speak QMP on its monitor"), 100),
	    "error: QEMU (pid 4242) does not speak QMP on its monitor; stopping it\n"
	    "notify STOPPING=1\n"
	    "signal TERM\n"
	    "info: shutdown: QEMU did not start properly; sending SIGTERM to QEMU (pid 4242) after 0.000 s, waiting up "
	    "to 5 s\n"
	    "step term 0.000\n"
	    "notify STATUS=stopping: term");
	assert_int_equal(t.s.failure, STOP_FAIL_PROTOCOL);
	feed(&t, EXITED(CLD_EXITED, 0), 200);
	assert_int_equal(stop_exit_code(&t.s), -EPROTO);

	/* A basic command refused once QEMU runs: still no power button. */
	init_running(&t, NULL);
	feed(&t, EV(START_FAILED, .failure = STOP_FAIL_PROTOCOL, .why = "refused a basic QMP command"), 300);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	/* A stop asked for afterwards does not undo the failure. */
	feed(&t, SIGNAL(SIGTERM), 400);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_true(t.s.stop_requested);
	feed(&t, EXITED(CLD_EXITED, 0), 500);
	assert_int_equal(stop_exit_code(&t.s), -EPROTO);
}

static void test_command_errors(void **state)
{
	struct t t;

	(void)state;
	/* quit refused: SIGTERM at once. */
	init_running(&t, NULL);
	feed(&t, STOP("a forced stop was asked for", true, -1), 1000);
	assert_string_equal(
	    feed(&t, REPLY("quit", false), 1050),
	    "signal TERM\n"
	    "info: shutdown: the command failed; sending SIGTERM to QEMU (pid 4242) after 0.050 s, waiting "
	    "up to 5 s\n"
	    "step term 0.050\n"
	    "notify STATUS=stopping: term");

	/* system_powerdown refused: quit at once. */
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	feed(&t, REPLY("system_powerdown", false), 1010);
	assert_string_equal(stop_step_name(t.s.step), "quit");

	/* The error of a step already left behind is stale: it takes no step. */
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	feed(&t, SIGNAL(SIGTERM), 1010);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	assert_string_equal(feed(&t, REPLY("system_powerdown", false), 1020), "");
	assert_string_equal(stop_step_name(t.s.step), "quit");
	feed(&t, REPLY("quit", false), 1030);
	assert_string_equal(stop_step_name(t.s.step), "term");

	/* Before any stop, an error changes nothing. */
	init_running(&t, NULL);
	assert_string_equal(feed(&t, REPLY("quit", false), 1000), "");
	assert_int_equal(t.s.phase, STOP_PHASE_RUNNING);
}

static void test_qmp_lost(void **state)
{
	struct t t;

	(void)state;
	/* Without the monitor, neither the power button nor quit can be sent. */
	init_running(&t, NULL);
	assert_string_equal(feed(&t, EV(QMP_LOST), 900), "");
	assert_int_equal(t.s.phase, STOP_PHASE_RUNNING);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(stop_step_name(t.s.step), "term");

	/* Lost during the power button's wait: the wait goes on, then quit is skipped. */
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(feed(&t, EV(QMP_LOST), 2000), "");
	assert_deadline_in(&t, 61000);
	feed(&t, DEADLINE, 61000);
	assert_string_equal(stop_step_name(t.s.step), "term");
}

/* The loop could not carry out a step's action: the next step, with the same reason. */
static void test_action_failed(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, NULL);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(
	    feed(&t, EV(FAILED), 1000),
	    "qmp quit\n"
	    "info: shutdown: got SIGTERM; asking QEMU to quit (QMP quit) after 0.000 s, waiting up to 10 s\n"
	    "step quit 0.000\n"
	    "notify STATUS=stopping: quit");
	feed(&t, EV(FAILED), 1000);
	assert_string_equal(stop_step_name(t.s.step), "term");
	feed(&t, EV(FAILED), 1000);
	assert_string_equal(stop_step_name(t.s.step), "kill");
	assert_string_equal(feed(&t, EV(FAILED), 1000), "");

	/* Before a stop there is no step to fail. */
	init_running(&t, NULL);
	assert_string_equal(feed(&t, EV(FAILED), 1000), "");

	/* A SIGTERM that could not be sent is not vgpuvm's when QEMU dies of one. */
	init_running(&t, NULL);
	feed(&t, SHUTDOWN(false, "host-qmp-quit"), 1000);
	feed(&t, DEADLINE, 11000);
	assert_string_equal(stop_step_name(t.s.step), "term");
	feed(&t, EV(FAILED), 11000);
	assert_string_equal(stop_step_name(t.s.step), "kill");
	feed(&t, EXITED(CLD_KILLED, SIGTERM), 11100);
	assert_int_equal(stop_exit_code(&t.s), 128 + SIGTERM);
}

static void test_exit_codes(void **state)
{
	static const struct {
		int how, status, code;
	} alone[] = {
		{ CLD_EXITED, 0, 0 },	      { CLD_EXITED, 1, 1 },	    { CLD_KILLED, SIGKILL, 137 },
		{ CLD_KILLED, SIGTERM, 143 }, { CLD_DUMPED, SIGSEGV, 139 }, { CLD_KILLED, SIGSYS, 128 + SIGSYS },
	};
	struct t t;

	(void)state;
	/* QEMU ending by itself: its status, or 128+N. */
	for (size_t i = 0; i < ELEMENTSOF(alone); i++) {
		init_running(&t, NULL);
		feed(&t, EXITED(alone[i].how, alone[i].status), 1000);
		assert_int_equal(stop_exit_code(&t.s), alone[i].code);
	}
	/* Before it ran, too. */
	init(&t, NULL, 120);
	feed(&t, EXITED(CLD_EXITED, 1), 100);
	assert_int_equal(stop_exit_code(&t.s), 1);
	/* A stop asked for is 0, whatever ended QEMU. */
	for (size_t i = 0; i < ELEMENTSOF(alone); i++) {
		init_running(&t, NULL);
		feed(&t, SIGNAL(SIGTERM), 1000);
		feed(&t, EXITED(alone[i].how, alone[i].status), 2000);
		assert_int_equal(stop_exit_code(&t.s), 0);
	}
}

/* An agent that answered: guest-shutdown first, with its own deadline, then the power button and the rest. */
static void test_agent_first(void **state)
{
	struct t t;

	(void)state;
	init_running(&t, &with_agent);
	assert_string_equal(feed(&t, AGENT(true), 500), "");
	assert_string_equal(
	    feed(&t, SIGNAL(SIGTERM), 1000),
	    "notify STOPPING=1\n"
	    "agent guest-shutdown\n"
	    "info: shutdown: got SIGTERM; asking the guest agent to shut the guest down (guest-shutdown), "
	    "waiting up to 30 s for the guest to power off\n"
	    "step agent 0.000\n"
	    "notify STATUS=stopping: agent");
	assert_string_equal(stop_step_name(t.s.step), "agent");
	assert_deadline_in(&t, 31000);
	/* The agent goes away as the guest shuts down (its service is stopped): that hurries nothing. */
	assert_string_equal(feed(&t, AGENT(false), 2000), "");
	assert_string_equal(feed(&t, DEADLINE, 30999), "");
	assert_string_equal(
	    feed(&t, DEADLINE, 31000),
	    "qmp system_powerdown\n"
	    "info: shutdown: the guest did not power off in time after guest-shutdown; pressing the power "
	    "button (system_powerdown) after 30.000 s, waiting up to 60 s for the guest to power off\n"
	    "step powerdown 30.000\n"
	    "notify STATUS=stopping: powerdown");
	assert_deadline_in(&t, 91000);

	/* The guest obeys: it powers off, QEMU is waited for as after quit, and the stop ends well. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, STOP("a stop was asked for", false, -1), 1000);
	assert_string_equal(stop_step_name(t.s.step), "agent");
	assert_string_equal(feed(&t, SHUTDOWN(true, "guest-shutdown"), 4000), "");
	assert_string_equal(stop_step_name(t.s.step), "agent");
	assert_true(t.s.guest_off);
	assert_string_equal(feed(&t, EXITED(CLD_EXITED, 0), 4100), "info: shutdown took 3.100 s");
	assert_int_equal(stop_exit_code(&t.s), 0);
}

/* An agent that is not there, or went away, or refuses, or a deadline of 0: the power button as before. */
static void test_agent_absent_or_refusing(void **state)
{
	struct t t;

	(void)state;
	/* Never answered. */
	init_running(&t, &with_agent);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	assert_false(strstr(t.out, " after "));
	/* Answered, then went away before the stop. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, AGENT(false), 600);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	/* Answered, but agent_timeout is 0. */
	init_running(&t, &defaults);
	feed(&t, AGENT(true), 500);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	/* A forced stop asks no guest. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, STOP("a forced stop was asked for", true, -1), 1000);
	assert_string_equal(stop_step_name(t.s.step), "quit");
	/* The agent refuses guest-shutdown: the power button at once, with the time it took. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, SIGNAL(SIGTERM), 1000);
	assert_string_equal(feed(&t, REPLY("system_powerdown", false), 1200), "");
	assert_string_equal(feed(&t, REPLY("guest-shutdown", false), 1500),
			    "qmp system_powerdown\n"
			    "info: shutdown: the command failed; pressing the power button (system_powerdown) after "
			    "0.500 s, waiting up to 60 s for the guest to power off\n"
			    "step powerdown 0.500\n"
			    "notify STATUS=stopping: powerdown");
	/* The command could not even be sent: the next step at once. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, SIGNAL(SIGTERM), 1000);
	feed(&t, EV(FAILED), 1000);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	/* A second signal skips the agent's step as it skips the power button. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, SIGNAL(SIGTERM), 1000);
	feed(&t, SIGNAL(SIGTERM), 1100);
	assert_string_equal(stop_step_name(t.s.step), "powerdown");
	/* A client's timeout is the agent's too. */
	init_running(&t, &with_agent);
	feed(&t, AGENT(true), 500);
	feed(&t, STOP("a stop was asked for", false, 7), 1000);
	assert_string_equal(stop_step_name(t.s.step), "agent");
	assert_deadline_in(&t, 8000);
}

static void test_names(void **state)
{
	(void)state;
	assert_null(stop_step_name(-1));
	assert_string_equal(stop_step_name(0), "agent");
	assert_string_equal(stop_step_name(1), "powerdown");
	assert_string_equal(stop_step_name(2), "quit");
	assert_string_equal(stop_step_name(3), "term");
	assert_string_equal(stop_step_name(4), "kill");
	assert_null(stop_step_name(5));
	assert_string_equal(stop_phase_to_string(STOP_PHASE_EXITED), "exited");
	assert_null(stop_phase_to_string(STOP_PHASE_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_every_deadline_in_turn),
		cmocka_unit_test(test_zero_deadline_skips_its_step),
		cmocka_unit_test(test_zero_deadline_texts),
		cmocka_unit_test(test_second_signal_skips_a_step),
		cmocka_unit_test(test_control_stop),
		cmocka_unit_test(test_force_skips_powerdown),
		cmocka_unit_test(test_stop_timeout),
		cmocka_unit_test(test_guest_powers_off_during_powerdown),
		cmocka_unit_test(test_shutdown_during_quit),
		cmocka_unit_test(test_guest_powers_off_by_itself),
		cmocka_unit_test(test_guest_off_and_qemu_hangs),
		cmocka_unit_test(test_qemu_exits_at_each_step),
		cmocka_unit_test(test_stop_during_start),
		cmocka_unit_test(test_start_timeout),
		cmocka_unit_test(test_start_failed),
		cmocka_unit_test(test_command_errors),
		cmocka_unit_test(test_qmp_lost),
		cmocka_unit_test(test_action_failed),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_agent_first),
		cmocka_unit_test(test_agent_absent_or_refusing),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("stop", tests, NULL, NULL);
}
