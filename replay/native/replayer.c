/*
 * ptreplay-native: replays a prepared trace (PREPARED-FORMAT.md) into the allocator of this
 * process (glibc, or whatever LD_PRELOAD puts in front of it) and writes a results file.
 *
 *   ptreplay-native PREPARED RESULTS [--mode serial|concurrent] [--touch none|page|full]
 *                   [--allocator glibc|other] [--log-addresses] [--null-allocator] [--no-timing]
 *                   [--pace max|recorded|FACTOR]
 *
 * Rules that keep the replay faithful (see shared notes on what moves glibc's heap):
 *   - no heap allocation of our own: no stdio, no locale, no getenv-driven setup; the trace and
 *     the results are mmap'd files, the slot table and thread table are anonymous mmaps;
 *   - replay threads are created before the first replayed call; recorded thread 0 runs on the
 *     process's main thread (it owns glibc's main arena, as the recorded main thread did);
 *   - diagnostics go out with write(2), only before or after the replay;
 *   - the harness's own memory (tables, thread stacks) is pre-faulted before the baseline, so the
 *     memory figures (probes.h) see only the allocator's changes.
 * Exit codes: 0 done, 2 usage, 3 bad prepared file, 4 results file, 5 system resources.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"
#include "prepared_format.h"
#include "probes.h"
#include "results_format.h"
#include "tsc_clock.h"

enum touch_mode { TOUCH_NONE, TOUCH_PAGE, TOUCH_FULL };

struct worker {
    _Atomic uint32_t sleeping;      /* serial hand-off futex word */
    uint32_t index;
    pthread_t thread;
    int created, joined;
    const struct prep_op *ops;
    uint64_t op_count;
    uint64_t *addresses;            /* results: one per op (or a scratch word when not logging) */
    uint64_t address_mask;          /* ~0 when logging addresses, 0 otherwise (index i & mask) */
    uint64_t scratch;
    const uint32_t *sample_ids;
    thread_histogram *hist;
    uint32_t hist_slot;             /* index of hist in the results file's histogram table */
    const uint64_t *times;          /* --pace: recorded time of each op (ns after the first op), else 0 */
    uint64_t calls, nulls, extra_frees, waits, cross, empty_frees;
    uint64_t sampling_cycles, samples, alloc_probe_cycles, alloc_samples, alloc_probe_last;
    uint64_t frees;                 /* free and realloc calls (each can add a free chunk for mallinfo2 to walk) */
    uint64_t alloc_probe_frees;     /* every thread's frees when the allocator's statistic was last read (take_sample) */
    uint64_t pace_waits, pace_recorded_ns, pace_slept_ns;
    uintptr_t stack_lo;             /* lowest stack page this thread pre-faulted (replay threads) */
    uintptr_t caller_sp;            /* stack pointer of glibc's start_thread around thread_main (replay threads) */
    int lazy;                       /* created at a K_START op during the replay, not before it */
    _Atomic uint32_t started;       /* lazy threads: 1 once its stack is pre-faulted (its creator waits for it) */
    _Atomic uint32_t spawned;       /* lazy threads: 1 once pthread_create returned (`thread` is set; a joiner waits for it) */
    uint64_t start_cycles;          /* time this thread spent creating lazy threads (K_START), left out of wall_ns */
    int called;                     /* 1 once this thread made a call: its first one is timed apart (first_call_*) */
    uint64_t first_calls, first_call_max; /* first calls timed apart and the slowest, in cycles */
    uint64_t resume;                /* first op to run (a forked child's thread: its first op after the fork) */
    uint64_t resume_sample;         /* F_SAMPLE ops before `resume` (where its sample ids continue) */
    uint64_t starts;
    uint64_t stack_released;        /* resident harness bytes glibc's thread exit gives back (see release_stack) */
    /* A streamed file (see stream_wait): ops run and not yet added to stream_done, ops and sample ids punched out so
     * far (from the thread's first), time spent waiting for the writer and punching (left out of wall_ns). */
    uint64_t done_local, punched_ops, punched_samples, stream_cycles;
    int exited;                     /* ran its K_THREAD_EXIT */
} __attribute__((aligned(64)));

static struct {
    const struct prep_header *prep;
    struct res_header *res;
    struct res_sample *samples;
    struct worker *workers;
    uint32_t thread_count;
    void **slot_ptr;
    _Atomic uint32_t *slot_stamp;
    int serial, touch, null_alloc, timing, log_addresses;
    double pace_factor;             /* 0: as fast as possible */
    uint64_t start_tsc, start_mono; /* when the replay started (pace schedule, sampling budget) */
    uint64_t measure_mono;          /* elapsed time counts from here: the start, or a forked child's fork (fork_child) */
    pthread_attr_t thread_attr;     /* every replay thread's: same stack size, so glibc's stack cache serves K_START */
    int in_child;                   /* past a K_FORK: this process is the forked child */
    int stream;                     /* the prepared file is too large to read in up front: threads release run ops */
    uint32_t child_workers;         /* in the child: threads besides the one running thread 0's ops that have ops left */
    uint32_t workers_total;         /* threads besides the main one that have ops */
    int streamed;                   /* the prepared file is written while it is replayed (header stream_window) */
    int prep_fd;                    /* streamed: the file, open read-write, for punching out what was replayed */
    struct prep_header *shared_header; /* streamed: the header page, mapped shared, where `consumed` is published */
    const uint32_t *thread_flags;   /* the thread flags table, or 0 */
    uint64_t punch_mask;            /* streamed: ops a thread runs between two punches (a mask) */
} g;

/* Streamed file: ops finished by all threads (each adds its done_local before it can block, see stream_flush). */
static _Atomic uint64_t stream_done __attribute__((aligned(64)));

static _Atomic uint32_t turn __attribute__((aligned(64)));
static _Atomic uint32_t go __attribute__((aligned(64)));
static _Atomic uint32_t finished __attribute__((aligned(64)));
static _Atomic uint32_t ready __attribute__((aligned(64)));
/* Never set: a replay thread whose recorded thread did not exit in the recording waits on it for the
 * process's exit (see ends_with_exit). */
static _Atomic uint32_t never __attribute__((aligned(64)));
static _Noreturn void die(int code, const char *a, const char *b);

/* Replay threads alive (created, not joined), the main thread included, and the most at once. */
static _Atomic uint32_t threads_alive = 1, threads_peak = 1;
/* K_JOIN ops done (a K_START waits until its dep of them are). */
static _Atomic uint32_t joins_done __attribute__((aligned(64)));

/* Latency histograms not in use: those of joined threads, taken over by threads created at K_START. */
static struct {
    pthread_mutex_t lock;
    uint32_t count;
    uint32_t *slots;
} free_hists = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };

static void hist_release(struct worker *w)
{
    pthread_mutex_lock(&free_hists.lock);
    free_hists.slots[free_hists.count++] = w->hist_slot;
    pthread_mutex_unlock(&free_hists.lock);
}

