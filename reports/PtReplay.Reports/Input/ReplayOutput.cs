using PtReplay.Results;
using PtReplay.Results.Findings;

namespace PtReplay.Reports.Input;

/// <summary>
/// One replay output folder as written by `ptreplay replay --out DIR` (DIR/summary.json, DIR/series-ENGINE.csv),
/// read back for reports, comparisons and gates.
/// </summary>
/// <param name="Name">The workload name: the folder name without a leading "replay-".</param>
/// <param name="SummaryPath">Full path of the summary.json that was read.</param>
/// <param name="Summary">The summary as written.</param>
/// <param name="Engines">One entry per engine, in the order of summary.json, with its series.</param>
public sealed record ReplayOutput(string Name, string SummaryPath, ReplaySummary Summary, IReadOnlyList<EngineOutput> Engines)
{
    /// <summary>Facts about the replayed trace.</summary>
    public TraceSummary Trace => Summary.Trace;

    /// <summary>The model's findings (DIR/findings.json, written by `replay --explain`), or null.</summary>
    public HeapFindingsFile? Findings { get; init; }

    /// <summary>The recording's live bytes by request size class over time (DIR/live-by-size.csv; empty when absent).</summary>
    public IReadOnlyList<LiveBySizeRow> LiveBySize { get; init; } = [];

    /// <summary>The replay's settings as the report shows them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Options => Summary.Options.Describe();
}

/// <summary>
/// One engine of a replay output. Invariant: either <see cref="Error"/> is set and the figures and series are empty, or it
/// is null and <see cref="Figures"/> holds the engine's numeric figures.
/// </summary>
/// <param name="Summary">The engine's entry in summary.json.</param>
/// <param name="Series">Its time series (empty when the CSV is absent or the series was not asked for).</param>
public sealed record EngineOutput(EngineSummary Summary, IReadOnlyList<SeriesRow> Series)
{
    /// <summary>sim, glibc, jemalloc, tcmalloc, mimalloc.</summary>
    public string Engine => Summary.Engine;

    /// <summary>Why the engine could not run, or null.</summary>
    public string? Error => Summary.Error;

    /// <summary>Numeric memory and timing figures by their summary.json names, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Figures => Summary.NumericFigures();

    /// <summary>Latency per call kind, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, LatencyFigures>> Latency =>
        Summary.Timing is { } t ? [.. t.LatencyNs] : [];

    /// <summary>Its latency table (latency-ENGINE.csv: per kind, all sizes then each size class; empty when absent).</summary>
    public IReadOnlyList<LatencyRow> LatencyRows { get; init; } = [];

    /// <summary>Its latency histogram's non-empty buckets (latency-buckets-ENGINE.csv; empty when absent).</summary>
    public IReadOnlyList<LatencyBucketRow> LatencyBuckets { get; init; } = [];

    /// <summary>A figure by name, or null.</summary>
    public double? Figure(string name) => Summary.Figure(name);
}
