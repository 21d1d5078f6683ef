/* SPDX-License-Identifier: MIT */
/*
 * The QEMU command line. It is built in one place, in a fixed order, so that `vgpuvm argv` shows exactly what `run`
 * executes and golden files can pin it down.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "util/macro.h"

struct builder {
	char **v;
	size_t n, size;
	int error;
};

static void add_owned(struct builder *b, char *s)
{
	if (b->error || !s) {
		b->error = b->error ?: -ENOMEM;
		free(s);
		return;
	}
	if (b->n + 2 > b->size) {
		size_t size = b->size ? b->size * 2 : 32;
		char **v = realloc(b->v, size * sizeof(char *));
		if (!v) {
			b->error = -ENOMEM;
			free(s);
			return;
		}
		b->v = v;
		b->size = size;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

static void add(struct builder *b, const char *s)
{
	add_owned(b, strdup(s));
}

static void addf(struct builder *b, const char *fmt, ...) _printf_(2, 3);
static void addf(struct builder *b, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	add_owned(b, s);
}

/* QEMU's option syntax splits on commas; a literal comma inside a value is written twice. */
static char *escape_commas(const char *s)
{
	size_t n = strlen(s), extra = 0;
	char *r, *o;

	for (const char *i = s; *i; i++)
		extra += *i == ',';
	r = malloc(n + extra + 1);
	if (!r)
		return NULL;
	for (o = r; *s; s++) {
		*o++ = *s;
		if (*s == ',')
			*o++ = ',';
	}
	*o = 0;
	return r;
}

static void add_display(struct builder *b, const struct profile *p)
{
	const struct profile_display *d = &p->display;
	_cleanup_free_ char *node = d->rendernode ? escape_commas(d->rendernode) : NULL;

	if (d->rendernode && !node) {
		b->error = -ENOMEM;
		return;
	}
	add(b, "-display");
	switch (d->type) {
	case PROFILE_DISPLAY_GTK:
		addf(b, "gtk,gl=%s%s", d->gl ? "on" : "off", d->full_screen ? ",full-screen=on" : "");
		break;
	case PROFILE_DISPLAY_EGL_HEADLESS:
		addf(b, "egl-headless%s%s", node ? ",rendernode=" : "", node ?: "");
		break;
	case PROFILE_DISPLAY_SPICE_APP:
		addf(b, "spice-app,gl=%s", d->gl ? "on" : "off");
		break;
	case PROFILE_DISPLAY_VNC:
		addf(b, "vnc=%s", d->listen);
		break;
	case PROFILE_DISPLAY_DBUS:
		addf(b, "dbus,gl=%s%s%s", d->gl ? "on" : "off", node ? ",rendernode=" : "", node ?: "");
		break;
	default:
		add(b, "none");
		break;
	}
	/* egl-headless renders off screen; the usual way to look at it is VNC beside it. */
	if (d->type == PROFILE_DISPLAY_EGL_HEADLESS && d->listen) {
		add(b, "-vnc");
		add(b, d->listen);
	}
}

static void add_serial(struct builder *b, const struct profile *p)
{
	add(b, "-serial");
	switch (p->serial) {
	case PROFILE_SERIAL_NONE:
		add(b, "none");
		break;
	case PROFILE_SERIAL_PTY:
		add(b, "pty");
		break;
	case PROFILE_SERIAL_FILE:
		addf(b, "file:%s", p->serial_file);
		break;
	default:
		add(b, "stdio");
		break;
	}
}

static void add_vgpu(struct builder *b, const struct profile *p, const char *sysfs_root)
{
	const struct profile_vgpu *g = p->vgpu;
	_cleanup_free_ char *root = escape_commas(sysfs_root), *res = NULL;

	if (!root) {
		b->error = -ENOMEM;
		return;
	}
	if (g->xres && asprintf(&res, ",xres=%u,yres=%u", g->xres, g->yres) < 0) {
		b->error = -ENOMEM;
		return;
	}
	add(b, "-device");
	addf(b, "%s,sysfsdev=%s/bus/mdev/devices/%s,display=%s%s%s%s", g->nohotplug ? "vfio-pci-nohotplug" : "vfio-pci",
	     root, g->uuid, g->display ? "on" : "off", g->ramfb ? ",ramfb=on" : "",
	     g->opregion ? ",x-igd-opregion=on" : "", res ?: "");
}

