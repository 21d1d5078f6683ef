/* SPDX-License-Identifier: MIT */
/*
 * Property tests of the profile → argv → QEMU chain, where random bytes are weak: profiles are generated valid (every
 * key, in its allowed forms and combinations), and each must
 *   1. parse, with some of its keys given as --set instead, to the same command line as without;
 *   2. give a command line whose every argument is UTF-8 and whose vGPU device options QEMU knows;
 *   3. start QEMU: -S (no guest code runs), TCG, -display none, the vfio device swapped for a stand-in
 *      (pci-testdev), the QMP socket on fd 3 and the disks on fds 5 and up as vgpuvm passes them; QEMU must accept the
 *      whole line, negotiate QMP and quit with status 0.
 * Usage: property COUNT SEED [QEMU_EVERY]   (QEMU is started for every QEMU_EVERY-th profile; default 1)
 * Prints TAP, one line per property; a failing profile is written to $PROPERTY_FAIL_DIR (default /tmp) for replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_parse.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"
#include "util/utf8.h"

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64*: reproducible from the seed on every machine. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

static unsigned rnd(unsigned n)
{
	return n ? (unsigned)(next() % n) : 0;
}

static bool chance(unsigned percent)
{
	return rnd(100) < percent;
}

static const char *pick(const char *const *l, size_t n)
{
	return l[rnd((unsigned)n)];
}
#define PICK(...) pick((const char *const[]){ __VA_ARGS__ }, ELEMENTSOF(((const char *const[]){ __VA_ARGS__ })))

static char dir[] = "/tmp/vgpuvm-property-XXXXXX";
static char qcow2[256];

/* A file name with what paths may hold: spaces, commas (QEMU's separator), quotes, non-ASCII. */
static char *file_in_dir(const char *ext, unsigned i)
{
	static const char *const parts[] = {
		"disk", "a b", "a,b", "it's", "caf\xc3\xa9", "\xe2\x98\x83", "x=y", "$HOME"
	};
	char *p;

	if (asprintf(&p, "%s/%s-%u%s", dir, pick(parts, ELEMENTSOF(parts)), i, ext) < 0)
		abort();
	return p;
}

static void make_file(const char *path, bool qcow)
{
	int fd;

	if (qcow) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "cp '%s' \"$0\"", qcow2);
		if (fork() == 0) {
			execl("/bin/sh", "sh", "-c", cmd, path, (char *)NULL);
			_exit(127);
		}
		wait(NULL);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		abort();
	close(fd);
}

static json_object *str(const char *s)
{
	return json_object_new_string(s);
}

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *gen_memory(void)
{
	unsigned mib = 16 + rnd(2048 - 16);
	char buf[64];

	switch (rnd(6)) {
	case 0:
		return json_object_new_int64(mib);
	case 1:
		snprintf(buf, sizeof(buf), "%u%s", mib, PICK("M", "m", "MB", "MiB", "mib"));
		break;
	case 2:
		snprintf(buf, sizeof(buf), "%u", mib);
		break;
	case 3:
		snprintf(buf, sizeof(buf), "%u%s", 1 + rnd(2), PICK("G", "g", "GB", "GiB"));
		break;
	case 4:
		snprintf(buf, sizeof(buf), "%uK", mib * 1024);
		break;
	default:
		snprintf(buf, sizeof(buf), "%uM", mib & ~1u ? mib & ~1u : 16);
		break;
	}
	return str(buf);
}

/*
 * The types generated, with what profiles/profile_check.c's rules need to know of them (as QEMU has it): whether its
 * display comes as dmabufs, which only an OpenGL display shows, and whether it is an Intel iGPU's, the only kind
 * with an OpRegion.
 */
static const struct {
	const char *name;
	bool dmabuf, igd;
} vgpu_types[] = {
	{ "i915-GVTg_V5_4", true, true }, { "i915-GVTg_V5_8", true, true }, { "mdpy-vga", false, false },
	{ "mbochs-64MB", true, false },	  { "mtty-2", false, false },
};

