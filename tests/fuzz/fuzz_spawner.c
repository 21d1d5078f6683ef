/* SPDX-License-Identifier: MIT */
/*
 * The spawner's requests (spawner_decode()), all the spawner reads from the supervisor: a root process that forks, so
 * nothing it accepts may be loose. The first byte is the number of fds that came with the message, the rest the
 * message. What decodes must encode back to the same bytes, and hold to the limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/launch/spawn.h"
#include "supervisor/launch/spawner_msg.h"
#include "tests/fuzz/fuzz.h"

static struct spawner_req req;

static size_t count(char **v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[SPAWNER_FDS_MAX], out_fds[SPAWNER_FDS_MAX];
	void *msg, *again = NULL;
	size_t n_fds, len, again_len, again_n;
	int r;

	if (size < 1)
		return 0;
	n_fds = data[0];
	len = size - 1;
	/* A copy of its own size, so that a read past the message is caught. */
	msg = malloc(len ? len : 1);
	fuzz_assert(msg);
	memcpy(msg, data + 1, len);
	r = spawner_decode(msg, len, n_fds, &req);
	if (r < 0) {
		fuzz_assert(r == -EINVAL);
		free(msg);
		return 0;
	}
	fuzz_assert(req.path[0] && count(req.argv) >= 1 && count(req.argv) <= SPAWNER_ARGS_MAX);
	fuzz_assert(count(req.envp) <= SPAWNER_ENV_MAX && req.id.n_groups <= SPAWNER_GROUPS_MAX);
	fuzz_assert(!req.id.change || (req.has_id && req.id.uid != 0));
	for (size_t i = 0; i < n_fds; i++)
		fds[i] = 100 + (int)i;
	if (req.kind == SPAWNER_QEMU) {
		size_t first = 1 + req.has_stdio;
		struct spawn_opts o = { .path = req.path,
					.argv = req.argv,
					.envp = req.envp,
					.qmp_fd = fds[0],
					.stdio_fd = req.has_stdio ? fds[1] : -1,
					.memlock = req.memlock,
					.id = req.has_id ? &req.id : NULL,
					.no_spawn = req.no_spawn,
					.files = fds + first,
					.n_files = n_fds - first };

		fuzz_assert(n_fds >= first && n_fds - first <= PROFILE_FILES_MAX);
		r = spawner_encode_qemu(&o, &again, &again_len, out_fds, &again_n);
	} else {
		struct spawn_helper_opts o = { .path = req.path,
					       .argv = req.argv,
					       .envp = req.envp,
					       .fds = fds,
					       .n_fds = n_fds,
					       .id = req.has_id ? &req.id : NULL,
					       .no_spawn = req.no_spawn };

		fuzz_assert(req.kind == SPAWNER_HELPER && n_fds <= SPAWNER_HELPER_FDS_MAX && !req.has_stdio);
		r = spawner_encode_helper(&o, &again, &again_len, out_fds, &again_n);
	}
	fuzz_assert(r == 0 && again_n == n_fds && again_len == len && memcmp(again, msg, len) == 0);
	for (size_t i = 0; i < n_fds; i++)
		fuzz_assert(out_fds[i] == fds[i]);
	free(again);
	free(msg);
	return 0;
}
