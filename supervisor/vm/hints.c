/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "supervisor/vm/hints.h"
#include "util/macro.h"

static const struct {
	const char *needle;
	const char *hint;
} hints[] = {
	{ "opengl not available",
	  "this vGPU shows its display as dmabufs, which need a GL display: set \"display\": {\"type\": \"gtk\", \"gl\": true} "
	  "or {\"type\": \"egl-headless\"}" },
	{ "requires display DMABUF support",
	  "this vGPU shows its display as dmabufs: the window needs OpenGL (\"gl\": true), or use \"egl-headless\"" },
	{ "doesn't support any (known) display method",
	  "this mdev type has no display: set \"display\": false in \"vgpu\"" },
	{ "no drm render node available",
	  "no /dev/dri/renderD* node: load the GPU's DRM driver, or name one with \"rendernode\" in \"display\"" },
	{ "eglCreateImageKHR failed",
	  "the Mesa driver cannot import the vGPU's buffers: try \"env\": {\"MESA_LOADER_DRIVER_OVERRIDE\": \"i965\"}" },
	{ "RLIMIT_MEMLOCK",
	  "QEMU could not lock guest memory: the locked-memory limit is too low (see \"memlock\" in \"vgpu\")" },
	{ "Cannot allocate memory", "the host refused guest memory or pinning: check free memory and the memlock limit" },
	{ "no iommu_group found", "the mdev has no IOMMU group: load vfio_iommu_type1 (modprobe vfio_iommu_type1)" },
	{ "gtk initialization failed", "no graphical session: set DISPLAY (or WAYLAND_DISPLAY), or use \"egl-headless\"" },
	{ "Could not initialize KVM", "KVM is not usable here: check /dev/kvm, or use \"accel\": \"tcg\" for testing" },
	{ "Could not set up host forwarding rule",
	  "a port in \"net\"'s \"forward\" is taken on the host (ss -ltnup shows by what): pick another \"host\" port" },
};

const char *hint_for(const char *line)
{
	for (size_t i = 0; i < ELEMENTSOF(hints); i++)
		if (strstr(line, hints[i].needle))
			return hints[i].hint;
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
