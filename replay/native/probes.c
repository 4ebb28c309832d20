/* See probes.h. statm and maps are read with read/pread into stack or static buffers; nothing allocates. */
#define _GNU_SOURCE
#include "probes.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int statm_fd = -1;
static int use_glibc;
static uint64_t page_size = 4096;
static int source = AS_NONE;
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static int (*tc_property)(const char *, size_t *);
static void (*mi_info)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *);

/* The harness's share of each statm figure, in bytes (set once by probes_baseline). */
static struct mem_figures harness_share;

#define MAX_MARKS 4096
static uintptr_t marks[MAX_MARKS];
static _Atomic uint32_t mark_count;

int probes_init(int glibc)
{
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (uint64_t)ps;
    use_glibc = glibc;
    if (glibc)
        return source = AS_MALLINFO2;
    /* RTLD_DEFAULT finds the LD_PRELOADed allocator's exports. */
    if ((je_mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl")))
        return source = AS_JEMALLOC;
    if ((tc_property = (int (*)(const char *, size_t *))dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty")))
        return source = AS_TCMALLOC;
    if ((mi_info = (void (*)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *))
             dlsym(RTLD_DEFAULT, "mi_process_info")))
        return source = AS_MIMALLOC;
    return source = AS_NONE;
}

void probes_mark_harness(const void *address)
{
    uint32_t i = atomic_fetch_add(&mark_count, 1);
    if (i < MAX_MARKS)
        marks[i] = (uintptr_t)address;
}

/* statm fields in pages: size resident shared text lib data dt. */
struct statm { uint64_t size, resident, shared, data; };

static void read_statm(struct statm *s)
{
    char buf[160];
    uint64_t field[6] = { 0 };
    s->size = s->resident = s->shared = s->data = 0;
    if (statm_fd < 0)
        return;
    ssize_t n = pread(statm_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    int f = 0;
    for (ssize_t i = 0; i < n && f < 6; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9')
            field[f] = field[f] * 10 + (uint64_t)(c - '0');
        else if (c == ' ' || c == '\n')
            f++;
    }
    s->size = field[0];
    s->resident = field[1];
    s->shared = field[2];
    s->data = field[5];
}

static void process_figures(struct mem_figures *out)
{
    struct statm s;
    read_statm(&s);
    out->rss = (s.resident > s.shared ? s.resident - s.shared : 0) * page_size;
    out->committed = s.data * page_size;
    out->address_space = s.size * page_size;
}

static uint64_t sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

void probe_memory(struct mem_figures *out)
{
    process_figures(out);
    out->rss = sub(out->rss, harness_share.rss);
    out->committed = sub(out->committed, harness_share.committed);
    out->address_space = sub(out->address_space, harness_share.address_space);
}

void probes_harness_released(uint64_t bytes)
{
    __atomic_fetch_sub(&harness_share.rss, bytes < harness_share.rss ? bytes : harness_share.rss, __ATOMIC_RELAXED);
}

uint64_t probes_peak_rss(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "VmHWM:");
    if (!p)
        return 0;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t kib = 0;
    while (*p >= '0' && *p <= '9')
        kib = kib * 10 + (uint64_t)(*p++ - '0');
    return kib * 1024;
}

void probes_after_fork(void)
{
    if (statm_fd >= 0)
        close(statm_fd);
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
}

void probes_harness_grown(uint64_t bytes)
{
    __atomic_fetch_add(&harness_share.rss, bytes, __ATOMIC_RELAXED);
}

/* Resident bytes of [start, end) per mincore (anonymous pages: present in memory). */
static uint64_t resident_bytes(uintptr_t start, uintptr_t end)
{
    unsigned char vec[4096];
    uint64_t pages = 0;
    start &= ~(uintptr_t)(page_size - 1);
    while (start < end) {
        uintptr_t chunk_end = start + sizeof vec * page_size;
        if (chunk_end > end || chunk_end < start)
            chunk_end = end;
        size_t len = chunk_end - start;
        size_t n = (len + page_size - 1) / page_size;
        if (mincore((void *)start, len, vec) == 0)
            for (size_t i = 0; i < n; i++)
                pages += vec[i] & 1;
        start = chunk_end;
    }
    return pages * page_size;
}

/* One line of /proc/self/maps. */
struct mapping {
    uintptr_t start, end;
    uint8_t writable, private_, file, special, heap;
};

#define MAX_MAPPINGS 8192
static struct mapping maps[MAX_MAPPINGS];

static uint64_t parse_hex(const char **p)
{
    uint64_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else return v;
    }
}

static void parse_line(const char *line, size_t len, struct mapping *m)
{
    const char *p = line, *end = line + len;
    memset(m, 0, sizeof *m);
    m->start = (uintptr_t)parse_hex(&p);
    p++;
    m->end = (uintptr_t)parse_hex(&p);
    p++;
    if (p + 4 > end)
        return;
    m->writable = p[1] == 'w';
    m->private_ = p[3] == 'p';
    p += 5;
    /* offset, dev, inode, then the path */
    for (int field = 0; field < 2 && p < end; p++)
        if (*p == ' ')
            field++;
    uint64_t inode = 0;
    while (p < end && *p >= '0' && *p <= '9')
        inode = inode * 10 + (uint64_t)(*p++ - '0');
    while (p < end && *p == ' ')
        p++;
    m->file = inode != 0;
    if (p < end && *p == '[') {
        m->heap = (size_t)(end - p) >= 6 && memcmp(p, "[heap]", 6) == 0;
        m->special = !m->heap;
    }
}

/* Reads /proc/self/maps into `maps`; returns the count. */
static size_t read_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[8192];
    size_t have = 0, count = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            if (count < MAX_MAPPINGS)
                parse_line(buf + start, i - start, &maps[count++]);
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf) /* a line longer than the buffer: drop it */
            have = 0;
    }
    close(fd);
    return count;
}

