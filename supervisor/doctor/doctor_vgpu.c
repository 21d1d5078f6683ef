/* SPDX-License-Identifier: MIT */
/*
 * The profile's vGPU against the host: its parent and type exist, an instance is left, the resolution it asks for
 * fits the type, its display has OpenGL when the type shows dmabufs, and QEMU will get the memory lock it needs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/memlock.h"

/* A growing ", "-separated list in a memstream. */
struct list {
	FILE *f;
	char *s;
	size_t len, n;
};

static void list_open(struct list *l)
{
	*l = (struct list){};
	l->f = open_memstream(&l->s, &l->len);
}

static void list_add(struct list *l, const char *fmt, ...) _printf_(2, 3);
static void list_add(struct list *l, const char *fmt, ...)
{
	va_list ap;

	if (!l->f)
		return;
	if (l->n++)
		fputs(", ", l->f);
	va_start(ap, fmt);
	vfprintf(l->f, fmt, ap);
	va_end(ap);
}

/* Closes the stream and hands over the string ("" when empty, NULL without memory). */
static char *list_take(struct list *l)
{
	if (!l->f || fclose(l->f) != 0) {
		free(l->s);
		return NULL;
	}
	return l->s;
}

/* Finds the parent as `run` would: the one named, or the one that offers the type. Adds the vgpu.parent check. */
static const struct mdev_parent_info *check_parent(struct doctor *d, const struct profile_vgpu *g)
{
	const struct mdev_parent_info *found = NULL;
	struct list all, offer;
	_cleanup_free_ char *all_s = NULL, *offer_s = NULL;

	list_open(&all);
	list_open(&offer);
	for (size_t i = 0; d->host && i < d->host->n_parents; i++) {
		const struct mdev_parent_info *p = &d->host->parents[i];

		list_add(&all, "%s", p->name);
		if (!g->parent && mdev_parent_type(p, g->type)) {
			list_add(&offer, "%s", p->name);
			found = found ? found : p;
		}
	}
	all_s = list_take(&all);
	offer_s = list_take(&offer);
	if (g->parent) {
		found = mdev_host_parent(d->host, g->parent);
		if (found)
			doctor_add(d, "vgpu.parent", DOCTOR_PASS,
				   doctor_fmt("%s is an mdev parent (%s)", found->name, found->path), NULL);
		else
			doctor_add(d, "vgpu.parent", DOCTOR_FAIL, doctor_fmt("no mdev parent %s", g->parent),
				   all_s && *all_s
				       ? doctor_fmt("set vgpu.parent to one of: %s (`vgpuvm types` lists them)", all_s)
				       : doctor_fmt("the host has no mdev parents at all: see mdev_bus above"));
		return found;
	}
	if (offer.n == 1 && found) {
		doctor_add(d, "vgpu.parent", DOCTOR_PASS,
			   doctor_fmt("%s is the one parent that offers %s", found->name, g->type), NULL);
		return found;
	}
	if (offer.n > 1)
		doctor_add(d, "vgpu.parent", DOCTOR_FAIL, doctor_fmt("several parents offer %s: %s", g->type, offer_s),
			   doctor_fmt("set vgpu.parent to one of them"));
	else
		doctor_add(d, "vgpu.parent", DOCTOR_FAIL, doctor_fmt("no mdev parent offers type %s", g->type),
			   all_s && *all_s
			       ? doctor_fmt("set vgpu.type to a type of %s (`vgpuvm types` lists them)", all_s)
			       : doctor_fmt("the host has no mdev parents at all: see mdev_bus above"));
	return NULL;
}

/* Whether type T can show the profile's resolution, as far as its description tells. */
static bool fits(const struct profile_vgpu *g, const struct mdev_type_info *t)
{
	return !g->xres || !t->xres || (g->xres <= t->xres && g->yres <= t->yres);
}

