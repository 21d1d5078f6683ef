/* SPDX-License-Identifier: MIT */
/* What /proc/PID/status says of a process, for `vgpuvm metrics`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The resident set of PID in bytes, from PROC_ROOT/PID/status's "VmRSS:" line (kB). -ENOENT when the process is gone
 * or the line is missing (a kernel thread, a zombie), -EBADMSG when the line is not a number of kB.
 */
int proc_status_rss(const char *proc_root, pid_t pid, uint64_t *ret);

/*
 * Whether PID has begun to exit: a zombie, or the kernel's PF_EXITING in PROC_ROOT/PID/stat's flags. A process
 * killed closes its fds before its pidfd says it has ended; a helper can see its socket close in between.
 */
bool proc_dying(const char *proc_root, pid_t pid);