/* *ret_needs_gl: the vGPU shows a display that only OpenGL can (a dmabuf type with vgpu.display on). */
static json_object *gen_vgpu(bool *ret_needs_gl)
{
	json_object *g = json_object_new_object();
	bool display = chance(70), ramfb = false;
	unsigned t = rnd(ELEMENTSOF(vgpu_types));

	add(g, "type", str(vgpu_types[t].name));
	*ret_needs_gl = display && vgpu_types[t].dmabuf;
	if (chance(50))
		add(g, "parent", str(PICK("0000:00:02.0", "mdpy", "mbochs")));
	if (chance(30))
		add(g, "uuid",
		    str(PICK("auto", "a297db4a-f4c2-11e6-90f6-d3b88d6c9525", "A297DB4A-F4C2-11E6-90F6-D3B88D6C9525")));
	if (!display || chance(50))
		add(g, "display", json_object_new_boolean(display));
	if (display && chance(30))
		add(g, "ramfb", json_object_new_boolean((ramfb = chance(50))));
	/* QEMU refuses x-igd-opregion on anything but an Intel iGPU's type. */
	if (chance(30))
		add(g, "opregion", json_object_new_boolean(vgpu_types[t].igd && chance(50)));
	/* ramfb needs vfio-pci-nohotplug: with it, "nohotplug" may only say so. */
	if (chance(30))
		add(g, "nohotplug", json_object_new_boolean(ramfb || chance(50)));
	if (chance(30))
		add(g, "memlock", json_object_new_boolean(chance(50)));
	if (display && chance(40)) {
		add(g, "xres", json_object_new_int64(1 + rnd(16384)));
		add(g, "yres", json_object_new_int64(1 + rnd(16384)));
	}
	return g;
}

/* needs_gl: a display with OpenGL (never "vnc" or "none", never "gl": false), for a dmabuf vGPU's display. */
static json_object *gen_display(bool needs_gl)
{
	json_object *d = json_object_new_object();
	const char *type = needs_gl ? PICK("gtk", "egl-headless", "spice-app", "dbus")
				    : PICK("gtk", "egl-headless", "spice-app", "vnc", "dbus", "none");
	char listen[64];

	add(d, "type", str(type));
	snprintf(listen, sizeof(listen), "%s:%u", PICK("127.0.0.1", "localhost", "[::1]", "0.0.0.0"), rnd(100));
	if (strcmp(type, "egl-headless") == 0) {
		if (chance(30))
			add(d, "gl", json_object_new_boolean(true));
		if (chance(40))
			add(d, "rendernode",
			    str(PICK("/dev/dri/renderD128", "/dev/dri/by-path/pci-0000:00:02.0-render")));
		if (chance(30))
			add(d, "listen", str(listen));
	} else if (strcmp(type, "vnc") == 0 || strcmp(type, "none") == 0) {
		if (chance(30))
			add(d, "gl", json_object_new_boolean(false));
		if (strcmp(type, "vnc") == 0)
			add(d, "listen", str(listen));
	} else {
		if (chance(50))
			add(d, "gl", json_object_new_boolean(needs_gl || chance(50)));
		if (strcmp(type, "gtk") == 0 && chance(30))
			add(d, "full_screen", json_object_new_boolean(chance(50)));
		if (strcmp(type, "dbus") == 0 && chance(40))
			add(d, "rendernode", str("/dev/dri/renderD129"));
	}
	return d;
}

static json_object *gen_disk(unsigned i)
{
	json_object *d = json_object_new_object();
	bool qcow = chance(30), explicit_format = chance(50);
	_cleanup_free_ char *f = file_in_dir(qcow ? ".qcow2" : PICK(".img", ".raw", ""), i);

	make_file(f, qcow);
	add(d, "file", str(f));
	if (explicit_format)
		add(d, "format", str(qcow ? "qcow2" : "raw"));
	bool ide = chance(30);

	if (ide || chance(40))
		add(d, "interface", str(ide ? "ide" : "virtio"));
	switch (rnd(4)) {
	case 0:
		/* QEMU has no read-only IDE disk, and the parser says so. */
		add(d, ide ? "snapshot" : "readonly", json_object_new_boolean(true));
		break;
	case 1:
		add(d, "snapshot", json_object_new_boolean(true));
		break;
	case 2:
		add(d, "readonly", json_object_new_boolean(false));
		add(d, "snapshot", json_object_new_boolean(false));
		break;
	default:
		break;
	}
	return d;
}

