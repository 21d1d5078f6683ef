/* SPDX-License-Identifier: MIT */
/*
 * The life of one QEMU as a pure state machine: starting, running, the shutdown steps, exited. Events go in (a stop
 * asked for, a signal, QMP events and replies, a deadline, QEMU's exit), and out come the actions the loop carries
 * out (a QMP command, a signal to QEMU, a log line, an sd_notify message, a STOP_STEP event for control clients) and
 * the next deadline. No I/O, no clock, no globals: the caller passes the time in, so every path is tested with data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct profile_shutdown;

enum stop_phase {
	STOP_PHASE_STARTING, /* waiting for the greeting, capabilities and "running" */
	STOP_PHASE_RUNNING,
	STOP_PHASE_STOPPING, /* a shutdown step is under way */
	STOP_PHASE_EXITED,   /* QEMU has been reaped */
	STOP_PHASE_MAX,
};

/* Why vgpuvm itself gave up on a QEMU that started. */
enum stop_failure {
	STOP_FAIL_NONE,
	STOP_FAIL_START_TIMEOUT, /* no "running" before the start deadline */
	STOP_FAIL_PROTOCOL,	 /* the monitor spoke something that is not QMP, or refused a basic command */
	STOP_FAIL_MAX,
};

enum stop_event_type {
	STOP_EV_QMP_READY,    /* the capabilities were negotiated */
	STOP_EV_RUNNING,      /* QEMU reported "running" */
	STOP_EV_START_FAILED, /* .failure, .why: QEMU's monitor does not work */
	STOP_EV_STOP,	      /* .why, .force, .timeout: a stop asked for by a control client */
	STOP_EV_SIGNAL,	      /* .signo: SIGTERM, SIGINT or SIGHUP reached vgpuvm */
	STOP_EV_POWERDOWN,    /* QMP event: the guest was sent the power button */
	STOP_EV_SHUTDOWN,     /* QMP event, .guest and .reason: QEMU shuts down and will exit */
	STOP_EV_REPLY,	      /* .command, .ok: QEMU answered a step's command */
	STOP_EV_FAILED,	      /* the step's own action (a command or a signal) could not be carried out */
	STOP_EV_QMP_LOST,     /* QEMU's monitor closed */
	STOP_EV_AGENT,	      /* .ok: the guest agent answered (true), or went away or silent (false) */
	STOP_EV_DEADLINE,     /* the deadline passed */
	STOP_EV_EXITED,	      /* .how, .status: QEMU was reaped */
	STOP_EV_TYPE_MAX,
};

struct stop_event {
	enum stop_event_type type;
	const char *why;	   /* STOP, START_FAILED: for the log */
	bool force;		   /* STOP: skip the steps that ask the guest */
	int timeout;		   /* STOP: seconds the guest gets instead of the profile's; -1: the profile's */
	int signo;		   /* SIGNAL */
	bool guest;		   /* SHUTDOWN: the guest asked for it */
	const char *reason;	   /* SHUTDOWN */
	const char *command;	   /* REPLY */
	bool ok;		   /* REPLY: a return rather than an error; AGENT: the agent answers */
	enum stop_failure failure; /* START_FAILED */
	int how, status;	   /* EXITED: as waitid() gives them (si_code CLD_*, si_status) */
};

enum stop_action_type {
	STOP_ACTION_QMP,    /* send .command to QEMU; its reply comes back as STOP_EV_REPLY */
	STOP_ACTION_SIGNAL, /* send .signo to QEMU */
	STOP_ACTION_LOG,    /* log .text at .level (a syslog level) */
	STOP_ACTION_NOTIFY, /* sd_notify .text */
	STOP_ACTION_STEP,   /* a STOP_STEP event to control clients: .step, .elapsed */
	STOP_ACTION_AGENT,  /* send .command to the guest agent; an error reply comes back as STOP_EV_REPLY */
	STOP_ACTION_TYPE_MAX,
};

#define STOP_TEXT_MAX 320

struct stop_action {
	enum stop_action_type type;
	const char *command; /* QMP, AGENT; static */
	int signo;	     /* SIGNAL */
	int level;	     /* LOG */
	const char *step;    /* STEP; static */
	double elapsed;	     /* STEP: seconds since the stop began */
	char text[STOP_TEXT_MAX];
};

/*
 * What one event asks for, in order. A step's own action (a command or a signal) comes first among the step's
 * actions and the step is always the last thing in the list: should that action fail, the caller drops the rest and
 * feeds STOP_EV_FAILED, which takes the next step.
 */
#define STOP_ACTIONS_MAX 8

struct stop_actions {
	size_t n;
	struct stop_action a[STOP_ACTIONS_MAX];
};

/* Room for the rows of the step table in struct stop. */
#define STOP_STEPS_MAX 8

/* The state of one QEMU's life. Read its fields; change them only through stop_feed(). */
struct stop {
	unsigned timeout[STOP_STEPS_MAX]; /* each step's deadline in seconds, from the profile; 0 skips the step */
	unsigned start_timeout;		  /* seconds */
	pid_t pid;			  /* for the log */

	enum stop_phase phase;
	int step;		  /* the row of the step table under way, -1 before the first */
	uint64_t deadline;	  /* monotonic usec; USEC_INFINITY for none */
	uint64_t stop_started_at; /* when the stop began, once step is 0 or more */
	char why[128];		  /* why the step under way was taken, for the next one should its action fail */

	bool qmp_ready;	      /* capabilities negotiated */
	bool qmp_lost;	      /* the monitor closed */
	bool agent_up;	      /* the guest agent has answered, and not gone away since */
	unsigned steps_taken; /* steps taken in this stop */
	bool running;	      /* QEMU reported "running" once */
	bool guest_skipped;   /* the steps that ask the guest no longer apply (a forced stop, a start failure) */
	bool stop_requested;  /* by a signal or a client */
	bool guest_off;	      /* SHUTDOWN with "guest": true */
	char shutdown_reason[64];
	enum stop_failure failure;
	uint64_t signals_sent;	   /* a bit for each signal vgpuvm sent QEMU */
	int exit_how, exit_status; /* how QEMU ended (CLD_*, status or signal), valid in STOP_PHASE_EXITED */
};

/* Sets up the machine for a QEMU started at now, whose start may take start_timeout seconds. */
void stop_init(struct stop *s, const struct profile_shutdown *shutdown, unsigned start_timeout, pid_t pid,
	       uint64_t now);

/*
 * Takes one event at time now (monotonic usec): changes the state, and fills ret (emptied first) with what to do.
 * The next deadline is s->deadline afterwards.
 */
void stop_feed(struct stop *s, const struct stop_event *e, uint64_t now, struct stop_actions *ret);

/*
 * How the VM ended, as `vgpuvm run` reports it (vgpuvm(1), EXIT STATUS): 0 for a stop asked for or a guest that
 * powered off, QEMU's own status, 128+N for a signal vgpuvm did not send; -EPROTO when QEMU never got to run (no
 * QMP, or not running by the start deadline), which cli/ turns into its exit code. Meaningful in STOP_PHASE_EXITED.
 */
int stop_exit_code(const struct stop *s);

/* The name of a row of the step table ("agent", "powerdown", "quit", "term", "kill"), NULL past its end or for -1. */
const char *stop_step_name(int step);

/* "starting", "running", "stopping", "exited": the status object's state. */
const char *stop_phase_to_string(enum stop_phase p);
