/* SPDX-License-Identifier: MIT */
/* `run`'s borrowings from the host: the mdev it makes or adopts, and the device files lent to QEMU's user per try. */
#pragma once

#include <stdbool.h>

struct sup;

/* The exit code for a failure to make, adopt or find an mdev (a negative errno). */
int run_mdev_exit_code(int r);
/* Lends QEMU's user the vGPU's /dev/vfio/GROUP and the render node, for one try. Returns 0 or an exit code. */
int run_lend(struct sup *s);
/* Gives back what run_lend() lent, in reverse order. Returns false when something could not be given back. */
bool run_give_back(struct sup *s);
/* Makes (or adopts) the mdev. Returns 0 or an exit code; the caller removes what was made. */
int run_make_mdev(struct sup *s, char **error);
/* Removes the mdev this run made, if any. Returns code, or EX_IOERR in place of 0 when the mdev is left behind. */
int run_remove_mdev(struct sup *s, int code);
