/* SPDX-License-Identifier: MIT */
/*
 * sysfs as the kernel's mdev core lays it out (Documentation/driver-api/vfio-mediated-device.rst):
 *   PARENT/mdev_supported_types/TYPE/{create,available_instances,description,name,device_api}
 *   /sys/bus/mdev/devices/UUID -> PARENT/UUID, with mdev_type -> the type directory, remove, iommu_group
 * PARENT is /sys/bus/pci/devices/BDF for a PCI device such as the iGPU, or /sys/class/mdev_bus/NAME for any parent,
 * including virtual ones like the kernel's mdpy sample.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/mdev_scan.h"
#include "util/fileio.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

static bool is_pci_address(const char *s)
{
	/* dddd:bb:dd.f, all hexadecimal but the function. */
	static const char shape[] = "xxxx:xx:xx.f";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if ((shape[i] == 'x' && !isxdigit((unsigned char)s[i])) ||
		    (shape[i] == 'f' && (s[i] < '0' || s[i] > '7')) ||
		    (shape[i] != 'x' && shape[i] != 'f' && s[i] != shape[i]))
			return false;
	return true;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Appends ", ITEM" to a growing list. */
static int list_add(char **list, const char *fmt, ...) _printf_(2, 3);
static int list_add(char **list, const char *fmt, ...)
{
	_cleanup_free_ char *item = NULL;
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&item, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (asprintf(&s, "%s%s%s", *list ?: "", *list ? ", " : "", item) < 0)
		return -ENOMEM;
	free(*list);
	*list = s;
	return 0;
}

/* The types of a parent, as "TYPE (N left)", optionally only those with room. */
static char *list_types(const char *parent_dir, bool only_with_room)
{
	_cleanup_free_ char *dir = NULL;
	char *list = NULL;
	struct dirent *de;
	DIR *d;

	if (asprintf(&dir, "%s/mdev_supported_types", parent_dir) < 0 || !(d = opendir(dir)))
		return NULL;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		uint64_t n = 0;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s/available_instances", dir, de->d_name) < 0)
			break;
		if (read_uint64(p, &n) < 0)
			n = 0;
		if (only_with_room && n == 0)
			continue;
		if (list_add(&list, "%s (%" PRIu64 " left)", de->d_name, n) < 0)
			break;
	}
	closedir(d);
	return list;
}

static char *list_parents(const char *root)
{
	_cleanup_free_ char *dir = NULL;
	char *list = NULL;
	struct dirent *de;
	DIR *d;

	if (asprintf(&dir, "%s/class/mdev_bus", root) < 0 || !(d = opendir(dir)))
		return NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && list_add(&list, "%s", de->d_name) < 0)
			break;
	closedir(d);
	return list;
}

static int parent_dir(const char *root, const char *parent, char **ret)
{
	int r;

	if (is_pci_address(parent))
		r = asprintf(ret, "%s/bus/pci/devices/%s", root, parent);
	else
		r = asprintf(ret, "%s/class/mdev_bus/%s", root, parent);
	return r < 0 ? -ENOMEM : 0;
}

static const char no_parents_hint[] =
    "no mdev parent devices at all: for Intel GVT-g, load i915 with enable_gvt=1 and the kvmgt module "
    "(`vgpuvm doctor` checks the host)";

/*
 * Without a parent in the profile: the one parent, PCI or class-bus, that offers the type. The scan counts a PCI
 * parent once, though it is under both class/mdev_bus and bus/pci/devices, and lists the parents sorted.
 */
static int find_parent(const char *root, const char *type, char **ret_parent, char **ret_error)
{
	_cleanup_mdev_host_ struct mdev_host *h = NULL;
	_cleanup_free_ char *all = NULL;
	const char *found = NULL;
	size_t n = 0;
	int r;

	if ((r = mdev_scan(root, NULL, &h)) < 0)
		return r;
	for (size_t i = 0; i < h->n_parents; i++) {
		if (!mdev_parent_type(&h->parents[i], type))
			continue;
		found = found ?: h->parents[i].name;
		n++;
		if (list_add(&all, "%s", h->parents[i].name) < 0)
			return -ENOMEM;
	}
	if (n == 1) {
		*ret_parent = strdup(found);
		return *ret_parent ? 0 : -ENOMEM;
	}
	if (n > 1)
		return errmsg(ret_error, -ENOTUNIQ,
			      "several parents offer mdev type %s (%s); set vgpu.parent to one of them", type, all);
	{
		_cleanup_free_ char *parents = list_parents(root);
		if (!parents)
			return errmsg(ret_error, -ENODEV, "no parent offers mdev type %s: %s", type, no_parents_hint);
		return errmsg(ret_error, -ENODEV,
			      "no parent offers mdev type %s; parents here: %s (`vgpuvm types` lists their types)",
			      type, parents);
	}
}

