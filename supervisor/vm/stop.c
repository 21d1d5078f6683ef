/* SPDX-License-Identifier: MIT */
/*
 * The shutdown steps and what leads to them. The steps themselves are rows of a table: what each does, what it
 * needs, which of the profile's deadlines it waits, and what the log says, so that a step is added with a row. Taking
 * a step means trying the rows in order from the one after the current, skipping those that cannot apply; the last
 * row always applies. A second signal, a failed command or a passed deadline takes the next step.
 */
#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>

#include "profiles/profile.h"
#include "supervisor/vm/stop.h"
#include "util/macro.h"
#include "util/time-util.h"

/* What a step needs in order to apply. */
enum {
	NEEDS_QMP = 1 << 0,   /* the monitor is up: capabilities negotiated, and not closed since */
	NEEDS_GUEST = 1 << 1, /* a guest that runs and can react; never after a forced stop or a start failure */
	NEEDS_AGENT = 1 << 2, /* the guest agent has answered and is still there */
};

#define NO_TIMEOUT SIZE_MAX

struct step {
	const char *name;	      /* in STOP_STEP events and sd_notify's STATUS */
	enum stop_action_type action; /* STOP_ACTION_QMP, STOP_ACTION_AGENT or STOP_ACTION_SIGNAL */
	const char *command;	      /* for QMP and AGENT */
	int signo;		      /* for SIGNAL */
	unsigned needs;
	size_t timeout; /* where its deadline is in struct profile_shutdown; the last row waits for the reaping */
	/* After a SHUTDOWN event QEMU exits by itself, as after this step's action: it is waited for as here. */
	bool after_shutdown;
	bool opens;	      /* the step asks the guest: when it begins a stop, its log line has no time to tell */
	const char *doing;    /* the log line: what the step does */
	const char *pid_note; /* NULL, or the log line names QEMU's pid, followed by this */
	const char *until;    /* the log line's end, after "waiting up to N s" */
	const char *late;     /* why the next step is taken once this one's deadline has passed */
};

static const struct step steps[] = {
	/*
	 * The guest agent shuts the guest down as its own OS would, where a Windows guest at its lock screen or a Linux
	 * guest without acpid ignores the power button. Only an agent that has answered is asked; one that then keeps
	 * silent costs its deadline and no more.
	 */
	{
	    .name = "agent",
	    .action = STOP_ACTION_AGENT,
	    .command = "guest-shutdown",
	    .needs = NEEDS_QMP | NEEDS_GUEST | NEEDS_AGENT,
	    .opens = true,
	    .timeout = offsetof(struct profile_shutdown, agent_timeout),
	    .doing = "asking the guest agent to shut the guest down (guest-shutdown)",
	    .until = " for the guest to power off",
	    .late = "the guest did not power off in time after guest-shutdown",
	},
	{
	    .name = "powerdown",
	    .action = STOP_ACTION_QMP,
	    .command = "system_powerdown",
	    .needs = NEEDS_QMP | NEEDS_GUEST,
	    .opens = true,
	    .timeout = offsetof(struct profile_shutdown, powerdown_timeout),
	    .doing = "pressing the power button (system_powerdown)",
	    .until = " for the guest to power off",
	    .late = "the guest did not power off in time",
	},
	{
	    .name = "quit",
	    .action = STOP_ACTION_QMP,
	    .command = "quit",
	    .needs = NEEDS_QMP,
	    .timeout = offsetof(struct profile_shutdown, quit_timeout),
	    .after_shutdown = true,
	    .doing = "asking QEMU to quit (QMP quit)",
	    .late = "QEMU did not quit in time",
	},
	{
	    .name = "term",
	    .action = STOP_ACTION_SIGNAL,
	    .signo = SIGTERM,
	    .timeout = offsetof(struct profile_shutdown, kill_timeout),
	    .doing = "sending SIGTERM to QEMU",
	    .pid_note = "",
	    .late = "QEMU did not exit on SIGTERM in time",
	},
	{
	    .name = "kill",
	    .action = STOP_ACTION_SIGNAL,
	    .signo = SIGKILL,
	    .timeout = NO_TIMEOUT,
	    .doing = "killing QEMU",
	    .pid_note = ", SIGKILL",
	},
};

