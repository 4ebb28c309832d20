using System.Globalization;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Import;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Import;

/// <summary>
/// Real LTTng recordings, imported. Two oracles: a C probe that prints, after its work, what each of its
/// calls returned (glibc's answers); and the project's own recorder, preloaded in the same run behind
/// the libc wrapper, so both see the very same calls and addresses.
/// </summary>
[Collection(LttngGroup.Name)]
public sealed class LttngImportTests(LttngTracing lttng)
{
    /// <summary>
    /// Two threads call every entry point the wrapper traces (failures included), then print
    /// "TID KIND ptr count size alignment status result" per call (hex), after the work so printing
    /// cannot disturb it, plus "pid PID".
    /// </summary>
    private const string Probe = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <malloc.h>
        #include <pthread.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>

        struct log { char text[16384]; size_t len; };
        static struct log logs[2];
        static void rec(struct log *l, char kind, void *ptr, size_t count, size_t size, size_t align, int status, void *result)
        {
            l->len += snprintf(l->text + l->len, sizeof l->text - l->len, "%d %c %zx %zx %zx %zx %x %zx\n",
                               (int)gettid(), kind, (size_t)ptr, count, size, align, (unsigned)status, (size_t)result);
        }

        static void *work(void *arg)
        {
            struct log *l = arg;
            void *p[24];
            for (int i = 0; i < 24; i++) { p[i] = malloc(8 + i * 29); rec(l, 'M', 0, 1, 8 + i * 29, 0, 0, p[i]); }
            for (int i = 0; i < 24; i += 3) { void *n = realloc(p[i], 300 + i); rec(l, 'R', p[i], 1, 300 + i, 0, 0, n); p[i] = n; }
            void *c = calloc(7, 33); rec(l, 'C', 0, 7, 33, 0, 0, c);
            for (int i = 23; i >= 0; i--) { rec(l, 'F', p[i], 0, 0, 0, 0, 0); free(p[i]); }
            rec(l, 'F', c, 0, 0, 0, 0, 0); free(c);
            return NULL;
        }

