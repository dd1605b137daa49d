/*
 * gv_utf8.h - strict UTF-8 decoding (no overlongs, no surrogates, nothing
 * above U+10FFFF), as Erlang requires of atom text.
 */
#ifndef GV_UTF8_H
#define GV_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point from s[0..len). Returns the number of bytes used
 * (1..4) and stores the code point in *cp, or returns 0 for an invalid or
 * truncated sequence. */
size_t gv_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);

/* Encodes cp (at most U+10FFFF, not a surrogate) into out[0..4). Returns
 * the number of bytes written, or 0 for an invalid code point. */
size_t gv_utf8_put(uint32_t cp, uint8_t out[4]);

/* Counts the code points of s[0..len), or returns false when s is not
 * valid UTF-8. */
bool gv_utf8_count(const uint8_t *s, size_t len, size_t *count);

#endif
