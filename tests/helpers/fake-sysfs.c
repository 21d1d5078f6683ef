/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the kernel's mdev core, serving a fake sysfs tree (see tests/system/lib/fakesys.bash, which builds
 * it). vgpuvm writes a UUID to a type's "create" file and waits for ROOT/bus/mdev/devices/UUID to appear; it writes
 * "1" to the device's "remove" file and waits for that link to go. This daemon watches the tree with inotify and does
 * to it what the kernel would do to /sys, in the same order, so that the supervisor's real sysfs code runs unchanged.
 *
 *   fake-sysfs ROOT                                  daemon: returns once it is watching, pid in ROOT/.fake-sysfs.pid
 *   fake-sysfs --stop ROOT                           SIGTERM to the daemon, and wait (10 s at most) until it is gone
 *   fake-sysfs --create ROOT PARENTDIR TYPE UUID     one shot: makes the mdev the way the daemon would
 *
 * The pid file stays locked (flock) for as long as the daemon lives, so that a stale pid file, whose pid may belong to
 * someone else by now, is told from a live one without trusting the pid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "util/macro.h"

enum watch_kind {
	WATCH_CLASS,  /* ROOT/class/mdev_bus: new parents appear here as links. */
	WATCH_PARENT, /* A parent device: mdev_supported_types, and the mdevs themselves, appear here. */
	WATCH_TYPES,  /* <parent>/mdev_supported_types: new type directories. */
	WATCH_TYPE,   /* <parent>/mdev_supported_types/<type>: writes to "create". */
	WATCH_DEVICE, /* <parent>/<UUID>: writes to "remove". */
	WATCH_KIND_MAX,
};

struct watch {
	int wd;
	enum watch_kind kind;
	char *path;
};

static char *arg_root;
static int inotify_fd = -1;
static struct watch *watches;
static size_t n_watches;

static void log_msg(const char *fmt, ...) _printf_(1, 2);

/* One line per event on stderr; fakesys_start sends it to ROOT/.fake-sysfs.log, where tests can look. */
static void log_msg(const char *fmt, ...)
{
	char buf[PATH_MAX * 2];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "fake-sysfs[%d]: ", getpid());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	(void)!write(STDERR_FILENO, buf, strlen(buf));
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

/* Reads a small attribute file into buf, without the trailing newline. Returns the length or a negative errno. */
static int read_attr(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return (int)n;
}

