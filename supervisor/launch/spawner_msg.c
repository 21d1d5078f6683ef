/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/launch/spawn.h"
#include "supervisor/launch/spawner_msg.h"
#include "util/macro.h"

#define REQ_MAGIC 0x76675271u /* "vgRq" */

enum {
	F_NO_SPAWN = 1u << 0,
	F_HAS_ID = 1u << 1,
	F_ID_CHANGE = 1u << 2,
	F_HAS_STDIO = 1u << 3,
	F_SETUP_READONLY = 1u << 4,
	F_ALL = (1u << 5) - 1,
};

/*
 * Fixed size, then n_groups gids (uint32_t), then path, argv, envp and (with a setup) the setup's path as
 * NUL-terminated strings, strings_len bytes.
 */
struct req_head {
	uint32_t magic;
	uint32_t kind;
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	uint32_t n_groups;
	uint32_t argc;
	uint32_t envc;
	uint32_t n_fds;
	uint32_t strings_len;
	uint64_t memlock;
	uint64_t keep_caps;
	uint32_t setup;
	uint32_t zero; /* no padding: every byte is one the decoder checks */
};

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Appends a string and its NUL, when it fits. */
static int put_string(char *buf, size_t *at, const char *s)
{
	size_t l = strlen(s) + 1;

	if (l > SPAWNER_MSG_MAX - *at)
		return -E2BIG;
	memcpy(buf + *at, s, l);
	*at += l;
	return 0;
}

/* What a helper's request has beyond QEMU's: none of it for QEMU. */
struct helper_extra {
	uint64_t keep_caps;
	enum spawn_setup setup;
	const char *setup_path;
};

static int encode(enum spawner_kind kind, const struct identity *id, uint32_t flags, uint64_t memlock, const char *path,
		  char **argv, char **envp, size_t n_fds, const struct helper_extra *x, void **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	struct req_head h = { .magic = REQ_MAGIC,
			      .kind = kind,
			      .flags = flags,
			      .memlock = memlock,
			      .setup = x ? (uint32_t)x->setup : SPAWN_SETUP_NONE,
			      .keep_caps = x ? x->keep_caps : 0 };
	size_t at, start, argc = strv_len(argv), envc = strv_len(envp);
	int r;

	if (id) {
		h.flags |= F_HAS_ID | (id->change ? F_ID_CHANGE : 0);
		h.uid = (uint32_t)id->uid;
		h.gid = (uint32_t)id->gid;
		h.n_groups = (uint32_t)id->n_groups;
	}
	if (argc == 0 || argc > SPAWNER_ARGS_MAX || envc > SPAWNER_ENV_MAX || h.n_groups > SPAWNER_GROUPS_MAX)
		return -E2BIG;
	h.argc = (uint32_t)argc;
	h.envc = (uint32_t)envc;
	h.n_fds = (uint32_t)n_fds;
	buf = malloc(SPAWNER_MSG_MAX);
	if (!buf)
		return -ENOMEM;
	at = sizeof(h);
	for (size_t i = 0; i < h.n_groups; i++) {
		uint32_t g = (uint32_t)id->groups[i];

		memcpy(buf + at, &g, sizeof(g));
		at += sizeof(g);
	}
	start = at;
	if ((r = put_string(buf, &at, path)) < 0)
		return r;
	for (size_t i = 0; i < argc; i++)
		if ((r = put_string(buf, &at, argv[i])) < 0)
			return r;
	for (size_t i = 0; i < envc; i++)
		if ((r = put_string(buf, &at, envp[i])) < 0)
			return r;
	if (h.setup != SPAWN_SETUP_NONE && (r = put_string(buf, &at, x->setup_path ?: "")) < 0)
		return r;
	h.strings_len = (uint32_t)(at - start);
	memcpy(buf, &h, sizeof(h));
	*ret_buf = steal_pointer(&buf);
	*ret_len = at;
	return 0;
}

int spawner_encode_qemu(const struct spawn_opts *o, void **ret_buf, size_t *ret_len, int *ret_fds, size_t *ret_n_fds)
{
	size_t n = 0;
	int r;

	if (o->n_files > PROFILE_FILES_MAX)
		return -E2BIG;
	r = encode(SPAWNER_QEMU, o->id, (o->no_spawn ? F_NO_SPAWN : 0) | (o->stdio_fd >= 0 ? F_HAS_STDIO : 0),
		   o->memlock, o->path, o->argv, o->envp, 1 + (o->stdio_fd >= 0) + o->n_files, NULL, ret_buf, ret_len);
	if (r < 0)
		return r;
	ret_fds[n++] = o->qmp_fd;
	if (o->stdio_fd >= 0)
		ret_fds[n++] = o->stdio_fd;
	for (size_t i = 0; i < o->n_files; i++)
		ret_fds[n++] = o->files[i];
	*ret_n_fds = n;
	return 0;
}

