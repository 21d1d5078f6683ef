/* SPDX-License-Identifier: MIT */
/*
 * The checks of what a VM needs: the QEMU binary and the options the profile uses (asked of QEMU itself with -version,
 * -display help and -device NAME,help), the Mesa driver the profile's env names, and, with a profile that has a vGPU,
 * its parent, type, instances, resolution, a GL display for a dmabuf type, and the memory lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/dri.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/memlock.h"
#include "supervisor/host/qemu_probe.h"
#include "util/time-util.h"

#define PROBE_TIMEOUT (10 * USEC_PER_SEC)

static const char *qemu_name(const struct doctor *d)
{
	return d->profile && d->profile->qemu ? d->profile->qemu : "qemu-system-x86_64";
}

/* QEMU's output for one set of help arguments; NULL when it could not be run. */
static char *ask_qemu(const struct doctor *d, const char *a, const char *b)
{
	const char *args[] = { a, b, NULL };
	char *out = NULL;

	if (qemu_probe_run(d->qemu_path, args, deadline_after(PROBE_TIMEOUT), &out) < 0)
		return NULL;
	return out;
}

/* Whether TEXT has a line that is exactly LINE, or starts with it when prefix is set. */
static bool has_line(const char *text, const char *line, bool prefix)
{
	size_t n = strlen(line);

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (prefix ? strncmp(l, line, n) == 0 : len == n && strncmp(l, line, n) == 0)
			return true;
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

static void check_binary(struct doctor *d)
{
	_cleanup_free_ char *path = NULL, *out = NULL;
	const char *name = qemu_name(d), *v;
	size_t len;
	int r;

	if (qemu_probe_find(name, &path) < 0) {
		doctor_add(
		    d, "qemu", DOCTOR_FAIL,
		    doctor_fmt("no QEMU binary %s%s", name, strchr(name, '/') ? "" : " in $PATH"),
		    doctor_fmt("install QEMU (Debian, Ubuntu: apt install qemu-system-x86; Fedora: dnf install "
			       "qemu-kvm; Arch: pacman -S qemu-desktop), or set the profile's \"qemu\" to its path"));
		return;
	}
	r = qemu_probe_run(path, (const char *[]){ "-version", NULL }, deadline_after(PROBE_TIMEOUT), &out);
	v = out ? strstr(out, "version ") : NULL;
	if (r != 0 || !v) {
		doctor_add(d, "qemu", DOCTOR_FAIL,
			   r == -ETIMEDOUT ? doctor_fmt("%s -version did not answer within 10 s", name)
			   : r < 0	   ? doctor_fmt("%s cannot be run: %s", name, strerror(-r))
				   : doctor_fmt("%s -version failed (exit %d): %.200s", name, r, out ? out : ""),
			   doctor_fmt("reinstall QEMU, or set the profile's \"qemu\" to a working one"));
		return;
	}
	v += strlen("version ");
	len = strcspn(v, "\n");
	doctor_add(d, "qemu", DOCTOR_PASS, doctor_fmt("%s is QEMU %.*s", name, (int)len, v), NULL);
	d->qemu_path = steal_pointer(&path);
}

static const char display_fix[] = "install QEMU's display modules (Debian, Ubuntu: apt install qemu-system-gui; "
				  "Fedora: the qemu-ui-* packages), or use a QEMU built with them";

static void check_display(struct doctor *d)
{
	const struct profile *p = d->profile;
	const char *type;

	if (!d->qemu_path) {
		doctor_add(d, "qemu.display", DOCTOR_SKIP, doctor_fmt("no QEMU to ask"), NULL);
		return;
	}
	d->display_help = ask_qemu(d, "-display", "help");
	if (!d->display_help || !has_line(d->display_help, "Available display backend types:", false)) {
		doctor_add(d, "qemu.display", DOCTOR_FAIL, doctor_fmt("%s -display help gave no list", qemu_name(d)),
			   doctor_fmt("%s", display_fix));
		return;
	}
	if (!p) {
		bool gl = has_line(d->display_help, "egl-headless", false);
		doctor_add(
		    d, "qemu.display", gl ? DOCTOR_PASS : DOCTOR_WARN,
		    gl ? doctor_fmt("QEMU has OpenGL displays (egl-headless%s)",
				    has_line(d->display_help, "gtk", false) ? ", gtk" : "")
		       : doctor_fmt("QEMU has no OpenGL display (no egl-headless): a GVT-g vGPU's display needs one"),
		    doctor_fmt("%s", display_fix));
		return;
	}
	type = profile_display_type_to_string(p->display.type);
	if (p->display.type == PROFILE_DISPLAY_NONE || p->display.type == PROFILE_DISPLAY_VNC) {
		doctor_add(d, "qemu.display", DOCTOR_SKIP,
			   doctor_fmt("the \"%s\" display needs no display module", type), NULL);
		return;
	}
	/* SPICE is not a -display: it is -spice, an option group of its own that a QEMU without SPICE lacks. */
	if (p->display.type == PROFILE_DISPLAY_SPICE) {
		_cleanup_free_ char *help = ask_qemu(d, "-spice", "help");

		if (!help || !has_line(help, "  disable-ticketing=", true)) {
			doctor_add(d, "qemu.display", DOCTOR_FAIL,
				   doctor_fmt("%s has no SPICE (-spice help lists no options)", qemu_name(d)),
				   doctor_fmt("use a QEMU built with SPICE (Debian, Ubuntu: qemu-system-x86 has it; "
					      "Fedora: qemu-ui-spice-core)"));
			return;
		}
	} else if (!has_line(d->display_help, type, false)) {
		doctor_add(d, "qemu.display", DOCTOR_FAIL,
			   doctor_fmt("%s has no \"%s\" display (-display help does not list it)", qemu_name(d), type),
			   doctor_fmt("%s", display_fix));
		return;
	}
	/* gl=on needs QEMU built with OpenGL; egl-headless exists only then, so its absence tells. */
	if (p->display.gl && !has_line(d->display_help, "egl-headless", false)) {
		doctor_add(
		    d, "qemu.display", DOCTOR_FAIL,
		    doctor_fmt("%s has the \"%s\" display but no OpenGL (gl=on): -display help lists no egl-headless",
			       qemu_name(d), type),
		    doctor_fmt("install QEMU's OpenGL support (Debian, Ubuntu: apt install qemu-system-gui; Fedora: "
			       "qemu-ui-opengl), or set display.gl to false if the vGPU allows it"));
		return;
	}
	doctor_add(d, "qemu.display", DOCTOR_PASS,
		   doctor_fmt("QEMU has the \"%s\" display%s", type, p->display.gl ? " with OpenGL" : ""), NULL);
}

/* Whether the profile's vGPU uses the device option that vgpu.KEY turns on; NULL: always used. */
static bool prop_used(const struct profile_vgpu *g, const char *key)
{
	if (!key)
		return true;
	if (!g)
		return false;
	if (strcmp(key, "display") == 0)
		return g->display;
	if (strcmp(key, "ramfb") == 0)
		return g->ramfb;
	if (strcmp(key, "opregion") == 0)
		return g->opregion;
	return g->xres > 0; /* xres and yres come together */
}

static void check_device(struct doctor *d)
{
	const struct profile_vgpu *g = d->profile ? d->profile->vgpu : NULL;
	const char *dev = g && g->nohotplug ? "vfio-pci-nohotplug" : "vfio-pci";
	static const struct {
		const char *prop, *key;
	} props[] = {
		{ "sysfsdev", NULL }, { "display", "display" }, { "ramfb", "ramfb" }, { "x-igd-opregion", "opregion" },
		{ "xres", "xres" },   { "yres", "yres" },
	};
	_cleanup_free_ char *out = NULL, *arg = NULL, *header = NULL;

	if (d->profile && !g)
		return;
	if (!d->qemu_path) {
		doctor_add(d, "qemu.device", DOCTOR_SKIP, doctor_fmt("no QEMU to ask"), NULL);
		return;
	}
	/* A type that is not a vfio-pci device is no question of QEMU's vfio-pci options: vgpu.type fails it. */
	for (size_t i = 0; g && g->type && d->host && i < d->host->n_parents; i++) {
		const struct mdev_type_info *t = mdev_parent_type(&d->host->parents[i], g->type);

		if (t && t->device_api && strcmp(t->device_api, "vfio-pci") != 0) {
			doctor_add(
			    d, "qemu.device", DOCTOR_SKIP,
			    doctor_fmt("%s is a %s device, not a vfio-pci one (see vgpu.type)", g->type, t->device_api),
			    NULL);
			return;
		}
	}
	if (asprintf(&arg, "%s,help", dev) < 0 || asprintf(&header, "%s options:", dev) < 0)
		return;
	out = ask_qemu(d, "-device", arg);
	if (!out || !has_line(out, header, false)) {
		doctor_add(
		    d, "qemu.device", DOCTOR_FAIL, doctor_fmt("%s has no %s device", qemu_name(d), dev),
		    g && g->nohotplug
			? doctor_fmt("use a QEMU built with VFIO that has vfio-pci-nohotplug, or set vgpu.ramfb "
				     "and vgpu.nohotplug to false")
			: doctor_fmt("use a QEMU built with VFIO (the x86 QEMU of Debian, Ubuntu, Fedora and Arch "
				     "is)"));
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(props); i++) {
		_cleanup_free_ char *line = NULL;
		bool used = prop_used(g, props[i].key);

		if (!used || asprintf(&line, "  %s=", props[i].prop) < 0 || has_line(out, line, true))
			continue;
		doctor_add(d, "qemu.device", DOCTOR_FAIL,
			   doctor_fmt("%s's %s device has no %s option%s%s%s", qemu_name(d), dev, props[i].prop,
				      props[i].key ? " (vgpu." : "", props[i].key ?: "", props[i].key ? ")" : ""),
			   props[i].key
			       ? doctor_fmt("use a newer QEMU, or remove vgpu.%s from the profile", props[i].key)
			       : doctor_fmt("use a newer QEMU"));
		return;
	}
	doctor_add(d, "qemu.device", DOCTOR_PASS, doctor_fmt("QEMU has %s with the options the profile uses", dev),
		   NULL);
}

/* The value of NAME in the profile's env, or NULL. */
static const char *profile_env(const struct profile *p, const char *name)
{
	size_t n = strlen(name);

	for (char **e = p->env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/*
 * A profile that makes Mesa load a driver by name (MESA_LOADER_DRIVER_OVERRIDE): the file must be where Mesa looks,
 * or QEMU's GL display fails to start. Older guides give i965 for GVT-g, which Mesa 22.0 removed. Only such a profile
 * gets this check.
 */
static void check_mesa_driver(struct doctor *d)
{
	const char *drv = d->profile ? profile_env(d->profile, "MESA_LOADER_DRIVER_OVERRIDE") : NULL;
	const char *search = d->profile ? profile_env(d->profile, "LIBGL_DRIVERS_PATH") : NULL;

	if (!drv)
		return;
	/* QEMU gets LIBGL_DRIVERS_PATH from the profile's env, else from vgpuvm's own (docs/security.md). */
	if (!search)
		search = getenv("LIBGL_DRIVERS_PATH");
	if (!*drv || strchr(drv, '/')) {
		doctor_add(
		    d, "env.mesa", DOCTOR_FAIL,
		    doctor_fmt("the profile's env sets MESA_LOADER_DRIVER_OVERRIDE to \"%s\", not a driver name", drv),
		    doctor_fmt("set it to a driver's name (iris, crocus, ...), or remove it"));
		return;
	}
	if (dri_driver_find(search, drv, NULL) == 0) {
		doctor_add(d, "env.mesa", DOCTOR_PASS,
			   doctor_fmt("the profile's env makes Mesa load %s, and %s_dri.so is there", drv, drv), NULL);
		return;
	}
	doctor_add(
	    d, "env.mesa", DOCTOR_FAIL,
	    doctor_fmt("the profile's env sets MESA_LOADER_DRIVER_OVERRIDE=%s, but there is no %s_dri.so where Mesa "
		       "looks (%s)%s",
		       drv, drv, search && *search ? "the LIBGL_DRIVERS_PATH directories" : DRI_DEFAULT_PATH,
		       strcmp(drv, "i965") == 0 ? ": Mesa 22.0 removed i965 (Debian 12's Mesa 22.3 has iris and crocus "
						  "for Intel)"
						: ""),
	    doctor_fmt("remove MESA_LOADER_DRIVER_OVERRIDE from the profile's env%s",
		       strcmp(drv, "i965") == 0
			   ? "; for garbled or black GVT-g output with iris (Mesa 20 and later), the known "
			     "workaround is \"INTEL_DEBUG\": \"norbc\" (intel/gvt-linux#142)"
			   : ""));
}

void doctor_check_vm(struct doctor *d)
{
	check_binary(d);
	check_display(d);
	check_device(d);
	check_mesa_driver(d);
	doctor_check_platform(d);
	doctor_check_vgpu(d);
}
