/*
 * The trace file: naming, opening, the header, raw writes, the end block.
 *
 * Naming: the started program (PTRECORD_ROLE=root) writes PTRECORD_OUT itself; every other process
 * (fork child, exec'd program) writes "<PTRECORD_OUT>.<pid>", or "<PTRECORD_OUT>.<pid>.<n>" when that
 * name is taken (a fork child that then execs writes two files under one pid). Each file's header
 * links it to the trace it continues (fields 15-18, see ptr_find_exec_parent and after_fork_child).
 * The descriptor is moved to a high number (the program's own fds keep their usual numbers) and
 * its identity (device, inode) is checked before every write: a program that closes all fds and
 * reuses the number must never receive trace bytes.
 */
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ptrecord.h"
#include "sys.h"

#define SCRATCH_BYTES (16ul << 20)   /* header assembly: argv and environment can each reach ARG_MAX */

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static char *append_str(char *d, const char *s)
{
    while (*s) {
        *d++ = *s++;
    }
    *d = 0;
    return d;
}

static char *append_uint(char *d, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *d++ = tmp[--n];
    }
    *d = 0;
    return d;
}

static int fd_identity(int fd, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (ptr_sys3(SYS_fstat, fd, &st, 0) != 0) {
        return -1;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

/* Moves fd above the numbers programs normally use; keeps O_CLOEXEC. */
static int move_high(int fd)
{
    struct rlimit rl;
    long floor = 3;
    if (ptr_sys3(SYS_getrlimit, RLIMIT_NOFILE, &rl, 0) == 0) {
        rlim_t cap = rl.rlim_cur > 1024 ? 1024 : rl.rlim_cur;
        if (cap > 128) {
            floor = (long)cap - 100;
        }
    }
    long high = ptr_fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) {
        return fd;
    }
    ptr_close(fd);
    return (int)high;
}

static int open_path(int flags)
{
    long fd = ptr_open(ptr_proc.path, O_WRONLY | O_APPEND | O_CLOEXEC | flags, 0644);
    if (fd < 0) {
        return (int)fd;
    }
    int high = move_high((int)fd);
    if (fd_identity(high, &ptr_proc.fd_dev, &ptr_proc.fd_ino) != 0) {
        ptr_close(high);
        return -1;
    }
    return high;
}

/* Reads a whole (small, /proc) file; returns its length, 0 when unreadable. */
static size_t read_file(const char *path, char *buf, size_t cap)
{
    long fd = ptr_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    size_t n = 0;
    while (n < cap) {
        long r = ptr_read((int)fd, buf + n, cap - n);
        if (r == -4 /* EINTR */) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    ptr_close((int)fd);
    return n;
}

/* Online CPUs from /sys/devices/system/cpu/online ("0-3,6"): what glibc's arena limit counts. */
static uint32_t online_cpus(void)
{
    char buf[512];
    size_t n = read_file("/sys/devices/system/cpu/online", buf, sizeof buf - 1);
    buf[n] = 0;
    uint32_t total = 0;
    const char *p = buf;
    while (*p >= '0' && *p <= '9') {
        unsigned long lo = 0, hi;
        while (*p >= '0' && *p <= '9') {
            lo = lo * 10 + (unsigned long)(*p++ - '0');
        }
        hi = lo;
        if (*p == '-') {
            p++;
            hi = 0;
            while (*p >= '0' && *p <= '9') {
                hi = hi * 10 + (unsigned long)(*p++ - '0');
            }
        }
        total += (uint32_t)(hi - lo + 1);
        if (*p == ',') {
            p++;
        }
    }
    if (total == 0) {
        long conf = sysconf(_SC_NPROCESSORS_ONLN);
        total = conf > 0 ? (uint32_t)conf : 1;
    }
    return total;
}

static int starts_with(const char *s, const char *prefix)
{
    while (*prefix) {
        if (*s++ != *prefix++) {
            return 0;
        }
    }
    return 1;
}

struct header_builder {
    uint8_t *p;
};

static void field(struct header_builder *b, uint16_t tag, const void *data, uint32_t len)
{
    __builtin_memcpy(b->p, &tag, 2);
    __builtin_memcpy(b->p + 2, &len, 4);
    const uint8_t *s = data;
    for (uint32_t i = 0; i < len; i++) {
        b->p[6 + i] = s[i];
    }
    b->p += 6 + len;
}

static void field_u64(struct header_builder *b, uint16_t tag, uint64_t v) { field(b, tag, &v, 8); }
static void field_u32(struct header_builder *b, uint16_t tag, uint32_t v) { field(b, tag, &v, 4); }
static void field_str(struct header_builder *b, uint16_t tag, const char *s) { field(b, tag, s, (uint32_t)str_len(s)); }

extern char **environ;

/* Appends `var` (n bytes) and a NUL to `kept` at *kept_len. */
static void keep_var(char *kept, size_t *kept_len, const char *var, size_t n)
{
    __builtin_memcpy(kept + *kept_len, var, n);
    kept[*kept_len + n] = 0;
    *kept_len += n + 1;
}

struct kept_environment {
    char *kept;        /* NUL-terminated strings */
    size_t len;
    int in_tunables;   /* the last entry kept was GLIBC_TUNABLES */
};

/*
 * Keeps GLIBC_TUNABLES and every MALLOC_* variable. From /proc/self/environ (the original block, in
 * which glibc's tunables parser has NUL-terminated every recognised tunable's value in place),
 * "GLIBC_TUNABLES=glibc.malloc.a=1:glibc.malloc.b=2" reads as "GLIBC_TUNABLES=glibc.malloc.a=1",
 * "glibc.malloc.b=2": fragments that start with "glibc." right after it are joined back with ':'.
 */
static void keep_malloc_entry(const char *entry, size_t n, int from_proc, void *ctx)
{
    struct kept_environment *k = ctx;
    if (from_proc && k->in_tunables && starts_with(entry, "glibc.")) {
        k->kept[k->len - 1] = ':'; /* continue the GLIBC_TUNABLES value */
        keep_var(k->kept, &k->len, entry, n);
    } else if (starts_with(entry, "GLIBC_TUNABLES=") || starts_with(entry, "MALLOC_")) {
        keep_var(k->kept, &k->len, entry, n);
        k->in_tunables = starts_with(entry, "GLIBC_TUNABLES=");
    } else {
        k->in_tunables = 0;
    }
}

/* Collects the malloc environment into `kept`; returns the bytes used. `scratch`: SCRATCH_BYTES / 2. */
static size_t malloc_environment(char *scratch, char *kept)
{
    struct kept_environment k = { kept, 0, 0 };
    ptr_environment_each(scratch, SCRATCH_BYTES / 2, keep_malloc_entry, &k);
    return k.len;
}

/* Builds the header (FORMAT.md "Header fields") in a scratch mapping and writes it. */
static struct ptr_block_header end_block;   /* defined with the end-block writer below */

static int write_header(void)
{
    end_block.crc = ptr_crc32((const uint8_t *)&end_block, offsetof(struct ptr_block_header, crc));
    uint8_t *scratch = ptr_mmap(SCRATCH_BYTES * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (scratch == NULL) {
        return -1;
    }
    char *env = (char *)scratch + SCRATCH_BYTES;
    char *argv = (char *)scratch + 2 * SCRATCH_BYTES;
    uint8_t *out = scratch;
    __builtin_memcpy(out, "PTRTRACE", 8);
    uint16_t version = 2, flags = 0;
    __builtin_memcpy(out + 8, &version, 2);
    __builtin_memcpy(out + 10, &flags, 2);
    struct header_builder b = { out + 16 };

    field_str(&b, 1, PTR_RECORDER_VERSION);
    field_str(&b, 2, gnu_get_libc_version());
    field_u64(&b, 3, (uint64_t)sysconf(_SC_PAGESIZE));
    field_u32(&b, 4, online_cpus());
    field_u64(&b, 5, ptr_proc.brk0);

    /* Tag 6: GLIBC_TUNABLES and MALLOC_*, each NUL-terminated. */
    char *kept = env + SCRATCH_BYTES / 2;
    size_t kept_len = malloc_environment(env, kept);
    field(&b, 6, kept, (uint32_t)kept_len);

    char exe[4096];
    long exe_len = ptr_readlink("/proc/self/exe", exe, sizeof exe);
    field(&b, 7, exe, exe_len > 0 ? (uint32_t)exe_len : 0);

    size_t argv_len = read_file("/proc/self/cmdline", argv, SCRATCH_BYTES - 1);
    if (argv_len > 0 && argv[argv_len - 1] != 0) {
        argv[argv_len++] = 0;
    }
    field(&b, 8, argv, (uint32_t)argv_len);
    field_u32(&b, 9, (uint32_t)ptr_proc.pid);
    field_u32(&b, 10, (uint32_t)ptr_getppid());
    field_u64(&b, 11, (uint64_t)ptr_proc.start_realtime_ns);
    field_u64(&b, 12, (uint64_t)ptr_proc.start_clock_ns);
    /* With the TSC the timestamps are still CLOCK_MONOTONIC nanoseconds (TSC ticks scaled to them). */
    field_str(&b, 13, ptr_clock.tsc_chosen ? "CLOCK_MONOTONIC (TSC-scaled)" : "CLOCK_MONOTONIC");
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    field_u64(&b, 14, (uint64_t)(res.tv_sec * 1000000000LL + res.tv_nsec));
    field_u32(&b, 15, ptr_proc.origin);
    if (ptr_proc.parent_path[0] != 0) {
        field_str(&b, 16, ptr_proc.parent_path);
    }
    if (ptr_proc.origin == PTR_ORIGIN_FORK && ptr_proc.fork_tid != 0) {
        field_u32(&b, 17, ptr_proc.fork_tid);
        field_u64(&b, 18, ptr_proc.fork_seq);
    }

    uint32_t body_len = (uint32_t)(b.p - (out + 16));
    __builtin_memcpy(out + 12, &body_len, 4);
    uint32_t crc = ptr_crc32(out + 16, body_len);
    __builtin_memcpy(b.p, &crc, 4);
    int rc = ptr_write_all(out, 16 + body_len + 4);
    ptr_munmap(scratch, SCRATCH_BYTES * 3);
    return rc;
}

/* The pid in the header (field 9) of the trace at `path`; -1 when there is no such trace. */
static long header_pid(const char *path)
{
    long fd = ptr_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    long pid = -1;
    uint8_t pre[16];
    if (ptr_read((int)fd, pre, 16) == 16 && __builtin_memcmp(pre, "PTRTRACE", 8) == 0) {
        uint32_t body_len;
        __builtin_memcpy(&body_len, pre + 12, 4);
        uint64_t at = 0;
        while (at + 6 <= body_len) {
            uint8_t fh[6];
            if (ptr_read((int)fd, fh, 6) != 6) {
                break;
            }
            uint16_t tag;
            uint32_t len;
            __builtin_memcpy(&tag, fh, 2);
            __builtin_memcpy(&len, fh + 2, 4);
            if (tag == 9 && len == 4) {
                uint32_t v;
                pid = ptr_read((int)fd, &v, 4) == 4 ? (long)v : -1;
                break;
            }
            if (ptr_sys3(SYS_lseek, fd, len, SEEK_CUR) < 0) {
                break;
            }
            at += 6 + (uint64_t)len;
        }
    }
    ptr_close((int)fd);
    return pid;
}

/* Writes "<OUT>.<pid>" (n = 0) or "<OUT>.<pid>.<n>" into dst. */
static void child_name(char *dst, unsigned long pid, unsigned long n)
{
    char *end = append_str(dst, ptr_proc.out_base);
    end = append_str(end, ".");
    end = append_uint(end, pid);
    if (n > 0) {
        append_uint(append_str(end, "."), n);
    }
}

/*
 * The newest trace of process `pid` in this recording: OUT when the started program has that pid,
 * then OUT.<pid>, OUT.<pid>.1, ... (images in the order they started), the last one that exists.
 * Writes it into dst ("" when none); returns 1 when found.
 */
static int newest_trace_of(int pid, char *dst)
{
    dst[0] = 0;
    if (pid <= 0) {
        return 0;
    }
    if (header_pid(ptr_proc.out_base) == pid) {
        append_str(dst, ptr_proc.out_base);
    }
    char name[sizeof ptr_proc.path];
    for (unsigned long n = 0; n < 1000; n++) {
        child_name(name, (unsigned long)pid, n);
        if (header_pid(name) != pid) {
            break;
        }
        append_str(dst, name);
    }
    return dst[0] != 0;
}

/*
 * An exec'd program image: the trace it continues is the newest trace of its own pid (the image that
 * exec'd it: the started program, a fork child, an earlier exec). A process that execs without a trace
 * of its own (a vfork or posix_spawn child, system(), popen()) continues its parent's newest trace,
 * whose fork marker names it (none for posix_spawn's internal clone of system() and popen()).
 */
void ptr_find_exec_parent(void)
{
    if (!newest_trace_of(ptr_proc.pid, ptr_proc.parent_path)) {
        newest_trace_of(ptr_getppid(), ptr_proc.parent_path);
    }
}

/* After a failed exec: cuts the exec marker and the end block off again (nothing else was written since). */
int ptr_truncate_to(uint64_t offset)
{
    long size = ptr_sys3(SYS_lseek, ptr_proc.fd, 0, SEEK_END);
    if (offset == 0 || !ptr_proc.finished || size != (long)(ptr_proc.end_offset + sizeof(struct ptr_block_header)) ||
        ptr_sys3(SYS_ftruncate, ptr_proc.fd, offset, 0) != 0) {
        return -1;
    }
    ptr_proc.finished = 0;
    ptr_proc.end_offset = 0;
    return 0;
}

int ptr_open_trace(int as_root)
{
    ptr_proc.fd = -1;
    if (ptr_proc.late_fd >= 0) {
        ptr_close(ptr_proc.late_fd);
        ptr_proc.late_fd = -1;
    }
    ptr_proc.finished = 0;
    int fd;
    if (as_root) {
        append_str(ptr_proc.path, ptr_proc.out_base);
        fd = open_path(O_CREAT | O_TRUNC);
    } else {
        fd = -17;
        for (unsigned long n = 0; fd == -17 /* EEXIST */ && n < 1000; n++) {
            child_name(ptr_proc.path, (unsigned long)ptr_proc.pid, n);
            fd = open_path(O_CREAT | O_EXCL);
        }
    }
    if (fd < 0) {
        return -1;
    }
    ptr_proc.fd = fd;
    if (write_header() != 0) {
        ptr_close(fd);
        ptr_proc.fd = -1;
        return -1;
    }
    return 0;
}

/* Makes sure ptr_proc.fd still is the trace file (reopening it by path if the program closed it). */
static int check_descriptor(void)
{
    uint64_t dev, ino;
    if (fd_identity(ptr_proc.fd, &dev, &ino) == 0 && dev == ptr_proc.fd_dev && ino == ptr_proc.fd_ino) {
        return 0;
    }
    uint64_t want_dev = ptr_proc.fd_dev, want_ino = ptr_proc.fd_ino;
    int fd = open_path(0);
    if (fd < 0 || ptr_proc.fd_dev != want_dev || ptr_proc.fd_ino != want_ino) {
        if (fd >= 0) {
            ptr_close(fd);
        }
        ptr_proc.fd_dev = want_dev;
        ptr_proc.fd_ino = want_ino;
        return -1;
    }
    ptr_proc.fd = fd;
    return 0;
}

int ptr_write_all(const void *buf, size_t len)
{
    if (ptr_proc.fd < 0 || check_descriptor() != 0) {
        return -1;
    }
    const uint8_t *p = buf;
    while (len > 0) {
        long r = ptr_write(ptr_proc.fd, p, len);
        if (r == -4 /* EINTR */) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* The end block: no events, no payload; its CRC (format version 2) covers its 32 header bytes, set by write_header. */
static struct ptr_block_header end_block = { BLOCK_MAGIC, 0, BLOCK_FLAG_END, 0, 0, 0, 0, 0, 0, 0 };

void ptr_write_end_block(void)
{
    if (ptr_proc.fd < 0 || ptr_proc.finished) {
        return;
    }
    if (ptr_write_all(&end_block, sizeof end_block) == 0) {
        long size = ptr_sys3(SYS_lseek, ptr_proc.fd, 0, SEEK_END);
        ptr_proc.end_offset = size >= (long)sizeof end_block ? (uint64_t)size - sizeof end_block : 0;
    }
    ptr_proc.finished = 1;
}

/*
 * A block that comes after the end block: exit handlers that run after the recorder's destructor
 * (handlers registered by constructors run after _dl_fini), glibc's thread freeres, threads still
 * running. It overwrites the end block and a new end block follows it, so the file always ends
 * complete. Exit time only; a spinlock keeps concurrent writers apart.
 */
static int write_after_end(const void *buf, size_t len)
{
    while (__atomic_exchange_n(&ptr_proc.late_lock, 1, __ATOMIC_ACQUIRE)) {
        ptr_sys3(SYS_sched_yield, 0, 0, 0);
    }
    int rc = -1;
    if (ptr_proc.late_fd < 0) {
        long fd = ptr_open(ptr_proc.path, O_WRONLY | O_CLOEXEC, 0);
        ptr_proc.late_fd = fd >= 0 ? move_high((int)fd) : -1;
    }
    if (ptr_proc.late_fd >= 0 && ptr_proc.end_offset > 0 &&
        ptr_sys6(SYS_pwrite64, ptr_proc.late_fd, (long)buf, (long)len, (long)ptr_proc.end_offset, 0, 0) == (long)len &&
        ptr_sys6(SYS_pwrite64, ptr_proc.late_fd, (long)&end_block, sizeof end_block,
                 (long)(ptr_proc.end_offset + len), 0, 0) == (long)sizeof end_block) {
        ptr_proc.end_offset += len;
        rc = 0;
    }
    __atomic_store_n(&ptr_proc.late_lock, 0, __ATOMIC_RELEASE);
    return rc;
}

int ptr_write_block(const void *buf, size_t len)
{
    return ptr_proc.finished ? write_after_end(buf, len) : ptr_write_all(buf, len);
}
