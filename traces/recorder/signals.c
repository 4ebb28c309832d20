/*
 * Signals: the program's own handlers, and the fatal-signal flush.
 *
 * Signal handlers. A handler may call malloc and free (glibc does not forbid it in practice), and it may
 * interrupt the recorder while this thread's recorder is in the middle of appending an event. So every
 * handler the program installs (sigaction, signal, sigset, bsd_signal, sysv_signal) is installed behind
 * a trampoline that looks at where the thread was interrupted: inside the recorder's own code, or while
 * the thread's recorder is busy (setting up, writing a block), the handler's calls go to the thread's side
 * buffer (thread_buffer.c), and the next call outside the handler appends them to the block, after the
 * interrupted event. Anywhere else (the program, glibc's malloc itself) the handler records as usual.
 * The hot path is unchanged: the trampoline closes the thread's gates, so the next call takes the slow
 * path. The program sees its own handler, flags and mask in sigaction()'s old action; the kernel sees
 * SA_SIGINFO added so the trampoline gets the interrupted context.
 *
 * syscall(SYS_rt_sigaction, ...) (x86-64): libc's syscall() is interposed too, for this one call only. It
 * takes the kernel's layout (handler, flags, restorer, an 8-byte mask) and goes behind the same trampoline,
 * installed with the raw system call and the program's own restorer, flags and mask, so the kernel holds
 * what it would hold unrecorded but for the handler (and SA_SIGINFO); the old action the program reads
 * back, through either call, is its own. Every other syscall() goes straight to the kernel, as glibc's does.
 * A handler installed with an rt_sigaction system call that bypasses libc (inline assembly) is not seen:
 * the append guard (ptrecord.h) keeps its calls from corrupting an interrupted event instead.
 *
 * Fatal signals: SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT.
 * For each one whose disposition is the default at start, the recorder installs a handler that
 * writes the interrupted thread's committed events (async-signal-safe: raw write(2), no locks) and,
 * for the signals sent from outside (SIGTERM, SIGINT, SIGHUP, SIGQUIT), the other threads' too,
 * restores the default disposition and raises the signal again, so the process dies as it would
 * have. The program never sees this handler: sigaction() and signal() report SIG_DFL for it, and
 * the moment the program installs its own handler, the recorder's is gone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <ucontext.h>
#include "ptrecord.h"
#include "sys.h"

static const int fatal_signals[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
static volatile int ours[65]; /* 1 while the recorder's handler is installed for that signal */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
static sigaction_fn real_sigaction;
static signal_fn real_signal, real_sigset, real_bsd_signal, real_sysv_signal;

/* The program's own action for each signal whose handler runs behind the trampoline. */
static struct sigaction program_action[65];

/* struct sigaction as the rt_sigaction system call takes it (x86-64 and arm64 share this layout). */
struct kernel_action {
    uintptr_t handler;
    unsigned long flags;
    uintptr_t restorer;
    uint64_t mask;
};
#define KERNEL_MASK_BYTES 8
/* The same actions as the kernel would report them unrecorded (the system call's old action). */
static struct kernel_action program_kernel_action[65];

static long raw_rt_sigaction(int sig, const struct kernel_action *act, struct kernel_action *old)
{
    return ptr_sys6(SYS_rt_sigaction, sig, (long)act, (long)old, KERNEL_MASK_BYTES, 0, 0);
}
/* The recorder's executable code, [text_lo, text_hi): found once, before the first trampoline is installed. */
static uintptr_t text_lo, text_hi;

static sigaction_fn get_real_sigaction(void)
{
    if (real_sigaction == NULL) {
        real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    }
    return real_sigaction;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    ptr_flush_from_signal(&ptr_self);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT) {
        ptr_registry_flush_others(&ptr_self); /* the process ends here: what the other threads hold too */
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    get_real_sigaction()(sig, &dfl, NULL);
    ours[sig] = 0;
    /* Pending until this handler returns (the signal is blocked meanwhile); a fault re-triggers anyway. */
    ptr_tgkill(ptr_getpid(), ptr_gettid(), sig);
}

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t self = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) {
            continue;
        }
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (self >= lo && self < hi) {
            text_lo = lo;
            __atomic_store_n(&text_hi, hi, __ATOMIC_RELEASE);
            return 1;
        }
    }
    return 0;
}

