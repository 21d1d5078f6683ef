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

#include "supervisor/host/record.h"

struct identity;

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
