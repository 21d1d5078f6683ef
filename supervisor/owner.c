/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/identity.h"
#include "supervisor/owner.h"
#include "util/macro.h"

static bool in(gid_t gid, const struct identity *id)
{
	if (gid == id->gid)
		return true;
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == gid)
			return true;
	/* Without a change of identity QEMU keeps the caller's groups. */
	if (!id->change) {
		gid_t list[256];
		int n = getgroups((int)ELEMENTSOF(list), list);

		for (int i = 0; i < n; i++)
			if (list[i] == gid)
				return true;
	}
	return false;
}

static bool mode_allows(const struct stat *st, const struct identity *id)
{
	if (st->st_uid == id->uid)
		return (st->st_mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
	if (in(st->st_gid, id))
		return (st->st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP);
	return (st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH);
}

bool owner_can_open(const char *path, const struct identity *id)
{
	struct stat st;

	return stat(path, &st) == 0 && mode_allows(&st, id);
}

int owner_check(const char *path, const struct identity *id, struct owned *ret)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return negative_errno();
	if (mode_allows(&st, id))
		return 0;
	if (strlen(path) >= sizeof(ret->path))
		return -ENAMETOOLONG;
	*ret = (struct owned){ .uid = st.st_uid, .gid = st.st_gid };
	snprintf(ret->path, sizeof(ret->path), "%s", path);
	return 1;
}

int owner_lend(const struct owned *o, const struct identity *id)
{
	return chown(o->path, id->uid, (gid_t)-1) < 0 ? negative_errno() : 0;
}

int owner_return(const struct owned *o)
{
	if (chown(o->path, o->uid, o->gid) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}
