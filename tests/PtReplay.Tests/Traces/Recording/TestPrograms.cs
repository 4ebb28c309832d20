namespace PtReplay.Tests.Traces.Recording;

/// <summary>C sources compiled at test time (see <see cref="NativeTestBuild"/>).</summary>
internal static class TestPrograms
{
    /// <summary>
    /// A probe whose first argument picks a scenario. It reports what it needs the test to know with
    /// write(2) only (no stdio, so its own output never touches the heap).
    /// </summary>
    public const string Probe = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <malloc.h>
        #include <signal.h>
        #include <stdint.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static void out(const char *s) { write(1, s, strlen(s)); }
        static void out_num(unsigned long v, int base) {
            char b[32]; int n = 0;
            do { int d = (int)(v % (unsigned)base); b[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10); v /= (unsigned)base; } while (v);
            char r[34]; int k = 0; if (base == 16) { r[k++] = '0'; r[k++] = 'x'; }
            while (n) r[k++] = b[--n];
            write(1, r, (size_t)k);
        }
        /* One line per call: "<kind> <size> <result>" (result in hex, 0x0 for NULL). */
        static void report(const char *kind, unsigned long size, void *result) {
            out(kind); out(" "); out_num(size, 10); out(" "); out_num((unsigned long)result, 16); out("\n");
        }

