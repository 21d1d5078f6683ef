/* SPDX-License-Identifier: MIT */
/*
 * The facts here come from the kernel's own source (Debian 12's linux-source-6.1) unless a comment says otherwise:
 * the PCI device IDs from include/drm/i915_pciids.h, grouped the way i915_pci.c hands them to each platform;
 * enable_guc's auto value from gt/uc/intel_uc.c's uc_expand_default_options(); the GVT-g platforms from
 * intel_gvt.c's is_supported_device().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/doctor/doctor.h"
#include "supervisor/doctor/doctor_igpu.h"
#include "util/macro.h"

static const char *const platform_names[IGPU_PLATFORM_MAX] = {
	[IGPU_BDW] = "Broadwell",     [IGPU_SKL] = "Skylake",	    [IGPU_KBL] = "Kaby Lake",
	[IGPU_BXT] = "Apollo Lake",   [IGPU_GLK] = "Gemini Lake",   [IGPU_CFL] = "Coffee Lake",
	[IGPU_CML] = "Comet Lake",    [IGPU_ICL] = "Ice Lake",	    [IGPU_EHL] = "Elkhart Lake",
	[IGPU_JSL] = "Jasper Lake",   [IGPU_TGL] = "Tiger Lake",    [IGPU_RKL] = "Rocket Lake",
	[IGPU_ADLS] = "Alder Lake-S", [IGPU_ADLP] = "Alder Lake-P", [IGPU_RPLS] = "Raptor Lake-S",
	[IGPU_MTL] = "Meteor Lake",   [IGPU_GEN9] = "Gen9",
};

/* Linux 6.1's i915_pciids.h. WHL and AML's CFL IDs go to cfl_*_info, AML's KBL ones to kbl_*_info, ADL-N and RPL-P
 * to adl_p_info. */
static const uint16_t ids_bdw[] = { 0x1602, 0x1606, 0x160A, 0x160B, 0x160D, 0x160E, 0x1612, 0x1616,
				    0x161A, 0x161B, 0x161D, 0x161E, 0x1622, 0x1626, 0x162A, 0x162B,
				    0x162D, 0x162E, 0x1632, 0x1636, 0x163A, 0x163B, 0x163D, 0x163E };
static const uint16_t ids_skl[] = { 0x1902, 0x1906, 0x190A, 0x190B, 0x190E, 0x1912, 0x1913, 0x1915, 0x1916,
				    0x1917, 0x191A, 0x191B, 0x191D, 0x191E, 0x1921, 0x1923, 0x1926, 0x1927,
				    0x192A, 0x192B, 0x192D, 0x1932, 0x193A, 0x193B, 0x193D };
static const uint16_t ids_kbl[] = { 0x5902, 0x5906, 0x5908, 0x590A, 0x590B, 0x590E, 0x5912, 0x5913,
				    0x5915, 0x5916, 0x5917, 0x591A, 0x591B, 0x591C, 0x591D, 0x591E,
				    0x5921, 0x5923, 0x5926, 0x5927, 0x593B, 0x87C0 };
static const uint16_t ids_bxt[] = { 0x0A84, 0x1A84, 0x1A85, 0x5A84, 0x5A85 };
static const uint16_t ids_glk[] = { 0x3184, 0x3185 };
static const uint16_t ids_cfl[] = { 0x3E90, 0x3E91, 0x3E92, 0x3E93, 0x3E94, 0x3E96, 0x3E98, 0x3E99,
				    0x3E9A, 0x3E9B, 0x3E9C, 0x3EA0, 0x3EA1, 0x3EA2, 0x3EA3, 0x3EA4,
				    0x3EA5, 0x3EA6, 0x3EA7, 0x3EA8, 0x3EA9, 0x87CA };
static const uint16_t ids_cml[] = { 0x9B21, 0x9B41, 0x9BA2, 0x9BA4, 0x9BA5, 0x9BA8, 0x9BAA, 0x9BAC, 0x9BC2,
				    0x9BC4, 0x9BC5, 0x9BC6, 0x9BC8, 0x9BCA, 0x9BCC, 0x9BE6, 0x9BF6 };
static const uint16_t ids_icl[] = { 0x8A50, 0x8A51, 0x8A52, 0x8A53, 0x8A54, 0x8A56, 0x8A57, 0x8A58,
				    0x8A59, 0x8A5A, 0x8A5B, 0x8A5C, 0x8A5D, 0x8A70, 0x8A71 };
static const uint16_t ids_ehl[] = { 0x4541, 0x4551, 0x4555, 0x4557, 0x4571 };
static const uint16_t ids_jsl[] = { 0x4E51, 0x4E55, 0x4E57, 0x4E61, 0x4E71 };
static const uint16_t ids_tgl[] = { 0x9A40, 0x9A49, 0x9A59, 0x9A60, 0x9A68, 0x9A70,
				    0x9A78, 0x9AC0, 0x9AC9, 0x9AD9, 0x9AF8 };
