/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fdpass.h"
#include "util/macro.h"

void fdpass_init(struct fdpass *q)
{
	q->n = 0;
}

int fdpass_add(struct fdpass *q, size_t at, int fd)
{
	if (fd < 0)
		return -EBADF;
	/* One fd per byte: two at one byte would need a write of no bytes for the second. */
	if (q->n > 0 && at <= q->e[q->n - 1].at) {
		close(fd);
		return -EINVAL;
	}
	if (q->n >= FDPASS_MAX) {
		close(fd);
		return -ENOBUFS;
	}
	q->e[q->n].at = at;
	q->e[q->n].fd = fd;
	q->n++;
	return 0;
}

static void pop(struct fdpass *q)
{
	close(q->e[0].fd);
	memmove(q->e, q->e + 1, (q->n - 1) * sizeof(q->e[0]));
	q->n--;
}

ssize_t fdpass_send(struct fdpass *q, int sock, const void *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	bool with_fd = q->n > 0 && q->e[0].at == 0;
	ssize_t n;

	/* Bytes before the next fd go out without it; the fd's own write stops short of the fd after it. */
	if (q->n > 0 && !with_fd && len > q->e[0].at)
		iov.iov_len = q->e[0].at;
	else if (with_fd && q->n > 1 && len > q->e[1].at)
		iov.iov_len = q->e[1].at;
	if (with_fd) {
		struct cmsghdr *c;

		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &q->e[0].fd, sizeof(int));
	}
	n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return negative_errno();
	/* A write of 0 bytes carries no fd over a stream socket: only a write that took bytes sent it. */
	if (with_fd && n > 0)
		pop(q);
	for (size_t i = 0; i < q->n; i++)
		q->e[i].at -= (size_t)n < q->e[i].at ? (size_t)n : q->e[i].at;
	return n;
}

void fdpass_clear(struct fdpass *q)
{
	while (q->n > 0)
		pop(q);
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags, int *ret_fds, size_t max, size_t *ret_n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	size_t k = 0;
	ssize_t n;

	*ret_n = 0;
	n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return negative_errno();
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			/* More than the caller takes, or a truncated message: not what any peer of ours sends. */
			if (k < max && !(msg.msg_flags & MSG_CTRUNC))
				ret_fds[k++] = fd;
			else
				close(fd);
		}
	}
	*ret_n = k;
	return n;
}
