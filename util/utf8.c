/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

bool utf8_valid(const char *s, size_t n, size_t *ret_bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		/* The range of the second byte, which is where overlong forms, surrogates and values past U+10FFFF show. */
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

char *utf8_make_valid(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0, bad;
	/* Each bad byte becomes three; nothing else grows. */
	char *r = malloc(n * 3 + 1);

	if (!r)
		return NULL;
	while (i < n) {
		if (utf8_valid(s + i, n - i, &bad))
			bad = n - i;
		memcpy(r + o, s + i, bad);
		o += bad;
		i += bad;
		if (i < n) {
			memcpy(r + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	r[o] = 0;
	return r;
}
