/* SPDX-License-Identifier: MIT */
/*
 * The benchmark of `vgpuvm list` at scale: its time with 1 VM running and with N (default 20), process start
 * included, as a script calls it. The VMs are tiny TCG ones without an OS, paused over QMP once they run so that they
 * leave the CPU to the measurement. `list` asks each supervisor for its status, which it answers from its own state;
 * `list --json` has each supervisor ask its QEMU too, and is measured beside it.
 *
 *   bench-list VGPUVM DIR [N [ROUNDS]]
 *
 * DIR is a directory only root can write: the profiles are written there, one VM runs with the runtime directory
 * DIR/one and N with DIR/many, and the two lists are timed in turn, round after round, so that both see the same load
 * on a shared machine. Target: N VMs within 3 times the one-VM time.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/time-util.h"

#define VMS_MAX 64
#define ROUNDS_MAX 200

struct vm {
	pid_t pid;
	FILE *log;
	char name[32];
};

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

/* Runs VGPUVM with up to three arguments and the runtime directory rt, output to /dev/null; its exit status or -1. */
static int run(const char *vgpuvm, const char *rt, const char *a, const char *b, const char *c)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("VGPUVM_RUNTIME_DIR", rt, 1);
		execl(vgpuvm, vgpuvm, a, b, c, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts `vgpuvm run` on a new tiny profile, waits until it says QEMU runs, and pauses the guest. */
static void start(const char *vgpuvm, const char *dir, const char *rt, size_t i, struct vm *vm)
{
	char profile[4096], line[4096];
	int p[2];
	FILE *f;

	snprintf(vm->name, sizeof(vm->name), "bench-list-%02zu", i);
	snprintf(profile, sizeof(profile), "%s/%s.json", dir, vm->name);
	f = fopen(profile, "we");
	if (!f) {
		perror(profile);
		exit(2);
	}
	fprintf(f,
		"{\"name\": \"%s\", \"memory\": \"32M\", \"accel\": \"tcg\", \"serial\": \"none\", \"display\": "
		"{\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 0, \"quit_timeout\": 5}}\n",
		vm->name);
	fclose(f);
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(2);
	vm->pid = fork();
	if (vm->pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(p[1], 2);
		setenv("VGPUVM_RUNTIME_DIR", rt, 1);
		execl(vgpuvm, vgpuvm, "run", profile, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	vm->log = fdopen(p[0], "r");
	while (vm->log && fgets(line, sizeof(line), vm->log))
		if (strstr(line, "is running")) {
			if (run(vgpuvm, rt, "qmp", vm->name, "{\"execute\": \"stop\"}") != 0)
				fprintf(stderr, "bench-list: could not pause %s\n", vm->name);
			return;
		}
	fprintf(stderr, "bench-list: %s did not report running\n", vm->name);
	exit(2);
}

static void stop_all(struct vm *vms, size_t n)
{
	char buf[4096];

	for (size_t i = 0; i < n; i++)
		kill(vms[i].pid, SIGTERM);
	for (size_t i = 0; i < n; i++) {
		/* Drain the log so that no supervisor blocks on a full pipe while it stops. */
		while (fread(buf, 1, sizeof(buf), vms[i].log) > 0)
			;
		fclose(vms[i].log);
		waitpid(vms[i].pid, NULL, 0);
	}
}

/* One `vgpuvm list` (json: `vgpuvm list --json`, which asks each QEMU too) with the runtime directory rt, in usec. */
static uint64_t list_once(const char *vgpuvm, const char *rt, bool json)
{
	uint64_t t0 = now_usec();

	if (run(vgpuvm, rt, "list", json ? "--json" : NULL, NULL) != 0) {
		fprintf(stderr, "bench-list: vgpuvm list failed\n");
		exit(2);
	}
	return now_usec() - t0;
}

int main(int argc, char **argv)
{
	static uint64_t one[ROUNDS_MAX], many[ROUNDS_MAX], one_json[ROUNDS_MAX], many_json[ROUNDS_MAX];
	static struct vm vms[VMS_MAX + 1];
	char rt_one[4096], rt_many[4096];
	size_t n, rounds;
	double a, b, c, d;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-list VGPUVM DIR [N [ROUNDS]]\n");
		return 64;
	}
	n = argc > 3 ? strtoul(argv[3], NULL, 10) : 20;
	rounds = argc > 4 ? strtoul(argv[4], NULL, 10) : 51;
	if (n < 2 || n > VMS_MAX)
		n = 20;
	if (rounds < 1 || rounds > ROUNDS_MAX)
		rounds = 51;
	signal(SIGPIPE, SIG_IGN);
	snprintf(rt_one, sizeof(rt_one), "%s/one", argv[2]);
	snprintf(rt_many, sizeof(rt_many), "%s/many", argv[2]);
	start(argv[1], argv[2], rt_one, 0, &vms[0]);
	for (size_t i = 1; i <= n; i++)
		start(argv[1], argv[2], rt_many, i, &vms[i]);
	/* Once each to warm the page cache, then in turn. */
	list_once(argv[1], rt_one, false);
	list_once(argv[1], rt_many, false);
	for (size_t i = 0; i < rounds; i++) {
		one[i] = list_once(argv[1], rt_one, false);
		many[i] = list_once(argv[1], rt_many, false);
		one_json[i] = list_once(argv[1], rt_one, true);
		many_json[i] = list_once(argv[1], rt_many, true);
	}
	stop_all(vms, n + 1);
	a = median_ms(one, rounds);
	b = median_ms(many, rounds);
	c = median_ms(one_json, rounds);
	d = median_ms(many_json, rounds);
	printf("vgpuvm list:        1 VM %.2f ms, %zu VMs %.2f ms, ratio %.2f (medians of %zu, in turn, process start "
	       "included; target <= 3)\n",
	       a, n, b, b / a, rounds);
	printf("vgpuvm list --json: 1 VM %.2f ms, %zu VMs %.2f ms, ratio %.2f (each QEMU asked too)\n", c, n, d, d / c);
	return 0;
}