static uint32_t hist_take(void)
{
    pthread_mutex_lock(&free_hists.lock);
    if (free_hists.count == 0)
        die(5, "internal: no latency histogram free for a starting thread", 0);
    uint32_t slot = free_hists.slots[--free_hists.count];
    pthread_mutex_unlock(&free_hists.lock);
    return slot;
}

static void thread_created(void)
{
    uint32_t n = atomic_fetch_add(&threads_alive, 1) + 1;
    uint32_t peak = atomic_load(&threads_peak);
    while (n > peak && !atomic_compare_exchange_weak(&threads_peak, &peak, n)) {
    }
}

/* A prepared file up to this size is read in before the replay; a larger one streams (see release_ops). */
#define PREP_POPULATE_MAX (128ull << 20)
/* Ops a thread runs between two releases of the pages of those it has run (a mask: 2^18 ops = 8 MiB). */
#define RELEASE_OPS_MASK ((1ull << 18) - 1)

/* Stack each replay thread pre-faults before the baseline (its calls into the allocator stay within it). */
#define STACK_PREFAULT (64 * 1024)
/* Pace: a gap shorter than this is not slept (it is carried into the next op's target instead). */
#define PACE_MIN_SLEEP_NS 50000
/* The allocator's own statistic is read at a sample only while its reads, this one included (estimated as costing
 * what the previous one did), take at most 1/ALLOC_PROBE_SHARE of the replay's time since the start, its pauses left
 * out (mallinfo2 walks every
 * free chunk: one read costs 160 ms on a heap of 1.7 M free chunks). */
#define ALLOC_PROBE_SHARE 100

/* ---- diagnostics (write(2) only) ---- */
static void say(const char *a, const char *b)
{
    ssize_t r = write(2, "ptreplay-native: ", 17);
    r = write(2, a, strlen(a));
    if (b) {
        r = write(2, b, strlen(b));
    }
    r = write(2, "\n", 1);
    (void)r;
}

static _Noreturn void die(int code, const char *a, const char *b)
{
    say(a, b);
    _exit(code);
}

/* ---- the do-nothing allocator for measuring the harness itself ---- */
static char null_block[4096] __attribute__((aligned(4096)));
__attribute__((noinline)) static void *null_malloc(size_t n) { __asm__ volatile("" ::"r"(n)); return null_block; }
__attribute__((noinline)) static void null_free(void *p) { __asm__ volatile("" ::"r"(p)); }

/* ---- histogram indexing ---- */
static const uint8_t size_class_by_bits[65] = {
    0, 0, 0, 0, 0, 0, 0,          /* bit length of (bytes-1) 0..6: <= 64 */
    1, 1,                         /* 7..8: <= 256 */
    2, 2,                         /* 9..10: <= 1 KiB */
    3, 3,                         /* 11..12: <= 4 KiB */
    4, 4, 4,                      /* 13..15: <= 32 KiB */
    5, 5,                         /* 16..17: <= 128 KiB */
    6, 6, 6,                      /* 18..20: <= 1 MiB */
    [21 ... 64] = 7,              /* larger */
};

static inline unsigned size_class(uint64_t bytes)
{
    uint64_t x = bytes ? bytes - 1 : 0;
    return size_class_by_bits[x ? 64 - __builtin_clzll(x) : 0];
}

static inline unsigned cycle_bucket(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    return (msb - 3u) * 16u + (unsigned)((v >> (msb - 4u)) & 15u);
}

/* ---- touch model ---- */
static inline void touch(void *block, uint64_t n, int mode)
{
    volatile char *p = block;
    if (mode == TOUCH_PAGE) {
        p[0] = 1;
        uintptr_t q = ((uintptr_t)block + 4096) & ~(uintptr_t)4095;
        for (uintptr_t end = (uintptr_t)block + n; q < end; q += 4096)
            *(volatile char *)q = 1;
    } else if (mode == TOUCH_FULL) {
        memset(block, 1, n);
    }
}

/* Touches `bytes` of the stack below the caller's frame, so those pages are resident before the baseline.
 * Returns the lowest page touched. */
__attribute__((noinline)) static uintptr_t prefault_stack(size_t bytes)
{
    volatile char *pad = __builtin_alloca(bytes);
    for (size_t i = 0; i < bytes; i += 4096)
        pad[i] = 0;
    pad[bytes - 1] = 0;
    return (uintptr_t)pad & ~(uintptr_t)4095;
}

/*
 * A replay thread about to exit: glibc's thread exit gives the unused part of a cached stack back to the kernel
 * (glibc 2.36 advise_stack_range: madvise(MADV_DONTNEED) from the stack's low end up to the page of
 * start_thread's stack pointer less PTHREAD_STACK_MIN, 16 KiB), taking pre-faulted pages out of the harness's
 * share. Counts them (mincore) so that the harness's share drops by as much once the thread is gone
 * (release_stack_apply, after the join).
 */
static void release_stack_measure(struct worker *w)
{
    uintptr_t freed_end = (w->caller_sp & ~(uintptr_t)4095) - 16384;
    w->stack_released = w->stack_lo && freed_end > w->stack_lo ? probes_resident_bytes(w->stack_lo, freed_end) : 0;
}

static void release_stack_apply(struct worker *w)
{
    probes_harness_released(w->stack_released);
    w->stack_released = 0;
}

/* Cycles since the start that were not replay: sampling, waits for the streamed file's writer and its punching,
 * pace sleeps, lazy thread starts (as finish_replay leaves them out of wall_ns). Serial: every thread's pauses add
 * up; concurrent: this thread's own. Read without synchronisation: a budget, not a figure. */
static uint64_t paused_cycles(const struct worker *w)
{
    uint64_t sum = 0;
    uint32_t first = g.serial ? 0 : (uint32_t)(w - g.workers), last = g.serial ? g.thread_count : first + 1;
    for (uint32_t i = first; i < last; i++) {
        const struct worker *x = &g.workers[i];
        sum += x->sampling_cycles + x->stream_cycles + x->start_cycles + (uint64_t)((double)x->pace_slept_ns * g.res->tsc_per_ns);
    }
    return sum;
}

/* The frees and reallocs every replay thread has made so far (read without synchronisation: a budget, not a figure). */
static uint64_t all_frees(void)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < g.thread_count; i++)
        sum += g.workers[i].frees;
    return sum;
}

/* One sample: the kernel's figures every time, the allocator's own statistic within its time budget (a share of the
 * replay's own time so far: a streamed replay that waits for its writer most of the time gets no more probes).
 * Its whole cost is counted (cycle counter) and left out of wall_ns. */
