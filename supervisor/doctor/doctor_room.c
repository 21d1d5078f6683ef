/* SPDX-License-Identifier: MIT */
/*
 * The room on an mdev parent and what holds it: each mdev that exists, whose it is (a vgpuvm VM, running or left
 * behind; mdevctl's; the process that holds its VFIO device open), and how to free or adopt it. A parent's types
 * share its resources: GVT-g's all take their graphics memory from the iGPU's aperture (gvt/vgpu.c: the aperture less
 * the host's 128 MiB, divided by a type's low_gm_size), so any mdev on the iGPU holds room that every type needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_holder.h"
#include "supervisor/host/mdev_scan.h"

static const char aperture_fix[] =
    "GVT-g takes each vGPU's low_gm_size from the iGPU's aperture: a larger aperture (\"Aperture Size\" in the "
    "firmware setup, where it has one) makes room for more vGPUs";

bool doctor_is_gvt_parent(const struct mdev_parent_info *p)
{
	for (size_t i = 0; i < p->n_types; i++)
		if (strncmp(p->types[i].id, "i915-", 5) == 0)
			return true;
	return false;
}

/* Starts a new line of a fix, unless it is the first. */
static void fix_line(FILE *fix)
{
	if (ftell(fix) > 0)
		fputc('\n', fix);
}

/* One mdev: "UUID (TYPE, whose it is)" to SUMMARY, what to do about it to FIX. */
static void describe(struct doctor *d, const struct mdev_parent_info *p, const struct mdev_type_info *t,
		     const struct mdev_instance *m, const char *adopt_type, FILE *summary, FILE *fix)
{
	struct mdev_holder h = {};
	bool defined = d->mdevctl_dir && mdevctl_defined(d->mdevctl_dir, p->name, m->uuid);
	int r = mdev_holder_find(d->sys, d->proc, m->uuid, &h);
	bool held = r == 0 && h.pid > 0;

	fprintf(summary, "%s (%s, ", m->uuid, t->id);
	if (m->vm && host_pid_alive(d->proc, m->supervisor_pid)) {
		fprintf(summary, "VM %s, running)", m->vm);
		fix_line(fix);
		fprintf(fix, "vgpuvm stop %s (%s goes with it)", m->vm, m->uuid);
		return;
	}
	if (m->vm) {
		fprintf(summary, "VM %s's, whose supervisor is gone)", m->vm);
		fix_line(fix);
		fprintf(fix, "vgpuvm cleanup %s (removes %s)", m->vm, m->uuid);
		return;
	}
	fputs("not vgpuvm's", summary);
	if (defined)
		fputs(", defined by mdevctl", summary);
	if (held)
		fprintf(summary, ", open in pid %ld (%s) as %s)", (long)h.pid, h.comm[0] ? h.comm : "?", h.node);
	else if (r < 0)
		fputs(", with no VFIO group to tell who holds it)", summary);
	else
		fprintf(summary, ", open in no process%s)", h.partial ? " vgpuvm may look into (root sees all)" : "");
	fix_line(fix);
	if (held) {
		fprintf(fix,
			"%s is in use by pid %ld (%s): end that VM first (libvirt: virsh list, then virsh shutdown "
			"NAME); then ",
			m->uuid, (long)h.pid, h.comm[0] ? h.comm : "?");
	} else
		fprintf(fix, "%s: ", m->uuid);
	if (defined)
		fprintf(fix,
			"mdevctl stop --uuid %s, and mdevctl undefine --uuid %s so that it does not come back at "
			"boot",
			m->uuid, m->uuid);
	else
		fprintf(fix, "echo 1 > /sys/bus/mdev/devices/%s/remove", m->uuid);
	if (!held && adopt_type && strcmp(t->id, adopt_type) == 0)
		fprintf(fix,
			"; or adopt it: set vgpu.uuid to %s (vgpuvm uses an mdev of the type that exists, and "
			"leaves it in place)",
			m->uuid);
}

size_t doctor_describe_holders(struct doctor *d, const struct mdev_parent_info *p, const char *first,
			       const char *adopt_type, FILE *summary, FILE *fix)
{
	size_t n = 0;

	/* The type asked about first, then the others. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n_types; i++) {
			const struct mdev_type_info *t = &p->types[i];

			if (first && (strcmp(t->id, first) == 0) != (pass == 0))
				continue;
			if (!first && pass == 1)
				continue;
			for (size_t j = 0; j < t->n_mdevs; j++) {
				if (n++)
					fputs(", ", summary);
				describe(d, p, t, &t->mdevs[j], adopt_type, summary, fix);
			}
		}
	return n;
}

void doctor_aperture_fix(const struct mdev_parent_info *p, FILE *fix)
{
	if (!doctor_is_gvt_parent(p))
		return;
	fix_line(fix);
	fputs(aperture_fix, fix);
}

/* Without a profile: whether any type on the host has an instance left. */
void doctor_check_room(struct doctor *d)
{
	_cleanup_free_ char *summary = NULL, *fix = NULL;
	size_t slen = 0, flen = 0, n_room = 0, n_full = 0;
	FILE *s, *f;

	if (d->profile || !d->host || d->host->n_parents == 0)
		return;
	if (!(s = open_memstream(&summary, &slen)))
		return;
	if (!(f = open_memstream(&fix, &flen))) {
		fclose(s);
		return;
	}
	for (size_t i = 0; i < d->host->n_parents; i++)
		for (size_t j = 0; j < d->host->parents[i].n_types; j++) {
			long long a = d->host->parents[i].types[j].available;
			n_room += a > 0;
			n_full += a == 0;
		}
	if (n_room || !n_full) {
		fclose(f);
		fputs("types with instances left:", s);
		for (size_t i = 0, k = 0; i < d->host->n_parents; i++) {
			const struct mdev_parent_info *p = &d->host->parents[i];
			bool first = true;

			for (size_t j = 0; j < p->n_types; j++) {
				if (p->types[j].available <= 0)
					continue;
				if (first)
					fprintf(s, "%s %s: ", k++ ? ";" : "", p->name);
				else
					fputs(", ", s);
				fprintf(s, "%s (%lld)", p->types[j].id, p->types[j].available);
				first = false;
			}
		}
		if (!n_room)
			fputs(" none known (available_instances cannot be read)", s);
		if (fclose(s) != 0)
			return;
		doctor_add(d, "instances", n_room ? DOCTOR_PASS : DOCTOR_WARN, steal_pointer(&summary),
			   doctor_fmt("ls -l /sys/class/mdev_bus/*/mdev_supported_types/*/available_instances"));
		return;
	}
	fputs("every mdev type has 0 instances left", s);
	for (size_t i = 0; i < d->host->n_parents; i++) {
		const struct mdev_parent_info *p = &d->host->parents[i];
		_cleanup_free_ char *held = NULL;
		size_t hlen = 0, n = 0;
		FILE *h = open_memstream(&held, &hlen);

		if (h)
			n = doctor_describe_holders(d, p, NULL, NULL, h, f);
		if (h && fclose(h) == 0)
			fprintf(s, "; on %s %s%s", p->name, n ? "held by: " : "no mdev holds any",
				n			  ? held
				: doctor_is_gvt_parent(p) ? " (the aperture is too small for even one)"
							  : "");
		doctor_aperture_fix(p, f);
	}
	if (fclose(s) != 0 || fclose(f) != 0)
		return;
	doctor_add(d, "instances", DOCTOR_WARN, steal_pointer(&summary), steal_pointer(&fix));
}
