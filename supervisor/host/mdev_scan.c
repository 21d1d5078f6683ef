/* SPDX-License-Identifier: MIT */
/*
 * The sysfs layout read here (Documentation/driver-api/vfio-mediated-device.rst):
 *   class/mdev_bus/NAME -> the parent device; PCI parents also under bus/pci/devices/BDF
 *   PARENT/mdev_supported_types/TYPE/{name,description,available_instances,device_api}
 *   PARENT/mdev_supported_types/TYPE/devices/UUID -> each mdev of that type
 * Every attribute but available_instances is optional: drivers differ, and a missing one is shown as unknown.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/record.h"
#include "util/fileio.h"
#include "util/macro.h"

/* A description is a few lines; anything longer is cut, not an error. */
#define ATTR_MAX 4096

struct records {
	struct record *r;
	size_t n;
};

/* The crash records of every runtime directory under base; a directory without one is a running VM's or nothing. */
static int read_records(const char *base, struct records *ret)
{
	struct dirent *de;
	DIR *d;

	*ret = (struct records){};
	if (!base || !(d = opendir(base)))
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *dir = NULL;
		struct record rec, *v;

		if (de->d_name[0] == '.' || asprintf(&dir, "%s/%s", base, de->d_name) < 0)
			continue;
		if (record_read(dir, &rec) < 0)
			continue;
		v = realloc(ret->r, (ret->n + 1) * sizeof(*v));
		if (!v) {
			closedir(d);
			return -ENOMEM;
		}
		ret->r = v;
		ret->r[ret->n++] = rec;
	}
	closedir(d);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The entries of a directory but "." and "..", sorted; an empty list when it cannot be read. */
static char **list_dir(const char *path)
{
	struct dirent **names = NULL;
	int n = scandir(path, &names, NULL, by_name);
	char **l = calloc(n > 0 ? (size_t)n + 1 : 1, sizeof(char *));
	size_t k = 0;

	for (int i = 0; i < n; i++) {
		if (l && names[i]->d_name[0] != '.' && !(l[k++] = strdup(names[i]->d_name))) {
			strv_free(l);
			l = NULL;
		}
		free(names[i]);
	}
	free(names);
	return l;
}

static char *read_attr(const char *dir, const char *name)
{
	_cleanup_free_ char *p = NULL;
	char *s = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0 || read_one_line(p, ATTR_MAX, &s) < 0)
		return NULL;
	return s;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* "key: value" lines into a key, value list (keys of letters, digits, '_' and ' '); NULL when any line is not one. */
static char **parse_fields(const char *description)
{
	_cleanup_free_ char *copy = strdup(description);
	char **l = NULL, *save = NULL;
	size_t n = 0;

	if (!copy)
		return NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *key, *value, **v;

		if (!*trim(line))
			continue;
		if (!colon)
			goto not_fields;
		*colon = 0;
		key = trim(line);
		value = trim(colon + 1);
		if (!*key || !*value)
			goto not_fields;
		for (char *c = key; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != ' ')
				goto not_fields;
		v = realloc(l, (n + 3) * sizeof(char *));
		if (!v)
			goto not_fields;
		l = v;
		l[n] = strdup(key);
		l[n + 1] = strdup(value);
		l[n + 2] = NULL;
		n += 2;
		if (!l[n - 2] || !l[n - 1])
			goto not_fields;
	}
	return l;
not_fields:
	strv_free(l);
	return NULL;
}

/*
 * The first "WxH" in s with both numbers of 2 to 5 digits, not starting with 0 (so that "64 MB", a version number or
 * "00x10" does not count).
 */
static void find_resolution(const char *s, unsigned *ret_x, unsigned *ret_y)
{
	for (const char *p = s; *p; p++) {
		unsigned long x, y;
		char *end;

		if (!isdigit((unsigned char)*p) || *p == '0' || (p > s && isdigit((unsigned char)p[-1])))
			continue;
		x = strtoul(p, &end, 10);
		if (end - p < 2 || end - p > 5 || *end != 'x' || !isdigit((unsigned char)end[1]) || end[1] == '0')
			continue;
		p = end + 1;
		y = strtoul(p, &end, 10);
		if (end - p < 2 || end - p > 5 || isalnum((unsigned char)*end))
			continue;
		*ret_x = (unsigned)x;
		*ret_y = (unsigned)y;
		return;
	}
}

/* An mdev's name in a type's devices/: 8-4-4-4-12 hexadecimal digits, as the kernel names them. */
static bool is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return s[36] == 0;
}

/* available_instances: a plain decimal count; anything else (a sign, a space, an overflow) is unknown, -1. */
static long long parse_available(const char *s)
{
	long long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static char *strdup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		*oom = true;
	return d;
}