/* The type of an existing mdev, DEV its directory: the last part of its mdev_type link. */
static int existing_type(const char *dev, char **ret)
{
	_cleanup_free_ char *link = NULL;
	char target[PATH_MAX], *s;
	ssize_t n;

	if (asprintf(&link, "%s/mdev_type", dev) < 0)
		return -ENOMEM;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return negative_errno();
	target[n] = 0;
	s = strdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int mdev_existing_type(const char *root, const char *uuid, char **ret_type)
{
	_cleanup_free_ char *dev = NULL;

	if (asprintf(&dev, "%s/bus/mdev/devices/%s", root, uuid) < 0)
		return -ENOMEM;
	return existing_type(dev, ret_type);
}

/*
 * The device API of a type, TYPE_DIR its directory: QEMU's -device vfio-pci takes only "vfio-pci" mdevs. The
 * kernel's others are "vfio-ccw" and "vfio-ap" (s390), "vfio-platform" and "vfio-amba"
 * (include/uapi/linux/vfio.h). A type without the attribute is taken for vfio-pci, as QEMU would try it.
 */
static int check_device_api(const char *type_dir, const char *what, char **ret_error)
{
	_cleanup_free_ char *p = NULL, *api = NULL;

	if (asprintf(&p, "%s/device_api", type_dir) < 0)
		return -ENOMEM;
	if (read_one_line(p, 64, &api) < 0 || strcmp(api, "vfio-pci") == 0)
		return 0;
	return errmsg(
	    ret_error, -EPROTONOSUPPORT,
	    "%s is a %s device (its device_api), not a vfio-pci one: vgpuvm runs vfio-pci mdevs, with -device "
	    "vfio-pci; %s",
	    what, api,
	    strcmp(api, "vfio-ccw") == 0 || strcmp(api, "vfio-ap") == 0
		? "only qemu-system-s390x takes this one (libvirt does it)"
		: "use a vfio-pci type (`vgpuvm types` lists the API of each)");
}

int mdev_prepare(const char *root, const struct profile_vgpu *g, struct mdev **ret, char **ret_error)
{
	_cleanup_mdev_ struct mdev *m = calloc(1, sizeof(*m));
	_cleanup_free_ char *pdir = NULL, *tdir = NULL, *avail = NULL;
	uint64_t n = 0;
	int r;

	if (!m)
		return -ENOMEM;
	m->root = strdup(root);
	memcpy(m->uuid, g->uuid, sizeof(m->uuid));
	if (!m->root || (g->type && !(m->type = strdup(g->type))) ||
	    asprintf(&m->path, "%s/bus/mdev/devices/%s", root, m->uuid) < 0)
		return -ENOMEM;
	if (g->parent && !(m->parent = strdup(g->parent)))
		return -ENOMEM;

	/* An mdev with this UUID may be there already: made by mdevctl, by NixOS, or left over from a crash. */
	if (exists(m->path)) {
		_cleanup_free_ char *type = NULL, *tdir_link = NULL, *what = NULL;

		if ((r = existing_type(m->path, &type)) < 0)
			return errmsg(ret_error, r, "mdev %s exists but its type cannot be read: %s", m->uuid,
				      strerror(-r));
		/* existing_type() sets type whenever it returns 0; the analyzer does not see it through the cleanup. */
		ANALYZER_IGNORE_BEGIN("-Wanalyzer-null-argument")
		if (g->type && strcmp(type, g->type) != 0)
			return errmsg(ret_error, -EEXIST,
				      "mdev %s already exists with type %s, but the profile asks for %s; remove it "
				      "(echo 1 > %s/remove) or give the profile another vgpu.uuid",
				      m->uuid, type, g->type, m->path);
		ANALYZER_IGNORE_END
		if (asprintf(&tdir_link, "%s/mdev_type", m->path) < 0 ||
		    asprintf(&what, "mdev %s (type %s)", m->uuid, type) < 0)
			return -ENOMEM;
		if ((r = check_device_api(tdir_link, what, ret_error)) < 0)
			return r;
		if (!m->type)
			m->type = steal_pointer(&type);
		m->exists = true;
		/* The parent of an adopted mdev is the directory its device lives in. */
		if (!m->parent) {
			_cleanup_free_ char *real = realpath(m->path, NULL);
			char *slash = real ? strrchr(real, '/') : NULL;

			if (slash) {
				*slash = 0;
				slash = strrchr(real, '/');
				if (slash && !(m->parent = strdup(slash + 1)))
					return -ENOMEM;
			}
		}
		*ret = steal_pointer(&m);
		return 0;
	}

	if (!g->type)
		return errmsg(ret_error, -ENODEV,
			      "there is no mdev %s to adopt, and the profile names no vgpu.type to make one with; set "
			      "vgpu.type (`vgpuvm types` lists them), or make the mdev first (mdevctl start)",
			      m->uuid);
	if (!m->parent && (r = find_parent(root, g->type, &m->parent, ret_error)) < 0)
		return r;
	if ((r = parent_dir(root, m->parent, &pdir)) < 0)
		return r;
	if (!exists(pdir)) {
		_cleanup_free_ char *parents = list_parents(root);
		if (!parents)
			return errmsg(ret_error, -ENODEV, "no mdev parent %s (%s does not exist): %s", m->parent, pdir,
				      no_parents_hint);
		return errmsg(ret_error, -ENODEV, "no mdev parent %s (%s does not exist); parents here: %s", m->parent,
			      pdir, parents);
	}
	if (asprintf(&tdir, "%s/mdev_supported_types/%s", pdir, g->type) < 0)
		return -ENOMEM;
	if (!exists(tdir)) {
		_cleanup_free_ char *types = list_types(pdir, false);
		if (!types)
			return errmsg(ret_error, -ENODEV, "%s is not an mdev parent (it has no mdev_supported_types)",
				      m->parent);
		return errmsg(ret_error, -ENODEV, "%s has no mdev type %s; its types: %s", m->parent, g->type, types);
	}
	{
		_cleanup_free_ char *what = NULL;

		if (asprintf(&what, "mdev type %s on %s", g->type, m->parent) < 0)
			return -ENOMEM;
		if ((r = check_device_api(tdir, what, ret_error)) < 0)
			return r;
	}
	if (asprintf(&avail, "%s/available_instances", tdir) < 0)
		return -ENOMEM;
	if ((r = read_uint64(avail, &n)) < 0)
		return errmsg(ret_error, r, "cannot read %s: %s", avail, strerror(-r));
	if (n == 0) {
		_cleanup_free_ char *room = list_types(pdir, true);
		return errmsg(ret_error, -ENOSPC, "no instances of %s left on %s (available_instances is 0); %s%s",
			      g->type, m->parent,
			      room ? "types with room: " : "no type there has room; stop a VM that uses one",
			      room ?: "");
	}
	*ret = steal_pointer(&m);
	return 0;
}

/*
 * Waits until DIR/NAME exists (or no longer does). The kernel makes and removes mdevs synchronously, so on a real
 * sysfs this returns at once; inotify covers anything slower (and the test tree, served by a helper). The watch is
 * set before the check, so that nothing happens unseen in between.
 */
static int wait_for(const char *dir, const char *name, bool want, uint64_t deadline)
{
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	_cleanup_free_ char *path = NULL;

	if (fd < 0)
		return negative_errno();
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	if (inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB) < 0)
		return negative_errno();
	for (;;) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (exists(path) == want)
			return 0;
		r = poll(&p, 1, deadline_poll_ms(deadline));
		if (r < 0 && errno != EINTR)
			return negative_errno();
		if (r == 0)
			return exists(path) == want ? 0 : -ETIMEDOUT;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
}

