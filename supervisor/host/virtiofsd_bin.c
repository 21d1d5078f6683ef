/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/virtiofsd_bin.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

/* virtiofsd --help answers at once; a loaded machine gets a few seconds. */
#define PROBE_TIMEOUT (5 * USEC_PER_SEC)

void virtiofsd_bin_done(struct virtiofsd_bin *b)
{
	free(b->path);
	*b = (struct virtiofsd_bin){};
}

int virtiofsd_bin_find(struct virtiofsd_bin *ret, char **ret_error)
{
	static const char *const paths[] = { "/usr/libexec/virtiofsd", "/usr/lib/virtiofsd", "/usr/lib/qemu/virtiofsd",
					     NULL };
	const char *env = getenv("VGPUVM_VIRTIOFSD"), *found = NULL;
	_cleanup_free_ char *help = NULL;
	int r;

	if (env && *env)
		found = access(env, X_OK) == 0 ? env : NULL;
	else
		for (const char *const *p = paths; *p && !found; p++)
			if (access(*p, X_OK) == 0)
				found = *p;
	if (!found)
		return errmsg(ret_error, -ENOENT,
			      "the profile has \"shares\", but virtiofsd is not there (%s); install it (Debian: "
			      "apt-get install %s)",
			      env && *env ? env : "/usr/libexec/virtiofsd, /usr/lib/virtiofsd, /usr/lib/qemu/virtiofsd",
			      VIRTIOFSD_PACKAGES);
	/* The Rust virtiofsd names the directory with --shared-dir; QEMU's with -o source=. */
	r = qemu_probe_run(found, (const char *const[]){ "--help", NULL }, deadline_after(PROBE_TIMEOUT), &help);
	if (r < 0)
		return errmsg(ret_error, r, "cannot run %s --help: %s", found, strerror(-r));
	*ret = (struct virtiofsd_bin){ .path = strdup(found),
				       .rust = help && strstr(help, "--shared-dir"),
				       .readonly = help && strstr(help, "--readonly") };
	return ret->path ? 0 : -ENOMEM;
}
