/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for qmp/qmp_conn.c over a socketpair: a forked fake server replays QEMU 7.2's lines (with the ids the
 * client chose), or misbehaves; and one test against the real qemu-system-x86_64, which must be installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "qmp/qmp_conn.h"
#include "qmp/qmp_encode.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"

#define GREETING                                                                                                       \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian "       \
	"1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define EV_STOP "{\"timestamp\": {\"seconds\": 1795290721, \"microseconds\": 56357}, \"event\": \"STOP\"}\r\n"
#define EV_RESUME "{\"timestamp\": {\"seconds\": 1795290721, \"microseconds\": 357592}, \"event\": \"RESUME\"}\r\n"
#define EV_POWERDOWN                                                                                                   \
	"{\"timestamp\": {\"seconds\": 1795290721, \"microseconds\": 961526}, \"event\": \"POWERDOWN\"}\r\n"
#define EV_SHUTDOWN                                                                                                    \
	"{\"timestamp\": {\"seconds\": 1795290722, \"microseconds\": 262717}, \"event\": \"SHUTDOWN\", \"data\": "     \
	"{\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n"

/*
 * The fake server, in a forked child. Its helpers return false on any surprise, and the child's exit status, checked
 * by the parent, says whether the server saw what it expected.
 */
struct server {
	int fd;
	struct qmp_reader *reader;
};

static bool srv_send(struct server *s, const char *line)
{
	size_t n = strlen(line);

	while (n > 0) {
		ssize_t k = write(s->fd, line, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		line += k;
		n -= (size_t)k;
	}
	return true;
}

/* Reads the next command; if name is not NULL it must be that one. NULL at EOF or on anything else. */
static struct qmp_msg *srv_command(struct server *s, const char *name)
{
	for (;;) {
		struct qmp_msg *m = NULL;
		char buf[65536];
		ssize_t n;
		int k = qmp_reader_next(s->reader, &m);

		if (k == 1) {
			if (m->type == QMP_MSG_COMMAND && (!name || strcmp(m->name, name) == 0))
				return m;
			qmp_msg_free(m);
			return NULL;
		}
		if (k < 0)
			return NULL;
		n = read(s->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (qmp_reader_feed(s->reader, buf, (size_t)n) < 0)
			return NULL;
	}
}

/* Answers a command with {"return": value, "id": <its id>}, value given as JSON text (NULL: {}). */
static bool srv_return(struct server *s, struct qmp_msg *cmd, const char *value)
{
	struct json_object *v = value ? json_tokener_parse(value) : NULL;
	char *line = NULL;
	bool ok;

	ok = qmp_encode_return(cmd->id, v, &line) == 0 && srv_send(s, line);
	free(line);
	json_object_put(v);
	qmp_msg_free(cmd);
	return ok;
}

static bool srv_error(struct server *s, struct qmp_msg *cmd, const char *class, const char *desc)
{
	char *line = NULL;
	bool ok;

	ok = qmp_encode_error(cmd->id, class, desc, &line) == 0 && srv_send(s, line);
	free(line);
	qmp_msg_free(cmd);
	return ok;
}

/* Greeting and qmp_capabilities, as QEMU does them. */
static bool srv_handshake(struct server *s)
{
	struct qmp_msg *m;

	if (!srv_send(s, GREETING))
		return false;
	m = srv_command(s, "qmp_capabilities");
	return m && !m->data && srv_return(s, m, NULL);
}

/*
 * Waits for the client to close its end, ignoring what it still sends, so that nothing the server sent is lost to an
 * early close.
 */
static bool srv_wait_eof(struct server *s)
{
	struct qmp_msg *m;

	while ((m = srv_command(s, NULL)))
		qmp_msg_free(m);
	return true;
}

static void msleep(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

typedef bool (*server_fn)(struct server *s);

struct fake {
	pid_t pid;
	int fd;
};

static struct fake fake_start(server_fn fn)
{
	struct fake f;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f.pid = fork();
	assert_true(f.pid >= 0);
	if (f.pid == 0) {
		struct server s = { .fd = sv[1] };
		bool ok;

		/* Never outlive the test, never hang it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(30);
		close(sv[0]);
		ok = qmp_reader_new(16 * 1024 * 1024, &s.reader) == 0 && fn(&s);
		qmp_reader_free(s.reader);
		_exit(ok ? 0 : 1);
	}
	close(sv[1]);
	f.fd = sv[0];
	return f;
}

/* Closes the client's end and checks the server was content. */
static void fake_finish(struct fake *f)
{
	int status;

	if (f->fd >= 0)
		close(f->fd);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("fake QMP server failed (status 0x%x)", status);
}

static struct qmp_conn *conn_new(int fd)
{
	struct qmp_conn *c = NULL;

	assert_int_equal(qmp_conn_new(fd, &c), 0);
	assert_non_null(c);
	return c;
}

static void expect_event(struct qmp_conn *c, const char *name)
{
	struct qmp_msg *m = NULL;
	int k = qmp_conn_next_event(c, deadline_after(5 * USEC_PER_SEC), &m);

	if (k != 0)
		fail_msg("qmp_conn_next_event() = %d (%s), expected %s", k, qmp_conn_error(c), name);
	assert_int_equal(m->type, QMP_MSG_EVENT);
	assert_string_equal(m->name, name);
	qmp_msg_free(m);
}

static bool srv_events_then_reply(struct server *s)
{
	struct qmp_msg *m;

	if (!srv_handshake(s))
		return false;
	m = srv_command(s, "query-status");
	if (!m || !srv_send(s, EV_STOP) || !srv_send(s, EV_RESUME))
		return false;
	if (!srv_return(s, m, "{\"status\": \"running\", \"singlestep\": false, \"running\": true}"))
		return false;
	m = srv_command(s, "no-such-command");
	return m && srv_error(s, m, "CommandNotFound", "The command no-such-command has not been found") &&
	       srv_wait_eof(s);
}

static void run_events_then_reply(bool nonblocking)
{
	struct fake f = fake_start(srv_events_then_reply);
	struct qmp_conn *c = conn_new(f.fd);
	struct qmp_msg *greeting = NULL, *reply = NULL;
	struct json_object *v;

	if (nonblocking)
		assert_int_equal(fcntl(f.fd, F_SETFL, fcntl(f.fd, F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), &greeting), 0);
	assert_int_equal(greeting->type, QMP_MSG_GREETING);
	assert_true(json_object_object_get_ex(greeting->data, "version", &v));
	qmp_msg_free(greeting);
	assert_int_equal(qmp_conn_queued_events(c), 0);

	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline_after(5 * USEC_PER_SEC), &reply), 0);
	assert_int_equal(reply->type, QMP_MSG_RETURN);
	assert_true(json_object_object_get_ex(reply->data, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	qmp_msg_free(reply);
	assert_int_equal(qmp_conn_queued_events(c), 2);

	/* An error reply is still a reply. */
	assert_int_equal(qmp_conn_execute(c, "no-such-command", NULL, USEC_INFINITY, &reply), 0);
	assert_int_equal(reply->type, QMP_MSG_ERROR);
	assert_string_equal(reply->error_class, "CommandNotFound");
	qmp_msg_free(reply);

	expect_event(c, "STOP");
	assert_int_equal(qmp_conn_queued_events(c), 1);
	expect_event(c, "RESUME");
	assert_int_equal(qmp_conn_queued_events(c), 0);
	assert_int_equal(qmp_client_pending(qmp_conn_client(c)), 0);
	qmp_conn_free(c);
	fake_finish(&f);
}

static void test_conn_execute_with_events(void **state)
{
	(void)state;
	run_events_then_reply(false);
}

static void test_conn_nonblocking_fd(void **state)
{
	(void)state;
	run_events_then_reply(true);
}

static bool srv_silent(struct server *s)
{
	return srv_handshake(s) && srv_wait_eof(s);
}

static void test_conn_timeout(void **state)
{
	struct fake f = fake_start(srv_silent);
	struct qmp_conn *c = conn_new(f.fd);
	struct qmp_msg *m = (struct qmp_msg *)&m;
	uint64_t start, deadline;

	(void)state;
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);

	start = now_usec();
	deadline = start + 200 * USEC_PER_MSEC;
	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline, &m), -ETIMEDOUT);
	assert_true(now_usec() >= deadline);
	assert_true(now_usec() < start + 5 * USEC_PER_SEC);
	assert_ptr_equal(m, (struct qmp_msg *)&m);
	assert_string_equal(qmp_conn_error(c), "timed out waiting for the reply to query-status");
	/* The command is forgotten, so its reply, if it ever came, would be dropped. */
	assert_int_equal(qmp_client_pending(qmp_conn_client(c)), 0);

	start = now_usec();
	deadline = start + 150 * USEC_PER_MSEC;
	assert_int_equal(qmp_conn_next_event(c, deadline, &m), -ETIMEDOUT);
	assert_true(now_usec() >= deadline);
	assert_ptr_equal(m, (struct qmp_msg *)&m);

	/* A deadline in the past only takes what is already there. */
	start = now_usec();
	assert_int_equal(qmp_conn_next_event(c, 0, &m), -ETIMEDOUT);
	assert_true(now_usec() - start < USEC_PER_SEC);
	qmp_conn_free(c);
	fake_finish(&f);
}

static bool srv_late_reply(struct server *s)
{
	struct qmp_msg *a, *b;

	if (!srv_handshake(s))
		return false;
	a = srv_command(s, "slow");
	msleep(300);
	if (!a || !srv_return(s, a, "\"a\""))
		return false;
	b = srv_command(s, "fast");
	return b && srv_return(s, b, "\"b\"") && srv_wait_eof(s);
}

/* A reply that comes after its command timed out is dropped, and not mistaken for the next command's. */
static void test_conn_late_reply(void **state)
{
	struct fake f = fake_start(srv_late_reply);
	struct qmp_conn *c = conn_new(f.fd);
	struct qmp_msg *m = NULL;

	(void)state;
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_execute(c, "slow", NULL, deadline_after(100 * USEC_PER_MSEC), &m), -ETIMEDOUT);
	assert_int_equal(qmp_conn_execute(c, "fast", NULL, deadline_after(5 * USEC_PER_SEC), &m), 0);
	assert_string_equal(json_object_get_string(m->data), "b");
	assert_int_equal(qmp_client_dropped(qmp_conn_client(c)), 1);
	qmp_msg_free(m);
	qmp_conn_free(c);
	fake_finish(&f);
}

static bool srv_close_at_once(struct server *s)
{
	(void)s;
	return true;
}

static bool srv_greeting_then_close(struct server *s)
{
	return srv_send(s, GREETING);
}

static bool srv_close_after_command(struct server *s)
{
	struct qmp_msg *m;

	if (!srv_handshake(s))
		return false;
	m = srv_command(s, "query-status");
	qmp_msg_free(m);
	return m != NULL;
}

/* quit as some QEMU versions do it: SHUTDOWN, then the socket closes before the reply. */
static bool srv_quit_without_reply(struct server *s)
{
	struct qmp_msg *m;

	if (!srv_handshake(s))
		return false;
	m = srv_command(s, "quit");
	qmp_msg_free(m);
	return m && srv_send(s, EV_SHUTDOWN);
}

static void test_conn_eof(void **state)
{
	struct fake f;
	struct qmp_conn *c;
	struct qmp_msg *m = NULL;

	(void)state;
	f = fake_start(srv_close_at_once);
	c = conn_new(f.fd);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	assert_null(m);
	qmp_conn_free(c);
	fake_finish(&f);

	f = fake_start(srv_greeting_then_close);
	c = conn_new(f.fd);
	/* The greeting arrives, then EOF while waiting for the capabilities reply (or the write fails first). */
	int k = qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), &m);
	assert_true(k == -ECONNRESET || k == -EPIPE);
	assert_null(m);
	qmp_conn_free(c);
	fake_finish(&f);

	f = fake_start(srv_close_after_command);
	c = conn_new(f.fd);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	assert_string_equal(qmp_conn_error(c), "QMP peer closed the connection");
	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	assert_int_equal(qmp_conn_next_event(c, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	assert_null(m);
	qmp_conn_free(c);
	fake_finish(&f);

	f = fake_start(srv_quit_without_reply);
	c = conn_new(f.fd);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_execute(c, "quit", NULL, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	assert_int_equal(qmp_conn_queued_events(c), 1);
	expect_event(c, "SHUTDOWN");
	assert_int_equal(qmp_conn_next_event(c, deadline_after(5 * USEC_PER_SEC), &m), -ECONNRESET);
	qmp_conn_free(c);
	fake_finish(&f);
}

/* A peer that is gone gives -EPIPE on write, not a SIGPIPE that would kill this test. */
static void test_conn_epipe(void **state)
{
	struct fake f = fake_start(srv_handshake);
	struct qmp_conn *c = conn_new(f.fd);
	struct qmp_msg *m = NULL;
	int status;

	(void)state;
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(waitpid(f.pid, &status, 0), f.pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline_after(5 * USEC_PER_SEC), &m), -EPIPE);
	assert_null(m);
	qmp_conn_free(c);
	close(f.fd);
}

static bool srv_event_first(struct server *s)
{
	return srv_send(s, EV_STOP) && srv_wait_eof(s);
}

static bool srv_reply_first(struct server *s)
{
	return srv_send(s, "{\"return\": {}}\r\n") && srv_wait_eof(s);
}

static bool srv_garbage_first(struct server *s)
{
	return srv_send(s, "QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ") && srv_wait_eof(s);
}

static bool srv_capabilities_error(struct server *s)
{
	struct qmp_msg *m;

	if (!srv_send(s, GREETING))
		return false;
	m = srv_command(s, "qmp_capabilities");
	return m &&
	       srv_error(s, m, "CommandNotFound", "Capabilities negotiation is already complete, command ignored") &&
	       srv_wait_eof(s);
}

static void test_conn_eproto(void **state)
{
	static const struct {
		server_fn fn;
		const char *error;
	} cases[] = {
		{ srv_event_first, "expected the QMP greeting, got event STOP" },
		{ srv_reply_first, "expected the QMP greeting, got a reply" },
		{ srv_garbage_first, "expected the QMP greeting: invalid JSON at byte 0: " },
		{ srv_capabilities_error, "qmp_capabilities failed: CommandNotFound: Capabilities negotiation" },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct fake f = fake_start(cases[i].fn);
		struct qmp_conn *c = conn_new(f.fd);
		struct qmp_msg *m = NULL;

		assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), &m), -EPROTO);
		assert_null(m);
		if (strncmp(qmp_conn_error(c), cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("error \"%s\", expected \"%s...\"", qmp_conn_error(c), cases[i].error);
		qmp_conn_free(c);
		fake_finish(&f);
	}
}

static bool srv_event_later(struct server *s)
{
	if (!srv_handshake(s))
		return false;
	msleep(100);
	return srv_send(s, EV_POWERDOWN) && srv_wait_eof(s);
}

static void test_conn_wait_for_event(void **state)
{
	struct fake f = fake_start(srv_event_later);
	struct qmp_conn *c = conn_new(f.fd);

	(void)state;
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	expect_event(c, "POWERDOWN");
	qmp_conn_free(c);
	fake_finish(&f);
}

#define BIG (4 * 1024 * 1024)

static bool srv_big(struct server *s)
{
	struct qmp_msg *m;
	struct json_object *v;
	char len[32];

	if (!srv_handshake(s))
		return false;
	m = srv_command(s, "echo-length");
	if (!m || !json_object_object_get_ex(m->data, "blob", &v))
		return false;
	snprintf(len, sizeof(len), "%d", json_object_get_string_len(v));
	return srv_return(s, m, len) && srv_wait_eof(s);
}

/* A command far bigger than the socket buffer goes out in many partial writes. */
static void test_conn_big_command(void **state)
{
	struct fake f = fake_start(srv_big);
	struct qmp_conn *c = conn_new(f.fd);
	struct json_object *args = json_object_new_object();
	char *blob = malloc(BIG + 1);
	struct qmp_msg *m = NULL;

	(void)state;
	memset(blob, 'b', BIG);
	blob[BIG] = '\0';
	json_object_object_add(args, "blob", json_object_new_string(blob));
	free(blob);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_execute(c, "echo-length", args, deadline_after(30 * USEC_PER_SEC), &m), 0);
	assert_int_equal(json_object_get_int(m->data), BIG);
	qmp_msg_free(m);
	json_object_put(args);
	qmp_conn_free(c);
	fake_finish(&f);
}