int spawner_encode_helper(const struct spawn_helper_opts *o, void **ret_buf, size_t *ret_len, int *ret_fds,
			  size_t *ret_n_fds)
{
	int r;

	if (o->n_fds > SPAWNER_HELPER_FDS_MAX)
		return -E2BIG;
	if ((unsigned)o->setup >= SPAWN_SETUP_MAX || (o->setup == SPAWN_SETUP_NONE && o->setup_readonly))
		return -EINVAL;
	r = encode(SPAWNER_HELPER, o->id, (o->no_spawn ? F_NO_SPAWN : 0) | (o->setup_readonly ? F_SETUP_READONLY : 0),
		   0, o->path, o->argv, o->envp, o->n_fds,
		   &(struct helper_extra){ .keep_caps = o->keep_caps, .setup = o->setup, .setup_path = o->setup_path },
		   ret_buf, ret_len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < o->n_fds; i++)
		ret_fds[i] = o->fds[i];
	*ret_n_fds = o->n_fds;
	return 0;
}

/* Takes the next NUL-terminated string of the n bytes at *p, moving *p and *n past it; NULL when none is ended. */
static char *take_string(char **p, size_t *n)
{
	char *s = *p, *end = memchr(s, 0, *n);

	if (!end)
		return NULL;
	*n -= (size_t)(end + 1 - s);
	*p = end + 1;
	return s;
}

int spawner_decode(void *buf, size_t len, size_t n_fds, struct spawner_req *ret)
{
	struct req_head h;
	char *p;
	size_t left;

	if (len < sizeof(h) || len > SPAWNER_MSG_MAX)
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != REQ_MAGIC || h.zero != 0 || (h.kind != SPAWNER_QEMU && h.kind != SPAWNER_HELPER) ||
	    (h.flags & ~F_ALL) || h.n_groups > SPAWNER_GROUPS_MAX || h.argc == 0 || h.argc > SPAWNER_ARGS_MAX ||
	    h.envc > SPAWNER_ENV_MAX || h.n_fds != n_fds)
		return -EINVAL;
	/* The sizes are bounded above, so that this sum cannot wrap. */
	if ((size_t)h.n_groups * sizeof(uint32_t) + h.strings_len != len - sizeof(h))
		return -EINVAL;
	/* Without an identity, nothing of one: each request has one encoding. */
	if (!(h.flags & F_HAS_ID) && (h.flags & F_ID_CHANGE || h.n_groups > 0 || h.uid != 0 || h.gid != 0))
		return -EINVAL;
	if (h.kind == SPAWNER_QEMU) {
		size_t fixed = 1 + !!(h.flags & F_HAS_STDIO);

		if (n_fds < fixed || n_fds - fixed > PROFILE_FILES_MAX)
			return -EINVAL;
		if (h.setup != SPAWN_SETUP_NONE || h.keep_caps != 0 || h.flags & F_SETUP_READONLY)
			return -EINVAL;
	} else if (n_fds > SPAWNER_HELPER_FDS_MAX || h.flags & F_HAS_STDIO || h.memlock != 0 ||
		   h.setup >= SPAWN_SETUP_MAX || (h.setup == SPAWN_SETUP_NONE && h.flags & F_SETUP_READONLY) ||
		   (h.keep_caps >> (CAP_LAST_CAP + 1)) != 0 || (h.keep_caps != 0 && h.flags & F_HAS_ID))
		/* Capabilities are kept only by a helper that stays root, and only those the kernel knows. */
		return -EINVAL;

	*ret = (struct spawner_req){ .kind = h.kind,
				     .no_spawn = h.flags & F_NO_SPAWN,
				     .has_id = h.flags & F_HAS_ID,
				     .has_stdio = h.flags & F_HAS_STDIO,
				     .memlock = h.memlock,
				     .n_fds = n_fds,
				     .keep_caps = h.keep_caps,
				     .setup = (enum spawn_setup)h.setup,
				     .setup_readonly = h.flags & F_SETUP_READONLY };
	ret->id = (struct identity){ .change = h.flags & F_ID_CHANGE,
				     .lock_fd = -1,
				     .uid = (uid_t)h.uid,
				     .gid = (gid_t)h.gid,
				     .groups = ret->groups,
				     .n_groups = h.n_groups };
	/* An id that changes is never uid 0 (identity_resolve() refuses it), nor the (uid_t)-1 that setresuid() takes
	 * for "unchanged". */
	if (ret->id.change && (h.uid == 0 || h.uid == UINT32_MAX || h.gid == UINT32_MAX))
		return -EINVAL;
	p = (char *)buf + sizeof(h);
	for (size_t i = 0; i < h.n_groups; i++) {
		uint32_t g;

		memcpy(&g, p, sizeof(g));
		if (g == UINT32_MAX)
			return -EINVAL;
		ret->groups[i] = (gid_t)g;
		p += sizeof(g);
	}
	left = h.strings_len;
	if (!(ret->path = take_string(&p, &left)) || !ret->path[0])
		return -EINVAL;
	for (size_t i = 0; i < h.argc; i++)
		if (!(ret->argv[i] = take_string(&p, &left)))
			return -EINVAL;
	ret->argv[h.argc] = NULL;
	for (size_t i = 0; i < h.envc; i++)
		if (!(ret->envp[i] = take_string(&p, &left)))
			return -EINVAL;
	ret->envp[h.envc] = NULL;
	if (ret->setup != SPAWN_SETUP_NONE &&
	    (!(ret->setup_path = take_string(&p, &left)) || ret->setup_path[0] != '/'))
		return -EINVAL;
	return left == 0 ? 0 : -EINVAL;
}
