/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profiles/profile.h"
#include "supervisor/host/host.h"
#include "supervisor/launch/audio.h"
#include "supervisor/launch/identity.h"
#include "util/errmsg.h"
#include "util/macro.h"

/* The value of name in a NULL-terminated NAME=VALUE list, or NULL. */
static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Whether id may do what mask asks (S_IROTH, S_IWOTH, S_IXOTH bits) on st by its mode alone. */
static bool may(const struct identity *id, const struct stat *st, mode_t mask)
{
	if (st->st_uid == id->uid)
		return (st->st_mode & (mask << 6)) == (mask << 6);
	if (identity_in_group(id, st->st_gid))
		return (st->st_mode & (mask << 3)) == (mask << 3);
	return (st->st_mode & mask) == mask;
}

/* Whether id can connect to the socket at path: search every directory on the way, write the socket. */
static int reachable(const struct identity *id, const char *path, uid_t *ret_owner)
{
	_cleanup_free_ char *p = strdup(path);
	struct stat st;

	if (!p)
		return -ENOMEM;
	if (stat(path, &st) < 0)
		return negative_errno();
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	*ret_owner = st.st_uid;
	if (!may(id, &st, S_IWOTH))
		return -EACCES;
	for (char *slash = strrchr(p, '/'); slash && slash > p; slash = strrchr(p, '/')) {
		*slash = 0;
		if (stat(p, &st) < 0)
			return negative_errno();
		if (!may(id, &st, S_IXOTH))
			return -EACCES;
	}
	return 0;
}

static int check_pa(const struct identity *id, char **env, char **ret_error)
{
	const char *server = env_get(env, "PULSE_SERVER"), *xdg = env_get(env, "XDG_RUNTIME_DIR");
	_cleanup_free_ char *path = NULL;
	uid_t owner = 0;
	int r;

	if (server) {
		/* Only a local socket can be checked; a server over TCP is QEMU's to reach. */
		if (strncmp(server, "unix:", 5) != 0 && server[0] != '/')
			return 0;
		path = strdup(server[0] == '/' ? server : server + 5);
	} else if (!xdg || xdg[0] != '/')
		return errmsg(
		    ret_error, -ENXIO,
		    "audio \"pa\" plays into the sound server of a desktop session, and there "
		    "is none here: XDG_RUNTIME_DIR is not set. Run vgpuvm in the session (with sudo: sudo "
		    "--preserve-env=XDG_RUNTIME_DIR), set PULSE_SERVER in \"env\", or use \"audio\": \"none\"");
	else if (asprintf(&path, "%s/pulse/native", xdg) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	r = reachable(id, path, &owner);
	if (r == -ENOENT || r == -ENOTSOCK)
		return errmsg(
		    ret_error, -ENXIO,
		    "audio \"pa\": there is no sound server at %s; start PulseAudio or "
		    "PipeWire's pulse server in the session (systemctl --user start pipewire-pulse.socket), or "
		    "use \"audio\": \"none\"",
		    path);
	if (r == -EACCES)
		return errmsg(ret_error, r,
			      "audio \"pa\": QEMU runs as uid %ld, which cannot reach the sound server %s "
			      "of uid %ld; set \"user\" to the session's user, or run vgpuvm as that user",
			      (long)id->uid, path, (long)owner);
	if (r < 0)
		return errmsg(ret_error, r, "audio \"pa\": cannot look at %s: %s", path, strerror(-r));
	return 0;
}

static int check_alsa(const struct identity *id, char **ret_error)
{
	_cleanup_free_ char *dir = host_path(host_dev_root(), "snd"),
			    *control = host_path(host_dev_root(), "snd/controlC0");
	struct stat st;

	if (!dir || !control)
		return -ENOMEM;
	if (stat(control, &st) < 0)
		return errmsg(ret_error, -ENXIO,
			      "audio \"alsa\": there is no sound card (no %s); use \"pa\" or \"none\"", control);
	if (!may(id, &st, S_IROTH | S_IWOTH))
		return errmsg(ret_error, -EACCES,
			      "audio \"alsa\": QEMU runs as uid %ld, which may not open the sound "
			      "cards in %s (group %ld, mode %04o); set \"user\" to a member of their group (usually "
			      "\"audio\"), or use \"pa\"",
			      (long)id->uid, dir, (long)st.st_gid, (unsigned)(st.st_mode & 07777));
	return 0;
}

int audio_check(const struct profile *p, const struct identity *id, char **env, char **ret_error)
{
	_cleanup_strv_free_ char **qemu_env = identity_env(id, env, p->env);

	if (!qemu_env)
		return -ENOMEM;
	switch (p->audio) {
	case PROFILE_AUDIO_PA:
		return check_pa(id, qemu_env, ret_error);
	case PROFILE_AUDIO_ALSA:
		return check_alsa(id, ret_error);
	default:
		return 0;
	}
}
