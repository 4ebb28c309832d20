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
#include <signal.h>
#include <gnu/libc-version.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ptrecord.h"
#include "sys.h"
#include "encode.h"

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
/* Largest end block with a lost-events payload: header and a varint. */
#define LOST_END_BYTES (sizeof(struct ptr_block_header) + 10u)
/* The end block as last written (with its payload, if any): blocks written after it move it along. */
static uint8_t end_bytes[LOST_END_BYTES];
static uint32_t end_len;

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
    uint16_t version = ptr_format_version(0), flags = 0;
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
    /* Tags 19-20: the soft address-space and data limits (ulimit -v, -d) when set: a call that failed under one
       succeeds in a replay without it. */
    struct { uint64_t cur, max; } limit;
    if (ptr_sys6(SYS_prlimit64, 0, RLIMIT_AS, 0, (long)&limit, 0, 0) == 0 && limit.cur != (uint64_t)RLIM_INFINITY) {
        field_u64(&b, 19, limit.cur);
    }
    if (ptr_sys6(SYS_prlimit64, 0, RLIMIT_DATA, 0, (long)&limit, 0, 0) == 0 && limit.cur != (uint64_t)RLIM_INFINITY) {
        field_u64(&b, 20, limit.cur);
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
    if (offset == 0 || !ptr_proc.finished || size != (long)(ptr_proc.end_offset + end_len) ||
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

/*
 * A write that goes over the file size limit (RLIMIT_FSIZE) fails with EFBIG and makes the kernel send
 * SIGXFSZ to the writing thread, which would end the program. The recorder's writes are not the program's:
 * SIGXFSZ is blocked in the thread around each of them (two system calls a block, none an event), and one
 * that the write raised is taken off again before the old mask returns, so the program never sees it.
 */
static void block_sigxfsz(uint64_t *old)
{
    uint64_t set = 1ull << (SIGXFSZ - 1);
    ptr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, (long)old, 8, 0, 0);
}

static void restore_sigxfsz(const uint64_t *old, int raised, int was_pending)
{
    uint64_t set = 1ull << (SIGXFSZ - 1);
    if (raised && !was_pending) {
        struct timespec zero = { 0, 0 };
        ptr_sys6(SYS_rt_sigtimedwait, (long)&set, 0, (long)&zero, 8, 0, 0);
    }
    ptr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)old, 0, 8, 0, 0);
}

/* One SIGXFSZ already pending for the program (it blocks the signal itself): not to be taken away. */
static int sigxfsz_pending(const uint64_t *old)
{
    if (!(*old & (1ull << (SIGXFSZ - 1)))) {
        return 0; /* not blocked before: nothing of the program's can be pending */
    }
    uint64_t pending = 0;
    ptr_sys3(SYS_rt_sigpending, &pending, 8, 0);
    return (pending & (1ull << (SIGXFSZ - 1))) != 0;
}

