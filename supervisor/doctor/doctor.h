/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm doctor`: checks of the host, and of the host against a profile, each ending PASS, WARN, FAIL or SKIP with a
 * one-line finding and, for WARN and FAIL, the concrete fix. The checks read the host only through the sysfs, proc and
 * dev roots (and run the QEMU binary with help options), so that tests can hand them fake trees.
 *
 * The checks are in five files: doctor_gvt.c (the Intel iGPU and i915), doctor_host.c (mdev, vfio, kvm, render
 * nodes, stale mdevs), doctor_vm.c (QEMU and the options the profile uses), doctor_vgpu.c (the profile's vGPU
 * against the host) and doctor_usb.c (the profile's USB devices).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/macro.h"

struct profile;
struct mdev_host;
struct mdev_parent_info;

enum doctor_status {
	DOCTOR_PASS,
	DOCTOR_WARN,
	DOCTOR_FAIL,
	DOCTOR_SKIP,
	DOCTOR_STATUS_MAX,
};

struct doctor_check {
	char *id; /* stable, e.g. "i915.enable_gvt" */
	enum doctor_status status;
	char *summary; /* what was found */
	char *fix;     /* what to do about it: WARN and FAIL only, else NULL; may hold several lines */
};

struct doctor {
	const char *sys, *proc, *dev;  /* the roots */
	const char *mdevctl_dir;       /* where mdevctl keeps its definitions, or NULL */
	const char *runtime_base;      /* where the VMs' runtime directories are, or NULL */
	const char *user;	       /* the user the fixes name */
	const struct profile *profile; /* NULL: the host checks only */
	struct mdev_host *host;
	struct doctor_check *checks;
	size_t n_checks;
	/* Filled by doctor_vm.c as it goes, so that QEMU is asked each thing once. */
	char *qemu_path;
	char *display_help;
};

/*
 * Adds a check's result, taking over summary and fix (malloc'd, either may be NULL after a failed allocation). The
 * fix is dropped for PASS and SKIP.
 */
void doctor_add(struct doctor *d, const char *id, enum doctor_status status, char *summary, char *fix);

/* A malloc'd formatted string, or NULL. */
char *doctor_fmt(const char *fmt, ...) _printf_(1, 2);

/* ROOT/REL, read as one line; NULL when it cannot be read. */
char *doctor_read(const char *root, const char *rel);

/* Whether the GVT-g checks apply: no profile, or the profile's vGPU type is an i915 one. */
bool doctor_wants_gvt(const struct doctor *d);

void doctor_check_gvt(struct doctor *d);
void doctor_check_host(struct doctor *d);
void doctor_check_vm(struct doctor *d);
void doctor_check_vgpu(struct doctor *d);
void doctor_check_platform(struct doctor *d);
/* The profile's USB devices (doctor_usb.c): one "usb" line each, none without. */
void doctor_check_usb(struct doctor *d);
void doctor_check_stale(struct doctor *d);
void doctor_check_room(struct doctor *d);

/* Whether the parent offers GVT-g types (whose instances all come out of the iGPU's aperture). */
bool doctor_is_gvt_parent(const struct mdev_parent_info *p);

/*
 * Names the mdevs on P that hold its room, those of type FIRST first (NULL: in the parents' order), each as "UUID
 * (TYPE, whose it is)" in SUMMARY (", "-separated), with what to do about it as a line of FIX. An mdev of type
 * ADOPT_TYPE that no process holds gets the way to adopt it too. Returns how many it named.
 */
size_t doctor_describe_holders(struct doctor *d, const struct mdev_parent_info *p, const char *first,
			       const char *adopt_type, FILE *summary, FILE *fix);

/* For a GVT-g parent, the line of FIX about the aperture's size. */
void doctor_aperture_fix(const struct mdev_parent_info *p, FILE *fix);

const char *doctor_status_to_string(enum doctor_status s);

/* Runs every check that applies to d (its roots, profile and user filled in), in the documented order. */
int doctor_run(struct doctor *d);

/* Frees what the checks made; d can be filled and run again. */
void doctor_done(struct doctor *d);