static json_object *gen_profile(unsigned i)
{
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	json_object *p = json_object_new_object(), *v;
	bool needs_gl = false, spice_app = false;
	char name[65];
	int n;

	n = snprintf(name, sizeof(name), "p%u", i);
	for (unsigned k = rnd(60); k > 0 && n < 64; k--)
		name[n++] = name_chars[rnd(sizeof(name_chars) - 1)];
	name[n] = 0;
	add(p, "name", str(name));
	add(p, "memory", gen_memory());
	if (chance(50))
		add(p, "cpus", json_object_new_int64(1 + rnd(8)));
	if (chance(50))
		add(p, "machine", str(PICK("pc", "q35", "pc-i440fx-7.2", "pc-q35-7.2")));
	if (chance(60))
		add(p, "accel", str(PICK("tcg", "kvm")));
	if (chance(30))
		add(p, "cpu", str(PICK("max", "qemu64", "host", "Skylake-Client", "max,-vmx")));
	if (chance(20))
		add(p, "qemu", str(PICK("qemu-system-x86_64", "/usr/bin/qemu-system-x86_64")));
	if (chance(40))
		add(p, "vgpu", gen_vgpu(&needs_gl));
	if (chance(60)) {
		add(p, "display", gen_display(needs_gl));
		spice_app = json_object_object_get_ex(json_object_object_get(p, "display"), "type", &v) &&
			    strcmp(json_object_get_string(v), "spice-app") == 0;
	}
	if (chance(50)) {
		_cleanup_free_ char *f = file_in_dir(".log", i);
		char *s = NULL;

		if (asprintf(&s, "file:%s", f) < 0)
			abort();
		add(p, "serial", str(chance(70) ? PICK("stdio", "none", "pty") : s));
		free(s);
	}
	if (chance(30))
		add(p, "graphics_off", json_object_new_boolean(chance(50)));
	if (chance(30)) {
		_cleanup_free_ char *f = file_in_dir(".iso", i);

		make_file(f, false);
		add(p, "cdrom", str(f));
	}
	if (chance(50)) {
		json_object *a = json_object_new_array();

		for (unsigned k = 1 + rnd(3); k > 0; k--)
			json_object_array_add(a, gen_disk(i * 10 + k));
		add(p, "disks", a);
	}
	if (chance(30)) {
		json_object *e = json_object_new_object();

		add(e, PICK("GDK_BACKEND", "DISPLAY", "LC_ALL", "X_1", "_Y"),
		    str(PICK("x11", ":0", "", "a=b c", "caf\xc3\xa9 \xf0\x9f\x98\x80", "$(not run)")));
		add(p, "env", e);
	}
	if (chance(30)) {
		json_object *a = json_object_new_array();
		const char *const *set = (const char *const *[]){
			(const char *const[]){ "-no-reboot", NULL },
			(const char *const[]){ "-rtc", "base=utc", NULL },
			(const char *const[]){ "-device", "virtio-rng-pci", NULL },
			(const char *const[]){ "-S", NULL },
			(const char *const[]){ "-boot", "order=c,menu=off", NULL },
		}[rnd(5)];

		for (; *set; set++)
			json_object_array_add(a, str(*set));
		add(p, "extra_args", a);
	}
	if (chance(30))
		add(p, "start_timeout", json_object_new_int64(1 + rnd(86400)));
	if (chance(30))
		add(p, "restart", str(PICK("no", "on-failure", "always")));
	if (chance(20))
		add(p, "restart_delay", json_object_new_int64(rnd(3601)));
	if (chance(20))
		add(p, "user", str(PICK("nobody", "65534", "qemu")));
	if (chance(20))
		add(p, "group", str(PICK("kvm", "render", "users")));
	/* spice-app starts its viewer as a new process, which QEMU's sandbox kills it for unless spawn is allowed. */
	if (spice_app || chance(40)) {
		json_object *s = json_object_new_object();

		if (chance(50))
			add(s, "obsolete", str(PICK("deny", "allow")));
		if (chance(50))
			add(s, "elevateprivileges", str(PICK("deny", "allow", "children")));
		if (spice_app || chance(50))
			add(s, "spawn", str(spice_app ? "allow" : PICK("deny", "allow")));
		if (chance(50))
			add(s, "resourcecontrol", str(PICK("deny", "allow")));
		add(p, "sandbox", s);
	}
	if (chance(30)) {
		json_object *s = json_object_new_object();

		add(s, PICK("agent_timeout", "powerdown_timeout", "quit_timeout", "kill_timeout"),
		    json_object_new_int64(rnd(86401)));
		add(p, "shutdown", s);
	}
	return p;
}

