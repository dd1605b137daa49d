/*
 * gv_image.h - what the program's own image says about an address.
 */
#ifndef GV_IMAGE_H
#define GV_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

/* True when p[0..len) lies wholly inside a read-only segment of the main
 * program (its string literals, for one): bytes there never change while
 * the process lives, and the main program is never unloaded, so the
 * address alone names the bytes for good. False for anything else (the
 * stack, the heap, writable data, shared libraries, which may be
 * unloaded). Any thread; never blocks after the first call. */
bool gv_image_is_fixed(const void *p, size_t len);

#endif
