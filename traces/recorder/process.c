/*
 * The process: start (control variables, brk0, the trace file), normal exit, fork, exec, _exit,
 * posix_spawn.
 *
 * Control variables (set by `ptreplay record`):
 *   PTRECORD_OUT=path     the started program's trace; other processes write path.<pid>[.<n>]
 *   PTRECORD_ROLE=root    marks the started program; the recorder rewrites it in place to "chld"
 *                         (same length, so no allocation), so programs it execs know they are children
 *   PTRECORD_FOLLOW=0     children (fork, exec) do not record: the library stays inert in them
 *   PTRECORD_CLOCK_EVERY=n  single-threaded processes read the clock at least on every n-th event
 *                         (1..255, default 128; the interval adapts below it: ptrecord.h, "The event clock")
 *   PTRECORD_CLOCK=monotonic  clock_gettime(CLOCK_MONOTONIC) even where the TSC could be used (every
 *                         event then takes the out-of-line path: same events, slower)
 *   PTRECORD_MT_CLOCK=adaptive  once a second thread starts, every thread goes on reading the clock as a single
 *                         thread does (unfenced, adaptive) and the file becomes format version 5, ordered by readers
 *                         with the address lifecycles (ptrecord.h, "The event clock"); default (fenced): every event
 *                         reads the clock behind a fence and the file stays format version 2, merged by timestamp
 *   PTRECORD_PDEP=0       never encode addresses with BMI2 PDEP (the byte loop: same bytes)
 *   PTRECORD_STACKS=n     call stacks of up to n frames for every allocating call (stacks.c; 0 or unset: none)
 *   PTRECORD_UNWIND=libgcc  unwind with libgcc only, even where libunwind is installed
 * PTRECORD_OUT holds the started program; every program image exec'd later, by the started process
 * itself (`record -- env X=1 prog`) or by a child, writes OUT.<pid>[.<n>] with a link to the trace it
 * continues (header fields 15-18: FORMAT.md "Process trees").
 * Without PTRECORD_OUT the recorder writes ptrecord.<pid>.trace in the working directory.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <unistd.h>
#include "ptrecord.h"
#include "sys.h"

#define PTR_STR2(x) #x
#define PTR_STR(x) PTR_STR2(x)

struct ptr_process ptr_proc = { .fd = -1, .follow = 1, .late_fd = -1 };

extern char **environ;

static int init_state; /* 0 = not started, 1 = in progress, 2 = done */

static int is_var(const char *entry, const char *name, const char **value)
{
    while (*name) {
        if (*entry++ != *name++) {
            return 0;
        }
    }
    if (*entry != '=') {
        return 0;
    }
    *value = entry + 1;
    return 1;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        dst[i] = src[i];
    }
    dst[i] = 0;
}

/* PTRECORD_CLOCK_EVERY=n (1..255): the longest interval, in events, between two clock readings. */
static void set_clock_every(const char *v)
{
    unsigned n = 0;
    while (*v >= '0' && *v <= '9' && n < 1000) {
        n = n * 10 + (unsigned)(*v++ - '0');
    }
    ptr_clock.every = n < 1 ? 1 : n > 255 ? 255 : (int)n;
}

static int allow_pdep = 1; /* PTRECORD_PDEP */

/* PTRECORD_STACKS=n: call stacks of at most n frames (1..PTR_STACK_MAX_DEPTH); empty: the default; 0: off. */
static void set_stack_depth(const char *v)
{
    unsigned n = 0;
    if (*v == 0) {
        n = PTR_STACK_DEFAULT_DEPTH;
    }
    while (*v >= '0' && *v <= '9' && n < 1000) {
        n = n * 10 + (unsigned)(*v++ - '0');
    }
    ptr_stacks.depth = n > PTR_STACK_MAX_DEPTH ? PTR_STACK_MAX_DEPTH : (int)n;
}