/* Not signal-safe (dl_iterate_phdr locks): runs at start and before a trampoline is installed. */
void ptr_find_recorder_text(void)
{
    if (__atomic_load_n(&text_hi, __ATOMIC_ACQUIRE) == 0) {
        dl_iterate_phdr(find_text, (void *)(uintptr_t)&ptr_pc_in_recorder);
    }
}

int ptr_pc_in_recorder(uintptr_t pc)
{
    uintptr_t hi = __atomic_load_n(&text_hi, __ATOMIC_ACQUIRE);
    return hi == 0 || (pc >= text_lo && pc < hi); /* unknown range: assume the worst */
}

/* Where the signal interrupted the thread; 0 when this architecture's context is not known here. */
static uintptr_t interrupted_pc(void *context)
{
    const ucontext_t *uc = context;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* The signal interrupted this thread's recorder: it is busy, or was running its own code. */
static int interrupted_recorder(const struct ptr_thread *t, void *context)
{
    if (t->state == TS_BUSY) {
        return 1;
    }
    if (t->state != TS_ACTIVE) {
        return 0; /* not recording, or exited: late events go out as blocks of their own */
    }
    uintptr_t pc = interrupted_pc(context);
    return t->flushing || pc == 0 || ptr_pc_in_recorder(pc);
}

static void trampoline(int sig, siginfo_t *info, void *context)
{
    struct ptr_thread *t = &ptr_self;
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    uintptr_t side = __atomic_load_n(&t->side_frame, __ATOMIC_RELAXED);
    if (side != 0 && frame >= side) {
        side = 0; /* left by longjmp earlier: that handler is over */
        __atomic_store_n(&t->side_frame, 0, __ATOMIC_RELAXED);
    }
    int owner = 0;
    if (side == 0 && interrupted_recorder(t, context)) {
        owner = 1;
        __atomic_store_n(&t->side_frame, frame, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        t->clock_limit = NULL;
        __atomic_store_n(&t->fast_limit, (uint8_t *)0, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
    /* The outermost handler marks the thread (stacks.c unwinds inside handlers with the signal-safe unwinder only);
       a mark above this frame was left by a handler that longjmp'ed out. */
    uintptr_t outer = __atomic_load_n(&t->handler_frame, __ATOMIC_RELAXED);
    int marks = outer == 0 || frame >= outer;
    if (marks) {
        __atomic_store_n(&t->handler_frame, frame, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
    struct sigaction act = program_action[sig];
    if (act.sa_flags & SA_SIGINFO) {
        act.sa_sigaction(sig, info, context);
    } else if (act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN) {
        act.sa_handler(sig);
    }
    if (marks) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&t->handler_frame, 0, __ATOMIC_RELAXED);
    }
    if (owner) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&t->side_frame, 0, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&t->side_count, __ATOMIC_RELAXED) == 0) {
            ptr_update_gate(t); /* nothing to append: reopen (the interrupted code ends with its own update if it was changing them) */
        }
    }
}

static int is_handler(const struct sigaction *act)
{
    return (act->sa_flags & SA_SIGINFO) ? act->sa_sigaction != NULL
                                        : act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN && act->sa_handler != SIG_ERR;
}

/*
 * After the trampoline is installed for sig: the kernel's view of the action, with the program's handler and
 * SA_SIGINFO (`siginfo`) in place of the trampoline's, is what the system call reports to the program.
 */
static void remember_kernel_view(int sig, uintptr_t handler, unsigned long siginfo)
{
    struct kernel_action now;
    if (raw_rt_sigaction(sig, NULL, &now) == 0) {
        now.handler = handler;
        now.flags = (now.flags & ~(unsigned long)SA_SIGINFO) | siginfo;
        program_kernel_action[sig] = now;
    }
}

/*
 * Installs act (the program's) for sig: a real handler behind the trampoline, anything else as is.
 * old (may be NULL) gets the previous action as the program set it.
 */
static int install(int sig, const struct sigaction *act, struct sigaction *old)
{
    sigaction_fn real = get_real_sigaction();
    struct sigaction previous_program = program_action[sig];
    struct sigaction kernel_old;
    int rc;
    if (act != NULL && is_handler(act) && sig != SIGKILL && sig != SIGSTOP) {
        ptr_find_recorder_text();
        struct sigaction wrapped = *act;
        wrapped.sa_flags |= SA_SIGINFO;
        wrapped.sa_sigaction = trampoline;
        program_action[sig] = *act;
        rc = real(sig, &wrapped, &kernel_old);
        struct sigaction now;
        if (rc != 0) {
            program_action[sig] = previous_program;
        } else if (real(sig, NULL, &now) == 0) {
            /* What the kernel keeps (glibc adds SA_RESTORER and its restorer, the kernel drops SIGKILL/SIGSTOP
               from the mask), as an unrecorded program would read it back, with the program's SA_SIGINFO. */
            program_action[sig].sa_flags = (now.sa_flags & ~SA_SIGINFO) | (act->sa_flags & SA_SIGINFO);
            program_action[sig].sa_mask = now.sa_mask;
            program_action[sig].sa_restorer = now.sa_restorer;
            remember_kernel_view(sig, (uintptr_t)act->sa_handler, (unsigned long)(act->sa_flags & SA_SIGINFO));
        }
    } else {
        rc = real(sig, act, &kernel_old);
    }
    if (rc == 0 && old != NULL) {
        *old = ((kernel_old.sa_flags & SA_SIGINFO) && kernel_old.sa_sigaction == trampoline) ? previous_program : kernel_old;
    }
    return rc;
}

/* After glibc's signal(), sigset(), ...: the handler just installed goes behind the trampoline too. */
static sighandler_t wrap_installed(int sig, sighandler_t previous)
{
    if (previous == SIG_ERR || sig <= 0 || sig >= 65) {
        return previous;
    }
    struct sigaction now;
    if (get_real_sigaction()(sig, NULL, &now) == 0 && is_handler(&now) &&
        !((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == trampoline)) {
        struct sigaction prev_program = program_action[sig];
        install(sig, &now, NULL);
        if (previous == (sighandler_t)(void *)trampoline) {
            previous = prev_program.sa_handler; /* what the program had set (sa_handler/sa_sigaction share storage) */
        }
    } else if (previous == (sighandler_t)(void *)trampoline) {
        previous = program_action[sig].sa_handler;
    }
    return previous;
}

void ptr_signals_install(void)
{
    ptr_find_recorder_text();
    if (ptr_proc.fd < 0 || get_real_sigaction() == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        int sig = fatal_signals[i];
        struct sigaction old;
        if (real_sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
            continue;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (real_sigaction(sig, &sa, NULL) == 0) {
            ours[sig] = 1;
        }
    }
}

PTR_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= 65) {
        return get_real_sigaction()(sig, act, old);
    }
    int was_ours = ours[sig];
    int rc = install(sig, act, old);
    if (rc == 0 && was_ours) {
        if (old != NULL) {
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
        }
        if (act != NULL) {
            ours[sig] = 0;
        }
    }
    return rc;
}

static signal_fn next_signal_fn(signal_fn *slot, const char *name)
{
    signal_fn f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        f = (signal_fn)dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* glibc's signal-style calls set the action themselves (their own flags and mask); then it is wrapped. */
static sighandler_t signal_style(signal_fn *slot, const char *name, int sig, sighandler_t handler)
{
    int was_ours = sig > 0 && sig < 65 && ours[sig];
    sighandler_t old = wrap_installed(sig, next_signal_fn(slot, name)(sig, handler));
    if (was_ours && old != SIG_ERR) {
        ours[sig] = 0;
        return SIG_DFL;
    }
    return old;
}

PTR_API sighandler_t signal(int sig, sighandler_t handler)
{
    return signal_style(&real_signal, "signal", sig, handler);
}

PTR_API sighandler_t bsd_signal(int sig, sighandler_t handler)
{
    return signal_style(&real_bsd_signal, "bsd_signal", sig, handler);
}

PTR_API sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return signal_style(&real_sysv_signal, "sysv_signal", sig, handler);
}

PTR_API sighandler_t sigset(int sig, sighandler_t handler)
{
    return signal_style(&real_sigset, "sigset", sig, handler);
}

#if defined(__x86_64__)
static int kernel_is_handler(const struct kernel_action *k)
{
    return k->handler != (uintptr_t)SIG_DFL && k->handler != (uintptr_t)SIG_IGN;
}

/* struct sigaction for the trampoline: the program's kernel action k as glibc's sigaction() would read it. */
static void to_sigaction(const struct kernel_action *k, struct sigaction *a)
{
    memset(a, 0, sizeof *a);
    a->sa_handler = (sighandler_t)k->handler;
    a->sa_flags = (int)k->flags;
    a->sa_restorer = (void (*)(void))k->restorer;
    memcpy(&a->sa_mask, &k->mask, KERNEL_MASK_BYTES);
}

/*
 * syscall(SYS_rt_sigaction, sig, act, old, size): the program's handler behind the trampoline, installed with
 * the system call itself and the program's flags, restorer and mask; returns the system call's result
 * (-errno on failure). The program's pointers are handed to the kernel before the recorder touches them, so
 * a bad one fails with EFAULT as unrecorded (and every other check is the kernel's own): the program's action
 * goes in first as given (for that moment the handler runs unwrapped, where the append guard covers it), then
 * the trampoline replaces it; the old action is written by the kernel, then replaced by the program's view.
 */
static long rt_sigaction_call(long sig_arg, long act_arg, long old_arg, long size)
{
    const struct kernel_action *act = (const struct kernel_action *)act_arg;
    struct kernel_action *old = (struct kernel_action *)old_arg;
    int sig = (int)sig_arg;
    if (size != KERNEL_MASK_BYTES || sig <= 0 || sig >= 65 || sig_arg != sig) {
        return ptr_sys6(SYS_rt_sigaction, sig_arg, act_arg, old_arg, size, 0, 0);
    }
    struct kernel_action previous_kernel = program_kernel_action[sig];
    int was_ours = ours[sig];
    struct kernel_action kernel_old;
    long rc = raw_rt_sigaction(sig, act, &kernel_old);
    if (rc != 0) {
        return rc;
    }
    if (act != NULL) {
        struct kernel_action wanted = *act; /* readable: the kernel just read it */
        if (kernel_is_handler(&wanted) && sig != SIGKILL && sig != SIGSTOP) {
            ptr_find_recorder_text();
            struct kernel_action wrapped = wanted;
            wrapped.handler = (uintptr_t)trampoline;
            wrapped.flags |= SA_SIGINFO;
            struct sigaction program;
            to_sigaction(&wanted, &program);
            program_action[sig] = program;
            if (raw_rt_sigaction(sig, &wrapped, NULL) == 0) {
                remember_kernel_view(sig, wanted.handler, wanted.flags & SA_SIGINFO);
                program_action[sig].sa_flags = (int)program_kernel_action[sig].flags;
                memcpy(&program_action[sig].sa_mask, &program_kernel_action[sig].mask, KERNEL_MASK_BYTES);
            }
        }
        if (was_ours) {
            ours[sig] = 0; /* the recorder's fatal-signal handler is gone, as with sigaction() */
        }
    }
    if (old != NULL) {
        rc = raw_rt_sigaction(sig, NULL, old); /* the kernel's check of the pointer (EFAULT) */
        if (rc != 0) {
            return rc;
        }
        if (was_ours) {
            memset(&kernel_old, 0, sizeof kernel_old); /* SIG_DFL, as the program never saw the recorder's */
        } else if (kernel_old.handler == (uintptr_t)trampoline) {
            kernel_old = previous_kernel;
        }
        *old = kernel_old;
    }
    return 0;
}

/*
 * libc's syscall(), for SYS_rt_sigaction (above); every other number goes to the kernel as glibc's own does:
 * the arguments in the same registers, -1 and errno for a result in [-4095, -1].
 */
PTR_API long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    long r = PTR_UNLIKELY(number == SYS_rt_sigaction) ? rt_sigaction_call(a, b, c, d) : ptr_sys6(number, a, b, c, d, e, f);
    if ((unsigned long)r > -4096UL) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
#endif
