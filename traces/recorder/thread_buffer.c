/*
 * Per-thread buffers: setup, flush, thread start/exit markers, events outside the hot path.
 *
 * Buffers come from one reserved mapping of PTR_SLOTS slots (no heap, no page touched until used);
 * the registry maps each slot to the thread that owns it, so process exit can write what other
 * threads still hold. Claiming and releasing a slot are the only atomic operations, once per thread.
 *
 *   slot i: [ ptr_block_header (36 B) | payload ...................... | slack >= 64 B | side buffer ]
 *            ^ block                    ^ payload        pos ^   limit ^                 ^ SIDE(block)
 */
#include <pthread.h>
#include <sys/mman.h>
#include <limits.h>
#include "ptrecord.h"
#include "encode.h"
#include "sys.h"

#define PTR_SLOTS 256
#define PAYLOAD(block) ((block) + sizeof(struct ptr_block_header))
#define SIDE(block) ((struct ptr_side_call *)((block) + PTR_BUFFER_BYTES - PTR_SIDE_BYTES))
#define SIDE_CALLS ((uint32_t)(PTR_SIDE_BYTES / sizeof(struct ptr_side_call)))
#define SIDE_MORE_BYTES ((unsigned long)(PTR_SIDE_MAX_CALLS - SIDE_CALLS) * sizeof(struct ptr_side_call))

static struct ptr_thread *registry[PTR_SLOTS];
static int registry_high = -1; /* the highest slot ever claimed (the stale-reading sweep looks no further) */
static int sweep_busy;         /* a thread is sweeping (ptr_sweep_stale): an exiting thread waits for it */

/*
 * Exited threads whose thread-exit marker is still to be written. glibc can free after the last
 * key destructor (thread freeres), so the marker waits until the thread is really gone: a new thread
 * that gets the same tid, or finds the tid dead (tgkill ESRCH), or process exit writes it. Until
 * then the late events carry the thread's tid and belong to it.
 */
#define PTR_ZOMBIES 1024
static uint32_t zombie_tids[PTR_ZOMBIES];
static uint8_t *slot_arena;
static pthread_key_t exit_key;
static int exit_key_ready;

