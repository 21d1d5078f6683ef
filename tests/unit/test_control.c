/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the control socket against a client's bytes: the arguments of stop and qmp checked before anything is
 * converted (a NaN timeout once reached undefined behaviour in json-c), command names that hide a NUL, and a peer
 * whose credentials cannot be read (once logged as an uninitialised uid); a reply's fd that goes with its first byte
 * from a buffer that grew. The server runs for real, with its clients on socket pairs or a real connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <seccomp.h>

#include "qmp/qmp.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/control_args.h"
#include "util/fdpass.h"
#include "util/json.h"
#include "util/macro.h"

static json_object *args(const char *json)
{
	json_object *o = json_tokener_parse(json);

	assert_non_null(o);
	return o;
}

static void test_stop_timeout_checked_before_conversion(void **state)
{
	/* json-c reads NaN, Infinity and 1e300 as doubles; each must be refused before any cast to an integer. */
	static const char *const bad[] = {
		"{\"timeout\": NaN}",	"{\"timeout\": Infinity}", "{\"timeout\": -Infinity}",
		"{\"timeout\": 1e300}", "{\"timeout\": 30.5}",	   "{\"timeout\": \"30\"}",
		"{\"timeout\": -1}",	"{\"timeout\": 86401}",	   "{\"timeout\": 9223372036854775808}",
		"{\"timeout\": true}",	"{\"timeout\": null}",	   "{\"force\": 1}",
		"{\"force\": \"yes\"}",
	};
	bool force = true;
	int timeout = 7;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_json_ json_object *a = args(bad[i]);
		const char *why = NULL;

		if (control_stop_args(a, &force, &timeout, &why) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
		/* Left untouched on failure. */
		assert_true(force);
		assert_int_equal(timeout, 7);
	}
}

static void test_stop_args_accepted(void **state)
{
	_cleanup_json_ json_object *a = args("{\"timeout\": 86400, \"force\": true}");
	_cleanup_json_ json_object *z = args("{\"timeout\": 0}");
	const char *why = NULL;
	bool force = false;
	int timeout = 0;

	(void)state;
	assert_int_equal(control_stop_args(a, &force, &timeout, &why), 0);
	assert_true(force);
	assert_int_equal(timeout, 86400);
	assert_int_equal(control_stop_args(z, &force, &timeout, &why), 0);
	assert_false(force);
	assert_int_equal(timeout, 0);
	assert_int_equal(control_stop_args(NULL, &force, &timeout, &why), 0);
	assert_int_equal(timeout, -1);
}

static void test_status_args(void **state)
{
	static const char *const bad[] = { "{\"ask_qemu\": 0}", "{\"ask_qemu\": \"false\"}", "{\"ask_qemu\": null}" };
	_cleanup_json_ json_object *no = args("{\"ask_qemu\": false}");
	_cleanup_json_ json_object *yes = args("{\"ask_qemu\": true}");
	_cleanup_json_ json_object *none = args("{}");
	const char *why = NULL;
	bool ask = true;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_json_ json_object *a = args(bad[i]);

		why = NULL;
		if (control_status_args(a, &ask, &why) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
		assert_true(ask);
	}
	assert_int_equal(control_status_args(no, &ask, &why), 0);
	assert_false(ask);
	assert_int_equal(control_status_args(yes, &ask, &why), 0);
	assert_true(ask);
	ask = false;
	assert_int_equal(control_status_args(none, &ask, &why), 0);
	assert_true(ask);
	ask = false;
	assert_int_equal(control_status_args(NULL, &ask, &why), 0);
	assert_true(ask);
}

static void test_qmp_args(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"command\": 5}",
		"{\"command\": \"\"}",
		"{\"command\": \"query-status\\u0000x\"}",
		"{\"command\": \"quit\", \"arguments\": [1]}",
	};
	_cleanup_json_ json_object *ok = args("{\"command\": \"query-status\", \"arguments\": {\"a\": 1}}");
	json_object *a = NULL;
	const char *c = NULL, *why = NULL;

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_json_ json_object *o = args(bad[i]);

		if (control_qmp_args(o, &c, &a, &why) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(control_qmp_args(ok, &c, &a, &why), 0);
	assert_string_equal(c, "query-status");
	assert_true(json_object_is_type(a, json_type_object));
}

/* What a client receives, up to the first reply with an id or a timeout. */
static char received[65536];

