/* SPDX-License-Identifier: MIT */
/*
 * Seccomp filters: the supervisor's own, for once QEMU runs (only what the loop, the control socket and teardown
 * use), and the one QEMU's child loads before exec.
 */
#pragma once

/*
 * Installs the filter (and NO_NEW_PRIVS) on the calling process. Anything outside it fails with EPERM and a warning
 * on stderr giving the system call's number; nothing is killed, so that teardown still runs and the mdev is still
 * removed.
 */
int confine_supervisor(void);

/*
 * For QEMU, loaded last before exec: no new process (fork, vfork, clone without CLONE_THREAD) may be made, whatever
 * QEMU's own sandbox allows; threads may. Used unless the profile relaxes QEMU's "spawn".
 */
int confine_no_spawn(void);

/*
 * For the spawner (spawner.h), and so for everything it starts: the calls none of them needs are refused with EPERM.
 * The caller has set NO_NEW_PRIVS.
 */
int confine_spawner(void);