        int main(void)
        {
            struct log *l = &logs[0];
            void *a = malloc(24); rec(l, 'M', 0, 1, 24, 0, 0, a);
            void *b = calloc(10, 8); rec(l, 'C', 0, 10, 8, 0, 0, b);
            void *a2 = realloc(a, 2000); rec(l, 'R', a, 1, 2000, 0, 0, a2);
            void *e = memalign(64, 100); rec(l, 'A', 0, 1, 100, 64, 0, e);
            void *f = NULL; int rc = posix_memalign(&f, 32, 48); rec(l, 'P', 0, 1, 48, 32, rc, f);
            void *g = (void *)0x1230; int rcg = posix_memalign(&g, 64, SIZE_MAX / 2); rec(l, 'P', 0, 1, SIZE_MAX / 2, 64, rcg, NULL);
            void *huge = malloc(SIZE_MAX / 2); rec(l, 'M', 0, 1, SIZE_MAX / 2, 0, 0, huge);
            void *r0 = realloc(b, 0); rec(l, 'R', b, 1, 0, 0, 0, r0);
            rec(l, 'F', 0, 0, 0, 0, 0, 0); free(NULL);
            pthread_t t;
            pthread_create(&t, NULL, work, &logs[1]);
            pthread_join(t, NULL);
            rec(l, 'F', a2, 0, 0, 0, 0, 0); free(a2);
            rec(l, 'F', e, 0, 0, 0, 0, 0); free(e);
            rec(l, 'F', f, 0, 0, 0, 0, 0); free(f);
            if (rc != 0 || rcg != ENOMEM || huge != NULL || r0 != NULL) return 3;
            printf("pid %d\n", (int)getpid());
            fwrite(logs[0].text, 1, logs[0].len, stdout);
            fwrite(logs[1].text, 1, logs[1].len, stdout);
            return 0;
        }
        """;

    private static (List<(int Tid, AllocEvent Call)> Expected, int Pid) ParseProbe(string stdout)
    {
        var expected = new List<(int, AllocEvent)>();
        int pid = 0;
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ');
            if (f[0] == "pid")
            {
                pid = int.Parse(f[1], CultureInfo.InvariantCulture);
                continue;
            }

            ulong V(int i) => ulong.Parse(f[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var e = new AllocEvent
            {
                Kind = f[1] switch
                {
                    "M" => EventKind.Malloc,
                    "C" => EventKind.Calloc,
                    "R" => EventKind.Realloc,
                    "A" => EventKind.Memalign,
                    "P" => EventKind.PosixMemalign,
                    _ => EventKind.Free,
                },
                Ptr = V(2), Count = V(3), Size = V(4), Alignment = V(5), Status = (int)V(6), Result = V(7),
            };
            expected.Add((int.Parse(f[0], CultureInfo.InvariantCulture), e));
        }

        return (expected, pid);
    }

    /// <summary>The call without thread and time, for comparing streams.</summary>
    private static (EventKind, ulong, ulong, ulong, ulong, int, ulong) Call(in AllocEvent e) =>
        (e.Kind, e.Ptr, e.Count, e.Size, e.Alignment, e.Status, e.Result);

    /// <summary>
    /// Index in <paramref name="stream"/> of each of <paramref name="wanted"/>, matched in order (a
    /// subsequence); -1 from the first one that is not found on.
    /// </summary>
    private static List<int> MatchInOrder<T>(List<T> stream, IEnumerable<T> wanted)
    {
        var at = new List<int>();
        int next = 0;
        foreach (T w in wanted)
        {
            while (next < stream.Count && !EqualityComparer<T>.Default.Equals(stream[next], w))
            {
                next++;
            }

            at.Add(next < stream.Count ? next++ : -1);
        }

        return at;
    }

    [SkippableFact]
    public void RealProbe_ImportsEveryCallWithGlibcsResultOnItsThread()
    {
        using var dir = new TempDir("ptrec-lttng-probe-");
        string exe = Gcc.CompileSource(dir.Path, "probe", Probe, Gcc.Flags("-O0 -fno-builtin -pthread"), "-lpthread");
        string traceDir = lttng.Record(dir.Path, [exe]);
        (List<(int Tid, AllocEvent Call)> expected, int pid) = ParseProbe(lttng.LastStdout);
        Assert.True(expected.Count > 60, lttng.LastStdout);

        string trace = dir.File("probe.trace");
        LttngImportResult result = LttngImporter.Import(traceDir, trace);

        LttngImportedProcess process = Assert.Single(result.Processes);
        Assert.Equal((trace, pid), (process.Path, process.Pid));
        Assert.True(result.HasVtid && result.HasVpid);
        Assert.Equal(0, result.DiscardedEvents);
        using TraceReader reader = TraceReader.Open(trace);
        List<AllocEvent> events = [.. reader.ReadAll()];
        Assert.Equal(process.Events, events.Count);
        Assert.False(reader.IsTruncated);
        Assert.Equal(pid, reader.Header.Pid);
        Assert.Equal(LttngImporter.RecorderName, reader.Header.RecorderVersion);
        Assert.Equal(0, events[0].Timestamp);
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.Timestamp <= p.Second.Timestamp), "timestamps go back");

        // Each thread's calls appear in its own stream, in order, exactly as glibc answered them. The wrapper
        // and stdio add calls of their own in between (liblttng-ust allocates at start-up), hence a subsequence.
        int[] tids = [.. expected.Select(x => x.Tid).Distinct()];
        Assert.Equal(2, tids.Length);
        Assert.Equal(pid, tids[0]);
        foreach (int tid in tids)
        {
            int thread = reader.ThreadTids.ToList().IndexOf(tid);
            Assert.True(thread >= 0, $"thread {tid} missing; trace has {string.Join(',', reader.ThreadTids)}");
            var stream = events.Where(e => e.Thread == thread).Select(e => Call(e)).ToList();
            var wanted = expected.Where(x => x.Tid == tid).Select(x => Call(x.Call)).ToList();
            List<int> at = MatchInOrder(stream, wanted);
            int missing = at.IndexOf(-1);
            Assert.True(missing < 0, missing < 0 ? "" : $"thread {tid}: call {missing} {wanted[missing]} not found in order in the import");
        }
    }

    [SkippableFact]
    public void RealProgram_MatchesTheRecorderInTheSameRun()
    {
        // python3 runs once with both preloaded: the wrapper first, then the project's recorder, so every call
        // the wrapper traces goes through the recorder to glibc: same calls, same addresses, same threads.
        using var dir = new TempDir("ptrec-lttng-py-");
        string recorded = dir.File("python.raw.trace");
        var env = RealPrograms.PythonEnvironment();
        env[RecorderEnvironment.Out] = recorded;
        env[RecorderEnvironment.Role] = "root";
        env[RecorderEnvironment.Follow] = "0";
        string traceDir = lttng.Record(dir.Path,
            [RealPrograms.Python, "-c", "import json; d = [{'k': i, 's': str(i) * (i % 7)} for i in range(3000)]; print(len(json.dumps(d)))"],
            env, preloadAfter: NativeArtifacts.Find(NativeArtifacts.Recorder));
        string imported = dir.File("python.trace");
        LttngImportResult result = LttngImporter.Import(traceDir, imported);

        using TraceReader lt = TraceReader.Open(imported);
        using TraceReader rec = TraceReader.Open(recorded);
        List<AllocEvent> ltEvents = [.. lt.ReadAll()];
        List<AllocEvent> recEvents = [.. rec.ReadAll()];
        Assert.Equal(0, result.DiscardedEvents);
        Assert.Equal(rec.Header.Pid, lt.Header.Pid);
        Assert.True(ltEvents.Count > 50_000, $"only {ltEvents.Count} events");
        Assert.Contains(rec.Header.Pid, lt.ThreadTids);

        // The kinds the wrapper traces; the recorder's other calls (aligned_alloc, valloc, ...) and markers have no event.
        HashSet<EventKind> traced = [EventKind.Malloc, EventKind.Calloc, EventKind.Realloc, EventKind.Free, EventKind.Memalign, EventKind.PosixMemalign];
        foreach (int tid in lt.ThreadTids)
        {
            int ltThread = lt.ThreadTids.ToList().IndexOf(tid);
            int recThread = rec.ThreadTids.ToList().IndexOf(tid);
            Assert.True(recThread >= 0, $"thread {tid} of the LTTng trace is not in the recording");
            var ltStream = ltEvents.Where(e => e.Thread == ltThread).Select(e => Call(e)).ToList();
            var recStream = recEvents.Where(e => e.Thread == recThread && traced.Contains(e.Kind)).Select(e => Call(e)).ToList();

            // Every call LTTng saw, the recorder saw, in the same order with the same sizes and addresses.
            List<int> at = MatchInOrder(recStream, ltStream);
            int missing = at.IndexOf(-1);
            Assert.True(missing < 0, missing < 0 ? "" : $"thread {tid}: LTTng event {missing} {ltStream[missing]} not in the recording in order");
            if (tid != rec.Header.Pid)
            {
                continue;   // liblttng-ust's own threads run while the daemon enables the events one by one
            }

            // The main thread starts once the daemon enabled the events (the recorder saw the dynamic loader's and
            // early constructors' calls before) and the wrapper stops in its destructor; in between the two streams
            // are the same calls, one for one: counts per kind, every size, every address.
            int first = at[0], last = at[^1];
            Assert.Equal(last - first + 1, ltStream.Count);
            Assert.Equal(recStream.GetRange(first, ltStream.Count), ltStream);
        }
    }
}
