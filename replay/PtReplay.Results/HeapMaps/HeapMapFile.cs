namespace PtReplay.Results.HeapMaps;

/// <summary>
/// heapmap.json: the model's heap at one moment of a replay, per arena and per heap (<see cref="HeapMapJson"/> writes it).
/// Invariant: for every heap the bytes by state add up to its extent (end - start).
/// </summary>
public sealed record HeapMapFile
{
    /// <summary>The trace replayed.</summary>
    public string Trace { get; init; } = "";

    /// <summary>The moment asked for: "op N", "peak" or "end".</summary>
    public string At { get; init; } = "";

    /// <summary>Ops of the prepared trace replayed before the walk.</summary>
    public long Ops { get; init; }

    /// <summary>Ops of the prepared trace.</summary>
    public long TotalOps { get; init; }

    /// <summary>What "peak" means here (the first op after which the model's committed footprint is largest).</summary>
    public string PeakDefinition { get; init; } = "";

    /// <summary>The model's committed footprint at the moment (break extent + arena heaps' read/write bytes + mmapped chunks).</summary>
    public ulong CommittedBytes { get; init; }

    /// <summary>The chunk states, in the order of <see cref="HeapMapBuckets.Bytes"/>.</summary>
    public IReadOnlyList<string> States { get; init; } = [];

    /// <summary>The arenas (index 0: main arena).</summary>
    public IReadOnlyList<HeapMapArena> Arenas { get; init; } = [];

    /// <summary>Chunks served by their own mmap (no arena).</summary>
    public HeapMapMmapped Mmapped { get; init; } = new();

    /// <summary>Main-arena bytes not walked (main heap split by an mmap fallback; 0 normally).</summary>
    public ulong UnwalkedMainBytes { get; init; }

    /// <summary>The model's mallinfo2() at the moment.</summary>
    public HeapMapMallinfo Mallinfo2 { get; init; } = new();

    /// <summary>What malloc_trim(0) would give back at the moment (null unless asked for: it costs a second replay).</summary>
    public HeapMapTrim? Trim { get; init; }
}

/// <summary>What malloc_trim(0) returns to the kernel, measured by trimming the model at that moment once the map is read.</summary>
public sealed record HeapMapTrim
{
    /// <summary>Committed footprint given back (break lowered, thread-arena heaps shrunk).</summary>
    public ulong CommittedBytes { get; init; }

    /// <summary>Resident bytes given back (also the pages of free chunks released with madvise(MADV_DONTNEED)).</summary>
    public ulong ResidentBytes { get; init; }
}

/// <summary>One arena of <see cref="HeapMapFile"/>.</summary>
public sealed record HeapMapArena
{
    /// <summary>Creation index (0: main arena).</summary>
    public int Arena { get; init; }

    /// <summary>Sum of its heaps' extents.</summary>
    public ulong ExtentBytes { get; init; }

    /// <summary>Bytes by state over all its heaps.</summary>
    public HeapMapStateBytes Bytes { get; init; } = new();

    /// <summary>Largest free chunk (any bin, tcache or fastbin; top excluded).</summary>
    public ulong LargestFreeChunk { get; init; }

    /// <summary>Free chunks per bin kind (tcache, fastbin, unsorted, small_bin, large_bin).</summary>
    public IReadOnlyList<HeapMapBinRow> BinKinds { get; init; } = [];

    /// <summary>Free chunks per bin kind and chunk size.</summary>
    public IReadOnlyList<HeapMapBinRow> SizeClasses { get; init; } = [];

    /// <summary>Its heaps in address order (the main arena: one break heap).</summary>
    public IReadOnlyList<HeapMapHeap> Heaps { get; init; } = [];
}

/// <summary>One heap (contiguous chunk range) of an arena.</summary>
public sealed record HeapMapHeap
{
    /// <summary>"brk" (main arena) or "heap" (a thread arena's heap).</summary>
    public string Kind { get; init; } = "";

    /// <summary>First chunk's address.</summary>
    public ulong Start { get; init; }

    /// <summary>End of the last chunk (exclusive).</summary>
    public ulong End { get; init; }

    /// <summary>Bytes by state; they add up to End - Start.</summary>
    public HeapMapStateBytes Bytes { get; init; } = new();

    /// <summary>Largest free chunk (top excluded).</summary>
    public ulong LargestFreeChunk { get; init; }

    /// <summary>Bytes per state per address bucket (what the picture draws).</summary>
    public HeapMapBuckets Buckets { get; init; } = new();
}

/// <summary>Bytes per chunk state.</summary>
public sealed record HeapMapStateBytes
{
    /// <summary>Allocated to the program.</summary>
    public ulong InUse { get; init; }

    /// <summary>Free in a tcache.</summary>
    public ulong Tcache { get; init; }

    /// <summary>Free in a fastbin.</summary>
    public ulong Fastbin { get; init; }

    /// <summary>Free in the unsorted bin.</summary>
    public ulong Unsorted { get; init; }

    /// <summary>Free in a small bin.</summary>
    public ulong SmallBin { get; init; }

    /// <summary>Free in a large bin.</summary>
    public ulong LargeBin { get; init; }

    /// <summary>The top chunk.</summary>
    public ulong Top { get; init; }

    /// <summary>Fenceposts closing a full arena heap.</summary>
    public ulong Fencepost { get; init; }
}

/// <summary>Free chunks of one bin kind (and, in size classes, one chunk size).</summary>
public sealed record HeapMapBinRow
{
    /// <summary>tcache, fastbin, unsorted, small_bin or large_bin.</summary>
    public string Kind { get; init; } = "";

    /// <summary>Chunk size (size classes only; 0 in the per-kind rows).</summary>
    public ulong Size { get; init; }

    /// <summary>Chunks.</summary>
    public long Count { get; init; }

    /// <summary>Bytes.</summary>
    public ulong Bytes { get; init; }
}

/// <summary>A heap cut in equal address buckets: Bytes[state][bucket] bytes of that state overlap the bucket.</summary>
public sealed record HeapMapBuckets
{
    /// <summary>Bytes of address space per bucket (the last bucket may be shorter).</summary>
    public ulong BucketBytes { get; init; }

    /// <summary>Per state (the order of <see cref="HeapMapFile.States"/>), bytes per bucket.</summary>
    public IReadOnlyList<IReadOnlyList<ulong>> Bytes { get; init; } = [];
}

/// <summary>The mmapped chunks.</summary>
public sealed record HeapMapMmapped
{
    /// <summary>Chunks.</summary>
    public long Count { get; init; }

    /// <summary>Bytes (chunk sizes).</summary>
    public ulong Bytes { get; init; }

    /// <summary>Largest chunk.</summary>
    public ulong Largest { get; init; }
}

/// <summary>The model's mallinfo2 fields compared with glibc's.</summary>
public sealed record HeapMapMallinfo
{
    /// <summary>Bytes of the arenas (break extent plus arena heaps).</summary>
    public ulong Arena { get; init; }

    /// <summary>In-use bytes of the arenas (tcache chunks count as in use, fastbin chunks as free, as glibc counts them).</summary>
    public ulong Uordblks { get; init; }

    /// <summary>Free bytes of the arenas (bins, fastbins and top).</summary>
    public ulong Fordblks { get; init; }

    /// <summary>Bytes of mmapped chunks.</summary>
    public ulong Hblkhd { get; init; }
}
