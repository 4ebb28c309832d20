using CsvHelper;

namespace PtReplay.Results;

/// <summary>
/// One row of latency-buckets-ENGINE.csv: how many calls of one kind, in one request-size class (or "all"), took between
/// low_ns and high_ns (one bucket of the replay's log-linear latency histogram; buckets without calls are left out). The
/// rows of a kind and class, in order, give its whole latency distribution (the report's CDF plots).
/// <code>kind,size_class,low_ns,high_ns,count</code>
/// </summary>
[CsvRecord]
public sealed partial record LatencyBucketRow
{
    /// <summary>Call kind as in C: malloc, free, calloc, ...</summary>
    [CsvColumn("kind")]
    public string Kind { get; init; } = "";

    /// <summary>"all", "&lt;=64", ..., "&gt;1048576".</summary>
    [CsvColumn("size_class")]
    public string SizeClass { get; init; } = "all";

    /// <summary>The bucket's lower edge.</summary>
    [CsvColumn("low_ns")]
    public double LowNs { get; init; }

    /// <summary>The bucket's upper edge (inclusive; the top bucket has no upper edge: equal to its lower one).</summary>
    [CsvColumn("high_ns")]
    public double HighNs { get; init; }

    /// <summary>Calls in the bucket.</summary>
    [CsvColumn("count")]
    public long Count { get; init; }
}