int ptr_write_all(const void *buf, size_t len)
{
    if (ptr_proc.fd < 0 || __atomic_load_n(&ptr_proc.write_error, __ATOMIC_RELAXED) != 0 || check_descriptor() != 0) {
        return -1;
    }
    uint64_t old_mask = 0;
    block_sigxfsz(&old_mask);
    int was_pending = sigxfsz_pending(&old_mask);
    const uint8_t *p = buf;
    int rc = 0, raised = 0;
    while (len > 0) {
        long r = ptr_write(ptr_proc.fd, p, len);
        if (r == -4 /* EINTR */) {
            continue;
        }
        if (r <= 0) {
            /* The disk is full or the file at its size limit: stop writing; the end block says how many
               events are missing (ptr_write_end_block). */
            int expected = 0;
            __atomic_compare_exchange_n(&ptr_proc.write_error, &expected, r < 0 ? (int)-r : 28 /* ENOSPC */, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            raised = r == -27 /* EFBIG */;
            rc = -1;
            break;
        }
        p += r;
        len -= (size_t)r;
    }
    restore_sigxfsz(&old_mask, raised, was_pending);
    return rc;
}

/* The end block: no events, no payload; its CRC (format version 2) covers its 32 header bytes, set by write_header. */
static struct ptr_block_header end_block = { BLOCK_MAGIC, 0, BLOCK_FLAG_END, 0, 0, 0, 0, 0, 0, 0 };

/*
 * After a failed write (disk full, file size limit): the file may end inside a block, and nothing more
 * may fit. Finds, by reading the block headers back, the last block boundary that leaves room for an end
 * block with a payload (FORMAT.md version 3: the number of events lost), moves the events of the whole
 * blocks after it to the lost count, cuts the file there, writes that end block and marks the header
 * version 3. When even that cannot be written, the file stays without an end block (truncated).
 */
static void write_lost_end_block(void)
{
    int fd = ptr_proc.fd;
    int limited = ptr_proc.write_error != 0; /* else only a handler's calls were lost: nothing to cut */
    long size = ptr_sys3(SYS_lseek, fd, 0, SEEK_END);
    long rfd = ptr_open(ptr_proc.path, O_RDWR | O_CLOEXEC, 0);
    uint8_t head[16];
    if (size <= 0 || rfd < 0 || ptr_sys6(SYS_pread64, rfd, (long)head, 16, 0, 0, 0) != 16) {
        if (rfd >= 0) {
            ptr_close((int)rfd);
        }
        return;
    }
    uint32_t body_len;
    __builtin_memcpy(&body_len, head + 12, 4);
    uint64_t good = 16u + (uint64_t)body_len + 4u; /* the first block's offset */
    uint64_t cut_events = 0;                       /* events of whole blocks after `good` */
    uint64_t off = good;
    while (limited && off + sizeof(struct ptr_block_header) <= (uint64_t)size) {
        struct ptr_block_header h;
        if (ptr_sys6(SYS_pread64, rfd, (long)&h, sizeof h, (long)off, 0, 0) != (long)sizeof h || h.magic != BLOCK_MAGIC) {
            break;
        }
        uint64_t end = off + sizeof h + h.stored_len;
        if (end > (uint64_t)size) {
            break; /* the torn block: its events were counted lost when its write failed */
        }
        if (end + LOST_END_BYTES <= (uint64_t)size) {
            good = end;
            cut_events = 0;
        } else {
            cut_events += h.event_count;
        }
        off = end;
    }
    if (!limited) {
        good = (uint64_t)size;
    }
    uint64_t lost = __atomic_add_fetch(&ptr_proc.lost_events, cut_events, __ATOMIC_RELAXED);
    uint8_t block[LOST_END_BYTES];
    struct ptr_block_header *h = (struct ptr_block_header *)block;
    *h = end_block;
    uint8_t *payload = block + sizeof *h;
    uint32_t len = (uint32_t)(ptr_put_varint(payload, lost) - payload);
    h->stored_len = len;
    h->raw_len = len;
    h->crc = ptr_crc32_update(ptr_crc32(block, offsetof(struct ptr_block_header, crc)), payload, len);
    uint16_t version = ptr_format_version(1); /* versions 4 (stacks) and 5 (multi-threaded) count lost events too */
    uint64_t old_mask = 0;
    block_sigxfsz(&old_mask);
    int was_pending = sigxfsz_pending(&old_mask);
    long w = -1;
    if (ptr_sys3(SYS_ftruncate, rfd, good, 0) == 0) {
        w = ptr_sys6(SYS_pwrite64, rfd, (long)block, (long)(sizeof *h + len), (long)good, 0, 0);
        if (w == (long)(sizeof *h + len)) {
            ptr_sys6(SYS_pwrite64, rfd, (long)&version, 2, 8, 0, 0);
            ptr_proc.end_offset = good;
            __builtin_memcpy(end_bytes, block, sizeof *h + len);
            end_len = (uint32_t)(sizeof *h + len);
        } else {
            ptr_sys3(SYS_ftruncate, rfd, good, 0); /* no room even so: truncated at a block boundary */
        }
    }
    restore_sigxfsz(&old_mask, w == -27 /* EFBIG */, was_pending);
    ptr_close((int)rfd);
}

uint16_t ptr_format_version(int lost)
{
    return __atomic_load_n(&ptr_proc.multithreaded, __ATOMIC_RELAXED) ? 5 : ptr_stacks.depth != 0 ? 4 : lost ? 3 : 2;
}

/*
 * A second thread starts (unfenced clock): from now on the threads' timestamps are hints, so the header says
 * version 5 (FORMAT.md "Order"), before that thread's first event is written. The version field is not under the
 * header CRC; the trace descriptor appends, so the field is written through a descriptor of its own. Runs once
 * a process (a fork child starts single-threaded again, in its own file).
 */
void ptr_mark_multithreaded(void)
{
    int expected = 0;
    if (ptr_proc.fd < 0 || !__atomic_compare_exchange_n(&ptr_proc.multithreaded, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        return;
    }
    long rfd = ptr_open(ptr_proc.path, O_WRONLY | O_CLOEXEC, 0);
    if (rfd < 0) {
        return;
    }
    uint64_t dev, ino;
    uint16_t version = ptr_format_version(0);
    if (fd_identity((int)rfd, &dev, &ino) == 0 && dev == ptr_proc.fd_dev && ino == ptr_proc.fd_ino) {
        ptr_sys6(SYS_pwrite64, rfd, (long)&version, 2, 8, 0, 0);
    }
    ptr_close((int)rfd);
}

void ptr_write_end_block(void)
{
    if (ptr_proc.fd < 0 || ptr_proc.finished) {
        return;
    }
    if (ptr_proc.write_error != 0 || __atomic_load_n(&ptr_proc.lost_events, __ATOMIC_RELAXED) != 0) {
        write_lost_end_block();
    } else if (ptr_write_all(&end_block, sizeof end_block) == 0) {
        long size = ptr_sys3(SYS_lseek, ptr_proc.fd, 0, SEEK_END);
        ptr_proc.end_offset = size >= (long)sizeof end_block ? (uint64_t)size - sizeof end_block : 0;
        __builtin_memcpy(end_bytes, &end_block, sizeof end_block);
        end_len = sizeof end_block;
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
        ptr_sys6(SYS_pwrite64, ptr_proc.late_fd, (long)end_bytes, (long)end_len,
                 (long)(ptr_proc.end_offset + len), 0, 0) == (long)end_len) {
        ptr_proc.end_offset += len;
        rc = 0;
    }
    __atomic_store_n(&ptr_proc.late_lock, 0, __ATOMIC_RELEASE);
    return rc;
}

int ptr_write_block(const void *buf, size_t len)
{
    if (__atomic_load_n(&ptr_proc.write_error, __ATOMIC_RELAXED) != 0) {
        return -1; /* the recorder stopped writing: the end block counts these as lost */
    }
    return ptr_proc.finished ? write_after_end(buf, len) : ptr_write_all(buf, len);
}
