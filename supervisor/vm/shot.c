/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "supervisor/vm/shot.h"
#include "util/macro.h"

#define SEALS_FROZEN (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)

static const unsigned char png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

int shot_args_new(int64_t n, struct shot_args *ret)
{
	struct shot_args a = { json_object_new_object(), json_object_new_object(), json_object_new_object() };
	int64_t set = SHOT_FDSET_BASE + n;
	char path[64];

	if (!a.add_fd || !a.screendump || !a.remove_fd) {
		shot_args_done(&a);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/dev/fdset/%" PRId64, set);
	json_object_object_add(a.add_fd, "fdset-id", json_object_new_int64(set));
	json_object_object_add(a.add_fd, "opaque", json_object_new_string("vgpuvm screenshot"));
	json_object_object_add(a.screendump, "filename", json_object_new_string(path));
	json_object_object_add(a.screendump, "format", json_object_new_string("png"));
	json_object_object_add(a.remove_fd, "fdset-id", json_object_new_int64(set));
	*ret = a;
	return 0;
}

void shot_args_done(struct shot_args *a)
{
	json_object_put(a->add_fd);
	json_object_put(a->screendump);
	json_object_put(a->remove_fd);
	*a = (struct shot_args){};
}

/* Opens our own fd again with another access mode: a new open file description, as /proc's magic link gives. */
static int reopen(int fd, int flags)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, flags | O_CLOEXEC | O_NOCTTY);
	return r < 0 ? negative_errno() : r;
}

int shot_new(int *ret_memfd, int *ret_wfd)
{
	_cleanup_close_ int memfd = -1;
	int wfd;

	memfd = memfd_create("vgpuvm-screenshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return negative_errno();
	/* Only its owner may open it again through /proc (QEMU, for a writable mapping, when it runs as another uid).
	 */
	if (fchmod(memfd, 0600) < 0)
		return negative_errno();
	wfd = reopen(memfd, O_WRONLY);
	if (wfd < 0)
		return wfd;
	*ret_memfd = TAKE_FD(memfd);
	*ret_wfd = wfd;
	return 0;
}

int shot_seal(int memfd, int *ret_fd, uint64_t *ret_size)
{
	unsigned char head[sizeof(png_signature)];
	struct stat st;
	int fd;

	/* From here on no fd QEMU may have kept can change it: what is checked below is what the client gets. */
	if (fcntl(memfd, F_ADD_SEALS, SEALS_FROZEN | F_SEAL_SEAL) < 0)
		return negative_errno();
	if (fstat(memfd, &st) < 0)
		return negative_errno();
	if (st.st_size == 0)
		return -ENODATA;
	if ((uint64_t)st.st_size > SHOT_SIZE_MAX)
		return -EFBIG;
	if (pread(memfd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, png_signature, sizeof(head)) != 0)
		return -EBADMSG;
	fd = reopen(memfd, O_RDONLY);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

const char *shot_strerror(int r)
{
	switch (r) {
	case -EBUSY:
		return "QEMU still maps the screenshot for writing; refusing it";
	case -ENODATA:
		return "QEMU wrote no screenshot";
	case -EFBIG:
		return "the screenshot is larger than 64 MiB; refusing it";
	case -EBADMSG:
		return "what QEMU wrote is not a PNG; refusing it";
	default:
		return strerror(-r);
	}
}

int shot_check(int fd, uint64_t *ret_size)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	/* Only a memfd (or tmpfs file) has seals; sealed, it cannot change under the copy, nor grow without end. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & SEALS_FROZEN) != SEALS_FROZEN)
		return -EBADFD;
	if (st.st_size == 0)
		return -ENODATA;
	if ((uint64_t)st.st_size > SHOT_SIZE_MAX)
		return -EFBIG;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

int shot_open_output(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int flags;

	/* No O_TRUNC here: an existing file is cut only once it is known to be the caller's own plain file. */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
	if (fd < 0) {
		int r = negative_errno();

		/* ENXIO: a FIFO no one reads (O_NONBLOCK makes that an error, not a wait), or a socket. */
		if (r == -ENXIO)
			return -EBADFD;
		/* With O_CREAT, the kernel may refuse a symlink of another user in a sticky directory before O_NOFOLLOW
		 * would: say what it is. */
		if ((r == -EACCES || r == -EPERM) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return -ELOOP;
		return r;
	}
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_nlink > 1)
		return -EMLINK;
	if (st.st_uid != geteuid())
		return -EPERM;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 || ftruncate(fd, 0) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int shot_copy(int in, int out, uint64_t size)
{
	char buf[65536];
	uint64_t off = 0;

	while (off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t n = pread(in, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return negative_errno();
			w += k;
		}
		off += (uint64_t)n;
	}
	return 0;
}
