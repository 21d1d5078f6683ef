/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/profile_usb.h"
#include "supervisor/host/host.h"
#include "supervisor/host/usb.h"
#include "util/errmsg.h"
#include "util/fileio.h"
#include "util/macro.h"

#define USB_DEVS_MAX 256

/* Reads SYSFS_ROOT/bus/usb/devices/PORT/ATTR into buf (size bytes), "" when it is not there. */
static int read_attr(const char *sysfs_root, const char *port, const char *attr, char *buf, size_t size)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *s = NULL;
	int r;

	buf[0] = 0;
	if (asprintf(&rel, "bus/usb/devices/%s/%s", port, attr) < 0 || !(path = host_path(sysfs_root, rel)))
		return -ENOMEM;
	r = read_one_line(path, size - 1, &s);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	snprintf(buf, size, "%s", s);
	return 0;
}

static int read_hex16(const char *sysfs_root, const char *port, const char *attr, uint16_t *ret)
{
	char buf[16], *end;
	unsigned long v;
	int r;

	if ((r = read_attr(sysfs_root, port, attr, buf, sizeof(buf))) < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 16);
	if (!buf[0] || *end || errno || v > 0xffff)
		return -EBADMSG;
	*ret = (uint16_t)v;
	return 0;
}

static int read_dec(const char *sysfs_root, const char *port, const char *attr, unsigned max, unsigned *ret)
{
	char buf[16], *end;
	unsigned long v;
	int r;

	if ((r = read_attr(sysfs_root, port, attr, buf, sizeof(buf))) < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (!buf[0] || *end || errno || v == 0 || v > max)
		return -EBADMSG;
	*ret = (unsigned)v;
	return 0;
}

void usb_make_printable(char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s) || !isascii((unsigned char)*s))
			*s = '?';
}

static int read_dev(const char *sysfs_root, const char *port, struct usb_dev *d)
{
	int r;

	*d = (struct usb_dev){};
	snprintf(d->port, sizeof(d->port), "%.39s", port);
	if ((r = read_hex16(sysfs_root, port, "idVendor", &d->vendor)) < 0 ||
	    (r = read_hex16(sysfs_root, port, "idProduct", &d->product)) < 0 ||
	    (r = read_dec(sysfs_root, port, "busnum", 255, &d->bus)) < 0 ||
	    /* USB addresses are 1-127: a larger one would name another bus's node. */
	    (r = read_dec(sysfs_root, port, "devnum", 127, &d->dev)) < 0 ||
	    (r = read_attr(sysfs_root, port, "serial", d->serial, sizeof(d->serial))) < 0 ||
	    (r = read_attr(sysfs_root, port, "product", d->name, sizeof(d->name))) < 0)
		return r;
	snprintf(d->id, sizeof(d->id), "%04x:%04x", d->vendor, d->product);
	usb_make_printable(d->name);
	return 0;
}

static int compare_port(const void *a, const void *b)
{
	return strverscmp(((const struct usb_dev *)a)->port, ((const struct usb_dev *)b)->port);
}

int usb_scan(const char *sysfs_root, struct usb_dev **ret, size_t *ret_n)
{
	_cleanup_free_ char *path = host_path(sysfs_root, "bus/usb/devices");
	_cleanup_free_ struct usb_dev *devs = NULL;
	DIR *dir;
	struct dirent *de;
	size_t n = 0;

	if (!path || !(devs = calloc(USB_DEVS_MAX, sizeof(*devs))))
		return -ENOMEM;
	dir = opendir(path);
	/* A kernel without USB has no bus/usb: no devices, not an error. */
	if (!dir && errno != ENOENT)
		return negative_errno();
	while (dir && (de = readdir(dir)) && n < USB_DEVS_MAX) {
		/* Devices only: "usbN" is a root hub, "1-2:1.0" an interface of a device. */
		if (!profile_usb_port_valid(de->d_name))
			continue;
		if (read_dev(sysfs_root, de->d_name, &devs[n]) == 0)
			n++;
	}
	if (dir)
		closedir(dir);
	qsort(devs, n, sizeof(*devs), compare_port);
	*ret = steal_pointer(&devs);
	*ret_n = n;
	return 0;
}

char *usb_list_text(const struct usb_dev *devs, size_t n)
{
	char *s = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&s, &size);

	if (!f)
		return NULL;
	if (n == 0)
		fputs("  (none)", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s  %s port %s%s%s", i ? "\n" : "", devs[i].id, devs[i].port, devs[i].name[0] ? " " : "",
			devs[i].name);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

const char *usb_want_name(const struct profile_usb *want, char *buf, size_t size)
{
	if (want->port)
		snprintf(buf, size, "port %s", want->port);
	else if (want->serial)
		snprintf(buf, size, "%s (serial %s)", want->id, want->serial);
	else
		snprintf(buf, size, "%s", want->id);
	return buf;
}