/* One environment entry ("NAME=value"): takes it if it is one of the control variables above. */
static void apply_control(const char *entry, int *is_root)
{
    const char *v;
    if (is_var(entry, "PTRECORD_OUT", &v)) {
        copy_str(ptr_proc.out_base, sizeof ptr_proc.out_base, v);
    } else if (is_var(entry, "PTRECORD_FOLLOW", &v)) {
        ptr_proc.follow = v[0] != '0';
    } else if (is_var(entry, "PTRECORD_ROLE", &v)) {
        *is_root = v[0] == 'r';
    } else if (is_var(entry, "PTRECORD_CLOCK_EVERY", &v)) {
        set_clock_every(v);
    } else if (is_var(entry, "PTRECORD_CLOCK", &v)) {
        ptr_clock.force_gettime = v[0] == 'm';
    } else if (is_var(entry, "PTRECORD_MT_CLOCK", &v)) {
        ptr_clock.fence_mode = v[0] != 'a';
    } else if (is_var(entry, "PTRECORD_PDEP", &v)) {
        allow_pdep = v[0] != '0';
    } else if (is_var(entry, "PTRECORD_STACKS", &v)) {
        set_stack_depth(v);
    } else if (is_var(entry, "PTRECORD_UNWIND", &v)) {
        ptr_stacks.libgcc_only = v[0] == 'l';
    }
}

static void control_entry(const char *entry, size_t len, int from_proc, void *ctx)
{
    (void)len;
    (void)from_proc;
    apply_control(entry, ctx);
}

/* Reads the control variables (ptr_environment_each: before libc sets environ, /proc/self/environ). */
static int read_control(void)
{
    static char envbuf[65536];
    int is_root = 0;
    ptr_environment_each(envbuf, sizeof envbuf, control_entry, &is_root);
    if (ptr_proc.out_base[0] == 0) {
        copy_str(ptr_proc.out_base, sizeof ptr_proc.out_base, "ptrecord.trace");
    }
    return is_root;
}

/* Process start, run by the first intercepted call (before its real call) or by the constructor. */
void ptr_process_init_once(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&init_state, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2) {
            ptr_sys3(SYS_sched_yield, 0, 0, 0);
        }
        return;
    }
    ptr_proc.brk0 = (uint64_t)ptr_brk(0);
    ptr_proc.pid = ptr_getpid();
    ptr_clock_start();
    ptr_crc32_init();
    int is_root = read_control();
    ptr_encode_init(allow_pdep);
    if (is_root || ptr_proc.follow) {
        ptr_registry_init();
        ptr_clock_choose();
        if (!is_root) {
            ptr_proc.origin = PTR_ORIGIN_EXEC; /* a new program image, started by a recorded process */
            ptr_find_exec_parent();
        }
        ptr_open_trace(is_root);
        ptr_clock_calibrate(); /* mostly free: measured over the time the header took */
        ptr_stacks_start();    /* PTRECORD_STACKS only: the table and the module map (the unwinder: constructor) */
    }
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

/* Rewrites PTRECORD_ROLE=root to PTRECORD_ROLE=chld in place: what this process execs is a child. */
static void mark_environment_child(void)
{
    if (environ == NULL) {
        return;
    }
    for (char **e = environ; *e; e++) {
        const char *v;
        if (is_var(*e, "PTRECORD_ROLE", &v) && v[0] == 'r' && v[1] == 'o' && v[2] == 'o' && v[3] == 't') {
            char *w = (char *)v;
            w[0] = 'c'; w[1] = 'h'; w[2] = 'l'; w[3] = 'd';
        }
    }
}

/* Normal exit (the library destructor, _exit): every buffer out, then the end block. */
void ptr_finish_process(void)
{
    if (ptr_proc.fd < 0 || ptr_proc.finished || ptr_getpid() != ptr_proc.pid) {
        return; /* nothing recorded, already done, or a vfork child sharing our memory */
    }
    struct ptr_thread *t = &ptr_self;
    /* The thread that ends the process gets no exit marker (the end block ends it): exit handlers
       that run after this destructor still free in its name. */
    ptr_thread_finish(t, 0);
    ptr_registry_flush_others(t);
    ptr_reap_zombies(0, 1);
    ptr_write_end_block();
}