        int main(int argc, char **argv) {
            const char *mode = argc > 1 ? argv[1] : "";
            if (!strcmp(mode, "addresses")) {
                void *keep[64]; int n = 0;
                for (unsigned long s = 1; s < 5000; s = s * 3 + 7) { keep[n] = malloc(s); report("malloc", s, keep[n]); n++; }
                void *c = calloc(10, 24); report("calloc", 24, c);
                void *r = realloc(keep[1], 4000); report("realloc", 4000, r); keep[1] = r;
                void *m = memalign(256, 100); report("memalign", 100, m);
                void *a = aligned_alloc(64, 128); report("aligned_alloc", 128, a);
                void *v = valloc(300); report("valloc", 300, v);
                void *pv = pvalloc(300); report("pvalloc", 300, pv);
                void *pm = NULL; posix_memalign(&pm, 32, 72); report("posix_memalign", 72, pm);
                void *ra = reallocarray(NULL, 7, 9); report("reallocarray", 9, ra);
                void *big = malloc(300000); report("malloc", 300000, big);
                void *fail = malloc(SIZE_MAX - 4096); report("malloc", SIZE_MAX - 4096, fail);
                void *pbad = NULL; int rc = posix_memalign(&pbad, 3, 10); out("posix_memalign_bad "); out_num((unsigned long)rc, 10); out("\n");
                void *zero = realloc(malloc(40), 0); report("realloc0", 0, zero);
                free(NULL);
                for (int i = 0; i < n; i++) free(keep[i]);
                free(c); free(m); free(a); free(v); free(pv); free(pm); free(ra); free(big);
                return 0;
            }
            if (!strcmp(mode, "fork")) {
                void *a = malloc(111);
                pid_t p = fork();
                if (p == 0) { void *b = malloc(222); free(b); free(a); _exit(0); }
                out("child "); out_num((unsigned long)p, 10); out("\n");
                waitpid(p, NULL, 0);
                void *c = malloc(333); free(c); free(a);
                return 0;
            }
            if (!strcmp(mode, "exec")) {
                void *a = malloc(444); (void)a;
                execl("/bin/echo", "echo", "exec'd", (char *)NULL);
                return 1;
            }
            if (!strcmp(mode, "forkexec")) {
                void *a = malloc(555);
                pid_t p = fork();
                if (p == 0) { execl("/bin/echo", "echo", "child exec'd", (char *)NULL); _exit(1); }
                waitpid(p, NULL, 0);
                free(a);
                return 0;
            }
            if (!strcmp(mode, "forkfirst")) {
                pid_t p = fork();
                if (p == 0) { void *b = malloc(222); free(b); _exit(0); }
                out("child "); out_num((unsigned long)p, 10); out("\n");
                waitpid(p, NULL, 0);
                void *c = malloc(333); free(c);
                return 0;
            }
            if (!strcmp(mode, "vfork")) {
                void *a = malloc(666);
                pid_t p = vfork();
                if (p == 0) { execl("/bin/echo", "echo", "vforked", (char *)NULL); _exit(1); }
                int status = 0;
                waitpid(p, &status, 0);
                out("child "); out_num((unsigned long)p, 10); out(" status "); out_num((unsigned long)status, 10); out("\n");
                free(a);
                return 0;
            }
            if (!strcmp(mode, "pathwalk")) {
                void *a = malloc(777); (void)a;
                /* PATH lists directories without echo first: execvp tries each (ENOENT) before /usr/bin. */
                setenv("PATH", "/nonexistent-1:/nonexistent-2:/usr/bin", 1);
                char *args[] = { "echo", "walked", NULL };
                execvp("echo", args);
                return 1;
            }
            if (!strcmp(mode, "kill")) {
                for (int i = 0; i < 200000; i++) free(malloc((size_t)(i % 1000) + 1));
                kill(getpid(), SIGKILL);
                return 0;
            }
            if (!strcmp(mode, "abort")) {
                for (int i = 0; i < 1000; i++) free(malloc((size_t)i + 1));
                abort();
            }
            if (!strcmp(mode, "sigaction")) {
                struct sigaction sa; sigaction(SIGSEGV, NULL, &sa);
                out(sa.sa_handler == SIG_DFL ? "SIGSEGV default\n" : "SIGSEGV not default\n");
                return 0;
            }
            return 2;
        }
        """;

    /// <summary>
    /// Preloaded in both runs of the mtrace comparison. Its constructor starts glibc's mtrace (when
    /// libc_malloc_debug.so provides it). With MTRACE_MIMIC=1 (the recorded run, where the recorder's
    /// malloc comes first and malloc-debug's wrappers never run) it first makes the one allocation
    /// malloc-debug makes on its first call, malloc(0) then free, so both heaps start out the same.
    /// </summary>
    public const string MtraceStarter = """
        #include <mcheck.h>
        #include <stdlib.h>
        __attribute__((constructor)) static void start_mtrace(void)
        {
            const char *mimic = getenv("MTRACE_MIMIC");
            if (mimic != NULL && mimic[0] == '1') {
                free(malloc(0));
            }
            mtrace();
        }
        """;

    /// <summary>
    /// Calls at a chosen pace, for the recorder's clock: each argument pair is a phase.
    /// "dense N": N malloc(32)/free pairs back to back; "sparse N": N malloc(48), each after a busy wait
    /// of 5 microseconds (clock_gettime, no allocation), then their N frees back to back.
    /// </summary>
    public const string ClockPace = """
        #include <stdlib.h>
        #include <string.h>
        #include <time.h>
        static long long now_ns(void) {
            struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
            return t.tv_sec * 1000000000LL + t.tv_nsec;
        }
        static void *kept[100000];
        int main(int argc, char **argv) {
            for (int a = 1; a + 1 < argc; a += 2) {
                long n = atol(argv[a + 1]);
                if (strcmp(argv[a], "sparse") == 0) {
                    for (long i = 0; i < n && i < 100000; i++) {
                        long long until = now_ns() + 5000;
                        while (now_ns() < until) { }
                        kept[i] = malloc(48);
                    }
                    for (long i = 0; i < n && i < 100000; i++) {
                        free(kept[i]);
                    }
                } else {
                    for (long i = 0; i < n; i++) {
                        void *volatile p = malloc(32);
                        free(p);
                    }
                }
            }
            return 0;
        }
        """;

    /// <summary>
    /// A dense single-threaded phase (the recorder's clock interval is long), then a thread that allocates
    /// four blocks and hands them to main, which frees them right after joining it. Argument: rounds.
    /// </summary>
    public const string Handoff = """
        #include <pthread.h>
        #include <stdlib.h>
        static void *worker(void *arg) {
            void **out = arg;
            for (int i = 0; i < 4; i++) {
                out[i] = malloc(40 + i * 16);
            }
            return NULL;
        }
        int main(int argc, char **argv) {
            int rounds = argc > 1 ? atoi(argv[1]) : 1;
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < 20000; i++) {
                    void *volatile p = malloc(32);
                    free(p);
                }
                void *blocks[4];
                pthread_t t;
                if (pthread_create(&t, NULL, worker, blocks) != 0 || pthread_join(t, NULL) != 0) {
                    return 1;
                }
                for (int i = 0; i < 4; i++) {
                    free(blocks[i]);
                }
            }
            return 0;
        }
        """;

    /// <summary>
    /// A thread allocates in an arena of its own and keeps it while main forks; in the child a new thread
    /// allocates (glibc hands it the arena the fork left unattached) and main frees blocks from before the fork.
    /// </summary>
    public const string ThreadedFork = """
        #include <pthread.h>
        #include <stdlib.h>
        #include <sys/wait.h>
        #include <unistd.h>
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
        static int ready, done;
        static void *holder(void *arg) {
            (void)arg;
            void *keep[100];
            for (int i = 0; i < 100; i++) keep[i] = malloc(100 + i * 8);
            for (int i = 1; i < 100; i += 2) free(keep[i]);
            pthread_mutex_lock(&lock);
            ready = 1;
            pthread_cond_broadcast(&cond);
            while (!done) pthread_cond_wait(&cond, &lock);
            pthread_mutex_unlock(&lock);
            for (int i = 0; i < 100; i += 2) free(keep[i]);
            return NULL;
        }
        static void *child_worker(void *arg) {
            (void)arg;
            void *p[500];
            for (int i = 0; i < 500; i++) p[i] = malloc(64 + (i % 200) * 4);
            for (int i = 0; i < 500; i += 3) free(p[i]);
            return NULL;
        }
        int main(void) {
            void *a[200];
            for (int i = 0; i < 200; i++) a[i] = malloc(24 + i * 4);
            pthread_t t;
            if (pthread_create(&t, NULL, holder, NULL) != 0) return 1;
            pthread_mutex_lock(&lock);
            while (!ready) pthread_cond_wait(&cond, &lock);
            pthread_mutex_unlock(&lock);
            pid_t pid = fork();
            if (pid == 0) {
                for (int i = 0; i < 100; i++) free(a[i]);
                pthread_t w;
                if (pthread_create(&w, NULL, child_worker, NULL) != 0 || pthread_join(w, NULL) != 0) _exit(1);
                for (int i = 0; i < 50; i++) free(malloc(5000 + i));
                _exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            pthread_mutex_lock(&lock);
            done = 1;
            pthread_cond_broadcast(&cond);
            pthread_mutex_unlock(&lock);
            pthread_join(t, NULL);
            for (int i = 100; i < 200; i++) free(a[i]);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
        }
        """;
    /// <summary>
    /// malloc and free in a SIGALRM handler (a 50 us interval timer) while the main loop mallocs and frees too,
    /// so the handler often interrupts the recorder in the middle of an event. Arguments: rounds of the main
    /// loop, how the handler is installed (sigaction, siginfo: SA_SIGINFO, signal), and "2" to run the loop in a second
    /// thread too (size 264: the signal then lands in either thread). Each side uses a size of
    /// its own, served from its own tcache bin from the start, so glibc's heap stays sound whatever the handler
    /// interrupts. Prints "main M F handler M F" (the calls each made, counted with volatile counters) and
    /// "action H F": H is 1 when sigaction()/signal() hand back the program's own handler, F the flags sigaction()
    /// reports (the same line with and without the recorder).
    /// </summary>
    public const string SignalHandlerAllocations = """
        #define _GNU_SOURCE
        #include <pthread.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/time.h>
        #include <unistd.h>

        #define MAIN_SIZE 328
        #define HANDLER_SIZE 184
        #define THREAD_SIZE 264
        static volatile unsigned long handler_mallocs, handler_frees, main_mallocs, main_frees, thread_calls;
        static long rounds;

        static void *second(void *arg) {
            (void)arg;
            for (long i = 0; i < rounds; i++) {
                void *p = malloc(THREAD_SIZE); *(volatile char *)p = 1; free(p); thread_calls += 2;
            }
            return NULL;
        }

        static void on_alarm(int sig) {
            (void)sig;
            void *p = malloc(HANDLER_SIZE);
            __atomic_fetch_add(&handler_mallocs, 1, __ATOMIC_RELAXED);
            *(volatile char *)p = 1;
            free(p);
            __atomic_fetch_add(&handler_frees, 1, __ATOMIC_RELAXED);
        }
        static void on_alarm_info(int sig, siginfo_t *info, void *context) { (void)info; (void)context; on_alarm(sig); }

        int main(int argc, char **argv) {
            rounds = argc > 1 ? atol(argv[1]) : 300000;
            const char *how = argc > 2 ? argv[2] : "sigaction";
            int threads = argc > 3 ? atoi(argv[3]) : 1;
            free(malloc(HANDLER_SIZE)); handler_mallocs++; handler_frees++;
            free(malloc(MAIN_SIZE)); main_mallocs++; main_frees++;
            int same;
            unsigned long flags = 0;
            if (!strcmp(how, "signal")) {
                signal(SIGALRM, on_alarm);
                same = signal(SIGALRM, on_alarm) == on_alarm;
            } else {
                struct sigaction sa, old;
                memset(&sa, 0, sizeof sa);
                int info = !strcmp(how, "siginfo");
                if (info) sa.sa_sigaction = on_alarm_info; else sa.sa_handler = on_alarm;
                sa.sa_flags = SA_RESTART | (info ? SA_SIGINFO : 0);
                sigaction(SIGALRM, &sa, NULL);
                sigaction(SIGALRM, NULL, &old);
                same = info ? old.sa_sigaction == on_alarm_info : old.sa_handler == on_alarm;
                flags = (unsigned long)old.sa_flags;
            }
            struct itimerval it = { { 0, 50 }, { 0, 50 } };
            pthread_t t;
            if (threads == 2) {
                free(malloc(THREAD_SIZE)); thread_calls += 2;
                pthread_create(&t, NULL, second, NULL);
            }
            setitimer(ITIMER_REAL, &it, NULL);
            for (long i = 0; i < rounds; i++) {
                void *p = malloc(MAIN_SIZE); main_mallocs++;
                *(volatile char *)p = 1;
                free(p); main_frees++;
            }
            if (threads == 2) pthread_join(t, NULL);
            struct itimerval off = { { 0, 0 }, { 0, 0 } };
            setitimer(ITIMER_REAL, &off, NULL);
            char line[200];
            int n = snprintf(line, sizeof line, "main %lu %lu handler %lu %lu thread %lu\naction %d %lx\n",
                             main_mallocs, main_frees, handler_mallocs, handler_frees, thread_calls, same, flags);
            write(1, line, (size_t)n);
            return 0;
        }
        """;
    /// <summary>
    /// Runs until a signal ends it: two threads malloc and free in a loop; after its first 100,000 calls the
    /// main thread prints "ready" (so a test knows events were recorded) and goes on.
    /// </summary>
    public const string Endless = """
        #include <pthread.h>
        #include <stdlib.h>
        #include <unistd.h>

        static void *spin(void *arg) {
            (void)arg;
            for (;;) { void *p = malloc(40); *(volatile char *)p = 1; free(p); }
            return NULL;
        }

        int main(void) {
            pthread_t t;
            pthread_create(&t, NULL, spin, NULL);
            for (long i = 0;; i++) {
                void *p = malloc(24); *(volatile char *)p = 1; free(p);
                if (i == 50000) write(1, "ready\n", 6);
            }
        }
        """;
    /// <summary>
    /// Sets its own file size limit (RLIMIT_FSIZE, first argument in bytes; 0 leaves it unlimited), then mallocs
    /// and frees (second argument: rounds per thread) in the main thread and, with a third argument "2", in a
    /// second thread too. Prints "calls N". A write over the limit raises SIGXFSZ, which by default ends a
    /// program: this one must live to print its line.
    /// </summary>
    public const string FileSizeLimit = """
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/resource.h>

        static long rounds;
        static void *work(void *arg) {
            unsigned long *n = arg;
            for (long i = 0; i < rounds; i++) { void *p = malloc((size_t)(i % 500) + 1); free(p); *n += 2; }
            return NULL;
        }

        int main(int argc, char **argv) {
            long limit = atol(argv[1]);
            rounds = atol(argv[2]);
            int threads = argc > 3 ? atoi(argv[3]) : 1;
            if (limit > 0) { struct rlimit r = { (rlim_t)limit, (rlim_t)limit }; setrlimit(RLIMIT_FSIZE, &r); }
            unsigned long n = 0, m = 0;
            pthread_t t;
            if (threads == 2) pthread_create(&t, NULL, work, &m);
            work(&n);
            if (threads == 2) pthread_join(t, NULL);
            printf("calls %lu\n", n + m);
            return 0;
        }
        """;
}
