/*
 * ptrecord: the PtReplay LD_PRELOAD recorder. Shared types and declarations.
 *
 * The recorder writes traces/FORMAT.md version 2 (version 3 when events were lost: a write failed, see
 * output.c; version 4 with call stacks, stacks.c). Its rules, which every file here keeps:
 *   - it never allocates on the process heap: no malloc, no stdio; buffers come from mmap and
 *     output goes through raw write(2) on an O_APPEND descriptor;
 *   - the hot path (one event) touches only the calling thread's initial-exec TLS record and its
 *     mmap'd buffer: no lock, no atomic read-modify-write;
 *   - the real glibc functions do the work, so the program sees exactly what it would see unrecorded.
 *
 * Files, one concern each:
 *   interpose.c      the malloc-family entry points (hot path)
 *   thread_buffer.c  per-thread state: buffer slots, flush, thread start/exit markers, late events
 *   encode.h         event encoding (varint, zigzag address deltas)
 *   encode.c         the choice of varint encoder for addresses (PDEP where it is fast)
 *   crc32.c          zlib-compatible CRC-32 (PCLMUL folding, slice-by-8 tables)
 *   clock.c          the event clock: TSC scaled to CLOCK_MONOTONIC, or clock_gettime
 *   output.c         trace file naming and opening, the header, block and end-block writes, lost events
 *   process.c        process start/exit, control variables, fork, exec, _exit, posix_spawn
 *   environment.c    the environment, read without the heap (environ, or /proc/self/environ)
 *   signals.c        the program's handlers behind a trampoline (handlers that allocate), fatal-signal flush
 *   stacks.c         call stacks (PTRECORD_STACKS): unwinder, de-duplicating table, module map
 *   sys.h            raw system calls that never touch errno or the heap
 */
#ifndef PTRECORD_H
#define PTRECORD_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

#define PTR_API __attribute__((visibility("default")))
#define PTR_LIKELY(x) __builtin_expect(!!(x), 1)
#define PTR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PTR_TLS __attribute__((tls_model("initial-exec")))

#define PTR_RECORDER_VERSION "ptrecord 0.8.0" /* 0.2: timed-tags blocks, adaptive clock; 0.3: process-tree links; 0.4: handlers that interrupt the recorder; 0.5: call stacks; 0.5.1: the unwinder's own calls recorded; 0.6: handlers it did not install, a growing side buffer, PTRECORD_MT_CLOCK=adaptive (format version 5); 0.7: mallopt and malloc_trim recorded; 0.8: under PTRECORD_MT_CLOCK=adaptive the stale-thread sweep makes the out-of-line path read the clock too */

/* ---- On-disk constants (traces/FORMAT.md) ---- */
enum ptr_kind {
    K_MALLOC = 1, K_CALLOC = 2, K_REALLOC = 3, K_REALLOCARRAY = 4, K_FREE = 5,
    K_MEMALIGN = 6, K_POSIX_MEMALIGN = 7, K_ALIGNED_ALLOC = 8, K_VALLOC = 9, K_PVALLOC = 10,
    K_MALLOPT = 11, K_MALLOC_TRIM = 12, /* settings and trims: no block; null-result = the call returned 0 */
    K_THREAD_START = 16, K_THREAD_EXIT = 17, K_FORK = 18, K_EXEC = 19,
};
#define TAG_NULL_RESULT 0x20u
#define TAG_TIME_ADVANCED 0x40u /* in timed-tags blocks (all the recorder writes): a dt follows */
#define TAG_STATUS 0x80u

#define BLOCK_MAGIC 0x4B4C4250u /* "PBLK" */
#define BLOCK_FLAG_END 0x02u
#define BLOCK_FLAG_TIMED_TAGS 0x04u /* dt is written only when not 0, flagged by TAG_TIME_ADVANCED */
#define BLOCK_FLAG_STACKS 0x08u /* version 4: allocating events end with a varint stack id */
#define BLOCK_FLAG_TABLE 0x10u  /* version 4: a stack-table block (module and stack records, stacks.c) */

/*
 * Block header, 36 bytes, written in front of every payload:
 *   u32 magic · u8 codec · u8 flags · u16 reserved · u32 tid · u32 event_count
 *   · u32 stored_len · u32 raw_len · u64 base_ts · u32 crc32(the 32 header bytes before it, then the payload)
 */
