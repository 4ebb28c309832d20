/* Memory probes taken at sample points: anonymous RSS and the allocator's footprint. No heap use. */
#ifndef PTREPLAY_PROBES_H
#define PTREPLAY_PROBES_H
#include <stdint.h>

enum footprint_source { FP_MALLINFO2 = 1, FP_JEMALLOC = 2, FP_TCMALLOC = 3, FP_MIMALLOC = 4, FP_STATM = 5 };

/* Opens /proc/self/statm and, unless glibc, looks up the preloaded allocator's stats API.
 * Call before the replay (the lookup may allocate). Returns the footprint source. */
int probes_init(int glibc);
/* Anonymous resident bytes: (resident - shared) pages of /proc/self/statm. */
uint64_t probe_rss(void);
/* Bytes the allocator holds from the system now. */
uint64_t probe_footprint(void);
/* glibc's mallinfo2 fields (0 when not glibc). */
void probe_mallinfo(uint64_t *arena, uint64_t *hblkhd, uint64_t *uordblks, uint64_t *fordblks);
/* glibc: mallinfo2().uordblks (bytes in use in all arenas, tcache'd chunks included); 0 for other allocators. */
uint64_t probe_in_use(void);
#endif
