/* SPDX-License-Identifier: MIT */
/*
 * Lending QEMU's user what it must open (/dev/vfio/GROUP, the render node), and giving it back: libvirt's
 * remember_owner. The previous owner, group and mode are kept in the crash record, so that a supervisor that died is
 * undone too. Everything works from an O_PATH fd opened without following symlinks, and only on a character device
 * of the kind asked for: a profile or a record cannot make root hand out or change any other file.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct identity;

/* What a lent file must be. */
enum owned_kind {
	OWNED_VFIO, /* a VFIO group's node: /sys/dev/char/MAJ:MIN is a device of the vfio class */
	OWNED_DRM,  /* a DRM render node: major 226, minor 128 and up */
	OWNED_KIND_MAX,
};

struct owned {
	char path[256];
	enum owned_kind kind;
	dev_t rdev;  /* the device it is: a give-back touches only the same device */
	uid_t uid;   /* the owner before vgpuvm lent the file */
	gid_t gid;
	mode_t mode; /* restored too: QEMU, as the owner, can chmod what it was lent */
};

const char *owned_kind_to_string(enum owned_kind k);
int owned_kind_from_string(const char *s);

/*
 * Whether id's user must be lent path: 1 when so, with *ret naming the path and its owner, group and mode now (record
 * that first, then lend); 0 when id can open it already. -ENODEV (with *ret filled for the message) when path is not
 * a character device of that kind, or is a symlink. sysfs_root tells VFIO nodes apart.
 */
int owner_check(const char *path, enum owned_kind kind, const char *sysfs_root, const struct identity *id,
		struct owned *ret);

/* Makes id's user the owner of o->path, if it is still the device o names; its group and mode stay. */
int owner_lend(const struct owned *o, const struct identity *id);

/*
 * Gives o->path back its previous owner, group and mode. A path that is gone (an mdev removed) counts as done, and so
 * does one that is no longer the device that was lent (returns 1: it is left alone).
 */
int owner_return(const struct owned *o);