static const uint16_t ids_rkl[] = { 0x4C80, 0x4C8A, 0x4C8B, 0x4C8C, 0x4C90, 0x4C9A };
static const uint16_t ids_adls[] = { 0x4680, 0x4682, 0x4688, 0x468A, 0x468B, 0x4690, 0x4692, 0x4693 };
static const uint16_t ids_adlp[] = { 0x4626, 0x4628, 0x462A, 0x46A0, 0x46A1, 0x46A2, 0x46A3, 0x46A6, 0x46A8,
				     0x46AA, 0x46B0, 0x46B1, 0x46B2, 0x46B3, 0x46C0, 0x46C1, 0x46C2, 0x46C3,
				     0x46D0, 0x46D1, 0x46D2, 0xA720, 0xA721, 0xA7A0, 0xA7A1, 0xA7A8, 0xA7A9 };
static const uint16_t ids_rpls[] = { 0xA780, 0xA781, 0xA782, 0xA783, 0xA788, 0xA789, 0xA78A, 0xA78B };
static const uint16_t ids_mtl[] = { 0x7D40, 0x7D45, 0x7D55, 0x7D60, 0x7DD5 };

static const struct {
	enum igpu_platform platform;
	const uint16_t *ids;
	size_t n;
} by_device[] = {
#define IDS(p, a)                                                                                                      \
	{                                                                                                              \
		p, a, ELEMENTSOF(a)                                                                                    \
	}
	IDS(IGPU_BDW, ids_bdw),	  IDS(IGPU_SKL, ids_skl),   IDS(IGPU_KBL, ids_kbl),   IDS(IGPU_BXT, ids_bxt),
	IDS(IGPU_GLK, ids_glk),	  IDS(IGPU_CFL, ids_cfl),   IDS(IGPU_CML, ids_cml),   IDS(IGPU_ICL, ids_icl),
	IDS(IGPU_EHL, ids_ehl),	  IDS(IGPU_JSL, ids_jsl),   IDS(IGPU_TGL, ids_tgl),   IDS(IGPU_RKL, ids_rkl),
	IDS(IGPU_ADLS, ids_adls), IDS(IGPU_ADLP, ids_adlp), IDS(IGPU_RPLS, ids_rpls), IDS(IGPU_MTL, ids_mtl),
#undef IDS
};

/*
 * Without a PCI ID, the CPU model (arch/x86/include/asm/intel-family.h). Model 0x9E is Kaby Lake at stepping 9 and
 * Coffee Lake at 10 to 13 (the file's comments); model 0x8E mixes Kaby Lake, Amber Lake, Whiskey Lake and Comet Lake
 * graphics across steppings: all Gen9, which is enough for enable_guc, not for the kernel version.
 */
static enum igpu_platform platform_by_cpu(unsigned model, int stepping)
{
	static const struct {
		unsigned model;
		enum igpu_platform platform;
	} models[] = {
		{ 0x3D, IGPU_BDW },  { 0x47, IGPU_BDW },  { 0x4E, IGPU_SKL },  { 0x5E, IGPU_SKL },  { 0x5C, IGPU_BXT },
		{ 0x7A, IGPU_GLK },  { 0xA5, IGPU_CML },  { 0xA6, IGPU_CML },  { 0x7D, IGPU_ICL },  { 0x7E, IGPU_ICL },
		{ 0x96, IGPU_EHL },  { 0x9C, IGPU_JSL },  { 0x8C, IGPU_TGL },  { 0x8D, IGPU_TGL },  { 0xA7, IGPU_RKL },
		{ 0x97, IGPU_ADLS }, { 0x9A, IGPU_ADLP }, { 0xBE, IGPU_ADLP }, { 0xBA, IGPU_ADLP }, { 0xB7, IGPU_RPLS },
		{ 0xBF, IGPU_RPLS }, { 0xAA, IGPU_MTL },  { 0xAC, IGPU_MTL },
	};

	if (model == 0x9E)
		return stepping == 9 ? IGPU_KBL : stepping >= 10 && stepping <= 13 ? IGPU_CFL : IGPU_GEN9;
	if (model == 0x8E)
		return IGPU_GEN9;
	for (size_t i = 0; i < ELEMENTSOF(models); i++)
		if (models[i].model == model)
			return models[i].platform;
	return IGPU_UNKNOWN;
}

static unsigned read_hex(const struct doctor *d, const char *rel)
{
	_cleanup_free_ char *s = doctor_read(d->sys, rel);
	char *end;
	unsigned long v;

	if (!s)
		return 0;
	v = strtoul(s, &end, 16);
	return end != s && *end == '\0' && v <= 0xffff ? (unsigned)v : 0;
}

