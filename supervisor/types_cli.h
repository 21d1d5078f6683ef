/* SPDX-License-Identifier: MIT */
/* `vgpuvm types`: every mdev parent of the host, its types, and the mdevs that exist now. */
#pragma once

#include <stdbool.h>

int cmd_types(int argc, char **argv);

/*
 * Parses the options `types` and `doctor` share, --help and --json, for command cmd. Returns 0 with *ret_json set
 * and optind at the first argument; -1 when --help printed usage (exit 0); EX_USAGE after logging why.
 */
int cli_parse_json_flag(int argc, char **argv, const char *cmd, const char *usage, bool *ret_json);
