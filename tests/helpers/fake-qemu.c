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
 * In the modes that answer commands, FAKE_QEMU_SHOT picks how it answers screendump (without it, screendump is an
 * unknown command). It keeps the fds that come with add-fd (SCM_RIGHTS, as QEMU does) in fdsets, and screendump's
 * filename must be /dev/fdset/N. What it plants goes to $FAKE_QEMU_SHOT_DIR/screenshot-1.png, where QEMU wrote
 * screenshots before vgpuvm gave it an fd; every answer is {}:
 *
 *   png              writes a small valid PNG into the fd, as QEMU does
 *   path             ignores the fd and writes that PNG to the path
 *   symlink:TARGET   ignores the fd and makes the path a symlink to TARGET (a secret, /dev/zero)
 *   hardlink:TARGET  ignores the fd and makes the path a hard link to TARGET (says so when the kernel refuses)
 *   fifo             ignores the fd and makes the path a FIFO
 *   big              writes the PNG signature into the fd and makes the file 65 MiB long (a hole)
 *   mmap             opens the fd again read-write, maps it shared and writes the PNG through the mapping, which
 *                    it keeps (says so when it cannot)
 *   late             writes the PNG, keeps a copy of the fd, and at each later query-status writes "LATE" over the
 *                    start of the file through it, saying "late write: RESULT"
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
#include <sys/mman.h>
#include <sys/socket.h>
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

#define FDSETS_MAX 8

struct fake {
	enum fake_mode mode;
	int exit_status;
	bool negotiated;
	int msgfd; /* the last fd received and not yet taken by add-fd */
	struct {
		int64_t id;
		int fd;
	} fdsets[FDSETS_MAX];
	int late_fd; /* FAKE_QEMU_SHOT=late: the copy it keeps */
};

/* The smallest PNG there is: 1x1, grey. */
static const unsigned char tiny_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00,
	0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
	0x48, 0xaf, 0xa4, 0x71, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
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
	struct json_object *d = json_object_new_string(desc);
	int r;

	/* desc may hold what a client sent (a command's name): json-c quotes it. */
	r = asprintf(&m, "\"error\": {\"class\": \"%s\", \"desc\": %s}", class, json_plain(d));
	json_object_put(d);
	if (r < 0)
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

static int plant_path(char *buf, size_t size)
{
	const char *dir = getenv("FAKE_QEMU_SHOT_DIR");

	if (!dir)
		return -EINVAL;
	snprintf(buf, size, "%s/screenshot-1.png", dir);
	return 0;
}

/* Answers screendump as FAKE_QEMU_SHOT says, into fd (the fdset's) or at the path. */
static void screendump(struct fake *f, int fd)
{
	const char *how = getenv("FAKE_QEMU_SHOT");
	char path[4096], self[64];
	void *map;
	int rw, r = 0;

	/* The modes that plant something need the directory. */
	if (plant_path(path, sizeof(path)) < 0 &&
	    (strcmp(how, "path") == 0 || strchr(how, ':') || strcmp(how, "fifo") == 0)) {
		say("shot: FAKE_QEMU_SHOT_DIR is not set");
		return;
	}
	if (strcmp(how, "png") == 0 || strcmp(how, "late") == 0) {
		r = write_all(fd, (const char *)tiny_png, sizeof(tiny_png));
		if (strcmp(how, "late") == 0)
			f->late_fd = dup(fd);
	} else if (strcmp(how, "path") == 0) {
		int p = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		r = p < 0 ? -errno : write_all(p, (const char *)tiny_png, sizeof(tiny_png));
		if (p >= 0)
			close(p);
	} else if (strncmp(how, "symlink:", 8) == 0)
		r = symlink(how + 8, path) < 0 ? -errno : 0;
	else if (strncmp(how, "hardlink:", 9) == 0)
		r = link(how + 9, path) < 0 ? -errno : 0;
	else if (strcmp(how, "fifo") == 0)
		r = mkfifo(path, 0666) < 0 ? -errno : 0;
	else if (strcmp(how, "big") == 0) {
		r = write_all(fd, (const char *)tiny_png, 8);
		if (r == 0 && ftruncate(fd, 65 * 1024 * 1024) < 0)
			r = -errno;
	} else if (strcmp(how, "mmap") == 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rw = open(self, O_RDWR | O_CLOEXEC);
		if (rw < 0 || ftruncate(rw, 4096) < 0)
			r = -errno;
		else if ((map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0)) == MAP_FAILED)
			r = -errno;
		else
			memcpy(map, tiny_png, sizeof(tiny_png)); /* and keep the mapping */
		if (rw >= 0)
			close(rw);
	} else {
		say("shot: unknown FAKE_QEMU_SHOT '%s'", how);
		return;
	}
	say("shot %s: %s", how, r < 0 ? strerror(-r) : "done");
}

