/*
 * Memory probes taken at sample points. No heap use.
 *
 * The memory figures come from the kernel's view of this process (/proc/self/statm, one read per
 * sample) minus the harness's own memory, so every allocator is measured the same way:
 *   rss            anonymous resident bytes: (resident - shared) pages
 *   committed      writable private address space: `data` pages (program break + writable private mappings)
 *   address_space  all mapped address space, PROT_NONE reservations included: `size` pages
 * The harness's share is fixed at the baseline (probes_baseline): everything the process holds then,
 * less what already belongs to the allocator (glibc: its program-break heap, resident pages counted with
 * mincore; other allocators: the anonymous mappings that are not the harness's, see probes.c). The
 * harness pre-faults its own memory before the baseline so that its share does not grow afterwards.
 *
 * The allocator's own statistics (glibc mallinfo2 arena + hblkhd, jemalloc stats.mapped, tcmalloc
 * heap_size - unmapped, mimalloc commit) are a separate figure, `allocator_mapped`.
 */
#ifndef PTREPLAY_PROBES_H
#define PTREPLAY_PROBES_H
#include <stdint.h>

enum allocator_stats_source { AS_NONE = 0, AS_MALLINFO2 = 1, AS_JEMALLOC = 2, AS_TCMALLOC = 3, AS_MIMALLOC = 4 };

/* Bytes, as the kernel counts them. */
struct mem_figures {
    uint64_t rss;
    uint64_t committed;
    uint64_t address_space;
};

/* Opens /proc/self/statm and, unless glibc, looks up the preloaded allocator's stats API.
 * Call before the replay (the lookup may allocate). Returns the allocator-statistics source. */
int probes_init(int glibc);

/* Marks the mapping that contains `address` (and a PROT_NONE guard mapping right below it) as the
 * harness's for probes_baseline: thread stacks, the slot and thread tables. Up to 4096 marks. */
void probes_mark_harness(const void *address);

/* Fixes the harness's share. `brk0`: the program break before the replayer's first heap use.
 * `allocator_owns_existing`: 0 with the null allocator (everything that exists is the harness's).
 * Writes the allocator's figures at the baseline to *allocator0 and the harness's to *harness. */
void probes_baseline(int glibc, uint64_t brk0, int allocator_owns_existing,
                     struct mem_figures *allocator0, struct mem_figures *harness);

/* The allocator's figures now (kernel view minus the harness). One pread of /proc/self/statm. */
void probe_memory(struct mem_figures *out);

/* Resident bytes of [start, end) (mincore). */
uint64_t probes_resident_bytes(uintptr_t start, uintptr_t end);

/* The harness gave `bytes` of its resident memory back to the kernel (a replay thread's stack at its exit). */
void probes_harness_released(uint64_t bytes);

/* In a forked child: /proc/self/statm opened by the parent still names the parent; open the child's own. */
void probes_after_fork(void);

/* This process's peak resident memory in bytes (VmHWM of /proc/self/status: its own address space since exec, unlike
 * getrusage's ru_maxrss, which keeps the high-water mark of the process image that exec'd it). 0 if unreadable. */
uint64_t probes_peak_rss(void);

/* The harness faulted in `bytes` more resident memory (a replay thread created during the replay touching its stack). */
void probes_harness_grown(uint64_t bytes);

/* The allocator's own count of the memory it holds (see the source); 0 when it has none. */
uint64_t probe_allocator_mapped(void);
/* The free chunks the last probe_allocator_mapped walked (glibc's mallinfo2: ordblks + smblks); UINT64_MAX when the
 * statistic walks nothing (not glibc's). A call adds at most one free chunk, so the next walk is at most this plus the
 * calls made since. */
uint64_t probe_allocator_walked(void);

/* glibc's mallinfo2 fields (0 when not glibc). */
void probe_mallinfo(uint64_t *arena, uint64_t *hblkhd, uint64_t *uordblks, uint64_t *fordblks);
/* glibc: mallinfo2().uordblks (bytes in use in all arenas, tcache'd chunks included); 0 for other allocators. */
uint64_t probe_in_use(void);
#endif
