/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profiles/profile_parse.h"
#include "supervisor/host/profile_lookup.h"
#include "util/macro.h"

static int push(char ***l, size_t *n, char *s)
{
	char **v;

	if (!s)
		return -ENOMEM;
	v = realloc(*l, (*n + 2) * sizeof(char *));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[(*n)++] = s;
	v[*n] = NULL;
	*l = v;
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

int profile_search_dirs(char *const *stock_dirs, char ***ret)
{
	_cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
	const char *env = getenv("VGPUVM_PROFILE_PATH"), *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	size_t n = 0;
	int r;

	if (!l)
		return -ENOMEM;
	if (env && *env) {
		_cleanup_free_ char *copy = strdup(env);
		char *save = NULL;

		if (!copy)
			return -ENOMEM;
		for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
			if ((r = push(&l, &n, strdup(d))) < 0)
				return r;
	}
	/* The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored. */
	if (xdg && xdg[0] == '/')
		r = push(&l, &n, join(xdg, "vgpuvm/profiles"));
	else if (home && home[0] == '/')
		r = push(&l, &n, join(home, ".config/vgpuvm/profiles"));
	else
		r = 0;
	if (r < 0 || (r = push(&l, &n, strdup("/etc/vgpuvm/profiles"))) < 0)
		return r;
	for (char *const *d = stock_dirs; d && *d; d++)
		if ((r = push(&l, &n, strdup(*d))) < 0)
			return r;
	*ret = steal_pointer(&l);
	return 0;
}

int profile_find(const char *name, char *const *dirs, char **ret_path, char **ret_error)
{
	_cleanup_free_ char *tried = NULL;
	size_t len = strlen(name);
	struct stat st;

	if (len == 0) {
		if (ret_error)
			*ret_error = strdup("empty profile name");
		return -EINVAL;
	}
	if (strchr(name, '/') || (len > 5 && strcmp(name + len - 5, ".json") == 0)) {
		*ret_path = strdup(name);
		return *ret_path ? 0 : -ENOMEM;
	}
	for (char *const *d = dirs; d && *d; d++) {
		_cleanup_free_ char *p = NULL;
		char *t;

		if (asprintf(&p, "%s/%s.json", *d, name) < 0)
			return -ENOMEM;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			*ret_path = steal_pointer(&p);
			return 0;
		}
		if (asprintf(&t, "%s%s  %s", tried ?: "", tried ? "\n" : "", p) < 0)
			return -ENOMEM;
		free(tried);
		tried = t;
	}
	if (ret_error &&
	    asprintf(ret_error, "no profile named \"%s\"; looked for:\n%s", name, tried ?: "  (nowhere)") < 0)
		return -ENOMEM;
	return -ENOENT;
}

int profile_load(const char *path, char *const *sets, struct profile **ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	struct stat st;
	ssize_t n;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = negative_errno();
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto fail;
	}
	text = malloc(PROFILE_FILE_MAX + 1);
	if (!text)
		return -ENOMEM;
	while ((n = read(fd, text + len, PROFILE_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		r = negative_errno();
		goto fail;
	}
	if (len > PROFILE_FILE_MAX) {
		if (asprintf(ret_error, "%s: larger than 1 MiB; is this really a profile?", path) < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	text[len] = 0;
	return profile_parse(path, text, len, sets, ret, ret_error);
fail:
	if (asprintf(ret_error, "%s: cannot read: %s", path, strerror(-r)) < 0)
		return -ENOMEM;
	return r;
}