int mdev_type_from_attrs(const char *id, const struct mdev_type_attrs *a, struct mdev_type_info *t)
{
	bool oom = false;
	size_t n = 0;

	*t = (struct mdev_type_info){ .available = parse_available(a->available_instances) };
	t->id = strdup_or_null(id, &oom);
	t->name = strdup_or_null(a->name, &oom);
	t->description = strdup_or_null(a->description, &oom);
	t->device_api = strdup_or_null(a->device_api, &oom);
	if (oom)
		return -ENOMEM;
	if (t->description && *t->description) {
		t->fields = parse_fields(t->description);
		for (char **f = t->fields; f && *f; f += 2)
			if (strcmp(f[0], "resolution") == 0)
				find_resolution(f[1], &t->xres, &t->yres);
		if (!t->xres)
			find_resolution(t->description, &t->xres, &t->yres);
	}
	while (a->devices && a->devices[n])
		n++;
	t->mdevs = calloc(n ? n : 1, sizeof(*t->mdevs));
	if (!t->mdevs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!is_uuid(a->devices[i]))
			continue;
		memcpy(t->mdevs[t->n_mdevs].uuid, a->devices[i], UUID_STRING_SIZE);
		t->mdevs[t->n_mdevs++].created = -1;
	}
	return 0;
}

static void fill_owner(struct mdev_instance *m, const struct records *recs)
{
	m->created = -1;
	for (size_t i = 0; i < recs->n; i++)
		if (strcmp(recs->r[i].uuid, m->uuid) == 0) {
			m->vm = strdup(recs->r[i].name);
			m->supervisor_pid = recs->r[i].supervisor_pid;
			m->qemu_pid = recs->r[i].qemu_pid;
			m->created = recs->r[i].created;
			return;
		}
}

static int read_type(const char *types_dir, const char *id, const struct records *recs, struct mdev_type_info *t)
{
	_cleanup_free_ char *dir = NULL, *devs = NULL, *name = NULL, *description = NULL, *avail = NULL, *api = NULL;
	_cleanup_strv_free_ char **uuids = NULL;
	int r;

	if (asprintf(&dir, "%s/%s", types_dir, id) < 0 || asprintf(&devs, "%s/devices", dir) < 0)
		return -ENOMEM;
	name = read_attr(dir, "name");
	description = read_attr(dir, "description");
	avail = read_attr(dir, "available_instances");
	api = read_attr(dir, "device_api");
	if (!(uuids = list_dir(devs)))
		return -ENOMEM;
	r = mdev_type_from_attrs(id,
				 &(struct mdev_type_attrs){ .name = name,
							    .description = description,
							    .available_instances = avail,
							    .device_api = api,
							    .devices = uuids },
				 t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_mdevs; i++)
		fill_owner(&t->mdevs[i], recs);
	return 0;
}

/* REL is where the parent was found under the root ("class/mdev_bus/NAME"), shown when its real path cannot be had. */
static int read_parent(const char *real_root, const char *name, const char *dir, const char *rel, bool pci,
		       const struct records *recs, struct mdev_parent_info *p)
{
	_cleanup_free_ char *types_dir = NULL, *real = realpath(dir, NULL);
	_cleanup_strv_free_ char **ids = NULL;
	size_t n = 0, len = real_root ? strlen(real_root) : 0;
	int r;

	if (!(p->name = strdup(name)))
		return -ENOMEM;
	p->bus = pci ? "pci" : "mdev_bus";
	/*
	 * Shown as on the host, whatever the root: the part under the root, after "/sys". realpath() fails on a path
	 * longer than PATH_MAX, which the kernel itself follows: then the path it was found by.
	 */
	if (real && len && strncmp(real, real_root, len) == 0 && real[len] == '/')
		r = asprintf(&p->path, "/sys%s", real + len);
	else if (real)
		r = asprintf(&p->path, "%s", real);
	else
		r = asprintf(&p->path, "/sys/%s", rel);
	if (r < 0)
		return -ENOMEM;
	if (asprintf(&types_dir, "%s/mdev_supported_types", dir) < 0 || !(ids = list_dir(types_dir)))
		return -ENOMEM;
	while (ids[n])
		n++;
	p->types = calloc(n ? n : 1, sizeof(*p->types));
	if (!p->types)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((r = read_type(types_dir, ids[i], recs, &p->types[p->n_types++])) < 0)
			return r;
	}
	return 0;
}

static bool is_pci_name(const char *s)
{
	unsigned a, b, c, d;
	char end;

	return strlen(s) == 12 && sscanf(s, "%4x:%2x:%2x.%1x%c", &a, &b, &c, &d, &end) == 4;
}

