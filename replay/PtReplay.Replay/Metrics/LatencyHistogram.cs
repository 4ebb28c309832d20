using PtReplay.Traces.Analysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace PtReplay.Replay.Metrics;

/// <summary>
/// Log-linear latency histogram per call kind and size class, in clock ticks; the same bucket
/// scheme as the native replayer (results_format.h), so native and model figures are comparable.
/// <code>
/// ticks  0..15        -> bucket = ticks (exact)
/// ticks  >= 16        -> msb = floor(log2 ticks); bucket = (msb - 3) * 16 + next 4 bits below msb
///                        (16 buckets per power of two: relative error below 1/16)
/// </code>
/// Size classes: &lt;=64, &lt;=256, &lt;=1K, &lt;=4K, &lt;=32K, &lt;=128K, &lt;=1M, larger (bytes requested; for free, the block's size).
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Rows by call kind (index = EventKind value, 0 unused).</summary>
    public const int Kinds = 11;
    /// <summary>Size classes.</summary>
    public const int SizeClasses = RequestSizeClass.Count;
    /// <summary>Buckets per (kind, class).</summary>
    public const int Buckets = 976;

    private readonly long[] _counts = new long[Kinds * SizeClasses * Buckets];

    /// <summary>Creates an empty histogram whose ticks convert to ns at the given rate.</summary>
    public LatencyHistogram(double ticksPerNs) => TicksPerNs = ticksPerNs > 0 ? ticksPerNs : 1;

    /// <summary>Clock ticks per nanosecond.</summary>
    public double TicksPerNs { get; }

    /// <summary>Raw counts, [kind][class][bucket] flattened (for merging native data).</summary>
    public Span<long> Counts => _counts;

    /// <summary>Size class of a byte count (<see cref="RequestSizeClass.Of"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeClass(ulong bytes) => RequestSizeClass.Of(bytes);

    /// <summary>Bucket of a tick count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bucket(ulong ticks)
    {
        if (ticks < 16)
        {
            return (int)ticks;
        }

        int msb = 63 - BitOperations.LeadingZeroCount(ticks);
        return ((msb - 3) * 16) + (int)((ticks >> (msb - 4)) & 15);
    }

    /// <summary>Lowest tick count that falls in a bucket.</summary>
    public static ulong BucketLow(int bucket)
    {
        if (bucket < 16)
        {
            return (ulong)bucket;
        }

        int msb = (bucket / 16) + 3;
        ulong sub = (ulong)(bucket % 16);
        return (1UL << msb) | (sub << (msb - 4));
    }

    /// <summary>Highest tick count that falls in a bucket.</summary>
    public static ulong BucketHigh(int bucket) => bucket + 1 >= Buckets ? ulong.MaxValue : BucketLow(bucket + 1) - 1;

    /// <summary>Counts one call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Record(int kind, ulong bytes, ulong ticks) =>
        _counts[(((kind * SizeClasses) + SizeClass(bytes)) * Buckets) + Bucket(ticks)]++;

    /// <summary>Adds raw counts for one (kind, class) row.</summary>
    public void AddRow(int kind, int sizeClass, ReadOnlySpan<ulong> buckets)
    {
        Span<long> row = _counts.AsSpan(((kind * SizeClasses) + sizeClass) * Buckets, Buckets);
        for (int i = 0; i < Buckets; i++)
        {
            row[i] += (long)buckets[i];
        }
    }

    /// <summary>The bucket counts of one kind over all size classes (<paramref name="sizeClass"/> -1) or one class.</summary>
    public long[] Merged(int kind, int sizeClass = -1)
    {
        var merged = new long[Buckets];
        int from = sizeClass < 0 ? 0 : sizeClass, to = sizeClass < 0 ? SizeClasses : sizeClass + 1;
        for (int c = from; c < to; c++)
        {
            ReadOnlySpan<long> row = _counts.AsSpan(((kind * SizeClasses) + c) * Buckets, Buckets);
            for (int i = 0; i < Buckets; i++)
            {
                merged[i] += row[i];
            }
        }

        return merged;
    }

    /// <summary>Latency figures of one kind over all size classes (or one class); null when no call of it was timed.</summary>
    public LatencySummary? Summarize(int kind, int sizeClass = -1)
    {
        long[] merged = Merged(kind, sizeClass);

        long total = 0;
        foreach (long n in merged)
        {
            total += n;
        }

        if (total == 0)
        {
            return null;
        }

        int maxBucket = Array.FindLastIndex(merged, n => n > 0);
        return new LatencySummary(
            total,
            Percentile(merged, total, 0.50),
            Percentile(merged, total, 0.90),
            Percentile(merged, total, 0.99),
            Percentile(merged, total, 0.999),
            ToNs(BucketHigh(maxBucket) == ulong.MaxValue ? BucketLow(maxBucket) : BucketHigh(maxBucket)));
    }

    /// <summary>The value at quantile q: the midpoint of the bucket holding the ceil(q*total)-th call.</summary>
    private double Percentile(long[] merged, long total, double q)
    {
        long rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (int i = 0; i < merged.Length; i++)
        {
            seen += merged[i];
            if (seen >= rank)
            {
                ulong lo = BucketLow(i), hi = BucketHigh(i);
                return ToNs(hi == ulong.MaxValue ? lo : (lo + hi) / 2.0);
            }
        }

        return 0;
    }

    private double ToNs(double ticks) => ticks / TicksPerNs;
}

/// <summary>Latency of one call kind in nanoseconds (percentiles are bucket midpoints, within 1/16; max is the top bucket's upper edge).</summary>
/// <param name="Count">Calls timed.</param>
/// <param name="P50">Median.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="P999">99.9th percentile.</param>
/// <param name="Max">Largest.</param>
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max);
