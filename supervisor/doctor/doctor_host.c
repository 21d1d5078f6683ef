/* SPDX-License-Identifier: MIT */
/*
 * The host checks that hold for any vGPU: mdev parents, vfio, /dev/kvm, a render node for GL displays, and the mdevs
 * that supervisors which died left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/record.h"

/* Whether the host checks for a vGPU apply: no profile (a general look), or a profile with one. */
static bool wants_vgpu(const struct doctor *d)
{
	return !d->profile || d->profile->vgpu;
}

static void check_mdev_bus(struct doctor *d)
{
	_cleanup_free_ char *names = NULL;
	size_t len = 0;
	FILE *f;

	if (!wants_vgpu(d))
		return;
	if (!d->host || d->host->n_parents == 0) {
		doctor_add(
		    d, "mdev_bus", DOCTOR_FAIL,
		    doctor_fmt("no mdev parent devices: /sys/class/mdev_bus is empty or missing"),
		    doctor_wants_gvt(d)
			? doctor_fmt("enable GVT-g: see the i915 and kvmgt lines above")
			: doctor_fmt("load the vGPU's driver (the kernel's samples: modprobe mdev, then the mdpy, "
				     "mbochs or mtty module)"));
		return;
	}
	if (!(f = open_memstream(&names, &len)))
		return;
	for (size_t i = 0; i < d->host->n_parents; i++)
		fprintf(f, "%s%s", i ? ", " : "", d->host->parents[i].name);
	if (fclose(f) != 0)
		return;
	doctor_add(d, "mdev_bus", DOCTOR_PASS,
		   doctor_fmt("%zu mdev parent%s: %s", d->host->n_parents, d->host->n_parents == 1 ? "" : "s", names),
		   NULL);
}

static void check_vfio(struct doctor *d)
{
	if (!wants_vgpu(d))
		return;
	if (host_exists(d->dev, "vfio/vfio"))
		doctor_add(d, "vfio", DOCTOR_PASS, doctor_fmt("/dev/vfio/vfio is there: vfio is loaded"), NULL);
	else
		doctor_add(d, "vfio", DOCTOR_FAIL, doctor_fmt("no /dev/vfio/vfio: the vfio modules are not loaded"),
			   doctor_fmt("modprobe vfio_iommu_type1 (kvmgt loads it with GVT-g); at boot: a line "
				      "'vfio_iommu_type1' in /etc/modules-load.d/vfio.conf"));
}

/* Whether this process may open ROOT/REL for reading and writing; -errno otherwise. */
static int usable(const char *root, const char *rel)
{
	_cleanup_free_ char *p = host_path(root, rel);

	if (!p)
		return -ENOMEM;
	return access(p, R_OK | W_OK) < 0 ? -errno : 0;
}

static void check_kvm(struct doctor *d)
{
	int r;

	if (d->profile && d->profile->accel == PROFILE_ACCEL_TCG) {
		doctor_add(d, "kvm", DOCTOR_SKIP, doctor_fmt("the profile runs under TCG (\"accel\": \"tcg\")"), NULL);
		return;
	}
	r = usable(d->dev, "kvm");
	if (r == 0)
		doctor_add(d, "kvm", DOCTOR_PASS, doctor_fmt("/dev/kvm can be opened"), NULL);
	else if (r == -ENOENT)
		doctor_add(d, "kvm", DOCTOR_FAIL, doctor_fmt("no /dev/kvm: KVM is not available"),
			   doctor_fmt("turn on Intel Virtualization Technology (VT-x) in the firmware setup, then "
				      "modprobe kvm_intel"));
	else
		doctor_add(d, "kvm", DOCTOR_FAIL, doctor_fmt("/dev/kvm cannot be opened: %s", strerror(-r)),
			   doctor_fmt("usermod -aG kvm %s, then log in again", d->user));
}

