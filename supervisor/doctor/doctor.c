/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/mdev_scan.h"
#include "util/fileio.h"

static const char *const status_names[DOCTOR_STATUS_MAX] = {
	[DOCTOR_PASS] = "PASS",
	[DOCTOR_WARN] = "WARN",
	[DOCTOR_FAIL] = "FAIL",
	[DOCTOR_SKIP] = "SKIP",
};

char *doctor_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

char *doctor_read(const char *root, const char *rel)
{
	_cleanup_free_ char *p = host_path(root, rel);
	char *s = NULL;

	if (!p || read_one_line(p, 65536, &s) < 0)
		return NULL;
	return s;
}

void doctor_add(struct doctor *d, const char *id, enum doctor_status status, char *summary, char *fix)
{
	struct doctor_check *v = realloc(d->checks, (d->n_checks + 1) * sizeof(*v));

	if (status == DOCTOR_PASS || status == DOCTOR_SKIP) {
		free(fix);
		fix = NULL;
	}
	if (!v) {
		free(summary);
		free(fix);
		return;
	}
	d->checks = v;
	d->checks[d->n_checks++] = (struct doctor_check){
		.id = strdup(id),
		.status = status,
		.summary = summary,
		.fix = fix,
	};
}

bool doctor_wants_gvt(const struct doctor *d)
{
	const struct profile_vgpu *g = d->profile ? d->profile->vgpu : NULL;

	/* A type not known (an mdev to adopt that is not there) may well be GVT-g's: the checks say what they find. */
	return !d->profile || (g && (!g->type || strncmp(g->type, "i915-", 5) == 0));
}

const char *doctor_status_to_string(enum doctor_status s)
{
	return s < DOCTOR_STATUS_MAX ? status_names[s] : NULL;
}

int doctor_run(struct doctor *d)
{
	int r = mdev_scan(d->sys, d->runtime_base, &d->host);

	if (r < 0)
		return r;
	doctor_check_gvt(d);
	doctor_check_host(d);
	doctor_check_vm(d);
	doctor_check_usb(d);
	doctor_check_stale(d);
	return 0;
}

void doctor_done(struct doctor *d)
{
	for (size_t i = 0; i < d->n_checks; i++) {
		free(d->checks[i].id);
		free(d->checks[i].summary);
		free(d->checks[i].fix);
	}
	free(d->checks);
	free(d->qemu_path);
	free(d->display_help);
	mdev_host_free(d->host);
	*d = (struct doctor){};
}
