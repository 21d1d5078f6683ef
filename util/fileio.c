/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/macro.h"

int read_one_line(const char *path, size_t max, char **ret)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, forever if none comes. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	/* sysfs attributes and /proc files are regular files; a FIFO, socket or device here is not one of them. */
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	while (len < max && (n = read(fd, buf + len, max - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		len += (size_t)n;
	}
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = 0;
	*ret = steal_pointer(&buf);
	return 0;
}

int read_uint64(const char *path, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	unsigned long long v;
	char *end;
	int r;

	if ((r = read_one_line(path, 64, &s)) < 0)
		return r;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end || s[0] == '-')
		return -EBADMSG;
	*ret = v;
	return 0;
}

int write_string(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(s);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if ((size_t)n != len)
		return -EIO;
	/* Some attributes report their error only when the file is closed. */
	n = close(TAKE_FD(fd));
	return n < 0 && errno != EINTR ? negative_errno() : 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return negative_errno();
			*s = '/';
		}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}
