/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/launch/identity.h"
#include "supervisor/host/users.h"
#include "util/errmsg.h"
#include "util/macro.h"

bool identity_in_group(const struct identity *id, gid_t gid)
{
	if (gid == id->gid)
		return true;
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

/* Without root there is nothing to drop to: QEMU runs as the caller, with the caller's groups. */
static int resolve_unprivileged(const struct profile *p, gid_t gid, struct identity *id, char **ret_error)
{
	struct user_info u = {};
	char self[32];
	int n;

	if (p->user) {
		int r = user_lookup(p->user, &u);
		uid_t uid = u.uid;

		user_info_done(&u);
		if (r < 0 || uid != geteuid())
			return errmsg(
			    ret_error, -EPERM,
			    "%s: user: vgpuvm runs as uid %ld and cannot start QEMU as \"%s\" without root; remove "
			    "\"user\" from the profile, or run vgpuvm as root",
			    p->path, (long)geteuid(), p->user);
	}
	id->uid = geteuid();
	id->gid = getegid();
	n = getgroups(0, NULL);
	if (n < 0 || !(id->groups = calloc((size_t)n + 1, sizeof(gid_t))))
		return -ENOMEM;
	id->groups[0] = id->gid;
	n = getgroups(n, id->groups + 1);
	id->n_groups = n < 0 ? 1 : (size_t)n + 1;
	if (p->group && !identity_in_group(id, gid))
		return errmsg(
		    ret_error, -EPERM,
		    "%s: group: vgpuvm's user is not in group \"%s\", so QEMU cannot run as it without root; join it "
		    "(usermod -aG %s $USER, then log in again), or remove \"group\"",
		    p->path, p->group, p->group);
	snprintf(self, sizeof(self), "%ld", (long)geteuid());
	if (user_lookup(self, &u) == 0) {
		id->name = steal_pointer(&u.name);
		id->home = steal_pointer(&u.home);
	}
	return 0;
}

/* Whether any passwd or group entry has the number n: a dynamic uid must be nobody's. */
static bool id_taken(unsigned n)
{
	struct user_info u = {};
	char name[32];
	bool taken;

	snprintf(name, sizeof(name), "%u", n);
	taken = user_lookup(name, &u) == 0 && u.name;
	user_info_done(&u);
	return taken || group_gid_exists((gid_t)n);
}

/*
 * Takes a uid of the DynamicUser range for this VM: the first free one from a hash of its name on, free meaning that
 * no passwd or group entry has it and its lock file in lock_dir can be locked (the OFD lock systemd takes on the same
 * files). Returns the lock's fd, which holds the uid until it is closed.
 */
static int take_dynamic(const char *name, const char *lock_dir, uid_t *ret)
{
	const unsigned span = IDENTITY_DYNAMIC_LAST - IDENTITY_DYNAMIC_FIRST + 1;
	unsigned h = 2166136261u;

	if (mkdir(lock_dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (unsigned i = 0; i < span; i++) {
		unsigned uid = IDENTITY_DYNAMIC_FIRST + (h + i) % span;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		char path[PATH_MAX];
		int fd;

		if (id_taken(uid))
			continue;
		snprintf(path, sizeof(path), "%s/%u", lock_dir, uid);
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return negative_errno();
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			close(fd);
			continue;
		}
		/* The name, as systemd writes its dynamic user's: who holds it, for a person looking. */
		if (ftruncate(fd, 0) < 0 || write(fd, name, strlen(name)) < 0) {
			/* Only informative: the lock is what counts. */
		}
		*ret = (uid_t)uid;
		return fd;
	}
	return -EUSERS;
}

int identity_resolve(const struct profile *p, const char *lock_dir, struct identity *ret, char **ret_error)
{
	struct identity id = { .lock_fd = -1 };
	struct user_info u = {};
	gid_t gid = (gid_t)-1;
	int r;

	if (p->group && group_lookup(p->group, &gid) < 0)
		return errmsg(
		    ret_error, -ENOENT,
		    "%s: group: no group named \"%s\" in /etc/group; create it (groupadd --system %s) or give a number",
		    p->path, p->group, p->group);
	if (geteuid() != 0) {
		r = resolve_unprivileged(p, gid, &id, ret_error);
		if (r < 0) {
			identity_done(&id);
			return r;
		}
		*ret = id;
		return 0;
	}

	r = user_lookup(p->user ?: IDENTITY_DEFAULT_USER, &u);
	if (r == -ENOENT && !p->user && lock_dir) {
		uid_t uid;

		/* No system user for QEMU: a uid of its own, which owns no file and runs no other process. */
		r = take_dynamic(p->name, lock_dir, &uid);
		if (r == -EUSERS)
			return errmsg(ret_error, r,
				      "no free uid in %d-%d for QEMU; create a user for it (useradd --system "
				      "--no-create-home --shell /usr/sbin/nologin %s)",
				      IDENTITY_DYNAMIC_FIRST, IDENTITY_DYNAMIC_LAST, IDENTITY_DEFAULT_USER);
		if (r < 0)
			return errmsg(ret_error, r, "Failed to take a dynamic uid in %s: %s", lock_dir, strerror(-r));
		id.lock_fd = r;
		id.dynamic = true;
		u = (struct user_info){ .home = strdup("/"), .uid = uid, .gid = (gid_t)uid };
		if (asprintf(&u.name, "vgpuvm-%u", (unsigned)uid) < 0)
			u.name = NULL;
		if (!u.name || !u.home) {
			user_info_done(&u);
			identity_done(&id);
			return -ENOMEM;
		}
		r = 0;
	}
	if (r == -ENOENT)
		return errmsg(
		    ret_error, -ENOENT,
		    "%s: user: no user named \"%s\" in /etc/passwd; create it (useradd --system --no-create-home "
		    "--shell /usr/sbin/nologin %s) or give a number",
		    p->path, p->user ?: IDENTITY_DEFAULT_USER, p->user ?: IDENTITY_DEFAULT_USER);
	if (r < 0)
		return errmsg(ret_error, r, "Failed to read /etc/passwd: %s", strerror(-r));
	if (u.uid == 0 || (p->group && gid == 0)) {
		user_info_done(&u);
		return errmsg(
		    ret_error, -EPERM,
		    "%s: %s: QEMU never runs as root (it runs the guest, which an attacker may control); name an "
		    "unprivileged %s, or remove the key",
		    p->path, u.uid == 0 ? "user" : "group", u.uid == 0 ? "user" : "group");
	}
	id.change = true;
	id.uid = u.uid;
	id.gid = p->group ? gid : u.gid;
	id.name = steal_pointer(&u.name);
	id.home = steal_pointer(&u.home);
	/* A dynamic uid is in no group of /etc/group: its own gid is all it has. */
	r = user_groups(id.dynamic ? NULL : id.name, id.gid, &id.groups, &id.n_groups);
	if (r < 0) {
		identity_done(&id);
		return errmsg(ret_error, r, "Failed to read /etc/group: %s", strerror(-r));
	}
	*ret = id;
	return 0;
}

void identity_done(struct identity *id)
{
	if (id->lock_fd > 0)
		close(id->lock_fd);
	free(id->groups);
	free(id->name);
	free(id->home);
	*id = (struct identity){ .lock_fd = -1 };
}

/* What a display, sound, a locale and QEMU's own lookups need; everything else the supervisor has stays with it. */
static const char *const passed_env[] = {
	"PATH",
	"LANG",
	"LANGUAGE",
	"LC_*",
	"TZ",
	"TERM",
	"DISPLAY",
	"XAUTHORITY",
	"WAYLAND_DISPLAY",
	"XDG_RUNTIME_DIR",
	"XDG_SESSION_TYPE",
	"DBUS_SESSION_BUS_ADDRESS",
	"SDL_VIDEODRIVER",
	"GDK_BACKEND",
	"MESA_*",
	"LIBGL_*",
	"__GLX_*",
	"EGL_*",
	/* where "audio": "pa" finds the session's sound server and its cookie, when not in XDG_RUNTIME_DIR and HOME */
	"PULSE_SERVER",
	"PULSE_COOKIE",
};

static bool passed(const char *var, const char *const *names, size_t n)
{
	size_t k = strcspn(var, "=");
	char name[256];

	if (k >= sizeof(name))
		return false;
	memcpy(name, var, k);
	name[k] = 0;
	for (size_t i = 0; i < n; i++)
		if (fnmatch(names[i], name, 0) == 0)
			return true;
	return false;
}

/* Appends s unless a later source (the profile) sets the same variable. */
static int push(char ***v, size_t *n, const char *s, char **later)
{
	size_t k = strcspn(s, "=");
	char **t, *d;

	for (char **l = later; l && *l; l++)
		if (strncmp(*l, s, k) == 0 && (*l)[k] == '=')
			return 0;
	d = strdup(s);
	t = realloc(*v, (*n + 2) * sizeof(char *));
	if (!d || !t) {
		free(d);
		if (t) {
			/* Still terminated where it was: realloc kept the old entries, and strv_free() reads them. */
			t[*n] = NULL;
			*v = t;
		}
		return -ENOMEM;
	}
	*v = t;
	t[(*n)++] = d;
	t[*n] = NULL;
	/* d is in *v now; the analyzer loses it through the realloc'd array it was stored in. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	return 0;
	ANALYZER_IGNORE_END
}

char **identity_env(const struct identity *id, char **base, char **profile_env)
{
	static const char *const own[] = { "HOME", "USER", "LOGNAME" };
	char **v = malloc(sizeof(char *));
	size_t n = 0;
	int r = v ? 0 : -ENOMEM;

	/* Terminated by hand rather than by calloc(), which GCC 12's analyzer takes for uninitialised memory. */
	if (v)
		v[0] = NULL;

	for (char **e = base; r == 0 && e && *e; e++)
		if (passed(*e, passed_env, ELEMENTSOF(passed_env)))
			r = push(&v, &n, *e, profile_env);
	/* execvp() finds QEMU through the child's PATH. */
	if (r == 0 && !getenv("PATH"))
		r = push(&v, &n, "PATH=/usr/local/bin:/usr/bin:/bin", profile_env);
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(own); i++) {
		const char *val = i == 0 ? id->home : id->name;
		char *s;

		if (!val)
			continue;
		if (asprintf(&s, "%s=%s", own[i], val) < 0)
			r = -ENOMEM;
		else {
			r = push(&v, &n, s, profile_env);
			free(s);
		}
	}
	/*
	 * GTK's accessibility bridge starts a D-Bus session bus (fork and exec of dbus-launch) when there is none, as
	 * under a system service, and QEMU's sandbox kills QEMU for it. A VM's window has no use for a screen reader's
	 * bridge; a profile that wants it sets NO_AT_BRIDGE=0 and relaxes "spawn".
	 */
	if (r == 0)
		r = push(&v, &n, "NO_AT_BRIDGE=1", profile_env);
	for (char **e = profile_env; r == 0 && e && *e; e++)
		r = push(&v, &n, *e, NULL);
	if (r < 0) {
		strv_free(v);
		return NULL;
	}
	return v;
}