/*
 * Not a socket: a FIFO opened read-write loops back to itself, so the greeting and the reply are put in first and
 * the handshake works through read() and write(); the command it wrote is then read back.
 */
static void test_conn_not_socket(void **state)
{
	char dir[] = "/tmp/test_qmp_conn.XXXXXX", path[64];
	struct qmp_conn *c;
	struct qmp_msg *m = NULL;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(write(fd, GREETING "{\"return\": {}, \"id\": 1}\r\n", strlen(GREETING) + 25),
			 strlen(GREETING) + 25);

	c = conn_new(fd);
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_next_event(c, deadline_after(5 * USEC_PER_SEC), &m), -EBADMSG);
	assert_string_equal(qmp_conn_error(c), "not a QMP message for a client: a command");
	qmp_conn_free(c);
	close(fd);
}

/* Finds an executable in $PATH, as execvp() would. */
static char *find_program(const char *name)
{
	const char *p = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";

	while (*p) {
		size_t n = strcspn(p, ":");
		char *file = NULL;

		if (asprintf(&file, "%.*s/%s", (int)n, p, name) < 0)
			return NULL;
		if (access(file, X_OK) == 0)
			return file;
		free(file);
		p += n + (p[n] == ':');
	}
	return NULL;
}

static bool reap(pid_t pid, uint64_t deadline, int *ret_status)
{
	for (;;) {
		pid_t k = waitpid(pid, ret_status, WNOHANG);

		if (k == pid)
			return true;
		if (k < 0 || now_usec() >= deadline)
			return false;
		msleep(20);
	}
}

