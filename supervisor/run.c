/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm run`: from the profile to a clean exit. Everything made here is undone here, in reverse order, on every
 * path: the mdev vgpuvm created is removed, the runtime directory goes, no QEMU is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "supervisor/log.h"
#include "supervisor/loop.h"
#include "supervisor/mdev.h"
#include "supervisor/memlock.h"
#include "supervisor/profile_cli.h"
#include "supervisor/run.h"
#include "supervisor/runtime.h"
#include "supervisor/spawn.h"
#include "util/macro.h"
#include "util/time-util.h"

/* How long the kernel (or the test tree) may take to make or remove an mdev. */
#define MDEV_TIMEOUT (10 * USEC_PER_SEC)

/* The VM ended, but its mdev could not be removed. */
#define EXIT_MDEV_LEFT EX_IOERR

extern char **environ;

static const char run_usage[] =
	"Usage: vgpuvm run PROFILE [--set KEY=VALUE]... [--uuid UUID]\n"
	"\n"
	"Runs the VM in the foreground: creates (or adopts) the mdev, sets QEMU's locked-memory limit to guest RAM +\n"
	"1 GiB, starts QEMU, and supervises it over QMP. SIGTERM, SIGINT or SIGHUP shut it down: the power button,\n"
	"then QMP quit, then SIGTERM, then SIGKILL, each after the profile's deadline; a second signal skips to the\n"
	"next step. The mdev vgpuvm made is removed on every way out.\n"
	"\n"
	"Exit status: 0 when the guest powered off or a stop was asked for; QEMU's own status when it failed by\n"
	"itself; 128+N when it died of signal N that vgpuvm did not send; 64-78 for vgpuvm's own errors (README).\n";

/* The child's environment: the supervisor's, with the profile's variables added or replaced. */
static char **build_env(char **base, char **extra)
{
	size_t nb = 0, ne = 0, n = 0;
	char **env;

	while (base && base[nb])
		nb++;
	while (extra && extra[ne])
		ne++;
	env = calloc(nb + ne + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < nb; i++) {
		size_t k = strcspn(base[i], "=");
		bool replaced = false;

		for (size_t j = 0; j < ne && !replaced; j++)
			replaced = strncmp(extra[j], base[i], k) == 0 && extra[j][k] == '=';
		if (!replaced)
			env[n++] = base[i];
	}
	for (size_t j = 0; j < ne; j++)
		env[n++] = extra[j];
	return env;
}

static int mdev_exit_code(int r)
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

/* Stops and reaps a QEMU whose loop could not run, so that none is left behind. */
static void kill_and_reap(pid_t pid, int pidfd)
{
	siginfo_t si;

	pidfd_send_signal_(pidfd, SIGKILL);
	waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
	log_warning("killed QEMU (pid %ld)", (long)pid);
}

static int supervise(const struct profile *p, const struct mdev *m, int sig_fd)
{
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char **env = NULL;
	_cleanup_free_ char *error = NULL, *tail = NULL;
	_cleanup_close_ int qmp_fd = -1, child_fd = -1;
	struct spawned s = { .pidfd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	struct vm vm;
	int sv[2], r, code;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(errno, "Failed to create the QMP socket pair: %m"), EX_OSERR;
	qmp_fd = sv[0];
	child_fd = sv[1];
	r = profile_argv(p, &(struct profile_argv_opts){ .sysfs_root = m ? m->root : NULL, .qmp_fd = 3 }, &argv);
	if (r < 0)
		return log_error_errno(r, "Failed to build QEMU's command line: %m"), EX_OSERR;
	env = build_env(environ, p->env);
	if (!env)
		return log_error_errno(ENOMEM, "Out of memory."), EX_OSERR;

	r = spawn_qemu(&(struct spawn_opts){ .argv = argv,
					     .envp = env,
					     .qmp_fd = child_fd,
					     .keep_stdio = p->serial == PROFILE_SERIAL_STDIO,
					     .memlock = p->vgpu && p->vgpu->memlock ? memlock_for_guest(p->memory) : 0 },
		       &s, &error);
	if (r == -ENOENT && !strchr(p->qemu, '/')) {
		log_error("Failed to start QEMU: %s is not in PATH; install it (Debian: apt-get install qemu-system-x86) "
			  "or name the binary with \"qemu\" in the profile",
			  p->qemu);
		return EX_UNAVAILABLE;
	}
	if (r == -ENOENT || r == -EACCES || r == -ENOEXEC) {
		log_error("Failed to start QEMU: %s; check \"qemu\" in the profile", error ?: strerror(-r));
		return EX_UNAVAILABLE;
	}
	if (r < 0) {
		log_error("Failed to start QEMU: %s", error ?: strerror(-r));
		return r == -EPERM ? EX_NOPERM : EX_OSERR;
	}
	child_fd = safe_close(child_fd);
	log_info("started QEMU (pid %ld): %s", (long)s.pid, p->qemu);

	r = vm_init(&vm, p, s.pid, s.pidfd, sig_fd, qmp_fd, s.stdout_fd, s.stderr_fd);
	if (r >= 0)
		r = vm_run(&vm);
	if (r < 0) {
		/* The loop itself failed: QEMU must not outlive it. */
		kill_and_reap(s.pid, s.pidfd);
		code = EX_OSERR;
	} else {
		code = vm_exit_code(&vm);
		if (!vm.running_at && vm.failure == VM_FAIL_NONE && !vm.stop_requested) {
			tail = vm_tail(&vm);
			log_error("QEMU %s before it was running%s%s", code < 128 ? "failed" : "was killed",
				  tail ? "; its last words:\n" : "", tail ?: "");
		} else if (!vm.stop_requested && !vm.guest_shutdown && code != 0)
			log_error("QEMU ended by itself (exit code %d)", code);
	}
	/* The loop owns QEMU's output fds from vm_init() on, and closes them at EOF. */
	safe_close(vm.out.fd);
	safe_close(vm.err.fd);
	close(s.pidfd);
	vm_done(&vm);
	return code;
}

int cmd_run(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_mdev_ struct mdev *m = NULL;
	_cleanup_free_ char *error = NULL;
	_cleanup_close_ int sig_fd = -1;
	struct runtime *rt = NULL;
	pid_t holder = 0;
	sigset_t mask;
	int r, code;

	r = cli_profile_from_args(argc, argv, run_usage, true, &p);
	if (r != 0)
		return r < 0 ? 0 : r;

	/*
	 * Signals are blocked from here on and read from a signalfd, so that a Ctrl-C during the mdev's creation is
	 * not lost but handled in order. SIGCHLD goes back to the default: an inherited SIG_IGN would make the kernel
	 * reap QEMU behind our back and lose its exit status.
	 */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return log_error_errno(errno, "Failed to set up signal handling: %m"), EX_OSERR;

	r = runtime_acquire(p->name, &rt, &holder);
	if (r == -EBUSY) {
		if (holder > 0)
			log_error("VM %s is already running, supervised by vgpuvm pid %ld", p->name, (long)holder);
		else
			log_error("VM %s is already running under another vgpuvm", p->name);
		return EX_TEMPFAIL;
	}
	if (r == -ENXIO)
		return log_error("No runtime directory: XDG_RUNTIME_DIR is not set; set it, or VGPUVM_RUNTIME_DIR"),
		       EX_CONFIG;
	if (r < 0)
		return log_error_errno(r, "Failed to set up the runtime directory for %s: %m", p->name), EX_CANTCREAT;

	if (p->vgpu) {
		uint64_t need = memlock_for_guest(p->memory);
		char lim[32];

		/* Looking, then the limit, then creating: a refusal at either check leaves nothing behind. */
		r = mdev_prepare(mdev_sysfs_root(), p->vgpu, &m, &error);
		if (r < 0) {
			log_error("%s", error ?: strerror(-r));
			code = mdev_exit_code(r);
			goto out_release;
		}
		memlock_format(need, lim, sizeof(lim));
		if (p->vgpu->memlock) {
			r = memlock_check(need, &error);
			if (r < 0) {
				log_error("%s; a vGPU type that pins no memory can run with \"memlock\": false in \"vgpu\"",
					  error ?: strerror(-r));
				code = EX_NOPERM;
				goto out_release;
			}
		} else
			log_warning("vgpu.memlock is false: QEMU keeps the locked-memory limit it inherits; GVT-g pins all "
				    "guest memory and needs %s, or the guest's display is scrambled", lim);
		if (m->exists)
			log_info("adopting mdev %s (type %s), which exists already; it will be left in place", m->uuid, m->type);
		else {
			r = mdev_create(m, deadline_after(MDEV_TIMEOUT), &error);
			if (r < 0) {
				log_error("%s", error ?: strerror(-r));
				code = mdev_exit_code(r);
				goto out_remove_mdev;
			}
			log_info("created mdev %s (type %s on %s)", m->uuid, m->type, m->parent);
		}
		if (p->vgpu->memlock)
			log_info("QEMU's locked-memory limit will be %s (guest RAM + 1 GiB)", lim);
	}

	code = supervise(p, m, sig_fd);

out_remove_mdev:
	if (m && m->created) {
		free(error);
		error = NULL;
		r = mdev_remove(m, deadline_after(MDEV_TIMEOUT), &error);
		if (r < 0) {
			log_error("%s", error ?: strerror(-r));
			if (code == 0)
				code = EXIT_MDEV_LEFT;
		} else
			log_info("removed mdev %s", m->uuid);
	}
out_release:
	runtime_release(rt);
	return code;
}
