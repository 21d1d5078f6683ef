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
			json_object_object_add(e, "kind",
					       json_object_new_string(owned_kind_to_string(r->owned[i].kind)));
			json_object_object_add(e, "rdev", json_object_new_int64((int64_t)r->owned[i].rdev));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "lent", a);
	}
	if (r->n_taps) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < r->n_taps && i < RECORD_TAPS_MAX; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(r->taps[i].name));
			json_object_object_add(e, "ifindex", json_object_new_int64(r->taps[i].ifindex));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "taps", a);
		json_object_object_add(o, "netns", json_object_new_int64((int64_t)r->netns));
	}
	if (r->n_helpers) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < r->n_helpers && i < RECORD_HELPERS_MAX; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(r->helpers[i].name));
			json_object_object_add(e, "pid", json_object_new_int64(r->helpers[i].pid));
			json_object_object_add(e, "start_time",
					       json_object_new_int64((int64_t)r->helpers[i].start_time));
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

/*
 * Copies a string member into buf. A member that is absent is "" (the caller decides whether that is allowed); one
 * that is not a string, holds a NUL, or does not fit is not a record's: cutting it short could turn a long name into
 * another valid one.
 */
static bool copy_string(json_object *o, const char *key, char *buf, size_t size)
{
	json_object *v;
	size_t n;

	buf[0] = 0;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(v);
	if (n >= size || memchr(json_object_get_string(v), 0, n))
		return false;
	memcpy(buf, json_object_get_string(v), n + 1);
	return true;
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
static ssize_t read_trusted(const char *dir, char buf[RECORD_SIZE_MAX])
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd = -1;
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
	n = read(fd, buf, RECORD_SIZE_MAX);
	return n < 0 ? negative_errno() : n;
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

/*
 * A name as a sysfs directory or a runtime directory takes it: no '/', not "." or "..", and no control character
 * (doctor prints it). The profile parser lets no other name through, so every record vgpuvm writes reads back.
 */
static bool plain_name(const char *s)
{
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* An absolute path with no "." or ".." component: a record must not walk root elsewhere. */
static bool plain_path(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' && p[1] == '.' &&
		    (p[2] == '/' || p[2] == 0 || (p[2] == '.' && (p[3] == '/' || p[3] == 0))))
			return false;
	return true;
}

int record_parse(const char *text, size_t len, struct record *ret)
{
	_cleanup_json_ json_object *o = NULL;
	struct json_tokener *tok;
	struct record rec = {};
	int64_t n;
	json_object *v;

	/* A record is a few hundred bytes vgpuvm wrote itself; anything else was cut short or planted. */
	if (len > RECORD_SIZE_MAX || memchr(text, 0, len))
		return -EBADMSG;
	tok = json_tokener_new_ex(8);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object))
		return -EBADMSG;
	if (!copy_string(o, "name", rec.name, sizeof(rec.name)) ||
	    !copy_string(o, "uuid", rec.uuid, sizeof(rec.uuid)) ||
	    !copy_string(o, "type", rec.type, sizeof(rec.type)) ||
	    !copy_string(o, "parent", rec.parent, sizeof(rec.parent)) ||
	    !copy_string(o, "sysfs_root", rec.sysfs_root, sizeof(rec.sysfs_root)))
		return -EBADMSG;
	if (!plain_name(rec.name) || !plain_name(rec.type) || !plain_name(rec.parent))
		return -EBADMSG;
	if (!json_object_object_get_ex(o, "created", &v) || !json_object_is_type(v, json_type_boolean))
		return -EBADMSG;
	rec.created = json_object_get_boolean(v);
	if (!get_int(o, "supervisor_pid", 1, INT32_MAX, &n))
		return -EBADMSG;
	rec.supervisor_pid = (pid_t)n;
	if (json_object_object_get_ex(o, "qemu_pid", &v) && v) {
		if (!get_int(o, "qemu_pid", 1, INT32_MAX, &n))
			return -EBADMSG;
		rec.qemu_pid = (pid_t)n;
	}
	if (json_object_object_get_ex(o, "lent", &v) && v) {
		size_t k = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : SIZE_MAX;

		/* vgpuvm never writes more than it can read back: a longer list was not written by it. */
		if (k > RECORD_OWNED_MAX)
			return -EBADMSG;
		for (size_t i = 0; i < k; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			struct owned *w = &rec.owned[rec.n_owned];
			int64_t uid, gid, mode, rdev;
			char kind[16];
			int kd;

			if (!json_object_is_type(e, json_type_object) ||
			    !copy_string(e, "path", w->path, sizeof(w->path)) ||
			    !copy_string(e, "kind", kind, sizeof(kind)))
				return -EBADMSG;
			kd = owned_kind_from_string(kind);
			if (!plain_path(w->path) || kd < 0 || !get_int(e, "uid", 0, UINT32_MAX - 1, &uid) ||
			    !get_int(e, "gid", 0, UINT32_MAX - 1, &gid) || !get_int(e, "mode", 0, 07777, &mode) ||
			    !get_int(e, "rdev", 0, INT64_MAX, &rdev))
				return -EBADMSG;
			w->kind = (enum owned_kind)kd;
			w->rdev = (dev_t)rdev;
			w->uid = (uid_t)uid;
			w->gid = (gid_t)gid;
			w->mode = (mode_t)mode;
			rec.n_owned++;
		}
	}
	if (json_object_object_get_ex(o, "taps", &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v) && rec.n_taps < RECORD_TAPS_MAX; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			struct record_tap *t = &rec.taps[rec.n_taps];
			int64_t ifindex;

			copy_string(e, "name", t->name, sizeof(t->name));
			/* Only a name vgpuvm could have given: nothing that reads as a path or an option. */
			if (!t->name[0] ||
			    strspn(t->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
				strlen(t->name) ||
			    !get_int(e, "ifindex", 0, INT32_MAX, &ifindex))
				return -EBADMSG;
			t->ifindex = (int)ifindex;
			rec.n_taps++;
		}
		if (!get_int(o, "netns", 0, INT64_MAX, &n))
			return -EBADMSG;
		rec.netns = (uint64_t)n;
	}
	if (json_object_object_get_ex(o, "helpers", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && rec.n_helpers < RECORD_HELPERS_MAX; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			struct record_helper *h = &rec.helpers[rec.n_helpers];
			int64_t pid, start;

			copy_string(e, "name", h->name, sizeof(h->name));
			if (!h->name[0] || !get_int(e, "pid", 1, INT32_MAX, &pid) ||
			    !get_int(e, "start_time", 1, INT64_MAX, &start))
				return -EBADMSG;
			h->pid = (pid_t)pid;
			h->start_time = (uint64_t)start;
			rec.n_helpers++;
		}
	if (json_object_object_get_ex(o, "state", &v) && json_object_is_type(v, json_type_object)) {
		copy_string(v, "dir", rec.state_dir, sizeof(rec.state_dir));
		if (!plain_path(rec.state_dir) || !get_int(v, "uid", 0, UINT32_MAX - 1, &n))
			return -EBADMSG;
		rec.state_uid = (uid_t)n;
	}
	if (rec.uuid[0] ? !uuid_valid(rec.uuid) || !plain_path(rec.sysfs_root)
			: rec.n_owned == 0 && rec.n_taps == 0 && rec.n_helpers == 0 && !rec.state_dir[0])
		return -EBADMSG;
	*ret = rec;
	return 0;
}

int record_read(const char *dir, struct record *ret)
{
	char text[RECORD_SIZE_MAX];
	ssize_t n = read_trusted(dir, text);

	if (n < 0)
		return (int)n;
	return record_parse(text, (size_t)n, ret);
}

void record_remove(const char *dir)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, RECORD_FILE) >= 0)
		unlink(path);
}
