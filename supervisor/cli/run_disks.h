/* SPDX-License-Identifier: MIT */
/* `run`'s first step for disks with a "size": each that does not exist is made, before QEMU starts. */
#pragma once

struct profile;

/* Makes each disk of p that has a "size" and does not exist (host/disk_make.h), saying so. Returns 0 or an exit code.
 */
int run_make_disks(const struct profile *p);
