/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the SPICE display's way in (supervisor/vm/spice.c): the socket the supervisor listens on, its mode,
 * the peers it accepts, what status says; and the password file (supervisor/host/secret.c), read only when it is what
 * it must be.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "profiles/profile.h"
#include "supervisor/host/secret.h"
#include "supervisor/vm/spice.h"
#include "util/macro.h"

static char tmpdir[] = "/tmp/vgpuvm-unit-spice-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_in_tmp(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static void write_file(const char *name, const char *content, mode_t mode)
{
	char *p = path_in_tmp(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* secret_read(): the file's first line, and a reason for everything it refuses. */
static void expect_secret(const char *name, int r, const char *value, const char *in_error)
{
	char *s = NULL, *error = NULL;

	assert_int_equal(secret_read(path_in_tmp(name), "display.password_file", SECRET_SPICE_MAX, &s, &error), r);
	if (value)
		assert_string_equal(s, value);
	else
		assert_null(s);
	if (in_error) {
		assert_non_null(error);
		if (!strstr(error, in_error))
			fail_msg("\"%s\" not in \"%s\"", in_error, error);
	}
	free(s);
	free(error);
}

static void test_secret_read(void **state)
{
	char long_pw[SECRET_SPICE_MAX + 3];

	(void)state;
	write_file("pw", "hunter2\nsecond line\n", 0600);
	expect_secret("pw", 0, "hunter2", NULL);
	write_file("crlf", "pw\r\n", 0600);
	expect_secret("crlf", 0, "pw", NULL);
	memset(long_pw, 'x', SECRET_SPICE_MAX);
	long_pw[SECRET_SPICE_MAX] = 0;
	write_file("max", long_pw, 0600);
	expect_secret("max", 0, long_pw, NULL);
	strcat(long_pw, "x\n");
	write_file("long", long_pw, 0600);
	expect_secret("long", -EINVAL, NULL, "longer than 60 bytes");
	write_file("empty", "", 0600);
	expect_secret("empty", -EINVAL, NULL, "is empty");
	write_file("newline", "\nafter\n", 0600);
	expect_secret("newline", -EINVAL, NULL, "is empty");
	write_file("ctrl", "a\tb\n", 0600);
	expect_secret("ctrl", -EINVAL, NULL, "control character");
	write_file("gw", "pw\n", 0620);
	expect_secret("gw", -EPERM, NULL, "writable by its group");
	write_file("ow", "pw\n", 0602);
	expect_secret("ow", -EPERM, NULL, NULL);
	expect_secret("missing", -ENOENT, NULL, "does not exist");
	/* A FIFO is refused at once, not waited on. */
	assert_int_equal(mkfifo(path_in_tmp("fifo"), 0600), 0);
	expect_secret("fifo", -EINVAL, NULL, "not a regular file");
	/* A symlink at the end is not followed, even to a good file. */
	assert_int_equal(symlink("pw", path_in_tmp("link")), 0);
	{
		char *s = NULL, *error = NULL;
		int r = secret_read(path_in_tmp("link"), "x", SECRET_SPICE_MAX, &s, &error);

		assert_true(r < 0);
		assert_null(s);
		free(error);
	}
}

static void test_spice_socket(void **state)
{
	struct profile p = { .display = { .type = PROFILE_DISPLAY_SPICE } };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct spice *s = NULL;
	struct pollfd pfd[2];
	struct stat st;
	uint64_t serial = 0;
	struct spice_refusal no = {};
	json_object *o, *v;
	int c, fd;

	(void)state;
	assert_int_equal(spice_new(&p, tmpdir, (gid_t)-1, &s, NULL), 0);
	assert_non_null(s);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", tmpdir, SPICE_SOCKET);
	assert_int_equal(lstat(sa.sun_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(spice_pollfds(s, pfd, 2), 1);
	assert_null(spice_password(s));
	/* Nobody waits: nothing to accept. */
	assert_int_equal(spice_accept(s, &serial, &no), -EAGAIN);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Its own uid is let in; each connection is numbered, for its name in QEMU. */
	fd = spice_accept(s, &serial, &no);
	assert_true(fd >= 0);
	assert_int_equal(serial, 1);
	assert_int_equal(write(c, "x", 1), 1);
	{
		char b;
		assert_int_equal(read(fd, &b, 1), 1);
	}
	close(fd);
	close(c);
	o = spice_status_json(s);
	assert_true(json_object_object_get_ex(o, "socket", &v));
	assert_string_equal(json_object_get_string(v), sa.sun_path);
	json_object_put(o);
	spice_free(s);
	/* Gone with the supervisor. */
	assert_int_equal(lstat(sa.sun_path, &st), -1);
}

/* Connects to path as uid and gid 65534 with no groups, from a child; returns the child's pid. */
static pid_t connect_as_stranger(const char *path)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int c;
		char b;

		if (strlen(path) >= sizeof(sa.sun_path))
			_exit(5);
		memcpy(sa.sun_path, path, strlen(path) + 1);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(3);
		/* The supervisor closes on it: EOF. */
		_exit(read(c, &b, 1) == 0 ? 0 : 4);
	}
	return pid;
}

/* With the socket's mode opened by hand, a stranger still does not get through: refused, said once a minute. */
static void test_spice_refuses_strangers(void **state)
{
	struct profile p = { .display = { .type = PROFILE_DISPLAY_SPICE } };
	struct spice_refusal no = {};
	struct spice *s = NULL;
	struct pollfd pfd;
	uint64_t serial = 0;
	char path[256];
	pid_t pid;
	int st, r;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(spice_new(&p, tmpdir, (gid_t)-1, &s, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, SPICE_SOCKET);
	assert_int_equal(chmod(tmpdir, 0711), 0);
	assert_int_equal(chmod(path, 0666), 0);
	for (unsigned i = 0; i < 2; i++) {
		pid = connect_as_stranger(path);
		assert_int_equal(spice_pollfds(s, &pfd, 1), 1);
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		r = spice_accept(s, &serial, &no);
		assert_int_equal(r, -EACCES);
		assert_int_equal(no.uid, 65534);
		/* The first refusal is said; the next, within the minute, is only counted. */
		assert_int_equal(no.due, i == 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(serial, 0);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	spice_free(s);
}

static void test_spice_tcp_and_none(void **state)
{
	struct profile p = { .display = { .type = PROFILE_DISPLAY_SPICE, .listen = (char *)"127.0.0.1:5930" } };
	struct spice *s = (struct spice *)1;
	struct pollfd pfd;
	uint64_t serial;
	char *error = NULL;
	json_object *o, *v;

	(void)state;
	write_file("tcp-pw", "s3cret\n", 0600);
	p.display.password_file = path_in_tmp("tcp-pw");
	assert_int_equal(spice_new(&p, tmpdir, (gid_t)-1, &s, &error), 0);
	assert_string_equal(spice_password(s), "s3cret");
	assert_int_equal(spice_pollfds(s, &pfd, 1), 0);
	assert_int_equal(spice_accept(s, &serial, &(struct spice_refusal){}), -EAGAIN);
	o = spice_status_json(s);
	assert_true(json_object_object_get_ex(o, "address", &v));
	assert_string_equal(json_object_get_string(v), "127.0.0.1:5930");
	assert_false(json_object_object_get_ex(o, "socket", &v));
	json_object_put(o);
	spice_free(s);
	/* A bad password file: no spice, and why; *ret untouched. */
	p.display.password_file = path_in_tmp("nonexistent");
	s = NULL;
	assert_int_equal(spice_new(&p, tmpdir, (gid_t)-1, &s, &error), -ENOENT);
	assert_null(s);
	assert_non_null(error);
	free(error);
	/* Another display: nothing, and no socket made. */
	p.display = (struct profile_display){ .type = PROFILE_DISPLAY_GTK };
	s = (struct spice *)1;
	assert_int_equal(spice_new(&p, tmpdir, (gid_t)-1, &s, NULL), 0);
	assert_null(s);
	assert_null(spice_status_json(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_read),
		cmocka_unit_test(test_spice_socket),
		cmocka_unit_test(test_spice_refuses_strangers),
		cmocka_unit_test(test_spice_tcp_and_none),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
