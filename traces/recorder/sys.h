/*
 * Raw Linux system calls for the recorder. They return -errno on failure and never touch the
 * program's errno, the heap, stdio or cancellation state, so they are safe anywhere: inside
 * malloc, in a fork child, in a signal handler.
 */
#ifndef PTRECORD_SYS_H
#define PTRECORD_SYS_H

#include <stdint.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static inline long ptr_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
#include <errno.h>
#include <unistd.h>
static inline long ptr_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    int saved = errno;
    long ret = syscall(n, a, b, c, d, e, f);
    if (ret == -1) {
        ret = -errno;
    }
    errno = saved;
    return ret;
}
#endif

#define ptr_sys3(n, a, b, c) ptr_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline long ptr_write(int fd, const void *buf, unsigned long len) { return ptr_sys3(SYS_write, fd, buf, len); }
static inline long ptr_read(int fd, void *buf, unsigned long len) { return ptr_sys3(SYS_read, fd, buf, len); }
static inline long ptr_open(const char *path, int flags, int mode) { return ptr_sys6(SYS_openat, -100 /* AT_FDCWD */, (long)path, flags, mode, 0, 0); }
static inline long ptr_close(int fd) { return ptr_sys3(SYS_close, fd, 0, 0); }
static inline int ptr_gettid(void) { return (int)ptr_sys3(SYS_gettid, 0, 0, 0); }
static inline int ptr_getpid(void) { return (int)ptr_sys3(SYS_getpid, 0, 0, 0); }
static inline int ptr_getppid(void) { return (int)ptr_sys3(SYS_getppid, 0, 0, 0); }
static inline long ptr_readlink(const char *path, char *buf, unsigned long len) { return ptr_sys6(SYS_readlinkat, -100, (long)path, (long)buf, (long)len, 0, 0); }
static inline long ptr_fcntl(int fd, int cmd, long arg) { return ptr_sys3(SYS_fcntl, fd, cmd, arg); }
static inline long ptr_brk(unsigned long addr) { return ptr_sys3(SYS_brk, addr, 0, 0); }
static inline void *ptr_mmap(unsigned long len, int prot, int flags)
{
    long r = ptr_sys6(SYS_mmap, 0, (long)len, prot, flags, -1, 0);
    return (r < 0 && r > -4096) ? (void *)0 : (void *)r;
}
static inline long ptr_munmap(void *p, unsigned long len) { return ptr_sys3(SYS_munmap, p, len, 0); }
static inline long ptr_madvise(void *p, unsigned long len, int advice) { return ptr_sys3(SYS_madvise, p, len, advice); }
static inline long ptr_tgkill(int pid, int tid, int sig) { return ptr_sys3(SYS_tgkill, pid, tid, sig); }

#endif
