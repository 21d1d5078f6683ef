/* SPDX-License-Identifier: MIT */
/*
 * The spawner: its requests as bytes (what encodes decodes to the same request; every cut or changed count is
 * refused), and the process itself, asked from this test as the supervisor asks it: a helper it forks is this
 * process's child (CLONE_PARENT), says its parent's pid, and is reaped here; a failed exec comes back with its step;
 * garbage gets an error and the spawner goes on; it ends when its socket closes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/launch/helper.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/spawner.h"
#include "supervisor/launch/spawner_msg.h"
#include "util/time-util.h"

static char *qemu_argv[] = { (char *)"qemu-system-x86_64", (char *)"-name", (char *)"vm", NULL };
static char *env[] = { (char *)"PATH=/usr/bin:/bin", (char *)"HOME=/", NULL };
static gid_t groups[] = { 64000, 27 };
static const struct identity id = { .change = true, .uid = 64000, .gid = 64000, .groups = groups, .n_groups = 2 };
static const int files[] = { 40, 41, 42 };

static const struct spawn_opts qemu_opts = { .path = "/usr/bin/qemu-system-x86_64",
					     .argv = qemu_argv,
					     .envp = env,
					     .qmp_fd = 30,
					     .stdio_fd = 31,
					     .memlock = 1ULL << 31,
					     .id = &id,
					     .no_spawn = true,
					     .files = files,
					     .n_files = 3 };

static void test_qemu_round_trip(void **state)
{
	static struct spawner_req req;
	void *buf = NULL;
	int fds[SPAWNER_FDS_MAX];
	size_t len, n_fds;

	(void)state;
	assert_int_equal(spawner_encode_qemu(&qemu_opts, &buf, &len, fds, &n_fds), 0);
	assert_int_equal(n_fds, 5);
	assert_int_equal(fds[0], 30);
	assert_int_equal(fds[1], 31);
	assert_int_equal(fds[4], 42);
	assert_int_equal(spawner_decode(buf, len, n_fds, &req), 0);
	assert_int_equal(req.kind, SPAWNER_QEMU);
	assert_true(req.no_spawn && req.has_id && req.has_stdio && req.id.change);
	assert_int_equal(req.memlock, 1ULL << 31);
	assert_int_equal(req.id.uid, 64000);
	assert_int_equal(req.id.n_groups, 2);
	assert_int_equal(req.id.groups[1], 27);
	assert_string_equal(req.path, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(req.argv[2], "vm");
	assert_null(req.argv[3]);
	assert_string_equal(req.envp[1], "HOME=/");
	assert_null(req.envp[2]);
	/* The fds the request says it has, and no other number. */
	assert_int_equal(spawner_decode(buf, len, 4, &req), -EINVAL);
	assert_int_equal(spawner_decode(buf, len, 6, &req), -EINVAL);
	free(buf);
}

/* Every message cut short, and every one with a byte too many, is refused. */
static void test_cut_and_padded(void **state)
{
	static struct spawner_req req;
	uint8_t *buf = NULL, *longer;
	int fds[SPAWNER_FDS_MAX];
	size_t len, n_fds;

	(void)state;
	assert_int_equal(spawner_encode_qemu(&qemu_opts, (void **)&buf, &len, fds, &n_fds), 0);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(spawner_decode(buf, l, n_fds, &req), -EINVAL);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(spawner_decode(longer, len + 1, n_fds, &req), -EINVAL);
	/* The last string's NUL taken away: it would run past the message. */
	buf[len - 1] = 'x';
	assert_int_equal(spawner_decode(buf, len, n_fds, &req), -EINVAL);
	free(longer);
	free(buf);
}

/* A change of identity to uid 0, a helper with QEMU's limit or too many fds: none is what the supervisor sends. */
static void test_refused_meanings(void **state)
{
	static struct spawner_req req;
	struct identity root = id;
	struct spawn_opts o = qemu_opts;
	int hfds[SPAWNER_HELPER_FDS_MAX + 1] = {}, fds[SPAWNER_FDS_MAX];
	struct spawn_helper_opts h = {
		.path = "/usr/bin/swtpm", .argv = qemu_argv, .envp = env, .fds = hfds, .n_fds = 2
	};
	void *buf = NULL;
	size_t len, n_fds;

	(void)state;
	root.uid = 0;
	o.id = &root;
	assert_int_equal(spawner_encode_qemu(&o, &buf, &len, fds, &n_fds), 0);
	assert_int_equal(spawner_decode(buf, len, n_fds, &req), -EINVAL);
	free(buf);

	assert_int_equal(spawner_encode_helper(&h, &buf, &len, fds, &n_fds), 0);
	assert_int_equal(spawner_decode(buf, len, n_fds, &req), 0);
	assert_int_equal(req.kind, SPAWNER_HELPER);
	assert_false(req.has_id);
	/* A helper's request with a memlock (the last 8 bytes of the head) is not one. */
	((uint8_t *)buf)[40] = 1;
	assert_int_equal(spawner_decode(buf, len, n_fds, &req), -EINVAL);
	free(buf);

	h.n_fds = SPAWNER_HELPER_FDS_MAX + 1;
	assert_int_equal(spawner_encode_helper(&h, &buf, &len, fds, &n_fds), -E2BIG);
}

