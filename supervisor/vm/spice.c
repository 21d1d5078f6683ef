/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "supervisor/host/secret.h"
#include "supervisor/vm/refusals.h"
#include "supervisor/vm/spice.h"
#include "util/macro.h"
#include "util/peercred.h"
#include "util/time-util.h"

struct spice {
	int fd;		/* the local socket, -1 over TCP */
	char *path;	/* its path */
	char *address;	/* TCP: "HOST:PORT" */
	char *password; /* TCP: for set_password */
	uid_t owner;
	gid_t gid;
	uint64_t serial;
	struct refusals refused;
};

/* A viewer's connection waits in the backlog only while the loop turns round: a few are plenty. */
#define SPICE_BACKLOG 8

static int listen_at(struct spice *s, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	if (strlen(s->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return negative_errno();
	/*
	 * The runtime directory is root's and locked (see control_new()): what is there is ours, and stale. Whoever
	 * connects in the moment between bind() and chmod() is still checked at accept (spice_accept()).
	 */
	unlink(s->path);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(s->path, gid == (gid_t)-1 ? 0600 : 0660) < 0 ||
	    (gid != (gid_t)-1 && chown(s->path, (uid_t)-1, gid) < 0) || listen(s->fd, SPICE_BACKLOG) < 0) {
		r = negative_errno();
		unlink(s->path);
		return r;
	}
	return 0;
}

int spice_new(const struct profile *p, const char *dir, gid_t gid, struct spice **ret, char **ret_error)
{
	struct spice *s;
	int r;

	if (p->display.type != PROFILE_DISPLAY_SPICE) {
		*ret = NULL;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct spice){ .fd = -1, .owner = getuid(), .gid = gid };
	if (p->display.listen) {
		if (!(s->address = strdup(p->display.listen)))
			r = -ENOMEM;
		else
			r = secret_read(p->display.password_file, "display.password_file", SECRET_SPICE_MAX,
					&s->password, ret_error);
	} else if (asprintf(&s->path, "%s/%s", dir, SPICE_SOCKET) < 0) {
		s->path = NULL;
		r = -ENOMEM;
	} else
		r = listen_at(s, gid);
	if (r < 0) {
		spice_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void spice_free(struct spice *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	free(s->path);
	free(s->address);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s);
}

size_t spice_pollfds(const struct spice *s, struct pollfd *p, size_t max)
{
	if (!s || s->fd < 0 || max == 0)
		return 0;
	p[0] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
	return 1;
}

int spice_accept(struct spice *s, uint64_t *ret_serial, struct spice_refusal *ret_refused)
{
	uint64_t since;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (!s || s->fd < 0)
		return -EAGAIN;
	/* Blocking: QEMU's SPICE server takes the fd as it is, and sets it up itself. */
	fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
	/*
	 * The socket's mode lets in only these; asking again costs nothing and holds even if the mode were changed, as
	 * the control socket does.
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return -EACCES;
	}
	if (!(cred.uid == 0 || cred.uid == s->owner || (s->gid != (gid_t)-1 && peer_in_group(fd, &cred, s->gid)))) {
		close(fd);
		*ret_refused = (struct spice_refusal){ .uid = cred.uid };
		ret_refused->due = refusals_note(&s->refused, cred.uid, now_usec(), &ret_refused->count, &since);
		return -EACCES;
	}
	*ret_serial = ++s->serial;
	return fd;
}

const char *spice_password(const struct spice *s)
{
	return s ? s->password : NULL;
}

struct json_object *spice_status_json(const struct spice *s)
{
	json_object *o;

	if (!s)
		return NULL;
	o = json_object_new_object();
	if (s->path)
		json_object_object_add(o, "socket", json_object_new_string(s->path));
	else
		json_object_object_add(o, "address", json_object_new_string(s->address));
	return o;
}
