/* SPDX-License-Identifier: MIT */
/*
 * Every host path vgpuvm reads or changes goes through one of these roots, in this one place: /sys, /proc, /dev and
 * the user databases of /etc, each replaced in tests by a fake tree or file ($VGPUVM_SYSFS_ROOT, $VGPUVM_PROC_ROOT,
 * $VGPUVM_DEV_ROOT, $VGPUVM_PASSWD_FILE, $VGPUVM_GROUP_FILE). Each variable is read once, the first time it is asked
 * for; as root, main() has checked what each names can be trusted (host/trust.c) before any is used.
 */
#pragma once

#include <stdbool.h>

/* $VGPUVM_SYSFS_ROOT, else "/sys". */
const char *host_sysfs_root(void);

/* $VGPUVM_PROC_ROOT, else "/proc". */
const char *host_proc_root(void);

/* $VGPUVM_DEV_ROOT, else "/dev". */
const char *host_dev_root(void);

/* $VGPUVM_PASSWD_FILE, else "/etc/passwd"; $VGPUVM_GROUP_FILE, else "/etc/group". */
const char *host_passwd_file(void);
const char *host_group_file(void);

/* ROOT/REL as a new string, or NULL without memory. REL has no leading slash. */
char *host_path(const char *root, const char *rel);

/* Whether ROOT/REL exists. */
bool host_exists(const char *root, const char *rel);

/* Whether the process PID is alive, judged by PROC_ROOT/PID existing (a fake proc tree lists only live pids). */
bool host_pid_alive(const char *proc_root, long pid);

/* The first render node under DEV_ROOT/dri, as "dri/renderD128", or NULL. */
char *host_render_node(const char *dev_root);

/*
 * The directories of QEMU's firmware descriptors (docs/interop/firmware.json), in rising priority: a descriptor in a
 * later one replaces the same-named one of an earlier one. $VGPUVM_FIRMWARE_DIR, when set, is the only one. The list
 * is static and NULL-terminated.
 */
const char *const *host_firmware_dirs(void);
