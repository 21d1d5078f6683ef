/* SPDX-License-Identifier: MIT */
/*
 * The VM's platform beyond the profile's own files: its firmware (UEFI and the NVRAM it keeps), its TPM (swtpm and the
 * state it keeps), the state directory they keep it in, and the helper processes they need. `run` prepares it once,
 * starts the helpers for each try before QEMU and stops them after it, and hands QEMU its part as fds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "supervisor/host/firmware.h"
#include "supervisor/launch/helper.h"
#include "supervisor/host/virtiofsd_bin.h"
#include "supervisor/launch/swtpm.h"

struct identity;
struct profile;
struct profile_argv_opts;

/* The most shares a profile has (PROFILE_SHARES_MAX). */
#define PLATFORM_SHARES_MAX 8

struct platform {
	const struct profile *p;
	const struct identity *id;
	char **env;		   /* the helpers' environment (identity_env() without the profile's "env") */
	struct firmware fw;	   /* UEFI's, once found */
	struct swtpm_binaries tpm; /* a TPM's, once found */
	char *state_dir;	   /* the VM's state directory; NULL when it keeps nothing */
	char *nvram;		   /* its NVRAM's path, for a QEMU that opens it itself */
	int state_fd;
	uid_t state_previous_uid;		/* whom the state belonged to before this run */
	bool tpm_made;				/* this run made the TPM's state (its first with a TPM) */
	bool nvram_made;			/* this run made the NVRAM */
	struct helpers helpers;			/* this try's */
	int tpm_qemu_fd;			/* QEMU's end of swtpm's control channel, for this try; -1 */
	struct virtiofsd_bin vfs;		/* the shares' virtiofsd, once found */
	const char *runtime_dir;		/* where the shares' sockets and mount points go; set by the caller */
	int share_qemu_fd[PLATFORM_SHARES_MAX]; /* QEMU's ends of each virtiofsd's socket, for this try; -1 */
};

/* Sets pl up for p and id (nothing is looked at yet). */
void platform_init(struct platform *pl, const struct profile *p, const struct identity *id);

/*
 * Finds what the profile's platform needs on the host, changing nothing: the UEFI firmware (firmware_find()), swtpm
 * and virtiofsd. -ENOENT with *ret_error naming the package to install; -EPERM when virtiofsd, which runs as root, is
 * not root's alone.
 */
int platform_find(struct platform *pl, char **ret_error);

/*
 * Opens (makes) the state directory and gives it to QEMU's user; copies the firmware's NVRAM template into it on the
 * first run; makes the TPM's state on the first run with a TPM. -EPERM when the state directory or what is in it
 * cannot be trusted, -EXDEV when the kept NVRAM does not fit the firmware (another size), others with *ret_error.
 */
int platform_prepare(struct platform *pl, char **ret_error);

/* Starts this try's helpers (swtpm, a virtiofsd for each share), without waiting for them: platform_confirm_helpers()
 * does, once QEMU started. */
int platform_start_helpers(struct platform *pl, char **ret_error);

/* Whether every helper got to run (helpers_confirm()). */
int platform_confirm_helpers(struct platform *pl, char **ret_error);

/*
 * QEMU's part: when as_fds (QEMU runs as another user), the firmware's code and the NVRAM (read-only, read-write) are
 * appended to files as fds, in profile_argv()'s order; the TPM's socket always is (it has no path). opts gets the
 * firmware's paths and formats. Returns 0, or a negative errno with *ret_error; files holds *n fds either way, which
 * the caller closes.
 */
int platform_qemu_files(struct platform *pl, bool as_fds, int *files, size_t *n, size_t max,
			struct profile_argv_opts *opts, char **ret_error);

/* Fills opts as platform_qemu_files() does, opening nothing: for `vgpuvm argv`. */
void platform_argv_opts(const struct platform *pl, struct profile_argv_opts *opts);

/*
 * Stops this try's helpers (QEMU is gone): helpers_stop() with a deadline of a few seconds; lines go to fn. The caller
 * reads how each ended in pl->helpers, then empties it with helpers_clear() for the next try.
 */
void platform_stop_helpers(struct platform *pl, helper_line_fn fn, void *userdata);

/* Frees pl; helpers still running are killed. */
void platform_done(struct platform *pl);