static void check_instances(struct doctor *d, const struct profile_vgpu *g, const struct mdev_parent_info *p,
			    const struct mdev_type_info *t)
{
	_cleanup_free_ char *dev = NULL, *held = NULL, *room = NULL, *fix = NULL, *summary = NULL;
	size_t hlen = 0, flen = 0, n;
	FILE *h, *f;
	struct list free_types;

	/* An mdev with the profile's UUID is adopted by `run` (or refused when it has another type). */
	if (asprintf(&dev, "bus/mdev/devices/%s", g->uuid) >= 0 && host_exists(d->sys, dev)) {
		for (size_t i = 0; i < t->n_mdevs; i++)
			if (strcmp(t->mdevs[i].uuid, g->uuid) == 0) {
				const struct mdev_instance *m = &t->mdevs[i];

				if (m->vm && host_pid_alive(d->proc, m->supervisor_pid)) {
					doctor_add(
					    d, "vgpu.instances", DOCTOR_PASS,
					    doctor_fmt("mdev %s (%s) is VM %s's, which runs now (supervisor pid %ld)",
						       g->uuid, t->id, m->vm, (long)m->supervisor_pid),
					    NULL);
					return;
				}
				doctor_add(
				    d, "vgpu.instances", DOCTOR_PASS,
				    doctor_fmt("mdev %s (%s) exists already: `vgpuvm run` uses it", g->uuid, t->id),
				    NULL);
				return;
			}
		doctor_add(
		    d, "vgpu.instances", DOCTOR_FAIL,
		    doctor_fmt("mdev %s exists already, but not as a %s", g->uuid, t->id),
		    doctor_fmt("remove it (echo 1 > /sys/bus/mdev/devices/%s/remove) or give the profile another "
			       "vgpu.uuid",
			       g->uuid));
		return;
	}
	if (t->available > 0) {
		doctor_add(d, "vgpu.instances", DOCTOR_PASS,
			   doctor_fmt("%lld instance%s of %s left on %s", t->available, t->available == 1 ? "" : "s",
				      t->id, p->name),
			   NULL);
		return;
	}
	if (t->available < 0) {
		doctor_add(d, "vgpu.instances", DOCTOR_WARN, doctor_fmt("cannot read available_instances of %s", t->id),
			   doctor_fmt("ls -l /sys/class/mdev_bus/%s/mdev_supported_types/%s", p->name, t->id));
		return;
	}
	/* None left: what holds the room, and what frees it. */
	if (!(h = open_memstream(&held, &hlen)))
		return;
	if (!(f = open_memstream(&fix, &flen))) {
		fclose(h);
		return;
	}
	n = doctor_describe_holders(d, p, t->id, t->id, h, f);
	list_open(&free_types);
	for (size_t i = 0; i < p->n_types; i++)
		if (p->types[i].available > 0 && fits(g, &p->types[i])) {
			if (p->types[i].xres)
				list_add(&free_types, "%s (%lld left, %ux%u)", p->types[i].id, p->types[i].available,
					 p->types[i].xres, p->types[i].yres);
			else
				list_add(&free_types, "%s (%lld left)", p->types[i].id, p->types[i].available);
		}
	room = list_take(&free_types);
	if (room && *room)
		fprintf(f, "%sor use a type with room%s: %s", ftell(f) > 0 ? "\n" : "",
			g->xres ? " that shows the profile's resolution" : "", room);
	doctor_aperture_fix(p, f);
	if (fclose(h) != 0 || fclose(f) != 0)
		return;
	if (n > t->n_mdevs)
		summary = doctor_fmt(
		    "no instances of %s left on %s (available_instances is 0); held by: %s; the other types' "
		    "mdevs take from the same %s",
		    t->id, p->name, held, doctor_is_gvt_parent(p) ? "aperture" : "device");
	else if (n)
		summary = doctor_fmt("no instances of %s left on %s (available_instances is 0); held by: %s", t->id,
				     p->name, held);
	else
		summary = doctor_fmt(
		    "no instances of %s left on %s (available_instances is 0), and no mdev holds any%s", t->id, p->name,
		    doctor_is_gvt_parent(p) ? ": the iGPU's aperture is too small for one" : "");
	doctor_add(d, "vgpu.instances", DOCTOR_FAIL, steal_pointer(&summary),
		   fix && *fix ? steal_pointer(&fix) : doctor_fmt("dmesg may say why %s offers no instance", p->name));
}