#define LAST ((int)ELEMENTSOF(steps) - 1)

_Static_assert(ELEMENTSOF(steps) <= STOP_STEPS_MAX, "STOP_STEPS_MAX must hold the step table");

static const char *const phase_names[STOP_PHASE_MAX] = {
	[STOP_PHASE_STARTING] = "starting",
	[STOP_PHASE_RUNNING] = "running",
	[STOP_PHASE_STOPPING] = "stopping",
	[STOP_PHASE_EXITED] = "exited",
};

const char *stop_phase_to_string(enum stop_phase p)
{
	return p < STOP_PHASE_MAX ? phase_names[p] : NULL;
}

const char *stop_step_name(int step)
{
	return step >= 0 && step <= LAST ? steps[step].name : NULL;
}

static uint64_t after(uint64_t now, unsigned seconds)
{
	uint64_t usec = seconds * USEC_PER_SEC;

	return usec >= USEC_INFINITY - now ? USEC_INFINITY : now + usec;
}

static double seconds_between(uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) / 1e6 : 0.0;
}

/* Signals 1 to 64, one bit each. */
static uint64_t signal_bit(int signo)
{
	return signo >= 1 && signo <= 64 ? UINT64_C(1) << (signo - 1) : 0;
}

void stop_init(struct stop *s, const struct profile_shutdown *shutdown, unsigned start_timeout, pid_t pid, uint64_t now)
{
	*s = (struct stop){
		.start_timeout = start_timeout,
		.pid = pid,
		.phase = STOP_PHASE_STARTING,
		.step = -1,
		.deadline = after(now, start_timeout),
	};
	for (int i = 0; i <= LAST; i++)
		if (steps[i].timeout != NO_TIMEOUT)
			s->timeout[i] = *(const unsigned *)((const char *)shutdown + steps[i].timeout);
}

/* Every event asks for fewer actions than there is room for (at most: a log line, STOPPING=1 and a step's four). */
static struct stop_action *push(struct stop_actions *out, enum stop_action_type type)
{
	struct stop_action *a;

	assert(out->n < STOP_ACTIONS_MAX);
	a = &out->a[out->n++];
	*a = (struct stop_action){ .type = type };
	return a;
}

static void push_text(struct stop_actions *out, enum stop_action_type t, int level, const char *fmt, ...)
    _printf_(4, 5);

static void push_text(struct stop_actions *out, enum stop_action_type t, int level, const char *fmt, ...)
{
	struct stop_action *a = push(out, t);
	va_list ap;

	a->level = level;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
}

