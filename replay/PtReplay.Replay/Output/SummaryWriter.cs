using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results;
using PtReplay.Traces;

namespace PtReplay.Replay.Output;

/// <summary>
/// Builds and writes DIR/summary.json: a <see cref="ReplaySummary"/> (the layout is documented there) from the
/// prepared trace, the replay's options and each engine's result.
/// </summary>
public static class SummaryWriter
{
    /// <summary>Writes the summary to <paramref name="path"/>.</summary>
    public static void Write(string path, string tracePath, PreparedTrace trace, ReplayOptions options, long sampleEvery,
        string? tunables, IReadOnlyList<EngineResult> results, SimPreambleDecision? simPreamble = null, TraceHeader? header = null) =>
        SummaryFile.Write(path, Build(tracePath, trace, options, sampleEvery, tunables, results, simPreamble, header));

    /// <summary>The summary of one replay; process identity comes from <paramref name="header"/> when given.</summary>
    public static ReplaySummary Build(string tracePath, PreparedTrace trace, ReplayOptions options, long sampleEvery,
        string? tunables, IReadOnlyList<EngineResult> results, SimPreambleDecision? simPreamble = null, TraceHeader? header = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(results);
        return new ReplaySummary
        {
            Trace = new TraceSummary
            {
                Path = tracePath,
                Pid = header is { Pid: > 0 } ? header.Pid : null,
                ParentPid = header is { ParentPid: > 0 } ? header.ParentPid : null,
                CommandLine = header is { Argv.Count: > 0 } ? string.Join(' ', header.Argv) : null,
                Events = trace.EventCount,
                Calls = trace.CallCount,
                Ops = trace.OpCount,
                Threads = trace.ThreadCount,
                Slots = trace.SlotCount,
                PeakLiveBytes = trace.PeakLiveBytes,
                FinalLiveBytes = trace.FinalLiveBytes,
                IssuesTotal = trace.IssueCount,
                Issues = [.. trace.Issues.Select(i => new TraceIssueSummary(i.EventIndex, i.Kind.ToString(), i.Message))],
                Counts = EventKinds.Calls.ToDictionary(k => k.CName(), k => trace.CallsByKind[(int)k], StringComparer.Ordinal),
                Sizes = trace.Sizes,
                LifetimeCalls = trace.LifetimeCalls,
                LifetimeNs = trace.LifetimeNs,
            },
            Options = new ReplaySettings
            {
                Threads = options.Threads.ToString().ToLowerInvariant(),
                Touch = options.Touch.ToString().ToLowerInvariant(),
                Tunables = tunables ?? "",
                SampleEvery = sampleEvery,
                Pace = results.FirstOrDefault(r => r.Error is null && r.Pace != "max")?.Pace ?? "max",
                SimPreamble = simPreamble is null ? null
                    : new SimPreambleSummary(simPreamble.ModeName, simPreamble.Bytes, simPreamble.SourceName, simPreamble.SetupHeapBytes, simPreamble.Reason),
            },
            Engines = [.. results.Select(Engine)],
        };
    }

    /// <summary>
    /// One run of an engine replayed several times, as summary.json keeps it: <paramref name="index"/> from 1,
    /// <paramref name="startOrder"/> its place among all the replay's engine runs, from 0.
    /// </summary>
    public static EngineRun Run(EngineResult result, int index, int startOrder)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new EngineRun
        {
            Index = index,
            StartOrder = startOrder,
            WallNs = result.WallNs,
            Memory = result.Memory,
            LatencyNs = Latency(result.Latency),
        };
    }

    private static EngineSummary Engine(EngineResult r) => r.Error is not null ? EngineSummary.Failed(r.Engine, r.Error) with { Skipped = r.Skipped } : new EngineSummary
    {
        Engine = r.Engine,
        Memory = r.Memory,
        Runs = r.Runs.Count > 1 ? r.Runs : null,
        Timing = new TimingFigures
        {
            Calls = r.Calls,
            WallNs = r.Runs.Count > 1 ? (long)RunStatistics.Median(r.Runs.Select(x => (double)x.WallNs)) : r.WallNs,
            SamplingNs = r.SamplingNs,
            WarmupNs = r.WarmupNs,
            FirstCalls = r.FirstCalls,
            FirstCallMaxNs = r.FirstCallMaxNs,
            Gc = r.Gc,
            Pace = r.Pace,
            LatencyClock = r.LatencyClock,
            LatencyNs = r.Runs.Count > 1 ? RunStatistics.MedianLatency(r.Runs) : Latency(r.Latency),
        },
        Sources = new FigureSources
        {
            Rss = r.RssSource,
            Footprint = r.FootprintSource,
            AddressSpace = r.AddressSpaceSource,
            AllocatorBytes = r.AllocatorBytesSource,
        },
        Extra = r.Extra.ToDictionary(kv => kv.Key, kv => FigureMath.Round(kv.Value), StringComparer.Ordinal),
    };

    private static Dictionary<string, LatencyFigures> Latency(LatencyHistogram? histogram)
    {
        var latency = new Dictionary<string, LatencyFigures>(StringComparer.Ordinal);
        foreach (EventKind kind in EventKinds.Calls)
        {
            if (histogram?.Summarize((int)kind) is { } s)
            {
                latency[kind.CName()] = new LatencyFigures(
                    FigureMath.Round(s.P50), FigureMath.Round(s.P90), FigureMath.Round(s.P99), FigureMath.Round(s.P999), FigureMath.Round(s.Max), s.Count);
            }
        }

        return latency;
    }
}
