/* SPDX-License-Identifier: MIT */
/* The commands that only read a profile: `argv` and `check`, and the profile loading every command shares. */
#pragma once

#include <stdbool.h>

struct profile;
struct qemu_probe_as;

/* Finds and loads a profile for a command, logging any problem once. Returns 0 or a sysexits code (64, 65, 66, 70). */
int cli_load_profile(const char *name, char *const *sets, struct profile **ret);

/*
 * Parses "PROFILE [--set K=V]... [--uuid U]" and loads the profile. Returns 0, -1 when --help was printed (exit 0),
 * or a sysexits code after logging the problem.
 */
int cli_profile_from_args(int argc, char **argv, const char *usage, bool takes_uuid, struct profile **ret,
			  bool *ret_done);

/*
 * A profile that adopts an mdev by UUID without naming its type gets the type of that mdev when it exists now, and,
 * with check, the checks that need the type (exit 65 when one fails). Returns 0 or a sysexits code after logging.
 */
int cli_adopted_type(struct profile *p, bool check);

/* How long QEMU may take to say its version. */
#define QEMU_PROBE_TIMEOUT (10 * USEC_PER_SEC)

/*
 * QEMU's version, asked as AS (NULL: as the caller), when the command line depends on it
 * (profile_argv_wants_qemu_version()); else, or when QEMU cannot say, 0 (logged).
 */
unsigned cli_qemu_version(const struct profile *p, const struct qemu_probe_as *as);

int cmd_argv(int argc, char **argv);
int cmd_check(int argc, char **argv);
