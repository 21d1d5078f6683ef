/* SPDX-License-Identifier: MIT */
/*
 * Two small checks for the end-to-end scenarios, so that they need neither python nor an image toolkit in the guest:
 *
 *   e2e-util gradient FILE.png      is this the kernel's mdpy sample picture? mdpy fills its framebuffer with a grey
 *                                   gradient, row y at y * 255 / height: black at the top, near white at the bottom.
 *                                   Prints the size and the mean grey of the top and bottom rows; exit 0 when it is
 *                                   the gradient, 1 when it is another picture (QEMU's "display not initialized"
 *                                   placeholder, say), 2 when the file is no PNG.
 *   e2e-util wait-pid PID SECONDS   waits until a process that is not our child is gone (pidfd_open and poll: an
 *                                   event, not a sleep loop); exit 0 when it is gone, 1 on timeout, 2 on error.
 *
 * Built by tests/e2e/setup.sh with -lpng.
 */
#include <errno.h>
#include <poll.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The rows averaged at each end, and how dark and how light they must be. */
#define BAND 8
#define DARK_MAX 24.0
#define LIGHT_MIN 224.0

static double row_mean(const png_byte *row, png_uint_32 width)
{
	unsigned long sum = 0;

	for (png_uint_32 x = 0; x < width; x++)
		sum += row[x];
	return (double)sum / width;
}

static int gradient(const char *file)
{
	png_image img;
	png_bytep buf;
	double top = 0, bottom = 0, prev = -1;
	int monotonic = 1;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, file)) {
		fprintf(stderr, "e2e-util: %s: %s\n", file, img.message);
		return 2;
	}
	/* libpng converts to 8-bit grey (luminance) whatever the file holds. */
	img.format = PNG_FORMAT_GRAY;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
		fprintf(stderr, "e2e-util: %s: %s\n", file, buf ? img.message : "out of memory");
		free(buf);
		png_image_free(&img);
		return 2;
	}
	if (img.height < 4 * BAND || img.width == 0) {
		printf("%ux%u: too small for the gradient\n", img.width, img.height);
		free(buf);
		return 1;
	}
	for (png_uint_32 y = 0; y < img.height; y++) {
		double m = row_mean(buf + (size_t)y * img.width, img.width);

		if (y < BAND)
			top += m / BAND;
		if (y >= img.height - BAND)
			bottom += m / BAND;
		/* Each row as light as the one above it, give or take rounding. */
		if (m + 1.0 < prev)
			monotonic = 0;
		prev = m;
	}
	free(buf);
	printf("%ux%u, mean grey of the top %d rows %.1f, of the bottom %d rows %.1f, %s top to bottom\n", img.width,
	       img.height, BAND, top, BAND, bottom, monotonic ? "growing" : "not growing");
	return top <= DARK_MAX && bottom >= LIGHT_MIN && monotonic ? 0 : 1;
}

static int wait_pid(const char *pid_s, const char *secs_s)
{
	char *end;
	long pid = strtol(pid_s, &end, 10);
	double secs = strtod(secs_s, NULL);
	struct pollfd p = { .events = POLLIN };
	int r;

	if (*end || pid <= 0 || secs <= 0) {
		fprintf(stderr, "e2e-util: wait-pid: bad PID or SECONDS\n");
		return 2;
	}
	p.fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (p.fd < 0)
		return errno == ESRCH ? 0 : (perror("e2e-util: pidfd_open"), 2);
	do
		r = poll(&p, 1, (int)(secs * 1000));
	while (r < 0 && errno == EINTR);
	close(p.fd);
	if (r < 0) {
		perror("e2e-util: poll");
		return 2;
	}
	return r > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "gradient"))
		return gradient(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "wait-pid"))
		return wait_pid(argv[2], argv[3]);
	fprintf(stderr, "usage: e2e-util gradient FILE.png | e2e-util wait-pid PID SECONDS\n");
	return 64;
}