struct __attribute__((packed)) ptr_block_header {
    uint32_t magic;
    uint8_t codec;
    uint8_t flags;
    uint16_t reserved;
    uint32_t tid;
    uint32_t event_count;
    uint32_t stored_len;
    uint32_t raw_len;
    uint64_t base_ts;
    uint32_t crc;
};
_Static_assert(sizeof(struct ptr_block_header) == 36, "block header is 36 bytes");

/* ---- Per-thread state ---- */

/*
 * One thread buffer: header room, then the payload, carved from the slot arena (reserved, pages touched
 * only as a thread fills them). 256 KiB: a quarter of the write(2) calls of 64 KiB blocks; a SIGKILL
 * loses at most the last unflushed 256 KiB of each thread.
 */
#define PTR_BUFFER_BYTES (256u * 1024u)
/* Largest encoded event: tag + status + dt + ptr + count + size + result, 10 bytes each at most, + a 5-byte stack id. */
#define PTR_MAX_EVENT_BYTES 72u
/*
 * The side buffer: the calls a signal handler made while it had interrupted the recorder on that thread
 * (see "Signal handlers" in signals.c), as struct ptr_side_call, wait there until the next event outside
 * the handler appends them to the block. Its first PTR_SIDE_BYTES are the last bytes of the thread's
 * buffer; calls beyond them go to the thread's overflow mapping, reserved (MAP_NORESERVE, raw mmap) by the
 * first call that needs it and touched only as it fills, up to PTR_SIDE_MAX_CALLS calls in all; calls
 * beyond that are counted lost. Reserved address space never moves, so a handler that interrupts another
 * handler's write into it cannot pull the memory from under it (mremap could).
 */
#define PTR_SIDE_BYTES (16u * 1024u)
#define PTR_SIDE_MAX_CALLS (1u << 20)

enum ptr_thread_state {
    TS_UNINIT = 0,   /* TLS zeroed: first call of this thread still to come */
    TS_ACTIVE = 1,   /* recording into the buffer (the only state the hot path handles) */
    TS_BUSY = 2,     /* inside the recorder's own slow path: nested calls pass straight through */
    TS_EXITED = 3,   /* after the thread-exit marker: late events go out one block each */
    TS_INERT = 4,    /* the process does not record (no-follow child, or the recorder gave up) */
};

/*
 * The calling thread's recording state. Lives in initial-exec TLS; zero means TS_UNINIT.
 * Invariants while ACTIVE: payload <= pos <= limit; [payload, pos) holds whole encoded events only
 * (pos is stored once an event is complete, so a signal handler can flush [payload, pos));
 * count = events in [payload, pos) (may lag by one inside an encode; flushes from signal handlers
 * recount instead); last_ts/last_addr are the decoder state after the last complete event.
 */
struct ptr_thread {
    uint8_t *pos;           /* next free payload byte */
    uint8_t *fast_limit;    /* the common inline path's one test: pos < fast_limit (see ptr_update_gate) */
    uintptr_t appending;    /* the append guard: the stack pointer of the recorder code appending now, 0 = none (see below) */
    uint8_t *clock_limit;   /* the clocked inline path's test: pos < clock_limit (see ptr_update_gate) */
    uint8_t *clock_mark;    /* the first event starting at or past it reads the clock (ptr_clock_adapt) */
    uint8_t *limit;         /* end of the buffer minus PTR_MAX_EVENT_BYTES: flush when pos passes it */
    uint64_t last_ts;       /* timestamp of the last event (ns after the header's start reading) */
    uint64_t last_addr;     /* address state for zigzag deltas */
    uint32_t count;         /* events in the current block */
    uint32_t tid;           /* kernel thread id (gettid), cached */
    uint8_t state;          /* enum ptr_thread_state */
    uint8_t key_rounds;     /* pthread key destructor rounds seen at thread exit */
    uint8_t flushing;       /* a flush is writing this buffer: signal handlers must leave it alone */
    uint8_t is_main;        /* the process's first recording thread (exits with the process) */
    uint8_t swept;          /* set by another thread's sweep (ptr_sweep_stale): the next event reads the clock */
    int slot;               /* index in the thread registry, -1 when the buffer has its own mapping */
    uint32_t clock_bytes;   /* the current reading interval in buffer bytes; 0: every event (ptr_clock_adapt) */
    uint8_t *block;         /* start of the buffer: struct ptr_block_header, then the payload */
    uint64_t base_ts;       /* the block's base timestamp */
    uint64_t flushed;       /* events of this thread already written in earlier blocks (fork position) */
    /*
     * Signal handlers that interrupted the recorder on this thread (signals.c). side_frame != 0: a handler
     * is running whose trampoline frame is at that address, and the calls it makes (and the handlers
     * nested in it) go to the side buffer; the gates stay closed (fast_limit = clock_limit = NULL) while
     * side_frame or side_count is not 0, so the next call outside the handler takes the slow path and
     * appends the side calls first. side_count/side_lost change only through signal-safe single steps.
     */
    uintptr_t side_frame;
    uint32_t side_count;    /* side buffer slots claimed: calls waiting there (thread_buffer.c, side_push) */
    uint64_t side_lost;     /* calls that did not fit in the side buffer (added to ptr_proc.lost_events) */
    struct ptr_side_call *side_more; /* the overflow mapping (slots from the in-buffer part's end on), NULL until needed */
    uint8_t unwinding;      /* PTR_UNWINDING_*: inside the unwinder or table (stacks.c); a nested call gets no stack */
    uintptr_t handler_frame; /* the outermost running program handler's trampoline frame (signals.c), 0 = none */
    uintptr_t alt_lo, alt_hi; /* the thread's alternate signal stack as last read (ptr_guard_nested); 0, 0: none */
    uint8_t alt_known;      /* alt_lo/alt_hi have been read */
    uint8_t abandoned;      /* ptr_guard_nested found the guard left by a longjmp: the next taker repairs the block */
};

