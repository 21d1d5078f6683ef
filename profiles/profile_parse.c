/* SPDX-License-Identifier: MIT */
/*
 * Reads a profile. Every check names the file, the field and the fix, because a profile is written by hand and the
 * person reading the message is the one who wrote it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uuid/uuid.h>

#include "profiles/profile.h"
#include "profiles/profile_check.h"
#include "profiles/profile_devices.h"
#include "profiles/profile_field.h"
#include "profiles/profile_net.h"
#include "profiles/profile_usb.h"
#include "profiles/profile_firmware.h"
#include "profiles/profile_storage.h"
#include "profiles/profile_parse.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/utf8.h"

/* The namespace of vgpuvm's name-derived UUIDs (UUIDv5): the same profile name gives the same mdev every boot. */
static const char uuid_namespace[] = "92b2e383-78e2-4773-b9f0-50c6d27af287";

#define MEBI (UINT64_C(1) << 20)
#define MEMORY_MIN (16 * MEBI)
#define MEMORY_MAX (UINT64_C(16) << 40)
#define CPUS_MAX 1024
#define RES_MAX 16384
/* The most parts a --set key may have. */
#define SET_DEPTH_MAX 8

/* Whether a field (or one of its parents) was given with --set, so the message does not send the user to the file. */
static bool from_set(const struct profile_parse_ctx *c, const char *field)
{
	for (char *const *s = c->sets; s && *s; s++) {
		size_t n = strcspn(*s, "=");
		if (strncmp(*s, field, n) == 0 && (field[n] == 0 || field[n] == '.' || field[n] == '['))
			return true;
	}
	return false;
}

static int vfail(struct profile_parse_ctx *c, const char *field, const char *fmt, va_list ap) _printf_(3, 0);
static int vfail(struct profile_parse_ctx *c, const char *field, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	r = vasprintf(&msg, fmt, ap);
	if (r < 0)
		return -ENOMEM;
	free(c->error);
	c->error = NULL;
	if (field)
		r = asprintf(&c->error, "%s: %s: %s%s", c->path, field, msg,
			     from_set(c, field) ? " (set with --set)" : "");
	else
		r = asprintf(&c->error, "%s: %s", c->path, msg);
	return r < 0 ? -ENOMEM : -EINVAL;
}

static int fail(struct profile_parse_ctx *c, const char *field, const char *fmt, ...) _printf_(3, 4);
static int fail(struct profile_parse_ctx *c, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, field, fmt, ap);
	va_end(ap);
	return r;
}

/* A short rendering of a JSON value for "got …" in messages. */
static const char *show(json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);

	if (n < size) {
		memcpy(buf, s, n + 1);
	} else {
		memcpy(buf, s, size - 4);
		strcpy(buf + size - 4, "...");
	}
	return buf;
}

unsigned profile_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[64][64];

	if (la >= 63 || lb >= 63)
		return 64;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = tolower(a[i - 1]) != tolower(b[j - 1]);
			unsigned v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The keys each object takes. The tables are also the source of "did you mean". */
static const char *const top_keys[] = { "$schema", "name",	    "memory", "cpus",	    "machine",	"cpu",
					"accel",   "qemu",	    "vgpu",   "display",    "serial",	"graphics_off",
					"cdrom",   "disks",	    "env",    "extra_args", "shutdown", "start_timeout",
					"restart", "restart_delay", "user",   "group",	    "sandbox",	"net",
					"input",   "audio",	    "boot",   "firmware",   "tpm",	"shares",
					"agent",   "usb",	    NULL };
static const char *const vgpu_keys[] = { "parent", "type", "uuid",	"display", "ramfb", "opregion",
					 "xres",   "yres", "nohotplug", "memlock", NULL };
static const char *const display_keys[] = {
	"type", "gl", "full_screen", "rendernode", "listen", "password_file", NULL
};
static const char *const disk_keys[] = { "file", "format", "interface", "readonly", "snapshot", "size", NULL };
static const char *const shutdown_keys[] = { "agent_timeout", "powerdown_timeout", "quit_timeout", "kill_timeout",
					     NULL };
static const char *const sandbox_keys[] = { "obsolete", "elevateprivileges", "spawn", "resourcecontrol", NULL };

static const struct {
	const char *prefix;
	const char *const *keys;
} nested_keys[] = { { "vgpu", vgpu_keys },
		    { "display", display_keys },
		    { "shutdown", shutdown_keys },
		    { "sandbox", sandbox_keys },
		    { "input", profile_input_keys },
		    { "boot", profile_boot_keys },
		    { "firmware", profile_firmware_keys },
		    { "tpm", profile_tpm_keys } };

static int check_keys(struct profile_parse_ctx *c, json_object *o, const char *prefix, const char *const *keys)
{
	json_object_object_foreach(o, key, val)
	{
		const char *best = NULL;
		unsigned best_d = 3;
		char field[256];
		bool known = false;

		(void)val;
		for (const char *const *k = keys; *k; k++) {
			unsigned d;

			if (strcmp(*k, key) == 0) {
				known = true;
				break;
			}
			d = profile_edit_distance(key, *k);
			if (d < best_d && d < strlen(*k)) {
				best_d = d;
				best = *k;
			}
		}
		if (known)
			continue;
		snprintf(field, sizeof(field), "%s%s%s", prefix ?: "", prefix ? "." : "", key);
		if (best)
			return fail(c, field, "unknown key; did you mean \"%s\"?", best);
		/* A key written one level too high, like "xres" for "vgpu.xres", is a common slip. */
		if (!prefix)
			for (size_t i = 0; i < ELEMENTSOF(nested_keys); i++)
				for (const char *const *k = nested_keys[i].keys; *k; k++)
					if (strcmp(*k, key) == 0)
						return fail(c, field, "unknown key; did you mean \"%s.%s\"?",
							    nested_keys[i].prefix, key);
		return fail(c, field, "unknown key (see vgpuvm-profile(5))");
	}
	return 0;
}

