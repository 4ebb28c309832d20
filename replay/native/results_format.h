/*
 * The results file ptreplay-native writes (MAP_SHARED on a file the caller names, so none of it
 * counts as anonymous memory in the RSS figures). Read by PtReplay.Replay.Native.NativeResults.
 */
#ifndef PTREPLAY_RESULTS_FORMAT_H
#define PTREPLAY_RESULTS_FORMAT_H
#include <stdint.h>
#include "prepared_format.h"

#define RES_MAGIC "PTRRES01"
#define RES_SIZE_CLASSES 8      /* <=64, <=256, <=1K, <=4K, <=32K, <=128K, <=1M, larger */
#define RES_BUCKETS 976         /* log-linear cycle buckets: exact below 16, then 16 per power of two */

/* Latency histograms of one thread: [kind][size class][bucket] counts of TSC cycles. */
typedef uint64_t thread_histogram[K_CALL_KINDS][RES_SIZE_CLASSES][RES_BUCKETS];

struct res_sample {
    uint64_t seq;           /* global op position the sample follows */
    uint64_t tsc;           /* cycle counter when taken */
    uint64_t rss;           /* the allocator's anonymous resident bytes (probes.h; harness excluded) */
    uint64_t committed;     /* the allocator's writable private address space (statm data; harness excluded) */
    uint64_t address_space; /* the allocator's address space, PROT_NONE reservations included (statm size) */
    uint64_t allocator_mapped; /* the allocator's own statistic (probes.h), RES_NOT_TAKEN when skipped */
};

#define RES_NOT_TAKEN UINT64_MAX
#define RES_VERSION 2u

struct res_header {
    char magic[8];              /* "PTRRES01" */
    uint32_t version;           /* RES_VERSION */
    uint32_t thread_count;
    uint64_t op_count;
    uint64_t sample_count;
    double tsc_per_ns;          /* cycle counter ticks per nanosecond (calibrated against CLOCK_MONOTONIC) */
    uint64_t brk0;              /* sbrk(0) before the replayer's first heap use (before its threads) */
    uint64_t brk_end;           /* sbrk(0) after the replay */
    uint64_t wall_ns;           /* replay time (CLOCK_MONOTONIC) less sampling and pace waits (see elapsed_ns) */
    uint64_t elapsed_ns;        /* replay time as measured, sampling and pace waits included */
    uint64_t sampling_ns;       /* time spent taking samples (cycle counter around each), left out of wall_ns */
    uint64_t samples_taken;
    uint64_t allocator_samples_taken; /* samples that also read the allocator's statistic (cost-capped) */
    double pace_factor;         /* 0: as fast as possible; else recorded gaps divided by this factor */
    uint64_t pace_waits;        /* sleeps performed to keep the recorded pace */
    uint64_t pace_recorded_wait_ns; /* the recorded (scaled) time each sleep waited for, from the trace's timestamps */
    uint64_t pace_slept_ns;     /* time spent in those sleeps as measured, left out of wall_ns */
    struct res_memory { uint64_t rss, committed, address_space; }
        allocator_at_baseline,  /* the allocator's memory before the first replayed call (in every sample) */
        harness,                /* the harness's own memory, subtracted from every sample */
        final;                  /* the allocator's memory after the replay */
    uint64_t final_allocator_mapped;
    uint64_t allocator_stats_source; /* 0 none, 1 mallinfo2, 2 jemalloc stats.mapped, 3 tcmalloc heap_size-unmapped, 4 mimalloc commit */
    uint64_t calls;             /* malloc-family calls executed */
    uint64_t replay_nulls;      /* calls that returned NULL although the recording got memory */
    uint64_t extra_frees;       /* blocks freed that the recording did not have (see F_EXPECT_FAIL, F_RELEASE) */
    uint64_t cross_thread_waits;/* F_WAIT ops that actually had to wait */
    uint64_t cross_thread_ops;  /* F_WAIT ops executed (both modes) */
    uint64_t mallinfo_arena, mallinfo_hblkhd, mallinfo_uordblks, mallinfo_fordblks; /* glibc, at the end */
    uint64_t histograms_offset; /* thread_count x thread_histogram */
    uint64_t samples_offset;    /* sample_count x struct res_sample */
    uint64_t addresses_offset;  /* --log-addresses: op_count x u64, the address each op returned (0 for free/NULL),
                                   indexed like the ops; 0 when not logged */
    uint64_t ok;                /* 1 once the replay finished and every field is written */
    uint64_t progress_seq;      /* seq of the latest sample taken (progress for a watcher) */
    uint64_t null_allocator;    /* 1 when run with --null-allocator */
    uint64_t timer_floor_cycles;/* smallest difference of two back-to-back cycle counter reads */
    uint64_t empty_slot_frees;  /* frees (not of NULL) that found their slot empty: a replay NULL or a broken dependency */
    uint64_t setup_heap_bytes;  /* glibc: mallinfo2 uordblks before the first replayed call (the replayer's
                                   own use: main tcache block + one DTV per replay thread); 0 otherwise */
    uint64_t thread_starts;     /* replay threads created during the replay (K_START), not before it */
    uint64_t thread_start_ns;   /* time those creations took (cycle counter), left out of wall_ns */
    uint64_t threads_peak;      /* most replay threads (main included) alive at once: created and not yet joined */
    uint64_t replayer_peak_rss; /* the replayer process's peak resident memory (VmHWM), mapped file pages included */
    uint64_t first_calls;       /* calls timed apart from the histograms: each thread's first */
    uint64_t first_call_max_cycles; /* the slowest of them */
    uint64_t histogram_count;   /* latency histograms at histograms_offset: one per replay thread alive at once (a
                                   thread started at K_START takes over the histogram of a joined one) */
};
#endif