int mdev_create(struct mdev *m, uint64_t deadline, char **ret_error)
{
	_cleanup_free_ char *create = NULL, *devices = NULL, *pdir = NULL;
	char line[64];
	int r;

	if (m->exists)
		return 0;
	if (parent_dir(m->root, m->parent, &pdir) < 0 ||
	    asprintf(&create, "%s/mdev_supported_types/%s/create", pdir, m->type) < 0 ||
	    asprintf(&devices, "%s/bus/mdev/devices", m->root) < 0)
		return -ENOMEM;
	snprintf(line, sizeof(line), "%s\n", m->uuid);
	r = write_string(create, line);
	if (r == -ENOSPC)
		return errmsg(ret_error, r,
			      "the kernel has no room for another %s on %s (ENOSPC): no instances left, or not enough "
			      "aperture memory for this type; `dmesg` says which, and a smaller type may fit",
			      m->type, m->parent);
	if (r == -EACCES || r == -EPERM)
		return errmsg(ret_error, r, "cannot write %s: %s; creating an mdev needs root", create, strerror(-r));
	if (r < 0)
		return errmsg(ret_error, r, "cannot create mdev %s (writing %s): %s", m->uuid, create, strerror(-r));
	/* From here on it is ours to remove, whatever happens next. */
	m->created = true;
	r = wait_for(devices, m->uuid, true, deadline);
	if (r < 0)
		return errmsg(ret_error, r, "mdev %s did not appear in %s after writing %s: %s", m->uuid, devices,
			      create, strerror(-r));
	m->exists = true;
	return 0;
}

