/*
 * The process's environment, read without the heap: one iterator for the recorder's control
 * variables (process.c) and the malloc environment in the header (output.c).
 *
 * Source: libc's `environ` once it is set; before that (ld.so's own allocations can be the process's
 * first calls) /proc/self/environ, read in windows of the caller's buffer, so an environment of any
 * size takes a fixed amount of memory: an entry cut by a window's edge is delivered whole from the
 * next window; an entry longer than the whole buffer is skipped (none of ours is that long).
 * /proc/self/environ is the original environment block, in which glibc's tunables parser may have
 * NUL-terminated tunable values in place: callers that care are told the entry comes from there.
 */
#include "ptrecord.h"
#include "sys.h"

extern char **environ;

void ptr_environment_each(char *buf, size_t cap, ptr_environment_fn fn, void *ctx)
{
    if (environ != NULL) {
        for (char **e = environ; *e; e++) {
            fn(*e, __builtin_strlen(*e), 0, ctx);
        }
        return;
    }
    long fd = ptr_open("/proc/self/environ", 0 /* O_RDONLY */, 0);
    if (fd < 0 || cap < 2) {
        if (fd >= 0) {
            ptr_close((int)fd);
        }
        return;
    }
    size_t keep = 0; /* bytes of an unfinished entry carried to the front of buf */
    int skipping = 0; /* inside an entry longer than the buffer */
    for (;;) {
        long r = ptr_read((int)fd, buf + keep, cap - 1 - keep);
        if (r == -4 /* EINTR */) {
            continue;
        }
        size_t n = keep + (r > 0 ? (size_t)r : 0);
        size_t i = 0, done = 0;
        while (i < n) {
            size_t start = i;
            while (i < n && buf[i]) {
                i++;
            }
            if (i >= n && r > 0) {
                break; /* unfinished: carried to the next window */
            }
            buf[i < n ? i : n] = 0;
            if (!skipping) {
                fn(buf + start, i - start, 1, ctx);
            }
            skipping = 0;
            i++;
            done = i;
        }
        if (r <= 0) {
            break;
        }
        keep = n - done;
        if (keep >= cap - 1) {
            keep = 0; /* longer than the buffer: drop it, and its rest in the next window */
            skipping = 1;
        } else if (keep > 0) {
            __builtin_memmove(buf, buf + done, keep);
        }
    }
    ptr_close((int)fd);
}
