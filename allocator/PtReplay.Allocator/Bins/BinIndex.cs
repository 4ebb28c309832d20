using System.Runtime.CompilerServices;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Bins;

/// <summary>
/// Size-to-bin mappings (64-bit).
/// <list type="bullet">
/// <item>tcache: 64 bins, one per chunk size 0x20..0x410 (index (size - 32) / 16).</item>
/// <item>fastbins: 10 bins, one per chunk size 0x20..0xb0 (index size / 16 - 2); only sizes up to global_max_fast are used.</item>
/// <item>bin 1 = unsorted; bins 2..63 = small bins, one exact size each (size / 16, sizes below 1024);
/// bins 64..126 = large bins, ranges of sizes kept sorted largest first.</item>
/// </list>
/// </summary>
internal static class BinIndex
{
    public const int NBins = 128;
    public const int NFastBins = 10;
    public const int BinmapWords = 4;
    public const ulong MinLargeSize = 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InSmallbinRange(ulong size) => size < MinLargeSize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SmallbinIndex(ulong size) => (int)(size >> 4);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int LargebinIndex(ulong s) =>
        (s >> 6) <= 48 ? 48 + (int)(s >> 6) :
        (s >> 9) <= 20 ? 91 + (int)(s >> 9) :
        (s >> 12) <= 10 ? 110 + (int)(s >> 12) :
        (s >> 15) <= 4 ? 119 + (int)(s >> 15) :
        (s >> 18) <= 2 ? 124 + (int)(s >> 18) :
        126;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ulong size) => InSmallbinRange(size) ? SmallbinIndex(size) : LargebinIndex(size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FastbinIndex(ulong size) => (int)(size >> 4) - 2;

    /// <summary>csize2tidx.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TcacheIndex(ulong chunkSize) => (chunkSize - Chunk.MinSize + Chunk.Alignment - 1) / Chunk.Alignment;
}