static void after_fork_child(void)
{
    struct ptr_thread *t = &ptr_self;
    /* Still the parent's memory: its trace, and how far the forking thread had written into it. */
    ptr_proc.origin = PTR_ORIGIN_FORK;
    copy_str(ptr_proc.parent_path, sizeof ptr_proc.parent_path, ptr_proc.fd >= 0 ? ptr_proc.path : "");
    ptr_proc.fork_tid = t->state == TS_ACTIVE ? t->tid : 0;
    ptr_proc.fork_seq = t->state == TS_ACTIVE ? t->flushed + t->count : 0;
    if (ptr_proc.fd >= 0) {
        ptr_close(ptr_proc.fd);
        ptr_proc.fd = -1;
    }
    ptr_proc.pid = ptr_getpid();
    if (!ptr_proc.follow) {
        ptr_set_state(t, TS_INERT);
        return;
    }
    ptr_clock_start(); /* the TSC factor stays the parent's */
    ptr_proc.multithreaded = 0; /* the forking thread is the child's only one */
    if (ptr_open_trace(0) != 0) {
        ptr_set_state(t, TS_INERT);
        return;
    }
    ptr_registry_after_fork_child(t);
    ptr_stacks_after_fork_child();
    ptr_record_marker(t, K_THREAD_START, t->tid);
    ptr_flush(t); /* as at any thread's start (thread_buffer.c) */
}

__attribute__((constructor)) static void ptr_constructor(void)
{
    ptr_process_init_once();
    ptr_thread_key_init();
    /* Child handlers run in registration order: ours, registered this early, runs before the program's. */
    pthread_atfork(NULL, NULL, after_fork_child);
    ptr_signals_install();
    mark_environment_child();
    ptr_stacks_load(); /* PTRECORD_STACKS only: the unwinder, its calls recorded */
    ptr_note_own_malloc();
}

__attribute__((destructor)) static void ptr_destructor(void)
{
    ptr_finish_process();
}

/* ---- fork, posix_spawn: a marker in the parent (Size = the child's pid) ---- */

static void *next_symbol(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}
#define REAL(type, name) ((type)next_symbol(&real_##name, #name))

static void *real_fork, *real__Fork, *real_posix_spawn, *real_posix_spawnp, *real_execve, *real_execv, *real_execvp,
    *real_execvpe, *real_fexecve, *real__exit, *real__Exit;

static void fork_marker(int pid)
{
    if (pid > 0 && ptr_self.state == TS_ACTIVE) {
        ptr_record_marker_guarded(&ptr_self, K_FORK, (uint64_t)pid);
    }
}

/*
 * Before a fork: a thread that has not allocated yet starts recording now (thread-start marker), so
 * the fork marker has a thread to go in and the child knows the fork's position in the parent's trace.
 */
static void before_fork(void)
{
    if (ptr_self.state == TS_UNINIT) {
        int saved = errno;
        ptr_thread_start(&ptr_self);
        errno = saved;
    }
}

static void after_fork_parent(pid_t pid)
{
    if (pid > 0) {
        int saved = errno;
        fork_marker(pid);
        errno = saved;
    }
}

PTR_API pid_t fork(void)
{
    before_fork();
    pid_t pid = REAL(pid_t(*)(void), fork)();
    after_fork_parent(pid);
    return pid;
}

/* _Fork (glibc 2.34): a fork without atfork handlers, so the child's part is called here. */
PTR_API pid_t _Fork(void)
{
    before_fork();
    pid_t pid = REAL(pid_t(*)(void), _Fork)();
    if (pid == 0) {
        int saved = errno;
        after_fork_child();
        errno = saved;
    }
    after_fork_parent(pid);
    return pid;
}

