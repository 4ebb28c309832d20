namespace PtReplay.Results;

/// <summary>The best point of one trace for one figure.</summary>
/// <param name="Trace">Index into <see cref="SweepResults.Traces"/>.</param>
/// <param name="Figure">The figure's summary.json name.</param>
/// <param name="Point">The point with the smallest value (the lowest index among equals).</param>
/// <param name="Value">That value.</param>
public sealed record SweepBest(int Trace, string Figure, int Point, double Value)
{
    /// <summary>The figures a sweep ranks points by, smaller being better.</summary>
    public static IReadOnlyList<string> Figures { get; } = ["peak_footprint_bytes", "final_rss_bytes", "jw_peak_rss_over_peak_live"];

    /// <summary>The value of <paramref name="figure"/> (one of <see cref="Figures"/>) in <paramref name="memory"/>.</summary>
    public static double FigureOf(MemoryFigures memory, string figure)
    {
        ArgumentNullException.ThrowIfNull(memory);
        return figure switch
        {
            "peak_footprint_bytes" => memory.PeakFootprintBytes,
            "final_rss_bytes" => memory.FinalRssBytes,
            "jw_peak_rss_over_peak_live" => memory.JwPeakRssOverPeakLive,
            _ => throw new ArgumentOutOfRangeException(nameof(figure), figure, "not a sweep figure"),
        };
    }

    /// <summary>Per trace (ascending) and figure, the best of the points that ran without error.</summary>
    public static IReadOnlyList<SweepBest> Of(IEnumerable<SweepPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var best = new List<SweepBest>();
        foreach (var trace in points.Where(p => p.Memory is not null).GroupBy(p => p.Trace).OrderBy(g => g.Key))
        {
            foreach (string figure in Figures)
            {
                SweepPoint winner = trace.OrderBy(p => FigureOf(p.Memory!, figure)).ThenBy(p => p.Point).First();
                best.Add(new SweepBest(trace.Key, figure, winner.Point, FigureOf(winner.Memory!, figure)));
            }
        }

        return best;
    }
}