/*
 * ptr_thread.unwinding (stacks.c). CAPTURE: the thread is BUSY unwinding for an event not appended yet; the calls the
 * unwinder makes on it (libunwind's per-thread cache in dynamic TLS, which glibc mallocs at the thread's first unwind)
 * wait in the side buffer and follow that event, so the trace keeps the order in which glibc served them. LOADING:
 * the unwinder is being loaded while the thread is ACTIVE; dlopen's calls are recorded as they come, without stacks.
 */
enum { PTR_UNWINDING_NONE = 0, PTR_UNWINDING_CAPTURE = 1, PTR_UNWINDING_LOADING = 2 };


/*
 * The append guard. A signal handler the recorder did not put behind its trampoline (installed with an
 * rt_sigaction system call that bypasses libc) can still call malloc while the recorder is appending on the
 * same thread. So every entry point that appends (the inline paths, ptr_record_call, a thread's setup, the
 * fork marker) first stores its stack pointer in `appending` and only then reads the buffer state, and
 * clears it once the event is committed; a call that finds it set is nested in a handler that interrupted
 * that append (ptr_guard_nested), and its event goes to the side buffer like a trampolined handler's, to
 * follow the interrupted event. A value left by a handler that longjmp'ed out of the append is recognised
 * by the stack (the caller is not well below it, nor on the alternate signal stack while it is not), dropped,
 * and the block it may have half updated is repaired (thread_buffer.c, repair_abandoned).
 * On the inline path the guard costs a load, a branch and two stores (docs/benchmarks/2026-12-03-signal-safety.md).
 */
static inline __attribute__((always_inline)) uintptr_t ptr_stack_pointer(void)
{
#if defined(__x86_64__)
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    return sp;
#else
    return (uintptr_t)__builtin_frame_address(0);
#endif
}

/* Takes the guard (the caller found `appending` 0); the buffer state is read only after this. */
static inline __attribute__((always_inline)) void ptr_guard_set(struct ptr_thread *t)
{
    __atomic_store_n(&t->appending, ptr_stack_pointer(), __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Gives it back once the event is committed (pos stored). */
static inline __attribute__((always_inline)) void ptr_guard_clear(struct ptr_thread *t)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&t->appending, (uintptr_t)0, __ATOMIC_RELAXED);
}

/* One call made by a signal handler that interrupted the recorder, or by the unwinder (above): appended later with its timestamp.
   kind 0: a slot claimed but not (or not yet) written, or already appended. */
struct ptr_side_call {
    uint8_t kind;
    uint8_t null_result;
    uint64_t ptr, count, align, size, result, status, ts;
};

extern __thread struct ptr_thread ptr_self PTR_TLS;

