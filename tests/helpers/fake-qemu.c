/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for qemu-system-x86_64, for the few behaviours a real QEMU cannot be made to show on demand: one that
 * ignores quit and SIGTERM, one that never greets, one that talks garbage, one that crashes, one that exits early.
 * vgpuvm starts it exactly as it starts QEMU (whatever arguments, the QMP socket on fd 3), and its environment picks
 * the behaviour:
 *
 *   FAKE_QEMU_MODE=stubborn                 greets, answers qmp_capabilities, query-status ("running") and
 *                                           system_powerdown (a POWERDOWN event and a return, nothing more), never
 *                                           answers quit, ignores SIGTERM, SIGINT and SIGHUP: only SIGKILL ends it
 *   FAKE_QEMU_MODE=silent                   never greets; reads fd 3 and says nothing; dies on SIGTERM as usual
 *   FAKE_QEMU_MODE=garbage                  writes non-JSON lines and then 2 MiB without a newline, then waits
 *   FAKE_QEMU_MODE=crash                    greets, answers qmp_capabilities, answers the next command (query-status
 *                                           says "running") and then exits with status 3
 *   FAKE_QEMU_MODE="exit-after-greeting N"  greets, then exits with status N (also "exit-after-greeting:N"; default 1)
 *
 * A first argument --fake-qemu-mode=MODE overrides the environment (for running it by hand). FAKE_QEMU_PIDFILE, if
 * set, names a file to write the pid to. Everything it receives, and its argv, goes to stderr, one line each, prefixed
 * "fake-qemu: ", so that tests can see what the supervisor sent. It never sleeps: it only ever waits on fd 3 or for a
 * signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/macro.h"

#define QMP_FD 3
#define GARBAGE_LINE_SIZE (2 * 1024 * 1024)

/* What QEMU 7.2 from Debian 12 says first, byte for byte. */
#define GREETING                                                                                                       \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian "       \
	"1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

enum fake_mode {
	MODE_STUBBORN,
	MODE_SILENT,
	MODE_GARBAGE,
	MODE_CRASH,
	MODE_EXIT_AFTER_GREETING,
	MODE_MAX,
};

struct fake {
	enum fake_mode mode;
	int exit_status;
	bool negotiated;
};

static void say(const char *fmt, ...) _printf_(1, 2);

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("fake-qemu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int qmp_send(const char *msg)
{
	return write_all(QMP_FD, msg, strlen(msg));
}

static const char *json_plain(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The id is echoed back verbatim; QEMU leaves the member out when the command had none. */
static int qmp_reply(const char *member_and_value, struct json_object *id)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	if (id)
		r = asprintf(&msg, "{%s, \"id\": %s}\r\n", member_and_value, json_plain(id));
	else
		r = asprintf(&msg, "{%s}\r\n", member_and_value);
	if (r < 0)
		return -ENOMEM;
	return qmp_send(msg);
}

static int qmp_error(const char *class, const char *desc, struct json_object *id)
{
	_cleanup_free_ char *m = NULL;

	if (asprintf(&m, "\"error\": {\"class\": \"%s\", \"desc\": \"%s\"}", class, desc) < 0)
		return -ENOMEM;
	return qmp_reply(m, id);
}

static int qmp_event(const char *name)
{
	char msg[256];
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(msg, sizeof(msg), "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}, \"event\": \"%s\"}\r\n",
		 (long long)tv.tv_sec, (long)tv.tv_usec, name);
	return qmp_send(msg);
}

/*
 * Answers one command the way QEMU 7.2 does, as far as these modes go. Returns 1 when the fake should exit now (the
 * crash mode, after its one answer), 0 to go on, or a negative errno.
 */
static int handle_command(struct fake *f, struct json_object *cmd)
{
	struct json_object *execute = NULL, *id = NULL;
	const char *name;
	int r;

	say("<- %s", json_plain(cmd));
	if (!json_object_is_type(cmd, json_type_object))
		return qmp_error("GenericError", "QMP input must be a JSON object", NULL);
	json_object_object_get_ex(cmd, "id", &id);
	if (!json_object_object_get_ex(cmd, "execute", &execute) &&
	    !json_object_object_get_ex(cmd, "exec-oob", &execute))
		return qmp_error("GenericError", "QMP input lacks member 'execute'", id);
	if (!json_object_is_type(execute, json_type_string))
		return qmp_error("GenericError", "QMP input member 'execute' must be a string", id);
	name = json_object_get_string(execute);

	if (strcmp(name, "qmp_capabilities") == 0) {
		if (f->negotiated)
			return qmp_error("CommandNotFound",
					 "Capabilities negotiation is already complete, command ignored", id);
		f->negotiated = true;
		return qmp_reply("\"return\": {}", id);
	}
	if (!f->negotiated)
		return qmp_error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'", id);

	if (strcmp(name, "query-status") == 0) {
		r = qmp_reply("\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}", id);
	} else if (strcmp(name, "system_powerdown") == 0) {
		/* QEMU 7.2 was seen to emit the event before the return; a client must cope with either order. */
		r = qmp_event("POWERDOWN");
		if (r >= 0)
			r = qmp_reply("\"return\": {}", id);
	} else if (strcmp(name, "quit") == 0 && f->mode == MODE_STUBBORN) {
		say("ignoring quit");
		r = 0;
	} else {
		_cleanup_free_ char *desc = NULL;

		if (asprintf(&desc, "The command %s has not been found", name) < 0)
			return -ENOMEM;
		r = qmp_error("CommandNotFound", desc, id);
	}
	if (r < 0)
		return r;
	return f->mode == MODE_CRASH ? 1 : 0;
}

/*
 * Reads commands from fd 3 until it closes. QMP does not promise one command per line, so the input goes through
 * json-c's incremental tokener: bytes in, complete objects out. Returns 1 if a command asked for an exit, 0 at EOF.
 */
static int serve(struct fake *f)
{
	struct json_tokener *tok = json_tokener_new();
	char buf[65536];
	int r = 0;

	if (!tok)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(QMP_FD, buf, sizeof(buf));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		while (off < (size_t)n) {
			struct json_object *obj = json_tokener_parse_ex(tok, buf + off, (int)(n - off));
			enum json_tokener_error jerr = json_tokener_get_error(tok);

			if (obj) {
				off += json_tokener_get_parse_end(tok);
				json_tokener_reset(tok);
				r = handle_command(f, obj);
				json_object_put(obj);
				if (r != 0)
					goto out;
				continue;
			}
			if (jerr == json_tokener_continue)
				break;
			/* Like QEMU: say so, and start afresh after the bad input. */
			say("JSON parse error: %s", json_tokener_error_desc(jerr));
			json_tokener_reset(tok);
			r = qmp_error("GenericError", "JSON parse error", NULL);
			if (r < 0)
				goto out;
			break;
		}
	}
out:
	json_tokener_free(tok);
	return r;
}

