/* SPDX-License-Identifier: MIT */
/* Strict UTF-8, as RFC 3629 defines it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether the n bytes at s are valid UTF-8: no overlong form, no surrogate (U+D800-U+DFFF), nothing above U+10FFFF,
 * no stray continuation byte, no sequence cut short. json-c's own check lets overlong forms and surrogates through.
 * *ret_bad (optional) gets the offset of the first bad byte.
 */
bool utf8_valid(const char *s, size_t n, size_t *ret_bad);

/*
 * A copy of the NUL-terminated s with each byte that is not part of valid UTF-8 replaced by U+FFFD: for text vgpuvm
 * did not choose (a file name) that goes into its JSON, which must stay UTF-8. NULL without memory.
 */
char *utf8_make_valid(const char *s);
