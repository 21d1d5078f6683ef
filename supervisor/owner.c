/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/identity.h"
#include "supervisor/owner.h"
#include "util/macro.h"

static bool mode_allows(const struct stat *st, const struct identity *id)
{
	if (st->st_uid == id->uid)
		return (st->st_mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
	if (identity_in_group(id, st->st_gid))
		return (st->st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP);
	return (st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH);
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
	*ret = (struct owned){ .uid = st.st_uid, .gid = st.st_gid, .mode = st.st_mode & 07777 };
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
