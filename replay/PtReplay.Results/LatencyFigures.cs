namespace PtReplay.Results;

/// <summary>Latency of one call kind over all size classes, in nanoseconds (summary.json <c>latency_ns.KIND</c>).</summary>
/// <param name="P50">Median.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="P999">99.9th percentile.</param>
/// <param name="Max">Largest.</param>
/// <param name="Count">Calls timed.</param>
public sealed record LatencyFigures(double P50, double P90, double P99, double P999, double Max, long Count)
{
    /// <summary>The percentile names, in the order <see cref="Named"/> gives them: p50, p90, p99, p999, max.</summary>
    public static IReadOnlyList<string> Names { get; } = ["p50", "p90", "p99", "p999", "max"];

    /// <summary>Each percentile by its name in comparisons (<c>latency.KIND.NAME</c>), in <see cref="Names"/> order.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Named() =>
        [new("p50", P50), new("p90", P90), new("p99", P99), new("p999", P999), new("max", Max)];

    /// <summary>A percentile by its name (see <see cref="Names"/>), or null.</summary>
    public double? Get(string name) => name switch
    {
        "p50" => P50,
        "p90" => P90,
        "p99" => P99,
        "p999" => P999,
        "max" => Max,
        _ => null,
    };
}