static bool matches(const struct usb_dev *d, const struct profile_usb *want)
{
	if (want->port)
		return strcmp(d->port, want->port) == 0;
	return d->vendor == want->vendor && d->product == want->product &&
	       (!want->serial || strcmp(d->serial, want->serial) == 0);
}

int usb_find(const struct usb_dev *devs, size_t n, const struct profile_usb *want, size_t *ret_index, char **ret_error)
{
	_cleanup_free_ char *list = NULL;
	size_t found = SIZE_MAX, count = 0;
	char name[192];

	for (size_t i = 0; i < n; i++)
		if (matches(&devs[i], want)) {
			if (found == SIZE_MAX)
				found = i;
			count++;
		}
	usb_want_name(want, name, sizeof(name));
	if (count == 1) {
		*ret_index = found;
		return 0;
	}
	list = usb_list_text(devs, n);
	if (count == 0)
		return errmsg(ret_error, -ENOENT,
			      "USB device %s is not plugged in; the USB devices there are (id, port, product):\n%s",
			      name, list ?: "");
	return errmsg(ret_error, -ENOTUNIQ,
		      "%zu USB devices are %s; say which with \"serial\" (each one's is in sysfs, `lsusb -v`) or "
		      "\"port\" instead of \"id\":\n%s",
		      count, name, list ?: "");
}

/* Opens the directory name under dir_fd, never through a symbolic link. */
static int open_dir(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? negative_errno() : fd;
}

int usb_open(const char *dev_root, const struct usb_dev *d, char **ret_error)
{
	_cleanup_close_ int root = -1, bus = -1, usb = -1, dir = -1, fd = -1;
	char bbb[8], ddd[8];
	dev_t want = makedev(USB_DEVICE_MAJOR, (d->bus - 1) * 128 + (d->dev - 1));
	struct stat st;

	snprintf(bbb, sizeof(bbb), "%03u", d->bus);
	snprintf(ddd, sizeof(ddd), "%03u", d->dev);
	root = open(dev_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || (bus = open_dir(root, "bus")) < 0 || (usb = open_dir(bus, "usb")) < 0 ||
	    (dir = open_dir(usb, bbb)) < 0)
		return errmsg(ret_error, negative_errno(),
			      "Failed to open %s/bus/usb/%s, the directory of USB device %s (port %s): %m", dev_root,
			      bbb, d->id, d->port);
	/* Looked at before it is opened: opening some other device could do something of its own. */
	if (fstatat(dir, ddd, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errmsg(ret_error, negative_errno(),
			      "Failed to find %s/bus/usb/%s/%s, the node of USB device %s: %m", dev_root, bbb, ddd,
			      d->id);
	if (!S_ISCHR(st.st_mode) || st.st_rdev != want)
		return errmsg(
		    ret_error, -EPERM,
		    "%s/bus/usb/%s/%s is not the node of USB device %s (port %s): it is %s, not the character "
		    "device %u:%u; refusing it",
		    dev_root, bbb, ddd, d->id, d->port,
		    S_ISLNK(st.st_mode)	  ? "a symbolic link"
		    : S_ISREG(st.st_mode) ? "a regular file"
		    : S_ISCHR(st.st_mode) ? "another character device"
					  : "not a character device",
		    USB_DEVICE_MAJOR, (d->bus - 1) * 128 + (d->dev - 1));
	fd = openat(dir, ddd, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errmsg(ret_error, negative_errno(),
			      "Failed to open %s/bus/usb/%s/%s, the node of USB device %s: %m", dev_root, bbb, ddd,
			      d->id);
	/* The same node as was looked at, not one put in its place since. */
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != want)
		return errmsg(ret_error, -EPERM, "%s/bus/usb/%s/%s changed while it was opened; refusing it", dev_root,
			      bbb, ddd);
	/* QEMU's libusb uses the fd blocking, as it would have opened it. */
	if (fcntl(fd, F_SETFL, O_RDWR) < 0)
		return errmsg(ret_error, negative_errno(), "Failed to set up the fd of USB device %s: %m", d->id);
	return TAKE_FD(fd);
}

int usb_open_wanted(const char *sysfs_root, const char *dev_root, const struct profile_usb *want,
		    struct usb_dev *ret_dev, char **ret_error)
{
	_cleanup_free_ struct usb_dev *devs = NULL;
	/* i = 0: usb_find() sets it whenever it returns 0, which the analyzer cannot see through errmsg(). */
	size_t n = 0, i = 0;
	int r, fd;

	if ((r = usb_scan(sysfs_root, &devs, &n)) < 0)
		return errmsg(ret_error, r, "Failed to list the USB devices under %s/bus/usb/devices: %s", sysfs_root,
			      strerror(-r));
	if ((r = usb_find(devs, n, want, &i, ret_error)) < 0)
		return r;
	fd = usb_open(dev_root, &devs[i], ret_error);
	if (fd < 0)
		return fd;
	*ret_dev = devs[i];
	return fd;
}
