using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Output;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Replay.Timing;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Timing;

/// <summary>
/// The sim engine under each timer, on a checked-in sample recording: every call is timed, the
/// deterministic figures do not depend on the clock, the latency is in ns whichever clock ticked,
/// and the result (and summary.json) names the clock.
/// </summary>
[Trait("Category", "Fast")]
public sealed class SimEngineTimerTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-simtimer-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void EachTimer_TimesEveryCall_InNs_AndIsNamed()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "perl.trace");
        TraceHeader header;
        PreparedTrace trace;
        using (var reader = TraceReader.Open(sample))
        {
            header = reader.Header;
            trace = TracePreparer.Prepare(reader.ReadAll(), _dir.File("prepared.bin"));
        }

        var options = new ReplayOptions();
        EngineResult tsc = SimEngine.Run(trace, header, options, null, ModelTimer.Select(TimerPreference.Tsc));
        EngineResult stopwatch = SimEngine.Run(trace, header, options, null, ModelTimer.Select(TimerPreference.Stopwatch));
        EngineResult untimed = SimEngine.Run(trace, header, new ReplayOptions { NoTiming = true }, null);

        foreach (EngineResult r in new[] { tsc, stopwatch, untimed })
        {
            Assert.True(r.Error is null, r.Error);
            Assert.Equal(tsc.PeakFootprintBytes, r.PeakFootprintBytes);
            Assert.Equal(tsc.FinalRssBytes, r.FinalRssBytes);
            Assert.Equal(tsc.Calls, r.Calls);
        }

        Assert.StartsWith(ModelTimer.Select(TimerPreference.Tsc).Name + ":", tsc.LatencyClock, StringComparison.Ordinal);
        Assert.StartsWith("stopwatch:", stopwatch.LatencyClock, StringComparison.Ordinal);
        Assert.Equal(ResultBuilder.NoTimingClock, untimed.LatencyClock);

        long TimedCalls(EngineResult r) =>
            EventKinds.Calls.Sum(k => r.Latency!.Summarize((int)k)?.Count ?? 0);
        // Every call is timed; each thread's first call (heap, tcache, arena set-up) apart from the percentiles.
        Assert.Equal(tsc.Calls, TimedCalls(tsc) + tsc.FirstCalls);
        Assert.Equal(stopwatch.Calls, TimedCalls(stopwatch) + stopwatch.FirstCalls);
        Assert.True(tsc.FirstCalls >= 1 && tsc.FirstCallMaxNs > 0, $"{tsc.FirstCalls} first calls, slowest {tsc.FirstCallMaxNs} ns");
        Assert.Equal(0, TimedCalls(untimed));
        Assert.Equal(0, untimed.FirstCalls);
        Assert.Null(untimed.FirstCallMaxNs);

        // Same calls, same model: the median malloc in ns must be of one order whichever clock ticked
        // (a tick/ns mix-up would be off by the TSC's rate, 2-4x here).
        double tscMedian = tsc.Latency!.Summarize((int)EventKind.Malloc)!.P50;
        double swMedian = stopwatch.Latency!.Summarize((int)EventKind.Malloc)!.P50;
        Assert.InRange(tscMedian, 1, 10_000);
        Assert.InRange(swMedian, 1, 10_000);

        string summary = _dir.File("summary.json");
        SummaryWriter.Write(summary, sample, trace, options, 1000, null, [tsc]);
        Assert.Equal(tsc.LatencyClock, PtReplay.Results.SummaryFile.Read(summary).Engines.Single().Timing!.LatencyClock);
    }
}