/* The real thing: QEMU 7.2 with its QMP monitor on one end of a socketpair passed by fd, as vgpuvm runs it. */
static void test_conn_real_qemu(void **state)
{
	_cleanup_free_ char *qemu = find_program("qemu-system-x86_64");
	struct qmp_msg *greeting = NULL, *m = NULL;
	struct json_object *v;
	struct qmp_conn *c;
	int sv[2], status, k;
	pid_t pid;

	(void)state;
	if (!qemu)
		fail_msg("qemu-system-x86_64 not found in PATH; this test needs QEMU (7.2) installed");

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char chardev[64];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The fd QEMU is to use must survive exec; the other one must not leak into QEMU. */
		if (fcntl(sv[1], F_SETFD, 0) < 0)
			_exit(127);
		snprintf(chardev, sizeof(chardev), "socket,id=qmp,fd=%d", sv[1]);
		execl(qemu, qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-m", "64", "-chardev", chardev,
		      "-mon", "chardev=qmp,mode=control", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	c = conn_new(sv[0]);

	k = qmp_conn_handshake(c, deadline_after(30 * USEC_PER_SEC), &greeting);
	if (k < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("handshake with %s failed: %d (%s)", qemu, k, qmp_conn_error(c));
	}
	assert_true(json_object_object_get_ex(greeting->data, "version", &v));
	assert_true(json_object_object_get_ex(v, "qemu", &v));
	assert_true(json_object_object_get_ex(v, "major", &v));
	assert_true(json_object_get_int(v) >= 7);
	qmp_msg_free(greeting);

	assert_int_equal(qmp_conn_execute(c, "query-status", NULL, deadline_after(10 * USEC_PER_SEC), &m), 0);
	assert_int_equal(m->type, QMP_MSG_RETURN);
	assert_true(json_object_object_get_ex(m->data, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(m->data, "running", &v));
	assert_true(json_object_get_boolean(v));
	qmp_msg_free(m);
	m = NULL;

	/* quit: the reply, or EOF if QEMU closes first; SHUTDOWN is queued either way. */
	k = qmp_conn_execute(c, "quit", NULL, deadline_after(10 * USEC_PER_SEC), &m);
	if (k != 0 && k != -ECONNRESET)
		fail_msg("quit: %d (%s)", k, qmp_conn_error(c));
	if (k == 0) {
		assert_int_equal(m->type, QMP_MSG_RETURN);
		qmp_msg_free(m);
	}
	for (;;) {
		k = qmp_conn_next_event(c, deadline_after(10 * USEC_PER_SEC), &m);
		if (k < 0)
			fail_msg("no SHUTDOWN event after quit: %d (%s)", k, qmp_conn_error(c));
		if (strcmp(m->name, "SHUTDOWN") == 0)
			break;
		qmp_msg_free(m);
	}
	assert_true(json_object_object_get_ex(m->data, "guest", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(m->data, "reason", &v));
	assert_string_equal(json_object_get_string(v), "host-qmp-quit");
	qmp_msg_free(m);
	qmp_conn_free(c);
	close(sv[0]);

	if (!reap(pid, deadline_after(10 * USEC_PER_SEC), &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("QEMU did not exit after quit");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Sends line in one sendmsg(), with fds (n of them, up to 2) in one SCM_RIGHTS message. */
static bool srv_send_fds(struct server *s, const char *line, const int *fds, size_t n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control = {};
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(s->fd, &msg, 0) == (ssize_t)strlen(line);
}

/* A reply with two fds (the client keeps the newer), then a reply with none, then an event with one before a reply. */
static bool srv_fds(struct server *s)
{
	int pipes[2], r;
	struct qmp_msg *m;
	char *line = NULL;

	if (!srv_handshake(s) || pipe(pipes) < 0)
		return false;
	m = srv_command(s, "screenshot");
	if (!m)
		return false;
	r = qmp_encode_return(m->id, NULL, &line);
	qmp_msg_free(m);
	if (r < 0 || !srv_send_fds(s, line, pipes, 2))
		return false;
	free(line);
	m = srv_command(s, "status");
	if (!m || !srv_return(s, m, NULL))
		return false;
	m = srv_command(s, "more");
	return m && srv_send_fds(s, EV_STOP, pipes, 1) && srv_return(s, m, NULL) && srv_wait_eof(s);
}

static void test_conn_receives_fds(void **state)
{
	struct fake f = fake_start(srv_fds);
	struct qmp_conn *c = conn_new(f.fd);
	struct qmp_msg *reply = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(qmp_conn_handshake(c, deadline_after(5 * USEC_PER_SEC), NULL), 0);
	assert_int_equal(qmp_conn_take_fd(c), -ENOENT);
	assert_int_equal(qmp_conn_execute(c, "screenshot", NULL, deadline_after(5 * USEC_PER_SEC), &reply), 0);
	qmp_msg_free(reply);
	/* The newest of the two is kept (the write end), close-on-exec; the other was closed. */
	fd = qmp_conn_take_fd(c);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	assert_int_equal(qmp_conn_take_fd(c), -ENOENT);
	assert_int_equal(qmp_conn_execute(c, "status", NULL, deadline_after(5 * USEC_PER_SEC), &reply), 0);
	qmp_msg_free(reply);
	assert_int_equal(qmp_conn_take_fd(c), -ENOENT);
	/* One that comes with an event is held until taken, or closed with the connection. */
	assert_int_equal(qmp_conn_execute(c, "more", NULL, deadline_after(5 * USEC_PER_SEC), &reply), 0);
	qmp_msg_free(reply);
	expect_event(c, "STOP");
	fd = qmp_conn_take_fd(c);
	assert_true(fd >= 0);
	close(fd);
	qmp_conn_free(c);
	fake_finish(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_execute_with_events),
		cmocka_unit_test(test_conn_receives_fds),
		cmocka_unit_test(test_conn_nonblocking_fd),
		cmocka_unit_test(test_conn_timeout),
		cmocka_unit_test(test_conn_late_reply),
		cmocka_unit_test(test_conn_eof),
		cmocka_unit_test(test_conn_epipe),
		cmocka_unit_test(test_conn_eproto),
		cmocka_unit_test(test_conn_wait_for_event),
		cmocka_unit_test(test_conn_big_command),
		cmocka_unit_test(test_conn_not_socket),
		cmocka_unit_test(test_conn_real_qemu),
	};

	return cmocka_run_group_tests_name("qmp_conn", tests, NULL, NULL);
}