size_t profile_files(const struct profile *p, struct profile_file *ret, size_t max)
{
	size_t n = 0;
	unsigned set = 0;

	if (p->cdrom && n < max)
		ret[n++] = (struct profile_file){ .path = p->cdrom, .flags = O_RDONLY, .what = "cdrom", .set = ++set };
	for (size_t i = 0; i < p->n_disks; i++) {
		set++;
		if (n < max)
			ret[n++] = (struct profile_file){ .path = p->disks[i].file, .flags = O_RDONLY, .what = "disk", .set = set };
		if (!p->disks[i].readonly && n < max)
			ret[n++] = (struct profile_file){ .path = p->disks[i].file, .flags = O_RDWR, .what = "disk", .set = set };
	}
	return n;
}

/*
 * With fds, each drive's file is /dev/fdset/N and its fds are added with -add-fd: QEMU opens nothing by path, so it
 * needs no access of its own to the user's images (libvirt passes them the same way).
 */
static void add_disks(struct builder *b, const struct profile *p, int fd_base)
{
	struct profile_file files[PROFILE_FILES_MAX];
	size_t n = fd_base > 0 ? profile_files(p, files, ELEMENTSOF(files)) : 0;

	for (size_t i = 0; i < n; i++) {
		add(b, "-add-fd");
		addf(b, "fd=%d,set=%u,opaque=%s-%s", fd_base + (int)i, files[i].set, files[i].what,
		     files[i].flags == O_RDWR ? "rw" : "ro");
	}
	if (p->cdrom && fd_base > 0) {
		add(b, "-drive");
		add(b, "file=/dev/fdset/1,media=cdrom,index=2,readonly=on");
	} else if (p->cdrom) {
		add(b, "-cdrom");
		add(b, p->cdrom);
	}
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct profile_disk *d = &p->disks[i];
		_cleanup_free_ char *file = NULL;

		if (fd_base > 0) {
			if (asprintf(&file, "/dev/fdset/%zu", i + 1 + (p->cdrom ? 1 : 0)) < 0)
				file = NULL;
		} else
			file = escape_commas(d->file);
		if (!file) {
			b->error = -ENOMEM;
			return;
		}
		add(b, "-drive");
		addf(b, "file=%s,format=%s,if=%s%s%s", file, d->format, profile_disk_interface_to_string(d->interface),
		     d->readonly ? ",readonly=on" : "", d->snapshot ? ",snapshot=on" : "");
	}
}

/* The number of files profile_files() gives, without building the list. */
static size_t count_files(const struct profile *p)
{
	size_t n = p->cdrom ? 1 : 0;

	for (size_t i = 0; i < p->n_disks; i++)
		n += p->disks[i].readonly ? 1 : 2;
	return n;
}

int profile_tpm_fd(const struct profile *p, const struct profile_argv_opts *opts)
{
	int base = opts ? opts->file_fd_base : 0;

	if (p->tpm == PROFILE_TPM_NONE)
		return -1;
	if (base <= 0)
		return PROFILE_FILE_FD_BASE;
	return base + (int)count_files(p) + (p->firmware == PROFILE_FIRMWARE_UEFI ? PROFILE_FIRMWARE_FDS : 0);
}

/* OVMF's two flash chips: the code, read-only, and the VM's NVRAM, which the guest writes its variables into. */
static void add_firmware(struct builder *b, const struct profile *p, const struct profile_argv_opts *opts)
{
	_cleanup_free_ char *code = NULL, *vars = NULL;
	int base = opts ? opts->file_fd_base : 0;

	if (p->firmware != PROFILE_FIRMWARE_UEFI)
		return;
	if (!opts || !opts->firmware_code || !opts->nvram) {
		b->error = -EINVAL;
		return;
	}
	if (base > 0) {
		/* The sets after the drives' own: one per drive, from 1, and the cdrom's. */
		unsigned set = (unsigned)p->n_disks + (p->cdrom ? 1 : 0) + 1;
		int fd = base + (int)count_files(p);

		add(b, "-add-fd");
		addf(b, "fd=%d,set=%u,opaque=firmware-ro", fd, set);
		add(b, "-add-fd");
		addf(b, "fd=%d,set=%u,opaque=nvram-ro", fd + 1, set + 1);
		add(b, "-add-fd");
		addf(b, "fd=%d,set=%u,opaque=nvram-rw", fd + 2, set + 1);
		if (asprintf(&code, "/dev/fdset/%u", set) < 0 || asprintf(&vars, "/dev/fdset/%u", set + 1) < 0)
			code = vars = mfree(code);
	} else {
		code = escape_commas(opts->firmware_code);
		vars = escape_commas(opts->nvram);
	}
	if (!code || !vars) {
		b->error = -ENOMEM;
		return;
	}
	add(b, "-drive");
	addf(b, "if=pflash,format=%s,unit=0,readonly=on,file=%s", opts->firmware_code_format ?: "raw", code);
	add(b, "-drive");
	addf(b, "if=pflash,format=%s,unit=1,file=%s", opts->nvram_format ?: "raw", vars);
	/* With SMM, only firmware in SMM may write the NVRAM: the guest's OS cannot change Secure Boot's keys. */
	if (opts->smm) {
		add(b, "-global");
		add(b, "driver=cfi.pflash01,property=secure,value=on");
	}
}

