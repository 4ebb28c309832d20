/*
 * The prepared trace: what `ptreplay replay` (C#, PtReplay.Replay.Preparation) writes and
 * ptreplay-native maps read-only. Layout and invariants: PREPARED-FORMAT.md (keep both in step).
 * All integers little-endian; every offset is from the start of the file and 8-byte aligned.
 */
#ifndef PTREPLAY_PREPARED_FORMAT_H
#define PTREPLAY_PREPARED_FORMAT_H
#include <stdint.h>

#define PREP_MAGIC "PTRPREP1"
#define PREP_VERSION 1u

/* Op kinds: 1..10 are the malloc-family calls with the trace format's numbers. */
enum prep_kind {
    K_MALLOC = 1, K_CALLOC = 2, K_REALLOC = 3, K_REALLOCARRAY = 4, K_FREE = 5,
    K_MEMALIGN = 6, K_POSIX_MEMALIGN = 7, K_ALIGNED_ALLOC = 8, K_VALLOC = 9, K_PVALLOC = 10,
    K_CALL_KINDS = 11,      /* histogram rows 0..10 (row 0 unused) */
    K_THREAD_EXIT = 17,     /* the thread's stream ends here: hand the turn on, return */
    K_FORK = 18,            /* a forked child's replay: the ops before are its parent's; fork here, measure from here */
    K_START = 19,           /* create the replay thread of thread arg here (it is not created before the replay) */
    K_JOIN = 20,            /* pthread_join(thread arg) before going on */
    K_MALLOPT = 21,         /* mallopt((int)arg, (int)size) where the program called it: not timed, no slot */
    K_MALLOC_TRIM = 22,     /* malloc_trim(size) where the program called it: not timed, no slot */
};

/* Op flags. */
enum prep_flag {
    F_WAIT = 1,         /* the previous op on `slot` ran on another thread: wait for stamp == dep */
    F_SAMPLE = 2,       /* take a metrics sample after this op */
    F_NULL_PTR = 4,     /* free(NULL) */
    F_RELEASE = 8,      /* realloc(p, 0) that freed p and returned NULL in the recording */
    F_EXPECT_FAIL = 16, /* the recorded call returned NULL / failed: free a non-NULL replay result at once */
};

/* One call: 32 bytes, read sequentially by the owning thread's hot loop. */
struct prep_op {
    uint64_t size;       /* requested size (element size for calloc/reallocarray); free: the block's requested size */
    uint64_t arg;        /* calloc/reallocarray: count; aligned calls: alignment; start, join: thread index */
    uint32_t seq;        /* position in the recorded global order, modulo 2^32 */
    uint32_t slot;       /* object slot (0 = none) */
    uint32_t dep;        /* number of ops on `slot` before this one (the slot's stamp when this op may run);
                            K_START: number of K_JOIN ops before it in the global order (it runs once they are done) */
    uint8_t kind;        /* enum prep_kind */
    uint8_t flags;       /* enum prep_flag */
    uint16_t next_thread;/* thread that runs op seq+1 (serial hand-off); 0xFFFF after the last op */
};

struct prep_thread {
    uint64_t op_start;      /* index of this thread's first op in the op array */
    uint64_t op_count;
    uint64_t sample_start;  /* index into the sample-id array of this thread's first F_SAMPLE op */
    uint64_t sample_count;
};

struct prep_header {
    char magic[8];              /* "PTRPREP1" */
    uint32_t version;           /* PREP_VERSION */
    uint32_t thread_count;
    uint64_t op_count;
    uint64_t slot_count;        /* slots are 1..slot_count-1 */
    uint64_t sample_count;
    uint32_t first_thread;      /* thread that runs seq 0 */
    uint32_t threads_at_once;   /* the most threads alive at once, thread 0 included, before and after any fork (0: unknown,
                                   take thread_count): one latency histogram each */
    uint64_t threads_offset;    /* thread_count x struct prep_thread */
    uint64_t ops_offset;        /* op_count x struct prep_op, grouped by thread */
    uint64_t sample_ids_offset; /* sample_count x u32: global sample index of each F_SAMPLE op, grouped by thread */
    uint64_t samples_offset;    /* sample_count x {u64 seq, u64 live_bytes} (for readers; the replayer ignores it) */
    uint64_t event_index_offset;/* op_count x u64: trace event index of each op (for readers) */
    uint64_t times_offset;      /* op_count x u64, indexed like the ops: the op's recorded time, ns after the first
                                   op's (never decreasing in the global order); 0 = no table (no --pace) */
    uint64_t addresses_offset;  /* op_count x u64, indexed like the ops: the address the recorded call returned (0 for a
                                   failed call and for ops that return nothing); 0 = no table. For the C# model's
                                   address check (`ptreplay verify`, `gate`); the replayer only checks its range */
    uint64_t stream_window;     /* 0: the file is complete. Otherwise it is written while it is replayed: an op whose kind is
                                   0 is not written yet (the writer stores kind last, release), and the writer stays at most
                                   stream_window ops ahead of `consumed` */
    uint64_t consumed;          /* streamed file: ops the reader has finished (the reader stores it, never decreasing) */
    uint64_t thread_flags_offset;/* thread_count x u32, enum prep_thread_flag; 0 = none */
};

enum prep_thread_flag {
    TF_STARTED_BY_OP = 1,       /* created at a K_START op, not before the replay */
    TF_ENDS_WITH_EXIT = 2,      /* its last op is K_THREAD_EXIT */
};

_Static_assert(sizeof(struct prep_op) == 32, "op record is 32 bytes");
_Static_assert(sizeof(struct prep_thread) == 32, "thread record is 32 bytes");
_Static_assert(sizeof(struct prep_header) == 128, "header is 128 bytes");
#endif
