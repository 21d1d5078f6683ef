/* SPDX-License-Identifier: MIT */
/*
 * The benchmark behind the README's numbers: the same QEMU command line, started by hand (a minimal C QMP client:
 * fork, exec, greeting, capabilities, query-status) and by `vgpuvm run`, side by side in one run.
 *
 *   bench VGPUVM PROFILE [ROUNDS [PLATFORM-PROFILE]]
 *
 * PROFILE names its VM with "name" (as the profiles of tests/bench do), so that `vgpuvm status NAME` finds it.
 *
 * Measures, as medians over the rounds: start to "running", stop via quit to reaped, the supervisor's peak RSS, and
 * whether the supervisor woke up at all while the VM idled (its context switches over one idle second). With a second
 * profile (UEFI and a TPM, as root), start to running again, against the same QEMU and swtpm started by hand: swtpm
 * on a socket pair, the firmware and a copy of its NVRAM as fds, as vgpuvm hands them over.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_conn.h"
#include "util/macro.h"
#include "util/time-util.h"

#define ROUNDS_MAX 100

/*
 * Both sides stop the VM after the same time running: QEMU's exit takes longer the more guest memory the firmware has
 * touched, so quitting the instant it runs would flatter whichever side gets there first.
 */
#define SETTLE_MS 300

static void settle(void)
{
	struct timespec ts = { .tv_nsec = SETTLE_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2) / 1000.0;
}

/* Reads `vgpuvm argv PROFILE` into an argv. */
static char **qemu_argv(const char *vgpuvm, const char *profile)
{
	char cmd[4096], line[4096], **v = calloc(256, sizeof(char *));
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' argv '%s'", vgpuvm, profile);
	f = popen(cmd, "r");
	if (!f || !v)
		exit(2);
	while (n < 255 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		/* The bench profile needs no shell quoting; a quoted argument would be a mistake here. */
		if (line[0] == '\'') {
			fprintf(stderr, "bench: the profile's argv needs quoting; use a simpler profile\n");
			exit(2);
		}
		v[n++] = strdup(line);
	}
	if (pclose(f) != 0 || n == 0) {
		fprintf(stderr, "bench: '%s' failed\n", cmd);
		exit(2);
	}
	return v;
}

/* What QEMU gets besides its QMP socket when started by hand for the platform profile: fds at fixed numbers. */
struct hand_platform {
	const char *code, *nvram, *tpm_state;	       /* NULL: a plain profile */
	int code_fd, nvram_ro_fd, nvram_rw_fd, tpm_fd; /* the numbers QEMU's argv expects */
};

/* The fd number in "fd=N,..." or "...,fd=N" of the argument that contains key. */
static int argv_fd(char **argv, const char *key)
{
	for (; *argv; argv++) {
		const char *f = strstr(*argv, "fd=");

		if (strstr(*argv, key) && f && (f == *argv || f[-1] == ','))
			return atoi(f + 3);
	}
	fprintf(stderr, "bench: no %s in QEMU's argv\n", key);
	exit(2);
}

/* swtpm as vgpuvm starts it (without the uid change): its control channel on fd 3 of a socket pair. */
static pid_t start_swtpm(const char *state, int *ret_qemu_end)
{
	char tpmstate[4096];
	int sv[2];
	pid_t pid;

	snprintf(tpmstate, sizeof(tpmstate), "dir=%s,mode=0600", state);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(sv[0], 3);
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", tpmstate, "--ctrl", "type=unixio,clientfd=3",
		       "--terminate", "--seccomp", "action=kill", (char *)NULL);
		_exit(127);
	}
	close(sv[0]);
	*ret_qemu_end = sv[1];
	return pid;
}

