/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/host/host.h"

/* The value of var, read the first time and kept in *cache; fallback when unset or empty. */
static const char *root_from_env(const char **cache, const char *var, const char *fallback)
{
	if (!*cache) {
		const char *r = getenv(var);

		*cache = r && *r ? r : fallback;
	}
	return *cache;
}

const char *host_sysfs_root(void)
{
	static const char *cache;

	return root_from_env(&cache, "VGPUVM_SYSFS_ROOT", "/sys");
}

const char *host_proc_root(void)
{
	static const char *cache;

	return root_from_env(&cache, "VGPUVM_PROC_ROOT", "/proc");
}

const char *host_dev_root(void)
{
	static const char *cache;

	return root_from_env(&cache, "VGPUVM_DEV_ROOT", "/dev");
}

const char *host_passwd_file(void)
{
	static const char *cache;

	return root_from_env(&cache, "VGPUVM_PASSWD_FILE", "/etc/passwd");
}

const char *host_group_file(void)
{
	static const char *cache;

	return root_from_env(&cache, "VGPUVM_GROUP_FILE", "/etc/group");
}

char *host_path(const char *root, const char *rel)
{
	char *s;

	return asprintf(&s, "%s/%s", root, rel) < 0 ? NULL : s;
}

bool host_exists(const char *root, const char *rel)
{
	char *p = host_path(root, rel);
	bool r = p && access(p, F_OK) == 0;

	free(p);
	return r;
}

bool host_pid_alive(const char *proc_root, long pid)
{
	char rel[32];

	if (pid <= 0)
		return false;
	snprintf(rel, sizeof(rel), "%ld", pid);
	return host_exists(proc_root, rel);
}

char *host_render_node(const char *dev_root)
{
	char *dir = host_path(dev_root, "dri"), *found = NULL;
	struct dirent **names = NULL;
	int n = dir ? scandir(dir, &names, NULL, alphasort) : -1;

	for (int i = 0; i < n; i++) {
		if (!found && strncmp(names[i]->d_name, "renderD", 7) == 0 &&
		    asprintf(&found, "dri/%s", names[i]->d_name) < 0)
			found = NULL;
		free(names[i]);
	}
	free(names);
	free(dir);
	return found;
}

const char *const *host_firmware_dirs(void)
{
	static const char *const system[] = { "/usr/share/qemu/firmware", "/etc/qemu/firmware", NULL };
	static const char *one[2];

	if (!one[0])
		root_from_env(&one[0], "VGPUVM_FIRMWARE_DIR", "");
	return one[0][0] ? one : system;
}
