/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every part of vgpuvm: scope-based cleanup in the style of systemd and crun, so that error
 * paths cannot leak memory or file descriptors.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* A UUID as text, 8-4-4-4-12 hexadecimal digits, and its NUL. */
#define UUID_STRING_SIZE 37

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/*
 * GCC 12's -fanalyzer does not follow __attribute__((cleanup)) on a path that returns before a later statement: it
 * reports the cleanup of a variable declared "= NULL" as a use of an uninitialised value (make analyze showed it at
 * every early return). Every _cleanup_free_ variable here is initialised, which -Wall's own uninitialised checks keep
 * true, so that one report is silenced at the one line it points to.
 */
#define ANALYZER_CLEANUP_BEGIN ANALYZER_IGNORE_BEGIN("-Wanalyzer-use-of-uninitialized-value")
#define ANALYZER_CLEANUP_END ANALYZER_IGNORE_END

/*
 * Silences one of gcc -fanalyzer's warnings for the statements between BEGIN and END: only for a false positive, at
 * the line it points to, with a comment saying why (make analyze). Nothing for other compilers.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define ANALYZER_PRAGMA_(x) _Pragma(#x)
#define ANALYZER_IGNORE_BEGIN(w) _Pragma("GCC diagnostic push") ANALYZER_PRAGMA_(GCC diagnostic ignored w)
#define ANALYZER_IGNORE_END _Pragma("GCC diagnostic pop")
#else
#define ANALYZER_IGNORE_BEGIN(w)
#define ANALYZER_IGNORE_END
#endif

static inline void freep(void *p)
{
	ANALYZER_CLEANUP_BEGIN
	free(*(void **)p);
	ANALYZER_CLEANUP_END
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

/* Frees a NULL-terminated array of strings and the array itself. */
static inline void strv_free(char **l)
{
	if (!l)
		return;
	for (char **i = l; *i; i++)
		free(*i);
	free(l);
}

static inline void strv_freep(char ***l)
{
	strv_free(*l);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Hands a pointer on to a new owner: returns it and leaves NULL behind, so the cleanup helper does nothing. */
#define steal_pointer(pp)                                                                                              \
	({                                                                                                             \
		__typeof__(*(pp)) _p = *(pp);                                                                          \
		*(pp) = NULL;                                                                                          \
		_p;                                                                                                    \
	})

/* The same for file descriptors. */
#define TAKE_FD(fd)                                                                                                    \
	({                                                                                                             \
		int _fd = (fd);                                                                                        \
		(fd) = -1;                                                                                             \
		_fd;                                                                                                   \
	})

/* Frees p and returns NULL, for "p = mfree(p);". */
static inline void *mfree(void *p)
{
	free(p);
	return NULL;
}

static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* Closes fd if it is open and returns -1, for "fd = safe_close(fd);". */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}
