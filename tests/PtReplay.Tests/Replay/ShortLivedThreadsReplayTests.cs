using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// A program that runs many short-lived threads in waves (a pool that is torn down and rebuilt): the native replayer
/// never runs more threads at once than the recording had alive, creating later threads where they started on a stack a
/// joined thread left in glibc's cache (no heap effect), so the model and a serial glibc replay still agree at every sample.
/// </summary>
public sealed class ShortLivedThreadsReplayTests : IDisposable
{
    private const int Waves = 40;
    private const int PerWave = 3;

    /// <summary>
    /// Each wave starts <see cref="PerWave"/> threads that allocate, free most of it, hand one block to main (freed there
    /// after the join: a cross-thread free) and exit.
    /// </summary>
    private const string Source = """
        #include <pthread.h>
        #include <stdlib.h>
        #include <string.h>
        #define WAVES 40
        #define PER_WAVE 3
        static void *kept[PER_WAVE];
        static void *work(void *arg) {
            long id = (long)arg;
            void *blocks[64];
            for (int i = 0; i < 64; i++) {
                blocks[i] = malloc(16 + (size_t)((i * 37 + id * 11) % 900));
                memset(blocks[i], 1, 16);
            }
            for (int i = 0; i < 64; i += 2) free(blocks[i]);
            for (int i = 1; i < 63; i += 2) free(blocks[i]);
            kept[id % PER_WAVE] = blocks[63];
            return 0;
        }
        int main(void) {
            for (long w = 0; w < WAVES; w++) {
                pthread_t t[PER_WAVE];
                for (long i = 0; i < PER_WAVE; i++) pthread_create(&t[i], 0, work, (void *)(w * PER_WAVE + i));
                for (int i = 0; i < PER_WAVE; i++) pthread_join(t[i], 0);
                for (int i = 0; i < PER_WAVE; i++) free(kept[i]);
                void *p = malloc(100 + (size_t)w);
                free(p);
            }
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-waves-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Waves_ReplayNoMoreThreadsThanWereAlive_AndSimAgreesWithSerialGlibc()
    {
        string exe = Gcc.CompileSource(_dir.Path, "waves", Source, Gcc.Flags("-O1 -pthread"), "-lpthread");
        string trace = _dir.File("waves.trace");
        RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());
        TraceHeader header;
        List<AllocEvent> events;
        using (var reader = TraceReader.Open(trace))
        {
            header = reader.Header;
            events = [.. reader.ReadAll()];
        }

        int workers = events.Where(e => e.Thread != 0 && e.Kind.IsCall()).Select(e => e.Thread).Distinct().Count();
        int alive = RecordedThreads.MaxAliveAtOnce(events);
        Assert.Equal(Waves * PerWave, workers);
        Assert.InRange(alive, 1, PerWave);

        ReplayReport report = ReplayRunner.Run(trace, header, events, ["glibc", "sim"], _dir.NewFolder("serial"),
            new ReplayOptions { NoTiming = true, Threads = ThreadMode.Serial, SimPreamble = SimPreambleMode.Auto },
            new PreparationOptions { SampleEvery = 50 });
        Assert.Equal(0, report.Prepared.IssueCount);
        EngineResult glibc = report.Results.Single(r => r.Engine == "glibc");
        EngineResult sim = report.Results.Single(r => r.Engine == "sim");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(sim.Error is null, sim.Error);

        // The main thread plus the most threads the recording had alive at once; every later one started during the replay.
        Assert.Equal(alive + 1, glibc.Extra["threads_peak"]);
        Assert.Equal(workers - alive, glibc.Extra["thread_starts"]);

        Assert.True(sim.Series.Count > 20, $"only {sim.Series.Count} samples");
        SeriesAgreement.AssertSameRssAndFootprint(sim, glibc);

        // Free-running threads: the same bound, and every call replayed and timed, each thread's first call apart from the
        // percentiles (it sets up the thread's tcache and arena).
        ReplayReport concurrent = ReplayRunner.Run(trace, header, events, ["glibc"], _dir.NewFolder("concurrent"),
            new ReplayOptions { Threads = ThreadMode.Concurrent }, new PreparationOptions { SampleEvery = 50 });
        EngineResult free = concurrent.Results.Single();
        Assert.True(free.Error is null, free.Error);
        Assert.Equal(alive + 1, free.Extra["threads_peak"]);
        Assert.Equal(concurrent.Prepared.CallCount, free.Calls);
        int callingThreads = events.Where(e => e.Kind.IsCall()).Select(e => e.Thread).Distinct().Count();
        Assert.Equal(callingThreads, free.FirstCalls);
        long inPercentiles = Enumerable.Range(1, LatencyHistogram.Kinds - 1).Sum(k => free.Latency!.Summarize(k)?.Count ?? 0);
        Assert.Equal(free.Calls, inPercentiles + free.FirstCalls);
    }
}
