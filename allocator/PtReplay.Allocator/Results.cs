namespace PtReplay.Allocator;

/// <summary>The fields of glibc's <c>struct mallinfo2</c>.</summary>
public readonly record struct MallInfo2(
    ulong Arena, ulong Ordblks, ulong Smblks, ulong Hblks, ulong Hblkhd,
    ulong Usmblks, ulong Fsmblks, ulong Uordblks, ulong Fordblks, ulong Keepcost);

/// <summary>
/// Memory of the simulated process (bytes). <see cref="TotalBytes"/> is what mallinfo2 arena + hblkhd would say
/// (heaps counted by their size in use); <see cref="CommittedBytes"/> and <see cref="AddressSpaceBytes"/> are the
/// kernel's view (/proc/self/statm data and size): glibc's shrink_heap only madvises a heap's tail, which stays
/// read/write up to its mprotect_size, and each arena heap reserves HEAP_MAX_SIZE of address space.
/// </summary>
public readonly record struct MemoryFootprint(
    ulong MainHeapBytes, ulong ArenaHeapBytes, ulong MmappedBytes, ulong TotalBytes, ulong ResidentBytes)
{
    /// <summary>Writable private address space: program break extent + every arena heap's mprotect_size + mmapped chunks.</summary>
    public ulong CommittedBytes { get; init; }

    /// <summary>Address space mapped: program break extent + HEAP_MAX_SIZE per arena heap + mmapped chunks.</summary>
    public ulong AddressSpaceBytes { get; init; }
}

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
