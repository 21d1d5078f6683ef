/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/host/dri.h"
#include "supervisor/vm/hints.h"
#include "util/macro.h"

/*
 * EGL refused to import a display buffer of the vGPU. The advice that used to go with it, Mesa's i965 driver, only
 * exists up to Mesa 21.3 (Mesa 22.0 removed it; mesa-amber keeps it, where a distribution ships that): it is named only
 * when this host has the file. What applies to Mesa 20 and later on Intel graphics is iris without its render
 * compression (intel/gvt-linux#142: garbled or black vGPU output with iris, fixed by either i965 or INTEL_DEBUG=norbc;
 * Mesa 22.3's iris knows that option as norbc and as noccs).
 */
#define EGL_IMPORT_HINT                                                                                                \
	"the host's Mesa could not import the vGPU's display buffer (a dma-buf). On Intel graphics with Mesa 20 or "   \
	"later "                                                                                                       \
	"(iris), the known workaround keeps iris and turns its render compression off: \"env\": {\"INTEL_DEBUG\": "    \
	"\"norbc\"} (intel/gvt-linux#142; Mesa 22.3 also names it noccs)"

static const char egl_import_i965[] =
    EGL_IMPORT_HINT "; or \"MESA_LOADER_DRIVER_OVERRIDE\": \"i965\", the driver of Mesa before 22.0 (or mesa-amber), "
		    "which this host has";
static const char egl_import_no_i965[] =
    EGL_IMPORT_HINT ". MESA_LOADER_DRIVER_OVERRIDE=i965, which older guides give, cannot work here: this host has no "
		    "i965_dri.so (Mesa 22.0 removed it)";

static const struct {
	const char *needle;
	const char *hint;
} hints[] = {
	{ "opengl not available", "this vGPU shows its display as dmabufs, which need a GL display: set \"display\": "
				  "{\"type\": \"gtk\", \"gl\": true} "
				  "or {\"type\": \"egl-headless\"}" },
	{ "requires display DMABUF support",
	  "this vGPU shows its display as dmabufs: the window needs OpenGL (\"gl\": true) from an EGL that imports "
	  "dma-bufs (EGL_EXT_image_dma_buf_import), which takes a GPU's driver: an X server without DRI3 (Xvfb, say) "
	  "or "
	  "software rendering (llvmpipe) has none; or use \"egl-headless\" on a GPU's render node" },
	{ "xres and yres properties need edid support", "this mdev type has no EDID region, so QEMU cannot give the "
							"guest a resolution: remove vgpu.xres and vgpu.yres "
							"(the kernel's mdpy sample has none; mbochs and GVT-g do)" },
	{ "doesn't support any (known) display method",
	  "this mdev type has no display: set \"display\": false in \"vgpu\"" },
	{ "no drm render node available",
	  "no /dev/dri/renderD* node: load the GPU's DRM driver, or name one with \"rendernode\" in \"display\"" },
	{ "eglCreateImageKHR failed", NULL }, /* egl_import_i965 or egl_import_no_i965, by what the host has */
	{ "RLIMIT_MEMLOCK",
	  "QEMU could not lock guest memory: the locked-memory limit is too low (see \"memlock\" in \"vgpu\")" },
	{ "Cannot allocate memory",
	  "the host refused guest memory or pinning: check free memory and the memlock limit" },
	{ "no iommu_group found", "the mdev has no IOMMU group: load vfio_iommu_type1 (modprobe vfio_iommu_type1)" },
	{ "gtk initialization failed",
	  "no graphical session: set DISPLAY (or WAYLAND_DISPLAY), or use \"egl-headless\"" },
	{ "Could not initialize KVM", "KVM is not usable here: check /dev/kvm, or use \"accel\": \"tcg\" for testing" },
	{ "Could not set up host forwarding rule", "a port in \"net\"'s \"forward\" is taken on the host (ss -ltnup "
						   "shows by what): pick another \"host\" port" },
};

const char *hint_for(const char *line)
{
	for (size_t i = 0; i < ELEMENTSOF(hints); i++) {
		if (!strstr(line, hints[i].needle))
			continue;
		if (hints[i].hint)
			return hints[i].hint;
		/* Where Mesa looks: QEMU gets LIBGL_DRIVERS_PATH from vgpuvm's environment (docs/security.md). */
		return dri_driver_find(getenv("LIBGL_DRIVERS_PATH"), "i965", NULL) == 0 ? egl_import_i965
											: egl_import_no_i965;
	}
	return NULL;
}

const char *hint_for_signal(int sig)
{
	if (sig == SIGSYS)
		return "QEMU's seccomp sandbox killed it (SIGSYS) for a system call it forbids. Some GL stacks and "
		       "helpers need more: relax one part in the profile, e.g. \"sandbox\": {\"spawn\": \"allow\"} (or "
		       "\"resourcecontrol\", \"elevateprivileges\", \"obsolete\"), and keep the rest denied";
	return NULL;
}
