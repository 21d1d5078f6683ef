/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profiles/profile_argv.h"
#include "supervisor/host/qemu_probe.h"
#include "util/macro.h"
#include "util/time-util.h"

#define OUTPUT_MAX (1024 * 1024)

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int qemu_probe_find(const char *name, char **ret_path)
{
	_cleanup_free_ char *copy = NULL;
	const char *path = getenv("PATH");
	char *save = NULL;

	if (strchr(name, '/')) {
		if (!is_executable(name))
			return -ENOENT;
		*ret_path = strdup(name);
		return *ret_path ? 0 : -ENOMEM;
	}
	if (!(copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin")))
		return -ENOMEM;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s/%s", dir, name) < 0)
			return -ENOMEM;
		if (is_executable(p)) {
			*ret_path = steal_pointer(&p);
			return 0;
		}
	}
	return -ENOENT;
}

static int probe(const char *path, const char *const *args, const struct qemu_probe_as *as, uint64_t deadline,
		 char **ret_output)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_close_ int rfd = -1;
	size_t n_args = 0, len = 0;
	int fds[2], status;
	char **argv;
	pid_t pid;

	while (args[n_args])
		n_args++;
	argv = calloc(n_args + 2, sizeof(char *));
	out = malloc(OUTPUT_MAX + 1);
	if (!argv || !out) {
		free(argv);
		return -ENOMEM;
	}
	argv[0] = (char *)path;
	memcpy(argv + 1, args, n_args * sizeof(char *));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(argv);
		return negative_errno();
	}
	pid = fork();
	if (pid < 0) {
		free(argv);
		close(fds[0]);
		close(fds[1]);
		return negative_errno();
	}
	/* The analyzer counts the output buffer as leaked when the child execs or exits; it goes with the child. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		/* Nothing of the caller's but the three: a supervisor's sockets and locks are not QEMU's to hold. */
		syscall(SYS_close_range, 3U, ~0U, 0U);
		/* Another uid drops every capability with it; nothing it execs can gain one back. */
		if (as && (setgroups(0, NULL) < 0 || setresgid(as->gid, as->gid, as->gid) < 0 ||
			   setresuid(as->uid, as->uid, as->uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
			_exit(127);
		execv(path, argv);
		_exit(127);
	}
	ANALYZER_IGNORE_END
	free(argv);
	close(fds[1]);
	rfd = fds[0];
	/* Read until EOF (the child and anything it started closed the pipe) or the deadline. */
	for (;;) {
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		char buf[4096];
		ssize_t k;
		int r = poll(&p, 1, deadline_poll_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return r == 0 ? -ETIMEDOUT : -errno;
		}
		k = read(rfd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (len < OUTPUT_MAX) {
			size_t take = (size_t)k < OUTPUT_MAX - len ? (size_t)k : OUTPUT_MAX - len;
			memcpy(out + len, buf, take);
			len += take;
		}
	}
	out[len] = 0;
	/* The pipe can close before the process ends (a child of its own may keep nothing open): wait, but not forever.
	 */
	{
		_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		if (pidfd >= 0 && poll(&p, 1, deadline_poll_ms(deadline)) == 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	*ret_output = steal_pointer(&out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int qemu_probe_run(const char *path, const char *const *args, uint64_t deadline, char **ret_output)
{
	return probe(path, args, NULL, deadline, ret_output);
}

int qemu_probe_version(const char *name, const struct qemu_probe_as *as, uint64_t deadline, unsigned *ret_version)
{
	_cleanup_free_ char *path = NULL, *out = NULL;
	unsigned major, minor, micro = 0;
	const char *v;
	int r;

	if ((r = qemu_probe_find(name, &path)) < 0)
		return r;
	r = probe(path, (const char *[]){ "-version", NULL }, as, deadline, &out);
	if (r < 0)
		return r;
	if (r != 0)
		return -EIO;
	/* "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)" */
	v = strstr(out, "version ");
	if (!v || sscanf(v + 8, "%u.%u.%u", &major, &minor, &micro) < 2 || minor > 99 || micro > 99)
		return -EBADMSG;
	*ret_version = PROFILE_QEMU_VERSION(major, minor, micro);
	return 0;
}
