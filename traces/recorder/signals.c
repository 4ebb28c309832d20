/*
 * Fatal signals: SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT.
 *
 * For each one whose disposition is the default at start, the recorder installs a handler that
 * writes the interrupted thread's committed events (async-signal-safe: raw write(2), no locks),
 * restores the default disposition and raises the signal again, so the process dies as it would
 * have. The program never sees this handler: sigaction() and signal() report SIG_DFL for it, and
 * the moment the program installs its own handler, the recorder's is gone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include "ptrecord.h"
#include "sys.h"

static const int fatal_signals[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT };
static volatile int ours[65]; /* 1 while the recorder's handler is installed for that signal */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
static sigaction_fn real_sigaction;
static signal_fn real_signal;

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
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    get_real_sigaction()(sig, &dfl, NULL);
    ours[sig] = 0;
    /* Pending until this handler returns (the signal is blocked meanwhile); a fault re-triggers anyway. */
    ptr_tgkill(ptr_getpid(), ptr_gettid(), sig);
}

void ptr_signals_install(void)
{
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
    sigaction_fn real = get_real_sigaction();
    if (sig <= 0 || sig >= 65 || !ours[sig]) {
        return real(sig, act, old);
    }
    int rc = real(sig, act, old);
    if (rc == 0) {
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

PTR_API sighandler_t signal(int sig, sighandler_t handler)
{
    if (real_signal == NULL) {
        real_signal = (signal_fn)dlsym(RTLD_NEXT, "signal");
    }
    int was_ours = sig > 0 && sig < 65 && ours[sig];
    sighandler_t old = real_signal(sig, handler);
    if (was_ours && old != SIG_ERR) {
        ours[sig] = 0;
        return SIG_DFL;
    }
    return old;
}
