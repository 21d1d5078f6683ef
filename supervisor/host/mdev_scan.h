/* SPDX-License-Identifier: MIT */
/*
 * What the host offers: every mdev parent (PCI and class-bus), its types with their attributes, the mdevs that exist
 * now, and which VM's crash record names each one. Read-only; `vgpuvm types` prints it and `vgpuvm doctor` judges it.
 */
#pragma once

#include "util/macro.h"

#include <stddef.h>
#include <sys/types.h>

struct mdev_instance {
	char uuid[UUID_STRING_SIZE];
	char *vm;	      /* the VM whose record in the runtime directory names this mdev, or NULL */
	pid_t supervisor_pid; /* from that record, 0 without one */
	pid_t qemu_pid;	      /* from that record, 0 without one or before QEMU started */
	int created;	      /* the record says vgpuvm made it: 1, adopted: 0, no record: -1 */
};

struct mdev_type_info {
	char *id;	     /* the directory name, e.g. "i915-GVTg_V5_4": what a profile's vgpu.type names */
	char *name;	     /* the "name" attribute, or NULL */
	char *description;   /* the "description" attribute as the driver wrote it, or NULL */
	char **fields;	     /* key, value, key, value, ..., NULL-terminated; NULL unless every line is "key: value" */
	unsigned xres, yres; /* the resolution the description names ("resolution: WxH", or WxH in free text), else 0 */
	long long available; /* available_instances, -1 when unreadable or out of range */
	char *device_api;    /* "vfio-pci", ..., or NULL */
	struct mdev_instance *mdevs;
	size_t n_mdevs;
};

struct mdev_parent_info {
	char *name;	 /* "0000:00:02.0" or "mdpy", as /sys/class/mdev_bus names it */
	const char *bus; /* "pci" or "mdev_bus" */
	char *path;	 /* where the device is, as on the host: "/sys/devices/pci0000:00/0000:00:02.0" */
	struct mdev_type_info *types;
	size_t n_types;
};

struct mdev_host {
	struct mdev_parent_info *parents; /* sorted by name */
	size_t n_parents;
};

/*
 * The strings are as the host has them: neither valid UTF-8 nor free of control characters for sure (util/utf8.h
 * makes them fit for output).
 *
 * Reads every parent under SYSFS_ROOT/class/mdev_bus and SYSFS_ROOT/bus/pci/devices. The owners come from the crash
 * records in the runtime directories under RUNTIME_BASE (NULL: none). No parent at all is not an error.
 */
int mdev_scan(const char *sysfs_root, const char *runtime_base, struct mdev_host **ret);

const struct mdev_parent_info *mdev_host_parent(const struct mdev_host *h, const char *name);
const struct mdev_type_info *mdev_parent_type(const struct mdev_parent_info *p, const char *id);

/* The description on one line: the fields as "key value, key value", else the text with newlines as "; ". */
char *mdev_type_summary(const struct mdev_type_info *t);

/* A type's attributes as its sysfs files hold them (NULL: the file is not there), and the names in its devices/. */
struct mdev_type_attrs {
	const char *name;
	const char *description;
	const char *available_instances;
	const char *device_api;
	char *const *devices; /* NULL-terminated, or NULL */
};

/*
 * Fills t from a type's attributes: what mdev_scan() makes of the files, without the files. The description's fields
 * and resolution are worked out; available_instances that is not a plain count is -1; names in devices/ that are
 * not UUIDs are left out; owners are not looked up (created is -1). On failure (-ENOMEM) t holds what was filled in,
 * for mdev_type_info_done().
 */
int mdev_type_from_attrs(const char *id, const struct mdev_type_attrs *a, struct mdev_type_info *t);

/* Frees what a type holds (not t itself). */
void mdev_type_info_done(struct mdev_type_info *t);

void mdev_host_free(struct mdev_host *h);
static inline void mdev_host_freep(struct mdev_host **h)
{
	mdev_host_free(*h);
}
#define _cleanup_mdev_host_ __attribute__((cleanup(mdev_host_freep)))
