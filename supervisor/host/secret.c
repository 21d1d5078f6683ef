/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/secret.h"
#include "supervisor/host/trust.h"
#include "util/macro.h"

static int fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	va_end(ap);
	return r;
}

int secret_read(const char *path, const char *what, size_t max, char **ret, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t len;
	int r;

	r = trust_path(path, what, ret_error);
	if (r == -ENOENT)
		return fail(ret_error, r, "%s %s does not exist; create it (a line with the password, mode 0600)", what,
			    path);
	if (r < 0)
		return r;
	/* Non-blocking: a FIFO put there would otherwise hold the supervisor until someone writes to it. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return r = negative_errno(),
		       r == -ELOOP ? fail(ret_error, r, "%s %s is a symbolic link; name the file itself", what, path)
				   : fail(ret_error, r, "%s %s cannot be opened: %s", what, path, strerror(-r));
	/* What was opened is what was checked: the same owner and mode rules, on the fd. */
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return fail(ret_error, -EINVAL, "%s %s is not a regular file", what, path);
	if ((st.st_uid != 0 && (trust_is_root() || st.st_uid != geteuid())) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return fail(ret_error, -EPERM,
			    "%s %s must be root's and writable by no one else (chown root: and chmod 0600 it)", what,
			    path);
	buf = malloc(max + 2);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, max + 1);
	if (n < 0)
		return r = negative_errno(), fail(ret_error, r, "%s %s cannot be read", what, path);
	buf[n] = 0;
	len = strcspn(buf, "\r\n");
	buf[len] = 0;
	if (len == 0)
		return fail(ret_error, -EINVAL, "%s %s is empty; its first line is the password", what, path);
	if (len > max || strlen(buf) != len)
		return fail(ret_error, -EINVAL, "%s %s: the password is longer than %zu bytes", what, path, max);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return fail(ret_error, -EINVAL, "%s %s: the password has a control character", what, path);
	*ret = steal_pointer(&buf);
	return 0;
}
