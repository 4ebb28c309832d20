using PtReplay.Replay.Preparation;
using PtReplay.Results;

namespace PtReplay.Replay.Metrics;

/// <summary>Computes an <see cref="EngineResult"/>'s summary figures from its samples and the prepared trace.</summary>
public static class ResultBuilder
{
    /// <summary><see cref="EngineResult.LatencyClock"/> of a replay that read no clock per call (--no-timing).</summary>
    public const string NoTimingClock = "none (--no-timing)";

    /// <summary>
    /// Builds the result: series sorted by op position, then <paramref name="final"/> (the state after the last op; its
    /// position and live bytes are the prepared trace's); figures from <see cref="MemoryFigures.FromSeries"/>, with the
    /// "at peak live" figures at the prepared trace's peak op.
    /// </summary>
    public static EngineResult Build(
        string engine, PreparedTrace trace, IEnumerable<SeriesPoint> samples, SeriesPoint final,
        LatencyHistogram latency, long calls, long wallNs, string footprintSource, string rssSource,
        IReadOnlyDictionary<string, double> extra, string latencyClock = "")
    {
        var series = samples.OrderBy(p => p.Seq).ToList();
        series.Add(final with { Seq = trace.OpCount, LiveBytes = trace.FinalLiveBytes });
        return new EngineResult
        {
            Engine = engine,
            Series = series,
            Latency = latency,
            Memory = MemoryFigures.FromSeries(series.ConvertAll(p => p.ToRow()), trace.PeakLiveSeq, trace.PeakLiveBytes, trace.FinalLiveBytes),
            Calls = calls,
            WallNs = wallNs,
            FootprintSource = footprintSource,
            RssSource = rssSource,
            Extra = extra,
            LatencyClock = latencyClock,
        };
    }

    /// <summary>As <see cref="Build(string, PreparedTrace, IEnumerable{SeriesPoint}, SeriesPoint, LatencyHistogram, long, long, string, string, IReadOnlyDictionary{string, double}, string)"/>, with a final state of footprint and RSS only.</summary>
    public static EngineResult Build(
        string engine, PreparedTrace trace, IEnumerable<SeriesPoint> samples, ulong finalFootprint, ulong finalRss,
        LatencyHistogram latency, long calls, long wallNs, string footprintSource, string rssSource,
        IReadOnlyDictionary<string, double> extra, string latencyClock = "") =>
        Build(engine, trace, samples, new SeriesPoint(trace.OpCount, trace.FinalLiveBytes, finalFootprint, finalRss),
            latency, calls, wallNs, footprintSource, rssSource, extra, latencyClock);
}
