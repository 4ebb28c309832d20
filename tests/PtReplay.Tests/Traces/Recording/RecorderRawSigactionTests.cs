using System.Globalization;
using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// Signal handlers the recorder's sigaction() never sees: installed with syscall(SYS_rt_sigaction) (which the recorder
/// interposes) or with the system call in inline assembly (which nothing can interpose: the append guard keeps the
/// trace whole). The handler mallocs and frees while a timer interrupts the main loop's malloc/free, often in the
/// middle of the recorder's append; and a handler making thousands of calls while the append it interrupted waits.
/// The program counts its own calls; the trace must hold exactly those, read without corruption or loss, and
/// replay to identical addresses; what the program sees (its output, the old action the system call reports, its
/// exit code) is what it sees unrecorded.
/// </summary>
public class RecorderRawSigactionTests
{
    private const ulong MainSize = 328;
    private const ulong HandlerSize = 184;

    /// <summary>
    /// Arguments: rounds of the main loop, how the SIGALRM handler is installed (sigaction: glibc's sigaction();
    /// syscall: syscall(SYS_rt_sigaction); asm: the system call in inline assembly, with the program's own restorer),
    /// the calls the handler makes each time (half mallocs, all held, then as many frees), the signal's interval in us,
    /// and where the signal comes from: "timer" (setitimer) or "thread" (a second thread sending it with tgkill). Prints "main M F handler M F firings N" (its own counts) and an "action" line: the system call's and
    /// sigaction()'s view of the installed action (handler, flags, restorer, mask), and calls with a bad size (EINVAL) and
    /// bad pointers (EFAULT).
    /// </summary>
    private const string Program = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <pthread.h>
        #include <signal.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/syscall.h>
        #include <sys/time.h>
        #include <unistd.h>

        #define MAIN_SIZE 328
        #define HANDLER_SIZE 184
        struct kernel_action { void (*handler)(int); unsigned long flags; void (*restorer)(void); uint64_t mask; };
        static volatile unsigned long handler_mallocs, handler_frees, main_mallocs, main_frees, firings;
        static long calls, interval;
        static void **held;
        static volatile int stop;
        static pid_t main_tid;

        /* The other signal source: a thread (which allocates once, so the process records as multi-threaded) sending SIGALRM. */
        static void *sender(void *arg) {
            (void)arg;
            free(malloc(40));
            while (!stop) {
                syscall(SYS_tgkill, getpid(), main_tid, SIGALRM);
                usleep((useconds_t)interval);
            }
            return NULL;
        }

        void restore_rt(void);
        __asm__(".text\n.globl restore_rt\n.type restore_rt,@function\nrestore_rt:\n\tmov $15, %eax\n\tsyscall\n\thlt\n");