/*
 * The TPM: QEMU talks to swtpm over a socket pair vgpuvm made (no path, no waiting for swtpm to listen). UEFI finds a
 * TPM 2.0 on the CRB interface; SeaBIOS, and a TPM 1.2, need TIS.
 */
static void add_tpm(struct builder *b, const struct profile *p, const struct profile_argv_opts *opts)
{
	int fd = profile_tpm_fd(p, opts);

	if (fd < 0)
		return;
	add(b, "-chardev");
	addf(b, "socket,id=vgpuvm-tpm,fd=%d", fd);
	add(b, "-tpmdev");
	add(b, "emulator,id=vgpuvm-tpm,chardev=vgpuvm-tpm");
	add(b, "-device");
	add(b, p->firmware == PROFILE_FIRMWARE_UEFI && p->tpm == PROFILE_TPM_2_0 ? "tpm-crb,tpmdev=vgpuvm-tpm"
										 : "tpm-tis,tpmdev=vgpuvm-tpm");
}

int profile_argv(const struct profile *p, const struct profile_argv_opts *opts, char ***ret)
{
	struct builder b = {};
	const char *sysfs_root = opts && opts->sysfs_root ? opts->sysfs_root : "/sys";
	int qmp_fd = opts && opts->qmp_fd > 0 ? opts->qmp_fd : PROFILE_QMP_FD;
	char mem[32];

	profile_format_memory(p->memory, mem, sizeof(mem));

	add(&b, p->qemu);
	add(&b, "-name");
	add(&b, p->name);
	/* Only what the profile says: no defaults devices, no user config files read behind the profile's back. */
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	/* QEMU confines itself with seccomp before it opens anything the guest controls. */
	add(&b, "-sandbox");
	addf(&b, "on,obsolete=%s,elevateprivileges=%s,spawn=%s,resourcecontrol=%s",
	     profile_sandbox_action_to_string(p->sandbox[PROFILE_SANDBOX_OBSOLETE]),
	     profile_sandbox_action_to_string(p->sandbox[PROFILE_SANDBOX_ELEVATEPRIVILEGES]),
	     profile_sandbox_action_to_string(p->sandbox[PROFILE_SANDBOX_SPAWN]),
	     profile_sandbox_action_to_string(p->sandbox[PROFILE_SANDBOX_RESOURCECONTROL]));
	add(&b, "-machine");
	if (opts && opts->smm && p->firmware == PROFILE_FIRMWARE_UEFI)
		addf(&b, "%s,smm=on", p->machine);
	else
		add(&b, p->machine);
	if (p->accel == PROFILE_ACCEL_KVM)
		add(&b, "-enable-kvm");
	else {
		add(&b, "-accel");
		add(&b, profile_accel_to_string(p->accel));
	}
	if (p->cpu) {
		add(&b, "-cpu");
		add(&b, p->cpu);
	}
	add(&b, "-m");
	add(&b, mem);
	add(&b, "-smp");
	addf(&b, "%u", p->cpus);
	if (p->graphics_off) {
		add(&b, "-M");
		add(&b, "graphics=off");
	}
	add_display(&b, p);
	add_serial(&b, p);
	/* The monitor is a socket vgpuvm made and hands over by fd: no path to race for, no connect loop. */
	add(&b, "-chardev");
	addf(&b, "socket,id=vgpuvm-qmp,fd=%d", qmp_fd);
	add(&b, "-mon");
	add(&b, "chardev=vgpuvm-qmp,mode=control");
	if (p->vgpu)
		add_vgpu(&b, p, sysfs_root);
	add_disks(&b, p, opts ? opts->file_fd_base : 0);
	add_firmware(&b, p, opts);
	add_tpm(&b, p, opts);
	for (char **a = p->extra_args; a && *a; a++)
		add(&b, *a);

	if (b.error) {
		strv_free(b.v);
		return b.error;
	}
	*ret = b.v;
	return 0;
}

char *profile_shell_quote(const char *s)
{
	size_t n = 2;
	char *r, *o;

	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=/.,:@%") == strlen(s))
		return strdup(s);
	for (const char *i = s; *i; i++)
		n += *i == '\'' ? 4 : 1;
	r = malloc(n + 1);
	if (!r)
		return NULL;
	o = r;
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *s;
	}
	*o++ = '\'';
	*o = 0;
	return r;
}
