/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <ucontext.h>
#include <unistd.h>

#include "supervisor/launch/confine.h"
#include "util/macro.h"

/*
 * What the supervisor does once QEMU runs: poll; read and write QMP, QEMU's output, the serial console's pty, stdin,
 * stdout, the control socket and the signalfd; restore the terminal's settings; accept clients and check their
 * credentials; answer status from /proc; make screenshots' memfds and pass them on (SCM_RIGHTS); send sd_notify
 * datagrams; signal and reap QEMU through its pidfd; then give files back (chown), remove the mdev through sysfs and
 * wait for it with inotify, scan /proc/PID/fd for holders, rewrite and remove the crash record and the runtime
 * directory; and malloc.
 * Not here: fork, exec, ptrace, mount, module loading, changing ids, and everything else.
 */
static const int allowed[] = {
	/* I/O and the loop */
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(close),
	SCMP_SYS(fcntl),
	SCMP_SYS(lseek),
	SCMP_SYS(dup),
	SCMP_SYS(dup3),
	SCMP_SYS(pipe2),
	/* a restart's QMP and swtpm socket pairs; a memfd's copy of a kernel or initrd */
	SCMP_SYS(socketpair),
	SCMP_SYS(sendfile),
	/* files: the record, sysfs, /proc, the runtime directory */
	SCMP_SYS(openat),
	SCMP_SYS(open),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(statx),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(getdents64),
	SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
	SCMP_SYS(unlink),
	SCMP_SYS(unlinkat),
	SCMP_SYS(rmdir),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat),
	SCMP_SYS(ftruncate),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(flock),
	SCMP_SYS(chown),
	SCMP_SYS(fchown),
	SCMP_SYS(fchownat),
	SCMP_SYS(lchown),
	SCMP_SYS(chmod),
	SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat),
	SCMP_SYS(inotify_init1),
	SCMP_SYS(inotify_add_watch),
	SCMP_SYS(inotify_rm_watch),
	/* a screenshot's memfd, which QEMU writes into and the client gets */
	SCMP_SYS(memfd_create),
	/* the control socket and sd_notify */
	SCMP_SYS(socket),
	SCMP_SYS(connect),
	SCMP_SYS(accept4),
	SCMP_SYS(accept),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt),
	SCMP_SYS(shutdown),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	/* QEMU's process */
	SCMP_SYS(waitid),
	SCMP_SYS(wait4),
	SCMP_SYS(pidfd_send_signal),
	SCMP_SYS(kill),
	/* memory, signals, time, the process itself */
	SCMP_SYS(brk),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(mprotect),
	SCMP_SYS(futex),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getppid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(getgroups),
	SCMP_SYS(getrandom),
	SCMP_SYS(uname),
	SCMP_SYS(prlimit64),
	SCMP_SYS(getrlimit),
	SCMP_SYS(sched_yield),
	SCMP_SYS(tgkill),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/*
 * ioctl only to read a terminal's settings (isatty, stdio) and to set them back when the run ends. Nothing else: not
 * TIOCSTI, which pushes input into a terminal for whoever reads it next, nor TIOCSCTTY, nor any device's ioctls.
 */
static const unsigned long allowed_ioctls[] = {
	TCGETS,
	TCSETS,
	TCSETSW,
	TCSETSF,
	/* a restart's serial console: a new pty (posix_openpt, unlockpt, the other end by TIOCGPTPEER) */
	TIOCGPTN,
	TIOCSPTLCK,
	TIOCGPTPEER,
	/* a restart's tap: attaching to it, made by netlink */
	TUNSETIFF,
};

/* Reports a refused call and lets it fail with EPERM. Only async-signal-safe work here: write(2), no stdio. */
static void on_sigsys(int sig _unused_, siginfo_t *si, void *uc_)
{
	char msg[160] = "vgpuvm: warning: the supervisor's seccomp filter refused system call ", num[12];
	int n = si->si_syscall, len = 0, saved = errno;
	ucontext_t *uc = uc_;
	ssize_t w _unused_;

	do
		num[len++] = (char)('0' + n % 10);
	while ((n /= 10) > 0 && len < 11);
	for (size_t o = strlen(msg); len > 0;)
		msg[o++] = num[--len];
	strcat(msg, " (it fails with EPERM)\n");
	w = write(STDERR_FILENO, msg, strlen(msg));
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#else
	(void)uc;
#endif
	errno = saved;
}

int confine_supervisor(void)
{
	scmp_filter_ctx ctx;
	uint32_t deny;
	int r;

#if defined(__x86_64__)
	/* A trap, so that the refusal is logged by name; the handler turns it into EPERM. */
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return negative_errno();
	deny = SCMP_ACT_TRAP;
#else
	deny = SCMP_ACT_ERRNO(EPERM);
#endif
	ctx = seccomp_init(deny);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
		/* A call this architecture lacks (open on some) is simply not in the filter. */
		if (allowed[i] < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (r < 0)
			goto out;
	}
	/* The request is an int to the kernel: only its low 32 bits count, whatever is in the register above them. */
	for (size_t i = 0; i < ELEMENTSOF(allowed_ioctls); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i]));
		if (r < 0)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

int confine_no_spawn(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	/* Threads are clone() with CLONE_THREAD; a new process is clone() without it, fork() or vfork(). clone3()
	 * hides its flags in memory a filter cannot read, so it says ENOSYS and glibc falls back to clone(). */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(fork), 0)) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(vfork), 0)) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		goto out;
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

/*
 * What neither the spawner nor anything it starts (QEMU, swtpm, virtiofsd) ever needs: the kernel's own machinery,
 * other processes' memory, the clock, and the file-handle opening that lets a process with CAP_DAC_READ_SEARCH walk
 * out of its mount. A filter stays with every child, so the spawner's cannot be an allow-list of spawning alone
 * (QEMU's exec and everything QEMU does would then have to be in it): this list is what it can take away from all.
 */
static const int spawner_denied[] = {
	SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(pidfd_getfd),
	SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load),
	SCMP_SYS(init_module),
	SCMP_SYS(finit_module),
	SCMP_SYS(delete_module),
	SCMP_SYS(reboot),
	SCMP_SYS(swapon),
	SCMP_SYS(swapoff),
	SCMP_SYS(acct),
	SCMP_SYS(settimeofday),
	SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime),
	SCMP_SYS(adjtimex),
	SCMP_SYS(sethostname),
	SCMP_SYS(setdomainname),
	SCMP_SYS(iopl),
	SCMP_SYS(ioperm),
	SCMP_SYS(bpf),
	SCMP_SYS(perf_event_open),
	SCMP_SYS(keyctl),
	SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	SCMP_SYS(userfaultfd),
	SCMP_SYS(quotactl),
	SCMP_SYS(syslog),
	SCMP_SYS(vhangup),
	SCMP_SYS(open_by_handle_at),
	SCMP_SYS(lookup_dcookie),
	SCMP_SYS(uselib),
	SCMP_SYS(kcmp),
};

int confine_spawner(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(spawner_denied) && r == 0; i++)
		if (spawner_denied[i] >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), spawner_denied[i], 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
