namespace PtReplay.Allocator;

/// <summary>The fields of glibc's <c>struct mallinfo2</c>.</summary>
public readonly record struct MallInfo2(
    ulong Arena, ulong Ordblks, ulong Smblks, ulong Hblks, ulong Hblkhd,
    ulong Usmblks, ulong Fsmblks, ulong Uordblks, ulong Fordblks, ulong Keepcost);

/// <summary>Address-space footprint of the simulated process (bytes).</summary>
public readonly record struct MemoryFootprint(
    ulong MainHeapBytes, ulong ArenaHeapBytes, ulong MmappedBytes, ulong TotalBytes, ulong ResidentBytes);

/// <summary>Where a user pointer lives.</summary>
public enum AddressRegion
{
    /// <summary>Not a chunk the model knows.</summary>
    Unknown,
    /// <summary>A chunk of the main arena (program break).</summary>
    MainHeap,
    /// <summary>A chunk inside a heap of a non-main arena.</summary>
    ArenaHeap,
    /// <summary>A chunk mmapped on its own.</summary>
    Mmapped,
}

/// <summary>
/// Position-independent description of a user pointer, as <c>verify</c> compares it:
/// main-heap chunks by <see cref="Offset"/> from brk0, arena chunks by (<see cref="ArenaIndex"/>,
/// <see cref="HeapIndex"/>, <see cref="Offset"/> in that heap), mmapped chunks by sizes.
/// </summary>
public readonly record struct AddressInfo(
    AddressRegion Region, ulong Offset, int ArenaIndex, int HeapIndex, ulong ChunkSize, ulong UsableSize)
{
    /// <summary>Mmapped chunks: bytes between the mapping start and the chunk (non-zero after memalign); the mapping is MmapOffset + ChunkSize long.</summary>
    public ulong MmapOffset { get; init; }
}
