namespace PtReplay.Replay.Metrics;

/// <summary>
/// Everything one engine measured on one trace: the series, the summaries the report and
/// summary.json use, or the reason it could not run.
/// <para>Invariant: <see cref="Error"/> is null exactly when the figures are meaningful.</para>
/// </summary>
public sealed class EngineResult
{
    /// <summary>Engine name: sim, glibc, jemalloc, tcmalloc, mimalloc.</summary>
    public required string Engine { get; init; }
    /// <summary>Why the engine could not run, or null.</summary>
    public string? Error { get; init; }
    /// <summary>Samples in op order.</summary>
    public IReadOnlyList<SeriesPoint> Series { get; init; } = [];
    /// <summary>Latency histogram (null for failed engines).</summary>
    public LatencyHistogram? Latency { get; init; }
    /// <summary>Peak requested bytes live (from the trace).</summary>
    public ulong PeakLiveBytes { get; init; }
    /// <summary>Requested bytes live at the end.</summary>
    public ulong FinalLiveBytes { get; init; }
    /// <summary>Largest sampled footprint (and the final one).</summary>
    public ulong PeakFootprintBytes { get; init; }
    /// <summary>Footprint sampled at the moment live bytes peaked.</summary>
    public ulong FootprintAtPeakLiveBytes { get; init; }
    /// <summary>Largest sampled RSS (and the final one).</summary>
    public ulong PeakRssBytes { get; init; }
    /// <summary>Footprint after the last op.</summary>
    public ulong FinalFootprintBytes { get; init; }
    /// <summary>RSS after the last op.</summary>
    public ulong FinalRssBytes { get; init; }
    /// <summary>Calls executed.</summary>
    public long Calls { get; init; }
    /// <summary>Replay wall time in ns (all threads).</summary>
    public long WallNs { get; init; }
    /// <summary>Where the footprint figure comes from.</summary>
    public string FootprintSource { get; init; } = "";
    /// <summary>Where the RSS figure comes from.</summary>
    public string RssSource { get; init; } = "";
    /// <summary>The clock that timed each call (name, how it is read, ticks/ns), or "none (--no-timing)".</summary>
    public string LatencyClock { get; init; } = "";
    /// <summary>Engine-specific extra figures (cross-thread waits, mallinfo2 fields, ...).</summary>
    public IReadOnlyDictionary<string, double> Extra { get; init; } = new Dictionary<string, double>();

    /// <summary>Johnstone and Wilson: footprint at the moment of peak live over peak live (0 when nothing was live).</summary>
    public double FootprintAtPeakLiveRatio => PeakLiveBytes == 0 ? 0 : (double)FootprintAtPeakLiveBytes / PeakLiveBytes;

    /// <summary>Johnstone and Wilson: peak footprint over peak live (0 when nothing was live).</summary>
    public double PeakFootprintRatio => PeakLiveBytes == 0 ? 0 : (double)PeakFootprintBytes / PeakLiveBytes;

    /// <summary>A result for an engine that could not run.</summary>
    public static EngineResult Failed(string engine, string error) => new() { Engine = engine, Error = error };
}