/*
 * Moves some keys out of the profile into --set arguments, as a user overriding a profile does: the parse must come
 * out the same. Nested keys of objects move one by one ("vgpu.xres=..."), other values as JSON.
 */
static char **move_to_sets(json_object *p)
{
	char **sets = calloc(64, sizeof(char *));
	size_t n = 0;
	char *keys[64];
	size_t nk = 0;

	if (!sets)
		abort();
	json_object_object_foreach(p, key, val)
	{
		(void)val;
		if (nk < ELEMENTSOF(keys))
			keys[nk++] = strdup(key);
	}
	for (size_t i = 0; i < nk; i++) {
		json_object *v = json_object_object_get(p, keys[i]);

		if (!chance(25) || n > 60) {
			free(keys[i]);
			continue;
		}
		if (json_object_is_type(v, json_type_object) && strcmp(keys[i], "env") != 0 &&
		    json_object_object_length(v) > 0) {
			/* vgpu.xres=... one by one; the object stays, emptied of what moved. */
			char *sub[32];
			size_t ns = 0;

			json_object_object_foreach(v, k2, v2)
			{
				(void)v2;
				if (ns < ELEMENTSOF(sub))
					sub[ns++] = strdup(k2);
			}
			for (size_t j = 0; j < ns; j++) {
				json_object *x = json_object_object_get(v, sub[j]);

				if (asprintf(&sets[n++], "%s.%s=%s", keys[i], sub[j],
					     json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN |
										   JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
					abort();
				json_object_object_del(v, sub[j]);
				free(sub[j]);
			}
		} else {
			if (asprintf(&sets[n++], "%s=%s", keys[i],
				     json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
									   JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
				abort();
			json_object_object_del(p, keys[i]);
		}
		free(keys[i]);
	}
	return sets;
}

static int parse(const char *path, const char *text, char **sets, char ***ret_argv, struct profile **ret_p,
		 char **ret_error)
{
	_cleanup_profile_ struct profile *p = NULL;
	int r = profile_parse(path, text, strlen(text), sets, &p, ret_error);

	if (r < 0)
		return r;
	r = profile_argv(p, &(struct profile_argv_opts){ .file_fd_base = PROFILE_FILE_FD_BASE }, ret_argv);
	if (r < 0)
		return r;
	if (ret_p)
		*ret_p = steal_pointer(&p);
	return 0;
}

static bool strv_equal(char **a, char **b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

static const char *qemu_bin(void)
{
	const char *q = getenv("REAL_QEMU");

	return q && *q ? q : "qemu-system-x86_64";
}

/* QEMU's own list of a device's options, asked once per device. */
static char *device_help(const char *device)
{
	static char *cache[2];
	int i = strcmp(device, "vfio-pci") == 0 ? 0 : 1;
	char cmd[256], *buf = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	if (cache[i])
		return cache[i];
	snprintf(cmd, sizeof(cmd), "%s -device %s,help 2>&1", qemu_bin(), device);
	f = popen(cmd, "r");
	m = open_memstream(&buf, &len);
	if (!f || !m)
		abort();
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	pclose(f);
	fclose(m);
	return cache[i] = buf;
}

/* Every key=value of the vfio device's options is one QEMU lists for that device. Returns the unknown key or NULL. */
static const char *unknown_vfio_option(const char *arg, char *buf, size_t size)
{
	const char *comma = strchr(arg, ',');
	char device[64];

	snprintf(device, sizeof(device), "%.*s", (int)(comma ? comma - arg : (long)strlen(arg)), arg);
	while (comma) {
		const char *k = comma + 1, *eq = strchr(k, '=');
		char want[80];

		comma = strchr(k, ',');
		snprintf(buf, size, "%.*s", (int)((eq ? eq : comma ? comma : k + strlen(k)) - k), k);
		snprintf(want, sizeof(want), "  %s=", buf);
		if (!strstr(device_help(device), want))
			return buf;
	}
	return NULL;
}

/* The line vgpuvm would run, made runnable here: see the top of the file. NULL-terminated; frees nothing of argv. */
static char **for_qemu(char **argv, char *why, size_t why_size)
{
	size_t n = 0;
	char **out, unknown[64];

	while (argv[n])
		n++;
	out = calloc(n + 4, sizeof(char *));
	if (!out)
		abort();
	n = 0;
	out[n++] = (char *)qemu_bin();
	for (char **a = argv + 1; *a; a++) {
		if (strcmp(*a, "-enable-kvm") == 0) {
			out[n++] = (char *)"-accel";
			out[n++] = (char *)"tcg";
		} else if (strcmp(*a, "-cpu") == 0 && a[1] && strncmp(a[1], "host", 4) == 0) {
			out[n++] = *a++;
			out[n++] = (char *)"max";
		} else if (strcmp(*a, "-display") == 0 && a[1]) {
			out[n++] = *a++;
			out[n++] = (char *)"none";
		} else if (strcmp(*a, "-vnc") == 0 && a[1]) {
			a++;
		} else if (strcmp(*a, "-device") == 0 && a[1] && strncmp(a[1], "vfio-pci", 8) == 0) {
			const char *u = unknown_vfio_option(a[1], unknown, sizeof(unknown));

			if (u) {
				snprintf(why, why_size, "QEMU's %.*s has no option %s", (int)strcspn(a[1], ","), a[1],
					 u);
				free(out);
				return NULL;
			}
			out[n++] = *a++;
			out[n++] = (char *)"pci-testdev";
		} else
			out[n++] = *a;
	}
	out[n++] = (char *)"-S";
	out[n] = NULL;
	return out;
}

/* Runs QEMU on the line; returns its exit status (0: it accepted everything and quit), or -1 on a timeout. */
static int run_qemu(char **argv, const struct profile *p, char **envp, const char *err_path)
{
	static const char commands[] = "{\"execute\": \"qmp_capabilities\"}\r\n{\"execute\": \"quit\"}\r\n";
	struct profile_file files[PROFILE_FILES_MAX];
	size_t nf = profile_files(p, files, ELEMENTSOF(files));
	int sv[2], status = 0;
	uint64_t deadline = deadline_after(20 * USEC_PER_SEC);
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    write(sv[0], commands, sizeof(commands) - 1) != (ssize_t)sizeof(commands) - 1)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		int fds[PROFILE_FILES_MAX], null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* Each file at its place, as vgpuvm hands them over: fd 3 the monitor, 5 and up the disks. */
		for (size_t i = 0; i < nf; i++)
			if ((fds[i] = open(files[i].path, files[i].flags | O_CLOEXEC)) < 0 ||
			    (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
				_exit(120);
		if (null < 0 || err < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0 ||
		    dup2(sv[1], 3) < 0)
			_exit(121);
		for (size_t i = 0; i < nf; i++)
			if (dup2(fds[i], PROFILE_FILE_FD_BASE + (int)i) < 0)
				_exit(122);
		syscall(SYS_close_range, (unsigned)(PROFILE_FILE_FD_BASE + nf), ~0U, 0U);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	close(sv[1]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		char buf[4096];

		if (w == pid)
			break;
		/* Read what QEMU says on the monitor, so that it never waits for room to write. */
		struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
		if (poll(&pfd, 1, 10) > 0 && read(sv[0], buf, sizeof(buf)) <= 0)
			usleep(1000);
		if (now_usec() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(sv[0]);
			return -1;
		}
	}
	close(sv[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void dump(FILE *f, const char *what, char **argv)
{
	fprintf(f, "# %s:", what);
	for (char **a = argv; a && *a; a++)
		fprintf(f, " %s", *a);
	fputc('\n', f);
}

int main(int argc, char **argv)
{
	unsigned count = argc > 1 ? (unsigned)atoi(argv[1]) : 100, every = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	unsigned parsed = 0, started = 0, failed_parse = 0, failed_qemu = 0, vfio_checked = 0;
	const char *fail_dir = getenv("PROPERTY_FAIL_DIR") ?: "/tmp";
	char cmd[512], err_path[300];
	extern char **environ;

	rng = argc > 2 ? strtoull(argv[2], NULL, 10) * 2654435761u + 1 : 1;
	if (!mkdtemp(dir))
		return 2;
	snprintf(qcow2, sizeof(qcow2), "%s/template.qcow2", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 1M", qcow2);
	if (system(cmd) != 0) {
		printf("Bail out! qemu-img cannot make a qcow2 image\n");
		return 2;
	}
	snprintf(err_path, sizeof(err_path), "%s/qemu.err", dir);
	printf("1..3\n");
	for (unsigned i = 0; i < count; i++) {
		_cleanup_json_ json_object *p = gen_profile(i);
		_cleanup_strv_free_ char **whole = NULL, **with_sets = NULL, **sets = NULL, **env = NULL;
		_cleanup_profile_ struct profile *prof = NULL;
		_cleanup_free_ char *text = NULL, *error = NULL, *error2 = NULL, *reduced = NULL;
		char path[64], why[256] = "";
		int r;

		snprintf(path, sizeof(path), "p%u.json", i);
		text = strdup(
		    json_object_to_json_string_ext(p, chance(50) ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN));
		r = parse(path, text, NULL, &whole, &prof, &error);
		if (r == 0) {
			sets = move_to_sets(p);
			reduced = strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
			r = parse(path, reduced, sets, &with_sets, NULL, &error2);
			if (r < 0)
				snprintf(why, sizeof(why), "with --set: %s", error2 ?: "out of memory");
			else if (!strv_equal(whole, with_sets))
				snprintf(why, sizeof(why), "--set gives another command line");
		} else
			snprintf(why, sizeof(why), "%s", error ?: "out of memory");
		for (char **a = whole; !*why && a && *a; a++)
			if (!utf8_valid(*a, strlen(*a), NULL))
				snprintf(why, sizeof(why), "argument not UTF-8: %s", *a);
		if (*why) {
			failed_parse++;
			printf("# profile %u: %s\n# %s\n", i, why, text);
			for (char **s = sets; s && *s; s++)
				printf("#   --set %s\n", *s);
			dump(stdout, "with --set", with_sets);
			continue;
		}
		parsed++;
		if (i % (every ? every : 1) != 0)
			continue;

		_cleanup_free_ char **q = for_qemu(whole, why, sizeof(why));
		if (q) {
			vfio_checked += prof->vgpu != NULL;
			env = calloc(2, sizeof(char *));
			/* QEMU's environment: the profile's variables and a PATH, as vgpuvm gives them. */
			size_t ne = 0;
			for (char **e = prof->env; *e; e++)
				ne++;
			env = realloc(env, (ne + 2) * sizeof(char *));
			for (size_t k = 0; k < ne; k++)
				env[k] = strdup(prof->env[k]);
			env[ne] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
			env[ne + 1] = NULL;
			r = run_qemu(q, prof, env, err_path);
			started++;
			if (r != 0) {
				char errtext[2048] = "";
				FILE *f = fopen(err_path, "re");

				if (f) {
					char line[512];

					/* QEMU's error, not the warnings before it (TCG lacks some features of named
					 * CPUs). */
					while (fgets(line, sizeof(line), f))
						if (!strstr(line, "warning:") &&
						    strlen(errtext) + strlen(line) < sizeof(errtext))
							strcat(errtext, line);
					fclose(f);
				}
				snprintf(why, sizeof(why), "QEMU %s (status %d): %s",
					 r < 0 ? "did not quit in 20 s" : "refused the line", r, errtext);
			}
		}
		if (*why) {
			char fp[512];
			FILE *f;

			failed_qemu++;
			printf("# profile %u: %s\n# %s\n", i, why, text);
			dump(stdout, "QEMU ran", q);
			snprintf(fp, sizeof(fp), "%s/vgpuvm-property-%u.json", fail_dir, i);
			if ((f = fopen(fp, "we"))) {
				fprintf(f, "%s\n", text);
				fclose(f);
				printf("# written to %s\n", fp);
			}
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	printf("%s 1 - %u generated profiles parse, with some keys as --set to the same line, every argument UTF-8\n",
	       failed_parse ? "not ok" : "ok", parsed + failed_parse);
	printf("%s 2 - %u started in QEMU (-S, TCG, display none, vfio swapped for a stand-in): every line accepted\n",
	       failed_qemu ? "not ok" : "ok", started);
	printf("%s 3 - %u vfio device lines checked against QEMU's own list of the device's options\n",
	       vfio_checked || started == 0 ? "ok" : "not ok", vfio_checked);
	return failed_parse || failed_qemu ? 1 : 0;
}