/* By hand: fork, exec QEMU with the socket on fd 3, handshake, query-status until running, then quit. */
static void by_hand(char **argv, const struct hand_platform *pl, uint64_t *ret_start, uint64_t *ret_stop)
{
	struct qmp_conn *c;
	uint64_t t0 = now_usec(), t1;
	int sv[2], tpm = -1;
	pid_t pid, swtpm = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	if (pl && pl->code)
		swtpm = start_swtpm(pl->tpm_state, &tpm);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(sv[1], 3);
		if (pl && pl->code) {
			int code = open(pl->code, O_RDONLY), ro = open(pl->nvram, O_RDONLY),
			    rw = open(pl->nvram, O_RDWR);

			if (code < 0 || ro < 0 || rw < 0)
				_exit(126);
			/* Above every target first, then into place. */
			code = fcntl(code, F_DUPFD, 100);
			ro = fcntl(ro, F_DUPFD, 100);
			rw = fcntl(rw, F_DUPFD, 100);
			tpm = fcntl(tpm, F_DUPFD, 100);
			dup2(code, pl->code_fd);
			dup2(ro, pl->nvram_ro_fd);
			dup2(rw, pl->nvram_rw_fd);
			dup2(tpm, pl->tpm_fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (tpm >= 0)
		close(tpm);
	close(sv[1]);
	if (qmp_conn_new(sv[0], &c) < 0 || qmp_conn_handshake(c, deadline_after(30 * USEC_PER_SEC), NULL) < 0) {
		fprintf(stderr, "bench: QEMU did not greet\n");
		exit(2);
	}
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		json_object *s;

		if (qmp_conn_execute(c, "query-status", NULL, deadline_after(30 * USEC_PER_SEC), &m) < 0)
			exit(2);
		if (m->type == QMP_MSG_RETURN && json_object_object_get_ex(m->data, "status", &s) &&
		    strcmp(json_object_get_string(s), "running") == 0)
			break;
	}
	*ret_start = now_usec() - t0;
	settle();
	t1 = now_usec();
	{
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		qmp_conn_execute(c, "quit", NULL, deadline_after(30 * USEC_PER_SEC), &m);
	}
	waitpid(pid, NULL, 0);
	if (swtpm > 0)
		waitpid(swtpm, NULL, 0);
	*ret_stop = now_usec() - t1;
	qmp_conn_free(c);
	close(sv[0]);
}

static long status_field(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* vgpuvm: fork, exec `vgpuvm run`, read its log until "is running"; then SIGTERM with no power-button wait. */
/* `vgpuvm status NAME`, start to exit, as a user's script calls it. */
static double status_ms(const char *vgpuvm, const char *name, size_t rounds)
{
	uint64_t v[ROUNDS_MAX];

	for (size_t i = 0; i < rounds; i++) {
		uint64_t t0 = now_usec();
		pid_t pid = fork();

		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR);
			dup2(fd, 1);
			execl(vgpuvm, vgpuvm, "status", name, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		v[i] = now_usec() - t0;
	}
	return median_ms(v, rounds);
}

static double status_median = -1;

/* The profile's "name": the VM `vgpuvm status` asks for. */
static char *vm_name(const char *profile)
{
	json_object *o = json_object_from_file(profile), *n;
	char *name;

	if (!o || !json_object_object_get_ex(o, "name", &n) || !json_object_is_type(n, json_type_string)) {
		fprintf(stderr, "bench: %s has no \"name\"\n", profile);
		exit(2);
	}
	name = strdup(json_object_get_string(n));
	json_object_put(o);
	return name;
}

/* The last log of by_vgpuvm(), up to "is running": the platform bench reads the firmware's paths from it. */
static char last_log[8192];

static void by_vgpuvm(const char *vgpuvm, const char *profile, bool measure_idle, uint64_t *ret_start,
		      uint64_t *ret_stop, long *ret_rss_kb, long *ret_idle_switches)
{
	char buf[8192];
	size_t len = 0;
	uint64_t t0 = now_usec(), t1 = 0;
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(p[1], 2);
		execl(vgpuvm, vgpuvm, "run", profile, "--set", "shutdown.powerdown_timeout=0", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, "is running")) {
			t1 = now_usec();
			break;
		}
	}
	if (!t1) {
		fprintf(stderr, "bench: vgpuvm did not report running:\n%s\n", buf);
		exit(2);
	}
	*ret_start = t1 - t0;
	memcpy(last_log, buf, len + 1);
	if (measure_idle) {
		/* Let it finish logging that it runs before counting. Context switches count every time the supervisor
		 * wakes; an idle VM should not wake it at all. */
		settle();
		long before =
		    status_field(pid, "voluntary_ctxt_switches") + status_field(pid, "nonvoluntary_ctxt_switches");
		struct timespec one = { .tv_sec = 1 };
		nanosleep(&one, NULL);
		*ret_idle_switches = status_field(pid, "voluntary_ctxt_switches") +
				     status_field(pid, "nonvoluntary_ctxt_switches") - before;
		*ret_rss_kb = status_field(pid, "VmHWM");
		_cleanup_free_ char *name = vm_name(profile);

		status_median = status_ms(vgpuvm, name, ROUNDS_MAX);
	} else
		settle();
	t1 = now_usec();
	kill(pid, SIGTERM);
	/* Drain the log so that the supervisor never blocks on a full pipe. */
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	waitpid(pid, NULL, 0);
	*ret_stop = now_usec() - t1;
	close(p[0]);
}

