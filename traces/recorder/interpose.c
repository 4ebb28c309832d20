/*
 * The malloc-family entry points: the hot path.
 *
 * Each wrapper calls glibc's own implementation (__libc_* exports, so no dlsym is needed for them
 * and glibc behaves exactly as unrecorded), and records one event into the calling thread's buffer:
 * after the real call for calls that allocate, before it for free (FORMAT.md, "Timestamps").
 * A thread's first call sets up its state before the real call, so the process's first call also
 * reads brk0 before glibc's first allocation.
 */
#include <errno.h>
#include <dlfcn.h>
#include "ptrecord.h"
#include "encode.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

__thread struct ptr_thread ptr_self PTR_TLS;

/*
 * The hot path, shaped for the common case (an ACTIVE thread whose buffer has room, a call that
 * succeeded): each entry point is a thin wrapper that tail-calls glibc (free) or a leaf recording
 * function (the others), so the common case saves no registers and makes no call of its own.
 * Everything else (a thread's first call, a full buffer, a failed call, a thread that is not
 * ACTIVE, the rare entry points) goes through record_call, out of line.
 */

/* One event, any kind, any state: out of line. Reads no errno (the caller passes the status). */
static __attribute__((noinline, cold)) void record_call(unsigned kind, uint64_t ptr, uint64_t count,
                                                  uint64_t align, uint64_t size, uint64_t result,
                                                  uint64_t status, int null_result)
{
    struct ptr_call c = { kind, ptr, count, align, size, result, status, null_result, 0 };
    ptr_record_call(&c);
}

/*
 * Before the real call: a thread's very first call sets up its state (and the first call of all, the
 * process's, reading brk0 before glibc's first allocation). One predictable TLS compare.
 */
static inline __attribute__((always_inline)) void ptr_enter(void)
{
    if (PTR_UNLIKELY(ptr_self.state == TS_UNINIT)) {
        ptr_thread_start(&ptr_self);
    }
}

/*
 * The common case: this thread can take the inline path and reuse the last clock reading (dt = 0).
 * One compare: fast_limit is NULL unless the thread is ACTIVE with the TSC clock, single-threaded, and
 * its clock interval is not over; below it the buffer has room (ptr_update_gate). Before it, the append
 * guard (ptrecord.h): a call that finds it taken goes out of line (a handler that interrupted an append);
 * otherwise it is taken first, so the compare reads what any handler that ran before it left. A ready
 * thread holds the guard until encode_event commits.
 */
static inline __attribute__((always_inline)) int fast_ready(struct ptr_thread *t)
{
    if (PTR_UNLIKELY(__atomic_load_n(&t->appending, __ATOMIC_RELAXED) != 0)) {
        return 0;
    }
    ptr_guard_set(t);
    if (PTR_LIKELY(t->pos < t->fast_limit)) {
        return 1;
    }
    ptr_guard_clear(t);
    return 0;
}

/* The clocked case: ACTIVE with the TSC clock and room in the buffer; the event reads the clock. The guard as above. */
static inline __attribute__((always_inline)) int clock_ready(struct ptr_thread *t)
{
    if (PTR_UNLIKELY(__atomic_load_n(&t->appending, __ATOMIC_RELAXED) != 0)) {
        return 0;
    }
    ptr_guard_set(t);
    if (PTR_LIKELY(t->pos < t->clock_limit)) {
        return 1;
    }
    ptr_guard_clear(t);
    return 0;
}

/*
 * Encodes one successful call (status 0, result present) with time delta dt (written only when not 0:
 * timed tags). Inlined with a constant kind. The address state stays in a register across the fields
 * and is stored once.
 */
static inline __attribute__((always_inline)) void
encode_event(struct ptr_thread *t, unsigned kind, uint64_t dt, uint64_t ptr, uint64_t count, uint64_t size,
             uint64_t result)
{
    uint8_t *p = ptr_put_prologue(t->pos, kind, 0, dt);
    uint64_t last_addr = t->last_addr;
    p = ptr_put_args(p, &last_addr, kind, ptr, count, 0, size, result, 0);
    t->last_addr = last_addr;
    t->count++;
    t->pos = p; /* commit: [payload, pos) holds whole events only */
    ptr_guard_clear(t);
}

/* A fast_ready thread's event: the last reading again. */
static inline __attribute__((always_inline)) void
fast_event(struct ptr_thread *t, unsigned kind, uint64_t ptr, uint64_t count, uint64_t size, uint64_t result)
{
    encode_event(t, kind, 0, ptr, count, size, result);
}