int mdev_iommu_group(const struct mdev *m)
{
	_cleanup_free_ char *link = NULL;
	char target[PATH_MAX], *end;
	const char *base;
	ssize_t n;
	long g;

	if (asprintf(&link, "%s/iommu_group", m->path) < 0)
		return -ENOMEM;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return negative_errno();
	target[n] = 0;
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	g = strtol(base, &end, 10);
	if (end == base || *end || g < 0 || g > INT_MAX)
		return -EBADMSG;
	return (int)g;
}

char *mdev_holders(int group)
{
	char want[64], *list = NULL;
	struct dirent *de;
	DIR *proc;

	snprintf(want, sizeof(want), "/dev/vfio/%d", group);
	proc = opendir(host_proc_root());
	if (!proc)
		return NULL;
	while ((de = readdir(proc))) {
		_cleanup_free_ char *fddir = NULL, *comm = NULL, *commpath = NULL;
		struct dirent *fe;
		DIR *fds;

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    asprintf(&fddir, "%s/%s/fd", host_proc_root(), de->d_name) < 0)
			continue;
		fds = opendir(fddir);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char path[PATH_MAX], target[PATH_MAX];
			ssize_t n;

			snprintf(path, sizeof(path), "%s/%s", fddir, fe->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = 0;
			if (strcmp(target, want) == 0) {
				if (asprintf(&commpath, "%s/%s/comm", host_proc_root(), de->d_name) >= 0)
					read_one_line(commpath, 64, &comm);
				list_add(&list, "%s (%s)", de->d_name, comm ?: "?");
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return list;
}

int mdev_remove(struct mdev *m, uint64_t deadline, char **ret_error)
{
	_cleanup_free_ char *remove = NULL, *devices = NULL;
	int r;

	if (!m->exists && !m->created)
		return 0;
	if (asprintf(&remove, "%s/remove", m->path) < 0 || asprintf(&devices, "%s/bus/mdev/devices", m->root) < 0)
		return -ENOMEM;
	r = write_string(remove, "1\n");
	if (r == -ENOENT && !exists(m->path)) {
		m->exists = false;
		return 0;
	}
	if (r == -EBUSY) {
		int group = mdev_iommu_group(m);
		_cleanup_free_ char *who = group >= 0 ? mdev_holders(group) : NULL;

		if (who)
			return errmsg(ret_error, r,
				      "mdev %s is busy: /dev/vfio/%d is held by %s; stop it, then: echo 1 > %s",
				      m->uuid, group, who, remove);
		return errmsg(ret_error, r,
			      "mdev %s is busy (EBUSY), though no process has its vfio group open; "
			      "try again: echo 1 > %s",
			      m->uuid, remove);
	}
	if (r < 0)
		return errmsg(ret_error, r, "cannot remove mdev %s (writing %s): %s", m->uuid, remove, strerror(-r));
	r = wait_for(devices, m->uuid, false, deadline);
	if (r < 0)
		return errmsg(ret_error, r, "mdev %s is still there after writing %s: %s", m->uuid, remove,
			      strerror(-r));
	m->exists = false;
	return 0;
}

void mdev_free(struct mdev *m)
{
	if (!m)
		return;
	free(m->root);
	free(m->parent);
	free(m->type);
	free(m->path);
	free(m);
}