static void take_sample(struct worker *w, uint32_t sample_index, uint32_t seq)
{
    uint64_t t0 = tsc_now();
    struct res_sample *s = &g.samples[sample_index];
    struct mem_figures m;
    probe_memory(&m);
    s->seq = seq;
    s->tsc = t0;
    s->rss = m.rss;
    s->committed = m.committed;
    s->address_space = m.address_space;
    s->allocator_mapped = RES_NOT_TAKEN;
    /* The next read's cost, estimated: what the last one cost, plus for glibc the free chunks mallinfo2 may now walk
     * beyond the last read's (at most one per free or realloc since; a heap that frees a million blocks makes one read
     * cost 100 times the one before). The sums over threads are taken only when the last cost alone leaves room. */
    uint64_t since = t0 - g.start_tsc, frees = 0;
    int probe = 0;
    if (!g.null_alloc && (w->alloc_probe_cycles + w->alloc_probe_last) * ALLOC_PROBE_SHARE <= since) {
        uint64_t walked = probe_allocator_walked(), estimate = w->alloc_probe_last;
        frees = all_frees();
        if (walked != UINT64_MAX && frees > w->alloc_probe_frees) {
            /* Per chunk: measured once the last read walked enough chunks for its fixed part not to dominate, else 2 ns. */
            double per_chunk = walked >= 4096 ? (double)w->alloc_probe_last / (double)walked : 2.0 * g.res->tsc_per_ns;
            estimate += (uint64_t)(per_chunk * (double)(frees - w->alloc_probe_frees));
        }
        uint64_t needed = (w->alloc_probe_cycles + estimate) * ALLOC_PROBE_SHARE;
        probe = needed <= since && needed + paused_cycles(w) <= since;
    }
    if (probe) {
        w->alloc_probe_frees = frees;
        uint64_t a0 = tsc_now();
        s->allocator_mapped = probe_allocator_mapped();
        w->alloc_probe_last = tsc_now() - a0;
        w->alloc_probe_cycles += w->alloc_probe_last;
        w->alloc_samples++;
    }
    g.res->progress_seq = seq;
    w->samples++;
    w->sampling_cycles += tsc_now() - t0;
}

/* --pace: sleeps until op i's recorded time (scaled) after the start, when that is at least
 * PACE_MIN_SLEEP_NS ahead; a shorter lead is not slept but stays in the schedule. */
static void pace_wait(struct worker *w, uint64_t i)
{
    double target_ns = (double)w->times[i] / g.pace_factor;
    double now_ns = (double)(tsc_now() - g.start_tsc) / g.res->tsc_per_ns;
    if (target_ns - now_ns < PACE_MIN_SLEEP_NS)
        return;
    uint64_t until = g.start_mono + (uint64_t)target_ns;
    struct timespec ts = { (time_t)(until / 1000000000ull), (long)(until % 1000000000ull) };
    uint64_t before = mono_ns();
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, 0) == EINTR)
        ;
    w->pace_slept_ns += mono_ns() - before;
    w->pace_waits++;
    uint64_t previous = i > 0 ? w->times[i - 1] : 0;
    w->pace_recorded_ns += (uint64_t)((double)(w->times[i] - previous) / g.pace_factor);
}

/* Whether seq a comes after seq b in the global order (seq is the position modulo 2^32). */
static inline int seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/*
 * K_FORK: the ops so far rebuilt a forked child's inherited heap. The replayer forks as the recorded parent did
 * (glibc's atfork handlers run: in the child the other threads' arenas go onto the free list); the parent waits for
 * the child and exits with its status. The child has only this thread, which goes on as the child's thread 0 (it runs
 * recorded thread 0's ops from the fork on, switching streams when the fork was made by another thread); the child's
 * other threads are new threads created at their START ops, each from its first op after the fork. The measurements
 * start again here: latency histograms, counters, thread counts and the wall clock.
 * Returns 1 when this thread must go on with thread 0's ops (the fork came from another thread's stream).
 */
static int fork_child(struct worker *w, uint32_t fork_seq)
{
    pid_t pid = fork();
    if (pid < 0)
        die(5, "cannot fork the replay at a recorded fork", 0);
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 5);
    }
    g.in_child = 1;
    probes_after_fork();
    struct worker *self = &g.workers[0];
    memset((char *)g.res + g.res->histograms_offset, 0, g.res->histogram_count * sizeof(thread_histogram));
    free_hists.count = 0;
    g.child_workers = 0;
    for (uint32_t i = 0; i < g.thread_count; i++) {
        struct worker *x = &g.workers[i];
        x->calls = x->nulls = x->extra_frees = x->waits = x->cross = x->empty_frees = 0;
        x->sampling_cycles = x->samples = x->alloc_probe_cycles = x->alloc_samples = 0;
        x->pace_waits = x->pace_recorded_ns = x->pace_slept_ns = 0;
        x->starts = x->start_cycles = 0;
        x->first_calls = x->first_call_max = 0;
        x->called = x == w; /* the forking thread goes on with its heap set up; the child's other threads are new */
        if (x == w && x == self)
            continue; /* goes on in place */
        uint64_t k = 0, samples = 0;
        while (k < x->op_count && !seq_after(x->ops[k].seq, fork_seq)) {
            samples += (x->ops[k].flags & F_SAMPLE) != 0;
            k++;
        }
        x->resume = k;
        x->resume_sample = samples;
        if (x == self)
            continue; /* run by this thread from its first op after the fork */
        x->created = x->joined = 0;
        atomic_store(&x->started, 0);
        atomic_store(&x->spawned, 0);
        x->lazy = 1;
        g.child_workers += k < x->op_count;
    }
    /* Every histogram but the one of the thread going on is free for the child's new threads. */
    for (uint32_t slot = 0; slot < g.res->histogram_count; slot++)
        if (slot != self->hist_slot)
            free_hists.slots[free_hists.count++] = slot;
    self->hist = (thread_histogram *)((char *)g.res + g.res->histograms_offset) + self->hist_slot;
    atomic_store(&finished, 0);
    atomic_store(&threads_alive, 1);
    atomic_store(&threads_peak, 1);
    g.measure_mono = mono_ns(); /* the pace schedule keeps its start: the prefix ran at the recorded pace too */
    if (w == self)
        return 0;
    atomic_store(&turn, fork_seq + 1);
    return 1;
}

static _Noreturn void finish_replay(void);
static void run_worker(struct worker *w);

static void *thread_main(void *arg);

/*
 * A large prepared file streams: the pages of ops a thread has run are given back (the mapping is a read-only file
 * mapping: nothing is lost, they would be read again). The file-backed pages are not in the memory figures (statm
 * shared), but the replayer's resident memory then stays bounded whatever the trace's length.
 */