static int marked(const struct mapping *m)
{
    uint32_t n = atomic_load(&mark_count);
    if (n > MAX_MARKS)
        n = MAX_MARKS;
    for (uint32_t i = 0; i < n; i++)
        if (marks[i] >= m->start && marks[i] < m->end)
            return 1;
    return 0;
}

/*
 * The allocator's memory at the baseline, other allocators than glibc: the anonymous private mappings
 * that are none of: the harness's marked mappings (and the guard page right below each), the kernel's
 * named areas ([stack], [vdso], ...), the zero-filled tail of a loaded object (an anonymous mapping that
 * starts where an object's data segment, a private writable file mapping, ends). The program break ([heap]) is the allocator's. The dynamic loader's
 * own early pages (a few, from before main) are counted as the allocator's: they cannot be told apart.
 */
static void other_allocator_at_baseline(struct mem_figures *a)
{
    size_t n = read_maps();
    for (size_t i = 0; i < n; i++) {
        const struct mapping *m = &maps[i];
        if (m->file || m->special || !m->private_)
            continue;
        if (!m->heap) {
            /* An object's zero-fill tail follows its data segment, a private writable file mapping. Any other file
               mapping can end where an allocator's mapping starts (mmap places new mappings next to each other: the
               results file right below jemalloc's first extent), and that mapping is the allocator's. */
            if (i > 0 && maps[i - 1].file && maps[i - 1].private_ && maps[i - 1].writable && maps[i - 1].end == m->start)
                continue;
            if (marked(m))
                continue;
            if (!m->writable && i + 1 < n && maps[i + 1].start == m->end && marked(&maps[i + 1]))
                continue;
        }
        uint64_t len = m->end - m->start;
        a->address_space += len;
        if (m->writable) {
            a->committed += len;
            a->rss += resident_bytes(m->start, m->end);
        }
    }
}

uint64_t probes_resident_bytes(uintptr_t start, uintptr_t end) { return resident_bytes(start, end); }

void probes_baseline(int glibc, uint64_t brk0, int allocator_owns_existing,
                     struct mem_figures *allocator0, struct mem_figures *harness)
{
    struct mem_figures all, a = { 0, 0, 0 };
    if (allocator_owns_existing) {
        if (glibc) {
            /* glibc holds only its program-break heap before the first replayed call (threads' DTVs). */
            uintptr_t brk_now = (uintptr_t)sbrk(0);
            uintptr_t lo = (uintptr_t)brk0 & ~(uintptr_t)(page_size - 1);
            uintptr_t hi = (brk_now + page_size - 1) & ~(uintptr_t)(page_size - 1);
            if (brk0 && hi > lo) {
                a.address_space = a.committed = hi - lo;
                a.rss = resident_bytes(lo, hi);
            }
        } else {
            other_allocator_at_baseline(&a);
        }
    }
    process_figures(&all);
    harness_share.rss = sub(all.rss, a.rss);
    harness_share.committed = sub(all.committed, a.committed);
    harness_share.address_space = sub(all.address_space, a.address_space);
    *allocator0 = a;
    *harness = harness_share;
}

static uint64_t last_walked_chunks = UINT64_MAX; /* UINT64_MAX: the statistic walks nothing (not glibc's) */

uint64_t probe_allocator_walked(void) { return last_walked_chunks; }

uint64_t probe_allocator_mapped(void)
{
    switch (source) {
    case AS_MALLINFO2: {
        struct mallinfo2 mi = mallinfo2();
        last_walked_chunks = (uint64_t)mi.ordblks + (uint64_t)mi.smblks; /* the free chunks mallinfo2 walked */
        return (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
    }
    case AS_JEMALLOC: {
        uint64_t epoch = 1;
        size_t mapped = 0, len = sizeof mapped;
        je_mallctl("epoch", NULL, NULL, &epoch, sizeof epoch);
        if (je_mallctl("stats.mapped", &mapped, &len, NULL, 0) == 0)
            return mapped;
        return 0;
    }
    case AS_TCMALLOC: {
        size_t heap = 0, unmapped = 0;
        if (tc_property("generic.heap_size", &heap)) {
            tc_property("tcmalloc.pageheap_unmapped_bytes", &unmapped);
            return heap > unmapped ? heap - unmapped : 0;
        }
        return 0;
    }
    case AS_MIMALLOC: {
        size_t elapsed, user, sys, rss, peak_rss, commit = 0, peak_commit, faults;
        mi_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
        return commit;
    }
    default:
        return 0;
    }
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