/* Appends to a string that snprintf() may have filled already, cutting at its end. */
static void append(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static bool applies(const struct stop *s, int i)
{
	const struct step *st = &steps[i];

	if (i == LAST)
		return true;
	if ((st->needs & NEEDS_QMP) && (!s->qmp_ready || s->qmp_lost))
		return false;
	if ((st->needs & NEEDS_GUEST) && (!s->running || s->guest_skipped))
		return false;
	if ((st->needs & NEEDS_AGENT) && !s->agent_up)
		return false;
	return s->timeout[i] > 0;
}

/* The step's own action first, so that the caller can drop the rest should it fail; then what tells of it. */
static void take_step(struct stop *s, uint64_t now, struct stop_actions *out)
{
	const struct step *st = &steps[s->step];
	double at = seconds_between(s->stop_started_at, now);
	struct stop_action *a = push(out, st->action);

	if (st->action == STOP_ACTION_QMP || st->action == STOP_ACTION_AGENT)
		a->command = st->command;
	else {
		a->signo = st->signo;
		s->signals_sent |= signal_bit(st->signo);
	}

	a = push(out, STOP_ACTION_LOG);
	a->level = s->step == LAST ? LOG_WARNING : LOG_INFO;
	snprintf(a->text, sizeof(a->text), "shutdown: %s; %s", s->why, st->doing);
	if (st->pid_note)
		append(a->text, sizeof(a->text), " (pid %ld%s)", (long)s->pid, st->pid_note);
	if (!st->opens || s->steps_taken > 0)
		append(a->text, sizeof(a->text), " after %.3f s", at);
	s->steps_taken++;
	if (s->step < LAST)
		append(a->text, sizeof(a->text), ", waiting up to %u s%s", s->timeout[s->step], st->until ?: "");

	a = push(out, STOP_ACTION_STEP);
	a->step = st->name;
	a->elapsed = at;
	push_text(out, STOP_ACTION_NOTIFY, 0, "STATUS=stopping: %s", st->name);
	s->deadline = s->step == LAST ? USEC_INFINITY : after(now, s->timeout[s->step]);
}

/* Takes the next step that applies, beginning the stop if it has not begun. Nothing after the last step. */
static void advance(struct stop *s, const char *why, uint64_t now, struct stop_actions *out)
{
	if (s->phase == STOP_PHASE_EXITED || s->step >= LAST)
		return;
	if (why != s->why)
		snprintf(s->why, sizeof(s->why), "%s", why);
	if (s->phase != STOP_PHASE_STOPPING) {
		s->phase = STOP_PHASE_STOPPING;
		s->stop_started_at = now;
		push_text(out, STOP_ACTION_NOTIFY, 0, "STOPPING=1");
	}
	do
		s->step++;
	while (!applies(s, s->step));
	take_step(s, now, out);
}

/* A QEMU that is not running properly gets no power button: it goes straight to quit or signals. */
static void start_failed(struct stop *s, enum stop_failure f, const char *why, uint64_t now, struct stop_actions *out)
{
	if (s->failure == STOP_FAIL_NONE)
		s->failure = f;
	push_text(out, STOP_ACTION_LOG, LOG_ERR, "QEMU (pid %ld) %s; stopping it", (long)s->pid, why ?: "failed");
	s->guest_skipped = true;
	advance(s, "QEMU did not start properly", now, out);
}

static void on_running(struct stop *s, struct stop_actions *out)
{
	s->running = true;
	if (s->phase != STOP_PHASE_STARTING)
		return;
	s->phase = STOP_PHASE_RUNNING;
	s->deadline = USEC_INFINITY;
	push_text(out, STOP_ACTION_NOTIFY, 0, "READY=1\nSTATUS=running (QEMU pid %ld)", (long)s->pid);
}

static void on_stop(struct stop *s, const struct stop_event *e, uint64_t now, struct stop_actions *out)
{
	const char *why = e->why ?: "a stop was asked for";

	if (e->timeout >= 0)
		for (int i = 0; i < LAST; i++)
			if (steps[i].needs & NEEDS_GUEST)
				s->timeout[i] = (unsigned)e->timeout;
	if (s->stop_requested) {
		/* Asked again: only a forced stop hurries the step under way. */
		if (e->force)
			advance(s, why, now, out);
		return;
	}
	s->stop_requested = true;
	/* The guest is already powering off by itself: let it finish. */
	if (s->phase == STOP_PHASE_STOPPING)
		return;
	if (e->force)
		s->guest_skipped = true;
	advance(s, why, now, out);
}

static void on_signal(struct stop *s, int signo, uint64_t now, struct stop_actions *out)
{
	const char *name = sigabbrev_np(signo);
	char why[64];

	snprintf(why, sizeof(why), "got SIG%s%s", name ?: "?", s->stop_requested ? " again" : "");
	/* The guest is already powering off by itself: a first signal just lets it finish. */
	if (!s->stop_requested && s->phase == STOP_PHASE_STOPPING) {
		s->stop_requested = true;
		push_text(out, STOP_ACTION_LOG, LOG_INFO, "shutdown: %s; the guest is already shutting down", why);
		return;
	}
	/*
	 * Otherwise the next step: the power button for a running guest; for a QEMU still starting, whose guest cannot
	 * react yet, quit or SIGTERM. A second signal skips the step under way.
	 */
	s->stop_requested = true;
	advance(s, why, now, out);
}

/* QEMU exits by itself after SHUTDOWN. Should it hang there, the steps after the one it is waited as take over. */
static void on_shutdown(struct stop *s, const struct stop_event *e, uint64_t now)
{
	int i = 0;

	s->guest_off = e->guest;
	snprintf(s->shutdown_reason, sizeof(s->shutdown_reason), "%s", e->reason ?: "?");
	if (s->phase == STOP_PHASE_STOPPING)
		return;
	while (i < LAST && !steps[i].after_shutdown)
		i++;
	s->phase = STOP_PHASE_STOPPING;
	s->stop_started_at = now;
	s->step = i;
	s->deadline = i == LAST ? USEC_INFINITY : after(now, s->timeout[i]);
}

static void on_deadline(struct stop *s, uint64_t now, struct stop_actions *out)
{
	char why[96];

	if (s->deadline == USEC_INFINITY || now < s->deadline)
		return;
	if (s->phase == STOP_PHASE_STARTING) {
		snprintf(why, sizeof(why), "did not report running within %u s%s", s->start_timeout,
			 s->qmp_ready ? "" : " (no QMP greeting)");
		start_failed(s, STOP_FAIL_START_TIMEOUT, why, now, out);
	} else if (s->phase == STOP_PHASE_STOPPING && s->step >= 0)
		advance(s, steps[s->step].late ?: "timeout", now, out);
}

static void on_exited(struct stop *s, const struct stop_event *e, uint64_t now, struct stop_actions *out)
{
	s->phase = STOP_PHASE_EXITED;
	s->deadline = USEC_INFINITY;
	s->exit_how = e->how;
	s->exit_status = e->status;
	if (s->step >= 0)
		push_text(out, STOP_ACTION_LOG, LOG_INFO, "shutdown took %.3f s",
			  seconds_between(s->stop_started_at, now));
}

void stop_feed(struct stop *s, const struct stop_event *e, uint64_t now, struct stop_actions *ret)
{
	ret->n = 0;
	/* Nothing is left to do once QEMU has been reaped. */
	if (s->phase == STOP_PHASE_EXITED)
		return;
	switch (e->type) {
	case STOP_EV_QMP_READY:
		s->qmp_ready = true;
		break;
	case STOP_EV_RUNNING:
		on_running(s, ret);
		break;
	case STOP_EV_START_FAILED:
		start_failed(s, e->failure, e->why, now, ret);
		break;
	case STOP_EV_STOP:
		on_stop(s, e, now, ret);
		break;
	case STOP_EV_SIGNAL:
		on_signal(s, e->signo, now, ret);
		break;
	case STOP_EV_POWERDOWN:
		/* The guest got the button; whether it obeys shows in SHUTDOWN, or in the deadline passing. */
		break;
	case STOP_EV_SHUTDOWN:
		on_shutdown(s, e, now);
		break;
	case STOP_EV_REPLY:
		/* An error from the command of the step under way: no use waiting for it. An old step's is stale. */
		if (!e->ok && s->phase == STOP_PHASE_STOPPING && s->step >= 0 && steps[s->step].command && e->command &&
		    strcmp(steps[s->step].command, e->command) == 0)
			advance(s, "the command failed", now, ret);
		break;
	case STOP_EV_FAILED:
		if (s->phase != STOP_PHASE_STOPPING || s->step < 0)
			break;
		if (steps[s->step].action == STOP_ACTION_SIGNAL)
			s->signals_sent &= ~signal_bit(steps[s->step].signo);
		advance(s, s->why, now, ret);
		break;
	case STOP_EV_QMP_LOST:
		s->qmp_lost = true;
		break;
	case STOP_EV_AGENT:
		/* The agent going away during its own step (the guest's shutdown stops it) is no reason to hurry: the
		 * step's deadline or the guest's SHUTDOWN decides. */
		s->agent_up = e->ok;
		break;
	case STOP_EV_DEADLINE:
		on_deadline(s, now, ret);
		break;
	case STOP_EV_EXITED:
		on_exited(s, e, now, ret);
		break;
	default:
		break;
	}
}

int stop_exit_code(const struct stop *s)
{
	if (s->failure != STOP_FAIL_NONE)
		return -EPROTO;
	/* A stop that was asked for ended the VM as asked, however many steps it took. */
	if (s->stop_requested)
		return 0;
	if (s->exit_how == CLD_EXITED)
		return s->exit_status;
	/*
	 * Without a stop or a start failure, vgpuvm signals QEMU only after SHUTDOWN (the guest powered off, or a
	 * client had QEMU quit) when QEMU then hangs: it ended as it was going to. Only a signal from elsewhere is a
	 * failure.
	 */
	if (s->signals_sent & signal_bit(s->exit_status))
		return 0;
	return 128 + s->exit_status;
}
