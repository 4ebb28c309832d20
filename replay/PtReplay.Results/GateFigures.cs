namespace PtReplay.Results;

/// <summary>
/// The figures the model's regression gate compares with exact equality (reports/baseline/model-baseline.json): the
/// deterministic memory figures of the model under their summary.json names, and its address parity with the recording.
/// </summary>
public static class GateFigures
{
    /// <summary>Figure names, in baseline order.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
        "peak_rss_bytes", "final_rss_bytes", ParityIdentical, ParityAllocations,
    ];

    /// <summary>Allocations whose address matched the recording.</summary>
    public const string ParityIdentical = "parity_identical";

    /// <summary>Allocations compared.</summary>
    public const string ParityAllocations = "parity_allocations";

    /// <summary>The gate's figures of one model run: the memory figures named in <see cref="Names"/>, then the parity.</summary>
    public static IReadOnlyDictionary<string, long> Of(MemoryFigures memory, long parityIdentical, long parityAllocations)
    {
        var figures = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, value) in SummaryFile.Numbers(memory))
        {
            if (Names.Contains(name))
            {
                figures[name] = (long)value;
            }
        }

        figures[ParityIdentical] = parityIdentical;
        figures[ParityAllocations] = parityAllocations;
        return figures;
    }
}
