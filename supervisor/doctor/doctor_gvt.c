/* SPDX-License-Identifier: MIT */
/*
 * The GVT-g checks: an Intel CPU whose iGPU GVT-g supports, i915 with enable_gvt, the kvmgt module, no GuC
 * submission, and the iGPU offering GVT-g types. The kernel's own rules are in drivers/gpu/drm/i915/intel_gvt.c:
 * is_supported_device() takes Broadwell, Skylake, Kaby Lake, Broxton (Apollo Lake), Coffee Lake and Comet Lake, and
 * GVT-g refuses to start when GuC submission is on (enable_guc bit 0). Which kernel first supported each of them, and
 * what enable_guc=-1 means on each platform, are in doctor_igpu.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/doctor/doctor_igpu.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_scan.h"

enum cpu_gvt {
	CPU_GVT_YES,
	CPU_GVT_TOO_OLD, /* before Broadwell */
	CPU_GVT_GEN11,	 /* Ice Lake era: neither GVT-g nor SR-IOV */
	CPU_GVT_SRIOV,	 /* Gen12 graphics and later: SR-IOV instead */
	CPU_GVT_NO_IGPU, /* a server part without graphics */
	CPU_GVT_MAX,
};

/* Intel family 6 models with integrated graphics (and the server ones without), by CPUID model number. */
static const struct {
	unsigned model;
	const char *name;
	enum cpu_gvt gvt;
} intel_models[] = {
	{ 0x2A, "Sandy Bridge", CPU_GVT_TOO_OLD },
	{ 0x3A, "Ivy Bridge", CPU_GVT_TOO_OLD },
	{ 0x3C, "Haswell", CPU_GVT_TOO_OLD },
	{ 0x45, "Haswell", CPU_GVT_TOO_OLD },
	{ 0x46, "Haswell", CPU_GVT_TOO_OLD },
	{ 0x3D, "Broadwell", CPU_GVT_YES },
	{ 0x47, "Broadwell", CPU_GVT_YES },
	{ 0x4E, "Skylake", CPU_GVT_YES },
	{ 0x5E, "Skylake", CPU_GVT_YES },
	{ 0x5C, "Apollo Lake", CPU_GVT_YES },
	{ 0x8E, "Kaby Lake, Coffee Lake, Whiskey Lake or Comet Lake mobile", CPU_GVT_YES },
	{ 0x9E, "Kaby Lake or Coffee Lake", CPU_GVT_YES },
	{ 0xA5, "Comet Lake", CPU_GVT_YES },
	{ 0xA6, "Comet Lake", CPU_GVT_YES },
	{ 0x7A, "Gemini Lake", CPU_GVT_GEN11 },
	{ 0x7D, "Ice Lake", CPU_GVT_GEN11 },
	{ 0x7E, "Ice Lake", CPU_GVT_GEN11 },
	{ 0x9C, "Jasper Lake", CPU_GVT_GEN11 },
	{ 0x96, "Elkhart Lake", CPU_GVT_GEN11 },
	{ 0x8C, "Tiger Lake", CPU_GVT_SRIOV },
	{ 0x8D, "Tiger Lake", CPU_GVT_SRIOV },
	{ 0xA7, "Rocket Lake", CPU_GVT_SRIOV },
	{ 0x97, "Alder Lake", CPU_GVT_SRIOV },
	{ 0x9A, "Alder Lake", CPU_GVT_SRIOV },
	{ 0xBE, "Alder Lake-N", CPU_GVT_SRIOV },
	{ 0xB7, "Raptor Lake", CPU_GVT_SRIOV },
	{ 0xBA, "Raptor Lake", CPU_GVT_SRIOV },
	{ 0xBF, "Raptor Lake", CPU_GVT_SRIOV },
	{ 0xAA, "Meteor Lake", CPU_GVT_SRIOV },
	{ 0xAC, "Meteor Lake", CPU_GVT_SRIOV },
	{ 0xBD, "Lunar Lake", CPU_GVT_SRIOV },
	{ 0xC5, "Arrow Lake", CPU_GVT_SRIOV },
	{ 0xC6, "Arrow Lake", CPU_GVT_SRIOV },
	{ 0x3F, "Haswell-E (no graphics)", CPU_GVT_NO_IGPU },
	{ 0x4F, "Broadwell-E (no graphics)", CPU_GVT_NO_IGPU },
	{ 0x55, "Skylake-SP (no graphics)", CPU_GVT_NO_IGPU },
	{ 0x6A, "Ice Lake-SP (no graphics)", CPU_GVT_NO_IGPU },
	{ 0x8F, "Sapphire Rapids (no graphics)", CPU_GVT_NO_IGPU },
};

