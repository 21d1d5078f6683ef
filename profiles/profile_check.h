/* SPDX-License-Identifier: MIT */
/*
 * The rules that span parts of a profile, or need the vGPU's type: what QEMU would refuse, or kill itself for, only
 * once it runs. profile_parse.c applies them to every profile; a profile that adopts an mdev by UUID without naming
 * its type gets them once the type is known (profile_set_vgpu_type()).
 */
#pragma once

#include <stdbool.h>

struct profile;

/* How an mdev type hands QEMU its display. */
enum profile_vgpu_display {
	PROFILE_VGPU_DISPLAY_DMABUF,  /* dmabufs: only an OpenGL display can show them */
	PROFILE_VGPU_DISPLAY_REGION,  /* a memory region any display can read */
	PROFILE_VGPU_DISPLAY_UNKNOWN, /* a driver vgpuvm does not know */
	PROFILE_VGPU_DISPLAY_MAX,
};

/* By the type's driver, the part of its name before the first '-': i915 and mbochs, dmabuf; mdpy, a region. */
enum profile_vgpu_display profile_vgpu_display_of(const char *type);

/* Whether the type is an Intel iGPU's (GVT-g, "i915-"), the only kind with an IGD OpRegion. */
bool profile_vgpu_type_is_igd(const char *type);

/* Checks the rules; the type's are skipped while vgpu.type is unknown. Returns 0, -EINVAL with *ret_error set to
 * "FILE: FIELD: problem; fix", or -ENOMEM. */
int profile_check(const struct profile *p, char **ret_error);

/*
 * Gives a profile that names no vgpu.type the type of the mdev it adopts, and checks it (profile_check()). Returns
 * 0, -EINVAL with *ret_error set, or -ENOMEM.
 */
int profile_set_vgpu_type(struct profile *p, const char *type, char **ret_error);
