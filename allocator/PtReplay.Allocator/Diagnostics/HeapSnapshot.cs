namespace PtReplay.Allocator.Diagnostics;

/// <summary>Every chunk of the model at one moment (<see cref="Ptmalloc.WalkHeap"/>), grouped in regions sorted by address.</summary>
public sealed class HeapSnapshot
{
    /// <summary>The regions in address order.</summary>
    public required IReadOnlyList<HeapRegion> Regions { get; init; }

    /// <summary>Number of arenas (main included).</summary>
    public required int ArenaCount { get; init; }

    /// <summary>
    /// Main-arena bytes the heap walk could not follow: after an mmap fallback the main heap is split in
    /// non-contiguous regions; they are counted here, not walked (0 while the break heap is contiguous).
    /// </summary>
    public ulong UnwalkedMainBytes { get; init; }
}