static void check_render_node(struct doctor *d)
{
	const struct profile *p = d->profile;
	_cleanup_free_ char *node = NULL;
	/* Without a profile a missing render node is only a warning: a VM without GL does not need one. */
	enum doctor_status missing = p ? DOCTOR_FAIL : DOCTOR_WARN;
	int r;

	if (p && !p->display.gl) {
		doctor_add(d, "render_node", DOCTOR_SKIP, doctor_fmt("the profile's display does not use OpenGL"),
			   NULL);
		return;
	}
	if (p && p->display.rendernode) {
		/* The profile names one: map /dev/... into the dev root, as everything else. */
		const char *rn = p->display.rendernode;
		node = strdup(strncmp(rn, "/dev/", 5) == 0 ? rn + 5 : rn);
	} else
		node = host_render_node(d->dev);
	if (!node) {
		doctor_add(d, "render_node", missing,
			   doctor_fmt("no render node under /dev/dri: an OpenGL display needs one"),
			   doctor_fmt("load the GPU's DRM driver (i915 for the Intel iGPU); in a VM or container, pass "
				      "/dev/dri through"));
		return;
	}
	r = usable(d->dev, node);
	if (r == 0)
		doctor_add(d, "render_node", DOCTOR_PASS, doctor_fmt("/dev/%s can be opened", node), NULL);
	else if (r == -ENOENT)
		doctor_add(d, "render_node", missing, doctor_fmt("no /dev/%s (the profile's display.rendernode)", node),
			   doctor_fmt("set display.rendernode to a node that exists (ls /dev/dri), or remove it"));
	else
		doctor_add(d, "render_node", missing, doctor_fmt("/dev/%s cannot be opened: %s", node, strerror(-r)),
			   doctor_fmt("usermod -aG render %s, then log in again", d->user));
}

void doctor_check_host(struct doctor *d)
{
	check_mdev_bus(d);
	doctor_check_room(d);
	check_vfio(d);
	check_kvm(d);
	check_render_node(d);
}

/*
 * Stale: a crash record whose supervisor is dead. Its mdev may still be there, and its QEMU may still run (one that
 * ignored the SIGTERM its supervisor's death sent). Liveness is judged by /proc/PID existing: a pid reused since can
 * hide a stale record, never invent one.
 */
void doctor_check_stale(struct doctor *d)
{
	_cleanup_free_ char *found = NULL, *fix = NULL;
	struct dirent **names = NULL;
	size_t flen = 0, xlen = 0, n_stale = 0;
	FILE *f, *x;
	int n;

	if (!d->runtime_base) {
		doctor_add(d, "stale", DOCTOR_SKIP, doctor_fmt("no runtime directory (XDG_RUNTIME_DIR is not set)"),
			   NULL);
		return;
	}
	f = open_memstream(&found, &flen);
	x = open_memstream(&fix, &xlen);
	if (!f || !x) {
		if (f)
			fclose(f);
		if (x)
			fclose(x);
		return;
	}
	n = scandir(d->runtime_base, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *dir = NULL, *dev = NULL;
		struct record rec;

		if (names[i]->d_name[0] != '.' && asprintf(&dir, "%s/%s", d->runtime_base, names[i]->d_name) >= 0 &&
		    record_read(dir, &rec) == 0 && !host_pid_alive(d->proc, rec.supervisor_pid)) {
			bool qemu = host_pid_alive(d->proc, rec.qemu_pid);
			bool mdev = asprintf(&dev, "bus/mdev/devices/%s", rec.uuid) >= 0 && host_exists(d->sys, dev);

			fprintf(f, "%sVM %s (supervisor pid %ld gone)", n_stale ? "; " : "", rec.name,
				(long)rec.supervisor_pid);
			if (qemu)
				fprintf(f, ": its QEMU, pid %ld, still runs", (long)rec.qemu_pid);
			else if (mdev && rec.created)
				fprintf(f, ": left mdev %s (%s), no QEMU holds it", rec.uuid, rec.type);
			else
				fprintf(f, ": left its runtime files");
			if (qemu)
				fprintf(x, "%skill %ld; vgpuvm cleanup %s", n_stale ? "\n" : "", (long)rec.qemu_pid,
					rec.name);
			else
				fprintf(x, "%svgpuvm cleanup %s", n_stale ? "\n" : "", rec.name);
			n_stale++;
		}
		free(names[i]);
	}
	free(names);
	/* Both are closed whatever the first one says, or the second one's buffer would leak. */
	n = fclose(f);
	if ((fclose(x) | n) != 0)
		return;
	if (n_stale)
		doctor_add(d, "stale", DOCTOR_WARN, steal_pointer(&found), steal_pointer(&fix));
	else
		doctor_add(d, "stale", DOCTOR_PASS, doctor_fmt("no VM left anything behind"), NULL);
}