/* A clock_ready thread's event: a fresh reading (which also sets the next interval). */
static inline __attribute__((always_inline)) void
clocked_event(struct ptr_thread *t, unsigned kind, uint64_t ptr, uint64_t count, uint64_t size, uint64_t result)
{
    encode_event(t, kind, ptr_advance_time(t, ptr_read_clock(t)), ptr, count, size, result);
}

/* errno after a call that returned NULL, as the status field; 0 when errno says nothing. */
static inline uint64_t failure_status(void)
{
    return errno > 0 ? (uint64_t)errno : 0;
}

/*
 * After the real call of malloc, calloc or realloc, when the inline path cannot take it (failed call,
 * thread not ready): records it out of line and returns the result. Tail-called, so the inline
 * path around it needs no stack frame.
 */
static __attribute__((noinline, cold)) void *after_alloc_slow(unsigned kind, void *ptr, size_t count, size_t size,
                                                        void *r)
{
    /* realloc(p, 0) with p != NULL frees p and returns NULL: a success, no status. */
    int freed = kind == K_REALLOC && size == 0 && ptr != NULL;
    uint64_t status = (r == NULL && !freed) ? failure_status() : 0;
    record_call(kind, (uint64_t)ptr, count, 0, size, (uint64_t)r, status, r == NULL);
    return r;
}

/*
 * After the real call of an allocating entry point, when the common path cannot take it: a clocked
 * event inline if the thread is ready for one, else out of line (tail-called, so no frame either way).
 */
static __attribute__((noinline)) void *after_alloc_clocked(unsigned kind, void *ptr, size_t count, size_t size, void *r)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(r != NULL) && clock_ready(t)) {
        switch (kind) { /* constant kinds, so each gets its own fields inline */
        case K_MALLOC:
            clocked_event(t, K_MALLOC, 0, 1, size, (uint64_t)r);
            return r;
        case K_CALLOC:
            clocked_event(t, K_CALLOC, 0, count, size, (uint64_t)r);
            return r;
        default:
            clocked_event(t, K_REALLOC, (uint64_t)ptr, 1, size, (uint64_t)r);
            return r;
        }
    }
    return after_alloc_slow(kind, ptr, count, size, r);
}

/* After the real call of an allocating entry point: records it, returns its result (tail-called). */
static __attribute__((noinline, hot)) void *after_malloc(size_t size, void *r)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(r != NULL) && fast_ready(t)) {
        fast_event(t, K_MALLOC, 0, 1, size, (uint64_t)r);
        return r;
    }
    return after_alloc_clocked(K_MALLOC, NULL, 1, size, r);
}

static __attribute__((noinline, hot)) void *after_calloc(size_t count, size_t size, void *r)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(r != NULL) && fast_ready(t)) {
        fast_event(t, K_CALLOC, 0, count, size, (uint64_t)r);
        return r;
    }
    return after_alloc_clocked(K_CALLOC, NULL, count, size, r);
}

static __attribute__((noinline, hot)) void *after_realloc(void *ptr, size_t size, void *r)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(r != NULL) && fast_ready(t)) {
        fast_event(t, K_REALLOC, (uint64_t)ptr, 1, size, (uint64_t)r);
        return r;
    }
    return after_alloc_clocked(K_REALLOC, ptr, 1, size, r);
}

PTR_API void *malloc(size_t size)
{
    ptr_enter();
    return after_malloc(size, __libc_malloc(size));
}

/* free when the common path cannot take it: a clocked event inline if it can, else out of line; then frees. */
static __attribute__((noinline)) void free_clocked(void *ptr)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(clock_ready(t))) {
        clocked_event(t, K_FREE, (uint64_t)ptr, 0, 0, 0);
    } else {
        record_call(K_FREE, (uint64_t)ptr, 0, 0, 0, 0, 0, 0); /* a first call sets the thread up first */
    }
    __libc_free(ptr);
}

/* free records before the real call (FORMAT.md, "Timestamps"), then tail-calls glibc. */
PTR_API void free(void *ptr)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_UNLIKELY(!fast_ready(t))) {
        free_clocked(ptr);
        return;
    }
    fast_event(t, K_FREE, (uint64_t)ptr, 0, 0, 0);
    __libc_free(ptr);
}

PTR_API void *calloc(size_t count, size_t size)
{
    ptr_enter();
    return after_calloc(count, size, __libc_calloc(count, size));
}

