/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/state.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/swtpm.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

/* swtpm_setup makes an RSA and an ECC key: about 2 s on this kind of machine; a loaded one gets more. */
#define SETUP_TIMEOUT (120 * USEC_PER_SEC)

#define CA_SUBDIR "tpm-ca"

void swtpm_binaries_done(struct swtpm_binaries *b)
{
	free(b->swtpm);
	free(b->setup);
	free(b->localca);
	*b = (struct swtpm_binaries){};
}

int swtpm_find(struct swtpm_binaries *ret, char **ret_error)
{
	struct swtpm_binaries b = {};
	int r;

	if ((r = qemu_probe_find("swtpm", &b.swtpm)) < 0 || (r = qemu_probe_find("swtpm_setup", &b.setup)) < 0) {
		const char *which = b.swtpm ? "swtpm_setup" : "swtpm";

		swtpm_binaries_done(&b);
		return r == -ENOENT ? errmsg(ret_error, r,
					     "the profile has a \"tpm\", but %s is not in PATH; install it "
					     "(Debian: apt-get install %s)",
					     which, SWTPM_PACKAGES)
				    : r;
	}
	if (qemu_probe_find("swtpm_localca", &b.localca) == -ENOMEM) {
		swtpm_binaries_done(&b);
		return -ENOMEM;
	}
	*ret = b;
	return 0;
}

/* The state swtpm keeps for each kind of TPM: its presence says the TPM was made. */
static const char *state_file(const struct profile *p)
{
	return p->tpm == PROFILE_TPM_1_2 ? "tpm-00.permall" : "tpm2-00.permall";
}

/* swtpm_setup's configuration, and that of the CA that signs the certificates: the VM's own, in its state. */
static int write_config(int ca_fd, const char *ca_path, const struct swtpm_binaries *b, const struct identity *id)
{
	_cleanup_free_ char *setup = NULL, *localca = NULL;
	int r;

	if (b->localca && asprintf(&localca,
				   "statedir = %1$s\nsigningkey = %1$s/signkey.pem\n"
				   "issuercert = %1$s/issuercert.pem\ncertserial = %1$s/certserial\n",
				   ca_path) < 0)
		return -ENOMEM;
	if (b->localca ? asprintf(&setup,
				  "create_certs_tool = %s\ncreate_certs_tool_config = %s/swtpm-localca.conf\n"
				  "create_certs_tool_options = %s/swtpm-localca.options\nactive_pcr_banks = sha256\n",
				  b->localca, ca_path, ca_path) < 0
		       : !(setup = strdup("active_pcr_banks = sha256\n")))
		return -ENOMEM;
	/* The platform certificate names who made the platform: vgpuvm's QEMU. */
	if ((localca && ((r = state_write_file(ca_fd, "swtpm-localca.conf", localca, id->uid, id->gid)) < 0 ||
			 (r = state_write_file(ca_fd, "swtpm-localca.options",
					       "--platform-manufacturer vgpuvm\n"
					       "--platform-version 2.1\n--platform-model QEMU\n",
					       id->uid, id->gid)) < 0)) ||
	    (r = state_write_file(ca_fd, "swtpm_setup.conf", setup, id->uid, id->gid)) < 0)
		return r;
	return 0;
}