/* ---- Process-wide state (process.c) ---- */
struct ptr_process {
    int pid;                    /* the pid this trace belongs to (updated in a fork child) */
    int fd;                     /* trace file descriptor, O_APPEND|O_CLOEXEC; -1 when not recording */
    uint64_t fd_dev, fd_ino;    /* identity of the trace file, checked before writes */
    int64_t start_clock_ns;     /* CLOCK_MONOTONIC reading that timestamps are relative to */
    int64_t start_realtime_ns;
    uint64_t brk0;              /* program break before the first allocation */
    int follow;                 /* trace children (fork, exec) */
    volatile int finished;      /* the end block has been written: later blocks go in front of it */
    int late_fd;                /* non-append descriptor for blocks written after the end block; -1 = none */
    uint64_t end_offset;        /* file offset of the end block */
    int late_lock;              /* spinlock for writes after the end block (exit time only) */
    char out_base[4096];        /* PTRECORD_OUT: the root trace path; children use "<base>.<pid>" */
    char path[4200];            /* this process's trace path */
    uint64_t dropped_events;    /* calls not recorded: the recorder's own (made while it is busy), or no file */
    uint64_t lost_events;       /* the program's events that are not in the file: a write failed, or a side buffer was full */
    int write_error;            /* errno of the first failed write (EFBIG: file size limit, ENOSPC: disk full); then no more writes */
    /* Where this trace comes from (header fields 15-18, FORMAT.md "Process trees"). */
    uint32_t origin;            /* PTR_ORIGIN_* */
    char parent_path[4200];     /* the trace this one continues ("" when none) */
    uint32_t fork_tid;          /* fork child: the parent's thread that forked */
    uint64_t fork_seq;          /* fork child: events that thread had written before the fork */
    uint64_t exec_offset;       /* file length before the exec marker: a failed exec truncates back to it */
    int multithreaded;          /* a second thread started (not fenced): the file is format version 5 */
};
enum { PTR_ORIGIN_STARTED = 0, PTR_ORIGIN_FORK = 1, PTR_ORIGIN_EXEC = 2 };
extern struct ptr_process ptr_proc;

/* process.c */
void ptr_process_init_once(void);      /* first intercepted call: header, file, brk0 */
void ptr_finish_process(void);         /* normal exit: flush everything, end block */

/* unrecorded.c: before an exec or posix_spawn, a line in OUT.unrecorded when the program will not load the recorder */
void ptr_note_unrecorded_exec(const char *file, int search_path, char *const argv[], char *const envp[], int pid);
void ptr_note_own_malloc(void); /* at start: a malloc defined before the recorder's in the lookup order */

/* thread_buffer.c */
void ptr_thread_slow_init(struct ptr_thread *t);   /* TS_UNINIT -> ACTIVE (or INERT) */
void ptr_flush(struct ptr_thread *t);               /* write the current block, start a new one */
void ptr_thread_finish(struct ptr_thread *t, int exits_before_process); /* flush, stop recording */
void ptr_reap_zombies(uint32_t reused_tid, int all);   /* thread-exit markers of threads that are gone */
void ptr_registry_init(void);
void ptr_registry_after_fork_child(struct ptr_thread *self);
void ptr_registry_flush_others(struct ptr_thread *self);
void ptr_flush_from_signal(struct ptr_thread *t);
void ptr_sweep_stale(struct ptr_thread *self, uint64_t now);  /* closes the fast gates of threads without a recent reading */
void ptr_thread_key_init(void);
void ptr_record_marker(struct ptr_thread *t, unsigned kind, uint64_t value);
void ptr_side_flush(struct ptr_thread *t);          /* appends the side buffer's calls (outside handlers) */
int ptr_in_side_handler(struct ptr_thread *t);      /* a handler that interrupted the recorder is running */
int ptr_guard_nested(struct ptr_thread *t);         /* `appending` is set by an append this call interrupted */
void ptr_thread_start(struct ptr_thread *t);        /* ptr_thread_slow_init under the append guard (interpose.c) */
void ptr_record_marker_guarded(struct ptr_thread *t, unsigned kind, uint64_t value); /* from the program's calls (fork) */

/* One call, for the slow paths (anything but an ACTIVE thread). */
struct ptr_call {
    unsigned kind;
    uint64_t ptr, count, align, size, result, status;
    int null_result;
    uint32_t stack;         /* stack id (stacks.c), 0 = none */
};
void ptr_record_slow(const struct ptr_call *c);
void ptr_record_call(const struct ptr_call *c);   /* any event, any state, out of line */
uint32_t ptr_count_events(const uint8_t *p, const uint8_t *end);