        static long asm_sigaction(int sig, const struct kernel_action *act, struct kernel_action *old) {
            long ret;
            register long r10 __asm__("r10") = 8;
            __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_rt_sigaction), "D"((long)sig), "S"(act), "d"(old), "r"(r10)
                             : "rcx", "r11", "memory");
            return ret;
        }

        static void on_alarm(int sig) {
            (void)sig;
            long n = calls / 2;
            for (long i = 0; i < n; i++) {
                held[i] = malloc(HANDLER_SIZE);
                *(volatile char *)held[i] = 1;
                __atomic_fetch_add(&handler_mallocs, 1, __ATOMIC_RELAXED);
            }
            for (long i = 0; i < n; i++) {
                free(held[i]);
                __atomic_fetch_add(&handler_frees, 1, __ATOMIC_RELAXED);
            }
            __atomic_fetch_add(&firings, 1, __ATOMIC_RELAXED);
        }

        int main(int argc, char **argv) {
            long rounds = atol(argv[1]);
            const char *how = argv[2];
            calls = atol(argv[3]);
            interval = atol(argv[4]);
            int from_thread = argc > 5 && !strcmp(argv[5], "thread");
            main_tid = (pid_t)syscall(SYS_gettid);
            held = malloc(sizeof(void *) * (size_t)(calls / 2 + 1));
            free(malloc(HANDLER_SIZE)); handler_mallocs++; handler_frees++;
            free(malloc(MAIN_SIZE)); main_mallocs++; main_frees++;
            struct kernel_action act, old, now;
            memset(&act, 0, sizeof act);
            memset(&old, 0, sizeof old);
            act.handler = on_alarm;
            act.flags = SA_RESTART | 0x04000000 /* SA_RESTORER */;
            act.restorer = restore_rt;
            act.mask = (1ull << (SIGUSR2 - 1)) | (1ull << (SIGKILL - 1));
            long rc;
            if (!strcmp(how, "sigaction")) {
                struct sigaction sa;
                memset(&sa, 0, sizeof sa);
                sa.sa_handler = on_alarm;
                sa.sa_flags = SA_RESTART;
                sigaddset(&sa.sa_mask, SIGUSR2);
                rc = sigaction(SIGALRM, &sa, NULL);
            } else if (!strcmp(how, "asm")) {
                rc = asm_sigaction(SIGALRM, &act, &old);
            } else {
                rc = syscall(SYS_rt_sigaction, SIGALRM, &act, &old, 8);
            }
            long rc2 = syscall(SYS_rt_sigaction, SIGALRM, NULL, &now, 8);
            struct sigaction seen;
            sigaction(SIGALRM, NULL, &seen);
            long bad = syscall(SYS_rt_sigaction, SIGALRM, &act, NULL, 7);
            int bad_errno = errno;
            long fault = syscall(SYS_rt_sigaction, SIGUSR1, (void *)16, NULL, 8);
            int fault_errno = errno;
            long fault_old = syscall(SYS_rt_sigaction, SIGUSR1, NULL, (void *)16, 8);
            int fault_old_errno = errno;
            struct itimerval it = { { 0, interval }, { 0, interval } };
            pthread_t t;
            if (from_thread) pthread_create(&t, NULL, sender, NULL); else setitimer(ITIMER_REAL, &it, NULL);
            for (long i = 0; i < rounds; i++) {
                void *p = malloc(MAIN_SIZE); main_mallocs++;
                *(volatile char *)p = 1;
                free(p); main_frees++;
            }
            struct itimerval off = { { 0, 0 }, { 0, 0 } };
            if (from_thread) { stop = 1; pthread_join(t, NULL); } else setitimer(ITIMER_REAL, &off, NULL);
            free(held);
            char line[400];
            int n = snprintf(line, sizeof line, "main %lu %lu handler %lu %lu firings %lu\n"
                             "action %ld %ld old %d %lx %d %llx now %d %lx %d %llx sigaction %d %x %d %d %d bad %ld %d %ld %d %ld %d\n",
                             main_mallocs, main_frees, handler_mallocs, handler_frees, firings,
                             rc, rc2, old.handler == SIG_DFL, old.flags, old.restorer == NULL, (unsigned long long)old.mask,
                             now.handler == on_alarm, now.flags, now.restorer == restore_rt, (unsigned long long)now.mask,
                             seen.sa_handler == on_alarm, seen.sa_flags, (void *)seen.sa_restorer == (void *)restore_rt,
                             sigismember(&seen.sa_mask, SIGUSR2), sigismember(&seen.sa_mask, SIGKILL), bad, bad_errno,
                             fault, fault_errno, fault_old, fault_old_errno);
            write(1, line, (size_t)n);
            return 0;
        }
        """;

    /// <summary>
    /// A handler installed in inline assembly (SA_SIGINFO) that leaves with siglongjmp, back to the main loop, whenever
    /// the signal interrupted the code of free() (the recorder's, when preloaded: the append of free's event), and
    /// returns otherwise. Argument: rounds. Prints "main M F firings N escapes E": the mallocs that returned, the
    /// frees that returned, the handler's runs and its escapes.
    /// </summary>
    private const string EscapingProgram = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <link.h>
        #include <setjmp.h>
        #include <signal.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/syscall.h>
        #include <sys/time.h>
        #include <ucontext.h>
        #include <unistd.h>

        #define MAIN_SIZE 328
        struct kernel_action { void *handler; unsigned long flags; void (*restorer)(void); uint64_t mask; };
        static volatile unsigned long main_mallocs, main_frees, firings, escapes;
        static uintptr_t lo, hi;
        static sigjmp_buf top;

        void restore_rt(void);
        __asm__(".text\n.globl restore_rt\n.type restore_rt,@function\nrestore_rt:\n\tmov $15, %eax\n\tsyscall\n\thlt\n");

        static long asm_sigaction(int sig, const struct kernel_action *act) {
            long ret;
            register long r10 __asm__("r10") = 8;
            __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_rt_sigaction), "D"((long)sig), "S"(act), "d"(0L), "r"(r10)
                             : "rcx", "r11", "memory");
            return ret;
        }

        /* The range of the code of free() as the program calls it (the recorder's, when it is preloaded). */
        static void find_free(void) {
            Dl_info di;
            const ElfW(Sym) *sym = NULL;
            void *f = dlsym(RTLD_DEFAULT, "free");
            if (dladdr1(f, &di, (void **)&sym, RTLD_DL_SYMENT) && sym != NULL && di.dli_fname && strstr(di.dli_fname, "libptrecord")) {
                lo = (uintptr_t)f;
                hi = lo + sym->st_size;
            }
        }

        static void on_alarm(int sig, siginfo_t *info, void *context) {
            (void)sig; (void)info;
            uintptr_t pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
            firings++;
            if (pc >= lo && pc < hi) {
                escapes++;
                siglongjmp(top, 1);
            }
        }

        int main(int argc, char **argv) {
            long rounds = atol(argv[1]);
            find_free();
            struct kernel_action act;
            memset(&act, 0, sizeof act);
            act.handler = (void *)on_alarm;
            act.flags = SA_SIGINFO | SA_RESTART | 0x04000000;
            act.restorer = restore_rt;
            asm_sigaction(SIGALRM, &act);
            struct itimerval it = { { 0, 50 }, { 0, 50 } };
            setitimer(ITIMER_REAL, &it, NULL);
            static volatile long i;
            sigsetjmp(top, 1);
            for (; i < rounds; i++) {
                void *p = malloc(MAIN_SIZE); main_mallocs++;
                *(volatile char *)p = 1;
                free(p); main_frees++;
            }
            struct itimerval off = { { 0, 0 }, { 0, 0 } };
            setitimer(ITIMER_REAL, &off, NULL);
            char line[200];
            int n = snprintf(line, sizeof line, "main %lu %lu firings %lu escapes %lu\n", main_mallocs, main_frees, firings, escapes);
            write(1, line, (size_t)n);
            return 0;
        }
        """;

    /// <summary>
    /// A small handler (one malloc, one free) every 50 us: it often lands in the middle of an append. With the system
    /// call made through syscall() it runs behind the trampoline; in inline assembly it does not, and without the
    /// append guard its calls overwrite the interrupted event (the trace reads as corrupt, or events vanish).
    /// PTRECORD_CLOCK=monotonic sends every event through the out-of-line path; a second thread sending the signal,
    /// with PTRECORD_MT_CLOCK=fenced, makes every event read the clock (the clocked inline path).
    /// </summary>
    [Theory]
    [InlineData("syscall", null, "timer")]
    [InlineData("asm", null, "timer")]
    [InlineData("asm", "monotonic", "timer")]
    [InlineData("asm", null, "thread")]
    public void HandlerCalls_AreAllRecordedWhole(string how, string? clock, string source)
    {
        using var dir = new TempDir();
        (RecordingResult run, _) = RecordAndCount(dir, how, calls: 2, interval: 50, rounds: 600000, clock, source);
        using var reader = TraceReader.Open(run.TracePath);
        ParityReport report = TraceVerifier.Run(reader.Header, [.. reader.ReadAll()]);
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}" : "");
        Assert.Null(report.Abort);
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <summary>
    /// A handler making 5,000 calls each time it fires (every 2 ms, dozens of times, so many firings land while the
    /// recorder appends): every one is in the trace, none counted lost, however the handler was installed. Before the
    /// side buffer grew, a trampolined handler lost every call past the 256th of such a firing.
    /// </summary>
    [Theory]
    [InlineData("sigaction")]
    [InlineData("syscall")]
    [InlineData("asm")]
    public void ManyCallsWhileTheRecorderWaits_NoneAreLost(string how)
    {
        using var dir = new TempDir();
        (RecordingResult run, _) = RecordAndCount(dir, how, calls: 5000, interval: 2000, rounds: 2000000, clock: null, source: "timer");
        using var reader = TraceReader.Open(run.TracePath);
        ParityReport report = TraceVerifier.Run(reader.Header, [.. reader.ReadAll()]);
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}" : "");
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <summary>
    /// A handler that escapes with siglongjmp from the middle of free's append, again and again: the append guard's mark
    /// it leaves is recognised as left at the program's next call (not taken for a handler's, which would send every later
    /// call to the side buffer until its bound and lose the rest), and the block the abandoned append had half updated
    /// goes out with its whole events only (its count taken anew). Every malloc the program saw return is in the trace;
    /// the frees are those that returned plus at most the escaped ones whose event was complete before the escape.
    /// </summary>
    [Fact]
    public void HandlerEscapingFromAnAppend_LeavesTheTraceWhole()
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("escapingsigaction", EscapingProgram);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        RecordingResult run = RecordedRun.RecordOrThrow([program, "700000"], dir.File("e.trace"), env);
        long[] said = System.Text.Encoding.ASCII.GetString(run.StandardOutput).Split(' ', '\n')
            .Where(f => f.Length > 0 && char.IsDigit(f[0])).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        (long mallocs, long frees, long escapes) = (said[0], said[1], said[3]);
        Assert.True(escapes > 0, "the handler never interrupted free's append");

        using var reader = TraceReader.Open(run.TracePath);
        Assert.False(reader.IsTruncated);
        List<AllocEvent> events = reader.ReadAll().ToList(); // throws on a corrupt block
        Assert.Equal(0, reader.LostEvents);
        Assert.Equal(mallocs, events.Count(e => e.Kind == EventKind.Malloc && e.Size == MainSize));
        var live = new HashSet<ulong>();
        long recordedFrees = 0;
        foreach (AllocEvent e in events)
        {
            if (e.Kind == EventKind.Malloc && e.Size == MainSize)
            {
                live.Add(e.Result);
            }
            else if (e.Kind == EventKind.Free && live.Remove(e.Ptr))
            {
                recordedFrees++;
            }
        }

        Assert.InRange(recordedFrees, frees, frees + escapes);
    }

    /// <summary>
    /// Runs the program unrecorded and recorded; checks that it printed the same action line both times and that the
    /// trace holds exactly the calls it counted, nothing lost; returns the recorded run and the handler's firings.
    /// </summary>
    private static (RecordingResult Run, long Firings) RecordAndCount(TempDir dir, string how, int calls, int interval, int rounds,
        string? clock, string source)
    {
        string program = NativeTestBuild.Program("rawsigaction", Program);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        if (clock != null)
        {
            env["PTRECORD_CLOCK"] = clock;
        }

        if (source == "thread")
        {
            env["PTRECORD_MT_CLOCK"] = "fenced";
        }

        string[] args(int n) => [program, n.ToString(CultureInfo.InvariantCulture), how, calls.ToString(CultureInfo.InvariantCulture),
            interval.ToString(CultureInfo.InvariantCulture), source];
        RecordingResult plain = RecordedRun.Run(args(1000), null, env);
        Assert.Equal(0, plain.ExitCode);
        RecordingResult run = RecordedRun.RecordOrThrow(args(rounds), dir.File("r.trace"), env);
        string[] lines = CallsBySize.Lines(run.StandardOutput);
        string[] plainLines = CallsBySize.Lines(plain.StandardOutput);
        Assert.Equal(plainLines[1], lines[1]); // the old and current action, as the kernel and sigaction() report them unrecorded
        Assert.StartsWith("action 0 0 ", lines[1], StringComparison.Ordinal);

        long[] said = CallsBySize.NumbersIn(lines[0]);
        (long mainMallocs, long mainFrees, long handlerMallocs, long handlerFrees, long firings) = (said[0], said[1], said[2], said[3], said[4]);
        Assert.True(firings > 10, $"the timer fired only {firings} times");

        using var reader = TraceReader.Open(run.TracePath);
        Assert.False(reader.IsTruncated);
        (Dictionary<ulong, long> mallocs, Dictionary<ulong, long> frees) = CallsBySize.Count(reader);

        Assert.Equal(0, reader.LostEvents);
        Assert.Equal(TraceFormat.CurrentVersion, reader.Header.FormatVersion);
        Assert.Equal(mainMallocs, mallocs.GetValueOrDefault(MainSize));
        Assert.Equal(mainFrees, frees.GetValueOrDefault(MainSize));
        Assert.Equal(handlerMallocs, mallocs.GetValueOrDefault(HandlerSize));
        Assert.Equal(handlerFrees, frees.GetValueOrDefault(HandlerSize));
        return (run, firings);
    }
}
