/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "supervisor/host/firmware.h"
#include "supervisor/host/host.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/json.h"
#include "util/macro.h"

/* A descriptor is a few hundred bytes; QEMU's own are under 2 KiB. */
#define DESCRIPTOR_SIZE_MAX 65536
#define DESCRIPTORS_MAX 256

void firmware_done(struct firmware *f)
{
	if (!f)
		return;
	free(f->descriptor);
	free(f->description);
	free(f->code);
	free(f->code_format);
	free(f->nvram_template);
	free(f->nvram_format);
	*f = (struct firmware){};
}

char *firmware_machine_type(const char *machine)
{
	size_t n;

	if (strncmp(machine, "type=", 5) == 0)
		machine += 5;
	n = strcspn(machine, ",");
	if (n == 2 && strncmp(machine, "pc", 2) == 0)
		return strdup("pc-i440fx-");
	if (n == 3 && strncmp(machine, "q35", 3) == 0)
		return strdup("pc-q35-");
	return strndup(machine, n);
}

/* Whether the array a holds the string s. */
static bool has_string(json_object *a, const char *s)
{
	if (!a || !json_object_is_type(a, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		if (json_object_is_type(e, json_type_string) && strcmp(json_object_get_string(e), s) == 0)
			return true;
	}
	return false;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

/* Whether a target of the descriptor is x86_64 with a machine glob that type matches. */
static bool fits_machine(json_object *d, const char *type)
{
	json_object *targets;

	if (!json_object_object_get_ex(d, "targets", &targets) || !json_object_is_type(targets, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i), *machines;
		const char *arch = get_str(t, "architecture");

		if (!arch || strcmp(arch, "x86_64") != 0 || !json_object_object_get_ex(t, "machines", &machines) ||
		    !json_object_is_type(machines, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(machines); k++) {
			json_object *m = json_object_array_get_idx(machines, k);

			if (json_object_is_type(m, json_type_string) &&
			    fnmatch(json_object_get_string(m), type, 0) == 0)
				return true;
		}
	}
	return false;
}

/* How strictly a descriptor is matched: first without Secure Boot at all, then with it but no keys enrolled. */
enum pass {
	PASS_EXACT,
	PASS_SB_CAPABLE,
};

/*
 * Whether descriptor d is UEFI on split flash (an executable and an NVRAM template) for type, with the features
 * asked for. Fills f's paths and features when it is.
 */
static bool fits(json_object *d, const char *type, bool q35, bool secure_boot, enum pass pass, struct firmware *f)
{
	json_object *mapping, *features = NULL, *exe, *tmpl;
	const char *device, *mode, *code, *nvram;
	bool sb, keys, smm;

	if (!json_object_object_get_ex(d, "interface-types", &exe) || !has_string(exe, "uefi"))
		return false;
	if (!json_object_object_get_ex(d, "mapping", &mapping) || !(device = get_str(mapping, "device")) ||
	    strcmp(device, "flash") != 0)
		return false;
	/* "split" is the default; "combined" and "stateless" have no NVRAM of their own to keep. */
	mode = get_str(mapping, "mode");
	if (mode && strcmp(mode, "split") != 0)
		return false;
	if (!json_object_object_get_ex(mapping, "executable", &exe) ||
	    !json_object_object_get_ex(mapping, "nvram-template", &tmpl) || !(code = get_str(exe, "filename")) ||
	    !(nvram = get_str(tmpl, "filename")) || code[0] != '/' || nvram[0] != '/')
		return false;
	if (!fits_machine(d, type))
		return false;
	json_object_object_get_ex(d, "features", &features);
	sb = has_string(features, "secure-boot");
	keys = has_string(features, "enrolled-keys");
	smm = has_string(features, "requires-smm");
	if (smm && !q35)
		return false;
	if (secure_boot ? !(sb && keys) : keys || (sb && pass == PASS_EXACT))
		return false;
	*f = (struct firmware){
		.code = strdup(code),
		.code_format = strdup(get_str(exe, "format") ?: "raw"),
		.nvram_template = strdup(nvram),
		.nvram_format = strdup(get_str(tmpl, "format") ?: "raw"),
		.smm = smm || secure_boot,
		.secure_boot = secure_boot,
	};
	if (get_str(d, "description"))
		f->description = strdup(get_str(d, "description"));
	return true;
}

/* Reads one descriptor below dir_fd: a regular file, as root one that root owns and no one else can write. */
static json_object *read_descriptor(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DESCRIPTOR_SIZE_MAX)
		return NULL;
	if (trust_is_root() && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return NULL;
	if (!(buf = calloc(1, (size_t)st.st_size + 1)))
		return NULL;
	n = read(fd, buf, (size_t)st.st_size);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return json_tokener_parse(buf);
}

struct entry {
	char name[256];
	size_t dir; /* index in the list of directories */
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/*
 * The descriptors of every directory, by file name; a later directory's file replaces an earlier one's of the same
 * name (an empty one hides it, as the specification says). Returns how many, at most max.
 */
static size_t list_descriptors(const char *const *dirs, struct entry *ret, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *error = NULL;
		struct dirent *de;
		DIR *d;

		/* As root, a directory someone else can write could hand root's QEMU any firmware: it is skipped. */
		if (trust_path(dirs[i], "the firmware descriptors' directory", &error) < 0 || !(d = opendir(dirs[i])))
			continue;
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name), k;

			if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || len >= sizeof(ret->name))
				continue;
			for (k = 0; k < n && strcmp(ret[k].name, de->d_name) != 0; k++)
				;
			if (k == n && n == max)
				continue;
			snprintf(ret[k].name, sizeof(ret[k].name), "%s", de->d_name);
			ret[k].dir = i;
			if (k == n)
				n++;
		}
		closedir(d);
	}
	qsort(ret, n, sizeof(*ret), by_name);
	return n;
}

