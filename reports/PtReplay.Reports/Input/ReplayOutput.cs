namespace PtReplay.Reports.Input;

/// <summary>
/// One replay output folder as written by `ptreplay replay --out DIR` (DIR/summary.json, DIR/series-ENGINE.csv,
/// DIR/latency-ENGINE.csv), read back for reports, comparisons and gates.
/// </summary>
/// <param name="Name">The workload name: the folder name without a leading "replay-".</param>
/// <param name="SummaryPath">Full path of the summary.json that was read.</param>
/// <param name="Trace">Facts about the replayed trace.</param>
/// <param name="Options">The replay options ("threads", "touch", "tunables", "sample_every") as text.</param>
/// <param name="Engines">One entry per engine, in the order of summary.json.</param>
public sealed record ReplayOutput(
    string Name, string SummaryPath, TraceFacts Trace, IReadOnlyDictionary<string, string> Options, IReadOnlyList<EngineSummary> Engines);

/// <summary>The trace section of summary.json plus the per-kind call counts.</summary>
/// <param name="Path">The trace file replayed.</param>
/// <param name="Figures">Numeric facts in file order: events, calls, ops, threads, slots, peak_live_bytes, ...</param>
/// <param name="CallCounts">Calls per kind (malloc, free, ...), zero counts left out.</param>
public sealed record TraceFacts(string Path, IReadOnlyList<KeyValuePair<string, double>> Figures, IReadOnlyList<KeyValuePair<string, long>> CallCounts);

/// <summary>
/// One engine of a replay. Invariant: either <see cref="Error"/> is set and everything else is empty, or
/// <see cref="Error"/> is null and <see cref="Figures"/> holds the engine's numeric figures.
/// </summary>
/// <param name="Engine">sim, glibc, jemalloc, tcmalloc, mimalloc.</param>
/// <param name="Error">Why the engine could not run, or null.</param>
/// <param name="Figures">Top-level numeric figures of the engine, in file order (peak_live_bytes, ...).</param>
/// <param name="Latency">Latency percentiles per call kind (malloc, free, ...), in file order.</param>
/// <param name="Series">The time series (empty when the CSV is absent).</param>
public sealed record EngineSummary(
    string Engine, string? Error, IReadOnlyList<KeyValuePair<string, double>> Figures,
    IReadOnlyList<KeyValuePair<string, LatencyFigures>> Latency, IReadOnlyList<SeriesSample> Series)
{
    /// <summary>A figure by name, or null.</summary>
    public double? Figure(string name)
    {
        foreach (var (key, value) in Figures)
        {
            if (key == name)
            {
                return value;
            }
        }

        return null;
    }
}

/// <summary>Latency percentiles of one call kind, in nanoseconds.</summary>
public sealed record LatencyFigures(double P50, double P90, double P99, double P999, double Max, long Count);

/// <summary>One sample of series-ENGINE.csv.</summary>
public readonly record struct SeriesSample(long Seq, long LiveBytes, long FootprintBytes, long RssBytes, double Fragmentation);
