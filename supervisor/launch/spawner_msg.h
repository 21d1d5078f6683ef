/* SPDX-License-Identifier: MIT */
/*
 * The spawner's requests and replies, as bytes: one SOCK_SEQPACKET message each, fds alongside (SCM_RIGHTS). Pure:
 * no I/O, so that the decoder, which is all the spawner reads from the supervisor, is fuzzed on its own.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profiles/profile_argv.h"
#include "supervisor/launch/identity.h"

struct spawn_opts;
struct spawn_helper_opts;

#define SPAWNER_MSG_MAX (128 * 1024)
#define SPAWNER_ARGS_MAX 4096
#define SPAWNER_ENV_MAX 1024
#define SPAWNER_GROUPS_MAX 1024
#define SPAWNER_HELPER_FDS_MAX 8
/* QEMU's: the QMP socket, the console's pty, and its files. */
#define SPAWNER_FDS_MAX (2 + PROFILE_FILES_MAX)

enum spawner_kind {
	SPAWNER_QEMU = 1,
	SPAWNER_HELPER = 2,
	SPAWNER_KIND_MAX,
};

/* A request decoded: its strings point into the bytes it was decoded from. */
struct spawner_req {
	enum spawner_kind kind;
	bool no_spawn;
	bool has_id;
	bool has_stdio; /* QEMU's fds are the QMP socket, then the pty (when has_stdio), then its files */
	uint64_t memlock;
	struct identity id; /* change, uid, gid and groups; the rest is empty */
	gid_t groups[SPAWNER_GROUPS_MAX];
	const char *path;
	char *argv[SPAWNER_ARGS_MAX + 1];
	char *envp[SPAWNER_ENV_MAX + 1];
	size_t n_fds;
	uint64_t keep_caps;	/* a helper that stays root: its capabilities (spawn_helper_opts) */
	enum spawn_setup setup; /* and its own sandbox, with setup_path and setup_readonly */
	const char *setup_path;
	bool setup_readonly;
};

/*
 * Encodes a request for QEMU or for a helper into a malloc'd *ret_buf of *ret_len bytes, with the fds that go with it
 * (in order) in ret_fds (SPAWNER_FDS_MAX of room) and their number in *ret_n_fds. -E2BIG when it does not fit.
 */
int spawner_encode_qemu(const struct spawn_opts *o, void **ret_buf, size_t *ret_len, int *ret_fds, size_t *ret_n_fds);
int spawner_encode_helper(const struct spawn_helper_opts *o, void **ret_buf, size_t *ret_len, int *ret_fds,
			  size_t *ret_n_fds);

/*
 * Decodes the len bytes of one message that came with n_fds fds. Everything is checked against fixed limits: the
 * kind, the flags, the counts (fds as the kind needs them), every string ended within the bytes and nothing left over,
 * so that what decodes encodes back to the same bytes. Returns 0 or -EINVAL (*ret is then unusable).
 */
int spawner_decode(void *buf, size_t len, size_t n_fds, struct spawner_req *ret);

/* The reply: the child's pid, and with it the fds pidfd, status, stderr and, when has_stdout, stdout. */
struct spawner_reply {
	int32_t error; /* 0, or a negative errno (then no fds come) */
	int32_t pid;
	uint32_t has_stdout;
	uint32_t magic;
};

#define SPAWNER_REPLY_MAGIC 0x76675270u /* "vgRp" */