int swtpm_setup_state(int state_fd, const char *state_path, const struct profile *p, const struct swtpm_binaries *b,
		      const struct identity *id, char **envp, char **ret_error)
{
	_cleanup_free_ char *tpm = NULL, *ca = NULL, *conf = NULL, *out = NULL;
	_cleanup_close_ int tpm_fd = -1, ca_fd = -1;
	char *argv[16];
	size_t n = 0;
	int r;

	tpm_fd = state_subdir(state_fd, SWTPM_STATE_SUBDIR, id->uid, id->gid);
	if (tpm_fd < 0)
		return errmsg(ret_error, tpm_fd, "cannot make %s/%s: %s", state_path, SWTPM_STATE_SUBDIR,
			      strerror(-tpm_fd));
	if (state_has(tpm_fd, state_file(p)))
		return 0;
	ca_fd = state_subdir(state_fd, CA_SUBDIR, id->uid, id->gid);
	if (ca_fd < 0)
		return errmsg(ret_error, ca_fd, "cannot make %s/%s: %s", state_path, CA_SUBDIR, strerror(-ca_fd));
	if (asprintf(&tpm, "%s/%s", state_path, SWTPM_STATE_SUBDIR) < 0 ||
	    asprintf(&ca, "%s/%s", state_path, CA_SUBDIR) < 0 || asprintf(&conf, "%s/swtpm_setup.conf", ca) < 0)
		return -ENOMEM;
	if ((r = write_config(ca_fd, ca, b, id)) < 0)
		return errmsg(ret_error, r, "cannot write swtpm_setup's configuration in %s: %s", ca, strerror(-r));
	argv[n++] = "swtpm_setup";
	if (p->tpm == PROFILE_TPM_2_0)
		argv[n++] = "--tpm2";
	argv[n++] = "--tpmstate";
	argv[n++] = tpm;
	argv[n++] = "--config";
	argv[n++] = conf;
	/* An EK certificate lets the guest's OS (Windows' attestation) trust the TPM; it needs a CA to sign it. */
	argv[n++] = b->localca ? "--create-ek-cert" : "--createek";
	if (b->localca)
		argv[n++] = "--create-platform-cert";
	argv[n++] = "--lock-nvram";
	argv[n++] = "--not-overwrite";
	argv[n] = NULL;
	/* It starts swtpm and swtpm_localca itself, so it runs without the no-spawn filter; otherwise as QEMU does. */
	r = helper_run("swtpm_setup",
		       &(struct spawn_helper_opts){ .path = b->setup, .argv = argv, .envp = envp, .id = id },
		       deadline_after(SETUP_TIMEOUT), &out, ret_error);
	if (r == -ETIMEDOUT)
		return errmsg(ret_error, r, "swtpm_setup did not finish in %llu s",
			      (unsigned long long)(SETUP_TIMEOUT / USEC_PER_SEC));
	if (r < 0)
		return r;
	if (r != 0 || !state_has(tpm_fd, state_file(p)))
		return errmsg(ret_error, -EIO, "swtpm_setup failed (exit status %d) to make the TPM's state in %s%s%s",
			      r, tpm, out ? "; its last words:\n" : "", out ?: "");
	return 1;
}

int swtpm_start(struct helpers *hs, const char *state_path, const struct profile *p, const struct swtpm_binaries *b,
		const struct identity *id, char **envp, int *ret_qemu_fd, char **ret_error)
{
	_cleanup_free_ char *tpmstate = NULL;
	_cleanup_close_ int ours = -1, qemus = -1;
	char *argv[16];
	size_t n = 0;
	int sv[2], r;

	if (asprintf(&tpmstate, "dir=%s/%s,mode=0600", state_path, SWTPM_STATE_SUBDIR) < 0)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return errmsg(ret_error, negative_errno(), "cannot make swtpm's socket pair: %m");
	ours = sv[0];
	qemus = sv[1];
	argv[n++] = "swtpm";
	argv[n++] = "socket";
	if (p->tpm == PROFILE_TPM_2_0)
		argv[n++] = "--tpm2";
	argv[n++] = "--tpmstate";
	argv[n++] = tpmstate;
	/* Its control channel is a connected socket: QEMU's end needs no path, and swtpm serves it from the start. */
	argv[n++] = "--ctrl";
	argv[n++] = "type=unixio,clientfd=3";
	/* It ends when QEMU closes its end, as QEMU exits. */
	argv[n++] = "--terminate";
	argv[n++] = "--seccomp";
	argv[n++] = "action=kill";
	argv[n] = NULL;
	r = helper_start(
	    hs, "swtpm",
	    &(struct spawn_helper_opts){
		.path = b->swtpm, .argv = argv, .envp = envp, .fds = &ours, .n_fds = 1, .id = id, .no_spawn = true });
	if (r < 0)
		return errmsg(ret_error, r, "cannot start swtpm: %s", strerror(-r));
	*ret_qemu_fd = TAKE_FD(qemus);
	return 0;
}