/* The path after prefix in the last log (after anchor in it, when given), up to the first of the stop characters. */
static char *log_path(const char *anchor, const char *prefix, const char *stop)
{
	const char *a = anchor ? strstr(last_log, anchor) : last_log;
	const char *s = a ? strstr(a, prefix) : NULL;

	if (!s) {
		fprintf(stderr, "bench: no '%s' in vgpuvm's log:\n%s\n", prefix, last_log);
		exit(2);
	}
	s += strlen(prefix);
	return strndup(s, strcspn(s, stop));
}

/*
 * UEFI and a TPM: vgpuvm against QEMU and swtpm started by hand with the same firmware, a copy of the NVRAM template
 * and a TPM state of their own (made by swtpm_setup once, as vgpuvm makes its own on the first run).
 */
static void bench_platform(const char *vgpuvm, const char *profile, size_t rounds)
{
	uint64_t hs[ROUNDS_MAX], hq[ROUNDS_MAX], vs[ROUNDS_MAX], vq[ROUNDS_MAX];
	_cleanup_free_ char *code = NULL, *tmpl = NULL, *nvram = NULL, *state = NULL, *cmd = NULL;
	char dir[] = "/tmp/vgpuvm-bench-hand.XXXXXX";
	struct hand_platform pl;
	char **qargv;
	long unused;

	if (geteuid() != 0) {
		printf("start with UEFI and a TPM: skipped (vgpuvm hands QEMU its firmware as fds as root only)\n");
		return;
	}
	/* A first run makes vgpuvm's state (the NVRAM, swtpm_setup): not measured, as a VM's first boot is once. */
	by_vgpuvm(vgpuvm, profile, false, &vs[0], &vq[0], &unused, &unused);
	code = log_path(NULL, "UEFI firmware: ", ",");
	/* The template vgpuvm copied: "made the VM's NVRAM PATH from TEMPLATE" (a fresh VGPUVM_STATE_DIR). */
	tmpl = log_path("made the VM's NVRAM ", " from ", "\n");
	qargv = qemu_argv(vgpuvm, profile);
	if (!mkdtemp(dir) || asprintf(&nvram, "%s/nvram.fd", dir) < 0 || asprintf(&state, "%s/tpm", dir) < 0 ||
	    mkdir(state, 0700) < 0)
		exit(2);
	if (asprintf(&cmd,
		     "cp '%s' '%s' && swtpm_setup --tpm2 --tpmstate '%s' --createek --lock-nvram "
		     "--not-overwrite >/dev/null 2>&1",
		     tmpl, nvram, state) < 0 ||
	    system(cmd) != 0) {
		fprintf(stderr, "bench: could not prepare QEMU and swtpm by hand (%s)\n", cmd ?: "");
		exit(2);
	}
	pl = (struct hand_platform){ .code = code,
				     .nvram = nvram,
				     .tpm_state = state,
				     .code_fd = argv_fd(qargv, "opaque=firmware-ro"),
				     .nvram_ro_fd = argv_fd(qargv, "opaque=nvram-ro"),
				     .nvram_rw_fd = argv_fd(qargv, "opaque=nvram-rw"),
				     .tpm_fd = argv_fd(qargv, "id=vgpuvm-tpm,fd=") };
	by_hand(qargv, &pl, &hs[0], &hq[0]);
	for (size_t i = 0; i < rounds; i++) {
		by_hand(qargv, &pl, &hs[i], &hq[i]);
		by_vgpuvm(vgpuvm, profile, false, &vs[i], &vq[i], &unused, &unused);
	}
	double h = median_ms(hs, rounds), v = median_ms(vs, rounds);
	printf("start with UEFI and a TPM: by hand %.1f ms [%.1f], vgpuvm %.1f ms [%.1f], ratio %.3f (target <= 1.1)\n",
	       h, hs[0] / 1000.0, v, vs[0] / 1000.0, v / h);
	free(cmd);
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0 && system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	cmd = NULL;
	strv_free(qargv);
}