static void read_reply(int fd, const char *until)
{
	size_t len = 0;

	received[0] = 0;
	while (!strstr(received, until) && len < sizeof(received) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		n = read(fd, received + len, sizeof(received) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		received[len] = 0;
	}
}

static unsigned commands;

static void count_command(void *userdata, uint64_t client, struct qmp_msg *m)
{
	struct control **c = userdata;

	commands++;
	control_return(*c, client, m->id, NULL);
}

/* Flushes what the server queued for its clients, as the loop does after each round. */
static void flush(struct control *c)
{
	control_flush(c, 0);
}

static void test_command_name_with_nul_refused(void **state)
{
	char dir[] = "/tmp/vgpuvm-unit-ctl-XXXXXX", path[128];
	struct control *c = NULL;
	uint64_t client;
	int sv[2];
	static const char line[] =
	    "{\"execute\": \"status\\u0000x\", \"id\": 1}\r\n{\"execute\": \"status\", \"id\": 2}\r\n";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(control_new(path, (gid_t)-1, count_command, &c, &c), 0);
	assert_int_equal(control_attach(c, sv[0], &client), 0);
	commands = 0;
	control_input(c, client, line, sizeof(line) - 1);
	flush(c);
	read_reply(sv[1], "\"id\":2");
	/* The first is an error that names the NUL, and never reached the handler; the second ran. */
	assert_int_equal(commands, 1);
	assert_non_null(strstr(received, "(NUL) in a string"));
	assert_non_null(strstr(received, "{\"return\":{},\"id\":2}"));
	control_free(c);
	close(sv[1]);
	rmdir(dir);
}

/* Whether the peer end of a client's socket pair has been hung up on, after reading what it was sent. */
static bool hung_up(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0;
}

static void test_crowd_makes_room(void **state)
{
	char dir[] = "/tmp/vgpuvm-unit-ctl-XXXXXX", path[128];
	static const char status[] = "{\"execute\": \"status\"}\r\n";
	struct control *c = NULL;
	uint64_t id[CONTROL_CLIENTS_MAX + 2];
	int peer[CONTROL_CLIENTS_MAX + 2];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	assert_int_equal(control_new(path, (gid_t)-1, count_command, &c, &c), 0);
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(control_attach(c, sv[0], &id[i]), 0);
		peer[i] = sv[1];
	}
	/* Client 0 sends garbage, client 1 half a line, the others a command each, answered at once (they behave). */
	control_input(c, id[0], "garbage\r\n", 9);
	control_input(c, id[1], "{\"execute\": \"sta", 16);
	for (size_t i = 2; i < CONTROL_CLIENTS_MAX; i++)
		control_input(c, id[i], status, sizeof(status) - 1);
	flush(c);

	/* A 17th client: the one that sent garbage makes room, told why; an 18th: the one that stalled. */
	for (size_t k = 0; k < 2; k++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(control_attach(c, sv[0], &id[CONTROL_CLIENTS_MAX + k]), 0);
		peer[CONTROL_CLIENTS_MAX + k] = sv[1];
		assert_true(hung_up(peer[k]));
		control_input(c, id[CONTROL_CLIENTS_MAX + k], status, sizeof(status) - 1);
	}
	for (size_t i = 2; i < CONTROL_CLIENTS_MAX + 2; i++)
		assert_false(hung_up(peer[i]));

	/* Every place held by a client that behaves: the next one is turned away, and no one is disconnected. */
	{
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(control_attach(c, sv[0], NULL), -EBUSY);
		assert_true(hung_up(sv[1]));
		close(sv[1]);
	}
	for (size_t i = 2; i < CONTROL_CLIENTS_MAX + 2; i++)
		assert_false(hung_up(peer[i]));
	control_free(c);
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX + 2; i++)
		close(peer[i]);
	rmdir(dir);
}

/* The write end of the pipe whose read end the last "shot" was answered with. */
static int shot_peer = -1;

static void answer_shot(void *userdata, uint64_t client, struct qmp_msg *m)
{
	struct control **c = userdata;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	shot_peer = p[1];
	control_return_fd(*c, client, m->id, NULL, p[0]);
}

/*
 * An fd tied to a reply's first byte in a buffer that has grown by doubling: it arrives with that byte, not with the
 * events queued before it (read a byte at a time). Then a client that stops reading is dropped with an fd still
 * queued: the fd is closed, not kept.
 */