int profile_foreach_key(int (*fn)(const char *key_path, void *userdata), void *userdata)
{
	/* Every table check_keys is given, with the path of the object it checks; a new table belongs here too. */
	static const struct {
		const char *prefix;
		const char *const *keys;
	} tables[] = { { NULL, top_keys },
		       { "vgpu", vgpu_keys },
		       { "display", display_keys },
		       { "disks[]", disk_keys },
		       { "shutdown", shutdown_keys },
		       { "sandbox", sandbox_keys },
		       { "net[]", profile_net_keys },
		       { "net[].forward[]", profile_forward_keys },
		       { "usb[]", profile_usb_keys },
		       { "input", profile_input_keys },
		       { "boot", profile_boot_keys },
		       { "firmware", profile_firmware_keys },
		       { "tpm", profile_tpm_keys },
		       { "shares[]", profile_share_keys } };

	for (size_t i = 0; i < ELEMENTSOF(tables); i++)
		for (const char *const *k = tables[i].keys; *k; k++) {
			char path[128];
			int r;

			snprintf(path, sizeof(path), "%s%s%s", tables[i].prefix ?: "", tables[i].prefix ? "." : "", *k);
			r = fn(path, userdata);
			if (r < 0)
				return r;
		}
	return 0;
}

/*
 * A string that reaches QEMU's command line or environment must arrive whole: a C string ends at its first NUL, so
 * "-device\u0000,evil" would quietly become "-device". And it must be UTF-8 as RFC 3629 has it, which json-c does
 * not check (it lets overlong forms and surrogates through), so that vgpuvm's own JSON output stays valid.
 */
static int check_text(struct profile_parse_ctx *c, json_object *v, const char *field)
{
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);

	if (strlen(s) != n)
		return fail(c, field, "must not contain a NUL character");
	if (!utf8_valid(s, n, NULL))
		return fail(c, field, "must be UTF-8 text");
	return 0;
}

static int get_string(struct profile_parse_ctx *c, json_object *v, const char *field, char **ret)
{
	char buf[64];
	char *s;
	int r;

	if (!json_object_is_type(v, json_type_string))
		return fail(c, field, "expected a string, got %s", show(v, buf, sizeof(buf)));
	if (json_object_get_string_len(v) == 0)
		return fail(c, field, "must not be empty");
	if ((r = check_text(c, v, field)) < 0)
		return r;
	s = strdup(json_object_get_string(v));
	if (!s)
		return -ENOMEM;
	free(*ret);
	*ret = s;
	return 0;
}

static int get_bool(struct profile_parse_ctx *c, json_object *v, const char *field, bool *ret)
{
	char buf[64];

	if (!json_object_is_type(v, json_type_boolean))
		return fail(c, field, "expected true or false, got %s", show(v, buf, sizeof(buf)));
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_uint(struct profile_parse_ctx *c, json_object *v, const char *field, unsigned min, unsigned max,
		    unsigned *ret)
{
	char buf[64];
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return fail(c, field, "expected a %s integer, got %s", min > 0 ? "positive" : "non-negative",
			    show(v, buf, sizeof(buf)));
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < (int64_t)min || n > (int64_t)max)
		return fail(c, field, "expected an integer from %u to %u, got %s", min, max, show(v, buf, sizeof(buf)));
	*ret = (unsigned)n;
	return 0;
}

/* "1G", "2048M", "512m", or a bare number of MiB as QEMU's -m takes it. */
static int get_memory(struct profile_parse_ctx *c, json_object *v, uint64_t *ret)
{
	const char *hint = "expected a size like \"1G\" or \"2048M\"";
	uint64_t n = 0, mult = MEBI;
	char buf[64];
	const char *s, *e;

	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);
		if (i <= 0 || (uint64_t)i > MEMORY_MAX / MEBI)
			return fail(c, "memory", "%s, got %s", hint, show(v, buf, sizeof(buf)));
		n = (uint64_t)i * MEBI;
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		/* Saturate rather than wrap, so that a huge number is reported as too large. */
		for (e = s; isdigit((unsigned char)*e); e++)
			n = n > MEMORY_MAX ? n : n * 10 + (uint64_t)(*e - '0');
		if (e == s)
			return fail(c, "memory", "%s, got %s", hint, show(v, buf, sizeof(buf)));
		switch (toupper((unsigned char)*e)) {
		case 0:
			break;
		case 'K':
			mult = UINT64_C(1) << 10;
			e++;
			break;
		case 'M':
			e++;
			break;
		case 'G':
			mult = UINT64_C(1) << 30;
			e++;
			break;
		case 'T':
			mult = UINT64_C(1) << 40;
			e++;
			break;
		default:
			return fail(c, "memory", "%s, got %s", hint, show(v, buf, sizeof(buf)));
		}
		if (*e && strcasecmp(e, "iB") != 0 && strcasecmp(e, "B") != 0)
			return fail(c, "memory", "%s, got %s", hint, show(v, buf, sizeof(buf)));
		if (n > MEMORY_MAX / mult)
			return fail(c, "memory", "%s is more than 16T", s);
		n *= mult;
	} else
		return fail(c, "memory", "%s, got %s", hint, show(v, buf, sizeof(buf)));

	if (n % MEBI != 0)
		return fail(c, "memory", "%s is not a whole number of mebibytes", show(v, buf, sizeof(buf)));
	if (n < MEMORY_MIN)
		return fail(c, "memory", "%s is too small; a VM needs at least 16M", show(v, buf, sizeof(buf)));
	*ret = n;
	return 0;
}

