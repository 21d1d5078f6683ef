/* SPDX-License-Identifier: MIT */
/*
 * Helper processes QEMU needs (swtpm; virtiofsd is one more): one mechanism for all. Each is started before QEMU by
 * spawn_helper(), confined as QEMU is, a child of the supervisor with the parent-death signal; the loop watches its
 * pidfd and its output in the same poll() as QEMU's; it is named in the status and in the crash record; and it is
 * stopped once QEMU has exited. This file keeps their state; it does not log: lines of output go to a callback.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spawn_helper_opts;

#define HELPERS_MAX 10 /* swtpm and a virtiofsd for each of 8 shares, and one spare */
#define HELPER_NAME_MAX 32
#define HELPER_TAIL_LINES 8
#define HELPER_LINE_MAX 1024

struct helper {
	char name[HELPER_NAME_MAX]; /* "swtpm": in the log, the status and the crash record */
	pid_t pid;
	int pidfd;	     /* -1 once reaped */
	int out_fd;	     /* its stdout and stderr, non-blocking; -1 at EOF */
	int status_fd;	     /* its exec-status pipe until helpers_confirm(), then -1 */
	uint64_t start_time; /* /proc/PID/stat's starttime: with the pid, what tells it apart from a reused pid */
	bool root;	     /* it stays root, with only the capabilities it keeps (virtiofsd); else QEMU's uid */
	bool exited;
	siginfo_t exit_info; /* from waitid(), once exited */
	char buf[HELPER_LINE_MAX];
	size_t len;
	char *tail[HELPER_TAIL_LINES]; /* its last lines, for the message should it die */
	size_t tail_next;
};

struct helpers {
	struct helper h[HELPERS_MAX];
	size_t n;
};

/* Called with each whole line a helper writes. */
typedef void (*helper_line_fn)(void *userdata, const struct helper *h, const char *line);

/*
 * Starts a helper named name and adds it to hs, without waiting for its exec (spawn_helper_begin()): QEMU is started
 * meanwhile, and helpers_confirm() then says whether each helper got to run. Returns 0 or a negative errno.
 */
int helper_start(struct helpers *hs, const char *name, const struct spawn_helper_opts *o);

/*
 * Waits until every helper started has exec'd. Returns 0, or the first failure's negative errno with *ret_error
 * naming the helper and the step that failed; that helper is reaped (exited, with status 127).
 */
int helpers_confirm(struct helpers *hs, char **ret_error);

/* Reads what the helper wrote, until it would block or ends; each whole line goes to fn (which may be NULL). */
void helper_read(struct helper *h, helper_line_fn fn, void *userdata);

/* Reaps the helper if it has exited: 1 when it has (h->exit_info is set), 0 when it runs, or a negative errno. */
int helper_reap(struct helper *h);

/* How it ended, "exited with status 1" or "was killed by SIGKILL", into buf. */
void helper_describe_exit(const struct helper *h, char *buf, size_t size);

/* Its last lines joined by newlines, each as "  NAME: LINE"; NULL when it said nothing. */
char *helper_tail(const struct helper *h);

/*
 * Stops every helper still running, once QEMU is gone: SIGTERM, then SIGKILL at the deadline; their last output goes
 * to fn; each is reaped. Returns how many had to be killed with SIGKILL.
 */
int helpers_stop(struct helpers *hs, uint64_t deadline, helper_line_fn fn, void *userdata);

/* Frees what hs holds, killing and reaping any helper still there. hs is empty afterwards. */
void helpers_clear(struct helpers *hs);

/*
 * Runs a helper that does one job (swtpm_setup) to its end, or kills it at the deadline (-ETIMEDOUT). Returns its exit
 * status (128+N for signal N) or a negative errno with *ret_error; *ret_output gets its last lines (helper_tail()).
 */
int helper_run(const char *name, const struct spawn_helper_opts *o, uint64_t deadline, char **ret_output,
	       char **ret_error);

/* /proc/PID/stat's starttime (clock ticks since boot), or 0 when the process is gone (or a zombie). */
uint64_t helper_start_time(pid_t pid);

/*
 * Kills the process a crash record names as a helper, if it is still that process (the same pid and start time):
 * what a supervisor that died left running. Returns 1 when it killed it, 0 when there was nothing to kill.
 */
int helper_kill_leftover(pid_t pid, uint64_t start_time);
