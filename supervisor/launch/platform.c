/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_storage.h"
#include "supervisor/host/state.h"
#include "supervisor/host/trust.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/platform.h"
#include "supervisor/launch/virtiofsd.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

/* How long helpers get to end by themselves once QEMU is gone (swtpm ends as QEMU closes its socket). */
#define HELPER_STOP_TIMEOUT (5 * USEC_PER_SEC)

extern char **environ;

_Static_assert(PLATFORM_SHARES_MAX == PROFILE_SHARES_MAX, "a virtiofsd for each share");

static void close_share_fds(struct platform *pl)
{
	for (size_t i = 0; i < PLATFORM_SHARES_MAX; i++)
		pl->share_qemu_fd[i] = safe_close(pl->share_qemu_fd[i]);
}

void platform_init(struct platform *pl, const struct profile *p, const struct identity *id)
{
	*pl = (struct platform){ .p = p, .id = id, .state_fd = -1, .tpm_qemu_fd = -1 };
	for (size_t i = 0; i < PLATFORM_SHARES_MAX; i++)
		pl->share_qemu_fd[i] = -1;
}

static bool keeps_state(const struct profile *p)
{
	return p->firmware == PROFILE_FIRMWARE_UEFI || p->tpm != PROFILE_TPM_NONE;
}

