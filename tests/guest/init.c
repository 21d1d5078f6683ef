/* SPDX-License-Identifier: MIT */
/*
 * The whole userspace of the test guest: PID 1 of a tiny initramfs. It exists so that vgpuvm's shutdown path can be
 * tested against a real QEMU with a real kernel: a guest that powers off when the ACPI power button is pressed
 * (system_powerdown), one that powers off by itself, and one that ignores the button so that the supervisor has to
 * escalate to quit and signals.
 *
 * It is linked statically and uses no library beyond libc, so the initramfs needs nothing else but two kernel modules.
 * Protocol on the console (ttyS0): "VGPUVM-GUEST-READY" once the guest is in its final state (listening to the power
 * button, for the default mode), "VGPUVM-GUEST-POWEROFF" just before it powers off. The echo mode obeys the button
 * too, and answers each line typed on the console with "VGPUVM-GUEST-GOT " and the line's bytes in hex, so that a test
 * can tell what reached the guest (an echo of the input itself cannot pass for the answer).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define MAX_BUTTONS 8

enum guest_mode {
	MODE_BUTTON,
	MODE_SELFOFF,
	MODE_IGNORE,
	MODE_ECHO,
	MODE_MAX,
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Everything goes to the console with one write(2) per line, so that lines from the guest do not interleave with the
 * kernel's own messages half-way through.
 */
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDOUT_FILENO, buf, n);
}

/*
 * PID 1 must never exit: the kernel would panic. On any fatal error the guest says why and powers off, so that a
 * broken guest shows up as an early, explained shutdown instead of a hang that only a timeout would notice.
 */
static void __attribute__((noreturn)) power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) die(const char *what)
{
	say("vgpuvm-guest: %s: %s", what, strerror(errno));
	power_off();
}

/* Mounts that a missing or busy mount point does not make fatal: the guest can still run without /sys or /proc. */
static void mount_fs(const char *type, const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		say("vgpuvm-guest: mkdir %s: %s", dir, strerror(errno));
	if (mount(type, dir, type, MS_NOSUID | MS_NOEXEC, NULL) < 0 && errno != EBUSY)
		say("vgpuvm-guest: mount %s: %s", dir, strerror(errno));
}

/*
 * The kernel opens /dev/console for PID 1 only if the initramfs carries that node. Opening it here, after devtmpfs is
 * mounted, makes the guest independent of how the archive was packed.
 */
static void open_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/*
 * Loads every module listed in /modules.order, in that order (dependencies first, as build.sh wrote it). A module that
 * is already there (built in after all, or loaded twice) is not an error.
 */
