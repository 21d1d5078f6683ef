/* SPDX-License-Identifier: MIT */
/*
 * What one run borrows of the host and gives back: the mdev it makes (or adopts) and the device files it lends QEMU's
 * user for a try, each written in the crash record before it is taken.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/cli/run_host.h"
#include "supervisor/cli/run_private.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/record.h"
#include "supervisor/host/trust.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/owner.h"
#include "supervisor/log.h"
#include "util/macro.h"
#include "util/time-util.h"

/* How long the kernel (or the test tree) may take to make or remove an mdev. */
#define MDEV_TIMEOUT (10 * USEC_PER_SEC)

/* The VM ended, but its mdev could not be removed. */
#define EXIT_MDEV_LEFT EX_IOERR

int run_mdev_exit_code(int r)
{
	switch (r) {
	case -EACCES:
	case -EPERM:
	case -EROFS:
		return EX_NOPERM;
	case -ENOMEM:
		return EX_OSERR;
	default:
		return EX_UNAVAILABLE;
	}
}

/* Lends QEMU's user one file it must open; recorded before it is made. Returns 0 or an exit code. */
static int lend_one(struct sup *s, const char *path, enum owned_kind kind, const char *what, bool required)
{
	const char *sysfs_root = s->m ? s->m->root : host_sysfs_root();
	struct owned o;
	int r;

	r = owner_check(path, kind, sysfs_root, &s->id, &o);
	if (r == -ENOENT) {
		log_warning("%s %s does not exist: QEMU will not be able to open it", what, path);
		return 0;
	}
	if (r == -ENODEV || r == -ELOOP) {
		/* Root hands QEMU's user only the device it asked for, never whatever a path names. */
		log_error(
		    "%s %s is not %s (it is %s); vgpuvm lends QEMU only that kind of device%s", what, path,
		    kind == OWNED_DRM ? "a DRM render node (a character device of major 226, minor 128 or above)"
				      : "a VFIO group's character device",
		    r == -ELOOP ? "a symbolic link" : "another kind of file",
		    kind == OWNED_DRM && s->p->display.rendernode
			? "; set \"display\": {\"rendernode\": \"/dev/dri/renderDN\"} to one that ls -l /dev/dri lists"
			: "");
		return kind == OWNED_DRM && s->p->display.rendernode ? EX_DATAERR : EX_UNAVAILABLE;
	}
	if (r <= 0) {
		if (r < 0)
			log_warning_errno(r, "Failed to look at %s: %m", path);
		return 0;
	}
	if (!s->id.change) {
		if (!required) {
			log_warning(
			    "QEMU runs as you (uid %ld) and cannot open %s %s (owner %ld, group %ld, mode %04o); "
			    "join its group (usermod -aG GROUP %s, then log in again)",
			    (long)s->id.uid, what, path, (long)o.uid, (long)o.gid, o.mode, s->id.name ?: "$USER");
			return 0;
		}
		log_error(
		    "QEMU runs as you (uid %ld) and cannot open %s %s (owner %ld, group %ld, mode %04o). As root, "
		    "lend it for this boot (chown %ld %s), or for good with a udev rule in "
		    "/etc/udev/rules.d/90-vgpuvm.rules: SUBSYSTEM==\"vfio\", GROUP=\"vgpuvm\", MODE=\"0660\" and join "
		    "that group; or run vgpuvm as root",
		    (long)s->id.uid, what, path, (long)o.uid, (long)o.gid, o.mode, (long)s->id.uid, path);
		return EX_NOPERM;
	}
	if (s->rec.n_owned >= RECORD_OWNED_MAX)
		return log_error("Too many files to lend to QEMU"), EX_SOFTWARE;
	s->rec.owned[s->rec.n_owned++] = o;
	run_write_record(s, 0);
	r = owner_lend(&o, &s->id);
	if (r < 0) {
		s->rec.n_owned--;
		run_write_record(s, 0);
		return log_error_errno(r, "Failed to lend %s to uid %ld: %m", path, (long)s->id.uid), EX_NOPERM;
	}
	log_info("lent %s to QEMU's user (uid %ld) for this run", path, (long)s->id.uid);
	return 0;
}

/* The render node a GL display uses: the profile's, or the first there is. NULL when there is none. */
static char *render_node(const struct profile *p)
{
	_cleanup_free_ char *rel = NULL;

	if (!p->display.gl && p->display.type != PROFILE_DISPLAY_EGL_HEADLESS)
		return NULL;
	if (p->display.rendernode) {
		/* A /dev/dri/by-path link is fine where only root could have made it; what is lent is the node itself,
		 * reached without following anything (owner_check). */
		_cleanup_free_ char *error = NULL;

		if (trust_path(p->display.rendernode, "display.rendernode", &error) == -EPERM) {
			log_error("%s", error);
			return NULL;
		}
		return realpath(p->display.rendernode, NULL) ?: strdup(p->display.rendernode);
	}
	rel = host_render_node(host_dev_root());
	return rel ? host_path(host_dev_root(), rel) : NULL;
}

