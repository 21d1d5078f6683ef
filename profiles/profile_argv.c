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
#include "profiles/profile_check.h"
#include "profiles/profile_net.h"
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

/*
 * SPICE without a port: QEMU listens nowhere, and the supervisor hands it each connection to its own socket
 * (RUNTIME/NAME/spice.sock) with getfd and add_client. Over TCP, ticketing stays on and the password comes later over
 * QMP (set_password): until then no client gets in, and the password is never in QEMU's argv or environment.
 */
static void add_spice(struct builder *b, const struct profile_display *d, const char *node)
{
	const char *colon = d->listen ? strrchr(d->listen, ':') : NULL;

	add(b, "-spice");
	if (colon)
		addf(b, "port=%s,addr=%.*s", colon + 1, (int)(colon - d->listen), d->listen);
	else
		addf(b, "disable-ticketing=on%s%s%s", d->gl ? ",gl=on" : "", node ? ",rendernode=" : "", node ?: "");
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
		/* QEMU 7.2's ui/spice-app.c turns GL on when gl= is given at all (it tests has_gl): off is left out. */
		addf(b, "spice-app%s", d->gl ? ",gl=on" : "");
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
	if (d->type == PROFILE_DISPLAY_SPICE)
		add_spice(b, d, node);
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

/* "opregion": false on the iGPU (or a type not known yet): what QEMU's default is decides what to write. */
static bool opregion_off_asked(const struct profile_vgpu *g)
{
	return g->opregion_set && !g->opregion && (!g->type || profile_vgpu_type_is_igd(g->type));
}

bool profile_argv_wants_qemu_version(const struct profile *p)
{
	return p->vgpu && opregion_off_asked(p->vgpu);
}

/*
 * The OpRegion: on when the profile says true. QEMU 10 turned it on by default for the Intel iGPU, so a profile's
 * false is written out there, and where the version is not known; an older QEMU's default is off already.
 */
static const char *opregion_opt(const struct profile_vgpu *g, unsigned qemu_version)
{
	if (g->opregion)
		return ",x-igd-opregion=on";
	if (opregion_off_asked(g) && (qemu_version == 0 || qemu_version >= PROFILE_QEMU_VERSION(10, 0, 0)))
		return ",x-igd-opregion=off";
	return "";
}

static void add_vgpu(struct builder *b, const struct profile *p, const char *sysfs_root, unsigned qemu_version)
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
	     root, g->uuid, g->display ? "on" : "off", g->ramfb ? ",ramfb=on" : "", opregion_opt(g, qemu_version),
	     res ?: "");
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
			ret[n++] = (struct profile_file){
				.path = p->disks[i].file, .flags = O_RDONLY, .what = "disk", .set = set
			};
		if (!p->disks[i].readonly && n < max)
			ret[n++] = (struct profile_file){
				.path = p->disks[i].file, .flags = O_RDWR, .what = "disk", .set = set
			};
	}
	if (p->boot.kernel && n < max)
		ret[n++] = (struct profile_file){
			.path = p->boot.kernel, .flags = O_RDONLY, .what = "kernel", .kind = PROFILE_FILE_COPY
		};
	if (p->boot.initrd && n < max)
		ret[n++] = (struct profile_file){
			.path = p->boot.initrd, .flags = O_RDONLY, .what = "initrd", .kind = PROFILE_FILE_COPY
		};
	for (size_t i = 0; i < p->n_nics; i++)
		if (p->nics[i].type != PROFILE_NIC_USER && n < max)
			ret[n++] = (struct profile_file){ .path = p->nics[i].tap,
							  .flags = O_RDWR,
							  .what = "tap",
							  .kind = PROFILE_FILE_TAP,
							  .nic = (unsigned)i };
	for (size_t i = 0; i < p->n_usb; i++)
		if (n < max)
			ret[n++] = (struct profile_file){ .flags = O_RDWR,
							  .what = "usb",
							  .set = profile_usb_fdset(p, i),
							  .kind = PROFILE_FILE_USB,
							  .usb = (unsigned)i };
	return n;
}

unsigned profile_usb_fdset(const struct profile *p, size_t i)
{
	/* One set per drive from 1, the cdrom's, and the firmware's two (taken or not, so that the numbers stay put).
	 */
	return (unsigned)p->n_disks + (p->cdrom ? 1 : 0) + 1 + 2 + (unsigned)i;
}

/* The fd at which QEMU finds the file of profile_files() that what and nic name, or -1 when it opens it by path. */
static int file_fd(const struct profile *p, int fd_base, const char *what, size_t nic)
{
	struct profile_file files[PROFILE_FILES_MAX];
	size_t n = fd_base > 0 ? profile_files(p, files, ELEMENTSOF(files)) : 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i].what, what) == 0 && (files[i].kind != PROFILE_FILE_TAP || files[i].nic == nic))
			return fd_base + (int)i;
	return -1;
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
		if (files[i].kind != PROFILE_FILE_IMAGE)
			continue;
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

