/* SPDX-License-Identifier: MIT */
/*
 * The checks of what a profile's platform needs beside QEMU: UEFI's firmware descriptor, swtpm for a TPM, virtiofsd
 * for shares, qemu-img for a disk to make. Each only when the profile asks for it; none without a profile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/firmware.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/virtiofsd_bin.h"
#include "util/macro.h"

static void check_firmware(struct doctor *d)
{
	const struct profile *p = d->profile;
	_cleanup_free_ char *error = NULL;
	struct firmware fw = {};
	int r;

	if (p->firmware != PROFILE_FIRMWARE_UEFI)
		return;
	r = firmware_find(p->machine, p->secure_boot, &fw, &error);
	if (r < 0) {
		doctor_add(d, "firmware.uefi", DOCTOR_FAIL, doctor_fmt("%s", error ?: strerror(-r)),
			   doctor_fmt("apt install ovmf (Fedora: dnf install edk2-ovmf; Arch: pacman -S edk2-ovmf)"));
		return;
	}
	doctor_add(d, "firmware.uefi", DOCTOR_PASS,
		   doctor_fmt("%s, from %s%s", fw.code, fw.descriptor, fw.secure_boot ? " (Secure Boot)" : ""), NULL);
	firmware_done(&fw);
}

static void check_swtpm(struct doctor *d)
{
	_cleanup_free_ char *swtpm = NULL, *setup = NULL;

	if (d->profile->tpm == PROFILE_TPM_NONE)
		return;
	if (qemu_probe_find("swtpm", &swtpm) < 0 || qemu_probe_find("swtpm_setup", &setup) < 0) {
		doctor_add(
		    d, "tpm.swtpm", DOCTOR_FAIL,
		    doctor_fmt("the profile has a \"tpm\", but %s is not in $PATH", swtpm ? "swtpm_setup" : "swtpm"),
		    doctor_fmt("apt install swtpm swtpm-tools (Fedora: dnf install swtpm swtpm-tools)"));
		return;
	}
	doctor_add(d, "tpm.swtpm", DOCTOR_PASS, doctor_fmt("%s and %s", swtpm, setup), NULL);
}

static void check_virtiofsd(struct doctor *d)
{
	_cleanup_free_ char *error = NULL;
	struct virtiofsd_bin b = {};
	int r;

	if (d->profile->n_shares == 0)
		return;
	r = virtiofsd_bin_find(&b, &error);
	if (r < 0) {
		doctor_add(d, "shares.virtiofsd", DOCTOR_FAIL, doctor_fmt("%s", error ?: strerror(-r)),
			   doctor_fmt("apt install qemu-system-common (Debian 12), or apt install virtiofsd (newer "
				      "releases; Fedora: dnf install virtiofsd)"));
		return;
	}
	doctor_add(d, "shares.virtiofsd", DOCTOR_PASS,
		   doctor_fmt("%s (%s)", b.path, b.rust ? "the Rust virtiofsd" : "QEMU's virtiofsd"), NULL);
	virtiofsd_bin_done(&b);
}

static void check_qemu_img(struct doctor *d)
{
	_cleanup_free_ char *img = NULL;
	bool wanted = false;

	for (size_t i = 0; i < d->profile->n_disks; i++)
		wanted = wanted || d->profile->disks[i].size > 0;
	if (!wanted)
		return;
	if (qemu_probe_find("qemu-img", &img) < 0) {
		doctor_add(d, "disks.qemu-img", DOCTOR_FAIL,
			   doctor_fmt("a disk has a \"size\", but qemu-img is not in $PATH to make it"),
			   doctor_fmt("apt install qemu-utils (Fedora: dnf install qemu-img)"));
		return;
	}
	doctor_add(d, "disks.qemu-img", DOCTOR_PASS, doctor_fmt("%s", img), NULL);
}

void doctor_check_platform(struct doctor *d)
{
	if (!d->profile)
		return;
	check_firmware(d);
	check_swtpm(d);
	check_virtiofsd(d);
	check_qemu_img(d);
}
