/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for screenshots without a path: the memfd QEMU writes into and its seals (supervisor/shot.c), the fds
 * that ride along with a byte stream (util/fdpass.c), the client's checks of what it is handed and of the file it
 * writes, and the whole supervisor side under the supervisor's own seccomp filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "supervisor/launch/confine.h"
#include "supervisor/vm/shot.h"
#include "util/fdpass.h"
#include "util/macro.h"

static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 'r', 'e', 's', 't' };

static char tmpdir[] = "/tmp/vgpuvm-unit-shot-XXXXXX";

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

/* A path in the test's directory; a few at a time stay valid, for calls that take two. */
static char *path_in_tmp(const char *name)
{
	static char buf[4][256];
	static unsigned next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* QEMU's side: write through the write-only fd; the supervisor's: seal and hand on a read-only fd. */
static void test_shot_seal(void **state)
{
	char buf[sizeof(png)];
	int memfd = -1, wfd = -1, rfd = -1;
	uint64_t size = 0;
	struct stat st;

	(void)state;
	assert_int_equal(shot_new(&memfd, &wfd), 0);
	assert_int_equal(fcntl(wfd, F_GETFL) & O_ACCMODE, O_WRONLY);
	assert_true(fcntl(wfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(memfd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(write(wfd, png, sizeof(png)), (ssize_t)sizeof(png));
	assert_int_equal(shot_seal(memfd, &rfd, &size), 0);
	assert_int_equal(size, sizeof(png));
	assert_int_equal(fcntl(rfd, F_GETFL) & O_ACCMODE, O_RDONLY);
	/* Sealed: the fd QEMU may have kept can no longer write, grow or cut it. */
	assert_int_equal(write(wfd, "x", 1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(wfd, 0), -1);
	assert_int_equal(pread(rfd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_memory_equal(buf, png, sizeof(png));
	/* And the client takes it. */
	size = 0;
	assert_int_equal(shot_check(rfd, &size), 0);
	assert_int_equal(size, sizeof(png));
	close(memfd);
	close(wfd);
	close(rfd);
}

static void seal_fails(void (*prepare)(int memfd, int wfd), int expected)
{
	int memfd = -1, wfd = -1, rfd = -1;
	uint64_t size = 77;

	assert_int_equal(shot_new(&memfd, &wfd), 0);
	prepare(memfd, wfd);
	assert_int_equal(shot_seal(memfd, &rfd, &size), expected);
	assert_int_equal(rfd, -1);
	assert_int_equal(size, 77);
	close(memfd);
	close(wfd);
}

static void write_nothing(int memfd, int wfd)
{
	(void)memfd;
	(void)wfd;
}

static void write_text(int memfd, int wfd)
{
	(void)memfd;
	assert_int_equal(write(wfd, "not a png at all", 16), 16);
}

static void write_huge(int memfd, int wfd)
{
	(void)memfd;
	assert_int_equal(write(wfd, png, sizeof(png)), (ssize_t)sizeof(png));
	assert_int_equal(ftruncate(wfd, (off_t)SHOT_SIZE_MAX + 1), 0);
}

static void *mapping;

static void map_writable(int memfd, int wfd)
{
	(void)wfd;
	assert_int_equal(ftruncate(memfd, 4096), 0);
	mapping = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(mapping != MAP_FAILED);
	memcpy(mapping, png, sizeof(png));
}

static void test_shot_seal_refuses(void **state)
{
	(void)state;
	seal_fails(write_nothing, -ENODATA);
	seal_fails(write_text, -EBADMSG);
	seal_fails(write_huge, -EFBIG);
	/* A writable mapping could change it after the check: no seal, no screenshot. */
	seal_fails(map_writable, -EBUSY);
	munmap(mapping, 4096);
	assert_string_equal(shot_strerror(-EFBIG), "the screenshot is larger than 64 MiB; refusing it");
}

/* The write-only fd cannot be mapped at all: mmap needs read access. */
static void test_shot_wfd_cannot_map(void **state)
{
	int memfd = -1, wfd = -1;

	(void)state;
	assert_int_equal(shot_new(&memfd, &wfd), 0);
	assert_int_equal(ftruncate(wfd, 4096), 0);
	assert_true(mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, wfd, 0) == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	close(memfd);
	close(wfd);
}

/* What the client refuses as a screenshot: anything but a sealed memfd of a sane size. */
static void test_shot_check_refuses(void **state)
{
	uint64_t size = 5;
	int p[2], fd, sealed;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(shot_check(p[0], &size), -EBADFD);
	close(p[0]);
	close(p[1]);
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	assert_int_equal(shot_check(fd, &size), -EBADFD);
	close(fd);
	write_file(path_in_tmp("plain"), png, sizeof(png));
	fd = open(path_in_tmp("plain"), O_RDONLY | O_CLOEXEC);
	assert_int_equal(shot_check(fd, &size), -EBADFD);
	close(fd);
	/* A memfd, but not sealed: whoever else holds it could change it during the copy. */
	fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(write(fd, png, sizeof(png)), (ssize_t)sizeof(png));
	assert_int_equal(shot_check(fd, &size), -EBADFD);
	sealed = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(sealed, (off_t)SHOT_SIZE_MAX + 1), 0);
	assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), 0);
	assert_int_equal(shot_check(sealed, &size), -EFBIG);
	close(sealed);
	sealed = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), 0);
	assert_int_equal(shot_check(sealed, &size), -ENODATA);
	close(sealed);
	close(fd);
	assert_int_equal(size, 5);
}

static void read_back(const char *path, const char *expected)
{
	char buf[256] = {};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
	close(fd);
	assert_string_equal(buf, expected);
}

/* FILE: never through a symlink, never blocking on a FIFO, never into another file's inode or another's file. */
static void test_shot_open_output(void **state)
{
	struct stat st;
	int fd = -1, reader;

	(void)state;
	write_file(path_in_tmp("secret"), "secret", 6);
	assert_int_equal(symlink(path_in_tmp("secret"), path_in_tmp("link")), 0);
	assert_int_equal(shot_open_output(path_in_tmp("link"), &fd), -ELOOP);
	assert_int_equal(symlink(path_in_tmp("nonesuch"), path_in_tmp("dangling")), 0);
	assert_int_equal(shot_open_output(path_in_tmp("dangling"), &fd), -ELOOP);
	assert_int_equal(lstat(path_in_tmp("nonesuch"), &st), -1);
	/* A FIFO without a reader, and with one: neither blocks, both are refused. */
	assert_int_equal(mkfifo(path_in_tmp("fifo"), 0666), 0);
	assert_int_equal(shot_open_output(path_in_tmp("fifo"), &fd), -EBADFD);
	reader = open(path_in_tmp("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(reader >= 0);
	assert_int_equal(shot_open_output(path_in_tmp("fifo"), &fd), -EBADFD);
	close(reader);
	assert_int_equal(link(path_in_tmp("secret"), path_in_tmp("hard")), 0);
	assert_int_equal(shot_open_output(path_in_tmp("hard"), &fd), -EMLINK);
	read_back(path_in_tmp("secret"), "secret");
	assert_int_equal(fd, -1);
	if (geteuid() == 0) {
		write_file(path_in_tmp("theirs"), "theirs", 6);
		assert_int_equal(chown(path_in_tmp("theirs"), 65534, 65534), 0);
		assert_int_equal(shot_open_output(path_in_tmp("theirs"), &fd), -EPERM);
		read_back(path_in_tmp("theirs"), "theirs");
	}
	/* The caller's own file is cut and written; a new one is made. */
	write_file(path_in_tmp("mine"), "a longer old content", 20);
	assert_int_equal(shot_open_output(path_in_tmp("mine"), &fd), 0);
	assert_int_equal(write(fd, "new", 3), 3);
	close(fd);
	read_back(path_in_tmp("mine"), "new");
	assert_int_equal(shot_open_output(path_in_tmp("fresh.png"), &fd), 0);
	assert_true(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);
	assert_int_equal(stat(path_in_tmp("fresh.png"), &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_true(S_ISREG(st.st_mode));
}

static void test_shot_copy(void **state)
{
	int memfd = -1, wfd = -1, out;

	(void)state;
	assert_int_equal(shot_new(&memfd, &wfd), 0);
	assert_int_equal(write(wfd, "0123456789", 10), 10);
	out = open(path_in_tmp("copy"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_int_equal(shot_copy(memfd, out, 4), 0);
	close(out);
	read_back(path_in_tmp("copy"), "0123");
	out = open(path_in_tmp("copy"), O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(shot_copy(memfd, out, 11), -EIO);
	close(out);
	close(memfd);
	close(wfd);
}

static void test_shot_args(void **state)
{
	struct shot_args a;
	json_object *v;

	(void)state;
	assert_int_equal(shot_args_new(3, &a), 0);
	assert_true(json_object_object_get_ex(a.add_fd, "fdset-id", &v));
	assert_int_equal(json_object_get_int64(v), SHOT_FDSET_BASE + 3);
	assert_true(json_object_object_get_ex(a.screendump, "filename", &v));
	assert_string_equal(json_object_get_string(v), "/dev/fdset/1073741827");
	assert_true(json_object_object_get_ex(a.screendump, "format", &v));
	assert_string_equal(json_object_get_string(v), "png");
	assert_true(json_object_object_get_ex(a.remove_fd, "fdset-id", &v));
	assert_int_equal(json_object_get_int64(v), SHOT_FDSET_BASE + 3);
	shot_args_done(&a);
	assert_null(a.add_fd);
}

/* Reads one byte; *ret_fd gets the fd that came with it, or -1. */
static char recv_byte(int sock, int *ret_fd)
{
	char c = 0;
	int fds[2];
	size_t n = 0;

	assert_int_equal(fdpass_recv(sock, &c, 1, 0, fds, 2, &n), 1);
	assert_true(n <= 1);
	*ret_fd = n ? fds[0] : -1;
	return c;
}

/* Each fd goes with its own byte, not before and not after, whatever the writes are cut into. */
static void test_fdpass_boundaries(void **state)
{
	const char *data = "abcdef";
	struct fdpass q;
	int sv[2], p[2], fd;
	size_t off = 0;
	struct stat st;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fdpass_init(&q);
	assert_int_equal(fdpass_add(&q, 1, p[0]), 0);
	assert_int_equal(fdpass_add(&q, 4, p[1]), 0);
	while (off < 6) {
		ssize_t n = fdpass_send(&q, sv[0], data + off, 6 - off);

		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(q.n, 0);
	/* Sent fds are closed on this side (the numbers are free again). */
	assert_false(fd_open(p[0]));
	assert_false(fd_open(p[1]));
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(recv_byte(sv[1], &fd), data[i]);
		if (i == 1 || i == 4) {
			assert_true(fd >= 0);
			assert_int_equal(fstat(fd, &st), 0);
			assert_true(S_ISFIFO(st.st_mode));
			assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, i == 1 ? O_RDONLY : O_WRONLY);
			assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
			close(fd);
		} else
			assert_int_equal(fd, -1);
	}
	close(sv[0]);
	close(sv[1]);
}

static void test_fdpass_limits(void **state)
{
	struct fdpass q;
	int fds[FDPASS_MAX + 1];

	(void)state;
	fdpass_init(&q);
	for (int i = 0; i <= FDPASS_MAX; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < FDPASS_MAX; i++)
		assert_int_equal(fdpass_add(&q, (size_t)i * 10, fds[i]), 0);
	assert_int_equal(fdpass_add(&q, 1000, fds[FDPASS_MAX]), -ENOBUFS);
	assert_false(fd_open(fds[FDPASS_MAX]));
	fdpass_clear(&q);
	assert_int_equal(q.n, 0);
	for (int i = 0; i < FDPASS_MAX; i++)
		assert_false(fd_open(fds[i]));
	/* One fd per byte, in order. */
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(fdpass_add(&q, 5, fds[0]), 0);
	assert_int_equal(fdpass_add(&q, 5, fds[1]), -EINVAL);
	assert_false(fd_open(fds[1]));
	fdpass_clear(&q);
}

/* The supervisor's half, as it runs once QEMU does: inside its own seccomp filter. */
static void test_shot_under_supervisor_filter(void **state)
{
	int sv[2], status, fd;
	uint64_t size;
	char c;
	size_t n = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int memfd = -1, wfd = -1, rfd = -1;
		struct fdpass q;

		close(sv[1]);
		fdpass_init(&q);
		if (confine_supervisor() < 0 || shot_new(&memfd, &wfd) < 0 ||
		    write(wfd, png, sizeof(png)) != (ssize_t)sizeof(png) || shot_seal(memfd, &rfd, &size) < 0 ||
		    fdpass_add(&q, 0, rfd) < 0 || fdpass_send(&q, sv[0], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(fdpass_recv(sv[1], &c, 1, 0, &fd, 1, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(shot_check(fd, &size), 0);
	assert_int_equal(size, sizeof(png));
	close(fd);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shot_seal),	    cmocka_unit_test(test_shot_seal_refuses),
		cmocka_unit_test(test_shot_wfd_cannot_map), cmocka_unit_test(test_shot_check_refuses),
		cmocka_unit_test(test_shot_open_output),    cmocka_unit_test(test_shot_copy),
		cmocka_unit_test(test_shot_args),	    cmocka_unit_test(test_fdpass_boundaries),
		cmocka_unit_test(test_fdpass_limits),	    cmocka_unit_test(test_shot_under_supervisor_filter),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
