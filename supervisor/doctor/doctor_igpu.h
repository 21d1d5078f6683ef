/* SPDX-License-Identifier: MIT */
/*
 * Which Intel graphics the host has and what i915 makes of it: the platform, from the iGPU's PCI device ID (what i915
 * itself goes by) or else from the CPU's model; the Linux versions whose GVT-g supports it; and what
 * i915.enable_guc=-1 (auto) turns into on it.
 */
#pragma once

#include <stdbool.h>

struct doctor;

enum igpu_platform {
	IGPU_UNKNOWN,
	IGPU_BDW,  /* Broadwell */
	IGPU_SKL,  /* Skylake */
	IGPU_KBL,  /* Kaby Lake, Amber Lake's Kaby Lake graphics */
	IGPU_BXT,  /* Broxton, Apollo Lake */
	IGPU_GLK,  /* Gemini Lake */
	IGPU_CFL,  /* Coffee Lake, Whiskey Lake, Amber Lake's Coffee Lake graphics */
	IGPU_CML,  /* Comet Lake */
	IGPU_ICL,  /* Ice Lake */
	IGPU_EHL,  /* Elkhart Lake */
	IGPU_JSL,  /* Jasper Lake */
	IGPU_TGL,  /* Tiger Lake */
	IGPU_RKL,  /* Rocket Lake */
	IGPU_ADLS, /* Alder Lake-S */
	IGPU_ADLP, /* Alder Lake-P and -N, Raptor Lake-P: i915's ADL-P and its subplatforms */
	IGPU_RPLS, /* Raptor Lake-S: i915's ADL-S subplatform ADLS_RPLS */
	IGPU_MTL,  /* Meteor Lake */
	IGPU_GEN9, /* one of Kaby Lake, Coffee Lake, Whiskey Lake and Comet Lake, as far as the CPU model tells */
	IGPU_PLATFORM_MAX,
};

enum igpu_guc {
	IGPU_GUC_UNKNOWN,
	IGPU_GUC_OFF,	     /* enable_guc -1 becomes 0 */
	IGPU_GUC_HUC,	     /* becomes 2: HuC firmware only */
	IGPU_GUC_SUBMISSION, /* becomes 3: GuC submission (and HuC) */
	IGPU_GUC_MAX,
};

struct igpu {
	enum igpu_platform platform;
	unsigned device;    /* the iGPU's PCI device ID, 0 when it could not be read */
	unsigned kernel;    /* the running kernel as IGPU_KV(major, minor), 0 when unknown */
	char osrelease[64]; /* as /proc/sys/kernel/osrelease says it, "" when unknown */
};

#define IGPU_KV(major, minor) ((major)*1000u + (minor))

/*
 * The host's iGPU and kernel, as far as d's roots tell. The platform comes from the PCI device ID of 0000:00:02.0
 * (where Intel puts its iGPU), else from the CPU's family 6 model and stepping (0 and -1 when not known).
 */
void igpu_read(const struct doctor *d, unsigned cpu_model, int cpu_stepping, struct igpu *ret);

/* "Kaby Lake", ...; NULL for IGPU_UNKNOWN. */
const char *igpu_platform_name(enum igpu_platform p);

/* What i915.enable_guc=-1 becomes on the platform, as Linux 6.1's uc_expand_default_options() decides it. */
enum igpu_guc igpu_guc_auto(enum igpu_platform p);

enum igpu_gvt_kernel {
	IGPU_GVT_KERNEL_UNKNOWN, /* the platform or the kernel is not known: nothing to say */
	IGPU_GVT_KERNEL_YES,
	IGPU_GVT_KERNEL_TOO_OLD, /* this kernel's GVT-g does not support the platform yet */
	IGPU_GVT_KERNEL_UNSURE,	 /* between the last version known to lack it and the first known to have it */
	IGPU_GVT_KERNEL_MAX,
};

/*
 * Whether the running kernel's GVT-g supports the iGPU. The versions that bound it are stored in *ret_need (the
 * first version that has it, or the first known to) and *ret_lacks (the last version known to lack it).
 */
enum igpu_gvt_kernel igpu_gvt_kernel(const struct igpu *g, unsigned *ret_need, unsigned *ret_lacks);