static pid_t spawner_pid;
static int spawner_sock = -1;

static int start(void **state)
{
	(void)state;
	if (spawner_start(0, &spawner_pid, &spawner_sock) < 0)
		return -1;
	spawn_set_spawner(spawner_sock);
	return 0;
}

static int stop(void **state)
{
	(void)state;
	spawn_set_spawner(-1);
	spawner_stop(spawner_pid, spawner_sock);
	return 0;
}

/* A helper the spawner forks says its parent is this process, and is reaped here with its exit status. */
static void test_child_is_ours(void **state)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)"echo ppid=$PPID; exit 7", NULL };
	struct spawn_helper_opts o = { .path = "/bin/sh", .argv = argv, .envp = env };
	char *out = NULL, *error = NULL, want[64];
	int r;

	(void)state;
	r = helper_run("sh", &o, deadline_after(10 * USEC_PER_SEC), &out, &error);
	assert_int_equal(r, 7);
	assert_non_null(out);
	snprintf(want, sizeof(want), "sh: ppid=%ld", (long)getpid());
	assert_non_null(strstr(out, want));
	free(out);
	free(error);
}

/* A binary that is not there: the exec's errno and its step come back through the spawner as without it. */
static void test_exec_fails(void **state)
{
	char *argv[] = { (char *)"none", NULL };
	struct spawn_helper_opts o = { .path = "/nonexistent/vgpuvm-spawner-test", .argv = argv, .envp = env };
	char *error = NULL;

	(void)state;
	assert_int_equal(helper_run("none", &o, deadline_after(10 * USEC_PER_SEC), NULL, &error), -ENOENT);
	assert_non_null(error);
	assert_non_null(strstr(error, "cannot execute none"));
	free(error);
}

/* Bytes that are no request get an error, with any fd that came closed; the spawner serves the next request. */
static void test_garbage_then_more(void **state)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {};
	struct spawner_reply rep;
	char junk[100], c;
	struct iovec iov = { .iov_base = junk, .iov_len = sizeof(junk) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int sv[2];

	(void)state;
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[0], sizeof(int));
	assert_int_equal(sendmsg(spawner_sock, &msg, 0), (ssize_t)sizeof(junk));
	close(sv[0]);
	assert_int_equal(recv(spawner_sock, &rep, sizeof(rep), 0), (ssize_t)sizeof(rep));
	assert_int_equal(rep.error, -EINVAL);
	/* The fd that came with the garbage is closed in the spawner too: its peer sees the end. */
	assert_int_equal(read(sv[1], &c, 1), 0);
	close(sv[1]);
	test_child_is_ours(state);
}

/*
 * The spawner's filter stays with what it starts: PTRACE_TRACEME, which any process may ask, fails with EPERM in a
 * child the spawner forked, and works in one forked here, so that the check can tell them apart.
 */
static void test_filter_inherited(void **state)
{
	char *argv[] = { (char *)"python3", (char *)"-c",
			 (char *)"import ctypes; l = ctypes.CDLL(None, use_errno=True); r = l.ptrace(0, 0, 0, 0); "
				 "print('ptrace=%d errno=%d' % (r, ctypes.get_errno()))",
			 NULL };
	struct spawn_helper_opts o = { .path = "/usr/bin/python3", .argv = argv, .envp = env };
	char *out = NULL;

	(void)state;
	if (access("/usr/bin/python3", X_OK) < 0)
		skip();
	assert_int_equal(helper_run("py", &o, deadline_after(20 * USEC_PER_SEC), &out, NULL), 0);
	assert_non_null(out);
	assert_non_null(strstr(out, "ptrace=-1 errno=1"));
	free(out);
	out = NULL;
	spawn_set_spawner(-1);
	assert_int_equal(helper_run("py", &o, deadline_after(20 * USEC_PER_SEC), &out, NULL), 0);
	spawn_set_spawner(spawner_sock);
	assert_non_null(out);
	assert_non_null(strstr(out, "ptrace=0 errno=0"));
	free(out);
}

/* The spawner ends when its socket closes: reaped, with status 0. */
static void test_ends_with_socket(void **state)
{
	pid_t pid;
	int sock, status;

	(void)state;
	assert_int_equal(spawner_start(0, &pid, &sock), 0);
	close(sock);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_round_trip),
		cmocka_unit_test(test_cut_and_padded),
		cmocka_unit_test(test_refused_meanings),
		cmocka_unit_test_setup_teardown(test_child_is_ours, start, stop),
		cmocka_unit_test_setup_teardown(test_exec_fails, start, stop),
		cmocka_unit_test_setup_teardown(test_garbage_then_more, start, stop),
		cmocka_unit_test_setup_teardown(test_filter_inherited, start, stop),
		cmocka_unit_test(test_ends_with_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
