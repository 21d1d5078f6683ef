/* SPDX-License-Identifier: MIT */
/*
 * Lending QEMU's user what it must open (/dev/vfio/GROUP, the render node), and giving it back: libvirt's
 * remember_owner. The previous owner is kept in the crash record, so that a supervisor that died is undone too.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct identity;

struct owned {
	char path[256];
	uid_t uid; /* the owner before vgpuvm lent the file */
	gid_t gid;
	mode_t mode; /* for messages only; lending leaves the mode alone */
};

/*
 * Whether id's user must be lent path: 1 when so, with *ret naming the path and its owners now (record that first,
 * then lend); 0 when id can open it already.
 */
int owner_check(const char *path, const struct identity *id, struct owned *ret);

/* Makes id's user the owner of o->path; its group and mode stay. */
int owner_lend(const struct owned *o, const struct identity *id);

/* Gives path back to its previous owner. A path that is gone (an mdev removed) counts as done. */
int owner_return(const struct owned *o);