static void check_resolution(struct doctor *d, const struct profile_vgpu *g, const struct mdev_parent_info *p,
			     const struct mdev_type_info *t)
{
	_cleanup_free_ char *fits = NULL;
	struct list l;

	if (!g->xres) {
		doctor_add(d, "vgpu.resolution", DOCTOR_SKIP, doctor_fmt("the profile sets no vgpu.xres and vgpu.yres"),
			   NULL);
		return;
	}
	/*
	 * QEMU passes xres and yres to the guest in an EDID it writes into the device's EDID region, and refuses them
	 * on a device without one ("xres and yres properties need edid support"). The kernel's mdpy sample has none
	 * (samples/vfio-mdev/mdpy.c: no VFIO_REGION_SUBTYPE_GFX_EDID); mbochs and GVT-g have one.
	 */
	if (strncmp(t->id, "mdpy-", 5) == 0) {
		_cleanup_free_ char *own = t->xres ? doctor_fmt(": %ux%u", t->xres, t->yres) : NULL;

		list_open(&l);
		for (size_t i = 0; i < p->n_types; i++)
			if (p->types[i].xres == g->xres && p->types[i].yres == g->yres)
				list_add(&l, "%s", p->types[i].id);
		fits = list_take(&l);
		doctor_add(
		    d, "vgpu.resolution", DOCTOR_FAIL,
		    doctor_fmt("%s has no EDID region, so QEMU refuses vgpu.xres and vgpu.yres on it (an mdpy type's "
			       "resolution comes with the type%s)",
			       t->id, own ?: ""),
		    fits && *fits ? doctor_fmt("remove vgpu.xres and vgpu.yres; for %ux%u, use the type %s", g->xres,
					       g->yres, fits)
				  : doctor_fmt("remove vgpu.xres and vgpu.yres"));
		return;
	}
	if (!t->xres) {
		doctor_add(
		    d, "vgpu.resolution", DOCTOR_SKIP,
		    doctor_fmt("%s's description names no resolution to compare %ux%u with", t->id, g->xres, g->yres),
		    NULL);
		return;
	}
	if (g->xres <= t->xres && g->yres <= t->yres) {
		doctor_add(d, "vgpu.resolution", DOCTOR_PASS,
			   doctor_fmt("%ux%u fits %s (at most %ux%u)", g->xres, g->yres, t->id, t->xres, t->yres),
			   NULL);
		return;
	}
	list_open(&l);
	for (size_t i = 0; i < p->n_types; i++)
		if (g->xres <= p->types[i].xres && g->yres <= p->types[i].yres)
			list_add(&l, "%s (%ux%u)", p->types[i].id, p->types[i].xres, p->types[i].yres);
	fits = list_take(&l);
	doctor_add(d, "vgpu.resolution", DOCTOR_FAIL,
		   doctor_fmt("the profile asks for %ux%u, but %s shows at most %ux%u", g->xres, g->yres, t->id,
			      t->xres, t->yres),
		   doctor_fmt("set vgpu.xres and vgpu.yres to at most %ux%u%s%s", t->xres, t->yres,
			      fits && *fits ? ", or use a type that fits: " : "", fits ?: ""));
}

/*
 * How the type shows its display, by its driver (the part of the type name before the first '-'): i915 (GVT-g) and
 * mbochs hand QEMU dmabufs, which only an OpenGL display can show; mdpy exposes a memory region any display can read.
 * Other drivers are not known.
 */
enum display_kind {
	DISPLAY_DMABUF,
	DISPLAY_REGION,
	DISPLAY_UNKNOWN,
};

static enum display_kind display_kind(const char *type)
{
	if (strncmp(type, "i915-", 5) == 0 || strncmp(type, "mbochs-", 7) == 0)
		return DISPLAY_DMABUF;
	if (strncmp(type, "mdpy-", 5) == 0)
		return DISPLAY_REGION;
	return DISPLAY_UNKNOWN;
}

