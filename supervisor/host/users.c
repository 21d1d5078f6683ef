/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/host/host.h"
#include "supervisor/host/users.h"
#include "util/macro.h"

static FILE *open_db(const char *path)
{
	return fopen(path, "re");
}

static bool parse_id(const char *s, unsigned long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoul(s, &end, 10);
	return *s && !*end && errno == 0 && *ret < (unsigned long)(gid_t)-1;
}

/* Splits one line of a colon-separated database into at most max fields, in place. Returns the number of fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = 0;
	while (n < max) {
		f[n++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = 0;
	}
	return n;
}

int group_lookup(const char *name, gid_t *ret)
{
	char line[4096], *f[4];
	unsigned long n;
	FILE *db;

	if (parse_id(name, &n)) {
		*ret = (gid_t)n;
		return 0;
	}
	db = open_db(host_group_file());
	if (!db)
		return negative_errno();
	while (fgets(line, sizeof(line), db))
		/* name:password:gid:members */
		if (split(line, f, 4) >= 3 && strcmp(f[0], name) == 0 && parse_id(f[2], &n)) {
			fclose(db);
			*ret = (gid_t)n;
			return 0;
		}
	fclose(db);
	return -ENOENT;
}

bool group_gid_exists(gid_t gid)
{
	char line[4096], *f[4];
	unsigned long n;
	FILE *db = open_db(host_group_file());
	bool found = false;

	while (db && !found && fgets(line, sizeof(line), db))
		found = split(line, f, 4) >= 3 && parse_id(f[2], &n) && (gid_t)n == gid;
	if (db)
		fclose(db);
	return found;
}

int user_lookup(const char *name, struct user_info *ret)
{
	char line[4096], *f[7];
	unsigned long id, uid, gid;
	bool by_id = parse_id(name, &id);
	FILE *db = open_db(host_passwd_file());

	if (!db && !by_id)
		return negative_errno();
	while (db && fgets(line, sizeof(line), db)) {
		/* name:password:uid:gid:gecos:home:shell */
		if (split(line, f, 7) < 6 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
			continue;
		if (by_id ? uid != id : strcmp(f[0], name) != 0)
			continue;
		fclose(db);
		*ret = (struct user_info){
			.name = strdup(f[0]), .home = strdup(*f[5] ? f[5] : "/"), .uid = (uid_t)uid, .gid = (gid_t)gid
		};
		if (!ret->name || !ret->home) {
			user_info_done(ret);
			return -ENOMEM;
		}
		return 0;
	}
	if (db)
		fclose(db);
	if (!by_id)
		return -ENOENT;
	/* A number with no entry is still a valid identity, as for a container's or a NixOS dynamic user. */
	*ret = (struct user_info){ .home = strdup("/"), .uid = (uid_t)id, .gid = (gid_t)id };
	return ret->home ? 0 : -ENOMEM;
}

void user_info_done(struct user_info *u)
{
	free(u->name);
	free(u->home);
	u->name = u->home = NULL;
}

int user_groups(const char *name, gid_t primary, gid_t **ret, size_t *ret_n)
{
	char line[65536], *f[4];
	gid_t *g = malloc(sizeof(gid_t));
	size_t n = 1;
	unsigned long gid;
	FILE *db;

	if (!g)
		return -ENOMEM;
	g[0] = primary;
	db = name ? open_db(host_group_file()) : NULL;
	while (db && fgets(line, sizeof(line), db)) {
		gid_t *t;
		bool member = false;

		if (split(line, f, 4) < 4 || !parse_id(f[2], &gid) || (gid_t)gid == primary)
			continue;
		for (char *m = strtok(f[3], ","); m && !member; m = strtok(NULL, ","))
			member = strcmp(m, name) == 0;
		if (!member)
			continue;
		t = realloc(g, (n + 1) * sizeof(gid_t));
		if (!t) {
			fclose(db);
			free(g);
			return -ENOMEM;
		}
		g = t;
		g[n++] = (gid_t)gid;
	}
	if (db)
		fclose(db);
	*ret = g;
	*ret_n = n;
	return 0;
}
