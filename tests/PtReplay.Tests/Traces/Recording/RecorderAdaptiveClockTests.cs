using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// The multi-thread clock (traces/recorder/ptrecord.h, "The event clock"): with PTRECORD_MT_CLOCK=adaptive threads
/// keep the single-thread clock (unfenced, adaptive) once a process has several, the file becomes format version 5,
/// and the reader orders the threads by their address lifecycles; by default (unset, or fenced) the file stays
/// version 2, merged by timestamp. Real programs, recorded: the bundled workload's lockstep mode (the real
/// order is known: one thread at a time, in turns) and a handoff program compiled here.
/// </summary>
public sealed class RecorderAdaptiveClockTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-mtclock-");

    public void Dispose() => _dir.Dispose();

    private RecordingResult Record(IReadOnlyList<string> command, string mode)
    {
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(_dir.Path);
        if (mode.Length > 0)
        {
            env["PTRECORD_MT_CLOCK"] = mode;
        }

        RecordingResult run = RecordedRun.Run(command, _dir.File($"mt-{mode}.trace"), env, workingDirectory: _dir.Path);
        Assert.Equal(0, run.ExitCode);
        return run;
    }

    /// <summary>Lockstep: every address glibc returned is the model's (verify 100 %), every free follows its allocation.</summary>
    [Fact]
    public void Lockstep_Adaptive_IsVersion5_LifecycleOrdered_FullParity()
    {
        RecordingResult run = Record([NativeArtifacts.Find(NativeArtifacts.MtWorkload), "--lockstep", "3", "150", "5"], "adaptive");
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(TraceFormat.MultiThreadOrderVersion, reader.Header.FormatVersion);
        var events = reader.ReadAll().ToList();
        Assert.True(reader.IsLifecycleOrdered);
        AssertLifecycles(events);

        AssertWhole(run.TracePath, events, reader);

        var report = TraceVerifier.Run(reader.Header, events);
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}" : "");
        Assert.Equal(0, report.UnknownPointers);
        Assert.True(report.Allocations > 2000, $"only {report.Allocations} allocations");
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <summary>By default, and with PTRECORD_MT_CLOCK=fenced, a multi-threaded recording stays version 2, merged by timestamp.</summary>
    [Theory]
    [InlineData("fenced")]
    [InlineData("")]
    public void Fenced_MultiThreaded_StaysVersion2(string mode)
    {
        RecordingResult run = Record([NativeArtifacts.Find(NativeArtifacts.MtWorkload), "--lockstep", "2", "40", "3"], mode);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(TraceFormat.CurrentVersion, reader.Header.FormatVersion);
        AssertLifecycles(reader.ReadAll().ToList());
        Assert.False(reader.IsLifecycleOrdered);
    }

    /// <summary>
    /// A free-running multi-threaded recording with PTRECORD_MT_CLOCK=adaptive is version 5, ordered by lifecycles,
    /// read whole; `record`'s summary (read by timestamp alone) counts the same events and threads.
    /// </summary>
    [Fact]
    public void Adaptive_FreeRunning_IsVersion5_ReadWhole()
    {
        RecordingResult run = Record([NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "20000"], "adaptive");
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(TraceFormat.MultiThreadOrderVersion, reader.Header.FormatVersion);
        var events = reader.ReadAll().ToList();
        Assert.True(reader.IsLifecycleOrdered);
        AssertLifecycles(events);
        AssertWhole(run.TracePath, events, reader);
        RecordingSummary summary = RecordingSummary.Of(run.TracePath);
        Assert.Equal(events.Count, summary.Events);
        Assert.Equal(reader.ThreadTids.Count, summary.Threads);
    }

    /// <summary>
    /// Two producers hand blocks to two consumers (cross-thread frees), every thread churns its own blocks; the
    /// consumers keep every 97th block and the program prints those addresses. With either clock, every free in the
    /// delivered order follows the allocation that returned its pointer and the blocks live at the end are exactly
    /// the ones the program kept.
    /// </summary>
    [Theory]
    [InlineData("fenced")]
    [InlineData("adaptive")]
    public void Handoff_LiveSetAtEndIsWhatTheProgramKept(string mode)
    {
        string program = Gcc.CompileSource(_dir.Path, "handoff", HandoffSource, Gcc.Flags("-O1 -Wall -Werror"), "-lpthread");
        RecordingResult run = Record([program], mode);
        string output = System.Text.Encoding.UTF8.GetString(run.StandardOutput);
        var kept = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => Convert.ToUInt64(l.Trim()[2..], 16)).ToHashSet();
        Assert.True(kept.Count > 300, $"{kept.Count} kept");

        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(mode == "adaptive" ? TraceFormat.MultiThreadOrderVersion : TraceFormat.CurrentVersion, reader.Header.FormatVersion);
        var events = reader.ReadAll().ToList();
        Assert.Equal(mode == "adaptive", reader.IsLifecycleOrdered);
        Assert.Equal(5, reader.ThreadTids.Count);
        Dictionary<ulong, (ulong Size, int Thread)> live = AssertLifecycles(events);
        AssertWhole(run.TracePath, events, reader);
        // The workers' own blocks (main's are pthread's and stdio's).
        var liveProgramBlocks = live.Where(p => p.Value.Thread != 0).Select(p => p.Key).ToHashSet();
        Assert.True(kept.SetEquals(liveProgramBlocks), $"kept {kept.Count}, live {liveProgramBlocks.Count}");
    }

    /// <summary>
    /// The lifecycle order delivered every event of the file, each thread's in its own order: the same bytes marked
    /// version 4 (merged by timestamp alone, which delivers every event) give the same per-thread sequences.
    /// </summary>
    private static void AssertWhole(string path, List<AllocEvent> events, TraceReader reader)
    {
        byte[] bytes = File.ReadAllBytes(path);
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 2), (ushort)4);
        using TraceReader byTime = TraceReader.Open(new MemoryStream(bytes));
        var expected = byTime.ReadAll().ToList();
        Assert.Equal(expected.Count, events.Count);
        static Dictionary<int, List<AllocEvent>> PerThread(List<AllocEvent> list, IReadOnlyList<int> tids) =>
            list.GroupBy(e => tids[e.Thread]).ToDictionary(g => g.Key, g => g.Select(e => e with { Thread = 0 }).ToList());
        Dictionary<int, List<AllocEvent>> want = PerThread(expected, byTime.ThreadTids);
        Dictionary<int, List<AllocEvent>> got = PerThread(events, reader.ThreadTids);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        foreach ((int tid, List<AllocEvent> sequence) in want)
        {
            Assert.True(sequence.SequenceEqual(got[tid]), $"thread tid {tid}: its events differ or are out of its order");
        }
    }

    /// <summary>Every free/realloc follows the allocation that returned its pointer; no allocation returns a live address. Returns the live blocks at the end (address: size, allocating thread).</summary>
    private static Dictionary<ulong, (ulong Size, int Thread)> AssertLifecycles(List<AllocEvent> events)
    {
        var live = new Dictionary<ulong, (ulong Size, int Thread)>();
        for (int i = 0; i < events.Count; i++)
        {
            AllocEvent e = events[i];
            if (!e.Kind.IsCall())
            {
                continue;
            }

            if (e.Kind.TakesPointer() && e.Ptr != 0)
            {
                Assert.True(live.ContainsKey(e.Ptr), $"event {i}: {e} frees a pointer that is not live");
                if (e.Kind == EventKind.Free || e.Result != 0 || e.RequestedBytes == 0)
                {
                    live.Remove(e.Ptr);
                }
            }

            if (e.Kind.Allocates() && e.Result != 0)
            {
                Assert.True(e.Result == e.Ptr || !live.ContainsKey(e.Result), $"event {i}: {e} returns a live address");
                live[e.Result] = (e.RequestedBytes, e.Thread);
            }
        }

        return live;
    }

    private const string HandoffSource = """
        #include <pthread.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #define PAIRS 2
        #define ITEMS 20000
        #define RING 32
        struct queue { pthread_mutex_t lock; pthread_cond_t cv; void *item[RING]; unsigned head, tail; };
        static struct queue queues[PAIRS];
        static void *kept[PAIRS][ITEMS / 97 + 2];
        static unsigned kept_count[PAIRS];
        static uint64_t rnd(uint64_t *s) { uint64_t x = *s; x ^= x << 13; x ^= x >> 7; x ^= x << 17; return *s = x; }
        static void churn(uint64_t *s, void **set)
        {
            unsigned k = (unsigned)(rnd(s) % 16);
            free(set[k]);
            set[k] = malloc(64 + rnd(s) % 900);
        }
        static void *producer(void *arg)
        {
            struct queue *q = arg;
            uint64_t s = (uintptr_t)arg | 1;
            void *set[16] = { 0 };
            for (unsigned i = 0; i <= ITEMS; i++) {
                void *p = i < ITEMS ? malloc(100 + rnd(&s) % 2000) : NULL;
                if (p) memset(p, (int)i, 100);
                pthread_mutex_lock(&q->lock);
                while (q->tail - q->head == RING) pthread_cond_wait(&q->cv, &q->lock);
                q->item[q->tail++ % RING] = p;
                pthread_cond_broadcast(&q->cv);
                pthread_mutex_unlock(&q->lock);
                if (i % 3 == 0) churn(&s, set);
            }
            for (unsigned k = 0; k < 16; k++) free(set[k]);
            return NULL;
        }
        static void *consumer(void *arg)
        {
            unsigned id = (unsigned)(uintptr_t)arg;
            struct queue *q = &queues[id];
            uint64_t s = 0x9E3779B97F4A7C15ull + id;
            void *set[16] = { 0 };
            for (unsigned n = 0;; n++) {
                pthread_mutex_lock(&q->lock);
                while (q->tail == q->head) pthread_cond_wait(&q->cv, &q->lock);
                void *p = q->item[q->head++ % RING];
                pthread_cond_broadcast(&q->cv);
                pthread_mutex_unlock(&q->lock);
                if (p == NULL) break;
                if (n % 97 == 0) kept[id][kept_count[id]++] = p;
                else free(p);
                churn(&s, set);
            }
            for (unsigned k = 0; k < 16; k++) free(set[k]);
            return NULL;
        }
        int main(void)
        {
            pthread_t t[2 * PAIRS];
            for (unsigned i = 0; i < PAIRS; i++) {
                pthread_mutex_init(&queues[i].lock, NULL);
                pthread_cond_init(&queues[i].cv, NULL);
                pthread_create(&t[2 * i], NULL, producer, &queues[i]);
                pthread_create(&t[2 * i + 1], NULL, consumer, (void *)(uintptr_t)i);
            }
            for (unsigned i = 0; i < 2 * PAIRS; i++) pthread_join(t[i], NULL);
            for (unsigned i = 0; i < PAIRS; i++)
                for (unsigned k = 0; k < kept_count[i]; k++) printf("%p\n", kept[i][k]);
            return 0;
        }
        """;
}
