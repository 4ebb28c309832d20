using PtReplay.Allocator;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Sim;

/// <summary>
/// The stopped replay behind `heapmap` is the sim engine's replay: on each bundled sample recording, stopped at the end it
/// holds the model the sim engine ends with, and its peak is the sim engine's peak footprint sampled at every call.
/// </summary>
[Trait("Category", "Fast")]
public sealed class SimSnapshotTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-snapshot-");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Samples => [.. RepoFiles.SampleTraces.Select(p => Path.GetFileName(p))];

    [Theory]
    [MemberData(nameof(Samples))]
    public void EndAndPeak_AreTheSimEnginesFinalStateAndPeakFootprint(string sample)
    {
        string trace = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == sample);
        var options = new ReplayOptions { NoTiming = true };
        PreparedInput input = ReplayRunner.PrepareFile(trace, _dir.File(sample + ".prepared"), options, new PreparationOptions { SampleEvery = 1 });
        var (prepared, header) = (input.Prepared, input.ModelHeader);
        EngineResult sim = SimEngine.Run(prepared, header, options, null);
        Assert.True(sim.Error is null, sim.Error);

        var (end, endOps, endCommitted) = SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.End));
        Assert.Equal(prepared.OpCount, endOps);
        Assert.Equal(sim.FinalFootprintBytes, endCommitted);
        MallInfo2 mi = end.MallInfo2();
        Assert.Equal(sim.Extra["mallinfo2_arena"], mi.Arena);
        Assert.Equal(sim.Extra["mallinfo2_uordblks"], mi.Uordblks);
        Assert.Equal(sim.Extra["mallinfo2_fordblks"], mi.Fordblks);

        var (_, peakOps, peakCommitted) = SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.PeakFootprint));
        Assert.Equal(sim.PeakFootprintBytes, peakCommitted);
        Assert.InRange(peakOps, 1, prepared.OpCount);

        // One op before the peak the footprint was lower (the peak is the first op reaching it).
        var (_, _, before) = SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.AfterOps, peakOps - 1));
        Assert.True(before < peakCommitted, $"op {peakOps - 1} already had {before} B");
        Assert.Throws<ArgumentOutOfRangeException>(() => SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.AfterOps, prepared.OpCount + 1)));
    }
}