bool profile_name_valid(const char *s)
{
	if (!*s || *s == '.' || *s == '-' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static bool valid_env_name(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static int expect_object(struct profile_parse_ctx *c, json_object *v, const char *field)
{
	char buf[64];

	if (!json_object_is_type(v, json_type_object))
		return fail(c, field, "expected an object {...}, got %s", show(v, buf, sizeof(buf)));
	return 0;
}

static int parse_vgpu(struct profile_parse_ctx *c, json_object *o, struct profile_vgpu *g)
{
	bool nohotplug_set = false;
	json_object *v;
	int r;

	if ((r = expect_object(c, o, "vgpu")) < 0 || (r = check_keys(c, o, "vgpu", vgpu_keys)) < 0)
		return r;

	g->display = true;
	g->uuid_auto = true;
	g->memlock = true;
	if (json_object_object_get_ex(o, "parent", &v)) {
		if ((r = get_string(c, v, "vgpu.parent", &g->parent)) < 0)
			return r;
		if (strchr(g->parent, '/') || g->parent[0] == '.')
			return fail(
			    c, "vgpu.parent",
			    "\"%s\" is neither a PCI address like \"0000:00:02.0\" nor an mdev_bus name like \"mdpy\"",
			    g->parent);
	}
	if (json_object_object_get_ex(o, "uuid", &v)) {
		_cleanup_free_ char *u = NULL;
		uuid_t bin;

		if ((r = get_string(c, v, "vgpu.uuid", &u)) < 0)
			return r;
		if (strcmp(u, "auto") != 0) {
			if (strlen(u) != 36 || uuid_parse(u, bin) < 0)
				return fail(c, "vgpu.uuid",
					    "expected \"auto\" or a UUID like "
					    "\"a297db4a-f4c2-11e6-90f6-d3b88d6c9525\", got \"%s\"",
					    u);
			uuid_unparse_lower(bin, g->uuid);
			g->uuid_auto = false;
		}
	}
	/* An mdev that exists already (made by mdevctl, libvirt or Proxmox) is adopted by its UUID alone: its
	 * mdev_type link says the type when the VM starts. Making one needs the type. */
	if (json_object_object_get_ex(o, "type", &v)) {
		if ((r = get_string(c, v, "vgpu.type", &g->type)) < 0)
			return r;
		if (strchr(g->type, '/') || strcmp(g->type, ".") == 0 || strcmp(g->type, "..") == 0)
			return fail(c, "vgpu.type", "\"%s\" is not an mdev type name", g->type);
	} else if (g->uuid_auto)
		return fail(c, "vgpu.type",
			    "missing; name the mdev type, e.g. \"i915-GVTg_V5_4\" (`vgpuvm types` lists "
			    "them), or give the vgpu.uuid of an mdev that exists, to adopt it");
	if (json_object_object_get_ex(o, "display", &v) && (r = get_bool(c, v, "vgpu.display", &g->display)) < 0)
		return r;
	if (json_object_object_get_ex(o, "ramfb", &v) && (r = get_bool(c, v, "vgpu.ramfb", &g->ramfb)) < 0)
		return r;
	if (json_object_object_get_ex(o, "opregion", &v)) {
		if ((r = get_bool(c, v, "vgpu.opregion", &g->opregion)) < 0)
			return r;
		g->opregion_set = true;
	}
	if (json_object_object_get_ex(o, "nohotplug", &v)) {
		if ((r = get_bool(c, v, "vgpu.nohotplug", &g->nohotplug)) < 0)
			return r;
		nohotplug_set = true;
	}
	if (json_object_object_get_ex(o, "memlock", &v) && (r = get_bool(c, v, "vgpu.memlock", &g->memlock)) < 0)
		return r;
	if (json_object_object_get_ex(o, "xres", &v) && (r = get_uint(c, v, "vgpu.xres", 1, RES_MAX, &g->xres)) < 0)
		return r;
	if (json_object_object_get_ex(o, "yres", &v) && (r = get_uint(c, v, "vgpu.yres", 1, RES_MAX, &g->yres)) < 0)
		return r;

	if (g->ramfb && !g->display)
		return fail(c, "vgpu.ramfb",
			    "needs the vGPU display; remove \"display\": false or set \"ramfb\": false");
	if ((g->xres || g->yres) && !g->display)
		return fail(c, g->xres ? "vgpu.xres" : "vgpu.yres",
			    "sets the resolution of the vGPU display, which \"display\": false turns off");
	if (!!g->xres != !!g->yres)
		return fail(c, g->xres ? "vgpu.yres" : "vgpu.xres", "missing; xres and yres go together");
	/* ramfb is only allowed on a device that cannot be unplugged, so ramfb implies the nohotplug driver. */
	if (g->ramfb && nohotplug_set && !g->nohotplug)
		return fail(
		    c, "vgpu.nohotplug",
		    "false, but \"ramfb\": true needs vfio-pci-nohotplug (QEMU puts ramfb only "
		    "on a device that cannot be unplugged); remove \"nohotplug\": false, or set \"ramfb\": false");
	if (g->ramfb)
		g->nohotplug = true;
	return 0;
}

/*
 * SPICE: on the supervisor's unix socket by default, where the socket's mode says who may connect; over TCP only with
 * a password, as anyone who can reach the port could otherwise connect. GL reaches a client only through the local
 * socket (dmabufs go with SCM_RIGHTS), so TCP has none.
 */
static int parse_spice(struct profile_parse_ctx *c, struct profile_display *d, bool has_gl, struct profile *p)
{
	const char *colon;
	char *end;
	unsigned long port;

	if (d->full_screen)
		return fail(c, "display.full_screen",
			    "a \"spice\" display has no window of its own; use vgpuvm viewer NAME --full-screen");
	if (!d->listen) {
		if (d->password_file)
			return fail(c, "display.password_file",
				    "the local socket needs no password (its group says who may connect); remove "
				    "\"password_file\", or add \"listen\" for SPICE over TCP");
		if (!has_gl)
			d->gl = p->vgpu && p->vgpu->display;
	} else {
		if (!d->password_file)
			return fail(c, "display.listen",
				    "SPICE over TCP needs a password: add \"password_file\" (a file only root can "
				    "write, its first line the password), or remove \"listen\" for the local socket");
		if (d->password_file[0] != '/')
			return fail(c, "display.password_file", "expected an absolute path, got \"%s\"",
				    d->password_file);
		if (has_gl && d->gl)
			return fail(c, "display.gl",
				    "SPICE's GL works only on the local socket; remove \"listen\" or \"gl\"");
		d->gl = false;
		colon = strrchr(d->listen, ':');
		errno = 0;
		port = colon ? strtoul(colon + 1, &end, 10) : 0;
		/* QEMU reads options after a comma: an address must not smuggle any in. */
		if (!colon || colon == d->listen || strpbrk(d->listen, ", \t\n=") || errno || *end || port == 0 ||
		    port > 65535 || !isdigit((unsigned char)colon[1]))
			return fail(c, "display.listen",
				    "expected \"HOST:PORT\" like \"127.0.0.1:5930\", with no comma or space, "
				    "got \"%s\"",
				    d->listen);
	}
	if (d->rendernode && !d->gl)
		return fail(c, "display.rendernode", "a render node is for GL; set \"gl\": true or remove it");
	if (d->rendernode && (d->rendernode[0] != '/' || strchr(d->rendernode, ',')))
		return fail(c, "display.rendernode",
			    "expected a render node's path like \"/dev/dri/renderD128\" (no comma), got \"%s\"",
			    d->rendernode);
	return 0;
}

static int parse_display(struct profile_parse_ctx *c, json_object *o, struct profile *p)
{
	struct profile_display *d = &p->display;
	bool has_gl = false;
	json_object *v;
	int r;

	if ((r = expect_object(c, o, "display")) < 0 || (r = check_keys(c, o, "display", display_keys)) < 0)
		return r;
	if (json_object_object_get_ex(o, "type", &v)) {
		_cleanup_free_ char *t = NULL;

		if ((r = get_string(c, v, "display.type", &t)) < 0)
			return r;
		d->type = profile_display_type_from_string(t);
		if (d->type == PROFILE_DISPLAY_MAX)
			return fail(
			    c, "display.type",
			    "\"%s\" is not one of \"gtk\", \"egl-headless\", \"spice\", \"spice-app\", \"vnc\", "
			    "\"dbus\", \"none\"",
			    t);
	}
	if (json_object_object_get_ex(o, "gl", &v)) {
		if ((r = get_bool(c, v, "display.gl", &d->gl)) < 0)
			return r;
		has_gl = true;
	}
	if (json_object_object_get_ex(o, "full_screen", &v) &&
	    (r = get_bool(c, v, "display.full_screen", &d->full_screen)) < 0)
		return r;
	if (json_object_object_get_ex(o, "rendernode", &v) &&
	    (r = get_string(c, v, "display.rendernode", &d->rendernode)) < 0)
		return r;
	if (json_object_object_get_ex(o, "listen", &v) && (r = get_string(c, v, "display.listen", &d->listen)) < 0)
		return r;
	if (json_object_object_get_ex(o, "password_file", &v) &&
	    (r = get_string(c, v, "display.password_file", &d->password_file)) < 0)
		return r;
	if (d->type == PROFILE_DISPLAY_SPICE)
		return parse_spice(c, d, has_gl, p);
	if (d->password_file)
		return fail(c, "display.password_file", "only a \"spice\" display with \"listen\" takes a password");

	/* Which options make sense for which display, so that a profile never asks QEMU for something it ignores. */
	switch (d->type) {
	case PROFILE_DISPLAY_EGL_HEADLESS:
		if (has_gl && !d->gl)
			return fail(c, "display.gl", "egl-headless always renders with OpenGL; remove \"gl\": false");
		d->gl = true;
		break;
	case PROFILE_DISPLAY_VNC:
	case PROFILE_DISPLAY_NONE:
		if (has_gl && d->gl)
			return fail(c, "display.gl", "the \"%s\" display has no OpenGL; use \"egl-headless\" for GL",
				    profile_display_type_to_string(d->type));
		d->gl = false;
		break;
	default:
		if (!has_gl)
			d->gl = p->vgpu && p->vgpu->display;
		break;
	}
	if (d->full_screen && d->type != PROFILE_DISPLAY_GTK)
		return fail(c, "display.full_screen", "only the \"gtk\" display has a full-screen mode");
	if (d->rendernode && d->type != PROFILE_DISPLAY_EGL_HEADLESS && d->type != PROFILE_DISPLAY_DBUS)
		return fail(c, "display.rendernode", "only \"egl-headless\" and \"dbus\" take a render node");
	/* No comma: QEMU would read what follows as more options. The node itself is checked when the VM starts. */
	if (d->rendernode && (d->rendernode[0] != '/' || strchr(d->rendernode, ',')))
		return fail(c, "display.rendernode",
			    "expected a render node's path like \"/dev/dri/renderD128\" (no comma), "
			    "got \"%s\"",
			    d->rendernode);
	if (d->type == PROFILE_DISPLAY_VNC && !d->listen)
		return fail(c, "display.listen", "missing; a \"vnc\" display needs an address, e.g. \"127.0.0.1:0\"");
	if (d->listen && d->type != PROFILE_DISPLAY_VNC && d->type != PROFILE_DISPLAY_EGL_HEADLESS)
		return fail(c, "display.listen", "only \"vnc\" and \"egl-headless\" (VNC beside it) take an address");
	/* QEMU reads options after a comma: an address must not smuggle any in ("0.0.0.0:0,password=off"). */
	if (d->listen && strpbrk(d->listen, ", \t\n"))
		return fail(c, "display.listen",
			    "expected a VNC display \"HOST:N\" like \"127.0.0.1:0\", with no comma or "
			    "space, got \"%s\"",
			    d->listen);
	if (d->listen && !strchr(d->listen, ':'))
		return fail(c, "display.listen",
			    "expected a VNC display \"HOST:N\" like \"127.0.0.1:0\" (port 5900+N), got \"%s\"",
			    d->listen);
	return 0;
}

static int parse_serial(struct profile_parse_ctx *c, json_object *v, struct profile *p)
{
	_cleanup_free_ char *s = NULL;
	int r;

	if ((r = get_string(c, v, "serial", &s)) < 0)
		return r;
	if (strcmp(s, "stdio") == 0)
		p->serial = PROFILE_SERIAL_STDIO;
	else if (strcmp(s, "none") == 0)
		p->serial = PROFILE_SERIAL_NONE;
	else if (strcmp(s, "pty") == 0)
		p->serial = PROFILE_SERIAL_PTY;
	else if (strncmp(s, "file:", 5) == 0 && s[5]) {
		p->serial = PROFILE_SERIAL_FILE;
		p->serial_file = strdup(s + 5);
		if (!p->serial_file)
			return -ENOMEM;
	} else
		return fail(c, "serial", "expected \"stdio\", \"none\", \"pty\" or \"file:PATH\", got \"%s\"", s);
	return 0;
}

static const char *default_format(const char *file)
{
	const char *dot = strrchr(file, '.');

	if (dot && strchr(dot, '/') == NULL)
		for (const char *const *f = (const char *const[]){ "qcow2", "vmdk", "vdi", "vhdx", "qed", NULL }; *f;
		     f++)
			if (strcasecmp(dot + 1, *f) == 0)
				return *f;
	return "raw";
}

/* Whether a file's name says it is a raw image: .img or .raw. */
static bool ends_with_raw(const char *file)
{
	const char *dot = strrchr(file, '.');

	return dot && !strchr(dot, '/') && (strcasecmp(dot, ".img") == 0 || strcasecmp(dot, ".raw") == 0);
}

static int parse_disks(struct profile_parse_ctx *c, json_object *a, struct profile *p)
{
	char buf[64];
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return fail(c, "disks", "expected a list [{\"file\": ...}, ...], got %s", show(a, buf, sizeof(buf)));
	n = json_object_array_length(a);
	p->disks = calloc(n ? n : 1, sizeof(*p->disks));
	if (!p->disks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i), *v;
		struct profile_disk *d = &p->disks[i];
		char prefix[32], field[64];
		int r;

		p->n_disks = i + 1;
		snprintf(prefix, sizeof(prefix), "disks[%zu]", i);
		if ((r = expect_object(c, o, prefix)) < 0 || (r = check_keys(c, o, prefix, disk_keys)) < 0)
			return r;
		snprintf(field, sizeof(field), "%s.file", prefix);
		if (!json_object_object_get_ex(o, "file", &v))
			return fail(c, field, "missing; name the disk image");
		if ((r = get_string(c, v, field, &d->file)) < 0)
			return r;
		snprintf(field, sizeof(field), "%s.format", prefix);
		if (json_object_object_get_ex(o, "format", &v)) {
			if ((r = get_string(c, v, field, &d->format)) < 0)
				return r;
			if (strchr(d->format, ','))
				return fail(c, field, "\"%s\" is not an image format like \"raw\" or \"qcow2\"",
					    d->format);
		} else if (!(d->format = strdup(default_format(d->file))))
			return -ENOMEM;
		snprintf(field, sizeof(field), "%s.interface", prefix);
		if (json_object_object_get_ex(o, "interface", &v)) {
			_cleanup_free_ char *s = NULL;

			if ((r = get_string(c, v, field, &s)) < 0)
				return r;
			d->interface = profile_disk_interface_from_string(s);
			if (d->interface == PROFILE_DISK_INTERFACE_MAX)
				return fail(c, field, "expected \"virtio\" or \"ide\", got \"%s\"", s);
		}
		snprintf(field, sizeof(field), "%s.readonly", prefix);
		if (json_object_object_get_ex(o, "readonly", &v) && (r = get_bool(c, v, field, &d->readonly)) < 0)
			return r;
		snprintf(field, sizeof(field), "%s.snapshot", prefix);
		if (json_object_object_get_ex(o, "snapshot", &v) && (r = get_bool(c, v, field, &d->snapshot)) < 0)
			return r;
		if (d->readonly && d->snapshot)
			return fail(c, field,
				    "a snapshot disk is already never written; drop \"readonly\" or \"snapshot\"");
		/* QEMU's IDE hard disk cannot be read-only ("Block node is read-only"): the property tests found it. */
		snprintf(field, sizeof(field), "%s.readonly", prefix);
		if (d->readonly && d->interface == PROFILE_DISK_IDE)
			return fail(c, field,
				    "QEMU has no read-only IDE disk; use \"interface\": \"virtio\", or \"snapshot\": "
				    "true to drop the guest's writes");
		snprintf(field, sizeof(field), "%s.size", prefix);
		if (json_object_object_get_ex(o, "size", &v)) {
			_cleanup_free_ char *msg = NULL;

			if ((r = profile_disk_size_parse(v, &d->size, &msg)) < 0)
				return r == -EINVAL ? fail(c, field, "%s", msg) : r;
			if (d->readonly || d->snapshot)
				return fail(c, field,
					    "a disk that vgpuvm makes starts empty: a read-only or snapshot one would "
					    "stay so; drop \"size\", or \"%s\"",
					    d->readonly ? "readonly" : "snapshot");
			/* A disk vgpuvm makes is qcow2 (it grows as the guest writes) unless its name or
			 * "format" says raw. */
			if (!json_object_object_get_ex(o, "format", NULL) && strcmp(d->format, "raw") == 0 &&
			    !ends_with_raw(d->file)) {
				free(d->format);
				if (!(d->format = strdup("qcow2")))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static int parse_env(struct profile_parse_ctx *c, json_object *o, struct profile *p)
{
	size_t n = 0;
	int r;

	if ((r = expect_object(c, o, "env")) < 0)
		return r;
	p->env = calloc(json_object_object_length(o) + 1, sizeof(char *));
	if (!p->env)
		return -ENOMEM;
	json_object_object_foreach(o, key, val)
	{
		char field[128], buf[64];

		snprintf(field, sizeof(field), "env.%s", key);
		if (!valid_env_name(key))
			return fail(c, field, "not a valid environment variable name");
		if (!json_object_is_type(val, json_type_string))
			return fail(c, field, "expected a string, got %s", show(val, buf, sizeof(buf)));
		if ((r = check_text(c, val, field)) < 0)
			return r;
		if (asprintf(&p->env[n], "%s=%s", key, json_object_get_string(val)) < 0) {
			p->env[n] = NULL;
			return -ENOMEM;
		}
		n++;
	}
	return 0;
}

static int parse_strings(struct profile_parse_ctx *c, json_object *a, const char *field, char ***ret)
{
	char buf[64];
	size_t n;
	int r;

	if (!json_object_is_type(a, json_type_array))
		return fail(c, field, "expected a list of strings, got %s", show(a, buf, sizeof(buf)));
	n = json_object_array_length(a);
	strv_free(*ret);
	*ret = calloc(n + 1, sizeof(char *));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		char f[64];

		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (!json_object_is_type(v, json_type_string))
			return fail(c, f, "expected a string, got %s", show(v, buf, sizeof(buf)));
		if ((r = check_text(c, v, f)) < 0)
			return r;
		if (!((*ret)[i] = strdup(json_object_get_string(v))))
			return -ENOMEM;
	}
	return 0;
}

/* QEMU's -sandbox parts: "deny" (the default) or "allow"; elevateprivileges also takes "children". */
static int parse_sandbox(struct profile_parse_ctx *c, json_object *o, struct profile *p)
{
	int r;

	if ((r = expect_object(c, o, "sandbox")) < 0 || (r = check_keys(c, o, "sandbox", sandbox_keys)) < 0)
		return r;
	for (unsigned i = 0; i < PROFILE_SANDBOX_PART_MAX; i++) {
		const char *part = profile_sandbox_part_to_string(i);
		_cleanup_free_ char *s = NULL;
		char field[64];
		json_object *v;
		unsigned a;

		if (!json_object_object_get_ex(o, part, &v))
			continue;
		snprintf(field, sizeof(field), "sandbox.%s", part);
		if ((r = get_string(c, v, field, &s)) < 0)
			return r;
		for (a = 0; a < PROFILE_SANDBOX_ACTION_MAX; a++)
			if (strcmp(s, profile_sandbox_action_to_string(a)) == 0)
				break;
		if (a == PROFILE_SANDBOX_CHILDREN && i != PROFILE_SANDBOX_ELEVATEPRIVILEGES)
			a = PROFILE_SANDBOX_ACTION_MAX;
		if (a == PROFILE_SANDBOX_ACTION_MAX)
			return fail(c, field, "expected \"deny\" or \"allow\"%s, got \"%s\"",
				    i == PROFILE_SANDBOX_ELEVATEPRIVILEGES ? " or \"children\"" : "", s);
		p->sandbox[i] = a;
	}
	return 0;
}

static int parse_shutdown(struct profile_parse_ctx *c, json_object *o, struct profile_shutdown *s)
{
	json_object *v;
	int r;

	if ((r = expect_object(c, o, "shutdown")) < 0 || (r = check_keys(c, o, "shutdown", shutdown_keys)) < 0)
		return r;
	if (json_object_object_get_ex(o, "agent_timeout", &v) &&
	    (r = get_uint(c, v, "shutdown.agent_timeout", 0, PROFILE_TIMEOUT_MAX, &s->agent_timeout)) < 0)
		return r;
	if (json_object_object_get_ex(o, "powerdown_timeout", &v) &&
	    (r = get_uint(c, v, "shutdown.powerdown_timeout", 0, PROFILE_TIMEOUT_MAX, &s->powerdown_timeout)) < 0)
		return r;
	if (json_object_object_get_ex(o, "quit_timeout", &v) &&
	    (r = get_uint(c, v, "shutdown.quit_timeout", 0, PROFILE_TIMEOUT_MAX, &s->quit_timeout)) < 0)
		return r;
	if (json_object_object_get_ex(o, "kill_timeout", &v) &&
	    (r = get_uint(c, v, "shutdown.kill_timeout", 0, PROFILE_TIMEOUT_MAX, &s->kill_timeout)) < 0)
		return r;
	return 0;
}

/* "firmware" and "tpm" (profile_firmware.c), whose messages get the file's name and --set's note here. */
static int parse_firmware_tpm(struct profile_parse_ctx *c, json_object *root, struct profile *p)
{
	_cleanup_free_ char *msg = NULL;
	const char *field = NULL;
	json_object *v;
	int r = 0;

	if (json_object_object_get_ex(root, "firmware", &v))
		r = profile_firmware_parse(v, p, json_object_object_get_ex(root, "machine", NULL), &field, &msg);
	if (r == 0 && json_object_object_get_ex(root, "tpm", &v))
		r = profile_tpm_parse(v, p, &field, &msg);
	if (r == -EINVAL)
		return fail(c, field, "%s", msg);
	return r;
}

/* "shares" (profile_storage.c). */
static int parse_shares(struct profile_parse_ctx *c, json_object *v, struct profile *p)
{
	_cleanup_free_ char *field = NULL, *msg = NULL;
	int r = profile_shares_parse(v, p, &field, &msg);

	if (r == -EINVAL)
		return fail(c, field, "%s", msg);
	return r;
}

/* The default name: the file's basename without ".json". */
static int name_from_path(const char *path, char **ret)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".json") == 0)
		n -= 5;
	*ret = strndup(b, n);
	return *ret ? 0 : -ENOMEM;
}

static int derive_uuid(const char *name, char ret[PROFILE_UUID_STRING_MAX])
{
	uuid_t ns, out;

	if (uuid_parse(uuid_namespace, ns) < 0)
		return -EINVAL;
	uuid_generate_sha1(out, ns, name, strlen(name));
	uuid_unparse_lower(out, ret);
	return 0;
}

static int parse_root(struct profile_parse_ctx *c, json_object *root, struct profile *p)
{
	json_object *v;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return fail(c, NULL, "a profile is a JSON object {...}");
	if ((r = check_keys(c, root, NULL, top_keys)) < 0)
		return r;

	/* The schema an editor checks the file against (profile.schema.json); vgpuvm itself reads nothing from it. */
	if (json_object_object_get_ex(root, "$schema", &v)) {
		_cleanup_free_ char *schema = NULL;

		if ((r = get_string(c, v, "$schema", &schema)) < 0)
			return r;
	}
	if (json_object_object_get_ex(root, "name", &v)) {
		if ((r = get_string(c, v, "name", &p->name)) < 0)
			return r;
		if (!profile_name_valid(p->name))
			return fail(
			    c, "name",
			    "\"%s\" must be 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
			    p->name);
	} else {
		if ((r = name_from_path(c->path, &p->name)) < 0)
			return r;
		if (!profile_name_valid(p->name))
			return fail(c, "name",
				    "missing, and the file name \"%s\" is not a usable name; add \"name\": \"...\"",
				    p->name);
	}

	if (!json_object_object_get_ex(root, "memory", &v))
		return fail(c, "memory", "missing; give the guest's RAM, e.g. \"memory\": \"2G\"");
	if ((r = get_memory(c, v, &p->memory)) < 0)
		return r;

	p->cpus = 1;
	if (json_object_object_get_ex(root, "cpus", &v) && (r = get_uint(c, v, "cpus", 1, CPUS_MAX, &p->cpus)) < 0)
		return r;
	if (json_object_object_get_ex(root, "machine", &v) && (r = get_string(c, v, "machine", &p->machine)) < 0)
		return r;
	if (!p->machine && !(p->machine = strdup("pc")))
		return -ENOMEM;

	p->accel = PROFILE_ACCEL_KVM;
	if (json_object_object_get_ex(root, "accel", &v)) {
		_cleanup_free_ char *s = NULL;

		if ((r = get_string(c, v, "accel", &s)) < 0)
			return r;
		p->accel = profile_accel_from_string(s);
		if (p->accel == PROFILE_ACCEL_MAX)
			return fail(c, "accel", "expected \"kvm\" or \"tcg\", got \"%s\"", s);
	}
	if (json_object_object_get_ex(root, "cpu", &v) && (r = get_string(c, v, "cpu", &p->cpu)) < 0)
		return r;
	/* Under KVM the guest should see the host's CPU (GVT-g guest drivers check its generation); TCG keeps QEMU's
	 * default, which is the fastest to emulate. */
	if (!p->cpu && p->accel == PROFILE_ACCEL_KVM && !(p->cpu = strdup("host")))
		return -ENOMEM;
	if (json_object_object_get_ex(root, "qemu", &v) && (r = get_string(c, v, "qemu", &p->qemu)) < 0)
		return r;
	if (!p->qemu && !(p->qemu = strdup("qemu-system-x86_64")))
		return -ENOMEM;

	if (json_object_object_get_ex(root, "vgpu", &v) && !json_object_is_type(v, json_type_null)) {
		p->vgpu = calloc(1, sizeof(*p->vgpu));
		if (!p->vgpu)
			return -ENOMEM;
		if ((r = parse_vgpu(c, v, p->vgpu)) < 0)
			return r;
		if (p->vgpu->uuid_auto && (r = derive_uuid(p->name, p->vgpu->uuid)) < 0)
			return r;
	}

	/* Without a vGPU display there is nothing for a window to show, so the default is no window. */
	p->display.type = p->vgpu && p->vgpu->display ? PROFILE_DISPLAY_GTK : PROFILE_DISPLAY_NONE;
	p->display.gl = p->vgpu && p->vgpu->display;
	if (json_object_object_get_ex(root, "display", &v) && (r = parse_display(c, v, p)) < 0)
		return r;

	p->serial = PROFILE_SERIAL_STDIO;
	if (json_object_object_get_ex(root, "serial", &v) && (r = parse_serial(c, v, p)) < 0)
		return r;
	p->graphics_off = p->vgpu != NULL;
	if (json_object_object_get_ex(root, "graphics_off", &v) &&
	    (r = get_bool(c, v, "graphics_off", &p->graphics_off)) < 0)
		return r;
	if (json_object_object_get_ex(root, "cdrom", &v) && (r = get_string(c, v, "cdrom", &p->cdrom)) < 0)
		return r;
	if (json_object_object_get_ex(root, "disks", &v) && (r = parse_disks(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "net", &v) && (r = profile_net_parse(c, v, p)) < 0)
		return r;
	if ((r = profile_devices_parse(c, root, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "usb", &v) && (r = profile_usb_parse(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "env", &v)) {
		if ((r = parse_env(c, v, p)) < 0)
			return r;
	} else if (!(p->env = calloc(1, sizeof(char *))))
		return -ENOMEM;
	if (json_object_object_get_ex(root, "extra_args", &v)) {
		if ((r = parse_strings(c, v, "extra_args", &p->extra_args)) < 0)
			return r;
	} else if (!(p->extra_args = calloc(1, sizeof(char *))))
		return -ENOMEM;

	p->start_timeout = 120;
	if (json_object_object_get_ex(root, "start_timeout", &v) &&
	    (r = get_uint(c, v, "start_timeout", 1, PROFILE_TIMEOUT_MAX, &p->start_timeout)) < 0)
		return r;
	p->restart = PROFILE_RESTART_NO;
	if (json_object_object_get_ex(root, "restart", &v)) {
		_cleanup_free_ char *s = NULL;

		if ((r = get_string(c, v, "restart", &s)) < 0)
			return r;
		if (strcmp(s, "no") == 0)
			p->restart = PROFILE_RESTART_NO;
		else if (strcmp(s, "on-failure") == 0)
			p->restart = PROFILE_RESTART_ON_FAILURE;
		else if (strcmp(s, "always") == 0)
			p->restart = PROFILE_RESTART_ALWAYS;
		else
			return fail(c, "restart", "expected \"no\", \"on-failure\" or \"always\", got \"%s\"", s);
	}
	p->restart_delay = 1;
	if (json_object_object_get_ex(root, "restart_delay", &v) &&
	    (r = get_uint(c, v, "restart_delay", 0, 3600, &p->restart_delay)) < 0)
		return r;
	if (json_object_object_get_ex(root, "user", &v)) {
		if ((r = get_string(c, v, "user", &p->user)) < 0)
			return r;
		if (!profile_name_valid(p->user))
			return fail(c, "user", "\"%s\" is not a user name or number", p->user);
	}
	if (json_object_object_get_ex(root, "sandbox", &v) && (r = parse_sandbox(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "group", &v)) {
		if ((r = get_string(c, v, "group", &p->group)) < 0)
			return r;
		if (!profile_name_valid(p->group))
			return fail(c, "group", "\"%s\" is not a group name", p->group);
	}
	p->shutdown = (struct profile_shutdown){
		.agent_timeout = 30, .powerdown_timeout = 60, .quit_timeout = 10, .kill_timeout = 5
	};
	if (json_object_object_get_ex(root, "shutdown", &v) && (r = parse_shutdown(c, v, &p->shutdown)) < 0)
		return r;
	if (json_object_object_get_ex(root, "shares", &v) && (r = parse_shares(c, v, p)) < 0)
		return r;
	if ((r = parse_firmware_tpm(c, root, p)) < 0)
		return r;
	/* The rules across parts, and those of the vGPU's type (profile_check.c). */
	return profile_check(p, &c->error);
}

/*
 * Parses text as exactly one JSON value with nothing but white space after it. A bare "null" gives 0 and *ret NULL.
 * On a syntax error, *ret_offset and *ret_what (both optional) say where and what.
 */
static int parse_exact(const char *text, size_t len, json_object **ret, size_t *ret_offset, const char **ret_what)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	json_object *o;
	size_t end;

	if (len > INT32_MAX)
		return -E2BIG;
	if ((end = json_text_nul_escape(text, len)) != SIZE_MAX) {
		if (ret_offset)
			*ret_offset = end;
		if (ret_what)
			*ret_what = "a \\u0000 (NUL) in a string";
		return -EINVAL;
	}
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	/* Strict JSON: a trailing comma or a single-quoted string is a mistake worth pointing at, not guessing past. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (e == json_tokener_continue) {
		/* A number at the very end may still go on; a NUL tells json-c the input is over. */
		o = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	/* text need not be NUL-terminated: look at no more than its len bytes. */
	while (e == json_tokener_success && end < len && text[end] && strchr(" \t\r\n", text[end]))
		end++;
	if (e == json_tokener_success && end == len) {
		*ret = o;
		return 0;
	}
	json_object_put(o);
	if (ret_offset)
		*ret_offset = end;
	if (ret_what)
		*ret_what =
		    e != json_tokener_success ? json_tokener_error_desc(e) : "unexpected text after the JSON value";
	return -EINVAL;
}

int profile_set_check(const char *assignment, char **ret_error)
{
	const char *eq = strchr(assignment, '='), *k;
	const char *why = NULL;

	if (!eq)
		why = "expected KEY=VALUE, like vgpu.xres=1920";
	else if (eq == assignment)
		why = "the key before '=' is empty";
	else {
		unsigned parts = 1;

		for (k = assignment; k < eq && !why; k++)
			if (*k == '.' && (k == assignment || k + 1 == eq || k[1] == '.'))
				why = "the key has an empty part; write it like vgpu.xres";
			else if (*k == '.')
				parts++;
		/* A profile is two levels deep; a key thousands of levels deep would only build a tree that overflows
		 * the stack when it is freed. */
		if (!why && parts > SET_DEPTH_MAX)
			why = "the key has too many parts; a profile's keys are at most two deep, like vgpu.xres";
	}
	if (!why)
		return 0;
	if (asprintf(ret_error, "--set %s: %s", assignment, why) < 0)
		return -ENOMEM;
	return -EINVAL;
}

/*
 * Applies one --set to the JSON tree. The value is taken as JSON when it is JSON (numbers, true/false, null, lists,
 * objects), and as a string otherwise, so "--set memory=4G" and "--set cpus=4" both do what they say. null removes
 * the key, which is how a profile's vGPU is turned off from the command line.
 */
static int apply_set(struct profile_parse_ctx *c, json_object *root, const char *assignment)
{
	_cleanup_free_ char *key = NULL;
	const char *eq = strchr(assignment, '='), *value = eq + 1;
	json_object *o = root, *val = NULL;
	char *part, *next;

	key = strndup(assignment, eq - assignment);
	if (!key)
		return -ENOMEM;
	if (parse_exact(value, strlen(value), &val, NULL, NULL) < 0)
		val = json_object_new_string(value);
	else if (!val && strcmp(value, "null") != 0)
		val = json_object_new_string(value);
	if (!val && strcmp(value, "null") != 0)
		return -ENOMEM;

	for (part = key; (next = strchr(part, '.')); part = next + 1) {
		json_object *child;

		*next = 0;
		if (!json_object_object_get_ex(o, part, &child) || json_object_is_type(child, json_type_null)) {
			child = json_object_new_object();
			if (!child || json_object_object_add(o, part, child) < 0) {
				json_object_put(val);
				return -ENOMEM;
			}
		} else if (!json_object_is_type(child, json_type_object)) {
			json_object_put(val);
			*next = '.';
			return fail(c, NULL, "--set %s: %.*s is not an object in the profile", assignment,
				    (int)(next - key), key);
		}
		o = child;
		*next = '.';
	}
	if (!val) {
		json_object_object_del(o, part);
		return 0;
	}
	return json_object_object_add(o, part, val) < 0 ? -ENOMEM : 0;
}

int profile_parse(const char *path, const char *text, size_t len, char *const *sets, struct profile **ret,
		  char **ret_error)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_json_ json_object *root = NULL;
	struct profile_parse_ctx c = { .path = path, .sets = sets };
	const char *what = NULL;
	size_t off = 0;
	int r;

	if (memchr(text, 0, len)) {
		r = fail(&c, NULL, "not a text file (it contains a NUL byte)");
		goto out;
	}
	r = parse_exact(text, len, &root, &off, &what);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || !root) {
		size_t line = 1, col = 1;

		for (size_t i = 0; i < off && i < len; i++, col++)
			if (text[i] == '\n') {
				line++;
				col = 0;
			}
		r = fail(&c, NULL, "line %zu, column %zu: invalid JSON: %s", line, col,
			 r < 0 ? what : "expected an object {...}");
		goto out;
	}
	/* --set adds members to objects, and json-c asserts (aborts) when asked to add one to anything else. */
	if (sets && *sets && !json_object_is_type(root, json_type_object)) {
		r = fail(&c, NULL, "a profile is a JSON object {...}");
		goto out;
	}
	for (char *const *s = sets; s && *s; s++) {
		if ((r = profile_set_check(*s, &c.error)) < 0)
			goto out;
		if ((r = apply_set(&c, root, *s)) < 0)
			goto out;
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->path = strdup(path);
	if (!p->path)
		return -ENOMEM;
	r = parse_root(&c, root, p);
	if (r < 0)
		goto out;
	*ret = steal_pointer(&p);
	return 0;
out:
	if (ret_error && c.error)
		*ret_error = steal_pointer(&c.error);
	free(c.error);
	return r;
}

/* The field readers, for the parsers of the profile's other parts (profile_field.h). */
int profile_field_fail(struct profile_parse_ctx *c, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, field, fmt, ap);
	va_end(ap);
	return r;
}

const char *profile_field_show(json_object *v, char *buf, size_t size)
{
	return show(v, buf, size);
}

int profile_field_string(struct profile_parse_ctx *c, json_object *v, const char *field, char **ret)
{
	return get_string(c, v, field, ret);
}

int profile_field_bool(struct profile_parse_ctx *c, json_object *v, const char *field, bool *ret)
{
	return get_bool(c, v, field, ret);
}

int profile_field_uint(struct profile_parse_ctx *c, json_object *v, const char *field, unsigned min, unsigned max,
		       unsigned *ret)
{
	return get_uint(c, v, field, min, max, ret);
}

int profile_field_object(struct profile_parse_ctx *c, json_object *v, const char *field)
{
	return expect_object(c, v, field);
}

int profile_field_keys(struct profile_parse_ctx *c, json_object *o, const char *prefix, const char *const *keys)
{
	return check_keys(c, o, prefix, keys);
}
