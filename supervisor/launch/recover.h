/* SPDX-License-Identifier: MIT */
/* Undoing what a supervisor that died (SIGKILL, a crash) left: its mdev and its runtime files. */
#pragma once

#include <sys/types.h>

/*
 * With the VM's runtime lock held: reads the crash record in dir, removes the mdev the dead supervisor made (an
 * adopted one is left), and deletes the record. 0 when done or when there was nothing to do; -EBUSY when a QEMU that
 * holds the mdev still runs (its pid in *ret_qemu_pid); other errors with *ret_error. *ret_done says what it did.
 */
int recover(const char *dir, pid_t *ret_qemu_pid, char **ret_done, char **ret_error);
