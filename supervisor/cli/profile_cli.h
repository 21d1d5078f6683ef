/* SPDX-License-Identifier: MIT */
/* The commands that only read a profile: `argv` and `check`, and the profile loading every command shares. */
#pragma once

#include <stdbool.h>

struct profile;

/* Finds and loads a profile for a command, logging any problem once. Returns 0 or a sysexits code (64, 65, 66, 70). */
int cli_load_profile(const char *name, char *const *sets, struct profile **ret);

/*
 * Parses "PROFILE [--set K=V]... [--uuid U]" and loads the profile. Returns 0, -1 when --help was printed (exit 0),
 * or a sysexits code after logging the problem.
 */
int cli_profile_from_args(int argc, char **argv, const char *usage, bool takes_uuid, struct profile **ret,
			  bool *ret_done);

int cmd_argv(int argc, char **argv);
int cmd_check(int argc, char **argv);
