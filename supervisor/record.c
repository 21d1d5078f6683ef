/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "supervisor/record.h"
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
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "lent", a);
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

int record_read(const char *dir, struct record *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_json_ json_object *o = NULL;
	json_object *v;
	int r;

	if (asprintf(&path, "%s/%s", dir, RECORD_FILE) < 0)
		return -ENOMEM;
	if ((r = read_one_line(path, 8192, &text)) < 0)
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
	if (json_object_object_get_ex(o, "created", &v))
		ret->created = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "supervisor_pid", &v))
		ret->supervisor_pid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "qemu_pid", &v) && v)
		ret->qemu_pid = (pid_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "lent", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && ret->n_owned < RECORD_OWNED_MAX; i++) {
			json_object *e = json_object_array_get_idx(v, i), *f;
			struct owned *w = &ret->owned[ret->n_owned];

			copy_string(e, "path", w->path, sizeof(w->path));
			if (!w->path[0] || !json_object_object_get_ex(e, "uid", &f))
				return -EBADMSG;
			w->uid = (uid_t)json_object_get_int64(f);
			if (!json_object_object_get_ex(e, "gid", &f))
				return -EBADMSG;
			w->gid = (gid_t)json_object_get_int64(f);
			ret->n_owned++;
		}
	if (ret->uuid[0] ? strlen(ret->uuid) != 36 || !ret->sysfs_root[0] : ret->n_owned == 0)
		return -EBADMSG;
	return 0;
}

void record_remove(const char *dir)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, RECORD_FILE) >= 0)
		unlink(path);
}
