/* The event clock: start readings and the TSC factor (see ptrecord.h, "The event clock"). */
#include <fcntl.h>
#include "ptrecord.h"
#include "sys.h"

struct ptr_clock ptr_clock = { .every = PTR_CLOCK_EVERY_DEFAULT };

#define CALIBRATION_NS 250000 /* at least this long between the two readings: factor error ~1e-4 */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#if defined(__x86_64__)
/* One CLOCK_MONOTONIC reading and the TSC at the same moment (midpoint of two TSC reads around it). */
static int64_t paired_reading(uint64_t *tsc)
{
    unsigned aux;
    uint64_t a = __rdtscp(&aux);
    int64_t ns = mono_ns();
    uint64_t b = __rdtscp(&aux);
    *tsc = a + (b - a) / 2;
    return ns;
}
#endif

void ptr_clock_start(void)
{
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    ptr_proc.start_realtime_ns = (int64_t)real.tv_sec * 1000000000LL + real.tv_nsec;
#if defined(__x86_64__)
    ptr_proc.start_clock_ns = paired_reading(&ptr_clock.tsc0);
#else
    ptr_proc.start_clock_ns = mono_ns();
#endif
}

/* Whether the kernel's clocksource is the TSC (then it is invariant and synchronised across CPUs). */
void ptr_clock_choose(void)
{
#if defined(__x86_64__)
    if (ptr_clock.force_gettime) {
        return;
    }
    char source[64];
    long fd = ptr_open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC, 0);
    long n = fd >= 0 ? ptr_read((int)fd, source, sizeof source - 1) : -1;
    if (fd >= 0) {
        ptr_close((int)fd);
    }
    if (n < 3 || source[0] != 't' || source[1] != 's' || source[2] != 'c' || (n > 3 && source[3] != '\n')) {
        return; /* the kernel does not trust the TSC here: clock_gettime it is */
    }
    ptr_clock.tsc_chosen = 1;
#endif
}

void ptr_clock_calibrate(void)
{
#if defined(__x86_64__)
    if (!ptr_clock.tsc_chosen) {
        return;
    }
    uint64_t tsc1;
    int64_t ns1;
    do {
        ns1 = paired_reading(&tsc1);
    } while (ns1 - ptr_proc.start_clock_ns < CALIBRATION_NS);
    uint64_t ticks = tsc1 - ptr_clock.tsc0;
    if ((int64_t)ticks <= 0) {
        return;
    }
    ptr_clock.mult = (uint64_t)((((unsigned __int128)(uint64_t)(ns1 - ptr_proc.start_clock_ns)) << 32) / ticks);
    ptr_clock.use_tsc = ptr_clock.mult != 0;
#endif
}