/*
 * vfork: the child borrows the parent's memory and stack until it execs or exits, so vfork cannot be
 * wrapped by a C function (the child would return through the wrapper's frame, and the parent after it).
 * This one does what glibc's does: the return address goes to a register (the child may overwrite the
 * stack slot), then the raw vfork system call. The child returns at once; its exec'd image links itself
 * to the parent (ptr_find_exec_parent). The parent, resumed once the child has exec'd or exited,
 * writes the fork marker, as for fork. x86-64 only; elsewhere glibc's vfork runs unrecorded.
 */
#if defined(__x86_64__)
__attribute__((visibility("hidden"), used)) void ptr_vfork_before(void)
{
    before_fork();
}

__attribute__((visibility("hidden"), used)) void ptr_vfork_parent(int pid)
{
    after_fork_parent(pid);
}

__attribute__((visibility("hidden"), used)) long ptr_vfork_failed(long negative_errno)
{
    errno = (int)-negative_errno;
    return -1;
}

__asm__(
    ".text\n"
    ".globl vfork\n"
    ".type vfork, @function\n"
    "vfork:\n"
    "    .cfi_startproc\n"
    "    endbr64\n"
    "    sub $8, %rsp\n"                       /* 16-byte alignment for the call */
    "    .cfi_adjust_cfa_offset 8\n"
    "    call ptr_vfork_before\n"
    "    add $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    pop %rdi\n"                          /* the return address, kept in a register */
    "    .cfi_adjust_cfa_offset -8\n"
    "    .cfi_register %rip, %rdi\n"
    "    mov $" PTR_STR(SYS_vfork) ", %eax\n"
    "    syscall\n"
    "    push %rdi\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    .cfi_rel_offset %rip, 0\n"
    "    test %rax, %rax\n"
    "    jz 2f\n"                             /* the child: return 0 at once */
    "    js 1f\n"
    "    push %rax\n"                         /* the parent: fork marker, then return the pid */
    "    .cfi_adjust_cfa_offset 8\n"
    "    mov %eax, %edi\n"
    "    call ptr_vfork_parent\n"
    "    pop %rax\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    ret\n"
    "1:  mov %rax, %rdi\n"                    /* failed: errno, -1 */
    "    sub $8, %rsp\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    call ptr_vfork_failed\n"
    "    add $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "2:  ret\n"
    "    .cfi_endproc\n"
    ".size vfork, .-vfork\n");
#endif

/* posix_spawn/posix_spawnp succeeded or not: on success mark the fork and hand the child's pid back. */
static int after_spawn(int rc, pid_t child, pid_t *pid)
{
    if (rc == 0) {
        fork_marker(child);
        if (pid) {
            *pid = child;
        }
    }
    return rc;
}

PTR_API int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    pid_t child = 0;
    int rc = REAL(int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                          char *const[], char *const[]), posix_spawn)(&child, path, actions, attr, argv, envp);
    if (rc == 0) {
        ptr_note_unrecorded_exec(path, 0, argv, envp, child);
    }
    return after_spawn(rc, child, pid);
}

PTR_API int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                         const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    pid_t child = 0;
    int rc = REAL(int (*)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                          char *const[], char *const[]), posix_spawnp)(&child, file, actions, attr, argv, envp);
    if (rc == 0) {
        ptr_note_unrecorded_exec(file, 1, argv, envp, child);
    }
    return after_spawn(rc, child, pid);
}

/* ---- exec: marker, flush, end block; if exec fails the process goes on in a new trace file ---- */

/*
 * Before exec: the events so far, then the exec marker in a block of its own and the end block, so
 * that an exec that fails (a shell trying each PATH directory) can cut both off again and the process
 * goes on in the same file as if it had not tried.
 */
static uint64_t flushed_before_exec;

