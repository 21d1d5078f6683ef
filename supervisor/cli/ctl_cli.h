/* SPDX-License-Identifier: MIT */
/* Commands that talk to a running supervisor, and cleanup after a dead one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct qmp_conn;
struct qmp_msg;

/*
 * The version of the JSON that status --json, list --json and the control socket's status command give, in the
 * "format_version" field (vgpuvm-control(7)). Adding a field keeps it; removing or renaming a field, or changing its
 * type or meaning, raises it, so that a script can refuse a format it was not written for.
 */
#define STATUS_FORMAT_VERSION 1

/*
 * Parses --help and --json, the options of list, status, types and doctor, then checks that min_args to max_args
 * arguments follow (wanted says what, for the message). Returns 0 with *ret_json set and optind at the first
 * argument; -1 when --help printed usage (exit 0); EX_USAGE after logging why.
 */
int cli_parse_json_flag(int argc, char **argv, const char *usage, const char *wanted, int min_args, int max_args,
			bool *ret_json, bool *ret_done);

/*
 * The directory of every VM's runtime directory, checked as root's to trust when root asks. Returns 0, or an exit code
 * after saying why.
 */
int cli_base_dir(char **ret);

/*
 * The names of the runtime directories under base, sorted: the VMs that run, and the leftovers of ones that died.
 * Returns a NULL-terminated list (empty when there is no base directory yet) or NULL without memory.
 */
char **cli_vm_names(const char *base);

/* A connection to a VM's supervisor, over its control socket. */
struct ctl {
	int fd;
	struct qmp_conn *conn;
};

/* Connects to NAME's supervisor and negotiates. Returns 0 or an exit code, after saying why (unless quiet). */
int ctl_open(const char *name, bool quiet, struct ctl *ret);

/* Runs one command; *ret gets the reply (timeout in usec, 0 for none). Returns 0, or an exit code after saying why. */
int ctl_execute(struct ctl *c, const char *name, const char *cmd, struct json_object *args, uint64_t timeout,
		struct qmp_msg **ret);

void ctl_close(struct ctl *c);

/*
 * Sends one command to VM name's supervisor and waits for its reply (at most timeout usec, 0 for no limit): a QMP
 * error reply too goes to *ret. Returns 0, or an exit code after saying why.
 */
int ctl_call(const char *name, const char *cmd, struct json_object *args, uint64_t timeout, struct qmp_msg **ret);

int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_screenshot(int argc, char **argv);
int cmd_qmp(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