static void check_gl_display(struct doctor *d, const struct profile_vgpu *g)
{
	const struct profile_display *disp = &d->profile->display;

	if (!g->display) {
		doctor_add(d, "display.gl", DOCTOR_SKIP,
			   doctor_fmt("vgpu.display is false: QEMU does not show the vGPU"), NULL);
		return;
	}
	switch (display_kind(g->type)) {
	case DISPLAY_DMABUF:
		if (disp->gl)
			doctor_add(d, "display.gl", DOCTOR_PASS,
				   doctor_fmt("%s shows its display as dmabufs, and the %s display uses OpenGL",
					      g->type, profile_display_type_to_string(disp->type)),
				   NULL);
		else
			doctor_add(
			    d, "display.gl", DOCTOR_FAIL,
			    doctor_fmt("%s shows its display as dmabufs, which only an OpenGL display can show; the "
				       "profile's \"%s\" display has none",
				       g->type, profile_display_type_to_string(disp->type)),
			    doctor_fmt(
				"set \"display\": {\"type\": \"gtk\", \"gl\": true}, or {\"type\": "
				"\"egl-headless\"} without a window; or vgpu.display false for no vGPU display"));
		return;
	case DISPLAY_REGION:
		doctor_add(d, "display.gl", DOCTOR_PASS,
			   doctor_fmt("%s shows its display in a memory region: any display can show it", g->type),
			   NULL);
		return;
	case DISPLAY_UNKNOWN:
		doctor_add(
		    d, "display.gl", DOCTOR_SKIP,
		    doctor_fmt("how %s shows its display is not known to vgpuvm (dmabuf types need an OpenGL display)",
			       g->type),
		    NULL);
		return;
	}
}

/* "Max locked memory" from PROC/self/limits: the limit `vgpuvm run` starts with, as this process has it. */
static int read_memlock(const char *proc, uint64_t *ret_hard)
{
	_cleanup_free_ char *limits = doctor_read(proc, "self/limits");
	char soft[32], hard[32];
	const char *l = limits ? strstr(limits, "Max locked memory") : NULL;

	if (!l || sscanf(l + 17, "%31s %31s", soft, hard) != 2)
		return -ENOENT;
	*ret_hard = strcmp(hard, "unlimited") == 0 ? MEMLOCK_UNLIMITED : strtoull(hard, NULL, 10);
	return 0;
}

/* Whether CapEff in PROC/self/status has CAP_SYS_RESOURCE (24), with which `run` raises the limit for QEMU. */
static bool has_sys_resource(const char *proc)
{
	_cleanup_free_ char *status = doctor_read(proc, "self/status");
	const char *l = status ? strstr(status, "\nCapEff:") : NULL;

	return l && (strtoull(l + 8, NULL, 16) >> 24) & 1;
}

