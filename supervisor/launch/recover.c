/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/owner.h"
#include "supervisor/host/record.h"
#include "supervisor/host/tap.h"
#include "supervisor/launch/recover.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

/*
 * Whether pid is alive and its command line names the mdev (needle is its UUID) or, for a VM without one, the VM
 * (needle is "-name NAME "): a reused pid is somebody else's process.
 */
static bool holds(pid_t pid, const char *needle)
{
	char path[64], buf[65536];
	ssize_t n;
	int fd;

	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "%s/%ld/cmdline", host_proc_root(), (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

/*
 * Deletes the taps the dead supervisor made, in the reverse order of the run. They are not persistent, so they went
 * with the last fd on them; one still there is deleted if it is the one made (its name and index). One made in another
 * network namespace is out of reach from here, and went with its QEMU too.
 */
static int remove_taps(const struct record *rec, char **ret_error)
{
	uint64_t netns = 0;
	int r;

	if (rec->n_taps == 0)
		return 0;
	if (tap_netns(&netns) == 0 && rec->netns && netns != rec->netns)
		return 0;
	for (unsigned i = rec->n_taps; i-- > 0;) {
		r = tap_delete(rec->taps[i].name, rec->taps[i].ifindex);
		if (r < 0)
			return errmsg(ret_error, r, "cannot delete tap %s: %s", rec->taps[i].name, strerror(-r));
	}
	return 0;
}

/* Adds a sentence to what recover() says it did. */
static void append_done(char **done, const char *fmt, ...) _printf_(2, 3);

static void append_done(char **done, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	char *t;
	int r;

	if (!done)
		return;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(&t, "%s%s%s", *done ?: "", *done ? "; " : "", s) < 0)
		return;
	free(*done);
	*done = t;
}

int recover(const char *dir, pid_t *ret_qemu_pid, char **ret_done, char **ret_error)
{
	_cleanup_free_ char *needle = NULL;
	struct record rec;
	int r;

	r = record_read(dir, &rec);
	if (r == -ENOENT)
		return 0;
	if (r == -EPERM)
		/* Not root's (or not this user's) to act on: nothing in it is believed, and it stays for its owner. */
		return errmsg(ret_error, r,
			      "%s/%s is not a record vgpuvm wrote (its owner or mode is wrong); ignored it: "
			      "remove it by hand once you know what made it",
			      dir, RECORD_FILE);
	if (r < 0) {
		/* A torn record tells nothing to undo; keeping it would block the name forever. */
		record_remove(dir);
		return 0;
	}
	if (!rec.uuid[0] && asprintf(&needle, "-name %s ", rec.name) < 0)
		return -ENOMEM;
	if (holds(rec.qemu_pid, needle ?: rec.uuid)) {
		*ret_qemu_pid = rec.qemu_pid;
		return -EBUSY;
	}
	/* A record names the sysfs tree it wrote to; root writes to none that someone else controls. */
	if (rec.uuid[0] && (r = trust_path(rec.sysfs_root, "the record's sysfs_root", ret_error)) < 0)
		return r == -ENOENT ? errmsg(ret_error, r, "the record's sysfs_root %s does not exist", rec.sysfs_root)
				    : r;
	/*
	 * Helpers got the parent-death signal with their supervisor; one that outlived it (stuck, or ignoring SIGTERM)
	 * goes now. Their sockets were pairs, with no path; the VM's state directory stays, as on every way out.
	 */
	for (unsigned i = 0; i < rec.n_helpers; i++)
		if (helper_kill_leftover(rec.helpers[i].pid, rec.helpers[i].start_time) > 0)
			append_done(ret_done, "killed %s (pid %ld) left by supervisor pid %ld", rec.helpers[i].name,
				    (long)rec.helpers[i].pid, (long)rec.supervisor_pid);
	if (rec.state_dir[0])
		append_done(ret_done, "kept the VM's state in %s", rec.state_dir);
	/* What was lent to QEMU's user goes back first, in the reverse order of the run. */
	for (unsigned i = rec.n_owned; i-- > 0;) {
		r = owner_return(&rec.owned[i]);
		if (r > 0)
			continue; /* no longer the device that was lent: left alone */
		if (r < 0) {
			if (ret_error && asprintf(ret_error, "cannot give %s back to uid %ld: %s", rec.owned[i].path,
						  (long)rec.owned[i].uid, strerror(-r)) < 0)
				*ret_error = NULL;
			return r;
		}
	}
	if ((r = remove_taps(&rec, ret_error)) < 0)
		return r;
	if (rec.created && rec.uuid[0]) {
		struct mdev m = { .root = rec.sysfs_root, .created = true, .exists = true };
		_cleanup_free_ char *devpath = NULL;

		memcpy(m.uuid, rec.uuid, sizeof(m.uuid));
		if (asprintf(&devpath, "%s/bus/mdev/devices/%s", rec.sysfs_root, rec.uuid) < 0)
			return -ENOMEM;
		m.path = devpath;
		if (access(devpath, F_OK) == 0) {
			r = mdev_remove(&m, deadline_after(10 * USEC_PER_SEC), ret_error);
			if (r < 0)
				return r;
			append_done(ret_done, "removed mdev %s (type %s) left by supervisor pid %ld", rec.uuid,
				    rec.type, (long)rec.supervisor_pid);
		}
	}
	record_remove(dir);
	return 0;
}
