/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "supervisor/host/record.h"
#define RECORD_SIZE_MAX 8192
#include "util/fileio.h"
#include "util/json.h"
#include "util/macro.h"

int record_write(const char *dir, const struct record *r)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	const char *s;
	size_t len;

	if (!o || asprintf(&tmp, "%s/.%s.tmp", dir, RECORD_FILE) < 0 || asprintf(&path, "%s/%s", dir, RECORD_FILE) < 0)
		return -ENOMEM;
	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "uuid", json_object_new_string(r->uuid));
	json_object_object_add(o, "type", json_object_new_string(r->type));
	json_object_object_add(o, "parent", json_object_new_string(r->parent));
	json_object_object_add(o, "sysfs_root", json_object_new_string(r->sysfs_root));
	json_object_object_add(o, "created", json_object_new_boolean(r->created));
	json_object_object_add(o, "supervisor_pid", json_object_new_int64(r->supervisor_pid));
	json_object_object_add(o, "qemu_pid", r->qemu_pid > 0 ? json_object_new_int64(r->qemu_pid) : NULL);
	if (r->n_owned) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < r->n_owned && i < RECORD_OWNED_MAX; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "path", json_object_new_string(r->owned[i].path));
			json_object_object_add(e, "uid", json_object_new_int64(r->owned[i].uid));
			json_object_object_add(e, "gid", json_object_new_int64(r->owned[i].gid));
			json_object_object_add(e, "mode", json_object_new_int64(r->owned[i].mode));
			json_object_object_add(e, "kind", json_object_new_string(owned_kind_to_string(r->owned[i].kind)));
			json_object_object_add(e, "rdev", json_object_new_int64((int64_t)r->owned[i].rdev));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "lent", a);
	}
	if (r->n_helpers) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < r->n_helpers && i < RECORD_HELPERS_MAX; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(r->helpers[i].name));
			json_object_object_add(e, "pid", json_object_new_int64(r->helpers[i].pid));
			json_object_object_add(e, "start_time", json_object_new_int64((int64_t)r->helpers[i].start_time));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "helpers", a);
	}
	if (r->state_dir[0]) {
		json_object *st = json_object_new_object();

		json_object_object_add(st, "dir", json_object_new_string(r->state_dir));
		json_object_object_add(st, "uid", json_object_new_int64(r->state_uid));
		json_object_object_add(o, "state", st);
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return negative_errno();
	if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		int r2 = negative_errno();
		unlink(tmp);
		return r2;
	}
	if (rename(tmp, path) < 0) {
		int r2 = negative_errno();
		unlink(tmp);
		return r2;
	}
	return 0;
}

static void copy_string(json_object *o, const char *key, char *buf, size_t size)
{
	json_object *v;

	buf[0] = 0;
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(buf, size, "%s", json_object_get_string(v));
}

static const char *const kind_names[OWNED_KIND_MAX] = {
	[OWNED_VFIO] = "vfio",
	[OWNED_DRM] = "drm",
};

const char *owned_kind_to_string(enum owned_kind k)
{
	return k < OWNED_KIND_MAX ? kind_names[k] : NULL;
}

int owned_kind_from_string(const char *s)
{
	for (int i = 0; i < OWNED_KIND_MAX; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	return -EINVAL;
}

/*
 * Reads dir/record.json, which must be a regular file that this user (or root) owns and no one else can write, in a
 * directory likewise: a record tells root what to remove and what to give back to whom.
 */
static int read_trusted(const char *dir, char **ret)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (dfd < 0)
		return negative_errno();
	if (fstat(dfd, &st) < 0)
		return negative_errno();
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	fd = openat(dfd, RECORD_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	if (st.st_size > RECORD_SIZE_MAX)
		return -EBADMSG;
	buf = calloc(1, RECORD_SIZE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, RECORD_SIZE_MAX);
	if (n < 0)
		return negative_errno();
	*ret = steal_pointer(&buf);
	return 0;
}

/* 8-4-4-4-12 hexadecimal digits: what a record may name as an mdev, and nothing that walks a path. */
static bool uuid_valid(const char *s)
{
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return s[36] == 0;
}

/* An integer member in [min, max], read as an integer only: a string, a double or a bool is not one. */
static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return false;
	*ret = n;
	return true;
}