/* The firmware's boot order and menu, or the kernel QEMU boots itself. */
static void add_boot(struct builder *b, const struct profile *p, int fd_base)
{
	static const char letters[PROFILE_BOOT_DEVICE_MAX] = {
		[PROFILE_BOOT_DISK] = 'c', [PROFILE_BOOT_CDROM] = 'd', [PROFILE_BOOT_NETWORK] = 'n'
	};
	const struct profile_boot *bt = &p->boot;

	if (bt->n_order || bt->menu) {
		char order[PROFILE_BOOT_DEVICE_MAX + 1] = "";

		for (size_t i = 0; i < bt->n_order; i++)
			order[i] = letters[bt->order[i]];
		add(b, "-boot");
		addf(b, "%s%s%s%s", bt->n_order ? "order=" : "", order, bt->n_order && bt->menu ? "," : "",
		     bt->menu ? "menu=on" : "");
	}
	for (const char *const *what = (const char *const[]){ "kernel", "initrd", NULL }; *what; what++) {
		const char *path = **what == 'k' ? bt->kernel : bt->initrd;
		int fd = file_fd(p, fd_base, *what, 0);

		if (!path)
			continue;
		addf(b, "-%s", *what);
		if (fd >= 0)
			addf(b, "/proc/self/fd/%d", fd);
		else
			add(b, path);
	}
	if (bt->cmdline) {
		add(b, "-append");
		add(b, bt->cmdline);
	}
}

static void add_nic(struct builder *b, const struct profile *p, size_t i, int fd_base)
{
	const struct profile_nic *nic = &p->nics[i];
	char mac[18];
	int fd;

	add(b, "-netdev");
	if (nic->type == PROFILE_NIC_USER) {
		char *s = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&s, &size);

		if (!f) {
			b->error = -ENOMEM;
			return;
		}
		fprintf(f, "user,id=vgpuvm-net%zu", i);
		for (size_t j = 0; j < nic->n_forwards; j++) {
			const struct profile_forward *fw = &nic->forwards[j];

			fprintf(f, ",hostfwd=%s:%s:%u-:%u", profile_forward_proto_to_string(fw->proto), fw->address,
				fw->host, fw->guest);
		}
		if (fclose(f) != 0) {
			free(s);
			s = NULL;
		}
		add_owned(b, s);
	} else if ((fd = file_fd(p, fd_base, "tap", i)) >= 0)
		/* The tap vgpuvm made or opened: QEMU, with no privilege, could do neither. */
		addf(b, "tap,id=vgpuvm-net%zu,fd=%d", i, fd);
	else
		addf(b, "tap,id=vgpuvm-net%zu,ifname=%s,script=no,downscript=no", i, nic->tap);
	profile_net_format_mac(nic->mac, mac);
	add(b, "-device");
	addf(b, "%s,netdev=vgpuvm-net%zu,mac=%s", nic->model, i, mac);
}

/* An absolute pointer on its own USB controller, and the keyboard when it is not the machine's own. */
static void add_input(struct builder *b, const struct profile *p)
{
	/* One controller for the tablet and every host USB device; "usb": [] has it for devices attached later. */
	if (p->input.tablet || p->usb) {
		add(b, "-device");
		add(b, "qemu-xhci,id=vgpuvm-xhci");
	}
	if (p->input.tablet) {
		add(b, "-device");
		add(b, "usb-tablet,bus=vgpuvm-xhci.0");
	}
	if (p->input.keyboard == PROFILE_KEYBOARD_VIRTIO) {
		add(b, "-device");
		add(b, "virtio-keyboard-pci");
	}
}

/* One virtio-serial controller for every port: the SPICE agent's and the guest agent's. */
static void add_virtio_serial(struct builder *b, const struct profile *p)
{
	if (p->display.type != PROFILE_DISPLAY_SPICE && !p->agent)
		return;
	add(b, "-device");
	add(b, "virtio-serial-pci,id=vgpuvm-serial");
}

/* The SPICE agent's channel (clipboard, the guest's resolution following the window). */
static void add_spice_agent(struct builder *b, const struct profile *p)
{
	if (p->display.type != PROFILE_DISPLAY_SPICE)
		return;
	add(b, "-chardev");
	add(b, "spicevmc,id=vdagent0,name=vdagent");
	add(b, "-device");
	add(b, "virtserialport,bus=vgpuvm-serial.0,chardev=vdagent0,name=com.redhat.spice.0");
}

/*
 * The host's USB devices on the controller. With fds, QEMU opens the node vgpuvm found and opened (usb-host takes
 * hostdevice=/dev/fdset/N, as a drive does); without, the line names the device for QEMU to find itself, which only
 * a QEMU with access to /dev/bus/usb could do.
 */
