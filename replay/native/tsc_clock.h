/* Cycle counter and its calibration against CLOCK_MONOTONIC (no heap use). */
#ifndef PTREPLAY_TSC_CLOCK_H
#define PTREPLAY_TSC_CLOCK_H
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>

static inline uint64_t tsc_now(void) { return __rdtsc(); }

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Ticks per nanosecond, measured over about 30 ms. */
static inline double tsc_calibrate(void)
{
    uint64_t n0 = mono_ns(), t0 = tsc_now();
    struct timespec pause = { 0, 30 * 1000 * 1000 };
    nanosleep(&pause, 0);
    uint64_t n1 = mono_ns(), t1 = tsc_now();
    return n1 > n0 ? (double)(t1 - t0) / (double)(n1 - n0) : 1.0;
}
#endif
