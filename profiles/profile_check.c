/* SPDX-License-Identifier: MIT */
/*
 * Each rule here stands for an error QEMU gives only when it starts, after vgpuvm has made the mdev; they are checked
 * in `vgpuvm check` instead, and before anything is made. QEMU's messages are those of QEMU 7.2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_check.h"
#include "util/macro.h"

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum profile_vgpu_display profile_vgpu_display_of(const char *type)
{
	/*
	 * GVT-g (drivers/gpu/drm/i915/gvt/kvmgt.c) and the kernel's mbochs sample answer VFIO_DEVICE_QUERY_GFX_PLANE
	 * for dmabufs, the mdpy sample for a region (samples/vfio-mdev/).
	 */
	if (has_prefix(type, "i915-") || has_prefix(type, "mbochs-"))
		return PROFILE_VGPU_DISPLAY_DMABUF;
	if (has_prefix(type, "mdpy-"))
		return PROFILE_VGPU_DISPLAY_REGION;
	return PROFILE_VGPU_DISPLAY_UNKNOWN;
}

bool profile_vgpu_type_is_igd(const char *type)
{
	return has_prefix(type, "i915-");
}

static int fail(const struct profile *p, char **ret_error, const char *field, const char *fmt, ...) _printf_(4, 5);
static int fail(const struct profile *p, char **ret_error, const char *field, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(ret_error, "%s: %s: %s", p->path, field, msg) < 0)
		return -ENOMEM;
	return -EINVAL;
}

/*
 * The s390 mdevs, by the type names the kernel gives them (Documentation/s390/vfio-ccw.rst: "vfio_ccw-io";
 * vfio-ap.rst: "vfio_ap-passthrough"). They are not PCI devices: `-device vfio-pci` cannot take them. Others say so
 * only in their device_api attribute, which `run` reads.
 */
static const struct {
	const char *prefix, *api, *what;
} s390_types[] = {
	{ "vfio_ccw-", "vfio-ccw", "an s390 channel I/O subchannel" },
	{ "vfio_ap-", "vfio-ap", "an s390 crypto (AP) matrix" },
};

static int check_type(const struct profile *p, char **ret_error)
{
	const struct profile_vgpu *g = p->vgpu;
	const struct profile_display *d = &p->display;
	const char *disp = profile_display_type_to_string(d->type);

	for (size_t i = 0; i < ELEMENTSOF(s390_types); i++)
		if (has_prefix(g->type, s390_types[i].prefix))
			return fail(p, ret_error, "vgpu.type",
				    "%s is %s (device API %s), not a vfio-pci device: vgpuvm runs vfio-pci mdevs, and "
				    "only qemu-system-s390x takes this one (-device %s,sysfsdev=...)",
				    g->type, s390_types[i].what, s390_types[i].api, s390_types[i].api);
	/* hw/vfio/pci.c: "does not support requested IGD OpRegion feature", on any device without Intel's region. */
	if (g->opregion && !profile_vgpu_type_is_igd(g->type))
		return fail(p, ret_error, "vgpu.opregion",
			    "x-igd-opregion is the Intel iGPU's OpRegion, and %s is not a GVT-g type: QEMU refuses it "
			    "(\"does not support requested IGD OpRegion feature\"); remove \"opregion\": true",
			    g->type);
	/* hw/vfio/display.c: "vfio-display-dmabuf: opengl not available". A region display needs no GL. */
	if (g->display && !d->gl && profile_vgpu_display_of(g->type) == PROFILE_VGPU_DISPLAY_DMABUF) {
		if (d->type == PROFILE_DISPLAY_VNC || d->type == PROFILE_DISPLAY_NONE)
			return fail(
			    p, ret_error, "display.type",
			    "\"%s\" has no OpenGL, and %s shows its display as dmabufs, which QEMU shows only "
			    "with OpenGL (\"vfio-display-dmabuf: opengl not available\"); use \"gtk\" with \"gl\": "
			    "true, or \"egl-headless\" (with \"listen\" for VNC beside it), or set vgpu.display "
			    "to false",
			    disp, g->type);
		return fail(
		    p, ret_error, "display.gl",
		    "false, but %s shows its display as dmabufs, which QEMU shows only with OpenGL "
		    "(\"vfio-display-dmabuf: opengl not available\"); remove \"gl\": false, or set vgpu.display "
		    "to false",
		    g->type);
	}
	return 0;
}

int profile_check(const struct profile *p, char **ret_error)
{
	/*
	 * ui/spice-app.c starts the viewer with g_app_info_launch_default_for_uri(), a fork and exec, which the
	 * sandbox's spawn=deny answers by killing QEMU. Not relaxed behind the profile's back: the relaxation is the
	 * user's to write, and `run` logs it.
	 */
	if (p->display.type == PROFILE_DISPLAY_SPICE_APP && p->sandbox[PROFILE_SANDBOX_SPAWN] != PROFILE_SANDBOX_ALLOW)
		return fail(p, ret_error, "display.type",
			    "\"spice-app\" starts its viewer (remote-viewer, through xdg-open) as a new process, and "
			    "QEMU's sandbox kills QEMU for that (spawn=deny); allow it with \"sandbox\": {\"spawn\": "
			    "\"allow\"}, or use \"gtk\"");
	if (p->vgpu && p->vgpu->type)
		return check_type(p, ret_error);
	return 0;
}

int profile_set_vgpu_type(struct profile *p, const char *type, char **ret_error)
{
	char *t;

	if (!p->vgpu)
		return -EINVAL;
	if (!(t = strdup(type)))
		return -ENOMEM;
	free(p->vgpu->type);
	p->vgpu->type = t;
	return profile_check(p, ret_error);
}
