/* SPDX-License-Identifier: MIT */
/*
 * Waits, with inotify and a deadline, until a path exists (or with -g, until it is gone), so that shell tests wait for
 * an event instead of sleeping in a loop. The path's directory must exist; the entry itself is tested with lstat, so a
 * symbolic link counts as soon as it is there, whatever it points to.
 *
 *   wait-path [-g] [-t SECONDS] PATH      exit 0 when the condition holds, 1 on timeout, 2 on error, 64 on bad usage
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/time-util.h"

static bool path_present(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int main(int argc, char **argv)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *copy = NULL;
	const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF;
	double timeout = 10;
	bool want_gone = false;
	uint64_t deadline;
	const char *path;
	int c;

	while ((c = getopt(argc, argv, "gt:")) >= 0) {
		switch (c) {
		case 'g':
			want_gone = true;
			break;
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		default:
			return 64;
		}
	}
	if (optind != argc - 1 || timeout <= 0) {
		fprintf(stderr, "Usage: wait-path [-g] [-t SECONDS] PATH\n");
		return 64;
	}
	path = argv[optind];
	copy = strdup(path);
	if (!copy)
		return 2;
	deadline = deadline_after((uint64_t)(timeout * USEC_PER_SEC));

	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0) {
		perror("wait-path: inotify_init1");
		return 2;
	}
	/* The watch goes in before the first look, so that a change between the two cannot be missed. */
	if (inotify_add_watch(fd, dirname(copy), mask) < 0) {
		fprintf(stderr, "wait-path: cannot watch the directory of %s: %m\n", path);
		return 2;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		int r;

		if (path_present(path) != want_gone)
			return 0;
		r = poll(&pfd, 1, deadline_poll_ms(deadline));
		if (r < 0 && errno != EINTR) {
			perror("wait-path: poll");
			return 2;
		}
		if (r == 0) {
			fprintf(stderr, "wait-path: %s still %s after %gs\n", path, want_gone ? "there" : "missing",
				timeout);
			return 1;
		}
		/* What happened does not matter: the next look at the path decides. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
}
