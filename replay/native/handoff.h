/*
 * Turn-taking for serial mode and slot waits for concurrent mode. No heap use.
 *
 * Serial: a global `turn` holds the seq of the op that may run next. The thread that runs op s
 * stores turn = s+1 only when op s+1 belongs to another thread (op.next_thread), then wakes that
 * thread if it went to sleep:
 *
 *     waiter:  spin on turn; then sleeping=1; recheck turn; futex_wait(&sleeping, 1)
 *     passer:  turn = s+1; if exchange(&next.sleeping, 0) == 1: futex_wake(&next.sleeping)
 *
 * Both sides use sequentially consistent accesses, so either the waiter sees the new turn or the
 * passer sees sleeping == 1 (no lost wake-up). Consecutive ops of one thread touch no shared word.
 *
 * Concurrent: slot_stamp[slot] counts the ops done on a slot; an op whose predecessor on the slot
 * ran on another thread (F_WAIT) waits until the stamp equals its dep (acquire), every op on a
 * slot publishes dep+1 (release). A wait spins briefly, then sleeps in the kernel (futex on the stamp, see stamp_wait).
 */
#ifndef PTREPLAY_HANDOFF_H
#define PTREPLAY_HANDOFF_H
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static inline void futex_wait_u32(_Atomic uint32_t *word, uint32_t expected)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, 0, 0, 0);
}

static inline void futex_wake_u32(_Atomic uint32_t *word, int count)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, 0, 0, 0);
}

static inline void turn_wait(_Atomic uint32_t *turn, _Atomic uint32_t *sleeping, uint32_t seq)
{
    for (int i = 0; i < 1000; i++) {
        if (atomic_load_explicit(turn, memory_order_acquire) == seq)
            return;
        _mm_pause();
    }
    for (;;) {
        atomic_store(sleeping, 1);
        if (atomic_load(turn) == seq) {
            atomic_store(sleeping, 0);
            return;
        }
        futex_wait_u32(sleeping, 1);
        if (atomic_load(turn) == seq) {
            atomic_store(sleeping, 0);
            return;
        }
    }
}

static inline void turn_pass(_Atomic uint32_t *turn, _Atomic uint32_t *next_sleeping, uint32_t next_seq)
{
    atomic_store(turn, next_seq);
    if (next_sleeping && atomic_exchange(next_sleeping, 0) == 1)
        futex_wake_u32(next_sleeping, 1);
}

/*
 * Concurrent mode's slot stamps: the count of ops done on a slot, in the low 31 bits; the top bit says a thread sleeps on
 * the word (futex) and must be woken by the next publish.
 */
#define STAMP_SLEEPER 0x80000000u

/* Waits until the slot's stamp equals dep: a short spin, then a futex wait in the kernel. Returns 1 when it had to wait. */
static inline int stamp_wait(_Atomic uint32_t *stamp, uint32_t dep)
{
    uint32_t v = atomic_load_explicit(stamp, memory_order_acquire);
    if ((v & ~STAMP_SLEEPER) == dep)
        return 0;
    for (int i = 0; i < 200; i++) {
        _mm_pause();
        if ((atomic_load_explicit(stamp, memory_order_acquire) & ~STAMP_SLEEPER) == dep)
            return 1;
    }
    for (;;) {
        v = atomic_load_explicit(stamp, memory_order_acquire);
        if ((v & ~STAMP_SLEEPER) == dep)
            return 1;
        /* Announce the sleeper; if the stamp moved meanwhile, look again. */
        if (!(v & STAMP_SLEEPER) && !atomic_compare_exchange_weak(stamp, &v, v | STAMP_SLEEPER))
            continue;
        futex_wait_u32(stamp, v | STAMP_SLEEPER);
    }
}

/* Publishes that `done` ops on the slot are done; wakes the threads sleeping on it, if any. */
static inline void stamp_publish(_Atomic uint32_t *stamp, uint32_t done)
{
    if (atomic_exchange_explicit(stamp, done, memory_order_acq_rel) & STAMP_SLEEPER)
        futex_wake_u32(stamp, INT_MAX);
}
#endif
