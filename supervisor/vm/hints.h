/* SPDX-License-Identifier: MIT */
/* What QEMU's known failure messages mean for a vGPU user, and what to do. */
#pragma once

/* The hint for a line QEMU printed, or NULL. A hint about Mesa's drivers names only drivers this host has. */
const char *hint_for(const char *line);

/* The hint for QEMU killed by signal sig, or NULL. */
const char *hint_for_signal(int sig);
