/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 as RFC 3629 and Unicode's Table 3-7 define it: outside bytes checked strictly on their way in, and text from
 * the host (sysfs attributes, directory names) on its way out: as valid UTF-8 for JSON, and with its control
 * characters escaped for a terminal, where an escape sequence or a line break could otherwise paint over the output
 * or fake a line of it.
 */
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
 * A copy of s in which each ill-formed UTF-8 sequence is U+FFFD: one for each maximal subpart, as Unicode 15 §3.9
 * ("U+FFFD Substitution of Maximal Subparts") and the WHATWG decoder do, so that Latin-1 text and a character cut
 * in half both come out readable. NULL without memory.
 */
char *utf8_make_valid(const char *s);

/*
 * utf8_make_valid(s) for a terminal: C0 controls (tab and newline included), DEL and the C1 controls U+0080-U+009F
 * become "\xNN" (NN the code point in hex), and a backslash "\\", so that the escaped text is one line, paints
 * nothing and reads back unambiguously. NULL without memory.
 */
char *utf8_escape_controls(const char *s);

/* The number of code points in s, which is valid UTF-8: the columns it takes, for all but wide characters. */
size_t utf8_columns(const char *s);