/* output.c */
int ptr_open_trace(int as_root);      /* opens ptr_proc.path, writes the header; 0 on success */
void ptr_find_exec_parent(void);      /* exec'd image: sets ptr_proc.parent_path (output.c) */
int ptr_truncate_to(uint64_t offset); /* a failed exec: drops the exec marker and the end block */
int ptr_write_all(const void *buf, size_t len);   /* raw write loop with trace identity check */
int ptr_write_block(const void *buf, size_t len); /* a whole block: appended, or after the end block (below) */
void ptr_write_end_block(void);
uint16_t ptr_format_version(int lost);   /* the header's version: 2, 3 (lost events), 4 (stacks), 5 (multi-threaded) */
void ptr_mark_multithreaded(void);        /* a second thread starts: the header says version 5 from now on */

/* environment.c: calls fn for every "NAME=value" entry (len bytes; from_proc: read from
 * /proc/self/environ, the original block). buf (cap bytes) is scratch for that read. */
typedef void (*ptr_environment_fn)(const char *entry, size_t len, int from_proc, void *ctx);
void ptr_environment_each(char *buf, size_t cap, ptr_environment_fn fn, void *ctx);

/* encode.c */
void ptr_encode_init(int allow_pdep);   /* chooses the address varint encoder (PTRECORD_PDEP=0: never PDEP) */

/* crc32.c */
void ptr_crc32_init(void);
uint32_t ptr_crc32(const uint8_t *p, size_t n);
/* The CRC of the bytes before (crc, as ptr_crc32 returned it) followed by p[0..n): zlib's crc32(crc, p, n). */
uint32_t ptr_crc32_update(uint32_t crc, const uint8_t *p, size_t n);

/* signals.c */
void ptr_signals_install(void);
int ptr_pc_in_recorder(uintptr_t pc);  /* pc lies in the recorder's own code */
void ptr_find_recorder_text(void);     /* finds that range (not signal-safe: dl_iterate_phdr) */

/*
 * Call stacks (stacks.c, FORMAT.md "Stacks"). depth 0: off (PTRECORD_STACKS unset or 0), and the recorder is
 * exactly as without them. Otherwise every event goes through the out-of-line path (ptr_update_gate keeps the
 * inline gates closed), where allocating calls get a stack id.
 */
#define PTR_STACK_MAX_DEPTH 128
#define PTR_STACK_DEFAULT_DEPTH 24
struct ptr_stacks {
    int depth;          /* frames kept per stack, 1..PTR_STACK_MAX_DEPTH; 0 = stacks off */
    int libgcc_only;    /* PTRECORD_UNWIND=libgcc: never libunwind */
};
extern struct ptr_stacks ptr_stacks;
void ptr_stacks_start(void);            /* after the trace is open: table, module map */
void ptr_stacks_load(void);             /* the constructor: the unwinder, loaded with the calling thread recording */
void ptr_stacks_after_fork_child(void); /* a fork child's own table and module map, in its own trace */
uint32_t ptr_stack_capture(struct ptr_thread *t); /* the caller's stack id (0: none) */
static inline int ptr_kind_allocates(unsigned kind) { return kind <= K_PVALLOC && kind != K_FREE; }

/*
 * The event clock: nanoseconds after the header's start reading (field 12) of CLOCK_MONOTONIC.
 * Where the kernel itself trusts the TSC (clocksource "tsc": invariant and synchronised across CPUs)
 * the recorder reads the TSC directly and converts with a factor measured against CLOCK_MONOTONIC
 * while the process starts (clock.c): about 10 ns cheaper per event than clock_gettime.
 * Across threads the order "allocated before freed" must hold. Under PTRECORD_MT_CLOCK=adaptive every thread, the
 * second and later ones included, reads the clock as a single-threaded process does (below), unfenced, so a timestamp can be early by a
 * few microseconds, or by a pause
 * (bounded while any thread runs: ptr_sweep_stale); from the moment a second thread starts the file is marked
 * format version 5 (ptr_mark_multithreaded), whose readers rebuild the order of the threads' events from the
 * per-thread order (file order), the timestamps as hints and the address lifecycles (FORMAT.md "Order").
 * By default (PTRECORD_MT_CLOCK=fenced) instead, once a process has a second thread, the recorder fences every TSC read (lfence; rdtsc), so it
 * cannot run ahead of the loads before it (the ones that handed the thread its pointer), and makes every event read
 * the clock: the file stays format version 2, merged by timestamp.
 * A single-threaded process needs no fence (its order is file order) and does not read the clock on every event:
 * a TSC read costs about 10 ns on this kind of VM, a third of the gap between two calls of an allocation-heavy
 * program.
 * Instead each thread reads it once its buffer has grown by `clock_bytes` since the last reading (the
 * events in between repeat that reading, dt = 0), and clock_bytes adapts so that readings land about
 * PTR_CLOCK_TARGET_NS apart: it doubles (up to 2 bytes x `every`, PTRECORD_CLOCK_EVERY, default
 * PTR_CLOCK_EVERY_DEFAULT; an event takes 2 bytes or more, so at most `every` events apart) while the
 * events since the last reading took less than the target, and halves per factor of two they took more
 * than twice the target, down to 0 (every event). So a timestamp is early by about two targets at most while calls are dense, and exact while
 * they are sparse. Measuring the interval in buffer bytes lets the inline path test it with the same
 * compare as the buffer's room (fast_limit = the nearer of the two). PTRECORD_CLOCK_EVERY=1: every event.
 */
