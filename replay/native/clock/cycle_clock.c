/*
 * libptreplay-clock.so: the cycle counter for the C# model's per-call latency (the sim engine).
 * One exported function, called from C# through an unmanaged function pointer without a GC
 * transition: a read costs the call plus one rdtsc, against two clock_gettime reads through
 * the vDSO for Stopwatch.GetTimestamp. The caller converts ticks to ns with a factor it
 * calibrates against Stopwatch, and uses it only where the kernel's clocksource is the TSC.
 * Plain rdtsc, unserialized, like the native replayer's tsc_now() (tsc_clock.h), so both
 * engines time their calls with the same instruction.
 */
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>

/* The time-stamp counter: ticks at a constant rate since reset. */
uint64_t ptreplay_cycle_clock_read(void) { return __rdtsc(); }

/* 1: the counter above is real. */
int ptreplay_cycle_clock_available(void) { return 1; }
#else
/* No TSC on this architecture: the C# side keeps Stopwatch. */
uint64_t ptreplay_cycle_clock_read(void) { return 0; }
int ptreplay_cycle_clock_available(void) { return 0; }
#endif