static void check_memlock(struct doctor *d, const struct profile_vgpu *g)
{
	uint64_t need = memlock_for_guest(d->profile->memory), hard;
	char need_s[32], hard_s[32];

	memlock_format(need, need_s, sizeof(need_s));
	if (!g->memlock) {
		if (display_kind(g->type) == DISPLAY_DMABUF && strncmp(g->type, "i915-", 5) == 0)
			doctor_add(
			    d, "memlock", DOCTOR_WARN,
			    doctor_fmt("vgpu.memlock is false, but GVT-g pins all guest memory: with too low a limit "
				       "the guest's display is scrambled"),
			    doctor_fmt("remove \"memlock\": false from the profile's vgpu"));
		else
			doctor_add(d, "memlock", DOCTOR_SKIP,
				   doctor_fmt("vgpu.memlock is false: QEMU keeps the limit it inherits"), NULL);
		return;
	}
	if (read_memlock(d->proc, &hard) < 0) {
		doctor_add(d, "memlock", DOCTOR_WARN,
			   doctor_fmt("cannot read the locked-memory limit from /proc/self/limits"),
			   doctor_fmt("ulimit -l shows it; QEMU needs %s", need_s));
		return;
	}
	memlock_format(hard, hard_s, sizeof(hard_s));
	if (hard == MEMLOCK_UNLIMITED || hard >= need)
		doctor_add(
		    d, "memlock", DOCTOR_PASS,
		    doctor_fmt("the hard limit (%s) covers the %s QEMU needs (guest RAM + 1 GiB)", hard_s, need_s),
		    NULL);
	else if (has_sys_resource(d->proc))
		doctor_add(d, "memlock", DOCTOR_PASS,
			   doctor_fmt("vgpuvm raises the limit from %s to the %s QEMU needs (it has CAP_SYS_RESOURCE)",
				      hard_s, need_s),
			   NULL);
	else
		doctor_add(
		    d, "memlock", DOCTOR_FAIL,
		    doctor_fmt("QEMU needs a locked-memory limit of %s (guest RAM + 1 GiB), but the hard limit is %s "
			       "and vgpuvm cannot raise it without root",
			       need_s, hard_s),
		    doctor_fmt("add to /etc/security/limits.conf: %s hard memlock %" PRIu64 " (and the same with "
			       "soft), then log in again\n"
			       "a systemd service: LimitMEMLOCK=%" PRIu64 "; or run vgpuvm as root",
			       d->user, (need + 1023) / 1024, need));
}

void doctor_check_vgpu(struct doctor *d)
{
	const struct profile_vgpu *g = d->profile ? d->profile->vgpu : NULL;
	const struct mdev_parent_info *p;
	const struct mdev_type_info *t;
	_cleanup_free_ char *summary = NULL;

	if (!g)
		return;
	if (!g->type) {
		/* The profile adopts an mdev by UUID alone, and there is none: its type, and so the rest, is unknown.
		 */
		doctor_add(
		    d, "vgpu.type", DOCTOR_FAIL,
		    doctor_fmt("the profile names no vgpu.type, and there is no mdev %s to adopt and take it from",
			       g->uuid),
		    doctor_fmt("set vgpu.type (`vgpuvm types` lists them), or make the mdev first (mdevctl start)"));
		return;
	}
	p = check_parent(d, g);
	t = p ? mdev_parent_type(p, g->type) : NULL;
	if (!p)
		doctor_add(d, "vgpu.type", DOCTOR_SKIP, doctor_fmt("no parent to look in"), NULL);
	else if (!t) {
		struct list l;
		_cleanup_free_ char *types = NULL;

		list_open(&l);
		for (size_t i = 0; i < p->n_types; i++)
			list_add(&l, "%s", p->types[i].id);
		types = list_take(&l);
		doctor_add(d, "vgpu.type", DOCTOR_FAIL, doctor_fmt("%s has no mdev type %s", p->name, g->type),
			   doctor_fmt("set vgpu.type to one of: %s", types && *types ? types : "(none)"));
	} else if (t->device_api && strcmp(t->device_api, "vfio-pci") != 0) {
		/* -device vfio-pci cannot take it: `run` refuses it (mdev.c), and so does the doctor. */
		bool s390 = strcmp(t->device_api, "vfio-ccw") == 0 || strcmp(t->device_api, "vfio-ap") == 0;

		doctor_add(d, "vgpu.type", DOCTOR_FAIL,
			   doctor_fmt("%s offers %s, but it is a %s device (its device_api), not a vfio-pci one",
				      p->name, t->id, t->device_api),
			   doctor_fmt("vgpuvm runs vfio-pci mdevs only; %s",
				      s390 ? "only qemu-system-s390x takes this one (libvirt does it)"
					   : "use a vfio-pci type (`vgpuvm types` lists the API of each)"));
		return;
	} else {
		summary = mdev_type_summary(t);
		doctor_add(
		    d, "vgpu.type", DOCTOR_PASS,
		    doctor_fmt("%s offers %s%s%s", p->name, t->id, summary && *summary ? ": " : "", summary ?: ""),
		    NULL);
	}
	if (t) {
		check_instances(d, g, p, t);
		check_resolution(d, g, p, t);
	}
	check_gl_display(d, g);
	check_memlock(d, g);
}
