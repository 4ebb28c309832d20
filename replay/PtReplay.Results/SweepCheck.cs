namespace PtReplay.Results;

/// <summary>
/// One figure of one validated point (`sweep --validate`): the model's prediction beside glibc's measured figure from a
/// serial native replay of the same trace under the same tunables.
/// Invariant: <see cref="Equal"/> is <c>Model == Glibc</c>.
/// </summary>
/// <param name="Trace">Index into <see cref="SweepResults.Traces"/>.</param>
/// <param name="Point">The grid point, or <see cref="SweepCheck.DefaultPoint"/> for glibc's defaults (no tunables).</param>
/// <param name="Tunables">The point as GLIBC_TUNABLES ("" for the default point: the recorded malloc environment).</param>
/// <param name="Figure">The figure's summary.json name (one of <see cref="Figures"/>).</param>
/// <param name="Model">The model's figure in bytes.</param>
/// <param name="Glibc">glibc's measured figure in bytes.</param>
/// <param name="Equal">Whether the two are the same.</param>
public sealed record SweepCheck(int Trace, int Point, string Tunables, string Figure, ulong Model, ulong Glibc, bool Equal)
{
    /// <summary>The point index of the default point (glibc's defaults), which is not a grid point.</summary>
    public const int DefaultPoint = -1;

    /// <summary>The figures compared, as summary.json names them.</summary>
    public static IReadOnlyList<string> Figures { get; } =
        ["peak_footprint_bytes", "peak_rss_bytes", "final_footprint_bytes", "final_rss_bytes"];

    /// <summary>The value of <paramref name="figure"/> (one of <see cref="Figures"/>) in <paramref name="memory"/>.</summary>
    public static ulong FigureOf(MemoryFigures memory, string figure)
    {
        ArgumentNullException.ThrowIfNull(memory);
        return figure switch
        {
            "peak_footprint_bytes" => memory.PeakFootprintBytes,
            "peak_rss_bytes" => memory.PeakRssBytes,
            "final_footprint_bytes" => memory.FinalFootprintBytes,
            "final_rss_bytes" => memory.FinalRssBytes,
            _ => throw new ArgumentOutOfRangeException(nameof(figure), figure, "not a validated figure"),
        };
    }
}

/// <summary>Why a trace or point of `sweep --validate` was not compared.</summary>
/// <param name="Trace">Index into <see cref="SweepResults.Traces"/>.</param>
/// <param name="Point">The point, <see cref="SweepCheck.DefaultPoint"/>, or null for the whole trace.</param>
/// <param name="Message">The reason, for a reader.</param>
/// <param name="CannotRun">True when glibc's native replay could not run (exit code 5), false for a deliberate skip.</param>
public sealed record SweepCheckNote(int Trace, int? Point, string Message, bool CannotRun);
