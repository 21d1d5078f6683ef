/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/cli/run_devices.h"
#include "supervisor/host/record.h"
#include "supervisor/launch/audio.h"
#include "supervisor/launch/net.h"
#include "supervisor/log.h"
#include "util/macro.h"

extern char **environ;

/* A device the host lacks (69), one QEMU's user may not use or vgpuvm may not make (77). */
static int exit_code(int r)
{
	switch (r) {
	case -EPERM:
	case -EACCES:
		return EX_NOPERM;
	case -ENOMEM:
		return EX_OSERR;
	default:
		return EX_UNAVAILABLE;
	}
}

int run_check_devices(const struct profile *p, const struct identity *id)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = net_check(p, id, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	r = audio_check(p, id, environ, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	return 0;
}

int run_net_up(const struct profile *p, const struct identity *id, struct record *rec, net_save_fn save, void *userdata,
	       struct net_taps *taps)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = net_up(p, id, rec, save, userdata, taps, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	for (unsigned i = 0; i < rec->n_taps; i++)
		log_info("made tap %s on its bridge for QEMU", rec->taps[i].name);
	return 0;
}

bool run_net_down(const struct profile *p, struct net_taps *taps, struct record *rec, net_save_fn save, void *userdata)
{
	_cleanup_free_ char *error = NULL;
	unsigned made = rec->n_taps;
	int r;

	r = net_down(taps, rec, save, userdata, &error);
	if (r < 0) {
		log_error("%s; `vgpuvm cleanup %s` tries again", error ?: strerror(-r), p->name);
		return false;
	}
	if (made)
		log_info("deleted %u tap%s", made, made == 1 ? "" : "s");
	return true;
}
