/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_MEMLOCK for QEMU. GVT-g pins all guest memory; with too low a limit the guest's display is scrambled rather
 * than refused, so vgpuvm sets the limit libvirt does: guest RAM + 1 GiB, soft and hard, in the child before exec.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MEMLOCK_UNLIMITED UINT64_MAX

/* Guest RAM + 1 GiB. */
uint64_t memlock_for_guest(uint64_t guest_ram);

/* Whether the child will be able to set the limit: the hard limit covers it, or CAP_SYS_RESOURCE can raise it. */
int memlock_check(uint64_t need, char **ret_error);

/* Reads "Max locked memory" from /proc/PID/limits; MEMLOCK_UNLIMITED for "unlimited". */
int memlock_read(pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard);

/* "2 GiB", "1536 MiB", "64 KiB", or "unlimited". */
void memlock_format(uint64_t bytes, char *buf, size_t size);
