namespace PtReplay.Results;

/// <summary>
/// The figures of an engine replayed several times (<see cref="EngineRun"/>): the medians summary.json gives as the engine's
/// top-level timing, and the per-run values of one figure that `compare` tests over the runs.
/// </summary>
public static class RunStatistics
{
    /// <summary>The median of <paramref name="values"/> (the mean of the two middle ones for an even count); 0 when empty.</summary>
    public static double Median(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
        {
            return 0;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// Per call kind, each percentile's median over <paramref name="runs"/> (kinds in the first run's order; the count is
    /// the first run's: every run replays the same calls).
    /// </summary>
    public static Dictionary<string, LatencyFigures> MedianLatency(IReadOnlyList<EngineRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var medians = new Dictionary<string, LatencyFigures>(StringComparer.Ordinal);
        if (runs.Count == 0)
        {
            return medians;
        }

        foreach (var (kind, first) in runs[0].LatencyNs)
        {
            var all = runs.Select(r => r.LatencyNs.GetValueOrDefault(kind)).OfType<LatencyFigures>().ToList();
            medians[kind] = new LatencyFigures(
                FigureMath.Round(Median(all.Select(l => l.P50))), FigureMath.Round(Median(all.Select(l => l.P90))),
                FigureMath.Round(Median(all.Select(l => l.P99))), FigureMath.Round(Median(all.Select(l => l.P999))),
                FigureMath.Round(Median(all.Select(l => l.Max))), first.Count);
        }

        return medians;
    }

    /// <summary>
    /// True for the figures that vary from run to run of the same replay (<c>latency.KIND.pNN</c>, <c>wall_ns</c>); every
    /// other figure of a serial replay (live bytes, the model's figures) is the same in every run.
    /// </summary>
    public static bool VariesByRun(string figure)
    {
        ArgumentNullException.ThrowIfNull(figure);
        return figure == "wall_ns" || figure.StartsWith("latency.", StringComparison.Ordinal);
    }

    /// <summary>
    /// The value of <paramref name="figure"/> in each run, in run order: <c>latency.KIND.pNN</c> (and <c>.max</c>),
    /// <c>wall_ns</c>, or a memory figure by its summary.json name; null for any other figure or when a run lacks it.
    /// </summary>
    public static IReadOnlyList<double>? Values(IReadOnlyList<EngineRun> runs, string figure)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(figure);
        if (figure == "wall_ns")
        {
            return [.. runs.Select(r => (double)r.WallNs)];
        }

        string[] parts = figure.Split('.');
        var values = new List<double>(runs.Count);
        foreach (EngineRun run in runs)
        {
            double? value = parts.Length == 3 && parts[0] == "latency"
                ? run.LatencyNs.GetValueOrDefault(parts[1])?.Get(parts[2])
                : Memory(run, figure);
            if (value is not { } v)
            {
                return null;
            }

            values.Add(v);
        }

        return values;
    }

    private static double? Memory(EngineRun run, string figure)
    {
        foreach (var (name, value) in SummaryFile.Numbers(run.Memory))
        {
            if (name == figure)
            {
                return value;
            }
        }

        return null;
    }
}
