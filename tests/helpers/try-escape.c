/* SPDX-License-Identifier: MIT */
/*
 * Started by vgpuvm in place of QEMU (the profile's "qemu"), it tries what QEMU must not be able to do, writes one
 * line per try to $TRY_ESCAPE_REPORT, then execs the real QEMU ($TRY_ESCAPE_QEMU, default qemu-system-x86_64) with
 * its own arguments, so that to vgpuvm it is QEMU. Each line is "NAME: refused (why)" or "NAME: ALLOWED"; then
 * "fds: 0 1 2 3", "env: NAME ...", and the /proc/self/status lines the confinement shows in.
 *
 * What a hijacked QEMU would try against the host, each from a colon-separated list in the environment:
 *   TRY_ESCAPE_WRITE    open each file for writing (root's files: /etc/shadow, a victim the test made)
 *   TRY_ESCAPE_READ     open each file for reading
 *   TRY_ESCAPE_CHMOD    chmod each file 0666 (what it was lent: the owner may, the give-back must undo it)
 *   TRY_ESCAPE_KILL     send SIGTERM to each pid (the supervisor, a root process); "ppid" is the supervisor
 *
 * With $TRY_ESCAPE_TIOCSTI set to a command, it also tries to push that command into every terminal it can reach (each
 * of fds 0-9 that is one, and /dev/tty) with TIOCSTI, for whatever reads the terminal next (root's shell, once vgpuvm
 * has exited) to run: "TIOCSTI on fd N: ..." and "TIOCSTI on /dev/tty: ...". It needs no capability to do so on its
 * controlling terminal; it has one only if it shares the user's session.
 */
#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static FILE *out;

static void report(const char *name, int r)
{
	if (r < 0)
		fprintf(out, "%s: refused (%s)\n", name, strerror(errno));
	else
		fprintf(out, "%s: ALLOWED\n", name);
}

static int raise_limit(int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return 0; /* nothing above unlimited: count as allowed, the test will see it */
	rl.rlim_max += 1 << 20;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(resource, &rl);
}

static int spawn(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid < 0 ? -1 : 0;
}

/* Runs try on each element of the colon-separated list in env, reporting "WHAT ELEMENT". */
static void each(const char *env, const char *what, int (*try)(const char *))
{
	const char *v = getenv(env);
	char *copy, *save = NULL, name[512];

	if (!v || !(copy = strdup(v)))
		return;
	for (char *e = strtok_r(copy, ":", &save); e; e = strtok_r(NULL, ":", &save)) {
		snprintf(name, sizeof(name), "%s %s", what, e);
		report(name, try(e));
	}
	free(copy);
}

static int try_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd >= 0 && write(fd, "pwned\n", 6) < 0) {
		/* the open alone counts */
	}
	return fd < 0 ? -1 : close(fd);
}

static int try_read(const char *path)
{
	int fd = open(path, O_RDONLY);

	return fd < 0 ? -1 : close(fd);
}

static int try_chmod(const char *path)
{
	return chmod(path, 0666);
}

static int try_kill(const char *pid)
{
	return kill(strcmp(pid, "ppid") == 0 ? getppid() : (pid_t)atol(pid), SIGTERM);
}

static int regain_caps(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_ADMIN);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
		if (errno == 0)
			errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Pushes text into the terminal's input. Blank lines go first: whatever reads the terminal now (QEMU's serial, when it
 * has the user's terminal) takes a few bytes, and the command must still be whole for the shell that reads it later.
 */
static int push_input(int fd, const char *text)
{
	for (int i = 0; i < 32; i++)
		if (ioctl(fd, TIOCSTI, "\n") < 0)
			return -1;
	for (const char *c = text; *c; c++)
		if (ioctl(fd, TIOCSTI, c) < 0)
			return -1;
	return ioctl(fd, TIOCSTI, "\n");
}

static void try_tiocsti(const char *text)
{
	char name[64];
	int fd;

	for (fd = 0; fd < 10; fd++) {
		if (fd == fileno(out) || !isatty(fd))
			continue;
		snprintf(name, sizeof(name), "TIOCSTI on fd %d", fd);
		report(name, push_input(fd, text));
	}
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		report("TIOCSTI on /dev/tty", -1);
		return;
	}
	report("TIOCSTI on /dev/tty", push_input(fd, text));
	close(fd);
}

int main(int argc, char **argv)
{
	const char *path = getenv("TRY_ESCAPE_REPORT"), *qemu = getenv("TRY_ESCAPE_QEMU"),
		   *sti = getenv("TRY_ESCAPE_TIOCSTI");
	char line[256];
	struct dirent *de;
	FILE *st;
	DIR *d;

	(void)argc;
	if (!path || !(out = fopen(path, "we"))) {
		fprintf(stderr, "try-escape: set TRY_ESCAPE_REPORT to a writable file\n");
		return 2;
	}
	/* The fds first, before this program opens any of its own but the report. */
	fprintf(out, "fds:");
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d) && atoi(de->d_name) != fileno(out))
			fprintf(out, " %s", de->d_name);
	if (d)
		closedir(d);
	fprintf(out, "\nenv:");
	for (char **e = environ; *e; e++)
		fprintf(out, " %.*s", (int)strcspn(*e, "="), *e);
	fprintf(out, "\n");

	report("setuid(0)", setuid(0));
	report("setgid(0)", setgid(0));
	report("setgroups", setgroups(0, NULL));
	report("raise RLIMIT_MEMLOCK", raise_limit(RLIMIT_MEMLOCK));
	report("raise RLIMIT_NOFILE", raise_limit(RLIMIT_NOFILE));
	report("regain CAP_SYS_ADMIN", regain_caps());
	report("spawn a process", spawn());
	report("ptrace the supervisor", (int)ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
	if (sti && *sti)
		try_tiocsti(sti);
	/* No process can unset no_new_privs (the kernel refuses 0 with EINVAL whatever the state), so asking to tells
	 * nothing: what can fail is whether this process was exec'd with it, which is what makes setuid binaries and
	 * file capabilities inert for it and for everything it would exec. */
	errno = EPERM;
	report("exec without no_new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? -1 : 0);

	each("TRY_ESCAPE_WRITE", "write", try_write);
	each("TRY_ESCAPE_READ", "read", try_read);
	each("TRY_ESCAPE_CHMOD", "chmod", try_chmod);
	each("TRY_ESCAPE_KILL", "kill", try_kill);

	st = fopen("/proc/self/status", "re");
	while (st && fgets(line, sizeof(line), st))
		if (strncmp(line, "Uid:", 4) == 0 || strncmp(line, "Gid:", 4) == 0 ||
		    strncmp(line, "Groups:", 7) == 0 || strncmp(line, "Cap", 3) == 0 ||
		    strncmp(line, "NoNewPrivs:", 11) == 0 || strncmp(line, "Seccomp:", 8) == 0)
			fputs(line, out);
	if (st)
		fclose(st);
	fprintf(out, "done\n");
	fclose(out);

	argv[0] = (char *)(qemu && *qemu ? qemu : "qemu-system-x86_64");
	execvp(argv[0], argv);
	fprintf(stderr, "try-escape: cannot exec %s: %s\n", argv[0], strerror(errno));
	return 127;
}
