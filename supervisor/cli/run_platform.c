/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "supervisor/cli/run_platform.h"
#include "supervisor/host/record.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/platform.h"
#include "supervisor/log.h"
#include "util/macro.h"

json_object *run_platform_helpers_json(const struct platform *pl)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < pl->helpers.n; i++) {
		const struct helper *h = &pl->helpers.h[i];
		json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(h->name));
		json_object_object_add(e, "pid", json_object_new_int64(h->pid));
		json_object_object_add(e, "running", json_object_new_boolean(!h->exited));
		json_object_array_add(a, e);
	}
	return a;
}

static void on_helper_line(void *userdata _unused_, const struct helper *h, const char *line)
{
	log_info("%s: %s", h->name, line);
}

int run_platform_prepare(struct platform *pl, struct record *rec, run_save_fn save, void *userdata)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = platform_find(pl, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return r == -ENOENT || r == -ENOEXEC ? EX_UNAVAILABLE
		       : r == -ENXIO		     ? EX_CONFIG
		       : r == -EPERM		     ? EX_NOPERM
						     : EX_OSERR;
	}
	if (pl->fw.code)
		log_info("UEFI firmware: %s, from %s%s", pl->fw.code, pl->fw.descriptor,
			 pl->fw.secure_boot ? " (Secure Boot, with SMM)"
			 : pl->fw.smm	    ? " (with SMM)"
					    : "");
	if (!pl->state_dir)
		return 0;
	snprintf(rec->state_dir, sizeof(rec->state_dir), "%s", pl->state_dir);
	rec->state_uid = pl->id->uid;
	save(userdata);
	r = platform_prepare(pl, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return r == -EPERM ? EX_NOPERM : r == -EXDEV ? EX_CONFIG : r == -ENOMEM ? EX_OSERR : EX_CANTCREAT;
	}
	if (pl->state_previous_uid != pl->id->uid)
		log_notice("the state of VM %s in %s belonged to uid %ld; it is uid %ld's now, QEMU's for this run",
			   pl->p->name, pl->state_dir, (long)pl->state_previous_uid, (long)pl->id->uid);
	if (pl->nvram_made)
		log_info("made the VM's NVRAM %s from %s", pl->nvram, pl->fw.nvram_template);
	if (pl->tpm_made)
		log_info("made the TPM's state in %s/%s with swtpm_setup%s", pl->state_dir, SWTPM_STATE_SUBDIR,
			 pl->tpm.localca ? ", with an EK certificate of the VM's own CA"
					 : " (no swtpm_localca: no EK certificate)");
	return 0;
}

int run_platform_start(struct platform *pl, struct record *rec, run_save_fn save, void *userdata)
{
	_cleanup_free_ char *error = NULL;
	struct helpers *hs = &pl->helpers;
	size_t before = hs->n;
	int r;

	r = platform_start_helpers(pl, &error);
	for (size_t i = before; i < hs->n && rec->n_helpers < RECORD_HELPERS_MAX; i++) {
		struct record_helper *rh = &rec->helpers[rec->n_helpers++];

		snprintf(rh->name, sizeof(rh->name), "%s", hs->h[i].name);
		rh->pid = hs->h[i].pid;
		rh->start_time = hs->h[i].start_time;
		/* virtiofsd stays root, in a sandbox of its own (launch/virtiofsd.h). */
		if (hs->h[i].root)
			log_info("started %s (pid %ld) as root, in a sandbox of its own", hs->h[i].name,
				 (long)hs->h[i].pid);
		else
			log_info("started %s (pid %ld) as uid %ld", hs->h[i].name, (long)hs->h[i].pid,
				 (long)pl->id->uid);
	}
	if (hs->n > before)
		save(userdata);
	if (r < 0) {
		log_error("Failed to start a helper of the VM: %s", error ?: strerror(-r));
		return r == -ENOENT || r == -EACCES || r == -ENOEXEC ? EX_UNAVAILABLE
		       : r == -EPERM				     ? EX_NOPERM
								     : EX_OSERR;
	}
	return 0;
}

int run_platform_confirm(struct platform *pl)
{
	_cleanup_free_ char *error = NULL;
	int r = platform_confirm_helpers(pl, &error);

	if (r == 0)
		return 0;
	log_error("Failed to start a helper of the VM: %s", error ?: strerror(-r));
	return r == -ENOENT || r == -EACCES || r == -ENOEXEC ? EX_UNAVAILABLE : r == -EPERM ? EX_NOPERM : EX_OSERR;
}

void run_platform_stop(struct platform *pl, struct record *rec, run_save_fn save, void *userdata)
{
	struct helpers *hs = &pl->helpers;
	bool running[HELPERS_MAX];

	for (size_t i = 0; i < hs->n; i++)
		running[i] = !hs->h[i].exited;
	platform_stop_helpers(pl, on_helper_line, NULL);
	/* The loop said already how the others ended. */
	for (size_t i = 0; i < hs->n; i++)
		if (running[i]) {
			char how[64];

			helper_describe_exit(&hs->h[i], how, sizeof(how));
			log_info("%s (pid %ld) %s", hs->h[i].name, (long)hs->h[i].pid, how);
		}
	helpers_clear(hs);
	if (rec->n_helpers > 0) {
		rec->n_helpers = 0;
		save(userdata);
	}
}