int record_read(const char *dir, struct record *ret)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_object *o = NULL;
	int64_t n;
	json_object *v;
	int r;

	if ((r = read_trusted(dir, &text)) < 0)
		return r;
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object))
		return -EBADMSG;
	*ret = (struct record){};
	copy_string(o, "name", ret->name, sizeof(ret->name));
	copy_string(o, "uuid", ret->uuid, sizeof(ret->uuid));
	copy_string(o, "type", ret->type, sizeof(ret->type));
	copy_string(o, "parent", ret->parent, sizeof(ret->parent));
	copy_string(o, "sysfs_root", ret->sysfs_root, sizeof(ret->sysfs_root));
	if (!json_object_object_get_ex(o, "created", &v) || !json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	ret->created = json_object_get_boolean(v);
	if (!get_int(o, "supervisor_pid", 1, INT32_MAX, &n))
		return -EBADMSG;
	ret->supervisor_pid = (pid_t)n;
	if (json_object_object_get_ex(o, "qemu_pid", &v) && v) {
		if (!get_int(o, "qemu_pid", 1, INT32_MAX, &n))
			return -EBADMSG;
		ret->qemu_pid = (pid_t)n;
	}
	if (json_object_object_get_ex(o, "lent", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && ret->n_owned < RECORD_OWNED_MAX; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			struct owned *w = &ret->owned[ret->n_owned];
			int64_t uid, gid, mode, rdev;
			char kind[16];
			int k;

			copy_string(e, "path", w->path, sizeof(w->path));
			copy_string(e, "kind", kind, sizeof(kind));
			k = owned_kind_from_string(kind);
			if (!w->path[0] || w->path[0] != '/' || k < 0 || !get_int(e, "uid", 0, UINT32_MAX - 1, &uid) ||
			    !get_int(e, "gid", 0, UINT32_MAX - 1, &gid) || !get_int(e, "mode", 0, 07777, &mode) ||
			    !get_int(e, "rdev", 0, INT64_MAX, &rdev))
				return -EBADMSG;
			*w = (struct owned){ .kind = (enum owned_kind)k, .rdev = (dev_t)rdev, .uid = (uid_t)uid,
					     .gid = (gid_t)gid, .mode = (mode_t)mode };
			copy_string(e, "path", w->path, sizeof(w->path));
			ret->n_owned++;
		}
	if (json_object_object_get_ex(o, "helpers", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && ret->n_helpers < RECORD_HELPERS_MAX; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			struct record_helper *h = &ret->helpers[ret->n_helpers];
			int64_t pid, start;

			copy_string(e, "name", h->name, sizeof(h->name));
			if (!h->name[0] || !get_int(e, "pid", 1, INT32_MAX, &pid) || !get_int(e, "start_time", 1, INT64_MAX, &start))
				return -EBADMSG;
			h->pid = (pid_t)pid;
			h->start_time = (uint64_t)start;
			ret->n_helpers++;
		}
	if (json_object_object_get_ex(o, "state", &v) && json_object_is_type(v, json_type_object)) {
		copy_string(v, "dir", ret->state_dir, sizeof(ret->state_dir));
		if (ret->state_dir[0] != '/' || !get_int(v, "uid", 0, UINT32_MAX - 1, &n))
			return -EBADMSG;
		ret->state_uid = (uid_t)n;
	}
	if (ret->uuid[0] ? !uuid_valid(ret->uuid) || ret->sysfs_root[0] != '/'
			 : ret->n_owned == 0 && ret->n_helpers == 0 && !ret->state_dir[0])
		return -EBADMSG;
	return 0;
}

void record_remove(const char *dir)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, RECORD_FILE) >= 0)
		unlink(path);
}
