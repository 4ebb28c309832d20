namespace PtReplay.Results;

/// <summary>
/// A distribution in power-of-two buckets (summary.json <c>trace.sizes</c>, <c>trace.lifetime_calls</c>,
/// <c>trace.lifetime_ns</c>): bucket k holds the values in [2^k, 2^(k+1)), bucket 0 also 0. Only buckets with a count are
/// listed, in increasing order.
/// </summary>
public sealed record Distribution
{
    /// <summary>What is counted and in what unit.</summary>
    public string Of { get; init; } = "";

    /// <summary>The non-empty buckets.</summary>
    public IReadOnlyList<DistributionBucket> Buckets { get; init; } = [];

    /// <summary>Values counted.</summary>
    public long Total() => Buckets.Sum(b => b.Count);
}

/// <summary>One bucket of a <see cref="Distribution"/>: values from <paramref name="Min"/> to <paramref name="Max"/> inclusive.</summary>
/// <param name="Min">Smallest value of the bucket.</param>
/// <param name="Max">Largest value of the bucket.</param>
/// <param name="Count">Values in it.</param>
public sealed record DistributionBucket(ulong Min, ulong Max, long Count);