static void release_ops(const struct prep_op *ops, uint64_t done)
{
    uintptr_t start = (uintptr_t)ops & ~(uintptr_t)4095;
    uintptr_t end = (uintptr_t)(ops + done) & ~(uintptr_t)4095;
    if (end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
}

/* A pass over ops that streams gives back the pages before op i every 2^18 ops. */
static inline void release_ops_every(const struct prep_op *ops, uint64_t i)
{
    if (g.stream && (i & RELEASE_OPS_MASK) == RELEASE_OPS_MASK)
        release_ops(ops, i);
}

/*
 * A streamed prepared file (header stream_window != 0) is written by the preparation while this process replays it:
 *   - an op whose kind is 0 is not written yet: the thread waits for it (stream_wait, sleeping 50 us at a time; it is
 *     never inside a timed call, and the time is left out of wall_ns);
 *   - the writer stays at most stream_window ops ahead of the header's `consumed`, the ops all threads have finished.
 *     Every thread adds its count to stream_done before anything that can block it (a turn, a slot stamp, a join, a
 *     start, the writer, its end), so `consumed` always covers every op done by a blocked thread: the writer cannot
 *     wait for ops that are done while the threads wait for the writer;
 *   - each thread punches the pages of its own stretch of each table that it has run out of the file (fallocate
 *     PUNCH_HOLE) every punch_mask + 1 ops and at its end, so the file's disk use stays about one window.
 */
static void stream_flush(struct worker *w)
{
    if (!g.streamed || w->done_local == 0)
        return;
    uint64_t done = atomic_fetch_add(&stream_done, w->done_local) + w->done_local;
    w->done_local = 0;
    _Atomic uint64_t *c = (_Atomic uint64_t *)&g.shared_header->consumed;
    uint64_t cur = atomic_load(c);
    while (done > cur && !atomic_compare_exchange_weak(c, &cur, done)) {
    }
}

/* Punches entries [from, to) of a thread's stretch of a table that starts at entry `start`: from the page of `from` (what
 * an earlier punch left of it), not below the stretch's first whole page (the page before is shared with another stretch). */
static void punch(uint64_t table, uint64_t elem, uint64_t start, uint64_t from, uint64_t to)
{
    if (!table || to <= from)
        return;
    uint64_t a = (table + elem * from) & ~4095ull, b = (table + elem * to) & ~4095ull;
    uint64_t lowest = (table + elem * start + 4095) & ~4095ull;
    if (a < lowest)
        a = lowest;
    if (b > a)
        fallocate(g.prep_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a, (off_t)(b - a));
}

/* Punches out the worker's ops before `i` (and their table entries) and its first `samples` sample ids. */
static void stream_punch(struct worker *w, uint64_t i, uint64_t samples)
{
    uint64_t t0 = tsc_now();
    const struct prep_header *h = g.prep;
    uint64_t base = (uint64_t)(w->ops - (const struct prep_op *)((const char *)h + h->ops_offset));
    punch(h->ops_offset, sizeof(struct prep_op), base, base + w->punched_ops, base + i);
    punch(h->event_index_offset, 8, base, base + w->punched_ops, base + i);
    punch(h->times_offset, 8, base, base + w->punched_ops, base + i);
    punch(h->addresses_offset, 8, base, base + w->punched_ops, base + i);
    uint64_t sbase = (uint64_t)(w->sample_ids - (const uint32_t *)((const char *)h + h->sample_ids_offset));
    punch(h->sample_ids_offset, 4, sbase, sbase + w->punched_samples, sbase + samples);
    w->punched_ops = i;
    w->punched_samples = samples;
    w->stream_cycles += tsc_now() - t0;
}

static int op_ok(const struct prep_op *o)
{
    const struct prep_header *h = g.prep;
    return !(o->slot >= h->slot_count || (o->next_thread != 0xFFFF && o->next_thread >= h->thread_count) ||
             ((o->kind == K_JOIN || o->kind == K_START) && o->arg >= h->thread_count) ||
             (o->kind == K_START && o->arg == 0) || o->kind == 0 ||
             (o->kind > K_PVALLOC && o->kind != K_THREAD_EXIT && o->kind != K_JOIN && o->kind != K_FORK && o->kind != K_START &&
              o->kind != K_MALLOPT && o->kind != K_MALLOC_TRIM));
}

/* Waits until op `o` is written (its kind, loaded with acquire, is set), then checks it (a streamed file was not
 * validated up front). */
static void stream_wait(struct worker *w, const struct prep_op *o)
{
    const _Atomic uint8_t *kind = (const _Atomic uint8_t *)&o->kind;
    if (atomic_load_explicit(kind, memory_order_acquire) == 0) {
        stream_flush(w); /* counts its own time */
        uint64_t t0 = tsc_now();
        struct timespec pause = { 0, 50000 };
        while (atomic_load_explicit(kind, memory_order_acquire) == 0)
            nanosleep(&pause, 0);
        w->stream_cycles += tsc_now() - t0;
    }
    if (o->kind == 0xFF)
        die(3, "the preparation stopped before the end of the trace (it reports why)", 0);
    if (!op_ok(o) || o->kind == K_FORK)
        die(3, "prepared trace op out of range", 0);
}

/*
 * K_START: creates the replay thread of a recorded thread that starts during the replay, where it started in the
 * global order, and waits until it has pre-faulted its stack. The preparation puts it after the joins of threads that
 * exited before, and creates before the replay only as many threads as were ever alive at once, so a joined thread's
 * stack is always in glibc's stack cache: pthread_create then neither maps a stack nor callocs a DTV (no heap effect).
 * The new thread counts the stack pages it faults in as the harness's (probes_harness_grown).
 */
static void start_lazy(struct worker *self, struct worker *w, uint32_t joins_before)
{
    if (w->created)
        return;
    stream_flush(self); /* counts its own time */
    uint64_t t0 = tsc_now();
    for (uint32_t done; (done = atomic_load(&joins_done)) < joins_before;)
        futex_wait_u32(&joins_done, done);
    w->hist_slot = hist_take();
    w->hist = (thread_histogram *)((char *)g.res + g.res->histograms_offset) + w->hist_slot;
    if (pthread_create(&w->thread, &g.thread_attr, thread_main, w) != 0)
        die(5, "cannot create a replay thread", 0);
    w->created = 1;
    thread_created();
    atomic_store(&w->spawned, 1);
    futex_wake_u32(&w->spawned, INT_MAX);
    while (atomic_load(&w->started) == 0)
        futex_wait_u32(&w->started, 0);
    self->starts++;
    self->start_cycles += tsc_now() - t0;
}

/*
 * The hot loop. always_inline with constant serial/null/timing arguments, so each combination
 * is compiled without the branches it does not need.
 */
static inline __attribute__((always_inline)) void
run_ops(struct worker *w, const int serial, const int null_alloc, const int timing)
{
    const struct prep_op *ops = w->ops;
    const uint64_t n = w->op_count;
    void **const slot_ptr = g.slot_ptr;
    _Atomic uint32_t *const stamps = g.slot_stamp;
    thread_histogram *const hist = w->hist;
    const int touch_mode = g.touch;
    const uint32_t me = w->index;
    const uint64_t *const times = w->times;
    uint64_t sample_cursor = w->resume_sample;
    int have_turn = 0;

    const int streamed = g.streamed;
    for (uint64_t i = w->resume; i < n; i++) {
        const struct prep_op *o = &ops[i];
        if (streamed) {
            stream_wait(w, o);
            if ((i & g.punch_mask) == g.punch_mask)
                stream_punch(w, i, sample_cursor);
        }
        const uint32_t slot = o->slot;
        if (serial) {
            if (!have_turn) {
                stream_flush(w);
                turn_wait(&turn, &w->sleeping, o->seq);
            }
        } else if (o->flags & F_WAIT) {
            stream_flush(w);
            w->waits += (uint64_t)stamp_wait(&stamps[slot], o->dep);
        }
        w->cross += (o->flags & F_WAIT) != 0;
        w->done_local++;
        release_ops_every(ops, i);
        if (times)
            pace_wait(w, i);

        void *p = 0;
        uint64_t t0 = 0, t1 = 0;
        uint64_t bytes = o->size;
        switch (o->kind) {
        case K_MALLOC:
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : malloc(o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_CALLOC:
            bytes = o->size * o->arg;
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(bytes) : calloc(o->arg, o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_REALLOC:
            w->frees++;
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : realloc(slot_ptr[slot], o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_REALLOCARRAY:
            w->frees++;
            bytes = o->size * o->arg;
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(bytes) : reallocarray(slot_ptr[slot], o->arg, o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_FREE: {
            w->frees++;
            void *victim = (o->flags & F_NULL_PTR) ? 0 : slot_ptr[slot];
            w->empty_frees += !(o->flags & F_NULL_PTR) && victim == 0;
            if (timing) t0 = tsc_now();
            if (null_alloc) null_free(victim); else free(victim);
            if (timing) t1 = tsc_now();
            slot_ptr[slot] = 0;
            break;
        }
        case K_MEMALIGN:
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : memalign(o->arg, o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_POSIX_MEMALIGN:
            if (timing) t0 = tsc_now();
            if (null_alloc) p = null_malloc(o->size);
            else if (posix_memalign(&p, o->arg, o->size) != 0) p = 0;
            if (timing) t1 = tsc_now();
            break;
        case K_ALIGNED_ALLOC:
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : aligned_alloc(o->arg, o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_VALLOC:
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : valloc(o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_PVALLOC:
            if (timing) t0 = tsc_now();
            p = null_alloc ? null_malloc(o->size) : pvalloc(o->size);
            if (timing) t1 = tsc_now();
            break;
        case K_THREAD_EXIT:
            w->addresses[i & w->address_mask] = 0;
            w->exited = 1;
            release_stack_measure(w);
            if (!serial)
                release_stack_apply(w); /* nobody joins it: the exit follows at once */
            if (serial)
                turn_pass(&turn, o->next_thread == 0xFFFF ? 0 : &g.workers[o->next_thread].sleeping, o->seq + 1);
            if (streamed) {
                /* After the last read of this op: the punch may take its page. */
                stream_punch(w, i + 1, sample_cursor);
                stream_flush(w);
            }
            return;
        case K_FORK:
            if (fork_child(w, o->seq)) {
                /* The child's thread 0 is this thread now: the fork's sample (the figures the child starts with), thread
                 * 0's ops from the fork on, then the end of the replay. */
                if (o->flags & F_SAMPLE)
                    take_sample(&g.workers[0], w->sample_ids[sample_cursor++], o->seq);
                run_worker(&g.workers[0]);
                finish_replay();
            }
            goto after_call;
        case K_START:
            start_lazy(w, &g.workers[o->arg], o->dep);
            goto after_call;
        case K_MALLOPT: /* the allocator under test decides what it does with it (glibc's when it has none) */
            if (!null_alloc)
                mallopt((int)(int64_t)o->arg, (int)(int64_t)o->size);
            goto after_call;
        case K_MALLOC_TRIM:
            if (!null_alloc)
                malloc_trim(o->size);
            goto after_call;
        case K_JOIN:
            /* Serial: the exit is complete before the next op (deterministic arena hand-over). Both modes: the
             * stack goes back to glibc's cache, where a later K_START finds it. Concurrent mode cannot deadlock:
             * the thread's start and exit come earlier in the global order, and so does everything they wait for. */
        {
            struct worker *x = &g.workers[o->arg];
            stream_flush(w);
            if (x->op_count > 0 && !x->joined) {
                if (x->lazy) /* free-running: this thread may be ahead of the one that creates x */
                    while (atomic_load(&x->spawned) == 0)
                        futex_wait_u32(&x->spawned, 0);
                pthread_join(x->thread, 0);
                x->joined = 1;
                atomic_fetch_sub(&threads_alive, 1);
                hist_release(x);
                if (serial)
                    release_stack_apply(x);
            }
            atomic_fetch_add(&joins_done, 1);
            futex_wake_u32(&joins_done, INT_MAX);
            goto after_call;
        }
        default:
            goto after_call;
        }

        w->calls++;
        if (timing) {
            if (__builtin_expect(w->called, 1)) {
                (*hist)[o->kind][size_class(bytes)][cycle_bucket(t1 - t0)]++;
            } else {
                /* The thread's first call sets up its heap, tcache and arena: a one-time cost, kept apart. */
                w->called = 1;
                w->first_calls++;
                if (t1 - t0 > w->first_call_max)
                    w->first_call_max = t1 - t0;
            }
        }
        if (o->kind != K_FREE) {
            if (p && !null_alloc && touch_mode != TOUCH_NONE)
                touch(p, bytes, touch_mode);
            if (o->flags & (F_EXPECT_FAIL | F_RELEASE)) {
                if (p) {
                    if (null_alloc) null_free(p); else free(p);
                    w->extra_frees++;
                }
                if (o->flags & F_RELEASE)
                    slot_ptr[slot] = 0;
            } else if (p) {
                slot_ptr[slot] = p;
            } else {
                w->nulls++;
            }
        }
        if (!serial && slot)
            stamp_publish(&stamps[slot], o->dep + 1);
    after_call:
        w->addresses[i & w->address_mask] = (uint64_t)(uintptr_t)p;
        if (o->flags & F_SAMPLE) {
            if (streamed && w->sample_ids[sample_cursor] >= g.prep->sample_count)
                die(3, "prepared trace sample id out of range", 0);
            take_sample(w, w->sample_ids[sample_cursor++], o->seq);
        }
        if (serial) {
            have_turn = o->next_thread == me;
            if (!have_turn)
                turn_pass(&turn, o->next_thread == 0xFFFF ? 0 : &g.workers[o->next_thread].sleeping, o->seq + 1);
        }
    }
    if (streamed) {
        stream_punch(w, n, sample_cursor);
        stream_flush(w);
    }
}

static void run_worker(struct worker *w)
{
    if (g.serial) {
        if (g.null_alloc) { if (g.timing) run_ops(w, 1, 1, 1); else run_ops(w, 1, 1, 0); }
        else { if (g.timing) run_ops(w, 1, 0, 1); else run_ops(w, 1, 0, 0); }
    } else {
        if (g.null_alloc) { if (g.timing) run_ops(w, 0, 1, 1); else run_ops(w, 0, 1, 0); }
        else { if (g.timing) run_ops(w, 0, 0, 1); else run_ops(w, 0, 0, 0); }
    }
}

/*
 * Whether the recorded thread exited within the recording (its last op is THREAD_EXIT). One that did not
 * (a runtime's worker threads live until the process ends) must not exit when its ops run out either: glibc
 * would put its arena on the free list, and a thread starting later would reuse it where the recorded one
 * got an arena of its own. Such a replay thread waits until the replayer exits.
 */
static int ends_with_exit(const struct worker *w)
{
    if (g.streamed) /* its last op may not be written yet, or punched out already */
        return w->op_count > 0 && (g.thread_flags[w->index] & TF_ENDS_WITH_EXIT);
    return w->op_count > 0 && w->ops[w->op_count - 1].kind == K_THREAD_EXIT;
}

/* A thread whose stack only goes into glibc's stack cache (see the forks case in main): touched like a replay thread's. */
static void *spare_thread_main(void *arg)
{
    prefault_stack(STACK_PREFAULT);
    probes_mark_harness(&arg);
    return arg;
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    /* start_thread's stack pointer: just above this frame (return address, saved frame pointer). */
    w->caller_sp = (uintptr_t)__builtin_frame_address(0) + 16;
    if (w->lazy) {
        /* Created during the replay on a cached stack: glibc's exit of its last user gave part of it back
         * (release_stack_measure); what pre-faulting brings back is the harness's again. */
        uintptr_t lo = (w->caller_sp & ~(uintptr_t)4095) - STACK_PREFAULT - 8192;
        uintptr_t hi = w->caller_sp & ~(uintptr_t)4095;
        uint64_t before = probes_resident_bytes(lo, hi);
        w->stack_lo = prefault_stack(STACK_PREFAULT);
        uint64_t after = probes_resident_bytes(lo, hi);
        if (after > before)
            probes_harness_grown(after - before);
        atomic_store(&w->started, 1);
        futex_wake_u32(&w->started, INT_MAX);
    } else {
        w->stack_lo = prefault_stack(STACK_PREFAULT);
        probes_mark_harness(&w);
        atomic_fetch_add(&ready, 1);
        futex_wake_u32(&ready, 1);
        while (atomic_load(&go) == 0)
            futex_wait_u32(&go, 0);
    }
    run_worker(w);
    atomic_fetch_add(&finished, 1);
    futex_wake_u32(&finished, 1);
    if (!ends_with_exit(w))
        for (;;)
            futex_wait_u32(&never, 0);
    return 0;
}

/* ---- setup ---- */
static void *map_anonymous(uint64_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    /* Populated: the tables are the harness's memory, resident before the baseline. */
    void *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        die(5, "cannot map memory for the slot/thread tables", 0);
    probes_mark_harness(p);
    return p;
}

static const struct prep_header *map_prepared(const char *path, uint64_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(3, "cannot open prepared trace ", path);
    struct stat st;
    struct prep_header peek;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(struct prep_header) ||
        pread(fd, &peek, sizeof peek, 0) != (ssize_t)sizeof peek)
        die(3, "prepared trace too short: ", path);
    if (peek.stream_window) {
        /* Written while it is replayed: open read-write to punch out what was replayed, the header page shared for
         * `consumed`. Its ops are read as they come (never read in up front). */
        g.streamed = 1;
        close(fd);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            die(3, "cannot open streamed prepared trace for writing ", path);
        g.prep_fd = fd;
        g.shared_header = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (g.shared_header == MAP_FAILED)
            die(3, "cannot map prepared trace header ", path);
    }
    /* Small files are read in up front (no page faults during the replay); large ones stream, and each thread gives
     * back the pages of the ops it has run (release_ops), so resident memory does not grow with the trace. */
    int populate = (uint64_t)st.st_size <= PREP_POPULATE_MAX && !g.streamed ? MAP_POPULATE : 0;
    void *p = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | populate, fd, 0);
    if (!g.streamed)
        close(fd);
    if (p == MAP_FAILED)
        die(3, "cannot map prepared trace ", path);
    /* A streamed file is read without read-ahead: its page cache stays single pages, which a punch frees whole (a
     * read-ahead folio a punch covers in part would be written back, taking the punched blocks again). */
    if (!populate)
        madvise(p, (size_t)st.st_size, g.streamed ? MADV_RANDOM : MADV_SEQUENTIAL);
    *size_out = (uint64_t)st.st_size;
    return p;
}

static int range_ok(uint64_t offset, uint64_t count, uint64_t elem, uint64_t file_size)
{
    if (offset > file_size || (offset & 7))
        return 0;
    if (elem && count > (file_size - offset) / elem)
        return 0;
    return 1;
}

static void validate(const struct prep_header *h, uint64_t size)
{
    if (memcmp(h->magic, PREP_MAGIC, 8) != 0)
        die(3, "not a prepared trace (bad magic)", 0);
    if (h->version != PREP_VERSION)
        die(3, "prepared trace has an unsupported version", 0);
    if (h->thread_count == 0 || h->thread_count > 0xFFFE || h->slot_count == 0 || h->slot_count > 0xFFFFFFFFull)
        die(3, "prepared trace header out of range", 0);
    if (!range_ok(h->threads_offset, h->thread_count, sizeof(struct prep_thread), size) ||
        !range_ok(h->ops_offset, h->op_count, sizeof(struct prep_op), size) ||
        !range_ok(h->sample_ids_offset, h->sample_count, 4, size) ||
        (h->times_offset && !range_ok(h->times_offset, h->op_count, 8, size)) ||
        (h->addresses_offset && !range_ok(h->addresses_offset, h->op_count, 8, size)) ||
        (h->thread_flags_offset && !range_ok(h->thread_flags_offset, h->thread_count, 4, size)))
        die(3, "prepared trace tables lie outside the file", 0);
    if (h->stream_window && (!h->thread_flags_offset ||
                             ((h->thread_flags_offset + 4ull * h->thread_count + 7) & ~7ull) + 8 > size))
        die(3, "streamed prepared trace without a thread flags table and stall word", 0);
    const struct prep_thread *t = (const void *)((const char *)h + h->threads_offset);
    const struct prep_op *ops = (const void *)((const char *)h + h->ops_offset);
    for (uint32_t i = 0; i < h->thread_count; i++) {
        if (t[i].op_start > h->op_count || t[i].op_count > h->op_count - t[i].op_start ||
            t[i].sample_start > h->sample_count || t[i].sample_count > h->sample_count - t[i].sample_start)
            die(3, "prepared trace thread table out of range", 0);
    }
    if (h->stream_window)
        return; /* its ops are checked as they are read (stream_wait): most are not written yet */
    /* Every op's indices must stay inside the tables: the hot loop does not check them. */
    const uint32_t *sid = (const void *)((const char *)h + h->sample_ids_offset);
    for (uint64_t i = 0; i < h->sample_count; i++)
        if (sid[i] >= h->sample_count)
            die(3, "prepared trace sample id out of range", 0);
    for (uint64_t i = 0; i < h->op_count; i++) {
        if (!op_ok(&ops[i]))
            die(3, "prepared trace op out of range", 0);
        release_ops_every(ops, i);
    }
    for (uint32_t i = 0; i < h->thread_count; i++) {
        uint64_t flagged = 0;
        for (uint64_t k = 0; k < t[i].op_count; k++) {
            flagged += (ops[t[i].op_start + k].flags & F_SAMPLE) != 0;
            release_ops_every(ops, t[i].op_start + k);
        }
        if (flagged != t[i].sample_count)
            die(3, "prepared trace sample flags do not match the thread table", 0);
    }
}

static struct res_header *create_results(const char *path, const struct prep_header *h, uint32_t histograms)
{
    uint64_t hist_off = 4096;
    uint64_t hist_bytes = (uint64_t)histograms * sizeof(thread_histogram);
    uint64_t samples_off = hist_off + hist_bytes;
    uint64_t addr_off = g.log_addresses ? samples_off + h->sample_count * sizeof(struct res_sample) : 0;
    uint64_t total = samples_off + h->sample_count * sizeof(struct res_sample) + (g.log_addresses ? h->op_count * 8 : 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(4, "cannot create results file ", path);
    if (ftruncate(fd, (off_t)total) != 0)
        die(4, "cannot size results file ", path);
    void *p = mmap(0, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        die(4, "cannot map results file ", path);
    struct res_header *r = p;
    memcpy(r->magic, RES_MAGIC, 8);
    r->version = RES_VERSION;
    r->thread_count = h->thread_count;
    r->op_count = h->op_count;
    r->sample_count = h->sample_count;
    r->histograms_offset = hist_off;
    r->histogram_count = histograms;
    r->samples_offset = samples_off;
    r->addresses_offset = addr_off;
    return r;
}

static void usage(void)
{
    die(2, "usage: ptreplay-native PREPARED RESULTS [--mode serial|concurrent] [--touch none|page|full] "
           "[--allocator glibc|other] [--log-addresses] [--null-allocator] [--no-timing] [--pace max|recorded|FACTOR]", 0);
}

/*
 * The end of the replay, on the thread that ran recorded thread 0's ops (the main thread, or in a forked child the
 * thread that forked): waits for the other threads' ops, joins those whose recorded thread exited, takes the final
 * figures, sums the threads' counters into the results and exits.
 */
static _Noreturn void finish_replay(void)
{
    struct res_header *r = g.res;
    uint32_t expected = g.in_child ? g.child_workers : g.workers_total;
    for (;;) {
        uint32_t f = atomic_load(&finished);
        if (f >= expected)
            break;
        futex_wait_u32(&finished, f);
    }
    /* Threads still alive at the end of the recording stay alive (ends_with_exit): not joined. */
    for (uint32_t i = 1; i < g.thread_count; i++)
        if (g.workers[i].created && !g.workers[i].joined && ends_with_exit(&g.workers[i])) {
            pthread_join(g.workers[i].thread, 0);
            g.workers[i].joined = 1;
            release_stack_apply(&g.workers[i]);
        }
    r->elapsed_ns = mono_ns() - g.measure_mono;

    r->brk_end = (uint64_t)(uintptr_t)sbrk(0);
    struct mem_figures fin;
    probe_memory(&fin);
    r->final = (struct res_memory){ fin.rss, fin.committed, fin.address_space };
    r->final_allocator_mapped = g.null_alloc ? 0 : probe_allocator_mapped();
    probe_mallinfo(&r->mallinfo_arena, &r->mallinfo_hblkhd, &r->mallinfo_uordblks, &r->mallinfo_fordblks);
    uint64_t excluded = 0;
    for (uint32_t i = 0; i < g.thread_count; i++) {
        struct worker *w = &g.workers[i];
        r->calls += w->calls;
        r->replay_nulls += w->nulls;
        r->extra_frees += w->extra_frees;
        r->cross_thread_waits += w->waits;
        r->cross_thread_ops += w->cross;
        r->empty_slot_frees += w->empty_frees;
        r->samples_taken += w->samples;
        r->allocator_samples_taken += w->alloc_samples;
        r->pace_waits += w->pace_waits;
        r->pace_recorded_wait_ns += w->pace_recorded_ns;
        r->pace_slept_ns += w->pace_slept_ns;
        uint64_t sampling_ns = (uint64_t)((double)w->sampling_cycles / r->tsc_per_ns);
        uint64_t start_ns = (uint64_t)((double)w->start_cycles / r->tsc_per_ns);
        r->sampling_ns += sampling_ns;
        r->thread_starts += w->starts;
        r->first_calls += w->first_calls;
        if (w->first_call_max > r->first_call_max_cycles)
            r->first_call_max_cycles = w->first_call_max;
        r->thread_start_ns += start_ns;
        /* Serial: one thread runs at a time, so every thread's pauses add up. Concurrent: threads pause
         * side by side; the longest one's pauses are what is certainly not replay time. */
        /* A streamed file: the thread's own waits for the writer's next window and its punching (stream_wait, stream_flush). */
        uint64_t stream_ns = (uint64_t)((double)w->stream_cycles / r->tsc_per_ns);
        uint64_t paused = sampling_ns + w->pace_slept_ns + start_ns + stream_ns;
        if (g.serial)
            excluded += paused;
        else if (paused > excluded)
            excluded = paused;
    }
    r->wall_ns = r->elapsed_ns > excluded ? r->elapsed_ns - excluded : 0;
    r->threads_peak = atomic_load(&threads_peak);
    r->replayer_peak_rss = probes_peak_rss();
    atomic_thread_fence(memory_order_seq_cst);
    r->ok = 1;
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *prepared = argv[1], *results = argv[2];
    int glibc = 1;
    g.serial = 1;
    g.touch = TOUCH_PAGE;
    g.timing = 1;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "serial")) g.serial = 1;
            else if (!strcmp(v, "concurrent")) g.serial = 0;
            else usage();
            i++;
        } else if (!strcmp(a, "--touch")) {
            if (!strcmp(v, "none")) g.touch = TOUCH_NONE;
            else if (!strcmp(v, "page")) g.touch = TOUCH_PAGE;
            else if (!strcmp(v, "full")) g.touch = TOUCH_FULL;
            else usage();
            i++;
        } else if (!strcmp(a, "--allocator")) {
            glibc = !strcmp(v, "glibc");
            i++;
        } else if (!strcmp(a, "--null-allocator")) {
            g.null_alloc = 1;
        } else if (!strcmp(a, "--log-addresses")) {
            g.log_addresses = 1;
        } else if (!strcmp(a, "--no-timing")) {
            g.timing = 0;
        } else if (!strcmp(a, "--pace")) {
            if (!strcmp(v, "max")) {
                g.pace_factor = 0;
            } else if (!strcmp(v, "recorded")) {
                g.pace_factor = 1;
            } else {
                char *end = 0;
                g.pace_factor = strtod(v, &end);
                if (!*v || *end || !(g.pace_factor > 0 && g.pace_factor < 1e9))
                    usage();
            }
            i++;
        } else {
            usage();
        }
    }

    uint64_t prep_size;
    const struct prep_header *h = map_prepared(prepared, &prep_size);
    g.stream = prep_size > PREP_POPULATE_MAX && !g.streamed;
    g.prep = h;
    validate(h, prep_size);
    if (g.pace_factor > 0 && !h->times_offset)
        die(3, "--pace needs a prepared trace with recorded times", 0);
    g.thread_count = h->thread_count;
    g.workers = map_anonymous((uint64_t)h->thread_count * sizeof(struct worker));
    const struct prep_thread *threads = (const void *)((const char *)h + h->threads_offset);
    const struct prep_op *ops = (const void *)((const char *)h + h->ops_offset);
    /* Threads that start during the replay (a K_START op names them) are created there, on a cached stack, and
     * take over a joined thread's latency histogram: one histogram per thread alive at once. */
    /* (Only START ops before a fork: the threads a forked child starts are created in the child, see fork_child.) */
    int forks = 0;
    uint32_t first_fork = 0;
    g.thread_flags = h->thread_flags_offset ? (const uint32_t *)((const char *)h + h->thread_flags_offset) : 0;
    if (g.streamed) {
        /* Not a fork child's trace (those are never streamed): the thread flags say which threads start at a K_START. */
        for (uint32_t i = 0; i < h->thread_count; i++)
            g.workers[i].lazy = (g.thread_flags[i] & TF_STARTED_BY_OP) != 0;
        uint64_t quarter = h->stream_window / 4 < 128 ? 128 : h->stream_window / 4;
        g.punch_mask = (1ull << (63 - __builtin_clzll(quarter))) - 1;
    }
    for (uint64_t i = 0; i < h->op_count && !g.streamed; i++) {
        if (ops[i].kind == K_FORK && (!forks++ || seq_after(first_fork, ops[i].seq)))
            first_fork = ops[i].seq;
        release_ops_every(ops, i);
    }
    for (uint64_t i = 0; i < h->op_count && !g.streamed; i++) {
        if (ops[i].kind == K_START && (!forks || seq_after(first_fork, ops[i].seq)))
            g.workers[ops[i].arg].lazy = 1;
        release_ops_every(ops, i);
    }
    if (g.stream)
        release_ops(ops, h->op_count);
    uint32_t histograms = 1;
    for (uint32_t i = 1; i < h->thread_count; i++)
        if (threads[i].op_count > 0 && !g.workers[i].lazy)
            g.workers[i].hist_slot = histograms++;
    /* A forked child may run more threads at once than its parent did before the fork. */
    uint32_t at_once = h->threads_at_once ? h->threads_at_once : h->thread_count;
    if (at_once > h->thread_count)
        die(3, "prepared trace header out of range (threads_at_once)", 0);
    if (histograms < at_once)
        histograms = at_once;
    free_hists.slots = map_anonymous((uint64_t)histograms * sizeof(uint32_t));

    struct res_header *r = create_results(results, h, histograms);
    g.res = r;
    r->null_allocator = (uint64_t)g.null_alloc;
    g.samples = (struct res_sample *)((char *)r + r->samples_offset);
    g.slot_ptr = map_anonymous(h->slot_count * sizeof(void *));
    if (!g.serial)
        g.slot_stamp = map_anonymous(h->slot_count * sizeof(uint32_t));

    const uint32_t *sample_ids = (const void *)((const char *)h + h->sample_ids_offset);
    for (uint32_t i = 0; i < h->thread_count; i++) {
        struct worker *w = &g.workers[i];
        w->index = i;
        w->ops = ops + threads[i].op_start;
        w->op_count = threads[i].op_count;
        if (g.log_addresses) {
            w->addresses = (uint64_t *)((char *)r + r->addresses_offset) + threads[i].op_start;
            w->address_mask = ~(uint64_t)0;
        } else {
            w->addresses = &w->scratch;
            w->address_mask = 0;
        }
        w->sample_ids = sample_ids + threads[i].sample_start;
        w->times = g.pace_factor > 0 ? (const uint64_t *)((const char *)h + h->times_offset) + threads[i].op_start : 0;
        w->hist = (thread_histogram *)((char *)r + r->histograms_offset) + w->hist_slot; /* lazy: set at its start */
    }

    r->allocator_stats_source = (uint64_t)probes_init(glibc);
    r->pace_factor = g.pace_factor;
    memset(null_block, 0, sizeof null_block);
    r->tsc_per_ns = tsc_calibrate();
    uint64_t floor = ~(uint64_t)0;
    for (int i = 0; i < 10000; i++) {
        uint64_t a = tsc_now(), b = tsc_now();
        if (b - a < floor)
            floor = b - a;
    }
    r->timer_floor_cycles = floor;
    atomic_store(&turn, 0);

    /* brk0 before anything of ours touches the heap: main-heap offsets from it match the recording's
     * offsets from its header brk0, shifted by exactly setup_heap_bytes - the tcache block. */
    r->brk0 = (uint64_t)(uintptr_t)sbrk(0);

    /* Threads next (pthread_create's own allocations happen before the baseline). Each calloc's a
     * DTV in this thread's arena, i.e. the main heap (glibc 2.36 _dl_allocate_tls). */
    pthread_attr_init(&g.thread_attr);
    pthread_attr_setstacksize(&g.thread_attr, 256 * 1024);
    if (forks) {
        /* A forked child has only the thread that forked: its threads are created in the child, on stacks its parent's
         * other threads left (glibc's child puts them in its stack cache) or, beyond those, on stacks that would have
         * to be mapped, with a DTV calloc'd in the creator's arena: a heap effect the recording does not have. So put
         * as many stacks as threads are ever alive at once in the cache now, before the baseline (their DTVs join the
         * replayer's setup use of the main heap; the replay threads created next take these stacks). */
        pthread_t spare[64];
        for (uint32_t done = 0; done < at_once;) {
            uint32_t n = at_once - done < 64 ? at_once - done : 64;
            for (uint32_t k = 0; k < n; k++)
                if (pthread_create(&spare[k], &g.thread_attr, spare_thread_main, 0) != 0)
                    die(5, "cannot create a replay thread", 0);
            for (uint32_t k = 0; k < n; k++)
                pthread_join(spare[k], 0);
            done += n;
        }
    }
    uint32_t precreated = 0;
    for (uint32_t i = 1; i < h->thread_count; i++) {
        if (g.workers[i].op_count == 0)
            continue; /* a thread number with nothing to replay: no thread */
        g.workers_total++;
        if (g.workers[i].lazy)
            continue;
        if (pthread_create(&g.workers[i].thread, &g.thread_attr, thread_main, &g.workers[i]) != 0)
            die(5, "cannot create a replay thread", 0);
        g.workers[i].created = 1;
        thread_created();
        precreated++;
    }
    /* Each thread pre-faults its stack and marks it as the harness's before it waits for `go`. */
    for (;;) {
        uint32_t n = atomic_load(&ready);
        if (n >= precreated)
            break;
        futex_wait_u32(&ready, n);
    }

    r->setup_heap_bytes = probe_in_use();
    /* The baseline: the main thread's stack and the statm read path are warm, every table is resident. */
    prefault_stack(4 * STACK_PREFAULT);
    probes_mark_harness(&h);
    {
        struct mem_figures warm;
        probe_memory(&warm);
    }
    struct mem_figures allocator0, harness;
    probes_baseline(glibc, r->brk0, !g.null_alloc, &allocator0, &harness);
    r->allocator_at_baseline = (struct res_memory){ allocator0.rss, allocator0.committed, allocator0.address_space };
    r->harness = (struct res_memory){ harness.rss, harness.committed, harness.address_space };
    g.start_mono = mono_ns();
    g.start_tsc = tsc_now();
    g.measure_mono = g.start_mono;
    atomic_store(&go, 1);
    futex_wake_u32(&go, INT_MAX);

    run_worker(&g.workers[0]);
    finish_replay();
}
