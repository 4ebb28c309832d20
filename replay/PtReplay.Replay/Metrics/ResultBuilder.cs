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
    /// "at peak live" figures at the prepared trace's peak op. <paramref name="measured"/> gives the engine's times,
    /// pace and figure sources.
    /// </summary>
    public static EngineResult Build(
        string engine, PreparedTrace trace, IEnumerable<SeriesPoint> samples, SeriesPoint final,
        LatencyHistogram latency, EngineMeasurement measured, IReadOnlyDictionary<string, double> extra)
    {
        ArgumentNullException.ThrowIfNull(measured);
        var series = samples.OrderBy(p => p.Seq).ToList();
        series.Add(final with { Seq = trace.OpCount, LiveBytes = trace.FinalLiveBytes });
        return new EngineResult
        {
            Engine = engine,
            Series = series,
            Latency = latency,
            Memory = MemoryFigures.FromSeries(series.ConvertAll(p => p.ToRow()), trace.PeakLiveSeq, trace.PeakLiveBytes, trace.FinalLiveBytes),
            Calls = measured.Calls,
            WallNs = measured.WallNs,
            SamplingNs = measured.SamplingNs,
            Pace = measured.Pace,
            FootprintSource = measured.FootprintSource,
            RssSource = measured.RssSource,
            AddressSpaceSource = measured.AddressSpaceSource,
            AllocatorBytesSource = measured.AllocatorBytesSource,
            Extra = extra,
            LatencyClock = measured.LatencyClock,
        };
    }
}

/// <summary>What an engine measured besides its samples: calls, times, the pace and where each memory column comes from.</summary>
public sealed record EngineMeasurement
{
    /// <summary>Calls executed.</summary>
    public long Calls { get; init; }

    /// <summary>Replay wall time in ns, sampling and pace sleeps excluded.</summary>
    public long WallNs { get; init; }

    /// <summary>Time spent taking samples, in ns.</summary>
    public long SamplingNs { get; init; }

    /// <summary>"max", "recorded" or a factor.</summary>
    public string Pace { get; init; } = "max";

    /// <summary>Where footprint_bytes comes from.</summary>
    public required string FootprintSource { get; init; }

    /// <summary>Where rss_bytes comes from.</summary>
    public required string RssSource { get; init; }

    /// <summary>Where address_space_bytes comes from.</summary>
    public required string AddressSpaceSource { get; init; }

    /// <summary>What allocator_bytes is ("" when the engine reports none).</summary>
    public required string AllocatorBytesSource { get; init; }

    /// <summary>The clock that timed each call.</summary>
    public string LatencyClock { get; init; } = ResultBuilder.NoTimingClock;
}