static int send_garbage(void)
{
	static const char lines[] = "qemu-system-x86_64: this is not QMP\r\n"
				    "<html><body>502 Bad Gateway</body></html>\r\n"
				    "\x01\x02\x03\x7f binary \xff\xfe\r\n"
				    "}{ ][ ,,, :\r\n";
	_cleanup_free_ char *big = malloc(GARBAGE_LINE_SIZE);
	int r;

	if (!big)
		return -ENOMEM;
	memset(big, 'x', GARBAGE_LINE_SIZE);
	r = write_all(QMP_FD, lines, sizeof(lines) - 1);
	if (r < 0)
		return r;
	/* This blocks until the supervisor reads it all, or fails once it closes the socket: both are fine. */
	return write_all(QMP_FD, big, GARBAGE_LINE_SIZE);
}

static int parse_mode(const char *s, struct fake *f)
{
	static const char *const names[MODE_MAX] = {
		[MODE_STUBBORN] = "stubborn",
		[MODE_SILENT] = "silent",
		[MODE_GARBAGE] = "garbage",
		[MODE_CRASH] = "crash",
		[MODE_EXIT_AFTER_GREETING] = "exit-after-greeting",
	};

	for (int m = 0; m < MODE_MAX; m++) {
		size_t len = strlen(names[m]);
		char *end;

		if (strncmp(s, names[m], len) != 0)
			continue;
		f->mode = m;
		f->exit_status = 1;
		if (s[len] == '\0')
			return 0;
		if (m != MODE_EXIT_AFTER_GREETING || !strchr(" :=", s[len]))
			continue;
		errno = 0;
		f->exit_status = (int)strtol(s + len + 1, &end, 10);
		if (errno || end == s + len + 1 || *end || f->exit_status < 0 || f->exit_status > 255)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/* Blocks until a signal ends the process. */
static void __attribute__((noreturn)) wait_forever(void)
{
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct fake f = { .mode = MODE_STUBBORN };
	const char *mode = getenv("FAKE_QEMU_MODE");
	const char *pidfile = getenv("FAKE_QEMU_PIDFILE");
	struct stat st;
	int r;

	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc > 1 && strncmp(argv[1], "--fake-qemu-mode=", 17) == 0)
		mode = argv[1] + 17;
	if (!mode || parse_mode(mode, &f) < 0) {
		say("FAKE_QEMU_MODE must be stubborn, silent, garbage, crash or \"exit-after-greeting N\", not '%s'",
		    mode ?: "");
		return 2;
	}
	if (fstat(QMP_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		say("fd %d is not a socket: start me with the QMP socket on fd 3", QMP_FD);
		return 2;
	}
	say("mode %s, pid %d", mode, getpid());
	for (int i = 0; i < argc; i++)
		say("argv[%d] = %s", i, argv[i]);
	if (pidfile) {
		FILE *p = fopen(pidfile, "we");

		if (!p || fprintf(p, "%d\n", getpid()) < 0 || fclose(p) != 0) {
			say("cannot write %s: %m", pidfile);
			return 2;
		}
	}

	/* A supervisor that hangs up must not kill us with SIGPIPE: a write error is enough. */
	signal(SIGPIPE, SIG_IGN);
	if (f.mode == MODE_STUBBORN) {
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
	}

	switch (f.mode) {
	case MODE_SILENT: {
		char buf[4096];
		ssize_t n;

		while ((n = read(QMP_FD, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno != EINTR)
				break;
			if (n > 0)
				say("<- (%zd bytes, not answered) %.*s", n, (int)(buf[n - 1] == '\n' ? n - 1 : n), buf);
		}
		say("fd 3 closed");
		wait_forever();
	}
	case MODE_GARBAGE:
		r = send_garbage();
		say("garbage sent%s", r < 0 ? " in part (the socket was closed)" : "");
		wait_forever();
	case MODE_EXIT_AFTER_GREETING:
		if (qmp_send(GREETING) < 0)
			say("cannot send the greeting: %m");
		say("exiting with status %d after the greeting", f.exit_status);
		return f.exit_status;
	case MODE_STUBBORN:
	case MODE_CRASH:
	case MODE_MAX:
		break;
	}

	r = qmp_send(GREETING);
	if (r >= 0)
		r = serve(&f);
	if (r == 1) {
		say("crashing with status 3");
		return 3;
	}
	if (r < 0)
		say("QMP: %s", strerror(-r));
	else
		say("fd 3 closed");
	/* Like a real QEMU, going on without a monitor; only a signal ends it (for stubborn, only SIGKILL). */
	wait_forever();
}
