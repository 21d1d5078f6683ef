/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm run`: from the profile to a clean exit. Everything made here is undone here, in reverse order, on every
 * path: the mdev vgpuvm created is removed, the runtime directory goes, no QEMU is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_check.h"
#include "profiles/profile_net.h"
#include "profiles/profile_firmware.h"
#include "qmp/qmp.h"
#include "supervisor/cli/ctl_cli.h"
#include "supervisor/launch/confine.h"
#include "supervisor/vm/agent.h"
#include "supervisor/vm/console.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/control_args.h"
#include "supervisor/vm/hints.h"
#include "supervisor/host/host.h"
#include "supervisor/launch/identity.h"
#include "supervisor/log.h"
#include "supervisor/vm/loop.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/memlock.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/launch/net.h"
#include "supervisor/vm/notify.h"
#include "supervisor/launch/platform.h"
#include "supervisor/cli/profile_cli.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/record.h"
#include "supervisor/launch/recover.h"
#include "supervisor/launch/sealed.h"
#include "supervisor/vm/restart.h"
#include "supervisor/vm/spice.h"
#include "supervisor/cli/run.h"
#include "supervisor/cli/run_devices.h"
#include "supervisor/cli/run_disks.h"
#include "supervisor/cli/run_host.h"
#include "supervisor/cli/run_platform.h"
#include "supervisor/cli/run_private.h"
#include "supervisor/cli/run_usb.h"
#include "supervisor/host/runtime.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/spawner.h"
#include "supervisor/launch/virtiofsd.h"
#include "supervisor/host/trust.h"
#include "supervisor/host/usb.h"
#include "supervisor/host/users.h"
#include "util/macro.h"
#include "util/time-util.h"
#include "util/utf8.h"

/* How long the serial console's last output may take to reach stdout once QEMU is gone. */
#define CONSOLE_FLUSH_TIMEOUT USEC_PER_SEC

extern char **environ;

static const char run_usage[] =
    "Usage: vgpuvm run PROFILE [--set KEY=VALUE]... [--uuid UUID]\n"
    "\n"
    "Runs the VM in the foreground: creates (or adopts) the mdev, sets QEMU's locked-memory limit to guest RAM +\n"
    "1 GiB, starts QEMU, and supervises it over QMP. SIGTERM, SIGINT or SIGHUP shut it down: the power button,\n"
    "then QMP quit, then SIGTERM, then SIGKILL, each after the profile's deadline; a second signal skips to the\n"
    "next step. The mdev vgpuvm made is removed on every way out.\n"
    "\n"
    "With \"serial\": \"stdio\" the guest's console is on vgpuvm's stdin and stdout (QEMU gets a pty of its own). On "
    "a\n"
    "terminal, Ctrl-C goes to the guest; Ctrl-A x stops the VM as SIGTERM does, Ctrl-A h lists the keys.\n"
    "\n"
    "Exit status: 0 when the guest powered off or a stop was asked for; QEMU's own status when it failed by\n"
    "itself; 128+N when it died of signal N that vgpuvm did not send; 64-78 for vgpuvm's own errors (vgpuvm(1)).\n";

/* Stops and reaps a QEMU whose loop could not run, so that none is left behind. */
static void kill_and_reap(pid_t pid, int pidfd)
{
	siginfo_t si;

	pidfd_send_signal_(pidfd, SIGKILL);
	waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
	log_warning("killed QEMU (pid %ld)", (long)pid);
}

/* The control socket's status object (documented in vgpuvm-control(7); keep it stable). */
static json_object *status_json(void *userdata, const struct vm_state *vm, const char *qemu_status)
{
	struct sup *s = userdata;
	json_object *o = json_object_new_object(), *d = json_object_new_object();

	json_object_object_add(o, "format_version", json_object_new_int(STATUS_FORMAT_VERSION));
	json_object_object_add(o, "name", json_object_new_string(s->p->name));
	json_object_object_add(o, "state", json_object_new_string(vm ? stop_phase_to_string(vm->phase) : "restarting"));
	json_object_object_add(o, "qemu_status", qemu_status ? json_object_new_string(qemu_status) : NULL);
	json_object_object_add(o, "supervisor_pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "qemu_pid", vm ? json_object_new_int64(vm->pid) : NULL);
	json_object_object_add(o, "uptime",
			       vm ? json_object_new_double((double)(now_usec() - vm->started_at) / 1e6) : NULL);
	/* The path is the user's, in any bytes; the status is JSON, and JSON is UTF-8. */
	char *path = utf8_make_valid(s->p->path);
	json_object_object_add(o, "profile", path ? json_object_new_string(path) : NULL);
	free(path);
	if (s->m) {
		json_object *g = json_object_new_object(), *ml = json_object_new_object();
		uint64_t soft, hard;

		json_object_object_add(g, "uuid", json_object_new_string(s->m->uuid));
		json_object_object_add(g, "type", json_object_new_string(s->m->type));
		json_object_object_add(g, "parent", s->m->parent ? json_object_new_string(s->m->parent) : NULL);
		json_object_object_add(g, "created", json_object_new_boolean(s->m->created));
		if (vm && memlock_read(vm->pid, &soft, &hard) == 0) {
			json_object_object_add(ml, "soft",
					       soft == MEMLOCK_UNLIMITED ? NULL : json_object_new_int64((int64_t)soft));
			json_object_object_add(ml, "hard",
					       hard == MEMLOCK_UNLIMITED ? NULL : json_object_new_int64((int64_t)hard));
		}
		json_object_object_add(g, "memlock", ml);
		json_object_object_add(o, "vgpu", g);
	} else
		json_object_object_add(o, "vgpu", NULL);
	json_object_object_add(d, "type", json_object_new_string(profile_display_type_to_string(s->p->display.type)));
	json_object_object_add(d, "gl", json_object_new_boolean(s->p->display.gl));
	if (s->spice)
		json_object_object_add(d, "spice", spice_status_json(s->spice));
	json_object_object_add(o, "display", d);
	json_object_object_add(o, "net", profile_net_to_json(s->p));
	json_object_object_add(o, "usb", run_usb_json(&s->usb, s->p));
	json_object_object_add(
	    o, "audio",
	    s->p->audio != PROFILE_AUDIO_OFF ? json_object_new_string(profile_audio_to_string(s->p->audio)) : NULL);
	json_object_object_add(o, "restarts", json_object_new_int64(s->restart.restarts));
	json_object_object_add(o, "last_exit_code", json_object_new_int(s->last_exit_code));
	json_object_object_add(o, "firmware", json_object_new_string(profile_firmware_to_string(s->p->firmware)));
	json_object_object_add(o, "state_dir", s->pl.state_dir ? json_object_new_string(s->pl.state_dir) : NULL);
	json_object_object_add(o, "helpers", run_platform_helpers_json(&s->pl));
	json_object_object_add(o, "agent", agent_status_json(vm ? vm->agent : NULL, s->p->agent));
	return o;
}

static void on_command(void *userdata, uint64_t client, struct qmp_msg *m)
{
	struct sup *s = userdata;
	json_object *st;

	if (strcmp(m->name, "usb") == 0) {
		run_usb_command(&s->usb, s->p, s->vm, s->ctl, client, m);
		return;
	}
	if (s->vm) {
		vm_command(s->vm, client, m);
		return;
	}
	/* Between tries there is no QEMU: status and stop still work. */
	if (strcmp(m->name, "status") == 0) {
		const char *why = NULL;
		bool ask_qemu;

		if (control_status_args(m->data, &ask_qemu, &why) < 0) {
			control_error(s->ctl, client, m->id, "GenericError", why);
			return;
		}
		st = status_json(s, NULL, NULL);
		control_return(s->ctl, client, m->id, st);
		json_object_put(st);
	} else if (strcmp(m->name, "stop") == 0) {
		s->stop_requested = true;
		control_return(s->ctl, client, m->id, NULL);
	} else
		control_error(s->ctl, client, m->id, "GenericError",
			      "QEMU is not running (vgpuvm waits to restart it)");
}

/* Whether this run keeps a crash record: it made an mdev, lent a file, made or opened a tap, or has a state directory
 * and helpers. */
static bool recording(const struct sup *s)
{
	return s->m || s->rec.n_owned > 0 || s->rec.n_taps > 0 || s->pl.state_dir;
}

/* The record as it is now, for net_up() and net_down(), and run_platform_*(). */
static void save_record(void *userdata)
{
	struct sup *s = userdata;

	run_write_record(s, s->rec.qemu_pid);
}
void run_write_record(struct sup *s, pid_t qemu_pid)
{
	int r;

	s->rec.qemu_pid = qemu_pid;
	s->recorded = true;
	r = record_write(s->rt->dir, &s->rec);
	if (r < 0)
		log_warning_errno(r, "Failed to write the crash record in %s: %m", s->rt->dir);
}

/*
 * Once QEMU runs, the supervisor needs only its loop, its control socket, teardown and what a restart does besides
 * forking (lending files, opening images and taps, the mdev): it confines itself to those, whatever the restart
 * policy. The next QEMU and its helpers are forked by the spawner, which never had this filter.
 */
static void confine_self(struct sup *s)
{
	int r;

	if (s->confined)
		return;
	r = confine_supervisor();
	if (r < 0) {
		log_warning_errno(r, "Failed to install the supervisor's seccomp filter, going on without it: %m");
		return;
	}
	s->confined = true;
	log_debug("the supervisor's seccomp filter is in place");
}

static void close_files(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = safe_close(fds[i]);
}

/* Starts QEMU and supervises it until it is reaped. Returns the exit code this run gives. */
static int supervise(struct sup *sp, bool *ret_stopped, bool *ret_guest_off)
{
	const struct profile *p = sp->p;
	const struct mdev *m = sp->m;
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	_cleanup_free_ char *error = NULL, *tail = NULL, *binary = NULL;
	_cleanup_close_ int qmp_fd = -1, child_fd = -1, slave = -1, agent_fd = -1;
	/* Set up for each try and undone when it ends, so that between tries the terminal is the user's again (and
	 * Ctrl-C is a signal again). */
	_cleanup_console_ struct console *con = NULL;
	struct spawned s = { .pidfd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	int sv[2], r, code, files[PROFILE_FILES_MAX];
	struct profile_argv_opts opts = { .sysfs_root = m ? m->root : NULL,
					  .qmp_fd = PROFILE_QMP_FD,
					  .qemu_version = sp->qemu_version,
					  .file_fd_base = sp->id.change ? PROFILE_FILE_FD_BASE : 0 };
	size_t n_files = 0;
	struct vm_outcome out;
	struct vm *vm = NULL;

	*ret_stopped = *ret_guest_off = false;
	run_usb_reset(&sp->usb, p);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(errno, "Failed to create the QMP socket pair: %m"), EX_OSERR;
	qmp_fd = sv[0];
	child_fd = sv[1];
	/* As root, QEMU (another uid) gets its images as open fds, so that it needs no access of its own to them. */
	if (sp->id.change) {
		struct profile_file f[PROFILE_FILES_MAX];

		n_files = profile_files(p, f, ELEMENTSOF(f));
		for (size_t i = 0; i < n_files; i++) {
			_cleanup_free_ char *err = NULL;

			if (f[i].kind == PROFILE_FILE_TAP)
				/* Made or opened for this try by net_up(): QEMU gets its own copy of the fd. */
				files[i] =
				    sp->net.fd[f[i].nic] < 0 ? -EBADF : fcntl(sp->net.fd[f[i].nic], F_DUPFD_CLOEXEC, 3);
			else if (f[i].kind == PROFILE_FILE_COPY)
				files[i] = sealed_copy(f[i].path, f[i].what, &err);
			else if (f[i].kind == PROFILE_FILE_USB)
				/* Found again for each try: a device plugged in again has another node. */
				files[i] = run_usb_open(&sp->usb, p, f[i].usb, f[i].set, &err);
			else
				files[i] = trust_open_image(f[i].path, f[i].flags, &err);
			if (files[i] < 0) {
				r = files[i];
				n_files = i;
				close_files(files, n_files);
				log_error("Failed to open the %s %s for QEMU: %s", f[i].what, f[i].path,
					  err ?: strerror(-r));
				return r == -ENOMEM		       ? EX_OSERR
				       : r == -EPERM		       ? EX_NOPERM
				       : f[i].kind == PROFILE_FILE_USB ? EX_UNAVAILABLE
								       : EX_NOINPUT;
			}
		}
	}
	/* The firmware and its NVRAM after the images, as fds too; the TPM's socket in any case. */
	r = platform_qemu_files(&sp->pl, sp->id.change, files, &n_files, ELEMENTSOF(files), &opts, &error);
	if (r < 0) {
		close_files(files, n_files);
		log_error("Failed to open QEMU's files: %s", error ?: strerror(-r));
		return r == -ENOMEM ? EX_OSERR : r == -EPERM ? EX_NOPERM : EX_NOINPUT;
	}
	/* The guest agent's channel: a socket pair as QMP's; QEMU's end goes last, where profile_agent_fd() says. */
	if (p->agent) {
		int ga[2];

		if (n_files >= ELEMENTSOF(files) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ga) < 0) {
			r = n_files >= ELEMENTSOF(files) ? E2BIG : errno;
			close_files(files, n_files);
			return log_error_errno(r, "Failed to create the guest agent's socket pair: %m"), EX_OSERR;
		}
		agent_fd = ga[0];
		files[n_files++] = ga[1];
	}
	r = profile_argv(p, &opts, &argv);
	if (r < 0)
		return close_files(files, n_files), log_error_errno(r, "Failed to build QEMU's command line: %m"),
		       EX_OSERR;
	env = identity_env(&sp->id, environ, p->env);
	if (!env)
		return close_files(files, n_files), log_error_errno(ENOMEM, "Out of memory."), EX_OSERR;

	if (p->serial == PROFILE_SERIAL_STDIO) {
		r = console_new(STDIN_FILENO, STDOUT_FILENO, &con, &slave);
		if (r < 0)
			return log_error_errno(r, "Failed to make a pty for the serial console: %m"), EX_OSERR;
		if (console_interactive(con))
			log_info(
			    "the serial console is on this terminal: Ctrl-A x stops the VM, Ctrl-A h lists the keys");
	}

	/*
	 * Found in the supervisor's PATH before the fork, as root: QEMU's uid may not search every directory in it (a
	 * root-only one makes execvp() say EACCES), and a binary that is not there is then said plainly.
	 */
	r = qemu_probe_find(p->qemu, &binary);
	if (r == -ENOENT && !strchr(p->qemu, '/')) {
		close_files(files, n_files);
		log_error(
		    "Failed to start QEMU: %s is not in PATH; install it (Debian: apt-get install qemu-system-x86) "
		    "or name the binary with \"qemu\" in the profile",
		    p->qemu);
		return EX_UNAVAILABLE;
	}
	notify("STATUS=starting QEMU");
	r = spawn_qemu(&(struct spawn_opts){ .path = binary ?: p->qemu,
					     .argv = argv,
					     .envp = env,
					     .qmp_fd = child_fd,
					     .stdio_fd = slave,
					     .memlock = p->vgpu && p->vgpu->memlock ? memlock_for_guest(p->memory) : 0,
					     .id = &sp->id,
					     .no_spawn = p->sandbox[PROFILE_SANDBOX_SPAWN] == PROFILE_SANDBOX_DENY,
					     .files = files,
					     .n_files = n_files },
		       &s, &error);
	/* QEMU has its own copies now, or failed to start: the supervisor keeps none. */
	close_files(files, n_files);
	/* The helpers started while QEMU did: a helper that did not get to run leaves QEMU without its device. */
	code = run_platform_confirm(&sp->pl);
	if (code != 0) {
		if (r >= 0) {
			kill_and_reap(s.pid, s.pidfd);
			close(s.pidfd);
			safe_close(s.stdout_fd);
			safe_close(s.stderr_fd);
		}
		return code;
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
	/* Only QEMU holds the pty's other end now: once it is gone, the pty says so. */
	slave = safe_close(slave);
	log_info("started QEMU (pid %ld): %s", (long)s.pid, p->qemu);
	if (recording(sp))
		run_write_record(sp, s.pid);
	confine_self(sp);

	r = vm_new(&(struct vm_opts){ .profile = p,
				      .pid = s.pid,
				      .pidfd = s.pidfd,
				      .sig_fd = sp->sig_fd,
				      .qmp_fd = qmp_fd,
				      .out_fd = s.stdout_fd,
				      .err_fd = s.stderr_fd,
				      .agent_fd = TAKE_FD(agent_fd),
				      .ctl = sp->ctl,
				      .con = con,
				      .helpers = &sp->pl.helpers,
				      .spice = sp->spice,
				      .status_fn = status_json,
				      .status_userdata = sp },
		   &vm);
	if (r >= 0) {
		sp->vm = vm;
		r = vm_run(vm);
		sp->vm = NULL;
		/* The devices went with QEMU: between tries, status shows none. */
		run_usb_clear(&sp->usb);
	}
	if (r < 0) {
		/* The loop itself failed: QEMU must not outlive it. */
		kill_and_reap(s.pid, s.pidfd);
		code = EX_OSERR;
	}
	console_flush(con, deadline_after(CONSOLE_FLUSH_TIMEOUT));
	if (r >= 0) {
		const char *hint = vm_hint(vm);

		vm_outcome(vm, &out);
		/* QEMU never got to run: no QMP, or not running by the start deadline. */
		code = out.code < 0 ? EX_PROTOCOL : out.code;
		*ret_stopped = out.stop_requested;
		*ret_guest_off = out.guest_off;
		/* A seccomp kill says nothing on QEMU's stderr: the signal is the only clue. */
		if (out.exit_info.si_code != CLD_EXITED && out.exit_info.si_status == SIGSYS)
			hint = hint_for_signal(SIGSYS);

		if (!out.ran && !out.start_failed && !out.stop_requested) {
			tail = vm_tail(vm);
			log_error("QEMU %s before it was running%s%s", code < 128 ? "failed" : "was killed",
				  tail ? "; its last words:\n" : "", tail ?: "");
		} else if (!out.stop_requested && !out.guest_off && code != 0)
			log_error("QEMU ended by itself (exit code %d)", code);
		else
			hint = NULL;
		if (hint)
			log_error("hint: %s", hint);
		/* A helper's death stopped the VM: that is a failure, which a restart policy may answer. */
		if (out.helper_failed) {
			log_error("the VM was stopped because %s, which it needs, ended", out.helper_failed);
			code = EX_UNAVAILABLE;
			*ret_stopped = false;
		}
	}
	vm_free(vm);
	close(s.pidfd);
	if (recording(sp))
		run_write_record(sp, 0);
	return code;
}

/* Sets the mode of a directory through an fd, not following a symlink at path, and only when it is ours. */
static int chmod_own_dir(const char *path, mode_t mode)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_uid != geteuid())
		return -EPERM;
	return fchmod(fd, mode) < 0 ? negative_errno() : 0;
}

/*
 * QEMU needs nothing in the runtime directory (screenshots come in a memfd). The members of the profile's group may
 * use the control socket, so for them the way to it is opened (0711: they can pass, not list).
 */
static int open_way_to_socket(struct sup *s)
{
	_cleanup_free_ char *base = NULL;
	int r;

	if (!s->p->group)
		return 0;
	if ((r = runtime_base(&base)) < 0)
		return r;
	if ((r = chmod_own_dir(s->rt->dir, 0711)) < 0 || (r = chmod_own_dir(base, 0711)) < 0)
		return r;
	return 0;
}

/*
 * Waits out a restart delay, still answering the control socket and signals. Returns true when a stop came.
 */
static bool wait_delay(struct sup *s, uint64_t deadline)
{
	while (!s->stop_requested) {
		struct pollfd p[1 + 1 + CONTROL_CLIENTS_MAX];
		size_t n = 1, n_ctl;
		int r;

		p[0] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
		n_ctl = control_pollfds(s->ctl, p + 1, ELEMENTSOF(p) - 1);
		n += n_ctl;
		r = poll(p, n, deadline_poll_ms(deadline));
		if (r < 0 && errno != EINTR)
			return false;
		if (r == 0 && now_usec() >= deadline)
			return false;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				s->stop_requested = true;
		}
		control_dispatch(s->ctl, p + 1, n_ctl);
	}
	log_info("a stop was asked for while waiting to restart");
	return true;
}

/* Runs QEMU, again and again as the profile's restart policy says. Returns the exit code. */
static int run_tries(struct sup *s, char **error)
{
	int code;

	for (;;) {
		struct restart_decision d;
		bool stopped, guest_off;

		code = run_lend(s);
		if (code == 0)
			code = run_platform_start(&s->pl, &s->rec, save_record, s);
		if (code != 0)
			return code;
		if ((code = run_net_up(s->p, &s->id, &s->rec, save_record, s, &s->net)) != 0)
			return code;
		code = supervise(s, &stopped, &guest_off);
		if (!run_net_down(s->p, &s->net, &s->rec, save_record, s) && code == 0)
			code = EX_UNAVAILABLE;
		run_platform_stop(&s->pl, &s->rec, save_record, s);
		if (!run_give_back(s) && code == 0)
			code = EX_NOPERM;
		s->last_exit_code = code;
		restart_decide(&s->restart, s->p->restart, s->p->restart_delay, stopped, code, now_usec(), &d);
		if (d.verdict == RESTART_GIVE_UP)
			log_error("%s", d.text);
		if (d.verdict != RESTART_AGAIN)
			return code;
		/* The mdev is made afresh for each try, as for a first start. */
		code = run_remove_mdev(s, 0);
		if (code != 0)
			return code;
		log_info("%s", d.text);
		notify("STATUS=restarting in %u s", d.delay);
		if (wait_delay(s, deadline_after(d.delay * USEC_PER_SEC)))
			return 0;
		if ((code = run_platform_start(&s->pl, &s->rec, save_record, s)) != 0)
			return code;
		if (s->m && !s->m->exists && (code = run_make_mdev(s, error)) != 0)
			return code;
	}
}

/* Whom QEMU runs as, said once at the start, with what the profile relaxes of QEMU's sandbox. */
static int resolve_identity(struct sup *s)
{
	_cleanup_free_ char *error = NULL, *base = NULL, *lock_dir = NULL;
	int r;

	/* Dynamic uids are held where systemd holds its own, when it runs, so that neither hands out the other's. */
	if (access("/run/systemd/system", F_OK) == 0)
		lock_dir = strdup("/run/systemd/dynamic-uid");
	else if (runtime_base(&base) == 0 && asprintf(&lock_dir, "%s/.dynamic-uid", base) < 0)
		lock_dir = NULL;
	if (!lock_dir)
		return log_error_errno(ENOMEM, "Out of memory."), EX_OSERR;
	r = identity_resolve(s->p, lock_dir, &s->id, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return r == -EPERM ? EX_NOPERM : r == -EUSERS ? EX_UNAVAILABLE : EX_CONFIG;
	}
	if (s->id.dynamic)
		log_notice(
		    "there is no \"%s\" system user, so QEMU runs as a dynamic uid of its own; to choose it, create "
		    "one (useradd --system --no-create-home --shell /usr/sbin/nologin %s) or set \"user\"",
		    IDENTITY_DEFAULT_USER, IDENTITY_DEFAULT_USER);
	log_info("QEMU runs as %s (uid %ld, gid %ld), with no capabilities", s->id.name ?: "?", (long)s->id.uid,
		 (long)s->id.gid);
	for (unsigned i = 0; i < PROFILE_SANDBOX_PART_MAX; i++)
		if (s->p->sandbox[i] != PROFILE_SANDBOX_DENY)
			log_warning("the profile relaxes QEMU's sandbox: %s=%s", profile_sandbox_part_to_string(i),
				    profile_sandbox_action_to_string(s->p->sandbox[i]));
	r = open_way_to_socket(s);
	if (r < 0)
		return log_error_errno(r, "Failed to open the way to the control socket in %s: %m", s->rt->dir),
		       EX_CANTCREAT;
	return 0;
}

static int open_control(struct sup *s)
{
	_cleanup_free_ char *path = NULL, *error = NULL;
	gid_t gid = s->p->group ? s->id.gid : (gid_t)-1;
	int r;

	if (asprintf(&path, "%s/control", s->rt->dir) < 0)
		return EX_OSERR;
	r = control_new(path, gid, on_command, s, &s->ctl);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s: %m", path), EX_CANTCREAT;
	/* The SPICE socket: the control socket's owner, mode and group. */
	r = spice_new(s->p, s->rt->dir, gid, &s->spice, &error);
	if (r < 0 && error)
		return log_error("%s", error), r == -EPERM ? EX_NOPERM : r == -ENOENT ? EX_NOINPUT : EX_DATAERR;
	if (r < 0)
		return log_error_errno(r, "Failed to set up the SPICE display in %s: %m", s->rt->dir), EX_CANTCREAT;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_mdev_ struct mdev *m = NULL;
	_cleanup_free_ char *error = NULL, *recovered = NULL;
	_cleanup_close_ int sig_fd = -1;
	struct sup s = { .id.lock_fd = -1, .net = NET_TAPS_INIT, .spawner_fd = -1 };
	pid_t holder = 0;
	sigset_t mask;
	bool done;
	int r, code;

	r = cli_profile_from_args(argc, argv, run_usage, true, &p, &done);
	if (r != 0 || done)
		return r;

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
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return log_error_errno(errno, "Failed to set up signal handling: %m"), EX_OSERR;
	s = (struct sup){
		.p = p,
		.sig_fd = sig_fd,
		.rec = { .supervisor_pid = getpid() },
		.id.lock_fd = -1,
		.net = NET_TAPS_INIT,
		.spawner_fd = -1,
	};
	snprintf(s.rec.name, sizeof(s.rec.name), "%s", p->name);
	platform_init(&s.pl, p, &s.id);

	/*
	 * The spawner is forked first, before anything is started and long before the supervisor's filter loads, so
	 * that its own set-up (capabilities, seccomp) runs while the supervisor readies the VM rather than while QEMU's
	 * start waits for it; it holds no fd but its socket. It keeps virtiofsd's capabilities only when there are
	 * shares to serve.
	 */
	r = spawner_start(p->n_shares > 0 ? virtiofsd_caps() : 0, &s.spawner_pid, &s.spawner_fd);
	if (r < 0)
		return log_error_errno(r, "Failed to start the spawner: %m"), EX_OSERR;
	spawn_set_spawner(s.spawner_fd);

	r = runtime_acquire(p->name, &s.rt, &holder, &error);
	if (r < 0) {
		spawn_set_spawner(-1);
		spawner_stop(s.spawner_pid, s.spawner_fd);
	}
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
	if (r == -EPERM)
		return log_error("%s", error ?: strerror(-r)), EX_NOPERM;
	if (r < 0)
		return log_error_errno(r, "Failed to set up the runtime directory for %s: %m", p->name), EX_CANTCREAT;
	error = mfree(error);
	s.pl.runtime_dir = s.rt->dir;

	/* A supervisor of this name that died left its record: undo what it made before making anything. */
	r = recover(s.rt->dir, &holder, &recovered, &error);
	if (recovered)
		log_info("recovered from a supervisor that died: %s", recovered);
	if (r == -EBUSY) {
		log_error(
		    "a QEMU (pid %ld) of a supervisor that died still holds VM %s's mdev; stop it (kill %ld), then "
		    "run again",
		    (long)holder, p->name, (long)holder);
		/* runtime_release keeps the record: it is what will undo that mdev later. */
		runtime_release(s.rt);
		spawn_set_spawner(-1);
		spawner_stop(s.spawner_pid, s.spawner_fd);
		return EX_TEMPFAIL;
	}
	if (r < 0) {
		log_error("Failed to clean up after a supervisor that died: %s", error ?: strerror(-r));
		code = EX_UNAVAILABLE;
		goto out_release;
	}
	if ((code = resolve_identity(&s)) != 0 || (code = open_control(&s)) != 0 ||
	    (code = run_check_devices(p, &s.id)) != 0 ||
	    (code = run_platform_prepare(&s.pl, &s.rec, save_record, &s)) != 0 || (code = run_make_disks(p)) != 0)
		goto out_release;

	if (p->vgpu) {
		uint64_t need = memlock_for_guest(p->memory);
		char lim[32];

		/* Looking, then the limit, then creating: a refusal at either check leaves nothing behind. */
		r = mdev_prepare(host_sysfs_root(), p->vgpu, &m, &error);
		if (r < 0) {
			log_error("%s", error ?: strerror(-r));
			code = run_mdev_exit_code(r);
			goto out_release;
		}
		s.m = m;
		/* Adopted by UUID alone: the mdev's type, and the checks that need it, before QEMU is asked for
		 * anything. */
		if (!p->vgpu->type) {
			r = profile_set_vgpu_type(p, m->type, &error);
			if (r < 0) {
				if (r == -EINVAL)
					log_error("%s (the type of mdev %s, which the profile adopts)", error, m->uuid);
				else
					log_error_errno(r, "Out of memory.");
				code = r == -EINVAL ? EX_DATAERR : EX_OSERR;
				goto out_release;
			}
		}
		memlock_format(need, lim, sizeof(lim));
		if (p->vgpu->memlock) {
			r = memlock_check(need, &error);
			if (r < 0) {
				log_error(
				    "%s; a vGPU type that pins no memory can run with \"memlock\": false in \"vgpu\"",
				    error ?: strerror(-r));
				code = EX_NOPERM;
				goto out_release;
			}
			log_info("QEMU's locked-memory limit will be %s (guest RAM + 1 GiB)", lim);
		} else
			log_warning(
			    "vgpu.memlock is false: QEMU keeps the locked-memory limit it inherits; GVT-g pins all "
			    "guest memory and needs %s, or the guest's display is scrambled",
			    lim);
		/* The helpers start first, so that they come up while the kernel makes the mdev. */
		if ((code = run_platform_start(&s.pl, &s.rec, save_record, &s)) != 0 ||
		    (code = run_make_mdev(&s, &error)) != 0)
			goto out_remove_mdev;
	}

	/* QEMU's version, when the command line depends on it, asked as the user QEMU runs as. */
	s.qemu_version =
	    cli_qemu_version(p, s.id.change ? &(struct qemu_probe_as){ .uid = s.id.uid, .gid = s.id.gid } : NULL);
	code = run_tries(&s, &error);

out_remove_mdev:
	run_platform_stop(&s.pl, &s.rec, save_record, &s);
	if (!run_give_back(&s) && code == 0)
		code = EX_NOPERM;
	code = run_remove_mdev(&s, code);
out_release:
	/* Clients waiting on `vgpuvm stop` learn the outcome once the mdev is gone. */
	if (s.ctl) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "exit_code", json_object_new_int(code));
		control_event(s.ctl, "EXITED", d);
		json_object_put(d);
		control_flush(s.ctl, deadline_after(USEC_PER_SEC));
		control_free(s.ctl);
	}
	spice_free(s.spice);
	/* This supervisor's record goes once nothing it made is left; an mdev it could not remove keeps it, so that
	 * `vgpuvm cleanup` can try again. A dead supervisor's record that could not be undone is not this one's. */
	if (s.recorded && !(s.m && s.m->created) && s.rec.n_owned == 0 && s.rec.n_taps == 0 && s.rec.n_helpers == 0)
		record_remove(s.rt->dir);
	runtime_release(s.rt);
	platform_done(&s.pl);
	identity_done(&s.id);
	spawn_set_spawner(-1);
	spawner_stop(s.spawner_pid, s.spawner_fd);
	return code;
}