/* add-fd, remove-fd and screendump over fdsets, as QEMU keeps them. */
static int handle_fd_command(struct fake *f, const char *name, struct json_object *cmd, struct json_object *id)
{
	struct json_object *args = NULL, *v = NULL;
	int64_t set = -1;
	char buf[128];

	json_object_object_get_ex(cmd, "arguments", &args);
	if (args && json_object_object_get_ex(args, "fdset-id", &v))
		set = json_object_get_int64(v);
	if (strcmp(name, "add-fd") == 0) {
		if (f->msgfd < 0)
			return qmp_error("GenericError", "No file descriptor supplied via SCM_RIGHTS", id);
		for (int i = 0; i < FDSETS_MAX; i++)
			if (f->fdsets[i].fd < 0) {
				f->fdsets[i].id = set;
				f->fdsets[i].fd = f->msgfd;
				f->msgfd = -1;
				snprintf(buf, sizeof(buf), "\"return\": {\"fdset-id\": %lld, \"fd\": %d}",
					 (long long)set, f->fdsets[i].fd);
				return qmp_reply(buf, id);
			}
		return qmp_error("GenericError", "too many fdsets", id);
	}
	if (strcmp(name, "screendump") == 0) {
		const char *file =
		    args && json_object_object_get_ex(args, "filename", &v) ? json_object_get_string(v) : "";

		if (sscanf(file, "/dev/fdset/%lld", (long long *)&set) != 1)
			return qmp_error("GenericError", "fake-qemu only writes screenshots to /dev/fdset/N", id);
	}
	for (int i = 0; i < FDSETS_MAX; i++)
		if (f->fdsets[i].fd >= 0 && f->fdsets[i].id == set) {
			if (strcmp(name, "screendump") == 0)
				screendump(f, f->fdsets[i].fd);
			else {
				close(f->fdsets[i].fd);
				f->fdsets[i].fd = -1;
			}
			return qmp_reply("\"return\": {}", id);
		}
	return qmp_error("GenericError", "File descriptor named 'fdset' not found", id);
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
		if (f->late_fd >= 0) {
			ssize_t n = pwrite(f->late_fd, "LATE", 4, 0);
			say("late write: %s", n == 4 ? "written" : n < 0 ? strerror(errno) : "short");
		}
		r = qmp_reply("\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}", id);
	} else if (strcmp(name, "add-fd") == 0 || strcmp(name, "remove-fd") == 0 ||
		   (strcmp(name, "screendump") == 0 && getenv("FAKE_QEMU_SHOT"))) {
		r = handle_fd_command(f, name, cmd, id);
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
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = control.buf,
				      .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(QMP_FD, &msg, MSG_CMSG_CLOEXEC);
		size_t off = 0;

		/* Like QEMU's socket chardev: the fds that came last wait for the command that takes them. */
		for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
					if (f->msgfd >= 0)
						close(f->msgfd);
					memcpy(&f->msgfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					say("received fd %d", f->msgfd);
				}

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
	struct fake f = { .mode = MODE_STUBBORN, .msgfd = -1, .late_fd = -1 };
	const char *mode = getenv("FAKE_QEMU_MODE");
	const char *pidfile = getenv("FAKE_QEMU_PIDFILE");
	struct stat st;
	int r;

	setvbuf(stderr, NULL, _IOLBF, 0);
	for (int i = 0; i < FDSETS_MAX; i++)
		f.fdsets[i].fd = -1;
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