static const char sriov_fix[] =
    "SR-IOV is the route: the i915 parameter max_vfs (with the out-of-tree i915-sriov-dkms module on most kernels) "
    "makes virtual functions to pass to VMs with vfio-pci; vgpuvm's mdev path does not apply";

/* The value of "key : value" in the first processor's block of /proc/cpuinfo. */
static char *cpuinfo_get(const char *cpuinfo, const char *key)
{
	size_t klen = strlen(key);

	for (const char *line = cpuinfo; line && *line;) {
		const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);

		if (line == end && line != cpuinfo)
			return NULL; /* the end of the first block */
		if (strncmp(line, key, klen) == 0 && (line[klen] == '\t' || line[klen] == ' ' || line[klen] == ':')) {
			const char *v = strchr(line, ':');
			if (v && v < end) {
				v++;
				while (*v == ' ' || *v == '\t')
					v++;
				return strndup(v, (size_t)(end - v));
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static unsigned kv_major(unsigned v)
{
	return v / IGPU_KV(1, 0);
}

static unsigned kv_minor(unsigned v)
{
	return v % IGPU_KV(1, 0);
}

/* A CPU whose iGPU GVT-g supports: whether the running kernel's GVT-g does too. */
static void check_cpu_kernel(struct doctor *d, const struct igpu *g, const char *name, const char *gen, unsigned long m)
{
	unsigned need = 0, lacks = 0;
	const char *plat = igpu_platform_name(g->platform);

	switch (igpu_gvt_kernel(g, &need, &lacks)) {
	case IGPU_GVT_KERNEL_TOO_OLD:
		doctor_add(
		    d, "cpu", DOCTOR_FAIL,
		    lacks ? doctor_fmt("%s (%s, model %lu): GVT-g supports its iGPU (%s graphics), but not in Linux "
				       "%s: Linux %u.%u does not have it yet, %u.%u does",
				       name, gen, m, plat, g->osrelease, kv_major(lacks), kv_minor(lacks),
				       kv_major(need), kv_minor(need))
			  : doctor_fmt("%s (%s, model %lu): GVT-g supports its iGPU (%s graphics) from Linux %u.%u "
				       "on; this kernel is %s",
				       name, gen, m, plat, kv_major(need), kv_minor(need), g->osrelease),
		    doctor_fmt("boot Linux %u.%u or later (Debian 11 ships 5.10, Debian 12 6.1), with "
			       "CONFIG_DRM_I915_GVT",
			       kv_major(need), kv_minor(need)));
		return;
	case IGPU_GVT_KERNEL_UNSURE:
		doctor_add(
		    d, "cpu", DOCTOR_WARN,
		    doctor_fmt("%s (%s, model %lu): GVT-g supports its iGPU (%s graphics) in Linux %u.%u; whether "
			       "Linux %s does is not known here (%u.%u does not)",
			       name, gen, m, plat, kv_major(need), kv_minor(need), g->osrelease, kv_major(lacks),
			       kv_minor(lacks)),
		    doctor_fmt("none needed if gvt.types below passes; otherwise boot Linux %u.%u or later",
			       kv_major(need), kv_minor(need)));
		return;
	case IGPU_GVT_KERNEL_YES:
	case IGPU_GVT_KERNEL_UNKNOWN:
	case IGPU_GVT_KERNEL_MAX:
		break;
	}
	doctor_add(d, "cpu", DOCTOR_PASS, doctor_fmt("%s (%s, model %lu): GVT-g supports its iGPU", name, gen, m),
		   NULL);
}

/* Also finds out which iGPU and kernel the host has, for the checks after it. */
static void check_cpu(struct doctor *d, struct igpu *ret_igpu)
{
	_cleanup_free_ char *info = doctor_read(d->proc, "cpuinfo"), *vendor = NULL, *family = NULL, *model = NULL,
			    *name = NULL, *stepping = NULL;
	unsigned long m;

	if (!info || !(vendor = cpuinfo_get(info, "vendor_id")) || !(family = cpuinfo_get(info, "cpu family")) ||
	    !(model = cpuinfo_get(info, "model"))) {
		igpu_read(d, 0, -1, ret_igpu);
		doctor_add(
		    d, "cpu", DOCTOR_WARN, doctor_fmt("cannot read the CPU's vendor and model from /proc/cpuinfo"),
		    doctor_fmt("none needed if the checks below pass; GVT-g needs an Intel Core CPU of the 5th to "
			       "10th generation (Broadwell to Comet Lake)"));
		return;
	}
	name = cpuinfo_get(info, "model name");
	stepping = cpuinfo_get(info, "stepping");
	m = strtoul(model, NULL, 10);
	igpu_read(d, strcmp(vendor, "GenuineIntel") == 0 && strcmp(family, "6") == 0 ? (unsigned)m : 0,
		  stepping ? (int)strtol(stepping, NULL, 10) : -1, ret_igpu);
	if (strcmp(vendor, "GenuineIntel") != 0) {
		doctor_add(
		    d, "cpu", DOCTOR_FAIL, doctor_fmt("%s (%s): GVT-g needs an Intel iGPU", name ?: vendor, vendor),
		    doctor_fmt(
			"GVT-g runs only on Intel Core CPUs of the 5th to 10th generation (Broadwell to Comet "
			"Lake) and Apollo Lake; for another vGPU, run `vgpuvm doctor PROFILE` with its profile"));
		return;
	}
	if (strcmp(family, "6") == 0)
		for (size_t i = 0; i < ELEMENTSOF(intel_models); i++) {
			if (intel_models[i].model != m)
				continue;
			const char *gen = intel_models[i].name;
			switch (intel_models[i].gvt) {
			case CPU_GVT_YES:
				check_cpu_kernel(d, ret_igpu, name ?: "Intel", gen, m);
				return;
			case CPU_GVT_TOO_OLD:
				doctor_add(
				    d, "cpu", DOCTOR_FAIL,
				    doctor_fmt("%s (%s, model %lu): GVT-g starts with Broadwell", name ?: "Intel", gen,
					       m),
				    doctor_fmt(
					"no vGPU route on this CPU; GVT-g needs an Intel Core of the 5th to 10th "
					"generation"));
				return;
			case CPU_GVT_GEN11:
				doctor_add(
				    d, "cpu", DOCTOR_FAIL,
				    doctor_fmt("%s (%s, model %lu): GVT-g ends with Comet Lake and does not support "
					       "this iGPU",
					       name ?: "Intel", gen, m),
				    doctor_fmt(
					"no vGPU route on this CPU: GVT-g skips it, and i915's SR-IOV starts with "
					"Tiger Lake (11th generation)"));
				return;
			case CPU_GVT_SRIOV:
				doctor_add(
				    d, "cpu", DOCTOR_FAIL,
				    doctor_fmt("%s (%s, model %lu): GVT-g ends with Comet Lake (10th generation); "
					       "this iGPU does SR-IOV instead",
					       name ?: "Intel", gen, m),
				    doctor_fmt("%s", sriov_fix));
				return;
			case CPU_GVT_NO_IGPU:
			case CPU_GVT_MAX:
				doctor_add(
				    d, "cpu", DOCTOR_FAIL,
				    doctor_fmt("%s (%s, model %lu): no integrated graphics", name ?: "Intel", gen, m),
				    doctor_fmt("GVT-g needs an Intel iGPU: a Core CPU of the 5th to 10th generation"));
				return;
			}
		}
	doctor_add(d, "cpu", DOCTOR_WARN,
		   doctor_fmt("%s (family %s, model %lu): not a model vgpuvm knows", name ?: "Intel", family, m),
		   doctor_fmt("none needed if the checks below pass; GVT-g supports Broadwell to Comet Lake and Apollo "
			      "Lake; 11th generation and later: %s",
			      sriov_fix));
}

static const char gvt_fix[] =
    "echo 'options i915 enable_gvt=1' >> /etc/modprobe.d/i915-gvt.conf, then update-initramfs -u (Fedora: dracut -f) "
    "and reboot\n"
    "or add the kernel parameter i915.enable_gvt=1\n"
    "NixOS: virtualisation.kvmgt.enable = true; (the vGPUs in virtualisation.kvmgt.vgpus)";

/* The first parent that offers GVT-g types, or NULL. */
static const char *gvt_types_parent(const struct doctor *d)
{
	for (size_t i = 0; d->host && i < d->host->n_parents; i++)
		for (size_t j = 0; j < d->host->parents[i].n_types; j++)
			if (strncmp(d->host->parents[i].types[j].id, "i915-", 5) == 0)
				return d->host->parents[i].name;
	return NULL;
}

/*
 * enable_guc -1 (auto) is not one answer: i915 turns it into a value by the graphics it drives. The parameter in sysfs
 * keeps reading -1 (the expanded value lives in the device's copy of the parameters), so the platform decides.
 */
static void check_guc_auto(struct doctor *d, const struct igpu *g)
{
	const char *plat = igpu_platform_name(g->platform);

	switch (igpu_guc_auto(g->platform)) {
	case IGPU_GUC_OFF:
		doctor_add(d, "i915.enable_guc", DOCTOR_PASS,
			   g->platform == IGPU_TGL || g->platform == IGPU_RKL
			       ? doctor_fmt("enable_guc is -1: no GuC submission (auto: none on %s graphics)", plat)
			       : doctor_fmt("enable_guc is -1: no GuC submission (auto: none before Gen12 graphics)"),
			   NULL);
		return;
	case IGPU_GUC_HUC:
		doctor_add(
		    d, "i915.enable_guc", DOCTOR_PASS,
		    doctor_fmt("enable_guc is -1: no GuC submission (auto: HuC firmware only on %s graphics)", plat),
		    NULL);
		return;
	case IGPU_GUC_SUBMISSION:
		doctor_add(
		    d, "i915.enable_guc", DOCTOR_FAIL,
		    doctor_fmt("enable_guc is -1 (auto), which i915 turns into GuC submission on %s graphics, and "
			       "GVT-g does not start with it",
			       plat),
		    doctor_fmt("none for GVT-g: this iGPU has no GVT-g in any case (see cpu above); the kernel "
			       "parameter i915.enable_guc=0 turns GuC submission off, but SR-IOV, this iGPU's route, "
			       "needs it on"));
		return;
	case IGPU_GUC_UNKNOWN:
	case IGPU_GUC_MAX:
		break;
	}
	doctor_add(
	    d, "i915.enable_guc", DOCTOR_WARN,
	    doctor_fmt("enable_guc is -1 (auto): i915 decides by the graphics, which vgpuvm cannot tell here (no "
		       "GuC submission before Gen12 and on Tiger Lake, Rocket Lake and Alder Lake-S; GuC "
		       "submission from Alder Lake-P on)"),
	    doctor_fmt("none needed if gvt.types below passes; otherwise the kernel parameter i915.enable_guc=0"));
}

/* Returns whether i915 is loaded, for the checks that read its parameters. */
static bool check_i915(struct doctor *d, const struct igpu *g)
{
	_cleanup_free_ char *gvt = NULL, *guc = NULL;
	const char *gvt_parent;

	if (!host_exists(d->sys, "module/i915")) {
		doctor_add(
		    d, "i915", DOCTOR_FAIL, doctor_fmt("the i915 module is not loaded: not an Intel GVT-g host"),
		    doctor_fmt("GVT-g needs the Intel iGPU and its driver: modprobe i915 (is the iGPU enabled in the "
			       "firmware setup?)"));
		doctor_add(d, "i915.enable_gvt", DOCTOR_SKIP, doctor_fmt("i915 is not loaded"), NULL);
		doctor_add(d, "kvmgt", DOCTOR_SKIP, doctor_fmt("i915 is not loaded"), NULL);
		doctor_add(d, "i915.enable_guc", DOCTOR_SKIP, doctor_fmt("i915 is not loaded"), NULL);
		return false;
	}
	doctor_add(d, "i915", DOCTOR_PASS, doctor_fmt("the i915 module is loaded"), NULL);

	gvt = doctor_read(d->sys, "module/i915/parameters/enable_gvt");
	if (!gvt)
		doctor_add(
		    d, "i915.enable_gvt", DOCTOR_FAIL,
		    doctor_fmt("i915 has no enable_gvt parameter: this kernel is built without GVT-g"),
		    doctor_fmt("use a kernel built with CONFIG_DRM_I915_GVT=y and CONFIG_DRM_I915_GVT_KVMGT=m (the "
			       "stock kernels of Debian, Ubuntu, Fedora and Arch are)"));
	else if (strcmp(gvt, "Y") == 0 || strcmp(gvt, "1") == 0)
		doctor_add(d, "i915.enable_gvt", DOCTOR_PASS, doctor_fmt("GVT-g is enabled (enable_gvt is %s)", gvt),
			   NULL);
	else
		doctor_add(d, "i915.enable_gvt", DOCTOR_FAIL,
			   doctor_fmt("GVT-g is disabled (/sys/module/i915/parameters/enable_gvt is %s)", gvt),
			   doctor_fmt("%s", gvt_fix));

	if (host_exists(d->sys, "module/kvmgt"))
		doctor_add(d, "kvmgt", DOCTOR_PASS, doctor_fmt("the kvmgt module is loaded"), NULL);
	else if ((gvt_parent = gvt_types_parent(d)))
		/* Built in (CONFIG_DRM_I915_GVT_KVMGT=y), kvmgt has no /sys/module entry, having no parameters. */
		doctor_add(
		    d, "kvmgt", DOCTOR_PASS,
		    doctor_fmt("kvmgt is built into the kernel (no /sys/module/kvmgt, but %s offers GVT-g types, "
			       "which i915 makes only with kvmgt)",
			       gvt_parent),
		    NULL);
	else
		doctor_add(
		    d, "kvmgt", DOCTOR_FAIL,
		    doctor_fmt("the kvmgt module is not loaded: i915 makes no GVT-g types without it"),
		    doctor_fmt("echo 'softdep i915 pre: kvmgt' >> /etc/modprobe.d/i915-gvt.conf (kvmgt before i915; "
			       "or a line 'kvmgt' in /etc/modules-load.d/kvmgt.conf), then reboot\n"
			       "NixOS: virtualisation.kvmgt.enable = true;"));

	/* enable_guc: -1 auto (by the platform), bit 0 GuC submission, bit 1 HuC loading. */
	guc = doctor_read(d->sys, "module/i915/parameters/enable_guc");
	if (!guc)
		doctor_add(d, "i915.enable_guc", DOCTOR_PASS, doctor_fmt("i915 has no enable_guc parameter: no GuC"),
			   NULL);
	else {
		char *end;
		long v = strtol(guc, &end, 10);

		if (end == guc || *end)
			doctor_add(d, "i915.enable_guc", DOCTOR_WARN,
				   doctor_fmt("enable_guc is \"%s\", not a number", guc),
				   doctor_fmt("if dmesg says GVT-g is not supported with GuC submission: the kernel "
					      "parameter i915.enable_guc=0"));
		else if (v == -1)
			check_guc_auto(d, g);
		else if (v > 0 && (v & 1))
			doctor_add(
			    d, "i915.enable_guc", DOCTOR_FAIL,
			    doctor_fmt("enable_guc is %ld: GuC submission is on, and i915 does not start GVT-g with "
				       "it (dmesg: \"not yet supported with GuC submission\")",
				       v),
			    doctor_fmt("echo 'options i915 enable_guc=0' >> /etc/modprobe.d/i915-gvt.conf and reboot, "
				       "or the kernel parameter i915.enable_guc=0 (enable_guc=2, HuC firmware only, "
				       "works too)"));
		else
			doctor_add(d, "i915.enable_guc", DOCTOR_PASS,
				   doctor_fmt("enable_guc is %ld: no GuC submission", v), NULL);
	}
	return true;
}

/* The GVT-g types the iGPU offers: the proof that everything above worked. */
static void check_gvt_types(struct doctor *d)
{
	for (size_t i = 0; d->host && i < d->host->n_parents; i++) {
		const struct mdev_parent_info *p = &d->host->parents[i];
		size_t n = 0;

		for (size_t j = 0; j < p->n_types; j++)
			n += strncmp(p->types[j].id, "i915-", 5) == 0;
		if (n) {
			doctor_add(d, "gvt.types", DOCTOR_PASS,
				   doctor_fmt("%s offers %zu GVT-g type%s (`vgpuvm types` lists them)", p->name, n,
					      n == 1 ? "" : "s"),
				   NULL);
			return;
		}
	}
	doctor_add(
	    d, "gvt.types", DOCTOR_FAIL, doctor_fmt("no device offers GVT-g mdev types"),
	    doctor_fmt("fix the FAIL lines above; if there are none, `dmesg | grep -i gvt` says why i915 did not "
		       "start GVT-g"));
}

/* The first entry of a directory, or NULL when it is empty or missing. */
static char *first_entry(const char *root, const char *rel)
{
	_cleanup_free_ char *path = host_path(root, rel);
	struct dirent *de;
	char *name = NULL;
	DIR *dir = path ? opendir(path) : NULL;

	if (!dir)
		return NULL;
	while (!name && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			name = strdup(de->d_name);
	closedir(dir);
	return name;
}

/*
 * GVT-g does not need the IOMMU: the mdev core gives each vGPU an IOMMU group of its own, and kvmgt maps guest memory
 * for the iGPU itself. Guides often say to turn it on anyway, so the check says which way it is and why that is fine.
 */
static void check_iommu(struct doctor *d)
{
	_cleanup_free_ char *unit = first_entry(d->sys, "class/iommu");

	if (unit)
		doctor_add(d, "iommu", DOCTOR_PASS,
			   doctor_fmt("an IOMMU is on (%s); GVT-g works with it or without it", unit), NULL);
	else
		doctor_add(
		    d, "iommu", DOCTOR_WARN,
		    doctor_fmt("no IOMMU is on: GVT-g does not need one (each vGPU gets an IOMMU group from the mdev "
			       "core), but passing a whole PCI device to a VM does"),
		    doctor_fmt("nothing, for GVT-g; for whole-device passthrough add the kernel parameter "
			       "intel_iommu=on"));
}

void doctor_check_gvt(struct doctor *d)
{
	if (!doctor_wants_gvt(d)) {
		const struct profile_vgpu *g = d->profile->vgpu;
		doctor_add(
		    d, "gvt", DOCTOR_SKIP,
		    g ? doctor_fmt("the profile's vGPU (%s) is not Intel GVT-g: the GVT-g checks do not apply", g->type)
		      : doctor_fmt("the profile has no vGPU: the GVT-g checks do not apply"),
		    NULL);
		return;
	}
	struct igpu g;

	check_cpu(d, &g);
	check_i915(d, &g);
	check_gvt_types(d);
	check_iommu(d);
}