void igpu_read(const struct doctor *d, unsigned cpu_model, int cpu_stepping, struct igpu *ret)
{
	_cleanup_free_ char *osrelease = doctor_read(d->proc, "sys/kernel/osrelease");
	unsigned major, minor;

	*ret = (struct igpu){};
	if (read_hex(d, "bus/pci/devices/0000:00:02.0/vendor") == 0x8086)
		ret->device = read_hex(d, "bus/pci/devices/0000:00:02.0/device");
	for (size_t i = 0; ret->device && !ret->platform && i < ELEMENTSOF(by_device); i++)
		for (size_t j = 0; j < by_device[i].n; j++)
			if (by_device[i].ids[j] == ret->device)
				ret->platform = by_device[i].platform;
	if (!ret->platform && cpu_model)
		ret->platform = platform_by_cpu(cpu_model, cpu_stepping);
	if (osrelease && sscanf(osrelease, "%u.%u", &major, &minor) == 2) {
		ret->kernel = IGPU_KV(major, minor);
		snprintf(ret->osrelease, sizeof(ret->osrelease), "%s", osrelease);
	}
}

const char *igpu_platform_name(enum igpu_platform p)
{
	return p < IGPU_PLATFORM_MAX ? platform_names[p] : NULL;
}

enum igpu_guc igpu_guc_auto(enum igpu_platform p)
{
	switch (p) {
	case IGPU_UNKNOWN:
	case IGPU_PLATFORM_MAX:
		return IGPU_GUC_UNKNOWN;
	case IGPU_ADLS:
		/* "Intermediate platforms are HuC authentication only": ADL-S but its RPL-S subplatform. */
		return IGPU_GUC_HUC;
	case IGPU_ADLP:
	case IGPU_RPLS:
	case IGPU_MTL:
		return IGPU_GUC_SUBMISSION;
	default:
		/* Before Gen12, and Tiger Lake and Rocket Lake: "Don't enable GuC/HuC". */
		return IGPU_GUC_OFF;
	}
}

/*
 * The kernel versions GVT-g gained each platform in. Where the first version is known, `since` has it: Broadwell and
 * Skylake came with KVMGT itself in 4.10, Kaby Lake in 4.13 (4.12 only its Xeon E3 v6 device 0x591D), as
 * intel_gvt.c's is_supported_device() reads in 4.10, 4.12, 4.13 and 4.14; Coffee Lake in 5.1 (the "Coffeelake GVT
 * support" of the pull gvt-next-2019-01-24, merged for 5.1; 5.0 says "Unsupported device" on it). Where it is not
 * known, `lacks` is the last version known to lack it and `has` the first one known to have it: Apollo Lake is not in
 * 4.14's list, Comet Lake's support did not come before Coffee Lake's (5.0 lacks both), and 6.1 has both. A Gen9
 * iGPU whose exact platform is not known gets no verdict.
 */
static const struct {
	unsigned since, lacks, has;
} gvt_versions[IGPU_PLATFORM_MAX] = {
	[IGPU_BDW] = { IGPU_KV(4, 10), 0, 0 },
	[IGPU_SKL] = { IGPU_KV(4, 10), 0, 0 },
	[IGPU_KBL] = { IGPU_KV(4, 13), 0, 0 },
	[IGPU_CFL] = { IGPU_KV(5, 1), 0, 0 },
	[IGPU_BXT] = { 0, IGPU_KV(4, 14), IGPU_KV(6, 1) },
	[IGPU_CML] = { 0, IGPU_KV(5, 0), IGPU_KV(6, 1) },
};

enum igpu_gvt_kernel igpu_gvt_kernel(const struct igpu *g, unsigned *ret_need, unsigned *ret_lacks)
{
	unsigned since, lacks, has;

	if (!g->kernel || g->platform == IGPU_UNKNOWN || g->platform >= IGPU_PLATFORM_MAX)
		return IGPU_GVT_KERNEL_UNKNOWN;
	since = gvt_versions[g->platform].since;
	lacks = gvt_versions[g->platform].lacks;
	has = gvt_versions[g->platform].has;
	if (g->platform == IGPU_KBL && g->device == 0x591D)
		since = IGPU_KV(4, 12);
	if (since) {
		*ret_need = since;
		*ret_lacks = 0;
		return g->kernel >= since ? IGPU_GVT_KERNEL_YES : IGPU_GVT_KERNEL_TOO_OLD;
	}
	if (!has)
		return IGPU_GVT_KERNEL_UNKNOWN; /* no GVT-g at all: the CPU check says so */
	*ret_need = has;
	*ret_lacks = lacks;
	if (g->kernel >= has)
		return IGPU_GVT_KERNEL_YES;
	return g->kernel <= lacks ? IGPU_GVT_KERNEL_TOO_OLD : IGPU_GVT_KERNEL_UNSURE;
}
