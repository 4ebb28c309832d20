using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Analysis;

/// <summary>
/// The request-size classes every per-size figure uses (latency by size, live bytes by size over time):
/// class c holds requests of at most <see cref="Limits"/>[c] bytes and more than the limit before it; the last
/// class holds everything above 1 MiB. The native replayer buckets latency with the same limits.
/// </summary>
public static class RequestSizeClass
{
    /// <summary>Number of classes.</summary>
    public const int Count = 8;

    /// <summary>Upper bounds (inclusive) of classes 0..6; class 7 is everything larger.</summary>
    public static ReadOnlySpan<ulong> Limits => [64, 256, 1024, 4096, 32768, 131072, 1048576];

    /// <summary>The class of a request of <paramref name="bytes"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ulong bytes)
    {
        ulong x = bytes == 0 ? 0 : bytes - 1;
        int bits = x == 0 ? 0 : 64 - BitOperations.LeadingZeroCount(x);
        return bits switch
        {
            <= 6 => 0,
            <= 8 => 1,
            <= 10 => 2,
            <= 12 => 3,
            <= 15 => 4,
            <= 17 => 5,
            <= 20 => 6,
            _ => 7,
        };
    }

    /// <summary>"&lt;=64", ..., "&gt;1048576"; "all" for -1.</summary>
    public static string Name(int sizeClass) => sizeClass switch
    {
        < 0 => "all",
        < Count - 1 => "<=" + Limits[sizeClass].ToString(CultureInfo.InvariantCulture),
        _ => ">" + Limits[Count - 2].ToString(CultureInfo.InvariantCulture),
    };
}