#define PTR_CLOCK_EVERY_DEFAULT 128
#define PTR_CLOCK_TARGET_NS 1000u
#define PTR_CLOCK_MIN_BYTES 8u /* the shortest interval above 0 */
#define PTR_STALE_NS 3000u /* multi-threaded: a thread without a reading for this long reads the clock at its next event */
struct ptr_clock {
    int use_tsc;        /* 1: TSC + factor; 0: clock_gettime(CLOCK_MONOTONIC) */
    int tsc_chosen;     /* the clocksource is the TSC: calibrate and use it */
    int force_gettime;  /* PTRECORD_CLOCK=monotonic: never the TSC */
    int every;          /* single-threaded: at most this many events between readings (1..255) */
    int fenced;         /* a second thread started (fence_mode): every event reads the clock, fenced, from then on */
    int fence_mode;     /* 1 (default, PTRECORD_MT_CLOCK=fenced): fence once a second thread starts; 0 (adaptive): version 5 */
    uint64_t next_sweep; /* multi-threaded: the clock time after which a reading sweeps stale threads (ptr_sweep_stale) */
    uint64_t tsc0;      /* TSC reading paired with ptr_proc.start_clock_ns */
    uint64_t mult;      /* ns per tick, as a 32.32 fixed-point factor */
};
extern struct ptr_clock ptr_clock;

void ptr_clock_start(void);       /* start readings (CLOCK_MONOTONIC, CLOCK_REALTIME, TSC) */
void ptr_clock_choose(void);      /* TSC or clock_gettime, before the header names the clock */
void ptr_clock_calibrate(void);   /* measures the TSC factor since ptr_clock_start, then uses it */

static inline uint64_t ptr_now_from_clock_gettime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - ptr_proc.start_clock_ns;
    return ns < 0 ? 0 : (uint64_t)ns;
}

#if defined(__x86_64__)
#include <x86intrin.h>
static inline uint64_t ptr_tsc_to_ns(uint64_t tsc)
{
    int64_t ticks = (int64_t)(tsc - ptr_clock.tsc0);
    return ticks <= 0 ? 0 : (uint64_t)(((unsigned __int128)(uint64_t)ticks * ptr_clock.mult) >> 32);
}

static inline uint64_t ptr_now(void)
{
    if (PTR_LIKELY(ptr_clock.use_tsc)) {
        if (ptr_clock.fenced) {
            _mm_lfence();
        }
        return ptr_tsc_to_ns(__rdtsc());
    }
    return ptr_now_from_clock_gettime();
}
#else
static inline uint64_t ptr_now(void) { return ptr_now_from_clock_gettime(); }
#endif

/*
 * Every change of a thread's state goes through here (and every new block through start_block, every
 * clock reading through ptr_clock_adapt): it sets the two limits of the inline paths (interpose.c).
 *   clock_limit: the buffer's room (limit) while the thread is ACTIVE with the TSC clock, else NULL;
 *                below it an event can be encoded inline with a fresh clock reading;
 *   fast_limit:  the nearer of clock_limit and clock_mark, NULL once fenced; below it an event can be
 *                encoded inline reusing the last reading (dt = 0): the common case, one compare.
 * Closed is NULL: no pos is below it, zeroed TLS (TS_UNINIT) included.
 * When a second thread starts, it closes every other thread's fast_limit (fence_clock); a
 * thread that opens its own again checks `fenced` after a full fence, so one of the two always wins.
 */
