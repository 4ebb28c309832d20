using PtReplay.Replay.Preparation;
using PtReplay.Reports.Input;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Tests.Traces.Analysis;

/// <summary>
/// Figures stay in range by construction: a call asking for more than any process can hold (realloc to 2^62,
/// calloc(2^33, 2^33) whose count × size overflows) is a failed call, even when a damaged trace says it returned a
/// block; the live set never adds its size, and info and the replay's preparation report it. Built from a real
/// recording of a C program making exactly those calls, and from that recording with the huge calls' results
/// changed to a plausible address.
/// </summary>
public sealed class ImpossibleSizeTests : IDisposable
{
    private const string Source = """
        #include <stdlib.h>
        #include <stdint.h>
        #include <unistd.h>
        int main(void) {
            void *keep[64];
            for (int i = 0; i < 64; i++) keep[i] = malloc(1000);
            char *p = malloc(100);
            void *q = realloc(p, (size_t)1 << 62);      /* fails: p stays live */
            void *c = calloc((size_t)1 << 33, (size_t)1 << 33);   /* count * size overflows: fails */
            if (q != NULL || c != NULL) return 1;
            free(p);
            for (int i = 0; i < 64; i++) free(keep[i]);
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-huge-");

    public void Dispose() => _dir.Dispose();

    private (string Real, string Claimed) Recordings()
    {
        string exe = Gcc.CompileSource(_dir.Path, "huge", Source, Gcc.Flags("-O0 -Wno-alloc-size-larger-than"));
        string real = _dir.File("real.trace");
        RecordedRun.RecordOrThrow([exe], real, CleanEnvironment.With());

        // The same recording, but the two huge calls "returned" a block: what a damaged or hand-made trace can say.
        string claimed = _dir.File("claimed.trace");
        using (TraceReader reader = TraceReader.Open(real))
        {
            List<AllocEvent> events = reader.ReadAll().ToList();
            using TraceWriter writer = TraceWriter.Create(claimed, reader.Header);
            writer.DeclareThreads(reader.ThreadTids);
            ulong fake = 0x7f00_0000_0000;
            foreach (AllocEvent e in events)
            {
                writer.Write(e.Kind.Allocates() && e.RequestedBytes > LiveSet.MaxBlockBytes ? e with { Result = fake += 0x1000 } : e);
            }
        }

        return (real, claimed);
    }

    [Fact]
    public void HugeCalls_AreFailedCalls_AndAClaimedSuccessIsAnAnomaly_NotLiveBytes()
    {
        (string real, string claimed) = Recordings();
        TraceStatistics honest = TraceStatistics.Compute(real);
        TraceStatistics lying = TraceStatistics.Compute(claimed);

        Assert.Equal(2, honest.FailedCalls);
        Assert.Equal(0, honest.AnomalyCount(TraceAnomalyKind.ImpossibleSize));
        Assert.InRange(honest.PeakLiveBytes, 64 * 1000 + 100UL, 1UL << 32);

        Assert.Equal(2, lying.AnomalyCount(TraceAnomalyKind.ImpossibleSize));
        Assert.Equal(honest.FailedCalls, lying.FailedCalls);
        Assert.Equal(honest.PeakLiveBytes, lying.PeakLiveBytes);
        Assert.Equal(honest.LiveBytes, lying.LiveBytes);

        List<AllocEvent> events;
        using (TraceReader reader = TraceReader.Open(claimed))
        {
            events = reader.ReadAll().ToList();
        }

        PreparedTrace prepared = TracePreparer.Prepare(events, _dir.File("claimed.prepared"));
        Assert.Equal(2, prepared.Issues.Count(i => i.Kind == TraceIssueKind.ImpossibleSize));
        Assert.Equal(honest.PeakLiveBytes, prepared.PeakLiveBytes);
        Assert.Equal(honest.LiveBytes, prepared.FinalLiveBytes);
    }

    [Fact]
    public void Replay_OfAClaimedHugeSuccess_KeepsEveryFigureInRange()
    {
        (string real, string claimed) = Recordings();
        string outDir = _dir.File("out");
        Assert.Equal(0, PtReplay.Cli.Program.Main(["replay", claimed, "-o", outDir, "--engine", "sim"]));

        EngineOutput sim = ReplayOutputReader.Read(outDir, withSeries: false).Engines.Single(e => e.Engine == "sim");
        Assert.Null(sim.Error);
        Assert.Equal(TraceStatistics.Compute(real).PeakLiveBytes, (ulong)sim.Figure("peak_live_bytes")!.Value);
        Assert.InRange(sim.Figure("final_fragmentation")!.Value, 0, 1);
        Assert.InRange(sim.Figure("peak_fragmentation")!.Value, 0, 1);
    }

    [Fact]
    public void LiveBytes_AboveTwoToThe64_Saturate_AndComeBackExactlyWhenFreed()
    {
        var live = new LiveSet();
        const int Blocks = 300;   // 300 × 2^56 > 2^64
        for (int i = 0; i < Blocks; i++)
        {
            live.Apply(new AllocEvent { Kind = EventKind.Malloc, Size = LiveSet.MaxBlockBytes, Result = 0x1000 + ((ulong)i << 12) });
        }

        Assert.Equal(ulong.MaxValue, live.LiveBytes);
        Assert.Equal(ulong.MaxValue, live.PeakLiveBytes);
        Assert.True(live.Saturated);
        for (int i = 0; i < Blocks - 1; i++)
        {
            live.Apply(new AllocEvent { Kind = EventKind.Free, Ptr = 0x1000 + ((ulong)i << 12) });
        }

        Assert.Equal(LiveSet.MaxBlockBytes, live.LiveBytes);
    }
}
