/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the least-privilege parts of the supervisor: its own seccomp filter (in a forked child, since a
 * filter cannot be taken off), QEMU's environment, users and groups without NSS, lending files to QEMU's user and
 * giving them back, and the crash record that remembers the previous owners.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/launch/confine.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/owner.h"
#include "supervisor/host/record.h"
#include "supervisor/host/users.h"
#include "util/macro.h"

static char tmpdir[] = "/tmp/vgpuvm-unit-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The child confines itself, then tries what the filter allows and what it refuses; it exits with the first
 * unexpected result's number, so the parent can say which one. */
static int confined_child(const char *dir)
{
	struct termios t;
	char path[256];
	int fd, pty, tty;

	/* A terminal, opened before the filter as the serial console's is. */
	pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pty < 0 || unlockpt(pty) < 0 || (tty = ioctl(pty, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return 9;
	if (confine_supervisor() < 0)
		return 10;
	snprintf(path, sizeof(path), "%s/record", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 11;
	close(fd);
	if (unlink(path) < 0)
		return 12;
	if (getpid() <= 0)
		return 13;
	/* The terminal's settings can be read and set back, as at the end of a run. */
	if (!isatty(tty) || tcgetattr(tty, &t) < 0 || tcsetattr(tty, TCSANOW, &t) < 0 ||
	    tcsetattr(tty, TCSADRAIN, &t) < 0)
		return 14;
	/* Not TIOCSTI, which pushes input into a terminal (root has CAP_SYS_ADMIN: only the filter stops it here). */
	errno = 0;
	if (ioctl(tty, TIOCSTI, "x") != -1 || errno != EPERM)
		return 24;
	/* Refused: a new process, a new program, a change of identity, a mount. */
	errno = 0;
	if (fork() != -1 || errno != EPERM)
		return 20;
	errno = 0;
	if (execl("/bin/true", "true", (char *)NULL) != -1 || errno != EPERM)
		return 21;
	errno = 0;
	if (setuid(0) != -1 || errno != EPERM)
		return 22;
	errno = 0;
	if (chroot("/") != -1 || errno != EPERM)
		return 23;
	return 0;
}

static void test_confine_supervisor(void **state)
{
	char err[4096] = {};
	int pipefd[2], status;
	ssize_t n, total = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		/* _exit: a sanitizer's exit-time work (LeakSanitizer forks a tracer) would itself be refused. */
		_exit(confined_child(tmpdir));
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], err + total, sizeof(err) - 1 - (size_t)total)) > 0)
		total += n;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		print_error("child: status %#x; stderr:\n%s\n", status, err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Each refusal is logged with its number: ioctl (16) for TIOCSTI, clone (56) for fork, execve (59), setuid
	 * (105), chroot (161). */
	assert_non_null(strstr(err, "seccomp filter refused system call 16 "));
	assert_non_null(strstr(err, "seccomp filter refused system call 56 "));
	assert_non_null(strstr(err, "refused system call 59 "));
	assert_non_null(strstr(err, "refused system call 105 "));
	assert_non_null(strstr(err, "refused system call 161 "));
}

static const char *find(char **env, const char *name)
{
	size_t k = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, k) == 0 && (*env)[k] == '=')
			return *env + k + 1;
	return NULL;
}

static void test_identity_env(void **state)
{
	char *base[] = { "PATH=/usr/bin",
			 "DISPLAY=:1",
			 "SSH_AUTH_SOCK=/tmp/agent",
			 "HOME=/root",
			 "LC_ALL=C",
			 "MESA_DEBUG=1",
			 "LD_PRELOAD=/x.so",
			 "TERM=xterm",
			 "SECRET=1",
			 NULL };
	char *prof[] = { "TERM=dumb", "FOO=bar", NULL };
	struct identity id = { .change = true, .uid = 1000, .gid = 1000, .name = "qemu", .home = "/var/lib/qemu" };
	char **env = identity_env(&id, base, prof);

	(void)state;
	assert_non_null(env);
	assert_string_equal(find(env, "PATH"), "/usr/bin");
	assert_string_equal(find(env, "DISPLAY"), ":1");
	assert_string_equal(find(env, "LC_ALL"), "C");
	assert_string_equal(find(env, "MESA_DEBUG"), "1");
	assert_string_equal(find(env, "HOME"), "/var/lib/qemu");
	assert_string_equal(find(env, "USER"), "qemu");
	assert_string_equal(find(env, "LOGNAME"), "qemu");
	assert_string_equal(find(env, "TERM"), "dumb");
	assert_string_equal(find(env, "FOO"), "bar");
	assert_string_equal(find(env, "NO_AT_BRIDGE"), "1");
	assert_null(find(env, "SSH_AUTH_SOCK"));
	assert_null(find(env, "LD_PRELOAD"));
	assert_null(find(env, "SECRET"));
	/* Each variable once: the profile's TERM replaced the inherited one. */
	size_t terms = 0;
	for (char **e = env; *e; e++)
		terms += strncmp(*e, "TERM=", 5) == 0;
	assert_int_equal(terms, 1);
	strv_free(env);
}