static inline void ptr_update_gate(struct ptr_thread *t)
{
    uint8_t *room = (t->state == TS_ACTIVE && ptr_clock.use_tsc && t->block != NULL && ptr_stacks.depth == 0) ? t->limit : NULL;
    t->clock_limit = room;
    uint8_t *fast = t->clock_mark < room ? t->clock_mark : room;
    if (fast != NULL) {
        __atomic_store_n(&t->fast_limit, fast, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ptr_clock.fenced, __ATOMIC_RELAXED)) {
            __atomic_store_n(&t->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
        }
    } else {
        __atomic_store_n(&t->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
    }
    /* A signal handler that interrupted the recorder closed the gates (signals.c); one that ran before
       the stores above is seen here, one that runs after them closes them itself. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (PTR_UNLIKELY(__atomic_load_n(&t->side_frame, __ATOMIC_RELAXED) != 0 ||
                     __atomic_load_n(&t->side_count, __ATOMIC_RELAXED) != 0)) {
        t->clock_limit = NULL;
        __atomic_store_n(&t->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
    }
}

static inline void ptr_set_state(struct ptr_thread *t, uint8_t state)
{
    t->state = state;
    ptr_update_gate(t);
}

/*
 * After a reading `now` (the event being encoded starts at t->pos): the next interval, sized so that
 * readings land about PTR_CLOCK_TARGET_NS apart (see "The event clock"), and the limits for it. Runs
 * once per interval, not per event.
 */
static inline void ptr_clock_adapt(struct ptr_thread *t, uint64_t now)
{
    if (PTR_UNLIKELY(__atomic_load_n(&t->swept, __ATOMIC_RELAXED) != 0)) {
        __atomic_store_n(&t->swept, (uint8_t)0, __ATOMIC_RELAXED);
    }
    if (ptr_clock.fenced) {
        return; /* every event reads the clock; fast_limit stays closed (fence_clock, ptr_update_gate) */
    }
    uint32_t n = t->clock_bytes;
    uint64_t took = now > t->last_ts ? now - t->last_ts : 0; /* last_ts: the previous reading */
    uint32_t cap = 2u * (uint32_t)ptr_clock.every;
    if (took < PTR_CLOCK_TARGET_NS) {
        n = n == 0 ? PTR_CLOCK_MIN_BYTES : 2u * n;
        n = n > cap ? cap : n;
        n = cap < PTR_CLOCK_MIN_BYTES ? 0 : n; /* PTRECORD_CLOCK_EVERY=1..3 */
    } else {
        while (took > 2u * PTR_CLOCK_TARGET_NS && n > 0) {
            n = n >> 1 < PTR_CLOCK_MIN_BYTES ? 0 : n >> 1;
            took >>= 1;
        }
    }
    t->clock_bytes = n;
    t->clock_mark = t->pos + n + 1; /* the next reading: the first event starting at or past it */
    ptr_update_gate(t);
    if (PTR_UNLIKELY(now >= __atomic_load_n(&ptr_clock.next_sweep, __ATOMIC_RELAXED)) &&
        __atomic_load_n(&ptr_proc.multithreaded, __ATOMIC_RELAXED)) {
        ptr_sweep_stale(t, now);
    }
}

/* A fresh clock reading for thread t's next event; it also sets the next interval. */
static inline uint64_t ptr_read_clock(struct ptr_thread *t)
{
    uint64_t now = ptr_now();
    ptr_clock_adapt(t, now);
    return now;
}

/* The timestamp of the next event of thread t: the last reading again until the interval is over or a sweep found it stale. */
static inline uint64_t ptr_event_time(struct ptr_thread *t)
{
    if (t->pos < t->clock_mark && !ptr_clock.fenced && __atomic_load_n(&t->swept, __ATOMIC_RELAXED) == 0) {
        return t->last_ts;
    }
    return ptr_read_clock(t);
}

/* Moves thread t's time to `ts` (never backwards) and returns the event's delta. */
static inline uint64_t ptr_advance_time(struct ptr_thread *t, uint64_t ts)
{
    uint64_t dt = ts >= t->last_ts ? ts - t->last_ts : 0;
    t->last_ts += dt;
    return dt;
}

#endif
