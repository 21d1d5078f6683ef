/* SPDX-License-Identifier: MIT */
/*
 * Whose an mdev is when vgpuvm did not make it: the process that holds its VFIO device open (a QEMU, libvirt's or a
 * hand-run one), found through the fd links in the proc root, and whether mdevctl keeps a definition of it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct mdev_holder {
	pid_t pid;     /* the first process found holding it, 0 when none */
	char comm[17]; /* its /proc/PID/comm */
	char node[64]; /* what it holds open: "/dev/vfio/7", or the VFIO cdev "/dev/vfio/devices/vfio0" */
	bool partial;  /* some processes' fds could not be read (not root): a holder may have been missed */
};

/*
 * Looks through the fds in PROC_ROOT/PID/fd for a link to the mdev's VFIO group
 * (SYSFS_ROOT/bus/mdev/devices/UUID/iommu_group) or VFIO cdev (.../vfio-dev/vfioN). Fills *ret (pid 0: no holder
 * found); -ENOENT when the mdev has neither.
 */
int mdev_holder_find(const char *sysfs_root, const char *proc_root, const char *uuid, struct mdev_holder *ret);

/* $VGPUVM_MDEVCTL_DIR, else "/etc/mdevctl.d": where mdevctl keeps its definitions, as PARENT/UUID. */
const char *host_mdevctl_dir(void);

/* Whether mdevctl has a definition of the mdev UUID on PARENT (DIR/PARENT/UUID exists). */
bool mdevctl_defined(const char *dir, const char *parent, const char *uuid);
