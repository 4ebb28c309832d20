using PtReplay.Replay.Preparation;

namespace PtReplay.Replay.Metrics;

/// <summary>Computes an <see cref="EngineResult"/>'s summary figures from its samples and the prepared trace.</summary>
public static class ResultBuilder
{
    /// <summary><see cref="EngineResult.LatencyClock"/> of a replay that read no clock per call (--no-timing).</summary>
    public const string NoTimingClock = "none (--no-timing)";

    /// <summary>
    /// Builds the result: series sorted by op position; peaks over the samples and the final values;
    /// the footprint at peak live is the one sampled at the prepared trace's peak op.
    /// </summary>
    public static EngineResult Build(
        string engine, PreparedTrace trace, IEnumerable<SeriesPoint> samples, ulong finalFootprint, ulong finalRss,
        LatencyHistogram latency, long calls, long wallNs, string footprintSource, string rssSource,
        IReadOnlyDictionary<string, double> extra, string latencyClock = "")
    {
        var series = samples.OrderBy(p => p.Seq).ToList();
        series.Add(new SeriesPoint(trace.OpCount, trace.FinalLiveBytes, finalFootprint, finalRss));
        ulong peakFootprint = 0, peakRss = 0, atPeak = 0;
        foreach (SeriesPoint p in series)
        {
            peakFootprint = Math.Max(peakFootprint, p.FootprintBytes);
            peakRss = Math.Max(peakRss, p.RssBytes);
            if (p.Seq == trace.PeakLiveSeq)
            {
                atPeak = p.FootprintBytes;
            }
        }

        return new EngineResult
        {
            Engine = engine,
            Series = series,
            Latency = latency,
            PeakLiveBytes = trace.PeakLiveBytes,
            FinalLiveBytes = trace.FinalLiveBytes,
            PeakFootprintBytes = peakFootprint,
            FootprintAtPeakLiveBytes = atPeak,
            PeakRssBytes = peakRss,
            FinalFootprintBytes = finalFootprint,
            FinalRssBytes = finalRss,
            Calls = calls,
            WallNs = wallNs,
            FootprintSource = footprintSource,
            RssSource = rssSource,
            Extra = extra,
            LatencyClock = latencyClock,
        };
    }
}
