/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * The well-formed UTF-8 sequence at s (Unicode Table 3-7): returns its length and its code point in *ret_cp. When
 * there is none, returns 0 and the length of the maximal subpart in *ret_bad (at least 1): the bytes one U+FFFD
 * stands for. The NUL at the end of s is never a continuation byte, so nothing is read past it.
 */
static size_t decode(const unsigned char *s, uint32_t *ret_cp, size_t *ret_bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	uint32_t cp;
	size_t n;

	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
	} else {
		*ret_bad = 1;
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*ret_bad = i;
			return 0;
		}
		cp = cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*ret_cp = cp;
	return n;
}

/*
 * Unlike decode(), which leans on the NUL that ends a C string, this reads exactly n bytes: a buffer from outside may
 * hold a NUL, and need not have one after its end.
 */
bool utf8_valid(const char *s, size_t n, size_t *ret_bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		/* The range of the second byte, which is where overlong forms, surrogates and values past U+10FFFF
		 * show. */
		unsigned char lo = 0x80, hi = 0xbf;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong below U+0800 */
			else if (c == 0xed)
				hi = 0x9f; /* U+D800-U+DFFF */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else
			goto bad; /* a continuation byte, 0xc0/0xc1 (overlong ASCII), or 0xf5 and up */
		if (n - i <= k || p[i + 1] < lo || p[i + 1] > hi)
			goto bad;
		for (size_t j = 2; j <= k; j++)
			if (p[i + j] < 0x80 || p[i + j] > 0xbf)
				goto bad;
		i += k + 1;
	}
	return true;
bad:
	if (ret_bad)
		*ret_bad = i;
	return false;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static char *convert(const char *s, bool escape)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	while (*p) {
		uint32_t cp = 0;
		size_t bad = 0, n = decode(p, &cp, &bad);

		if (n == 0) {
			fputs(replacement, f);
			p += bad;
		} else if (escape && is_control(cp)) {
			fprintf(f, "\\x%02x", (unsigned)cp);
			p += n;
		} else if (escape && cp == '\\') {
			fputs("\\\\", f);
			p += n;
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

char *utf8_make_valid(const char *s)
{
	return convert(s, false);
}

char *utf8_escape_controls(const char *s)
{
	return convert(s, true);
}

size_t utf8_columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}
