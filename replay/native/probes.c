/* See probes.h. statm is read with pread on a descriptor opened once, into a static buffer. */
#define _GNU_SOURCE
#include "probes.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <unistd.h>

static int statm_fd = -1;
static int use_glibc;
static uint64_t page_size = 4096;
static int source = FP_STATM;
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static int (*tc_property)(const char *, size_t *);
static void (*mi_info)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *);

int probes_init(int glibc)
{
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (uint64_t)ps;
    use_glibc = glibc;
    if (glibc)
        return source = FP_MALLINFO2;
    /* RTLD_DEFAULT finds the LD_PRELOADed allocator's exports. */
    if ((je_mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl")))
        return source = FP_JEMALLOC;
    if ((tc_property = (int (*)(const char *, size_t *))dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty")))
        return source = FP_TCMALLOC;
    if ((mi_info = (void (*)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *))
             dlsym(RTLD_DEFAULT, "mi_process_info")))
        return source = FP_MIMALLOC;
    return source = FP_STATM;
}

/* statm fields: size resident shared text lib data dt (pages). */
static void read_statm(uint64_t field[7])
{
    static __thread char buf[256]; /* per thread: concurrent-mode samples may overlap */
    for (int i = 0; i < 7; i++)
        field[i] = 0;
    if (statm_fd < 0)
        return;
    ssize_t n = pread(statm_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    int f = 0;
    for (ssize_t i = 0; i < n && f < 7; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9')
            field[f] = field[f] * 10 + (uint64_t)(c - '0');
        else if (c == ' ' || c == '\n')
            f++;
    }
}

uint64_t probe_rss(void)
{
    uint64_t f[7];
    read_statm(f);
    return (f[1] > f[2] ? f[1] - f[2] : 0) * page_size;
}

uint64_t probe_footprint(void)
{
    switch (source) {
    case FP_MALLINFO2: {
        struct mallinfo2 mi = mallinfo2();
        return (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
    }
    case FP_JEMALLOC: {
        uint64_t epoch = 1;
        size_t mapped = 0, len = sizeof mapped;
        je_mallctl("epoch", NULL, NULL, &epoch, sizeof epoch);
        if (je_mallctl("stats.mapped", &mapped, &len, NULL, 0) == 0)
            return mapped;
        break;
    }
    case FP_TCMALLOC: {
        size_t heap = 0, unmapped = 0;
        if (tc_property("generic.heap_size", &heap)) {
            tc_property("tcmalloc.pageheap_unmapped_bytes", &unmapped);
            return heap > unmapped ? heap - unmapped : 0;
        }
        break;
    }
    case FP_MIMALLOC: {
        size_t elapsed, user, sys, rss, peak_rss, commit = 0, peak_commit, faults;
        mi_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
        return commit;
    }
    default:
        break;
    }
    uint64_t f[7];
    read_statm(f);
    return f[5] * page_size;
}

void probe_mallinfo(uint64_t *arena, uint64_t *hblkhd, uint64_t *uordblks, uint64_t *fordblks)
{
    *arena = *hblkhd = *uordblks = *fordblks = 0;
    if (!use_glibc)
        return;
    struct mallinfo2 mi = mallinfo2();
    *arena = mi.arena;
    *hblkhd = mi.hblkhd;
    *uordblks = mi.uordblks;
    *fordblks = mi.fordblks;
}

uint64_t probe_in_use(void)
{
    if (!use_glibc)
        return 0;
    return (uint64_t)mallinfo2().uordblks;
}