static int write_attr(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

static int read_int_attr(const char *path, long *ret)
{
	char buf[32], *end;
	long v;
	int r = read_attr(path, buf, sizeof(buf));

	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int add_to_int_attr(const char *path, long delta)
{
	char buf[32];
	long v;
	int r = read_int_attr(path, &v);

	if (r < 0)
		return r;
	snprintf(buf, sizeof(buf), "%ld\n", v + delta);
	return write_attr(path, buf);
}

/* The part of an absolute path below ROOT, or NULL if it is not below ROOT. */
static const char *below_root(const char *path)
{
	size_t n = strlen(arg_root);

	if (strncmp(path, arg_root, n) != 0 || path[n] != '/')
		return NULL;
	return path + n + 1;
}

/* "../" once for each directory level of a path relative to ROOT: the way back up from a link inside it to ROOT. */
static char *ups_to_root(const char *rel_dir)
{
	size_t levels = 1;
	char *s;

	for (const char *p = rel_dir; *p; p++)
		if (*p == '/')
			levels++;
	s = calloc(levels * 3 + 1, 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < levels; i++)
		strcat(s, "../");
	return s;
}

/* mkdir -p: every directory of path. */
static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* mkdir -p of the directory path is in. */
static int mkdir_p_parent(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash = p ? strrchr(p, '/') : NULL;

	if (!slash)
		return -1;
	*slash = 0;
	return mkdir_p(p);
}

/* The fake VFIO major: any major works, since vgpuvm tells a VFIO node by its class in sysfs, as on a real host. */
#define FAKE_VFIO_MAJOR 511

/*
 * With $VGPUVM_DEV_ROOT set, the group's device node DEVROOT/vfio/N comes and goes with the mdev, a character device
 * root's and mode 0600 as vfio makes it, with its sysfs class link ROOT/dev/char/MAJ:N -> ../../devices/virtual/vfio/N,
 * so that the supervisor's check of what it lends, and the lending itself, can be tested.
 */
static int dev_node(int group, bool create)
{
	const char *dev = getenv("VGPUVM_DEV_ROOT");
	_cleanup_free_ char *p = NULL, *link = NULL, *cls = NULL, *target = NULL;

	if (!dev || !*dev)
		return 0;
	if (asprintf(&p, "%s/vfio/%d", dev, group) < 0 ||
	    asprintf(&link, "%s/dev/char/%d:%d", arg_root, FAKE_VFIO_MAJOR, group) < 0 ||
	    asprintf(&cls, "%s/devices/virtual/vfio/%d", arg_root, group) < 0 ||
	    asprintf(&target, "../../devices/virtual/vfio/%d", group) < 0)
		return -ENOMEM;
	if (!create) {
		unlink(link);
		rmdir(cls);
		return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
	}
	if (mkdir_p(cls) < 0 || mkdir_p_parent(link) < 0)
		return -errno;
	if (symlink(target, link) < 0 && errno != EEXIST)
		return -errno;
	unlink(p);
	if (mknod(p, S_IFCHR | 0600, makedev(FAKE_VFIO_MAJOR, group)) < 0)
		return -errno;
	return chmod(p, 0600) < 0 ? -errno : 0;
}

/* The kernel hands out IOMMU group numbers from an IDA: the smallest free one. */
static int alloc_iommu_group(char **ret_dir, int *ret_n)
{
	_cleanup_free_ char *groups = path_join(arg_root, "kernel/iommu_groups");

	if (!groups)
		return -ENOMEM;
	for (int n = 0; n < 100000; n++) {
		char *dir;

		if (asprintf(&dir, "%s/%d", groups, n) < 0)
			return -ENOMEM;
		if (mkdir(dir, 0755) == 0) {
			*ret_dir = dir;
			*ret_n = n;
			return 0;
		}
		free(dir);
		if (errno != EEXIST)
			return -errno;
	}
	return -ENOSPC;
}

/*
 * Makes the mdev UUID of TYPE under PARENT, in the order the supervisor depends on: the device directory is complete
 * before the ROOT/bus/mdev/devices link appears, because that link appearing is what the supervisor waits for.
 */
static int mdev_create(const char *parent, const char *type, const char *uuid)
{
	_cleanup_free_ char *typedir = NULL, *devdir = NULL, *buslink = NULL, *groupdir = NULL, *p = NULL;
	_cleanup_free_ char *up = NULL, *target = NULL, *avail = NULL;
	const char *rel_parent = below_root(parent);
	int group = -1, r;
	long left;

	if (!rel_parent)
		return -EXDEV;
	if (asprintf(&typedir, "%s/mdev_supported_types/%s", parent, type) < 0 ||
	    asprintf(&devdir, "%s/%s", parent, uuid) < 0 ||
	    asprintf(&buslink, "%s/bus/mdev/devices/%s", arg_root, uuid) < 0 ||
	    asprintf(&avail, "%s/available_instances", typedir) < 0)
		return -ENOMEM;

	r = read_int_attr(avail, &left);
	if (r < 0)
		return r;
	if (left <= 0)
		return -ENOSPC;
	if (access(devdir, F_OK) == 0 || faccessat(AT_FDCWD, buslink, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;

	r = alloc_iommu_group(&groupdir, &group);
	if (r < 0)
		return r;
	p = path_join(groupdir, "devices");
	if (!p)
		return -ENOMEM;
	if (mkdir(p, 0755) < 0)
		return -errno;
	free(steal_pointer(&p));

	if (mkdir(devdir, 0755) < 0)
		return -errno;
	if (asprintf(&target, "../mdev_supported_types/%s", type) < 0 || !(p = path_join(devdir, "mdev_type")))
		return -ENOMEM;
	if (symlink(target, p) < 0)
		return -errno;
	free(steal_pointer(&p));
	free(steal_pointer(&target));

	/* Mode 0200 like the kernel's attribute: only root writes it, and nobody reads it. */
	p = path_join(devdir, "remove");
	if (!p)
		return -ENOMEM;
	r = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0200);
	if (r < 0)
		return -errno;
	close(r);
	free(steal_pointer(&p));

	/* The device is one level below its parent, so one more "../" than the parent needs gets back to ROOT. */
	up = ups_to_root(rel_parent);
	if (!up || asprintf(&target, "../%skernel/iommu_groups/%d", up, group) < 0 ||
	    !(p = path_join(devdir, "iommu_group")))
		return -ENOMEM;
	if (symlink(target, p) < 0)
		return -errno;
	free(steal_pointer(&p));
	free(steal_pointer(&target));

	if (asprintf(&target, "../../../../%s/%s", rel_parent, uuid) < 0 ||
	    asprintf(&p, "%s/devices/%s", groupdir, uuid) < 0)
		return -ENOMEM;
	if (symlink(target, p) < 0)
		return -errno;
	free(steal_pointer(&p));
	free(steal_pointer(&target));

	if (asprintf(&target, "../../../%s", uuid) < 0 || asprintf(&p, "%s/devices/%s", typedir, uuid) < 0)
		return -ENOMEM;
	if (symlink(target, p) < 0)
		return -errno;
	free(steal_pointer(&p));
	free(steal_pointer(&target));

	r = add_to_int_attr(avail, -1);
	if (r < 0)
		return r;
	r = dev_node(group, true);
	if (r < 0)
		return r;

	/* Last: this is the signal. */
	if (asprintf(&target, "../../../%s/%s", rel_parent, uuid) < 0)
		return -ENOMEM;
	if (symlink(target, buslink) < 0)
		return -errno;
	log_msg("created %s (%s, iommu group %d)", uuid, type, group);
	return 0;
}

/* Removes a directory's entries (files and links only, as the device directory holds) and then the directory. */
static int remove_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Undoes mdev_create, in reverse: the ROOT/bus/mdev/devices link goes last, because the supervisor takes it going as
 * the sign that the device is gone. A device that is already gone is not an error, so that a write seen twice (once
 * by the watch, once by the scan after adding it) is harmless.
 */
static int mdev_remove(const char *devdir)
{
	_cleanup_free_ char *parent = strdup(devdir), *p = NULL, *buslink = NULL, *typedir = NULL;
	char type_link[PATH_MAX], group_link[PATH_MAX];
	const char *uuid = strrchr(devdir, '/') + 1;
	const char *type, *group;
	ssize_t n;
	int r;

	if (!parent || !(p = path_join(devdir, "mdev_type")))
		return -ENOMEM;
	n = readlink(p, type_link, sizeof(type_link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	type_link[n] = '\0';
	type = strrchr(type_link, '/') ? strrchr(type_link, '/') + 1 : type_link;
	free(steal_pointer(&p));

	if (!(p = path_join(devdir, "iommu_group")))
		return -ENOMEM;
	n = readlink(p, group_link, sizeof(group_link) - 1);
	group = NULL;
	if (n >= 0) {
		group_link[n] = '\0';
		group = strrchr(group_link, '/') ? strrchr(group_link, '/') + 1 : group_link;
	}
	free(steal_pointer(&p));

	*strrchr(parent, '/') = '\0';
	if (asprintf(&typedir, "%s/mdev_supported_types/%s", parent, type) < 0 ||
	    asprintf(&buslink, "%s/bus/mdev/devices/%s", arg_root, uuid) < 0 ||
	    asprintf(&p, "%s/devices/%s", typedir, uuid) < 0)
		return -ENOMEM;
	unlink(p);
	free(steal_pointer(&p));

	if (group) {
		dev_node(atoi(group), false);
		if (asprintf(&p, "%s/kernel/iommu_groups/%s/devices/%s", arg_root, group, uuid) < 0)
			return -ENOMEM;
		unlink(p);
		*strrchr(p, '/') = '\0';
		rmdir(p);
		*strrchr(p, '/') = '\0';
		rmdir(p);
		free(steal_pointer(&p));
	}

	r = remove_flat_dir(devdir);
	if (r < 0)
		return r;

	if (!(p = path_join(typedir, "available_instances")))
		return -ENOMEM;
	r = add_to_int_attr(p, +1);
	if (r < 0)
		log_msg("cannot update %s: %s", p, strerror(-r));

	if (unlink(buslink) < 0 && errno != ENOENT)
		return -errno;
	log_msg("removed %s (%s)", uuid, type);
	return 0;
}

/* A "create" write: the kernel parses a UUID (a trailing newline is fine) and makes the device, or fails the write. */
static void handle_create(const char *typedir)
{
	_cleanup_free_ char *create = path_join(typedir, "create"), *parent = NULL;
	char buf[128];
	uuid_t u;
	int r;

	if (!create)
		return;
	r = read_attr(create, buf, sizeof(buf));
	if (r <= 0)
		return; /* Empty: our own truncation, or a link we must not follow (fakesys_full_create). */
	/* Truncate first, so that the next write starts from an empty file whatever happens to this one. */
	if (truncate(create, 0) < 0)
		log_msg("truncate %s: %m", create);

	if (uuid_parse(buf, u) < 0) {
		log_msg("invalid UUID '%s' written to %s (the kernel would fail the write with EINVAL)", buf, create);
		return;
	}
	/* The kernel accepts any case and stores the canonical lower-case form. */
	uuid_unparse_lower(u, buf);

	parent = strdup(typedir);
	if (!parent)
		return;
	*strrchr(parent, '/') = '\0';
	*strrchr(parent, '/') = '\0';
	r = mdev_create(parent, strrchr(typedir, '/') + 1, buf);
	if (r == -ENOSPC)
		log_msg("no instance of %s left for %s (the kernel would fail the write with ENOSPC)", typedir, buf);
	else if (r == -EEXIST)
		log_msg("%s exists already (the kernel would fail the write with EEXIST)", buf);
	else if (r < 0)
		log_msg("cannot create %s under %s: %s", buf, typedir, strerror(-r));
}

/* A "remove" write: any non-zero number removes the device, as in the kernel's remove_store(). */
static void handle_remove(const char *devdir)
{
	_cleanup_free_ char *remove = path_join(devdir, "remove");
	char buf[64], *end;
	unsigned long v;
	int r;

	if (!remove)
		return;
	r = read_attr(remove, buf, sizeof(buf));
	if (r <= 0)
		return;
	errno = 0;
	v = strtoul(buf, &end, 0);
	if (errno || *end || v == 0) {
		log_msg("ignoring '%s' written to %s", buf, remove);
		return;
	}
	r = mdev_remove(devdir);
	if (r < 0)
		log_msg("cannot remove %s: %s", devdir, strerror(-r));
}

static struct watch *watch_by_wd(int wd)
{
	for (size_t i = 0; i < n_watches; i++)
		if (watches[i].wd == wd)
			return &watches[i];
	return NULL;
}

static int watch_scan(const char *path, enum watch_kind kind);

/*
 * Adds a watch, then looks at what is already there. In that order nothing is missed: whatever happens after the
 * watch is in place comes as an event, and whatever happened before is found by the scan. Something seen both ways
 * is handled twice, which every handler tolerates.
 */
static int watch_add(const char *path, enum watch_kind kind)
{
	static const uint32_t masks[WATCH_KIND_MAX] = {
		[WATCH_CLASS] = IN_CREATE | IN_MOVED_TO,
		[WATCH_PARENT] = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR,
		[WATCH_TYPES] = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR,
		[WATCH_TYPE] = IN_CLOSE_WRITE | IN_ONLYDIR,
		[WATCH_DEVICE] = IN_CLOSE_WRITE | IN_ONLYDIR,
	};
	struct watch *w;
	int wd;

	wd = inotify_add_watch(inotify_fd, path, masks[kind]);
	if (wd < 0)
		return -errno;
	w = watch_by_wd(wd);
	if (!w) {
		struct watch *n = reallocarray(watches, n_watches + 1, sizeof(*watches));

		if (!n)
			return -ENOMEM;
		watches = n;
		w = &watches[n_watches++];
		w->path = NULL;
	}
	free(w->path);
	w->wd = wd;
	w->kind = kind;
	w->path = strdup(path);
	if (!w->path)
		return -ENOMEM;
	return watch_scan(path, kind);
}

static bool is_uuid(const char *s)
{
	uuid_t u;

	return strlen(s) == 36 && uuid_parse(s, u) == 0;
}

/* What a new entry NAME in a watched directory means, by the kind of directory. */
static void entry_added(const char *dir, enum watch_kind kind, const char *name)
{
	_cleanup_free_ char *p = path_join(dir, name);
	char real[PATH_MAX];
	int r = 0;

	if (!p)
		return;
	switch (kind) {
	case WATCH_CLASS:
		if (!realpath(p, real)) {
			log_msg("cannot resolve %s: %m", p);
			return;
		}
		r = watch_add(real, WATCH_PARENT);
		break;
	case WATCH_PARENT:
		if (strcmp(name, "mdev_supported_types") == 0)
			r = watch_add(p, WATCH_TYPES);
		else if (is_uuid(name))
			r = watch_add(p, WATCH_DEVICE);
		break;
	case WATCH_TYPES:
		r = watch_add(p, WATCH_TYPE);
		break;
	case WATCH_TYPE:
	case WATCH_DEVICE:
	case WATCH_KIND_MAX:
		break;
	}
	/* A directory that went away again before we got to it is no error. */
	if (r < 0 && r != -ENOENT && r != -ENOTDIR)
		log_msg("cannot watch %s: %s", p, strerror(-r));
}

static int watch_scan(const char *path, enum watch_kind kind)
{
	DIR *d;
	struct dirent *de;

	switch (kind) {
	case WATCH_TYPE:
		handle_create(path);
		return 0;
	case WATCH_DEVICE:
		handle_remove(path);
		return 0;
	default:
		break;
	}
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			entry_added(path, kind, de->d_name);
	closedir(d);
	return 0;
}

static void handle_event(const struct inotify_event *ev)
{
	struct watch *w;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost: look at everything again, as at start-up. */
		_cleanup_free_ char *class = path_join(arg_root, "class/mdev_bus");

		log_msg("inotify queue overflow, rescanning");
		if (class)
			watch_add(class, WATCH_CLASS);
		return;
	}
	w = watch_by_wd(ev->wd);
	if (!w)
		return;
	if (ev->mask & IN_IGNORED) {
		free(w->path);
		*w = watches[--n_watches];
		return;
	}
	if (ev->len == 0)
		return;
	if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		entry_added(w->path, w->kind, ev->name);
	} else if (ev->mask & IN_CLOSE_WRITE) {
		if (w->kind == WATCH_TYPE && strcmp(ev->name, "create") == 0)
			handle_create(w->path);
		else if (w->kind == WATCH_DEVICE && strcmp(ev->name, "remove") == 0)
			handle_remove(w->path);
	}
}

/* Takes the pid file's lock and writes our pid into it. The descriptor stays open, and locked, until we exit. */
static int pidfile_take(void)
{
	_cleanup_free_ char *path = path_join(arg_root, ".fake-sysfs.pid");
	_cleanup_close_ int fd = -1;
	char buf[32];

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EALREADY : -errno;
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		return -EIO;
	return TAKE_FD(fd);
}

static int daemon_setup(int *ret_sigfd, int *ret_pidfd)
{
	_cleanup_free_ char *class = path_join(arg_root, "class/mdev_bus");
	sigset_t mask;
	int r;

	if (!class)
		return -ENOMEM;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	*ret_sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*ret_sigfd < 0)
		return -errno;

	inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (inotify_fd < 0)
		return -errno;
	r = watch_add(class, WATCH_CLASS);
	if (r < 0) {
		log_msg("cannot watch %s: %s", class, strerror(-r));
		return r;
	}
	r = pidfile_take();
	if (r == -EALREADY)
		log_msg("another fake-sysfs serves %s already", arg_root);
	if (r < 0)
		return r;
	*ret_pidfd = r;
	return 0;
}

static int daemon_loop(int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = inotify_fd, .events = POLLIN },
	};

	for (;;) {
		char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n;

		if (poll(pfd, ELEMENTSOF(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				log_msg("signal %u, exiting", si.ssi_signo);
				return 0;
			}
		}
		if (!pfd[1].revents)
			continue;
		n = read(inotify_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			handle_event(ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * Forks; the child sets everything up and only then tells the parent, through a pipe, that it is ready. The parent
 * exits 0 on that byte and 1 if the pipe closes without it, so "fake-sysfs ROOT && write create" never races.
 */
static int run_daemon(void)
{
	_cleanup_close_ int sigfd = -1, pidfd = -1;
	int ready[2], r;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c;

		close(ready[1]);
		return read(ready[0], &c, 1) == 1 ? 0 : -ECHILD;
	}

	close(ready[0]);
	setsid();
	if (chdir("/") < 0)
		_exit(1);
	/*
	 * Keep nothing of the caller's but stdin, stdout and stderr: a test runner (bats) waits for the pipes it handed
	 * out to close, and would hang on a descriptor that this daemon kept open.
	 */
	if (ready[1] != 3) {
		if (dup3(ready[1], 3, O_CLOEXEC) < 0)
			_exit(1);
		close(ready[1]);
	}
	close_range(4, ~0U, 0);

	r = daemon_setup(&sigfd, &pidfd);
	if (r < 0)
		_exit(1);
	if (write(3, "R", 1) != 1)
		_exit(1);
	close(3);
	log_msg("watching %s", arg_root);
	r = daemon_loop(sigfd);
	if (r < 0)
		log_msg("poll loop failed: %s", strerror(-r));
	_exit(r < 0 ? 1 : 0);
}

/*
 * Stops the daemon serving ROOT and waits for its exit on a pidfd, which becomes readable when the process has exited
 * (not merely when it let go of the lock, which it does a moment earlier, while exiting). No daemon is no error.
 */
static int stop_daemon(void)
{
	_cleanup_free_ char *path = path_join(arg_root, ".fake-sysfs.pid");
	_cleanup_close_ int fd = -1, pidfd = -1;
	struct pollfd pfd = { .events = POLLIN };
	char buf[32];
	ssize_t n;
	int pid, r;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		/* Nobody holds the lock: the daemon is gone already, and the pid in the file means nothing. */
		unlink(path);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	pid = atoi(buf);
	if (pid <= 0)
		return -EINVAL;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
		return -errno;
	pfd.fd = pidfd;
	r = poll(&pfd, 1, 10000);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	unlink(path);
	return 0;
}

static int canonical_root(const char *path)
{
	arg_root = realpath(path, NULL);
	if (!arg_root)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 6 && strcmp(argv[1], "--create") == 0) {
		char parent[PATH_MAX], canonical[UUID_STR_LEN];
		uuid_t u;

		r = canonical_root(argv[2]);
		if (r < 0 || !realpath(argv[3], parent)) {
			fprintf(stderr, "fake-sysfs: %s: %m\n", r < 0 ? argv[2] : argv[3]);
			return 1;
		}
		if (uuid_parse(argv[5], u) < 0) {
			fprintf(stderr, "fake-sysfs: invalid UUID '%s'\n", argv[5]);
			return 1;
		}
		uuid_unparse_lower(u, canonical);
		r = mdev_create(parent, argv[4], canonical);
		if (r < 0) {
			fprintf(stderr, "fake-sysfs: cannot create %s: %s\n", argv[5], strerror(-r));
			return 1;
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--stop") == 0) {
		r = canonical_root(argv[2]);
		if (r >= 0)
			r = stop_daemon();
		if (r < 0) {
			fprintf(stderr, "fake-sysfs: cannot stop the daemon of %s: %s\n", argv[2], strerror(-r));
			return 1;
		}
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: fake-sysfs ROOT\n"
				"       fake-sysfs --stop ROOT\n"
				"       fake-sysfs --create ROOT PARENTDIR TYPE UUID\n");
		return 64;
	}
	r = canonical_root(argv[1]);
	if (r < 0) {
		fprintf(stderr, "fake-sysfs: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	r = run_daemon();
	if (r < 0) {
		fprintf(stderr, "fake-sysfs: the daemon failed to start (see its log)\n");
		return 1;
	}
	return 0;
}