int platform_find(struct platform *pl, char **ret_error)
{
	const struct profile *p = pl->p;
	int r;

	if (p->firmware == PROFILE_FIRMWARE_UEFI &&
	    (r = firmware_find(p->machine, p->secure_boot, &pl->fw, ret_error)) < 0)
		return r;
	if (p->tpm != PROFILE_TPM_NONE && (r = swtpm_find(&pl->tpm, ret_error)) < 0)
		return r;
	if (p->n_shares > 0) {
		if ((r = virtiofsd_bin_find(&pl->vfs, ret_error)) < 0)
			return r;
		/* It runs as root: a binary someone else can change would be theirs to run as root. */
		if ((r = trust_path(pl->vfs.path, "virtiofsd", ret_error)) < 0)
			return r == -ENOENT ? -ENOEXEC : r;
	}
	if (keeps_state(p)) {
		if ((r = state_path(p->name, &pl->state_dir)) < 0)
			return r == -ENXIO ? errmsg(ret_error, r,
						    "no state directory: neither XDG_STATE_HOME nor HOME is set; "
						    "set one, or VGPUVM_STATE_DIR")
					   : r;
		if (p->firmware == PROFILE_FIRMWARE_UEFI &&
		    asprintf(&pl->nvram, "%s/%s", pl->state_dir, FIRMWARE_NVRAM_FILE) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The NVRAM: the template's copy, made once; a kept one must still fit the firmware. */
static int prepare_nvram(struct platform *pl, char **ret_error)
{
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int tmpl = trust_open_image(pl->fw.nvram_template, O_RDONLY, &error), vars = -1;
	struct stat a, b;
	int r;

	if (tmpl < 0)
		return errmsg(ret_error, tmpl, "the firmware's NVRAM template %s (from %s): %s", pl->fw.nvram_template,
			      pl->fw.descriptor, error ?: strerror(-tmpl));
	r = state_copy_in(pl->state_fd, FIRMWARE_NVRAM_FILE, tmpl, pl->id->uid, pl->id->gid);
	if (r < 0)
		return errmsg(ret_error, r, "cannot copy the NVRAM template %s into %s: %s", pl->fw.nvram_template,
			      pl->state_dir, strerror(-r));
	pl->nvram_made = r > 0;
	vars = state_open_file(pl->state_fd, FIRMWARE_NVRAM_FILE, O_RDONLY, pl->id->uid);
	if (vars < 0)
		return errmsg(ret_error, vars == -EPERM ? vars : vars, "%s: %s", pl->nvram,
			      vars == -EPERM
				  ? "not a regular file of one link that QEMU's user owns; vgpuvm will not hand "
				    "it to QEMU (move it away, or `vgpuvm forget` the VM)"
				  : strerror(-vars));
	/* Firmware of another size cannot use these variables: say so rather than let QEMU fail. */
	if (fstat(tmpl, &a) == 0 && fstat(vars, &b) == 0 && a.st_size != b.st_size &&
	    !strcmp(pl->fw.nvram_format, "raw"))
		return errmsg(
		    ret_error, -EXDEV,
		    "the VM's NVRAM %s is %lld bytes, but the firmware's template %s is %lld: the firmware is "
		    "another one than when the NVRAM was made; `vgpuvm forget %s` starts afresh (its variables "
		    "are lost)",
		    pl->nvram, (long long)b.st_size, pl->fw.nvram_template, (long long)a.st_size, pl->p->name);
	return 0;
}

int platform_prepare(struct platform *pl, char **ret_error)
{
	int r;

	if (!pl->state_dir)
		return 0;
	pl->state_fd = state_open(pl->p->name, pl->id->uid, pl->id->gid, &pl->state_previous_uid, ret_error);
	if (pl->state_fd < 0)
		return pl->state_fd;
	if (!pl->env && !(pl->env = identity_env(pl->id, environ, NULL)))
		return -ENOMEM;
	if (pl->p->firmware == PROFILE_FIRMWARE_UEFI && (r = prepare_nvram(pl, ret_error)) < 0)
		return r;
	if (pl->p->tpm != PROFILE_TPM_NONE) {
		r = swtpm_setup_state(pl->state_fd, pl->state_dir, pl->p, &pl->tpm, pl->id, pl->env, ret_error);
		if (r < 0)
			return r;
		pl->tpm_made = r > 0;
	}
	return 0;
}

int platform_start_helpers(struct platform *pl, char **ret_error)
{
	int r;

	/* Once per try: started until platform_stop_helpers() and helpers_clear(). */
	if (pl->helpers.n > 0)
		return 0;
	if (pl->p->tpm != PROFILE_TPM_NONE && (r = swtpm_start(&pl->helpers, pl->state_dir, pl->p, &pl->tpm, pl->id,
							       pl->env, &pl->tpm_qemu_fd, ret_error)) < 0)
		return r;
	if (pl->p->n_shares == 0)
		return 0;
	if (!pl->runtime_dir || pl->p->n_shares > PLATFORM_SHARES_MAX)
		return -EINVAL;
	if (!pl->env && !(pl->env = identity_env(pl->id, environ, NULL)))
		return -ENOMEM;
	for (size_t i = 0; i < pl->p->n_shares; i++)
		if ((r = virtiofsd_start(&pl->helpers, &pl->vfs, pl->p, i, pl->runtime_dir, pl->env,
					 &pl->share_qemu_fd[i], ret_error)) < 0)
			return r;
	return 0;
}

int platform_confirm_helpers(struct platform *pl, char **ret_error)
{
	return helpers_confirm(&pl->helpers, ret_error);
}

void platform_argv_opts(const struct platform *pl, struct profile_argv_opts *opts)
{
	if (pl->p->firmware != PROFILE_FIRMWARE_UEFI)
		return;
	opts->firmware_code = pl->fw.code;
	opts->firmware_code_format = pl->fw.code_format;
	opts->nvram = pl->nvram;
	opts->nvram_format = pl->fw.nvram_format;
	opts->smm = pl->fw.smm;
}

static int push(int *files, size_t *n, size_t max, int fd)
{
	if (fd < 0)
		return fd;
	if (*n >= max) {
		close(fd);
		return -E2BIG;
	}
	files[(*n)++] = fd;
	return 0;
}

int platform_qemu_files(struct platform *pl, bool as_fds, int *files, size_t *n, size_t max,
			struct profile_argv_opts *opts, char **ret_error)
{
	int r;

	platform_argv_opts(pl, opts);
	if (as_fds && pl->p->firmware == PROFILE_FIRMWARE_UEFI) {
		_cleanup_free_ char *error = NULL;

		/* The order is profile_argv()'s: the code, then the NVRAM read-only and read-write. */
		r = push(files, n, max, trust_open_image(pl->fw.code, O_RDONLY, &error));
		if (r < 0)
			return errmsg(ret_error, r, "the firmware %s (from %s): %s", pl->fw.code, pl->fw.descriptor,
				      error ?: strerror(-r));
		if ((r = push(files, n, max,
			      state_open_file(pl->state_fd, FIRMWARE_NVRAM_FILE, O_RDONLY, pl->id->uid))) < 0 ||
		    (r = push(files, n, max, state_open_file(pl->state_fd, FIRMWARE_NVRAM_FILE, O_RDWR, pl->id->uid))) <
			0)
			return errmsg(ret_error, r, "the NVRAM %s: %s", pl->nvram, strerror(-r));
	}
	if (pl->tpm_qemu_fd >= 0) {
		int fd = pl->tpm_qemu_fd;

		pl->tpm_qemu_fd = -1;
		if ((r = push(files, n, max, fd)) < 0)
			return errmsg(ret_error, r, "too many files for QEMU");
	}
	/* The shares' sockets right after, in profile_share_fd()'s order. */
	for (size_t i = 0; i < pl->p->n_shares && i < PLATFORM_SHARES_MAX; i++) {
		int fd = pl->share_qemu_fd[i];

		pl->share_qemu_fd[i] = -1;
		if ((r = push(files, n, max, fd < 0 ? -EBADF : fd)) < 0)
			return errmsg(ret_error, r, "virtiofsd's socket for QEMU: %s", strerror(-r));
	}
	return 0;
}

void platform_stop_helpers(struct platform *pl, helper_line_fn fn, void *userdata)
{
	pl->tpm_qemu_fd = safe_close(pl->tpm_qemu_fd);
	close_share_fds(pl);
	if (pl->helpers.n == 0)
		return;
	helpers_stop(&pl->helpers, deadline_after(HELPER_STOP_TIMEOUT), fn, userdata);
}

void platform_done(struct platform *pl)
{
	helpers_clear(&pl->helpers);
	safe_close(pl->tpm_qemu_fd);
	close_share_fds(pl);
	virtiofsd_bin_done(&pl->vfs);
	safe_close(pl->state_fd);
	firmware_done(&pl->fw);
	swtpm_binaries_done(&pl->tpm);
	strv_free(pl->env);
	free(pl->state_dir);
	free(pl->nvram);
	platform_init(pl, NULL, NULL);
}
