/* SPDX-License-Identifier: MIT */
/*
 * Unit test of spawning when the kernel refuses pidfd_open (a seccomp filter stands in for an old kernel): QEMU has
 * exec'd by then, and the supervisor, which cannot watch it, must stop it rather than wait in waitpid() for it to end
 * by itself (as it once did). A program that would run for a minute stands in for QEMU.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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
#include <seccomp.h>

#include "supervisor/launch/spawn.h"
#include "util/time-util.h"

/* In a child, with pidfd_open refused: returns 0 when spawn_qemu() failed quickly and said why, else a step number. */
static int refused_child(void)
{
	char *argv[] = { (char *)"sleep", (char *)"60", NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
	struct spawned sp;
	char *error = NULL;
	scmp_filter_ctx ctx;
	uint64_t t0;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 2;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(pidfd_open), 0) < 0 || seccomp_load(ctx) < 0)
		return 3;
	seccomp_release(ctx);
	t0 = now_usec();
	r = spawn_qemu(&(struct spawn_opts){ .argv = argv, .envp = envp, .qmp_fd = sv[1], .stdio_fd = -1 }, &sp,
		       &error);
	if (r != -ENOSYS)
		return 4;
	if (!error || !strstr(error, "pidfd_open"))
		return 5;
	/* Well under the minute the stand-in would have run. */
	if (now_usec() - t0 > 10 * USEC_PER_SEC)
		return 6;
	/* And it is gone, reaped: no child is left. */
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		return 7;
	return 0;
}

static void test_pidfd_open_refused(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A spawn that blocks in waitpid() is what this test catches: the alarm ends it. */
		alarm(30);
		_exit(refused_child());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the child was killed by signal %d (SIGALRM: spawn_qemu() blocked)", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the child failed at step %d", WEXITSTATUS(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pidfd_open_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
