namespace PtReplay.Results;

/// <summary>Latency of one call kind over all size classes, in nanoseconds (summary.json <c>latency_ns.KIND</c>).</summary>
/// <param name="P50">Median.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="P999">99.9th percentile.</param>
/// <param name="Max">Largest.</param>
/// <param name="Count">Calls timed.</param>
public sealed record LatencyFigures(double P50, double P90, double P99, double P999, double Max, long Count);