/* Reserves the slot arena. Called once, from process init, before any thread records. */
void ptr_registry_init(void)
{
    slot_arena = ptr_mmap((unsigned long)PTR_SLOTS * PTR_BUFFER_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

static uint8_t *claim_buffer(struct ptr_thread *t)
{
    if (slot_arena != NULL) {
        for (int i = 0; i < PTR_SLOTS; i++) {
            struct ptr_thread *expected = NULL;
            if (registry[i] == NULL &&
                __atomic_compare_exchange_n(&registry[i], &expected, t, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                t->slot = i;
                int high = __atomic_load_n(&registry_high, __ATOMIC_RELAXED);
                while (high < i && !__atomic_compare_exchange_n(&registry_high, &high, i, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                }
                return slot_arena + (size_t)i * PTR_BUFFER_BYTES;
            }
        }
    }
    t->slot = -1;
    return ptr_mmap(PTR_BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

static void release_buffer(struct ptr_thread *t)
{
    if (t->block == NULL) {
        return;
    }
    if (t->slot >= 0) {
        ptr_madvise(t->block, PTR_BUFFER_BYTES, MADV_DONTNEED);
        __atomic_store_n(&registry[t->slot], NULL, __ATOMIC_SEQ_CST);
        /* A sweep that may have read this entry before it was cleared must be over before the TLS goes. */
        while (__atomic_load_n(&sweep_busy, __ATOMIC_SEQ_CST) != 0) {
            __builtin_ia32_pause();
        }
    } else {
        ptr_munmap(t->block, PTR_BUFFER_BYTES);
    }
    t->block = NULL;
    if (t->side_more != NULL) {
        ptr_munmap(t->side_more, SIDE_MORE_BYTES);
        t->side_more = NULL;
    }
}

/* Empties the buffer: a new block whose base is the last event's timestamp. */
static void start_block(struct ptr_thread *t)
{
    t->pos = PAYLOAD(t->block);
    t->limit = t->block + PTR_BUFFER_BYTES - PTR_SIDE_BYTES - PTR_MAX_EVENT_BYTES;
    t->count = 0;
    t->last_addr = 0;
    t->base_ts = t->last_ts;
    t->clock_mark = t->pos; /* a block's first event reads the clock */
    ptr_update_gate(t);
}

/* Encodes one event at the end of an ACTIVE thread's block (flushing first when full). */
static void append(struct ptr_thread *t, const struct ptr_call *c, uint64_t ts)
{
    if (t->pos > t->limit) {
        ptr_flush(t);
        if (t->state != TS_ACTIVE) {
            return; /* the process is ending and another thread writes this block out: leave it as it is */
        }
    }
    uint64_t dt = ptr_advance_time(t, ts);
    uint8_t *p = ptr_put_prologue(t->pos, c->kind | (c->null_result ? TAG_NULL_RESULT : 0u), c->status, dt);
    p = ptr_put_args(p, &t->last_addr, c->kind, c->ptr, c->count, c->align, c->size, c->result, c->null_result);
    if (PTR_UNLIKELY(ptr_stacks.depth != 0) && ptr_kind_allocates(c->kind)) {
        p = ptr_put_varint(p, c->stack); /* FORMAT.md "Stacks": blocks with flag bit 3 */
    }
    t->count++;
    t->pos = p;
}

/*
 * A handler that interrupted the recorder on this thread is running (side_frame set by signals.c):
 * its calls go to the side buffer. The handler's frames lie below its trampoline's frame; a current
 * frame above it means the handler was left by longjmp, which ends side mode here.
 */
int ptr_in_side_handler(struct ptr_thread *t)
{
    uintptr_t frame = __atomic_load_n(&t->side_frame, __ATOMIC_RELAXED);
    if (PTR_LIKELY(frame == 0)) {
        return 0;
    }
    if ((uintptr_t)__builtin_frame_address(0) < frame) {
        return 1;
    }
    __atomic_store_n(&t->side_frame, 0, __ATOMIC_RELAXED);
    return 0;
}

/* Reads the thread's alternate signal stack into alt_lo/alt_hi (signal-safe: one system call). */
static void read_alternate_stack(struct ptr_thread *t)
{
    struct { void *sp; int flags; size_t size; } ss; /* the kernel's stack_t */
    uintptr_t lo = 0, hi = 0;
    if (ptr_sys3(SYS_sigaltstack, 0, &ss, 0) == 0 && !(ss.flags & 2 /* SS_DISABLE */)) {
        lo = (uintptr_t)ss.sp;
        hi = lo + ss.size;
    }
    t->alt_lo = lo;
    t->alt_hi = hi;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->alt_known = 1;
}

/*
 * How far below the guard's value a call must run to be nested in a handler, on the same stack. The value is the
 * stack pointer where an entry point took the guard; the check runs a few frames deeper (out of line, about 350
 * bytes below the entry point at -O2). A handler's call runs below the interrupted code's stack pointer by at least
 * the red zone (128), the kernel's signal frame (its context and the FPU state: well over 1 KiB on x86-64 and arm64)
 * and the handler's frames. So the program's next call after a longjmp left the value, made from where the
 * abandoned one was made, is not taken for nested.
 */
#define GUARD_SLACK 768u

/* The verdict for the stack pointer sp and the guard's value mark, with the alternate stack as last read. */
static int nested_on_stacks(const struct ptr_thread *t, uintptr_t sp, uintptr_t mark)
{
    int here_alt = sp >= t->alt_lo && sp < t->alt_hi;
    int mark_alt = mark >= t->alt_lo && mark < t->alt_hi;
    return here_alt != mark_alt ? here_alt : sp + GUARD_SLACK < mark;
}

/*
 * `appending` is set: is this call nested in a signal handler that interrupted that append (1), or was the
 * append left by a handler that longjmp'ed out of it (0, and the stale value is cleared)? On the same stack a
 * handler runs below the code it interrupted; a handler on the alternate signal stack interrupted code that
 * was not on it. The alternate stack is read once a thread and again before any verdict "left" (a program
 * may set one up later), so a handler's calls cost no system call.
 */
int ptr_guard_nested(struct ptr_thread *t)
{
    uintptr_t mark = __atomic_load_n(&t->appending, __ATOMIC_RELAXED);
    if (PTR_LIKELY(mark == 0)) {
        return 0;
    }
    uintptr_t sp = ptr_stack_pointer();
    if (t->alt_known && nested_on_stacks(t, sp, mark)) {
        return 1;
    }
    read_alternate_stack(t);
    if (nested_on_stacks(t, sp, mark)) {
        return 1;
    }
    t->abandoned = 1;
    __atomic_store_n(&t->appending, (uintptr_t)0, __ATOMIC_RELAXED);
    return 0;
}

/*
 * Under the guard, after ptr_guard_nested found it left by a longjmp: the abandoned append may have stored its
 * address state or counted its event without committing it. [payload, pos) holds whole events (pos is stored
 * last), so the block goes out with its events counted anew, and the next block starts from a clean state.
 */
static void repair_abandoned(struct ptr_thread *t)
{
    t->abandoned = 0;
    if (t->state != TS_ACTIVE || t->block == NULL) {
        return;
    }
    t->count = ptr_count_events(PAYLOAD(t->block), t->pos);
    if (t->count != 0) {
        ptr_flush(t);
    } else {
        start_block(t);
    }
}

/*
 * Side buffer slot i: the first SIDE_CALLS in the thread's buffer, the rest in the overflow mapping, which
 * the first call that needs it reserves (creating: reserve, then publish with a compare-and-swap, so that of
 * two handlers that race to create it, one nested in the other, the loser unmaps its own). NULL: no room.
 */
static struct ptr_side_call *side_slot(struct ptr_thread *t, uint32_t i, int create)
{
    if (i < SIDE_CALLS) {
        return t->block != NULL ? &SIDE(t->block)[i] : NULL;
    }
    if (i >= PTR_SIDE_MAX_CALLS) {
        return NULL;
    }
    struct ptr_side_call *more = __atomic_load_n(&t->side_more, __ATOMIC_ACQUIRE);
    if (more == NULL && create) {
        struct ptr_side_call *fresh = ptr_mmap(SIDE_MORE_BYTES, PROT_READ | PROT_WRITE,
                                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        if (fresh == NULL) {
            return NULL;
        }
        if (__atomic_compare_exchange_n(&t->side_more, &more, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            more = fresh;
        } else {
            ptr_munmap(fresh, SIDE_MORE_BYTES); /* a nested handler made it first: `more` is that one */
        }
    }
    return more != NULL ? &more[i - SIDE_CALLS] : NULL;
}

/*
 * Inside such a handler: keeps one call for later (signal-safe). The slot is claimed first (one atomic
 * add), so a handler nested in this one, which runs between any two steps here, claims the next slot and
 * never the same one; the kind, written last, marks the slot whole. Slots are claimed in the order the
 * calls are made; all of them are whole by the time the code outside the handlers runs again.
 */
static void side_push(struct ptr_thread *t, const struct ptr_call *c, uint64_t ts)
{
    if (__atomic_load_n(&t->side_count, __ATOMIC_RELAXED) >= PTR_SIDE_MAX_CALLS) {
        __atomic_fetch_add(&t->side_lost, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t n = __atomic_fetch_add(&t->side_count, 1, __ATOMIC_RELAXED);
    struct ptr_side_call *s = side_slot(t, n, 1);
    if (s == NULL) {
        __atomic_fetch_add(&t->side_lost, 1, __ATOMIC_RELAXED);
        return;
    }
    s->null_result = (uint8_t)c->null_result;
    s->ptr = c->ptr;
    s->count = c->count;
    s->align = c->align;
    s->size = c->size;
    s->result = c->result;
    s->status = c->status;
    s->ts = ts;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&s->kind, (uint8_t)c->kind, __ATOMIC_RELAXED);
    /* The next call outside the handlers takes the slow path and appends the side buffer first (the trampoline
       closed the gates already; the append guard's nested calls close them here, after the count is up, so
       an interrupted ptr_update_gate either sees the count or is overridden). */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->clock_limit = NULL;
    __atomic_store_n(&t->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
}

/*
 * Outside any such handler: appends the side buffer's calls to the block, in the order they were made
 * (after the event the handler interrupted, before the next one), and reopens the gates. A handler
 * that interrupts this loop goes to side mode itself (the loop runs in the recorder's code) and
 * claims slots behind it; the count is cleared only when the loop has caught up. A slot left without a
 * kind (its handler left by longjmp before writing it) is skipped and counted lost.
 */
void ptr_side_flush(struct ptr_thread *t)
{
    if (t->state != TS_ACTIVE || ptr_in_side_handler(t)) {
        return;
    }
    uint32_t i = 0;
    for (;;) {
        uint32_t n = __atomic_load_n(&t->side_count, __ATOMIC_RELAXED);
        if (i >= n) {
            if (__atomic_compare_exchange_n(&t->side_count, &n, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                break;
            }
            continue;
        }
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        struct ptr_side_call *s = side_slot(t, i++, 0);
        if (s == NULL) {
            continue; /* past the bound, or no overflow mapping: counted lost when claimed */
        }
        unsigned kind = __atomic_load_n(&s->kind, __ATOMIC_RELAXED);
        if (kind == 0) {
            __atomic_fetch_add(&t->side_lost, 1, __ATOMIC_RELAXED);
            continue;
        }
        struct ptr_call c = { kind, s->ptr, s->count, s->align, s->size, s->result, s->status, s->null_result, 0 }; /* stack 0: see stacks.c */
        __atomic_store_n(&s->kind, (uint8_t)0, __ATOMIC_RELAXED); /* free for the next claim of slot i */
        append(t, &c, s->ts);
    }
    uint64_t lost = __atomic_exchange_n(&t->side_lost, 0, __ATOMIC_RELAXED);
    if (lost != 0) {
        __atomic_fetch_add(&ptr_proc.lost_events, lost, __ATOMIC_RELAXED);
    }
    ptr_update_gate(t);
}

/* A marker for the program's own call (fork): under the append guard, or to the side buffer when nested in a handler. */
void ptr_record_marker_guarded(struct ptr_thread *t, unsigned kind, uint64_t value)
{
    if (PTR_UNLIKELY(t->appending != 0) && t->state == TS_ACTIVE && ptr_guard_nested(t)) {
        struct ptr_call c = { kind, 0, 0, 0, value, 0, 0, 0, 0 };
        side_push(t, &c, ptr_now());
        return;
    }
    ptr_guard_set(t);
    if (PTR_UNLIKELY(t->abandoned)) {
        repair_abandoned(t);
    }
    ptr_record_marker(t, kind, value);
    ptr_guard_clear(t);
}

void ptr_record_marker(struct ptr_thread *t, unsigned kind, uint64_t value)
{
    if (t->state != TS_ACTIVE) {
        return;
    }
    struct ptr_call c = { kind, 0, 0, 0, value, 0, 0, 0, 0 };
    if (t == &ptr_self) {
        if (PTR_UNLIKELY(ptr_in_side_handler(t))) {
            side_push(t, &c, ptr_now());
            return;
        }
        if (PTR_UNLIKELY(t->side_count != 0)) {
            ptr_side_flush(t);
        }
    }
    append(t, &c, ptr_now());
}

static void key_destructor(void *value);
static void add_zombie(uint32_t tid);

void ptr_thread_key_init(void)
{
    if (!exit_key_ready && pthread_key_create(&exit_key, key_destructor) == 0) {
        exit_key_ready = 1;
        if (ptr_self.state == TS_ACTIVE) {
            pthread_setspecific(exit_key, &ptr_self);
        }
    }
}

/*
 * Multi-threaded, unfenced (the default; PTRECORD_MT_CLOCK=fenced fences instead; format version 5): a thread that has not read the clock for PTR_STALE_NS (it waited,
 * or was descheduled) has its fast gate closed and its `swept` flag set by the next thread whose own reading finds a
 * sweep due, so its first event after the pause reads the clock instead of repeating the reading from before it,
 * on the inline paths and on the out-of-line one (call stacks, clock_gettime) alike. That bounds how
 * early a timestamp can be while any thread runs, which keeps readers' ordering work local (FORMAT.md "Order").
 * Runs about once per PTR_STALE_NS in the whole process; a thread that exits waits for a running sweep to end
 * before its TLS goes (release_buffer), so the sweep never writes to a thread that is gone.
 */
void ptr_sweep_stale(struct ptr_thread *self, uint64_t now)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&sweep_busy, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        return;
    }
    __atomic_store_n(&ptr_clock.next_sweep, now + PTR_STALE_NS, __ATOMIC_RELAXED);
    int high = __atomic_load_n(&registry_high, __ATOMIC_RELAXED);
    for (int i = 0; i <= high; i++) {
        struct ptr_thread *other = __atomic_load_n(&registry[i], __ATOMIC_SEQ_CST);
        if (other != NULL && other != self && now > __atomic_load_n(&other->last_ts, __ATOMIC_RELAXED) + PTR_STALE_NS) {
            /* The inline paths test fast_limit; the out-of-line one (call stacks, clock_gettime) tests swept. */
            if (__atomic_load_n(&other->fast_limit, __ATOMIC_RELAXED) != NULL) {
                __atomic_store_n(&other->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
            }
            if (__atomic_load_n(&other->swept, __ATOMIC_RELAXED) == 0) {
                __atomic_store_n(&other->swept, (uint8_t)1, __ATOMIC_RELAXED);
            }
        }
    }
    __atomic_store_n(&sweep_busy, 0, __ATOMIC_RELEASE);
}

/*
 * The default (fenced) multi-thread clock: from now on every event of every thread reads the clock, fenced. Threads that reuse readings do so
 * through their fast_limit: close each one (see ptr_update_gate for why none can reopen its own). Runs
 * once, when the process's second thread starts: then the registry holds the first thread (whose TLS
 * lives as long as the process) and threads starting at the same moment.
 */
static void fence_clock(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&ptr_clock.fenced, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int i = 0; i < PTR_SLOTS; i++) {
        struct ptr_thread *other = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
        if (other != NULL) {
            __atomic_store_n(&other->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
        }
    }
}

void ptr_thread_slow_init(struct ptr_thread *t)
{
    ptr_set_state(t, TS_BUSY);
    ptr_process_init_once();
    if (ptr_proc.fd < 0) {
        ptr_set_state(t, TS_INERT);
        return;
    }
    t->tid = (uint32_t)ptr_gettid();
    t->is_main = (int)t->tid == ptr_proc.pid;
    if (!t->is_main) {
        if (ptr_clock.fence_mode) {
            fence_clock(); /* timestamps order cross-thread handoffs (format version 2) */
        } else {
            ptr_mark_multithreaded(); /* readers order them by address lifecycles (format version 5) */
        }
    }
    t->block = claim_buffer(t);
    if (t->block == NULL) {
        ptr_set_state(t, TS_INERT);
        return;
    }
    ptr_reap_zombies(t->tid, 0); /* an exited thread with our tid is gone: its marker first */
    t->last_ts = ptr_now();
    start_block(t);
    ptr_set_state(t, TS_ACTIVE);
    if (exit_key_ready) {
        /* Key values below 32 live inside the thread descriptor: no allocation. */
        pthread_setspecific(exit_key, t);
    }
    ptr_record_marker(t, K_THREAD_START, t->tid);
    /* The thread-start marker goes out at once, as a block of its own (one write a thread): a file cut
       short still names every thread that had started, so a reader knows whose events may be missing. */
    ptr_flush(t);
}

/*
 * A thread's first call (interpose.c), under the append guard: a handler that interrupts the setup finds the
 * thread BUSY (its calls are not recorded) or, once the block is set up, nested (side buffer).
 */
void ptr_thread_start(struct ptr_thread *t)
{
    if (PTR_UNLIKELY(t->appending != 0) && ptr_guard_nested(t)) {
        return; /* a handler's call while this thread's setup was interrupted: the setup finishes it */
    }
    ptr_guard_set(t);
    ptr_thread_slow_init(t);
    ptr_guard_clear(t);
}

static void fill_header(struct ptr_thread *t, uint32_t count, uint32_t payload_len)
{
    struct ptr_block_header *h = (struct ptr_block_header *)t->block;
    h->magic = BLOCK_MAGIC;
    h->codec = 0;
    h->flags = BLOCK_FLAG_TIMED_TAGS | (ptr_stacks.depth != 0 ? BLOCK_FLAG_STACKS : 0u);
    h->reserved = 0;
    h->tid = t->tid;
    h->event_count = count;
    h->stored_len = payload_len;
    h->raw_len = payload_len;
    h->base_ts = t->base_ts;
    /* Format version 2: the CRC covers the header (all 32 bytes before the crc field), then the payload. */
    h->crc = ptr_crc32_update(ptr_crc32(t->block, offsetof(struct ptr_block_header, crc)), PAYLOAD(t->block), payload_len);
}

/*
 * Who may write a thread's block: its owner for each full block, or once, at process end, the thread that
 * flushes every other thread out (ptr_registry_flush_others). `flushing` is the claim; a claim by another
 * thread is never given back (that thread writes the block, then makes its owner INERT), so the owner
 * neither writes the same events twice nor reuses the bytes being written.
 */
static int claim_block(struct ptr_thread *t)
{
    uint8_t free_now = 0;
    return __atomic_compare_exchange_n(&t->flushing, &free_now, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void ptr_flush(struct ptr_thread *t)
{
    if (t->block == NULL || t->count == 0) {
        return;
    }
    if (t->state != TS_ACTIVE) {
        start_block(t); /* made INERT at process exit after its events were written: drop, never repeat */
        return;
    }
    if (!claim_block(t)) {
        ptr_set_state(t, TS_INERT); /* another thread is writing this block out as the process ends */
        return;
    }
    uint32_t count = t->count;
    uint32_t len = (uint32_t)(t->pos - PAYLOAD(t->block));
    fill_header(t, count, len);
    start_block(t);
    if (ptr_proc.fd < 0) {
        ptr_proc.dropped_events += count;
    } else if (ptr_write_block(t->block, sizeof(struct ptr_block_header) + len) != 0) {
        __atomic_fetch_add(&ptr_proc.lost_events, count, __ATOMIC_RELAXED);
    } else {
        t->flushed += count;
    }
    __atomic_store_n(&t->flushing, 0, __ATOMIC_RELEASE);
}

void ptr_thread_finish(struct ptr_thread *t, int exits_before_process)
{
    if (t->state != TS_ACTIVE) {
        return;
    }
    /* No handler may slip its calls into the side buffer between the last look at it and the buffer's
       release: signals wait (two system calls a thread) and find the thread EXITED (late events). */
    uint64_t all = ~0ull, old = 0;
    ptr_sys6(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, (long)&all, (long)&old, 8, 0, 0);
    if (t->side_count != 0) {
        ptr_side_flush(t);
    }
    ptr_flush(t);
    ptr_set_state(t, TS_EXITED);
    release_buffer(t);
    if (exits_before_process) {
        add_zombie(t->tid);
    }
    ptr_sys6(SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&old, 0, 8, 0, 0);
}

/*
 * Thread exit. glibc runs key destructors in rounds (at most PTHREAD_DESTRUCTOR_ITERATIONS) for as
 * long as some destructor sets a value again; ours re-arms itself until the last round, so every
 * other key's destructor (which may free memory) runs before the thread-exit marker. glibc may free
 * a few blocks even later (thread freeres): those go out as single-event blocks (ptr_record_slow).
 */
static void key_destructor(void *value)
{
    (void)value;
    struct ptr_thread *t = &ptr_self;
    if (++t->key_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        pthread_setspecific(exit_key, t);
        return;
    }
    ptr_thread_finish(t, 1);
}

/* Writes one event as a block of its own, for thread `tid` (not necessarily the caller). */
static int write_single(uint32_t tid, const struct ptr_call *c)
{
    uint8_t buf[sizeof(struct ptr_block_header) + PTR_MAX_EVENT_BYTES] __attribute__((aligned(8)));
    struct ptr_thread one;
    __builtin_memset(&one, 0, sizeof one);
    one.tid = tid;
    one.block = buf;
    one.last_ts = ptr_now();
    one.base_ts = one.last_ts;
    one.pos = PAYLOAD(buf);
    one.limit = buf + sizeof buf; /* never reached: one event fits */
    ptr_set_state(&one, TS_ACTIVE);
    append(&one, c, one.last_ts);
    uint32_t len = (uint32_t)(one.pos - PAYLOAD(buf));
    fill_header(&one, 1, len);
    return ptr_write_block(buf, sizeof(struct ptr_block_header) + len);
}

static void write_exit_marker(uint32_t tid)
{
    struct ptr_call c = { K_THREAD_EXIT, 0, 0, 0, tid, 0, 0, 0, 0 };
    if (write_single(tid, &c) != 0 && ptr_proc.fd >= 0) {
        __atomic_fetch_add(&ptr_proc.lost_events, 1, __ATOMIC_RELAXED);
    }
}

/* Remembers an exited thread; its marker is written later (ptr_reap_zombies). */
static void add_zombie(uint32_t tid)
{
    for (int i = 0; i < PTR_ZOMBIES; i++) {
        uint32_t expected = 0;
        if (zombie_tids[i] == 0 &&
            __atomic_compare_exchange_n(&zombie_tids[i], &expected, tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            return;
        }
    }
    write_exit_marker(tid); /* no room: write it now */
}

/* Writes the exit markers of threads that are gone (all of them when `all`), and of `reused_tid`. */
void ptr_reap_zombies(uint32_t reused_tid, int all)
{
    for (int i = 0; i < PTR_ZOMBIES; i++) {
        uint32_t tid = __atomic_load_n(&zombie_tids[i], __ATOMIC_ACQUIRE);
        if (tid == 0) {
            continue;
        }
        if (all || tid == reused_tid || ptr_tgkill(ptr_proc.pid, (int)tid, 0) == -3 /* ESRCH */) {
            if (__atomic_compare_exchange_n(&zombie_tids[i], &tid, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                write_exit_marker(tid);
            }
        }
    }
}

/* c, or a copy of it with the caller's stack id in *copy when stacks are on and c allocates. */
static const struct ptr_call *with_stack_of(struct ptr_thread *t, const struct ptr_call *c, struct ptr_call *copy)
{
    if (PTR_LIKELY(ptr_stacks.depth == 0) || !ptr_kind_allocates(c->kind)) {
        return c;
    }
    *copy = *c;
    copy->stack = ptr_stack_capture(t);
    return copy;
}

/*
 * Every call that does not find its thread ACTIVE. EXITED (late frees after the thread-exit marker):
 * one block of one event, written at once. BUSY (inside the recorder), INERT: not recorded.
 */
void ptr_record_slow(const struct ptr_call *c)
{
    struct ptr_thread *t = &ptr_self;
    if (t->state == TS_UNINIT) {
        ptr_thread_slow_init(t);
        if (t->state == TS_ACTIVE) {
            if (t->side_count != 0) {
                ptr_side_flush(t); /* a handler's calls while the thread was being set up */
            }
            struct ptr_call with_stack;
            uint64_t ts = ptr_now();
            append(t, with_stack_of(t, c, &with_stack), ts);
            if (PTR_UNLIKELY(t->side_count != 0)) {
                ptr_side_flush(t); /* the unwinder's calls (stacks.c), after the event */
            }
            return;
        }
    }
    if (t->state != TS_EXITED || ptr_proc.fd < 0) {
        if (t->state == TS_BUSY) {
            ptr_proc.dropped_events++;
        }
        return;
    }
    if (write_single(t->tid, c) != 0) {
        __atomic_fetch_add(&ptr_proc.lost_events, 1, __ATOMIC_RELAXED);
    }
}

/*
 * One event that the inline fast path (interpose.c) did not take: a full buffer, a failed call,
 * a rare entry point, or a thread that is not ACTIVE (ptr_record_slow).
 */
void ptr_record_call(const struct ptr_call *c)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_UNLIKELY(t->side_frame != 0) && ptr_in_side_handler(t)) {
        side_push(t, c, ptr_now()); /* a handler that interrupted the recorder (signals.c) */
        return;
    }
    if (PTR_UNLIKELY(t->unwinding == PTR_UNWINDING_CAPTURE) && t->state == TS_BUSY) {
        side_push(t, c, ptr_now()); /* the unwinder's own call (stacks.c): after the event it unwinds for */
        return;
    }
    /*
     * The append guard (ptrecord.h). Found taken: on an ACTIVE thread, a handler that interrupted an append (its
     * call waits in the side buffer) or a value a longjmp left (dropped, then taken anew); otherwise the thread is
     * BUSY with the recorder's own work (its own calls, and those of a handler that interrupts that work, pass
     * unrecorded as before) or an exited thread's late event is being written (a block of its own: the call writes
     * its own). Only the taker gives it back. Before a thread's setup began (UNINIT), a handler's call is dropped
     * rather than set the thread up twice.
     */
    int took = 1;
    if (PTR_UNLIKELY(__atomic_load_n(&t->appending, __ATOMIC_RELAXED) != 0)) {
        if (t->state == TS_ACTIVE) {
            if (ptr_guard_nested(t)) {
                side_push(t, c, ptr_now());
                return;
            }
        } else if (t->state == TS_UNINIT) {
            ptr_proc.dropped_events++;
            return;
        } else {
            took = 0;
        }
    }
    if (took) {
        ptr_guard_set(t);
        if (PTR_UNLIKELY(t->abandoned)) {
            repair_abandoned(t);
        }
    }
    if (t->state == TS_ACTIVE) {
        if (PTR_UNLIKELY(t->side_count != 0)) {
            ptr_side_flush(t);
        }
        if (PTR_LIKELY(ptr_stacks.depth == 0) || !ptr_kind_allocates(c->kind)) {
            append(t, c, ptr_event_time(t));
        } else {
            /* The event's time is the call's, before the unwind; the calls the unwinder made follow the event. */
            uint64_t ts = ptr_event_time(t);
            struct ptr_call with_stack = *c;
            with_stack.stack = ptr_stack_capture(t);
            append(t, &with_stack, ts);
            if (PTR_UNLIKELY(t->side_count != 0)) {
                ptr_side_flush(t);
            }
        }
    } else {
        ptr_record_slow(c);
    }
    if (took) {
        ptr_guard_clear(t);
    }
}

static uint64_t skip_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    int shift = 0;
    while (*p < end && shift < 70) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            break;
        }
        shift += 7;
    }
    return v;
}

/* Number of whole events in [p, end): used where count may lag (signal handlers, other threads). */
uint32_t ptr_count_events(const uint8_t *p, const uint8_t *end)
{
    uint32_t n = 0;
    while (p < end) {
        unsigned tag = *p++;
        unsigned kind = tag & 0x1f;
        int fields; /* varints after dt, result included */
        switch (kind) {
        case K_MALLOC: case K_VALLOC: case K_PVALLOC: fields = 2; break;
        case K_CALLOC: case K_REALLOC: case K_MEMALIGN: case K_POSIX_MEMALIGN: case K_ALIGNED_ALLOC: fields = 3; break;
        case K_REALLOCARRAY: fields = 4; break;
        case K_FREE: fields = 1; break;
        case K_MALLOPT: fields = 2; break;
        case K_MALLOC_TRIM: fields = 1; break;
        case K_THREAD_START: case K_THREAD_EXIT: case K_FORK: fields = 1; break;
        case K_EXEC: fields = 0; break;
        default: return n;
        }
        if (kind <= K_PVALLOC && kind != K_FREE && (tag & TAG_NULL_RESULT)) {
            fields--;
        }
        if (tag & TAG_STATUS) {
            fields++;
        }
        if (tag & TAG_TIME_ADVANCED) {
            fields++; /* dt */
        }
        if (ptr_stacks.depth != 0 && ptr_kind_allocates(kind)) {
            fields++; /* stack id */
        }
        for (int i = 0; i < fields; i++) {
            skip_varint(&p, end);
        }
        if (p > end) {
            return n;
        }
        n++;
    }
    return n;
}

/* Async-signal-safe: writes the committed part of the current block, then stops recording. */
void ptr_flush_from_signal(struct ptr_thread *t)
{
    if (t->state != TS_ACTIVE || t->block == NULL || !claim_block(t)) {
        return; /* not recording, or the signal interrupted a flush of this block */
    }
    ptr_set_state(t, TS_BUSY);
    const uint8_t *payload = PAYLOAD(t->block);
    uint8_t *end = __atomic_load_n(&t->pos, __ATOMIC_RELAXED);
    uint32_t count = ptr_count_events(payload, end);
    if (count > 0 && ptr_proc.fd >= 0 && !ptr_proc.finished) {
        uint32_t len = (uint32_t)(end - payload);
        fill_header(t, count, len);
        ptr_write_all(t->block, sizeof(struct ptr_block_header) + len);
    }
}

/*
 * Process exit: writes what other threads still hold (typically threads blocked in a wait while the
 * process exits). Best effort: only whole committed events are written (those below the owner's pos when
 * it is read; a running owner appends above it and never rewrites them), a block whose owner is flushing
 * it itself is left to the owner, and each thread written is left INERT, so a thread still running
 * records nothing more rather than writing events twice.
 */
void ptr_registry_flush_others(struct ptr_thread *self)
{
    for (int i = 0; i < PTR_SLOTS; i++) {
        struct ptr_thread *t = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
        /* A thread busy unwinding its caller's stack (stacks.c) has whole events below pos too. */
        int recording = t != NULL && (t->state == TS_ACTIVE || (t->state == TS_BUSY && t->unwinding));
        if (!recording || t == self || t->block == NULL || !claim_block(t)) {
            continue;
        }
        const uint8_t *payload = PAYLOAD(t->block);
        uint8_t *end = __atomic_load_n(&t->pos, __ATOMIC_RELAXED);
        uint32_t count = ptr_count_events(payload, end);
        if (count > 0 && ptr_proc.fd >= 0) {
            uint32_t len = (uint32_t)(end - payload);
            fill_header(t, count, len);
            ptr_write_all(t->block, sizeof(struct ptr_block_header) + len);
        }
        ptr_set_state(t, TS_INERT);
    }
}

/* Fork child: only the forking thread exists; forget the parent's other threads and its buffered events. */
void ptr_registry_after_fork_child(struct ptr_thread *self)
{
    sweep_busy = 0; /* a sweep the fork interrupted in another thread never ends here */
    for (int i = 0; i < PTR_SLOTS; i++) {
        if (registry[i] != self) {
            registry[i] = NULL;
        }
    }
    for (int i = 0; i < PTR_ZOMBIES; i++) {
        zombie_tids[i] = 0;
    }
    if (self->state == TS_ACTIVE || self->state == TS_BUSY) {
        self->tid = (uint32_t)ptr_gettid();
        self->is_main = 1;
        self->key_rounds = 0;
        self->flushing = 0;
        self->side_frame = 0;
        for (uint32_t i = 0; i < self->side_count && i < PTR_SIDE_MAX_CALLS; i++) {
            struct ptr_side_call *s = side_slot(self, i, 0);
            if (s != NULL) {
                s->kind = 0;
            }
        }
        self->side_count = 0; /* the parent's: not this process's */
        self->side_lost = 0;
        self->last_ts = ptr_now();
        self->flushed = 0;
        start_block(self);
        ptr_set_state(self, TS_ACTIVE);
    }
}
