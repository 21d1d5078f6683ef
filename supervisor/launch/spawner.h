/* SPDX-License-Identifier: MIT */
/*
 * The spawner: a small process `run` forks before its own seccomp filter loads, which forks QEMU and its helpers for
 * it (with their change of identity, limits, NO_NEW_PRIVS and no-spawn filter), so that the supervisor itself never
 * needs fork, exec or a change of ids again and stays filtered through every restart. Each child is forked with
 * CLONE_PARENT: it is the supervisor's child, reaped through the pidfd the spawner hands back. See docs/security.md.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct spawn_opts;
struct spawn_helper_opts;
struct spawn_child;

/*
 * Forks the spawner. Returns 0 with its pid and the supervisor's end of its socket (SOCK_SEQPACKET, close-on-exec),
 * or a negative errno. The spawner ends when the socket closes, or with SIGKILL when the supervisor dies. It keeps
 * the capabilities spawning needs and extra_caps (1 << CAP_*: those of a helper that stays root), no others.
 */
int spawner_start(uint64_t extra_caps, pid_t *ret_pid, int *ret_sock);

/* Closes the socket and reaps the spawner. */
void spawner_stop(pid_t pid, int sock);

/*
 * Asks the spawner on sock to fork QEMU or a helper as spawn_fork_qemu()/spawn_fork_helper() do, with this process
 * as its parent; *ret is filled as they fill it. Returns 0 or a negative errno.
 */
int spawner_qemu(int sock, const struct spawn_opts *o, struct spawn_child *ret);
int spawner_helper(int sock, const struct spawn_helper_opts *o, struct spawn_child *ret);