static void test_reply_fd_from_grown_buffer(void **state)
{
	char dir[] = "/tmp/vgpuvm-unit-ctl-XXXXXX", path[128], pad[2000];
	static const char shot[] = "{\"execute\": \"shot\", \"id\": 7}\r\n";
	_cleanup_json_ json_object *data = json_object_new_object();
	struct control *c = NULL;
	uint64_t client;
	size_t got = 0, reply_at = 0, fd_at = SIZE_MAX;
	char *text = malloc(1 << 20);
	int sv[2], fd = -1;

	(void)state;
	assert_non_null(text);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(control_new(path, (gid_t)-1, answer_shot, &c, &c), 0);
	assert_int_equal(control_attach(c, sv[0], &client), 0);
	/* 50 events of 2 KB queued before the reply: the buffer doubles from 1 KiB to 128 KiB. */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	json_object_object_add(data, "pad", json_object_new_string(pad));
	for (int i = 0; i < 50; i++)
		control_event(c, "PAD", data);
	control_input(c, client, shot, sizeof(shot) - 1);
	control_flush(c, 0);

	while (got < (1 << 20) - 1) {
		int fds[2];
		size_t n = 0;
		struct pollfd p = { .fd = sv[1], .events = POLLIN };

		if (poll(&p, 1, 0) <= 0) {
			/* What did not fit in the socket goes as it is read. */
			control_flush(c, 0);
			if (poll(&p, 1, 2000) <= 0)
				break;
		}
		assert_int_equal(fdpass_recv(sv[1], text + got, 1, MSG_DONTWAIT, fds, 2, &n), 1);
		assert_true(n <= 1);
		if (n == 1) {
			assert_int_equal(fd_at, SIZE_MAX);
			fd_at = got;
			fd = fds[0];
		}
		got++;
		text[got] = 0;
		if (got >= 2 && memcmp(text + got - 2, "\r\n", 2) == 0 && strstr(text + reply_at, "\"id\":7"))
			break;
		if (got >= 2 && memcmp(text + got - 2, "\r\n", 2) == 0)
			reply_at = got;
	}
	/* The greeting, the 50 events, then the reply; the fd came with the reply's "{". */
	assert_true(got > 50 * 2000);
	assert_non_null(strstr(text + reply_at, "{\"return\":{},\"id\":7}"));
	assert_int_equal(fd_at, reply_at);
	assert_true(fd >= 0);
	/* It is the read end of the pipe the handler made. */
	assert_int_equal(write(shot_peer, "!", 1), 1);
	assert_int_equal(read(fd, pad, 1), 1);
	assert_int_equal(pad[0], '!');
	close(fd);
	close(shot_peer);

	/* Now it stops reading: a reply with an fd, then events until 1 MiB waits and it is dropped. */
	control_input(c, client, shot, sizeof(shot) - 1);
	for (int i = 0; i < 600; i++)
		control_event(c, "PAD", data);
	/* Its fd was closed with it: the pipe has no reader left. */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(shot_peer, "!", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(shot_peer);
	control_free(c);
	close(sv[1]);
	free(text);
	rmdir(dir);
}

/*
 * In a child whose getsockopt() fails: the server refuses the connection and says why, rather than logging the uid of
 * a struct ucred that was never filled in. Returns a number naming the first thing that went wrong, 0 if none.
 */
static int peercred_child(const char *path, int log_fd)
{
	struct control *c = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p[1 + CONTROL_CLIENTS_MAX];
	scmp_filter_ctx ctx;
	char buf[64];
	size_t n;
	int fd;

	if (dup2(log_fd, STDERR_FILENO) < 0)
		return 2;
	if (control_new(path, (gid_t)-1, count_command, &c, &c) < 0)
		return 3;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOPROTOOPT), SCMP_SYS(getsockopt), 0) < 0 ||
	    seccomp_load(ctx) < 0)
		return 4;
	seccomp_release(ctx);
	if (strlen(path) >= sizeof(sa.sun_path))
		return 8;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 5;
	n = control_pollfds(c, p, ELEMENTSOF(p));
	if (poll(p, n, 2000) <= 0)
		return 6;
	control_dispatch(c, p, n);
	/* Refused: no greeting, the connection closed. */
	if (read(fd, buf, sizeof(buf)) != 0)
		return 7;
	control_free(c);
	return 0;
}

static void test_peercred_failure_refused(void **state)
{
	char dir[] = "/tmp/vgpuvm-unit-ctl-XXXXXX", path[128], log[128], text[1024] = "";
	int status, fd;
	FILE *f;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		/* _exit: a sanitizer's exit-time work could itself run into the filter. */
		_exit(peercred_child(path, fd));
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	f = fopen(log, "re");
	assert_non_null(f);
	text[fread(text, 1, sizeof(text) - 1, f)] = 0;
	fclose(f);
	unlink(log);
	unlink(path);
	rmdir(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed at step %d; it logged: %s", WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
	assert_non_null(strstr(text, "refused a connection whose credentials cannot be read: Protocol not available"));
	assert_null(strstr(text, "from uid"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_timeout_checked_before_conversion),
		cmocka_unit_test(test_stop_args_accepted),
		cmocka_unit_test(test_status_args),
		cmocka_unit_test(test_qmp_args),
		cmocka_unit_test(test_command_name_with_nul_refused),
		cmocka_unit_test(test_crowd_makes_room),
		cmocka_unit_test(test_reply_fd_from_grown_buffer),
		cmocka_unit_test(test_peercred_failure_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
