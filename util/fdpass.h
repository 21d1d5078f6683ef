/* SPDX-License-Identifier: MIT */
/*
 * File descriptors that travel with a byte stream over a unix socket (SCM_RIGHTS): each is tied to one byte of what
 * is queued for writing, and goes out with the write that starts at that byte. The peer gets it with the message that
 * byte begins (QEMU's add-fd, vgpuvm's screenshot reply), never earlier and never with another one.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 8

struct fdpass {
	size_t n;
	struct {
		size_t at; /* offset of its byte from the start of the bytes still to be written */
		int fd;
	} e[FDPASS_MAX];
};

/* An empty queue. */
void fdpass_init(struct fdpass *q);

/*
 * Ties fd to the byte at offset at of what is still to be written; each offset must be above the one before (one fd
 * per byte). Takes fd in every case: on failure (-ENOBUFS when FDPASS_MAX are waiting, -EINVAL) it is closed.
 */
int fdpass_add(struct fdpass *q, size_t at, int fd);

/*
 * Writes once (MSG_DONTWAIT | MSG_NOSIGNAL) from buf, the bytes still to be written: never past the byte of the next
 * fd, and with that fd (which is then closed here) when buf starts at it. Returns the number of bytes written, or a
 * negative errno (-EAGAIN, -EPIPE, ...); the offsets move on by what was written.
 */
ssize_t fdpass_send(struct fdpass *q, int sock, const void *buf, size_t len);

/* Closes every fd still waiting. */
void fdpass_clear(struct fdpass *q);

/*
 * Reads once (recvmsg, MSG_CMSG_CLOEXEC, flags added) into buf. Up to max fds that came with the bytes go into
 * ret_fds (the caller owns them) and their number into *ret_n; any beyond max, and any of a truncated control
 * message, are closed. Returns the number of bytes read (0 at EOF) or a negative errno (-ENOTSOCK for a pipe).
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags, int *ret_fds, size_t max, size_t *ret_n);