int main(int argc, char **argv)
{
	uint64_t hs[ROUNDS_MAX], hq[ROUNDS_MAX], vs[ROUNDS_MAX], vq[ROUNDS_MAX];
	long rss = -1, idle = -1;
	size_t rounds;
	char **qargv;

	if (argc < 3) {
		fprintf(stderr, "usage: bench VGPUVM PROFILE [ROUNDS [PLATFORM-PROFILE]]\n");
		return 64;
	}
	rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 31;
	if (rounds < 1 || rounds > ROUNDS_MAX)
		rounds = 31;
	qargv = qemu_argv(argv[1], argv[2]);
	/* Warm the page cache for both, then alternate, so that neither side gets the warmer machine. */
	by_hand(qargv, NULL, &hs[0], &hq[0]);
	for (size_t i = 0; i < rounds; i++) {
		by_hand(qargv, NULL, &hs[i], &hq[i]);
		by_vgpuvm(argv[1], argv[2], i == rounds - 1, &vs[i], &vq[i], &rss, &idle);
	}
	/* median_ms() sorts, so [0] is the minimum afterwards. */
	double h_start = median_ms(hs, rounds), v_start = median_ms(vs, rounds);
	double h_stop = median_ms(hq, rounds), v_stop = median_ms(vq, rounds);
	printf("profile: %s\n", argv[2]);
	printf("rounds: %zu (medians; minima in brackets)\n", rounds);
	printf("start to running: by hand %.1f ms [%.1f], vgpuvm %.1f ms [%.1f], ratio %.3f (target <= 1.05)\n",
	       h_start, hs[0] / 1000.0, v_start, vs[0] / 1000.0, v_start / h_start);
	printf("stop via quit:    by hand %.1f ms [%.1f], vgpuvm %.1f ms [%.1f], ratio %.3f (target <= 1.2)\n", h_stop,
	       hq[0] / 1000.0, v_stop, vq[0] / 1000.0, v_stop / h_stop);
	printf("supervisor peak RSS: %ld KiB (target <= 2048)\n", rss);
	printf("supervisor wake-ups in 1 s of idle VM: %ld (target 0)\n", idle);
	printf("vgpuvm status: %.2f ms per call, process start included (target <= 3)\n", status_median);
	if (argc > 4)
		bench_platform(argv[1], argv[4], rounds);
	return 0;
}
