/* SPDX-License-Identifier: MIT */
#include <cap-ng.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "supervisor/host/host.h"
#include "supervisor/host/memlock.h"
#include "util/macro.h"

#define GIB (UINT64_C(1) << 30)

uint64_t memlock_for_guest(uint64_t guest_ram)
{
	return guest_ram > UINT64_MAX - GIB ? MEMLOCK_UNLIMITED : guest_ram + GIB;
}

void memlock_format(uint64_t bytes, char *buf, size_t size)
{
	if (bytes == MEMLOCK_UNLIMITED || bytes == (uint64_t)RLIM_INFINITY)
		snprintf(buf, size, "unlimited");
	else if (bytes % GIB == 0)
		snprintf(buf, size, "%" PRIu64 " GiB", bytes / GIB);
	else if (bytes % (UINT64_C(1) << 20) == 0)
		snprintf(buf, size, "%" PRIu64 " MiB", bytes >> 20);
	else
		snprintf(buf, size, "%" PRIu64 " KiB", bytes >> 10);
}

int memlock_check(uint64_t need, char **ret_error)
{
	struct rlimit rl;
	char want[32], have[32];

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return negative_errno();
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
		return 0;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() == 0 && capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_RESOURCE))
		return 0;
	memlock_format(need, want, sizeof(want));
	memlock_format(rl.rlim_max, have, sizeof(have));
	if (asprintf(
		ret_error,
		"QEMU needs a locked-memory limit of %s (guest RAM + 1 GiB, as GVT-g pins all guest memory), but the "
		"hard limit is %s and vgpuvm cannot raise it without root: raise it for this user with "
		"`ulimit -l` in a root shell, or a line in /etc/security/limits.conf such as "
		"\"youruser hard memlock %" PRIu64 "\" (KiB), or run vgpuvm as root",
		want, have, (need + 1023) / 1024) < 0)
		return -ENOMEM;
	return -EPERM;
}

int memlock_read(pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard)
{
	char path[64], line[256], soft[32], hard[32];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "%s/%ld/limits", host_proc_root(), (long)pid);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Max locked memory", 17) != 0)
			continue;
		if (sscanf(line + 17, "%31s %31s", soft, hard) != 2) {
			r = -EBADMSG;
			break;
		}
		*ret_soft = strcmp(soft, "unlimited") == 0 ? MEMLOCK_UNLIMITED : strtoull(soft, NULL, 10);
		*ret_hard = strcmp(hard, "unlimited") == 0 ? MEMLOCK_UNLIMITED : strtoull(hard, NULL, 10);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}