static void test_users(void **state)
{
	char passwd[256], group[256];
	struct user_info u = {};
	gid_t *g = NULL, gid;
	size_t n = 0;

	(void)state;
	snprintf(passwd, sizeof(passwd), "%s/passwd", tmpdir);
	snprintf(group, sizeof(group), "%s/group", tmpdir);
	write_file(passwd, "root:x:0:0:root:/root:/bin/bash\nvgpuvm:x:991:990::/var/lib/vgpuvm:/usr/sbin/nologin\n"
			   "broken line\nnohome:x:992:992:::/bin/sh\n");
	write_file(group, "root:x:0:\nvgpuvm:x:990:\nkvm:x:105:alice,vgpuvm\nrender:x:106:vgpuvm\nvideo:x:44:bob\n");
	setenv("VGPUVM_PASSWD_FILE", passwd, 1);
	setenv("VGPUVM_GROUP_FILE", group, 1);

	assert_int_equal(user_lookup("vgpuvm", &u), 0);
	assert_int_equal(u.uid, 991);
	assert_int_equal(u.gid, 990);
	assert_string_equal(u.home, "/var/lib/vgpuvm");
	user_info_done(&u);
	assert_int_equal(user_lookup("992", &u), 0);
	assert_string_equal(u.name, "nohome");
	assert_string_equal(u.home, "/");
	user_info_done(&u);
	/* A number with no entry is an identity of its own. */
	assert_int_equal(user_lookup("4242", &u), 0);
	assert_null(u.name);
	assert_int_equal(u.uid, 4242);
	assert_int_equal(u.gid, 4242);
	user_info_done(&u);
	assert_int_equal(user_lookup("nosuch", &u), -ENOENT);

	assert_int_equal(group_lookup("render", &gid), 0);
	assert_int_equal(gid, 106);
	assert_int_equal(group_lookup("nosuch", &gid), -ENOENT);

	assert_int_equal(user_groups("vgpuvm", 990, &g, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(g[0], 990);
	assert_int_equal(g[1], 105);
	assert_int_equal(g[2], 106);
	free(g);
	unsetenv("VGPUVM_PASSWD_FILE");
	unsetenv("VGPUVM_GROUP_FILE");
}

/* Lending needs root (chown, mknod); the layer runs as root, as `make check` does. */
static void test_owner_lend_and_return(void **state)
{
	struct identity id = { .change = true, .uid = 65534, .gid = 65534 };
	char path[256], plain[256], link[256], sys[256], cmd[1024];
	struct owned o;
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		fail_msg("this test lends a file with chown and must run as root");
	/* A render node: the DRM major, a render minor. */
	snprintf(path, sizeof(path), "%s/renderD128", tmpdir);
	assert_int_equal(mknod(path, S_IFCHR | 0600, makedev(226, 128)), 0);
	assert_int_equal(chown(path, 0, 0), 0);

	assert_int_equal(owner_check(path, OWNED_DRM, "/nonexistent", &id, &o), 1);
	assert_string_equal(o.path, path);
	assert_int_equal(o.uid, 0);
	assert_int_equal(o.mode, 0600);
	assert_true(o.rdev == makedev(226, 128));
	assert_int_equal(owner_lend(&o, &id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(owner_check(path, OWNED_DRM, "/nonexistent", &id, &o), 0);

	/* QEMU, as the owner, opens it to everyone; the give-back restores owner, group and mode. */
	assert_int_equal(chmod(path, 0666), 0);
	o = (struct owned){ .kind = OWNED_DRM, .rdev = makedev(226, 128), .uid = 0, .gid = 0, .mode = 0600 };
	snprintf(o.path, sizeof(o.path), "%s", path);
	assert_int_equal(owner_return(&o), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Another device at that path by now is left alone. */
	o.rdev = makedev(226, 129);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(owner_return(&o), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* Not what it claims to be: a regular file, a symlink, a character device of another major. */
	snprintf(plain, sizeof(plain), "%s/plain", tmpdir);
	write_file(plain, "secret");
	assert_int_equal(owner_check(plain, OWNED_DRM, "/nonexistent", &id, &o), -ENODEV);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(owner_check(link, OWNED_DRM, "/nonexistent", &id, &o), -ENODEV);
	assert_int_equal(owner_check("/dev/null", OWNED_DRM, "/nonexistent", &id, &o), -ENODEV);

	/* A VFIO group is told apart by its class in sysfs, as /sys/dev/char/MAJ:MIN links it. */
	snprintf(sys, sizeof(sys), "%s/sys", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/dev/char %s/devices/virtual/vfio/7 && ln -s ../../devices/virtual/vfio/7 "
		 "%s/dev/char/511:7 && mknod %s/vfio-7 c 511 7 && mknod %s/other c 511 8",
		 sys, sys, sys, tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/vfio-7", tmpdir);
	assert_int_equal(owner_check(path, OWNED_VFIO, sys, &id, &o), 1);
	assert_int_equal(owner_check(path, OWNED_DRM, sys, &id, &o), -ENODEV);
	snprintf(path, sizeof(path), "%s/other", tmpdir);
	assert_int_equal(owner_check(path, OWNED_VFIO, sys, &id, &o), -ENODEV);

	/* Group access is enough: nothing is lent then. */
	snprintf(path, sizeof(path), "%s/vfio-7", tmpdir);
	assert_int_equal(chown(path, 0, 106), 0);
	assert_int_equal(chmod(path, 0660), 0);
	id.groups = (gid_t[]){ 65534, 106 };
	id.n_groups = 2;
	assert_int_equal(owner_check(path, OWNED_VFIO, sys, &id, &o), 0);
	/* A node that is gone (the mdev was removed with it) counts as given back. */
	unlink(path);
	assert_int_equal(owner_return(&o), 0);
}

static void test_record_lent(void **state)
{
	struct record r = { .name = "vm", .supervisor_pid = 42, .n_owned = 2 }, back;
	char path[512];

	(void)state;
	r.owned[0] =
	    (struct owned){ .path = "/dev/vfio/12", .kind = OWNED_VFIO, .rdev = makedev(511, 12), .mode = 0600 };
	r.owned[1] = (struct owned){ .path = "/dev/dri/renderD128",
				     .kind = OWNED_DRM,
				     .rdev = makedev(226, 128),
				     .uid = 0,
				     .gid = 106,
				     .mode = 0660 };
	/* Without an mdev a record is still valid when it names something lent. */
	assert_int_equal(record_write(tmpdir, &r), 0);
	assert_int_equal(record_read(tmpdir, &back), 0);
	assert_int_equal(back.n_owned, 2);
	assert_string_equal(back.owned[0].path, "/dev/vfio/12");
	assert_int_equal(back.owned[0].kind, OWNED_VFIO);
	assert_string_equal(back.owned[1].path, "/dev/dri/renderD128");
	assert_int_equal(back.owned[1].gid, 106);
	assert_int_equal(back.owned[1].mode, 0660);
	assert_true(back.owned[1].rdev == makedev(226, 128));
	assert_string_equal(back.uuid, "");
	/* A record someone else can write, or that is not the caller's, is not believed. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, RECORD_FILE);
	assert_int_equal(chmod(path, 0622), 0);
	assert_int_equal(record_read(tmpdir, &back), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chown(path, 65534, 0), 0);
	assert_int_equal(record_read(tmpdir, &back), -EPERM);
	assert_int_equal(chown(path, 0, 0), 0);
	r.n_owned = 0;
	assert_int_equal(record_write(tmpdir, &r), 0);
	assert_int_equal(record_read(tmpdir, &back), -EBADMSG);
	record_remove(tmpdir);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confine_supervisor),
		cmocka_unit_test(test_identity_env),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_owner_lend_and_return),
		cmocka_unit_test(test_record_lent),
	};

	return cmocka_run_group_tests_name("privilege", tests, setup, teardown);
}