PTR_API void *realloc(void *ptr, size_t size)
{
    ptr_enter();
    return after_realloc(ptr, size, __libc_realloc(ptr, size));
}

/* The rare entry points: every event out of line. */
static inline __attribute__((always_inline)) void *
after_rare(unsigned kind, uint64_t ptr, uint64_t count, uint64_t align, uint64_t size, void *r)
{
    record_call(kind, ptr, count, align, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

/*
 * glibc's reallocarray is "overflow check, then realloc through the PLT"; calling it would record a
 * second (realloc) event. Doing the same two steps here with __libc_realloc is exactly equivalent.
 */
PTR_API void *reallocarray(void *ptr, size_t count, size_t size)
{
    ptr_enter();
    size_t bytes;
    void *r;
    uint64_t status = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        r = NULL;
        status = ENOMEM;
    } else {
        r = __libc_realloc(ptr, bytes);
        if (r == NULL && !(bytes == 0 && ptr != NULL)) {
            status = failure_status();
        }
    }
    record_call(K_REALLOCARRAY, (uint64_t)ptr, count, 0, size, (uint64_t)r, status, r == NULL);
    return r;
}

PTR_API void *memalign(size_t alignment, size_t size)
{
    ptr_enter();
    return after_rare(K_MEMALIGN, 0, 1, alignment, size, __libc_memalign(alignment, size));
}

/* In glibc 2.36 aligned_alloc is an alias of __libc_memalign (same address in libc.so.6). */
PTR_API void *aligned_alloc(size_t alignment, size_t size)
{
    ptr_enter();
    return after_rare(K_ALIGNED_ALLOC, 0, 1, alignment, size, __libc_memalign(alignment, size));
}

PTR_API void *valloc(size_t size)
{
    ptr_enter();
    return after_rare(K_VALLOC, 0, 1, 0, size, __libc_valloc(size));
}

PTR_API void *pvalloc(size_t size)
{
    ptr_enter();
    return after_rare(K_PVALLOC, 0, 1, 0, size, __libc_pvalloc(size));
}

/*
 * posix_memalign has no __libc_ export: resolved with dlsym(RTLD_NEXT) on first use. dlsym's own
 * allocations go through the wrappers above, which need no resolution (no bootstrap pool needed).
 */
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
static posix_memalign_fn real_posix_memalign;

PTR_API int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    ptr_enter();
    posix_memalign_fn real = __atomic_load_n(&real_posix_memalign, __ATOMIC_ACQUIRE);
    if (PTR_UNLIKELY(real == NULL)) {
        real = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
        __atomic_store_n(&real_posix_memalign, real, __ATOMIC_RELEASE);
    }
    int rc = real(memptr, alignment, size);
    uint64_t result = rc == 0 ? (uint64_t)*memptr : 0;
    record_call(K_POSIX_MEMALIGN, 0, 1, alignment, size, result, (uint64_t)(rc > 0 ? rc : 0), rc != 0);
    return rc;
}

/*
 * mallopt and malloc_trim change what later calls return (a new mmap threshold, top pad, arena limit; a heap
 * trimmed), so a replay must make them where the program did. glibc exports __libc_mallopt; malloc_trim has no
 * __libc_ export and is resolved like posix_memalign. The parameter and value are stored as the program passed them.
 */
extern int __libc_mallopt(int param, int value);

PTR_API int mallopt(int param, int value)
{
    ptr_enter();
    int rc = __libc_mallopt(param, value);
    record_call(K_MALLOPT, 0, (uint64_t)(int64_t)param, 0, (uint64_t)(int64_t)value, (uint64_t)rc, 0, rc == 0);
    return rc;
}

typedef int (*malloc_trim_fn)(size_t);
static malloc_trim_fn real_malloc_trim;

PTR_API int malloc_trim(size_t pad)
{
    ptr_enter();
    malloc_trim_fn real = __atomic_load_n(&real_malloc_trim, __ATOMIC_ACQUIRE);
    if (PTR_UNLIKELY(real == NULL)) {
        real = (malloc_trim_fn)dlsym(RTLD_NEXT, "malloc_trim");
        __atomic_store_n(&real_malloc_trim, real, __ATOMIC_RELEASE);
    }
    int rc = real(pad);
    record_call(K_MALLOC_TRIM, 0, 1, 0, (uint64_t)pad, (uint64_t)rc, 0, rc == 0);
    return rc;
}
