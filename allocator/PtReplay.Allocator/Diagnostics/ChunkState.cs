namespace PtReplay.Allocator.Diagnostics;

/// <summary>
/// What a chunk of the model's heap is at one moment, as <see cref="HeapWalker"/> classifies it.
/// Tcache and fastbin chunks look in use to the heap (their next chunk's P bit is set) but are free to the program.
/// </summary>
public enum ChunkState
{
    /// <summary>Allocated to the program.</summary>
    InUse,

    /// <summary>Free, cached in a thread's tcache.</summary>
    Tcache,

    /// <summary>Free, in one of the arena's fastbins.</summary>
    Fastbin,

    /// <summary>Free, in the arena's unsorted bin.</summary>
    Unsorted,

    /// <summary>Free, in a small bin.</summary>
    SmallBin,

    /// <summary>Free, in a large bin.</summary>
    LargeBin,

    /// <summary>The arena's top chunk (the untouched rest of the heap).</summary>
    Top,

    /// <summary>A chunk served by its own mmap.</summary>
    Mmapped,

    /// <summary>The fencepost pair (and slack) closing an arena heap that is not the arena's current one.</summary>
    Fencepost,
}
