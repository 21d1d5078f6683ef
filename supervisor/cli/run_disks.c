/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sysexits.h>

#include "profiles/profile.h"
#include "supervisor/cli/run_disks.h"
#include "supervisor/host/disk_make.h"
#include "supervisor/log.h"
#include "util/macro.h"

int run_make_disks(const struct profile *p)
{
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct profile_disk *d = &p->disks[i];
		_cleanup_free_ char *error = NULL;
		int r;

		if (d->size == 0)
			continue;
		r = disk_make(d->file, d->format, d->size, &error);
		if (r < 0) {
			log_error("Failed to make the disk %s: %s", d->file, error ?: strerror(-r));
			return r == -ENOENT ? EX_UNAVAILABLE : r == -EPERM ? EX_NOPERM : EX_CANTCREAT;
		}
		/* Once made, it is the user's data: kept whatever happens to this run. */
		if (r > 0)
			log_info("made the disk %s: %s, %" PRIu64 " bytes", d->file, d->format, d->size);
	}
	return 0;
}