static int cmp_parent(const void *a, const void *b)
{
	return strcmp(((const struct mdev_parent_info *)a)->name, ((const struct mdev_parent_info *)b)->name);
}

int mdev_scan(const char *sysfs_root, const char *runtime_base, struct mdev_host **ret)
{
	_cleanup_mdev_host_ struct mdev_host *h = calloc(1, sizeof(*h));
	_cleanup_free_ char *real_root = realpath(sysfs_root, NULL);
	_cleanup_free_ struct stat *seen = NULL;
	struct records recs;
	const char *const subdirs[] = { "class/mdev_bus", "bus/pci/devices" };
	int r;

	if (!h)
		return -ENOMEM;
	if ((r = read_records(runtime_base, &recs)) < 0)
		return r;
	for (size_t s = 0; s < ELEMENTSOF(subdirs); s++) {
		_cleanup_free_ char *base = NULL;
		_cleanup_strv_free_ char **names = NULL;

		if (asprintf(&base, "%s/%s", sysfs_root, subdirs[s]) < 0 || !(names = list_dir(base))) {
			r = -ENOMEM;
			goto out;
		}
		for (char **name = names; *name; name++) {
			_cleanup_free_ char *dir = NULL, *types = NULL, *rel = NULL;
			struct mdev_parent_info *v;
			struct stat st, *sv;
			bool dup = false;

			if (asprintf(&dir, "%s/%s", base, *name) < 0 ||
			    asprintf(&types, "%s/mdev_supported_types", dir) < 0 ||
			    asprintf(&rel, "%s/%s", subdirs[s], *name) < 0) {
				r = -ENOMEM;
				goto out;
			}
			/*
			 * A PCI parent is in both directories: count it once. The device's inode tells, where its path
			 * may not: realpath() fails on paths longer than PATH_MAX, which the kernel follows all the
			 * same.
			 */
			if (access(types, F_OK) < 0 || stat(dir, &st) < 0)
				continue;
			for (size_t i = 0; i < h->n_parents; i++)
				dup = dup || (seen[i].st_dev == st.st_dev && seen[i].st_ino == st.st_ino);
			if (dup)
				continue;
			sv = realloc(seen, (h->n_parents + 1) * sizeof(*sv));
			if (sv)
				seen = sv;
			v = realloc(h->parents, (h->n_parents + 1) * sizeof(*v));
			if (v)
				h->parents = v;
			if (!sv || !v) {
				r = -ENOMEM;
				goto out;
			}
			seen[h->n_parents] = st;
			h->parents[h->n_parents] = (struct mdev_parent_info){};
			r = read_parent(real_root, *name, dir, rel, s == 1 || is_pci_name(*name), &recs,
					&h->parents[h->n_parents++]);
			if (r < 0)
				goto out;
		}
	}
	if (h->n_parents)
		qsort(h->parents, h->n_parents, sizeof(*h->parents), cmp_parent);
	*ret = steal_pointer(&h);
	r = 0;
out:
	free(recs.r);
	return r;
}

const struct mdev_parent_info *mdev_host_parent(const struct mdev_host *h, const char *name)
{
	for (size_t i = 0; h && i < h->n_parents; i++)
		if (strcmp(h->parents[i].name, name) == 0)
			return &h->parents[i];
	return NULL;
}

const struct mdev_type_info *mdev_parent_type(const struct mdev_parent_info *p, const char *id)
{
	for (size_t i = 0; p && i < p->n_types; i++)
		if (strcmp(p->types[i].id, id) == 0)
			return &p->types[i];
	return NULL;
}

char *mdev_type_summary(const struct mdev_type_info *t)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	if (t->fields)
		for (char **k = t->fields; *k; k += 2)
			fprintf(f, "%s%s %s", k == t->fields ? "" : ", ", k[0], k[1]);
	else if (t->description)
		for (const char *c = t->description; *c; c++) {
			if (*c == '\n')
				fputs("; ", f);
			else
				fputc(*c, f);
		}
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void mdev_type_info_done(struct mdev_type_info *t)
{
	free(t->id);
	free(t->name);
	free(t->description);
	strv_free(t->fields);
	free(t->device_api);
	for (size_t i = 0; i < t->n_mdevs; i++)
		free(t->mdevs[i].vm);
	free(t->mdevs);
}

void mdev_host_free(struct mdev_host *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_parents; i++) {
		for (size_t j = 0; j < h->parents[i].n_types; j++)
			mdev_type_info_done(&h->parents[i].types[j]);
		free(h->parents[i].types);
		free(h->parents[i].name);
		free(h->parents[i].path);
	}
	free(h->parents);
	free(h);
}