/* Lends QEMU's user the vGPU's /dev/vfio/GROUP and the render node, for one try. Returns 0 or an exit code. */
int run_lend(struct sup *s)
{
	_cleanup_free_ char *node = render_node(s->p);
	char path[PATH_MAX];
	int g, code;

	if (s->m) {
		g = mdev_iommu_group(s->m);
		if (g < 0)
			log_warning_errno(g, "Failed to find the IOMMU group of mdev %s: %m", s->m->uuid);
		else {
			snprintf(path, sizeof(path), "%s/vfio/%d", host_dev_root(), g);
			if ((code = lend_one(s, path, OWNED_VFIO, "the vGPU's VFIO group", true)) != 0)
				return code;
		}
	}
	if (!node && s->p->display.rendernode &&
	    (s->p->display.gl || s->p->display.type == PROFILE_DISPLAY_EGL_HEADLESS))
		return EX_NOPERM; /* a render node in a place someone else controls: said by render_node() */
	if (node && (code = lend_one(s, node, OWNED_DRM, "the render node", false)) != 0)
		return code;
	return 0;
}

/* Gives back what run_lend() lent, in reverse order. Returns false when something could not be given back. */
bool run_give_back(struct sup *s)
{
	while (s->rec.n_owned > 0) {
		const struct owned *o = &s->rec.owned[s->rec.n_owned - 1];
		int r = owner_return(o);

		if (r > 0)
			log_warning("%s is no longer the device vgpuvm lent; left as it is", o->path);
		else if (r < 0) {
			log_error_errno(r, "Failed to give %s back to uid %ld: %m; `vgpuvm cleanup %s` tries again",
					o->path, (long)o->uid, s->p->name);
			return false;
		} else
			log_info("gave %s back to uid %ld (group %ld, mode %04o)", o->path, (long)o->uid, (long)o->gid,
				 (unsigned)o->mode);
		s->rec.n_owned--;
		run_write_record(s, 0);
	}
	return true;
}

/*
 * An mdev that exists already may be in use: a QEMU of libvirt's, or another tool's, has its VFIO group open. The
 * kernel lets one process at a time open the group, so QEMU would only fail with EBUSY; say instead who holds it,
 * before anything is recorded or lent. Returns 0 or EX_TEMPFAIL.
 */
static int refuse_held_mdev(const struct sup *s)
{
	_cleanup_free_ char *who = NULL;
	int g = mdev_iommu_group(s->m);

	if (g < 0 || !(who = mdev_holders(g)))
		return 0;
	log_error("mdev %s is in use: its VFIO group /dev/vfio/%d is open in %s; stop that first (vgpuvm adopts only "
		  "an mdev no process holds)",
		  s->m->uuid, g, who);
	return EX_TEMPFAIL;
}

/* Makes (or adopts) the mdev. Returns 0 or an exit code; the caller removes what was made. */
int run_make_mdev(struct sup *s, char **error)
{
	int r;

	if (s->m->exists && (r = refuse_held_mdev(s)) != 0)
		return r;

	/*
	 * Recorded before it is made, so that a crash between the two cannot leave an mdev no one knows of. An adopted
	 * one is recorded too (created: false): the record always says what the VM uses, and recovery leaves it be.
	 */
	s->rec.created = !s->m->exists;
	s->rec.supervisor_pid = getpid();
	memcpy(s->rec.uuid, s->m->uuid, sizeof(s->rec.uuid));
	snprintf(s->rec.type, sizeof(s->rec.type), "%s", s->m->type);
	snprintf(s->rec.parent, sizeof(s->rec.parent), "%s", s->m->parent ?: "");
	snprintf(s->rec.sysfs_root, sizeof(s->rec.sysfs_root), "%s", s->m->root);
	run_write_record(s, 0);
	if (s->m->exists) {
		log_info("adopting mdev %s (type %s), which exists already; it will be left in place", s->m->uuid,
			 s->m->type);
		return 0;
	}
	r = mdev_create(s->m, deadline_after(MDEV_TIMEOUT), error);
	if (r < 0) {
		log_error("%s", *error ?: strerror(-r));
		return run_mdev_exit_code(r);
	}
	log_info("created mdev %s (type %s on %s)", s->m->uuid, s->m->type, s->m->parent);
	return 0;
}

int run_remove_mdev(struct sup *s, int code)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (!s->m || !s->m->created)
		return code;
	r = mdev_remove(s->m, deadline_after(MDEV_TIMEOUT), &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return code == 0 ? EXIT_MDEV_LEFT : code;
	}
	log_info("removed mdev %s", s->m->uuid);
	s->m->created = false;
	return code;
}