int firmware_find(const char *machine, bool secure_boot, struct firmware *ret, char **ret_error)
{
	const char *const *dirs = host_firmware_dirs();
	_cleanup_free_ struct entry *e = calloc(DESCRIPTORS_MAX, sizeof(*e));
	_cleanup_free_ char *type = firmware_machine_type(machine), *where = NULL;
	bool q35;
	size_t n;

	if (!e || !type)
		return -ENOMEM;
	q35 = strncmp(type, "pc-q35-", 7) == 0;
	n = list_descriptors(dirs, e, DESCRIPTORS_MAX);
	for (enum pass pass = PASS_EXACT; pass <= PASS_SB_CAPABLE; pass++)
		for (size_t i = 0; i < n; i++) {
			_cleanup_close_ int dfd = open(dirs[e[i].dir], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			_cleanup_json_ json_object *d = dfd >= 0 ? read_descriptor(dfd, e[i].name) : NULL;
			struct firmware f;

			if (!d || !json_object_is_type(d, json_type_object) ||
			    !fits(d, type, q35, secure_boot, pass, &f))
				continue;
			if (asprintf(&f.descriptor, "%s/%s", dirs[e[i].dir], e[i].name) < 0)
				f.descriptor = NULL;
			if (!f.descriptor || !f.code || !f.code_format || !f.nvram_template || !f.nvram_format) {
				firmware_done(&f);
				return -ENOMEM;
			}
			*ret = f;
			return 0;
		}
	for (size_t i = 0; dirs[i]; i++) {
		char *w;

		if (asprintf(&w, "%s%s%s", where ?: "", where ? " and " : "", dirs[i]) < 0)
			return -ENOMEM;
		free(where);
		where = w;
	}
	return errmsg(
	    ret_error, -ENOENT,
	    "no UEFI firmware%s for machine \"%s\" (x86_64) is described in %s; install it (Debian: apt-get install "
	    "%s)",
	    secure_boot ? " with Secure Boot and enrolled keys" : " without enrolled Secure Boot keys", machine,
	    where ?: "no directory", FIRMWARE_PACKAGE);
}
