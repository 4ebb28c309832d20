using System.Numerics;
using PtReplay.Results;

namespace PtReplay.Replay.Preparation;

/// <summary>Counts values in power-of-two buckets (bucket k: [2^k, 2^(k+1)); 0 goes to bucket 0). Adding allocates nothing.</summary>
public sealed class Log2Histogram
{
    private readonly long[] _counts = new long[64];

    /// <summary>Counts one value.</summary>
    public void Add(ulong value) => _counts[value == 0 ? 0 : BitOperations.Log2(value)]++;

    /// <summary>The non-empty buckets as a <see cref="Distribution"/> of <paramref name="of"/>.</summary>
    public Distribution ToDistribution(string of)
    {
        var buckets = new List<DistributionBucket>();
        for (int k = 0; k < _counts.Length; k++)
        {
            if (_counts[k] != 0)
            {
                ulong min = k == 0 ? 0 : 1UL << k;
                ulong max = k == 63 ? ulong.MaxValue : (1UL << (k + 1)) - 1;
                buckets.Add(new DistributionBucket(min, max, _counts[k]));
            }
        }

        return new Distribution { Of = of, Buckets = buckets };
    }
}
