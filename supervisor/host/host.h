/* SPDX-License-Identifier: MIT */
/*
 * The roots that `types`, `doctor` and `run` (for /dev/vfio and /dev/dri) read the host through: /proc and /dev,
 * replaced in tests by fake trees
 * ($VGPUVM_PROC_ROOT, $VGPUVM_DEV_ROOT) as $VGPUVM_SYSFS_ROOT replaces /sys (see mdev_sysfs_root()).
 */
#pragma once

#include <stdbool.h>

/* $VGPUVM_PROC_ROOT, else "/proc". */
const char *host_proc_root(void);

/* $VGPUVM_DEV_ROOT, else "/dev". */
const char *host_dev_root(void);

/* ROOT/REL as a new string, or NULL without memory. REL has no leading slash. */
char *host_path(const char *root, const char *rel);

/* Whether ROOT/REL exists. */
bool host_exists(const char *root, const char *rel);

/* Whether the process PID is alive, judged by PROC_ROOT/PID existing (a fake proc tree lists only live pids). */
bool host_pid_alive(const char *proc_root, long pid);

/* The first render node under DEV_ROOT/dri, as "dri/renderD128", or NULL. */
char *host_render_node(const char *dev_root);