static void load_modules(void)
{
	char line[256];
	FILE *f = fopen("/modules.order", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int fd;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("vgpuvm-guest: open %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("vgpuvm-guest: finit_module %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(f);
}

/* The kernel command line decides what this guest does; anything unknown is the default, the obedient guest. */
static enum guest_mode read_mode(void)
{
	char buf[4096];
	const char *p;
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return MODE_BUTTON;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return MODE_BUTTON;
	buf[n] = '\0';

	for (p = buf; (p = strstr(p, "vgpuvm_guest=")); p++) {
		if (p != buf && p[-1] != ' ')
			continue;
		p += strlen("vgpuvm_guest=");
		if (strncmp(p, "selfoff", 7) == 0 && strchr(" \n", p[7]))
			return MODE_SELFOFF;
		if (strncmp(p, "ignore", 6) == 0 && strchr(" \n", p[6]))
			return MODE_IGNORE;
		if (strncmp(p, "echo", 4) == 0 && strchr(" \n", p[4]))
			return MODE_ECHO;
		return MODE_BUTTON;
	}
	return MODE_BUTTON;
}

/*
 * Opens the evdev node of every input device named "Power Button". QEMU's pc machine has the ACPI fixed-feature
 * button (LNXPWRBN); some firmware tables add a PNP0C0C one with the same name, and either may be the one that fires.
 * The node is made here from the major:minor in sysfs rather than looked up in devtmpfs, so that the guest does not
 * depend on when devtmpfs gets to it.
 */
static int open_power_buttons(struct pollfd *fds, int max)
{
	DIR *d = opendir("/sys/class/input");
	struct dirent *de;
	int n = 0;

	if (!d)
		die("opendir /sys/class/input");
	while ((de = readdir(d)) && n < max) {
		char path[512], name[128], dev[32];
		unsigned int major, minor;
		ssize_t len;
		int fd;

		if (strncmp(de->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/class/input/%s/device/name", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (len <= 0)
			continue;
		name[len] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, "Power Button") != 0)
			continue;

		snprintf(path, sizeof(path), "/sys/class/input/%s/dev", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, dev, sizeof(dev) - 1);
		close(fd);
		if (len <= 0)
			continue;
		dev[len] = '\0';
		if (sscanf(dev, "%u:%u", &major, &minor) != 2)
			continue;

		snprintf(path, sizeof(path), "/vgpuvm-%s", de->d_name);
		if (mknod(path, S_IFCHR | 0600, makedev(major, minor)) < 0 && errno != EEXIST)
			die("mknod power button");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open power button");
		fds[n].fd = fd;
		fds[n].events = POLLIN;
		n++;
	}
	closedir(d);
	return n;
}

/*
 * The console reads whole lines, bytes as typed: no echo, and Ctrl-C is a byte like any other rather than a signal.
 * fds[0] becomes the console, for wait_power_key() to answer.
 */
static void listen_console(struct pollfd *fds)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &t) == 0) {
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ISIG | IEXTEN);
		t.c_lflag |= ICANON;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	fds[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
}

/* Answers a line from the console with its bytes in hex, without the newline. */
static void answer_line(int fd)
{
	char line[256], hex[2 * sizeof(line) + 1];
	ssize_t len = read(fd, line, sizeof(line));

	if (len <= 0)
		return;
	if (line[len - 1] == '\n')
		len--;
	for (ssize_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)line[i]);
	hex[2 * len] = '\0';
	say("VGPUVM-GUEST-GOT %s", hex);
}

/* Blocks until one of the buttons reports KEY_POWER going down; with echo, fds[0] is the console. */
static void wait_power_key(struct pollfd *fds, int n, bool echo)
{
	for (;;) {
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int i = 0; i < n; i++) {
			struct input_event ev[16];
			ssize_t len;

			if (!(fds[i].revents & POLLIN))
				continue;
			if (echo && i == 0) {
				answer_line(fds[0].fd);
				continue;
			}
			len = read(fds[i].fd, ev, sizeof(ev));
			if (len < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				die("read power button");
			}
			for (size_t k = 0; k < (size_t)len / sizeof(ev[0]); k++)
				if (ev[k].type == EV_KEY && ev[k].code == KEY_POWER && ev[k].value == 1)
					return;
		}
	}
}

int main(void)
{
	struct pollfd fds[1 + MAX_BUTTONS], *buttons = fds + 1;
	enum guest_mode mode;
	int n;

	mount_fs("devtmpfs", "/dev");
	open_console();
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mode = read_mode();

	switch (mode) {
	case MODE_SELFOFF:
		say("VGPUVM-GUEST-READY");
		say("VGPUVM-GUEST-POWEROFF");
		power_off();
	case MODE_IGNORE:
		say("VGPUVM-GUEST-READY");
		for (;;)
			pause();
	case MODE_BUTTON:
	default:
		break;
	}

	load_modules();
	n = open_power_buttons(buttons, MAX_BUTTONS);
	if (n == 0) {
		errno = ENODEV;
		die("no input device named \"Power Button\"");
	}
	if (mode == MODE_ECHO) {
		listen_console(fds);
		say("VGPUVM-GUEST-READY");
		wait_power_key(fds, n + 1, true);
	} else {
		say("VGPUVM-GUEST-READY");
		wait_power_key(buttons, n, false);
	}
	say("VGPUVM-GUEST-POWEROFF");
	power_off();
}
