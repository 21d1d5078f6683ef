/* SPDX-License-Identifier: MIT */
/* The mediated device in sysfs: find the parent and type, create or adopt the mdev, remove it. */
#pragma once

#include "util/macro.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct profile_vgpu;

struct mdev {
	char *root;   /* the sysfs root: "/sys", or $VGPUVM_SYSFS_ROOT in tests */
	char *parent; /* "0000:00:02.0" or "mdpy"; NULL when adopting an mdev whose parent was not named */
	char *type;
	char uuid[UUID_STRING_SIZE];
	char *path;   /* ROOT/bus/mdev/devices/UUID */
	bool created; /* vgpuvm made it, so vgpuvm removes it */
	bool exists;  /* it is there now */
};

/* The type of the mdev UUID under ROOT, from its mdev_type link; -ENOENT when there is no such mdev. */
int mdev_existing_type(const char *root, const char *uuid, char **ret_type);

/*
 * Looks at sysfs for the profile's vGPU: if the UUID already exists as an mdev of the same type (or of any type, when
 * the profile names none), it is adopted (and will be left in place); otherwise the parent and type are resolved and
 * an instance must be available. Errors: -ENODEV (no such parent or type, or no type to make one with), -ENOSPC (no
 * instances left), -EEXIST (the UUID is an mdev of another type), -ENOTUNIQ (several parents offer the type),
 * -EPROTONOSUPPORT (the type's device_api is not vfio-pci); *ret_error then says what to do. m->type is the type.
 */
int mdev_prepare(const char *root, const struct profile_vgpu *g, struct mdev **ret, char **ret_error);

/* Writes the UUID to the type's create file and waits, until deadline, for the device to appear. */
int mdev_create(struct mdev *m, uint64_t deadline, char **ret_error);

/* Writes 1 to the device's remove file and waits, until deadline, for it to go. -EBUSY names the holders. */
int mdev_remove(struct mdev *m, uint64_t deadline, char **ret_error);

/* The IOMMU group of the device (its /dev/vfio/N), or a negative errno. */
int mdev_iommu_group(const struct mdev *m);

/* Processes that have /dev/vfio/GROUP open, as "pid (comm)" joined by ", ", or NULL when none. */
char *mdev_holders(int group);

void mdev_free(struct mdev *m);
static inline void mdev_freep(struct mdev **m)
{
	mdev_free(*m);
}
#define _cleanup_mdev_ __attribute__((cleanup(mdev_freep)))
