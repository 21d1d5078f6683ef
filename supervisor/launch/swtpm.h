/* SPDX-License-Identifier: MIT */
/*
 * The guest's TPM: swtpm, one helper (helper.h), with its state in the VM's state directory. QEMU and swtpm share a
 * socket pair made here, so that there is no socket path and nothing to wait for.
 */
#pragma once

#include <stdbool.h>

struct helpers;
struct identity;
struct profile;

/* The Debian packages of swtpm and of swtpm_setup. */
#define SWTPM_PACKAGES "swtpm swtpm-tools"

/* The TPM's directory in the VM's state directory. */
#define SWTPM_STATE_SUBDIR "tpm"

struct swtpm_binaries {
	char *swtpm;
	char *setup;
	char *localca; /* NULL: no swtpm_localca, so no EK certificate */
};

/* Finds swtpm and swtpm_setup in PATH (and swtpm_localca, optional). -ENOENT with *ret_error naming the packages. */
int swtpm_find(struct swtpm_binaries *ret, char **ret_error);
void swtpm_binaries_done(struct swtpm_binaries *b);

/*
 * Makes the TPM's state on the VM's first run with a TPM: swtpm_setup, as QEMU's user, in SWTPM_STATE_SUBDIR of the
 * state directory (state_fd, at state_path), with an EK and a platform certificate signed by a CA of the VM's own
 * (tpm-ca/) when swtpm_localca is there. Returns 1 when it made the state, 0 when it was there, or a negative errno
 * with *ret_error (swtpm_setup's last lines).
 */
int swtpm_setup_state(int state_fd, const char *state_path, const struct profile *p, const struct swtpm_binaries *b,
		      const struct identity *id, char **envp, char **ret_error);

/*
 * Starts `swtpm socket` on the state made above, as QEMU's user with no capabilities, NO_NEW_PRIVS, the no-spawn
 * filter and swtpm's own seccomp filter, and adds it to hs (helpers_confirm() says whether it got to run).
 * *ret_qemu_fd gets QEMU's end of its control channel.
 */
int swtpm_start(struct helpers *hs, const char *state_path, const struct profile *p, const struct swtpm_binaries *b,
		const struct identity *id, char **envp, int *ret_qemu_fd, char **ret_error);
