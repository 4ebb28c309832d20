using CsvHelper;

namespace PtReplay.Results;

/// <summary>
/// One row of latency-ENGINE.csv: the latency of one call kind in one request-size class (or "all"), in nanoseconds.
/// Percentiles are bucket midpoints of the log-linear histogram (within 1/16); max is the top bucket's upper edge.
/// The CsvHelper source generator writes the one mapping that <see cref="LatencyCsv"/> uses to write and to read:
/// <code>kind,size_class,count,p50_ns,p90_ns,p99_ns,p999_ns,max_ns</code>
/// </summary>
[CsvRecord]
public sealed partial record LatencyRow
{
    /// <summary>Call kind as in C: malloc, free, calloc, ...</summary>
    [CsvColumn("kind")]
    public string Kind { get; init; } = "";

    /// <summary>"all", "&lt;=64", ..., "&gt;1048576".</summary>
    [CsvColumn("size_class")]
    public string SizeClass { get; init; } = "all";

    /// <summary>Calls timed.</summary>
    [CsvColumn("count")]
    public long Count { get; init; }

    /// <summary>Median.</summary>
    [CsvColumn("p50_ns")]
    public double P50Ns { get; init; }

    /// <summary>90th percentile.</summary>
    [CsvColumn("p90_ns")]
    public double P90Ns { get; init; }

    /// <summary>99th percentile.</summary>
    [CsvColumn("p99_ns")]
    public double P99Ns { get; init; }

    /// <summary>99.9th percentile.</summary>
    [CsvColumn("p999_ns")]
    public double P999Ns { get; init; }

    /// <summary>Largest.</summary>
    [CsvColumn("max_ns")]
    public double MaxNs { get; init; }
}
