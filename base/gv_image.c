/*
 * gv_image.c - the main program's read-only segments (ELF, via
 * dl_iterate_phdr, whose first object is always the main program).
 */
#include "gv_image.h"

#include <link.h>
#include <pthread.h>
#include <stdint.h>

#define MAX_RANGES 8

typedef struct range {
    uintptr_t lo, hi;
} range;

static range s_ranges[MAX_RANGES];
static unsigned s_nranges;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static int s_main_program(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    for (size_t i = 0; i < info->dlpi_phnum && s_nranges < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && !(ph->p_flags & PF_W)) {
            uintptr_t lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
            s_ranges[s_nranges++] = (range){lo, lo + ph->p_filesz};
        }
    }
    return 1; /* the first object is the main program: stop there */
}

static void s_scan(void)
{
    dl_iterate_phdr(s_main_program, NULL);
}

bool gv_image_is_fixed(const void *p, size_t len)
{
    /* pthread_once orders the scan's writes before every reader. */
    pthread_once(&s_once, s_scan);
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < s_nranges; i++)
        if (a >= s_ranges[i].lo && a < s_ranges[i].hi && len < s_ranges[i].hi - a)
            return true;
    return false;
}
