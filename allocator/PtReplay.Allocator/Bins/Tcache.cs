namespace PtReplay.Allocator.Bins;

/// <summary>
/// A thread's tcache (tcache_perthread_struct): 64 singly linked LIFO lists of free chunks of one size each,
/// with counts. The struct itself lives in a 0x290 chunk the thread allocates on its first malloc/free
/// (<see cref="BlockAddress"/>); counts and heads are mirrored here for speed.
/// Rules: an entry's user memory holds the safe-linked next pointer (+0) and the process tcache key (+8),
/// which marks "in tcache" for the double-free check; a bin never holds more than tcache_count entries;
/// chunks in tcache still look in use to the arena.
/// </summary>
internal sealed class Tcache
{
    /// <summary>TCACHE_MAX_BINS.</summary>
    public const int MaxBins = 64;

    /// <summary>sizeof(tcache_perthread_struct) = 64 * 2 + 64 * 8.</summary>
    public const ulong StructSize = 0x280;

    /// <summary>User address of the block holding the struct.</summary>
    public ulong BlockAddress;

    /// <summary>Entries per bin.</summary>
    public readonly ushort[] Counts = new ushort[MaxBins];

    /// <summary>Head of each bin (user pointers, 0 = empty).</summary>
    public readonly ulong[] Entries = new ulong[MaxBins];
}
