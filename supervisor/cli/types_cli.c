/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <json-c/json.h>

#include "supervisor/cli/ctl_cli.h"
#include "supervisor/log.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/runtime.h"
#include "supervisor/cli/types_cli.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/utf8.h"

static const char types_usage[] =
    "Usage: vgpuvm types [--json]\n"
    "\n"
    "Lists every mdev parent device (PCI, such as the Intel iGPU, and class-bus ones such as the kernel's mdpy\n"
    "sample), its vGPU types with their name and description, the instances left and the device API, and the mdevs\n"
    "that exist now, with the VM that uses each one when vgpuvm made or adopted it. --json prints the same as one\n"
    "object (vgpuvm(1) documents it). No parent at all is not an error: `vgpuvm doctor` then says why.\n";

/*
 * A JSON string of text from the host, or null: made valid UTF-8 first, as JSON must be (json-c escapes control
 * characters but passes any byte above 0x7f on as it is).
 */
static json_object *json_text(const char *s)
{
	_cleanup_free_ char *v = s ? utf8_make_valid(s) : NULL;

	return v ? json_object_new_string(v) : NULL;
}

static json_object *mdev_json(const struct mdev_instance *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "uuid", json_text(m->uuid));
	json_object_object_add(o, "vm", json_text(m->vm));
	json_object_object_add(o, "supervisor_pid", m->vm ? json_object_new_int64(m->supervisor_pid) : NULL);
	json_object_object_add(o, "created", m->created >= 0 ? json_object_new_boolean(m->created) : NULL);
	return o;
}

static json_object *type_json(const struct mdev_type_info *t)
{
	json_object *o = json_object_new_object(), *fields = NULL, *mdevs = json_object_new_array();
	char res[32];

	if (t->fields) {
		fields = json_object_new_object();
		for (char **f = t->fields; *f; f += 2)
			json_object_object_add(fields, f[0], json_text(f[1]));
	}
	snprintf(res, sizeof(res), "%ux%u", t->xres, t->yres);
	json_object_object_add(o, "name", json_text(t->id));
	json_object_object_add(o, "pretty_name", json_text(t->name));
	json_object_object_add(o, "description", json_text(t->description));
	json_object_object_add(o, "fields", fields);
	json_object_object_add(o, "resolution", t->xres ? json_object_new_string(res) : NULL);
	json_object_object_add(o, "available_instances",
			       t->available >= 0 ? json_object_new_int64(t->available) : NULL);
	json_object_object_add(o, "device_api", json_text(t->device_api));
	for (size_t i = 0; i < t->n_mdevs; i++)
		json_object_array_add(mdevs, mdev_json(&t->mdevs[i]));
	json_object_object_add(o, "mdevs", mdevs);
	return o;
}

static int print_json(const struct mdev_host *h)
{
	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *parents = json_object_new_array();

	json_object_object_add(root, "parents", parents);
	for (size_t i = 0; i < h->n_parents; i++) {
		const struct mdev_parent_info *p = &h->parents[i];
		json_object *o = json_object_new_object(), *types = json_object_new_array();

		json_object_object_add(o, "name", json_text(p->name));
		json_object_object_add(o, "bus", json_object_new_string(p->bus));
		json_object_object_add(o, "path", json_text(p->path));
		for (size_t j = 0; j < p->n_types; j++)
			json_object_array_add(types, type_json(&p->types[j]));
		json_object_object_add(o, "types", types);
		json_object_array_add(parents, o);
	}
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

/*
 * What the table shows is the host's text with its control characters escaped (util/utf8.h): an escape sequence or a
 * line break in an attribute must not paint over the table or fake a row of it.
 */
static char *cell(const char *s)
{
	return utf8_escape_controls(s && *s ? s : "-");
}

/* Prints a cell padded to width columns, followed by the two spaces between columns. */
static void put_cell(const char *s, int width)
{
	int n = (int)utf8_columns(s);

	fputs(s, stdout);
	printf("%*s  ", n < width ? width - n : 0, "");
}

static void widen(int *width, const char *s)
{
	_cleanup_free_ char *c = cell(s);
	int n = c ? (int)utf8_columns(c) : 0;

	if (n > *width)
		*width = n;
}

static void print_mdev(const struct mdev_instance *m)
{
	_cleanup_free_ char *uuid = cell(m->uuid), *vm = m->vm ? cell(m->vm) : NULL;

	if (!m->vm)
		printf("  mdev %s  not vgpuvm's\n", uuid ?: "?");
	else
		printf("  mdev %s  VM %s (%s, supervisor pid %ld)\n", uuid ?: "?", vm ?: "?",
		       m->created ? "made by vgpuvm" : "adopted", (long)m->supervisor_pid);
}

static void print_table(const struct mdev_host *h)
{
	int wp = 6, wt = 4, wn = 4, wa = 5, wd = 3;

	/* Columns as wide as their widest entry. */
	for (size_t i = 0; i < h->n_parents; i++) {
		widen(&wp, h->parents[i].name);
		for (size_t j = 0; j < h->parents[i].n_types; j++) {
			widen(&wt, h->parents[i].types[j].id);
			widen(&wn, h->parents[i].types[j].name);
			widen(&wd, h->parents[i].types[j].device_api);
		}
	}
	put_cell("PARENT", wp);
	put_cell("TYPE", wt);
	put_cell("NAME", wn);
	put_cell("AVAIL", wa);
	put_cell("API", wd);
	puts("DESCRIPTION");
	for (size_t i = 0; i < h->n_parents; i++) {
		const struct mdev_parent_info *p = &h->parents[i];
		_cleanup_free_ char *parent = cell(p->name);

		if (p->n_types == 0) {
			put_cell(parent ?: "?", wp);
			puts("(no types)");
		}
		for (size_t j = 0; j < p->n_types; j++) {
			const struct mdev_type_info *t = &p->types[j];
			_cleanup_free_ char *summary = mdev_type_summary(t), *id = cell(t->id), *name = cell(t->name),
					    *api = cell(t->device_api), *desc = cell(summary);
			char avail[24] = "?";

			if (t->available >= 0)
				snprintf(avail, sizeof(avail), "%lld", t->available);
			put_cell(parent ?: "?", wp);
			put_cell(id ?: "?", wt);
			put_cell(name ?: "?", wn);
			put_cell(avail, wa);
			put_cell(api ?: "?", wd);
			puts(desc ?: "?");
			for (size_t k = 0; k < t->n_mdevs; k++)
				print_mdev(&t->mdevs[k]);
		}
	}
}

int cmd_types(int argc, char **argv)
{
	_cleanup_mdev_host_ struct mdev_host *h = NULL;
	_cleanup_free_ char *base = NULL;
	bool json = false, done = false;
	int r;

	if ((r = cli_parse_json_flag(argc, argv, types_usage, "no arguments", 0, 0, &json, &done)) != 0 || done)
		return r;
	/* Without a runtime directory there are no owners to show, which is no reason to fail. */
	if (runtime_base(&base) < 0)
		base = NULL;
	r = mdev_scan(host_sysfs_root(), base, &h);
	if (r < 0)
		return log_error_errno(r, "Failed to read the mdev parents: %m"), EX_OSERR;
	if (json)
		print_json(h);
	else if (h->n_parents == 0)
		puts("no mdev parent devices on this host (/sys/class/mdev_bus is empty or missing); "
		     "`vgpuvm doctor` says why");
	else
		print_table(h);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
