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

static __attribute__((noinline, cold)) void record_not_active(unsigned kind, uint64_t ptr, uint64_t count,
                                                        uint64_t align, uint64_t size, uint64_t result,
                                                        uint64_t status, int null_result)
{
    struct ptr_call c = { kind, ptr, count, align, size, result, status, null_result };
    ptr_record_slow(&c);
}

/*
 * Before the real call: a thread's very first call sets up its state (and the first call of all, the
 * process's, reading brk0 before glibc's first allocation). One predictable TLS compare.
 */
static inline __attribute__((always_inline)) uint8_t ptr_enter(void)
{
    uint8_t state = ptr_self.state;
    if (PTR_UNLIKELY(state == TS_UNINIT)) {
        ptr_thread_slow_init(&ptr_self);
        state = ptr_self.state;
    }
    return state;
}

/* Records one call into the calling thread's block. Inlined with a constant kind. */
static inline __attribute__((always_inline)) void
ptr_record(uint8_t state, unsigned kind, uint64_t ptr, uint64_t count, uint64_t align, uint64_t size,
           uint64_t result, uint64_t status, int null_result)
{
    struct ptr_thread *t = &ptr_self;
    if (PTR_LIKELY(state == TS_ACTIVE)) { /* read before the real call: one TLS compare per call */
        uint64_t ts = ptr_event_time(t);
        if (PTR_UNLIKELY(t->pos > t->limit)) {
            ptr_flush(t);
        }
        uint64_t dt = ts >= t->last_ts ? ts - t->last_ts : 0;
        t->last_ts += dt;
        unsigned tag = kind | (null_result ? TAG_NULL_RESULT : 0u);
        uint8_t *p = ptr_put_prologue(t->pos, tag, status, dt);
        p = ptr_put_args(p, &t->last_addr, kind, ptr, count, align, size, result, null_result);
        t->count++;
        t->pos = p; /* commit: [payload, pos) holds whole events only */
    } else {
        record_not_active(kind, ptr, count, align, size, result, status, null_result);
    }
}

/* errno after a call that returned NULL, as the status field; 0 when errno says nothing. */
static inline uint64_t failure_status(void)
{
    return errno > 0 ? (uint64_t)errno : 0;
}

PTR_API void *malloc(size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_malloc(size);
    ptr_record(state, K_MALLOC, 0, 1, 0, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

PTR_API void free(void *ptr)
{
    uint8_t state = ptr_enter();
    ptr_record(state, K_FREE, (uint64_t)ptr, 0, 0, 0, 0, 0, 0);
    __libc_free(ptr);
}

PTR_API void *calloc(size_t count, size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_calloc(count, size);
    ptr_record(state, K_CALLOC, 0, count, 0, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

PTR_API void *realloc(void *ptr, size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_realloc(ptr, size);
    /* realloc(p, 0) with p != NULL frees p and returns NULL: a success, no status. */
    uint64_t status = (r == NULL && !(size == 0 && ptr != NULL)) ? failure_status() : 0;
    ptr_record(state, K_REALLOC, (uint64_t)ptr, 1, 0, size, (uint64_t)r, status, r == NULL);
    return r;
}

/*
 * glibc's reallocarray is "overflow check, then realloc through the PLT"; calling it would record a
 * second (realloc) event. Doing the same two steps here with __libc_realloc is exactly equivalent.
 */
PTR_API void *reallocarray(void *ptr, size_t count, size_t size)
{
    uint8_t state = ptr_enter();
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
    ptr_record(state, K_REALLOCARRAY, (uint64_t)ptr, count, 0, size, (uint64_t)r, status, r == NULL);
    return r;
}

PTR_API void *memalign(size_t alignment, size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_memalign(alignment, size);
    ptr_record(state, K_MEMALIGN, 0, 1, alignment, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

/* In glibc 2.36 aligned_alloc is an alias of __libc_memalign (same address in libc.so.6). */
PTR_API void *aligned_alloc(size_t alignment, size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_memalign(alignment, size);
    ptr_record(state, K_ALIGNED_ALLOC, 0, 1, alignment, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

PTR_API void *valloc(size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_valloc(size);
    ptr_record(state, K_VALLOC, 0, 1, 0, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

PTR_API void *pvalloc(size_t size)
{
    uint8_t state = ptr_enter();
    void *r = __libc_pvalloc(size);
    ptr_record(state, K_PVALLOC, 0, 1, 0, size, (uint64_t)r, r ? 0 : failure_status(), r == NULL);
    return r;
}

/*
 * posix_memalign has no __libc_ export: resolved with dlsym(RTLD_NEXT) on first use. dlsym's own
 * allocations go through the wrappers above, which need no resolution (no bootstrap pool needed).
 */
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
static posix_memalign_fn real_posix_memalign;

PTR_API int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    uint8_t state = ptr_enter();
    posix_memalign_fn real = __atomic_load_n(&real_posix_memalign, __ATOMIC_ACQUIRE);
    if (PTR_UNLIKELY(real == NULL)) {
        real = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
        __atomic_store_n(&real_posix_memalign, real, __ATOMIC_RELEASE);
    }
    int rc = real(memptr, alignment, size);
    uint64_t result = rc == 0 ? (uint64_t)*memptr : 0;
    ptr_record(state, K_POSIX_MEMALIGN, 0, 1, alignment, size, result, (uint64_t)(rc > 0 ? rc : 0), rc != 0);
    return rc;
}
