/* SPDX-License-Identifier: MIT */
/* Who is at the other end of a local socket, as the kernel saw it at connect(). */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Whether the peer on fd (whose SO_PEERCRED is cred) is in group gid: by its primary group, or by a supplementary one
 * (SO_PEERGROUPS). Both are the peer's credentials as they were when it connected, which it cannot change afterwards.
 */
bool peer_in_group(int fd, const struct ucred *cred, gid_t gid);