static void add_usb(struct builder *b, const struct profile *p, int fd_base)
{
	struct profile_file files[PROFILE_FILES_MAX];
	size_t n = fd_base > 0 ? profile_files(p, files, ELEMENTSOF(files)) : 0;

	for (size_t i = 0; i < n; i++)
		if (files[i].kind == PROFILE_FILE_USB) {
			add(b, "-add-fd");
			addf(b, "fd=%d,set=%u,opaque=usb%u", fd_base + (int)i, files[i].set, files[i].usb);
		}
	for (size_t i = 0; i < p->n_usb; i++) {
		const struct profile_usb *u = &p->usb[i];

		add(b, "-device");
		if (fd_base > 0)
			addf(b, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb%zu,hostdevice=/dev/fdset/%u", i,
			     profile_usb_fdset(p, i));
		else if (u->port) {
			const char *dash = strchr(u->port, '-');

			addf(b, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb%zu,hostbus=%.*s,hostport=%s", i,
			     (int)(dash - u->port), u->port, dash + 1);
		} else
			addf(b, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb%zu,vendorid=0x%04x,productid=0x%04x", i,
			     u->vendor, u->product);
	}
}

/* Intel HDA with a duplex codec: Windows and Linux drive it with the drivers they ship. */
static void add_audio(struct builder *b, const struct profile *p)
{
	if (p->audio == PROFILE_AUDIO_OFF)
		return;
	add(b, "-audiodev");
	addf(b, "%s,id=vgpuvm-audio", profile_audio_to_string(p->audio));
	add(b, "-device");
	add(b, "intel-hda,id=vgpuvm-hda");
	add(b, "-device");
	add(b, "hda-duplex,bus=vgpuvm-hda.0,audiodev=vgpuvm-audio");
}

/* The number of files profile_files() gives: the firmware's fds, then swtpm's socket, come after them all. */
static size_t count_files(const struct profile *p)
{
	struct profile_file files[PROFILE_FILES_MAX];

	return profile_files(p, files, ELEMENTSOF(files));
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

int profile_agent_fd(const struct profile *p, const struct profile_argv_opts *opts)
{
	int base = opts ? opts->file_fd_base : 0, tpm = profile_tpm_fd(p, opts);

	if (!p->agent)
		return -1;
	if (p->n_shares > 0)
		return profile_share_fd(p, opts, p->n_shares - 1) + 1;
	if (tpm >= 0)
		return tpm + 1;
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

int profile_share_fd(const struct profile *p, const struct profile_argv_opts *opts, size_t i)
{
	int base = opts ? opts->file_fd_base : 0, tpm = profile_tpm_fd(p, opts);

	if (i >= p->n_shares)
		return -1;
	if (tpm >= 0)
		return tpm + 1 + (int)i;
	if (base <= 0)
		return PROFILE_FILE_FD_BASE + (int)i;
	return base + (int)count_files(p) + (p->firmware == PROFILE_FIRMWARE_UEFI ? PROFILE_FIRMWARE_FDS : 0) + (int)i;
}

/*
 * A vhost-user device's backend reads and writes the guest's RAM itself: the RAM is a memfd QEMU shares with it,
 * which only the shares need (vhost-user-fs-pci refuses private memory).
 */
static void add_shared_memory(struct builder *b, const struct profile *p, const char *mem)
{
	if (p->n_shares == 0)
		return;
	add(b, "-object");
	addf(b, "memory-backend-memfd,id=vgpuvm-mem,size=%s,share=on", mem);
	add(b, "-numa");
	add(b, "node,memdev=vgpuvm-mem");
}

/* Each share: virtiofsd's socket, which vgpuvm connected, and the device the guest mounts by its tag. */
static void add_shares(struct builder *b, const struct profile *p, const struct profile_argv_opts *opts)
{
	for (size_t i = 0; i < p->n_shares; i++) {
		add(b, "-chardev");
		addf(b, "socket,id=vgpuvm-fs%zu,fd=%d", i, profile_share_fd(p, opts, i));
		add(b, "-device");
		addf(b, "vhost-user-fs-pci,chardev=vgpuvm-fs%zu,tag=%s", i, p->shares[i].tag);
	}
}

/*
 * The guest agent's channel: the port qemu-ga looks for, on the virtio-serial controller, on a socket pair whose other
 * end the supervisor keeps (no path). The port's id names it in QEMU's VSERPORT_CHANGE events.
 */
static void add_agent(struct builder *b, const struct profile *p, const struct profile_argv_opts *opts)
{
	int fd = profile_agent_fd(p, opts);

	if (fd < 0)
		return;
	add(b, "-chardev");
	addf(b, "socket,id=vgpuvm-ga,fd=%d", fd);
	add(b, "-device");
	add(b, "virtserialport,bus=vgpuvm-serial.0,chardev=vgpuvm-ga,id=vgpuvm-ga,name=org.qemu.guest_agent.0");
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
	add_shared_memory(&b, p, mem);
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
		add_vgpu(&b, p, sysfs_root, opts ? opts->qemu_version : 0);
	add_disks(&b, p, opts ? opts->file_fd_base : 0);
	add_boot(&b, p, opts ? opts->file_fd_base : 0);
	for (size_t i = 0; i < p->n_nics; i++)
		add_nic(&b, p, i, opts ? opts->file_fd_base : 0);
	add_input(&b, p);
	add_virtio_serial(&b, p);
	add_spice_agent(&b, p);
	add_usb(&b, p, opts ? opts->file_fd_base : 0);
	add_audio(&b, p);
	add_firmware(&b, p, opts);
	add_tpm(&b, p, opts);
	add_shares(&b, p, opts);
	add_agent(&b, p, opts);
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
