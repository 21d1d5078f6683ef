/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm run`: from the profile to a clean exit. Everything made here is undone here, in reverse order, on every
 * path: the mdev vgpuvm created is removed, the runtime directory goes, no QEMU is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "qmp/qmp.h"
#include "supervisor/confine.h"
#include "supervisor/control.h"
#include "supervisor/hints.h"
#include "supervisor/host.h"
#include "supervisor/identity.h"
#include "supervisor/log.h"
#include "supervisor/loop.h"
#include "supervisor/mdev.h"
#include "supervisor/memlock.h"
#include "supervisor/notify.h"
#include "supervisor/owner.h"
#include "supervisor/profile_cli.h"
#include "supervisor/record.h"
#include "supervisor/recover.h"
#include "supervisor/run.h"
#include "supervisor/runtime.h"
#include "supervisor/spawn.h"
#include "supervisor/users.h"
#include "util/macro.h"
#include "util/time-util.h"

/* How long the kernel (or the test tree) may take to make or remove an mdev. */
#define MDEV_TIMEOUT (10 * USEC_PER_SEC)

/* The VM ended, but its mdev could not be removed. */
#define EXIT_MDEV_LEFT EX_IOERR

/* The restart budget: this many failures within the window, and vgpuvm gives up. */
#define RESTART_FAILURES_MAX 5
#define RESTART_WINDOW (600 * USEC_PER_SEC)
#define RESTART_DELAY_MAX 60

/* Everything one supervisor holds, across restarts. */
struct sup {
	const struct profile *p;
	struct runtime *rt;
	struct mdev *m;
	struct control *ctl;
	struct vm *vm; /* while a QEMU runs */
	int sig_fd;
	unsigned restarts;
	bool stop_requested; /* between tries */
	struct record rec;
	struct identity id; /* whom QEMU runs as */
	bool confined;	    /* the supervisor's own seccomp filter is in place */
	bool recorded;	    /* this supervisor wrote the crash record (a dead one's is not its to remove) */
};

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

/* The control socket's status object (documented in the README; keep it stable). */
static json_object *status_json(void *userdata, const struct vm *vm, const char *qemu_status)
{
	struct sup *s = userdata;
	json_object *o = json_object_new_object(), *d = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(s->p->name));
	json_object_object_add(o, "state", json_object_new_string(vm ? vm_phase_to_string(vm->phase) : "restarting"));
	json_object_object_add(o, "qemu_status", qemu_status ? json_object_new_string(qemu_status) : NULL);
	json_object_object_add(o, "supervisor_pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "qemu_pid", vm ? json_object_new_int64(vm->pid) : NULL);
	json_object_object_add(o, "uptime", vm ? json_object_new_double((double)(now_usec() - vm->started_at) / 1e6) : NULL);
	json_object_object_add(o, "profile", json_object_new_string(s->p->path));
	if (s->m) {
		json_object *g = json_object_new_object(), *ml = json_object_new_object();
		uint64_t soft, hard;

		json_object_object_add(g, "uuid", json_object_new_string(s->m->uuid));
		json_object_object_add(g, "type", json_object_new_string(s->m->type));
		json_object_object_add(g, "parent", s->m->parent ? json_object_new_string(s->m->parent) : NULL);
		json_object_object_add(g, "created", json_object_new_boolean(s->m->created));
		if (vm && memlock_read(vm->pid, &soft, &hard) == 0) {
			json_object_object_add(ml, "soft", soft == MEMLOCK_UNLIMITED ? NULL : json_object_new_int64((int64_t)soft));
			json_object_object_add(ml, "hard", hard == MEMLOCK_UNLIMITED ? NULL : json_object_new_int64((int64_t)hard));
		}
		json_object_object_add(g, "memlock", ml);
		json_object_object_add(o, "vgpu", g);
	} else
		json_object_object_add(o, "vgpu", NULL);
	json_object_object_add(d, "type", json_object_new_string(profile_display_type_to_string(s->p->display.type)));
	json_object_object_add(d, "gl", json_object_new_boolean(s->p->display.gl));
	json_object_object_add(o, "display", d);
	json_object_object_add(o, "restarts", json_object_new_int64(s->restarts));
	return o;
}

static void on_command(void *userdata, uint64_t client, struct qmp_msg *m)
{
	struct sup *s = userdata;
	json_object *st;

	if (s->vm) {
		vm_command(s->vm, client, m);
		return;
	}
	/* Between tries there is no QEMU: status and stop still work. */
	if (strcmp(m->name, "status") == 0) {
		st = status_json(s, NULL, NULL);
		control_return(s->ctl, client, m->id, st);
		json_object_put(st);
	} else if (strcmp(m->name, "stop") == 0) {
		s->stop_requested = true;
		control_return(s->ctl, client, m->id, NULL);
	} else
		control_error(s->ctl, client, m->id, "GenericError", "QEMU is not running (vgpuvm waits to restart it)");
}

static void write_record(struct sup *s, pid_t qemu_pid)
{
	int r;

	s->rec.qemu_pid = qemu_pid;
	s->recorded = true;
	r = record_write(s->rt->dir, &s->rec);
	if (r < 0)
		log_warning_errno(r, "Failed to write the crash record in %s: %m", s->rt->dir);
}

/*
 * Once QEMU runs, the supervisor needs only its loop, its control socket and teardown: it confines itself to those.
 * A restart policy needs fork and exec again, which the filter would pass on to the next QEMU, so it stays off then.
 */
static void confine_self(struct sup *s)
{
	int r;

	if (s->confined || s->p->restart != PROFILE_RESTART_NO)
		return;
	r = confine_supervisor();
	if (r < 0) {
		log_warning_errno(r, "Failed to install the supervisor's seccomp filter, going on without it: %m");
		return;
	}
	s->confined = true;
	log_debug("the supervisor's seccomp filter is in place");
}

/* Starts QEMU and supervises it until it is reaped. Returns the exit code this run gives. */
static int supervise(struct sup *sp, bool *ret_stopped, bool *ret_guest_off)
{
	const struct profile *p = sp->p;
	const struct mdev *m = sp->m;
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	_cleanup_free_ char *error = NULL, *tail = NULL;
	_cleanup_close_ int qmp_fd = -1, child_fd = -1;
	struct spawned s = { .pidfd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	struct vm vm;
	int sv[2], r, code;

	*ret_stopped = *ret_guest_off = false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(errno, "Failed to create the QMP socket pair: %m"), EX_OSERR;
	qmp_fd = sv[0];
	child_fd = sv[1];
	r = profile_argv(p, &(struct profile_argv_opts){ .sysfs_root = m ? m->root : NULL, .qmp_fd = 3 }, &argv);
	if (r < 0)
		return log_error_errno(r, "Failed to build QEMU's command line: %m"), EX_OSERR;
	env = identity_env(&sp->id, environ, p->env);
	if (!env)
		return log_error_errno(ENOMEM, "Out of memory."), EX_OSERR;

	notify("STATUS=starting QEMU");
	r = spawn_qemu(&(struct spawn_opts){ .argv = argv,
					     .envp = env,
					     .qmp_fd = child_fd,
					     .keep_stdio = p->serial == PROFILE_SERIAL_STDIO,
					     .memlock = p->vgpu && p->vgpu->memlock ? memlock_for_guest(p->memory) : 0,
					     .id = &sp->id,
					     .no_spawn = p->sandbox[PROFILE_SANDBOX_SPAWN] == PROFILE_SANDBOX_DENY },
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
	if (m)
		write_record(sp, s.pid);
	confine_self(sp);

	r = vm_init(&vm, p, s.pid, s.pidfd, sp->sig_fd, qmp_fd, s.stdout_fd, s.stderr_fd);
	if (r >= 0) {
		vm.ctl = sp->ctl;
		vm.status_fn = status_json;
		vm.status_userdata = sp;
		sp->vm = &vm;
		r = vm_run(&vm);
		sp->vm = NULL;
	}
	if (r < 0) {
		/* The loop itself failed: QEMU must not outlive it. */
		kill_and_reap(s.pid, s.pidfd);
		code = EX_OSERR;
	} else {
		code = vm_exit_code(&vm);
		*ret_stopped = vm.stop_requested;
		*ret_guest_off = vm.guest_shutdown;
		const char *hint = vm_hint(&vm);

		/* A seccomp kill says nothing on QEMU's stderr: the signal is the only clue. */
		if (vm.exit_info.si_code != CLD_EXITED && vm.exit_info.si_status == SIGSYS)
			hint = hint_for_signal(SIGSYS);

		if (!vm.running_at && vm.failure == VM_FAIL_NONE && !vm.stop_requested) {
			tail = vm_tail(&vm);
			log_error("QEMU %s before it was running%s%s", code < 128 ? "failed" : "was killed",
				  tail ? "; its last words:\n" : "", tail ?: "");
		} else if (!vm.stop_requested && !vm.guest_shutdown && code != 0)
			log_error("QEMU ended by itself (exit code %d)", code);
		else
			hint = NULL;
		if (hint)
			log_error("hint: %s", hint);
	}
	/* The loop owns QEMU's output fds from vm_init() on, and closes them at EOF. */
	safe_close(vm.out.fd);
	safe_close(vm.err.fd);
	close(s.pidfd);
	vm_done(&vm);
	if (m)
		write_record(sp, 0);
	return code;
}

/* Lends QEMU's user one file it must open; recorded before it is made. Returns 0 or an exit code. */
static int lend_one(struct sup *s, const char *path, const char *what, bool required)
{
	struct owned o;
	int r;

	r = owner_check(path, &s->id, &o);
	if (r == -ENOENT) {
		log_warning("%s %s does not exist: QEMU will not be able to open it", what, path);
		return 0;
	}
	if (r <= 0) {
		if (r < 0)
			log_warning_errno(r, "Failed to look at %s: %m", path);
		return 0;
	}
	if (!s->id.change) {
		if (!required) {
			log_warning("QEMU runs as you (uid %ld) and cannot open %s %s (owner %ld, group %ld, mode %04o); "
				    "join its group (usermod -aG GROUP %s, then log in again)",
				    (long)s->id.uid, what, path, (long)o.uid, (long)o.gid, o.mode, s->id.name ?: "$USER");
			return 0;
		}
		log_error("QEMU runs as you (uid %ld) and cannot open %s %s (owner %ld, group %ld, mode %04o). As root, "
			  "lend it for this boot (chown %ld %s), or for good with a udev rule in "
			  "/etc/udev/rules.d/90-vgpuvm.rules: SUBSYSTEM==\"vfio\", GROUP=\"vgpuvm\", MODE=\"0660\" and join "
			  "that group; or run vgpuvm as root",
			  (long)s->id.uid, what, path, (long)o.uid, (long)o.gid, o.mode, (long)s->id.uid, path);
		return EX_NOPERM;
	}
	if (s->rec.n_owned >= RECORD_OWNED_MAX)
		return log_error("Too many files to lend to QEMU"), EX_SOFTWARE;
	s->rec.owned[s->rec.n_owned++] = o;
	write_record(s, 0);
	r = owner_lend(&o, &s->id);
	if (r < 0) {
		s->rec.n_owned--;
		write_record(s, 0);
		return log_error_errno(r, "Failed to lend %s to uid %ld: %m", path, (long)s->id.uid), EX_NOPERM;
	}
	log_info("lent %s to QEMU's user (uid %ld) for this run", path, (long)s->id.uid);
	return 0;
}

/* The render node a GL display uses: the profile's, or the first there is. NULL when there is none. */
static char *render_node(const struct profile *p)
{
	_cleanup_free_ char *rel = NULL;

	if (!p->display.gl && p->display.type != PROFILE_DISPLAY_EGL_HEADLESS)
		return NULL;
	if (p->display.rendernode)
		return strdup(p->display.rendernode);
	rel = host_render_node(host_dev_root());
	return rel ? host_path(host_dev_root(), rel) : NULL;
}

/* Lends QEMU's user the vGPU's /dev/vfio/GROUP and the render node, for one try. Returns 0 or an exit code. */
static int lend(struct sup *s)
{
	_cleanup_free_ char *node = render_node(s->p);
	char path[PATH_MAX];
	int g, code;

	if (s->m) {
		g = mdev_iommu_group(s->m);
		if (g < 0)
			log_warning_errno(g, "Failed to find the IOMMU group of mdev %s: %m", s->m->uuid);
		else {
			snprintf(path, sizeof(path), "%s/vfio/%d", host_dev_root(), g);
			if ((code = lend_one(s, path, "the vGPU's VFIO group", true)) != 0)
				return code;
		}
	}
	if (node && (code = lend_one(s, node, "the render node", false)) != 0)
		return code;
	return 0;
}

/* Gives back what lend() lent, in reverse order. Returns false when something could not be given back. */
static bool give_back(struct sup *s)
{
	while (s->rec.n_owned > 0) {
		const struct owned *o = &s->rec.owned[s->rec.n_owned - 1];
		int r = owner_return(o);

		if (r < 0) {
			log_error_errno(r, "Failed to give %s back to uid %ld: %m; `vgpuvm cleanup %s` tries again", o->path,
					(long)o->uid, s->p->name);
			return false;
		}
		log_info("gave %s back to uid %ld", o->path, (long)o->uid);
		s->rec.n_owned--;
		write_record(s, 0);
	}
	return true;
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

/* Makes (or adopts) the mdev. Returns 0 or an exit code; the caller removes what was made. */
static int make_mdev(struct sup *s, char **error)
{
	int r;

	/*
	 * Recorded before it is made, so that a crash between the two cannot leave an mdev no one knows of. An adopted
	 * one is recorded too (created: false): the record always says what the VM uses, and recovery leaves it be.
	 */
	s->rec = (struct record){ .created = !s->m->exists, .supervisor_pid = getpid() };
	snprintf(s->rec.name, sizeof(s->rec.name), "%s", s->p->name);
	memcpy(s->rec.uuid, s->m->uuid, sizeof(s->rec.uuid));
	snprintf(s->rec.type, sizeof(s->rec.type), "%s", s->m->type);
	snprintf(s->rec.parent, sizeof(s->rec.parent), "%s", s->m->parent ?: "");
	snprintf(s->rec.sysfs_root, sizeof(s->rec.sysfs_root), "%s", s->m->root);
	write_record(s, 0);
	if (s->m->exists) {
		log_info("adopting mdev %s (type %s), which exists already; it will be left in place", s->m->uuid, s->m->type);
		return 0;
	}
	r = mdev_create(s->m, deadline_after(MDEV_TIMEOUT), error);
	if (r < 0) {
		log_error("%s", *error ?: strerror(-r));
		return mdev_exit_code(r);
	}
	log_info("created mdev %s (type %s on %s)", s->m->uuid, s->m->type, s->m->parent);
	return 0;
}

static int remove_mdev(struct sup *s, int code)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (!s->m || !s->m->created)
		return code;
	r = mdev_remove(s->m, deadline_after(MDEV_TIMEOUT), &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return code == 0 ? EXIT_MDEV_LEFT : code;
	}
	log_info("removed mdev %s", s->m->uuid);
	s->m->created = false;
	return code;
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
	uint64_t failures[RESTART_FAILURES_MAX] = {};
	unsigned consecutive = 0, nfail = 0;
	int code;

	for (;;) {
		bool stopped, guest_off, again;
		uint64_t delay;

		code = lend(s);
		if (code != 0)
			return code;
		code = supervise(s, &stopped, &guest_off);
		if (!give_back(s) && code == 0)
			code = EX_NOPERM;
		if (stopped)
			return code;
		again = s->p->restart == PROFILE_RESTART_ALWAYS ||
			(s->p->restart == PROFILE_RESTART_ON_FAILURE && code != 0);
		if (!again)
			return code;
		if (code != 0) {
			uint64_t now = now_usec();

			failures[nfail++ % RESTART_FAILURES_MAX] = now;
			consecutive++;
			if (nfail >= RESTART_FAILURES_MAX &&
			    now - failures[nfail % RESTART_FAILURES_MAX] <= RESTART_WINDOW) {
				log_error("QEMU failed %d times within %" PRIu64 " minutes; giving up (last exit code %d)",
					  RESTART_FAILURES_MAX, RESTART_WINDOW / USEC_PER_SEC / 60, code);
				return code;
			}
		} else
			consecutive = 0;
		/* The mdev is made afresh for each try, as for a first start. */
		code = remove_mdev(s, 0);
		if (code != 0)
			return code;
		delay = s->p->restart_delay;
		for (unsigned i = 1; i < consecutive && delay < RESTART_DELAY_MAX; i++)
			delay *= 2;
		if (delay > RESTART_DELAY_MAX)
			delay = RESTART_DELAY_MAX;
		s->restarts++;
		log_info("restarting in %" PRIu64 " s (try %u)", delay, s->restarts + 1);
		notify("STATUS=restarting in %" PRIu64 " s", delay);
		if (wait_delay(s, deadline_after(delay * USEC_PER_SEC)))
			return 0;
		if (s->m && !s->m->exists && (code = make_mdev(s, error)) != 0)
			return code;
	}
}

/* Whom QEMU runs as, said once at the start, with what the profile relaxes of QEMU's sandbox. */
static int resolve_identity(struct sup *s)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = identity_resolve(s->p, &s->id, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return r == -EPERM ? EX_NOPERM : EX_CONFIG;
	}
	if (s->id.root_fallback)
		log_warning("there is no \"%s\" system user, so QEMU runs as root, though without any capability; create "
			    "one (useradd --system --no-create-home --shell /usr/sbin/nologin %s) or set \"user\" in the "
			    "profile",
			    IDENTITY_DEFAULT_USER, IDENTITY_DEFAULT_USER);
	log_info("QEMU runs as %s (uid %ld, gid %ld), with no capabilities", s->id.name ?: "?", (long)s->id.uid,
		 (long)s->id.gid);
	for (unsigned i = 0; i < PROFILE_SANDBOX_PART_MAX; i++)
		if (s->p->sandbox[i] != PROFILE_SANDBOX_DENY)
			log_warning("the profile relaxes QEMU's sandbox: %s=%s", profile_sandbox_part_to_string(i),
				    profile_sandbox_action_to_string(s->p->sandbox[i]));
	r = open_way_to_socket(s);
	if (r < 0)
		return log_error_errno(r, "Failed to open the way to the control socket in %s: %m", s->rt->dir), EX_CANTCREAT;
	return 0;
}

static int open_control(struct sup *s)
{
	_cleanup_free_ char *path = NULL;
	gid_t gid = s->p->group ? s->id.gid : (gid_t)-1;
	int r;

	if (asprintf(&path, "%s/control", s->rt->dir) < 0)
		return EX_OSERR;
	r = control_new(path, gid, on_command, s, &s->ctl);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on %s: %m", path), EX_CANTCREAT;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_mdev_ struct mdev *m = NULL;
	_cleanup_free_ char *error = NULL, *done = NULL;
	_cleanup_close_ int sig_fd = -1;
	struct sup s = {};
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
	s = (struct sup){ .p = p, .sig_fd = sig_fd, .rec = { .supervisor_pid = getpid() } };
	snprintf(s.rec.name, sizeof(s.rec.name), "%s", p->name);

	r = runtime_acquire(p->name, &s.rt, &holder);
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

	/* A supervisor of this name that died left its record: undo what it made before making anything. */
	r = recover(s.rt->dir, &holder, &done, &error);
	if (done)
		log_info("recovered from a supervisor that died: %s", done);
	if (r == -EBUSY) {
		log_error("a QEMU (pid %ld) of a supervisor that died still holds VM %s's mdev; stop it (kill %ld), then "
			  "run again",
			  (long)holder, p->name, (long)holder);
		/* runtime_release keeps the record: it is what will undo that mdev later. */
		runtime_release(s.rt);
		return EX_TEMPFAIL;
	}
	if (r < 0) {
		log_error("Failed to clean up after a supervisor that died: %s", error ?: strerror(-r));
		code = EX_UNAVAILABLE;
		goto out_release;
	}
	if ((code = resolve_identity(&s)) != 0 || (code = open_control(&s)) != 0)
		goto out_release;

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
		s.m = m;
		memlock_format(need, lim, sizeof(lim));
		if (p->vgpu->memlock) {
			r = memlock_check(need, &error);
			if (r < 0) {
				log_error("%s; a vGPU type that pins no memory can run with \"memlock\": false in \"vgpu\"",
					  error ?: strerror(-r));
				code = EX_NOPERM;
				goto out_release;
			}
			log_info("QEMU's locked-memory limit will be %s (guest RAM + 1 GiB)", lim);
		} else
			log_warning("vgpu.memlock is false: QEMU keeps the locked-memory limit it inherits; GVT-g pins all "
				    "guest memory and needs %s, or the guest's display is scrambled", lim);
		if ((code = make_mdev(&s, &error)) != 0)
			goto out_remove_mdev;
	}

	code = run_tries(&s, &error);

out_remove_mdev:
	if (!give_back(&s) && code == 0)
		code = EX_NOPERM;
	code = remove_mdev(&s, code);
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
	/* This supervisor's record goes once nothing it made is left; an mdev it could not remove keeps it, so that
	 * `vgpuvm cleanup` can try again. A dead supervisor's record that could not be undone is not this one's. */
	if (s.recorded && !(s.m && s.m->created) && s.rec.n_owned == 0)
		record_remove(s.rt->dir);
	runtime_release(s.rt);
	identity_done(&s.id);
	return code;
}