static int before_exec(void)
{
    if (ptr_proc.fd < 0 || ptr_proc.finished || ptr_getpid() != ptr_proc.pid) {
        return 0; /* not recording, or a vfork child (it shares our memory and buffers) */
    }
    struct ptr_thread *t = &ptr_self;
    /* Under the append guard (ptrecord.h), so that a handler's calls while the block is written wait in the side
       buffer; an exec made by a handler that interrupted an append (the guard is taken) writes what is committed. */
    int took = __atomic_load_n(&t->appending, __ATOMIC_RELAXED) == 0;
    if (took) {
        ptr_guard_set(t);
    }
    ptr_flush(t);
    long size = ptr_sys3(SYS_lseek, ptr_proc.fd, 0, SEEK_END);
    ptr_proc.exec_offset = size > 0 ? (uint64_t)size : 0;
    flushed_before_exec = t->flushed;
    ptr_record_marker(t, K_EXEC, 0);
    ptr_flush(t);
    ptr_write_end_block();
    if (took) {
        ptr_guard_clear(t);
    }
    return 1;
}

static void after_failed_exec(int marked)
{
    if (!marked) {
        return;
    }
    int saved = errno;
    if (ptr_truncate_to(ptr_proc.exec_offset) == 0) {
        ptr_self.flushed = flushed_before_exec;
    }
    /* Otherwise the exec marker stays and later blocks go after the end block (ptr_write_block). */
    errno = saved;
}

PTR_API int execve(const char *path, char *const argv[], char *const envp[])
{
    ptr_note_unrecorded_exec(path, 0, argv, envp, 0);
    int marked = before_exec();
    int rc = REAL(int (*)(const char *, char *const[], char *const[]), execve)(path, argv, envp);
    after_failed_exec(marked);
    return rc;
}

PTR_API int execv(const char *path, char *const argv[])
{
    ptr_note_unrecorded_exec(path, 0, argv, NULL, 0);
    int marked = before_exec();
    int rc = REAL(int (*)(const char *, char *const[]), execv)(path, argv);
    after_failed_exec(marked);
    return rc;
}

PTR_API int execvp(const char *file, char *const argv[])
{
    ptr_note_unrecorded_exec(file, 1, argv, NULL, 0);
    int marked = before_exec();
    int rc = REAL(int (*)(const char *, char *const[]), execvp)(file, argv);
    after_failed_exec(marked);
    return rc;
}

PTR_API int execvpe(const char *file, char *const argv[], char *const envp[])
{
    ptr_note_unrecorded_exec(file, 1, argv, envp, 0);
    int marked = before_exec();
    int rc = REAL(int (*)(const char *, char *const[], char *const[]), execvpe)(file, argv, envp);
    after_failed_exec(marked);
    return rc;
}

PTR_API int fexecve(int fd, char *const argv[], char *const envp[])
{
    int marked = before_exec();
    int rc = REAL(int (*)(int, char *const[], char *const[]), fexecve)(fd, argv, envp);
    after_failed_exec(marked);
    return rc;
}

/* execl, execlp, execle: collect the variadic arguments on the stack, then the v-forms above. */
#define COLLECT_ARGS(first, ap, argv)                                   \
    size_t n_ = 1;                                                      \
    va_list count_;                                                     \
    va_copy(count_, ap);                                                \
    while (va_arg(count_, char *) != NULL) {                            \
        n_++;                                                           \
    }                                                                   \
    va_end(count_);                                                     \
    char *argv[n_ + 1];                                                 \
    argv[0] = (char *)(first);                                          \
    for (size_t i_ = 1; i_ <= n_; i_++) {                               \
        argv[i_] = i_ < n_ ? va_arg(ap, char *) : NULL;                 \
    }

PTR_API int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return execv(path, argv);
}

PTR_API int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    va_end(ap);
    return execvp(file, argv);
}

PTR_API int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT_ARGS(arg, ap, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

/* ---- _exit, _Exit: a process exit too (fork children often end this way) ---- */

PTR_API void _exit(int status)
{
    ptr_finish_process();
    REAL(void (*)(int), _exit)(status);
    __builtin_unreachable();
}

PTR_API void _Exit(int status)
{
    ptr_finish_process();
    REAL(void (*)(int), _Exit)(status);
    __builtin_unreachable();
}
