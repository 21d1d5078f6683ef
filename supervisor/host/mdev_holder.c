/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/host/host.h"
#include "supervisor/host/mdev_holder.h"
#include "util/macro.h"

/* The last component of the link ROOT/REL points at, or NULL. */
static char *link_name(const char *root, const char *rel)
{
	_cleanup_free_ char *p = host_path(root, rel);
	char buf[PATH_MAX];
	ssize_t n = p ? readlink(p, buf, sizeof(buf) - 1) : -1;
	const char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	return strdup(slash ? slash + 1 : buf);
}

/* The first entry of ROOT/REL, a directory, or NULL. */
static char *first_entry(const char *root, const char *rel)
{
	_cleanup_free_ char *p = host_path(root, rel);
	DIR *d = p ? opendir(p) : NULL;
	struct dirent *de;
	char *name = NULL;

	if (!d)
		return NULL;
	while (!name && (de = readdir(d)))
		if (de->d_name[0] != '.')
			name = strdup(de->d_name);
	closedir(d);
	return name;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Whether one of the process's fds (PROC_DFD/PID/fd/N) links to one of the nodes; -errno when they cannot be read. */
static int holds(int proc_dfd, const char *pid, const char *const nodes[], size_t n_nodes, const char **ret_node)
{
	_cleanup_free_ char *rel = NULL;
	int dfd;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (asprintf(&rel, "%s/fd", pid) < 0)
		return -ENOMEM;
	dfd = openat(proc_dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((de = readdir(d))) {
		char buf[PATH_MAX];
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue;
		buf[len] = 0;
		for (size_t i = 0; i < n_nodes; i++)
			if (nodes[i] && strcmp(buf, nodes[i]) == 0) {
				*ret_node = nodes[i];
				closedir(d);
				return 1;
			}
	}
	closedir(d);
	return 0;
}

int mdev_holder_find(const char *sysfs_root, const char *proc_root, const char *uuid, struct mdev_holder *ret)
{
	_cleanup_free_ char *group_rel = NULL, *cdev_rel = NULL, *group = NULL, *cdev = NULL, *group_node = NULL,
			    *cdev_node = NULL;
	struct mdev_holder h = {};
	const char *nodes[2], *found = NULL;
	struct dirent *de;
	int proc_dfd;
	DIR *d;

	if (asprintf(&group_rel, "bus/mdev/devices/%s/iommu_group", uuid) < 0 ||
	    asprintf(&cdev_rel, "bus/mdev/devices/%s/vfio-dev", uuid) < 0)
		return -ENOMEM;
	group = link_name(sysfs_root, group_rel);
	cdev = first_entry(sysfs_root, cdev_rel);
	if ((group && asprintf(&group_node, "/dev/vfio/%s", group) < 0) ||
	    (cdev && asprintf(&cdev_node, "/dev/vfio/devices/%s", cdev) < 0))
		return -ENOMEM;
	if (!group_node && !cdev_node)
		return -ENOENT;
	nodes[0] = group_node;
	nodes[1] = cdev_node;

	proc_dfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_dfd < 0)
		return -errno;
	d = fdopendir(proc_dfd);
	if (!d) {
		int r = -errno;
		close(proc_dfd);
		return r;
	}
	while (!h.pid && (de = readdir(d))) {
		int r;

		if (!all_digits(de->d_name))
			continue;
		r = holds(dirfd(d), de->d_name, nodes, ELEMENTSOF(nodes), &found);
		if (r == -EACCES || r == -EPERM)
			h.partial = true;
		if (r > 0) {
			_cleanup_free_ char *comm_rel = NULL;

			h.pid = (pid_t)strtol(de->d_name, NULL, 10);
			snprintf(h.node, sizeof(h.node), "%s", found);
			if (asprintf(&comm_rel, "%s/comm", de->d_name) >= 0) {
				_cleanup_free_ char *p = host_path(proc_root, comm_rel);
				FILE *f = p ? fopen(p, "re") : NULL;

				if (f) {
					if (fgets(h.comm, sizeof(h.comm), f))
						h.comm[strcspn(h.comm, "\n")] = 0;
					fclose(f);
				}
			}
		}
	}
	closedir(d);
	*ret = h;
	return 0;
}

const char *host_mdevctl_dir(void)
{
	const char *d = getenv("VGPUVM_MDEVCTL_DIR");

	return d && *d ? d : "/etc/mdevctl.d";
}

bool mdevctl_defined(const char *dir, const char *parent, const char *uuid)
{
	_cleanup_free_ char *rel = NULL;

	return asprintf(&rel, "%s/%s", parent, uuid) >= 0 && host_exists(dir, rel);
}
