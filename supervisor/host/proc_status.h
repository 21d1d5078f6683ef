/* SPDX-License-Identifier: MIT */
/* What /proc/PID/status says of a process, for `vgpuvm metrics`. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/*
 * The resident set of PID in bytes, from PROC_ROOT/PID/status's "VmRSS:" line (kB). -ENOENT when the process is gone
 * or the line is missing (a kernel thread, a zombie), -EBADMSG when the line is not a number of kB.
 */
int proc_status_rss(const char *proc_root, pid_t pid, uint64_t *ret);
