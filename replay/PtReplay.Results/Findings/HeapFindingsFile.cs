using PtReplay.Results.HeapMaps;

namespace PtReplay.Results.Findings;

/// <summary>
/// findings.json: why the model's heap holds the memory it holds, in plain figures, at the moments that matter (peak
/// committed footprint and end), and which tunables the model predicts would lower it (<see cref="HeapFindingsJson"/>
/// writes it). Every figure comes from the model's exact chunk layout; nothing is estimated from statistics.
/// </summary>
public sealed record HeapFindingsFile
{
    /// <summary>The trace explained.</summary>
    public string Trace { get; init; } = "";

    /// <summary>The glibc tunables the model ran with ("" for glibc's defaults).</summary>
    public string Tunables { get; init; } = "";

    /// <summary>What a pin is and how its hostage bytes are counted.</summary>
    public string PinDefinition { get; init; } = "";

    /// <summary>The moments explained (peak first, then end).</summary>
    public IReadOnlyList<HeapMoment> Moments { get; init; } = [];

    /// <summary>The model's committed footprint with the run's tunables: largest after any op, and at the end.</summary>
    public FootprintPrediction Baseline { get; init; } = new();

    /// <summary>Tunables the model predicts would lower the peak or end footprint, best first (empty when none would).</summary>
    public IReadOnlyList<TunableSuggestion> Suggestions { get; init; } = [];

    /// <summary>Tunables tried that would not lower it (so a reader knows they were considered).</summary>
    public IReadOnlyList<TunableSuggestion> Rejected { get; init; } = [];

    /// <summary>True when the trace was recorded with call stacks (<c>record --stacks</c>): pins and <see cref="Sites"/> then name allocation sites.</summary>
    public bool StacksRecorded { get; init; }

    /// <summary>
    /// The allocation sites that matter most: the union of the top <see cref="SitesListed"/> by peak live bytes, by calls
    /// and by bytes pinned at any moment (empty without stacks).
    /// </summary>
    public IReadOnlyList<SiteFigures> Sites { get; init; } = [];

    /// <summary>How many sites each ranking of <see cref="Sites"/> contributes.</summary>
    public int SitesListed { get; init; }

    /// <summary>Distinct allocation sites in the trace (listed or not).</summary>
    public long SiteCount { get; init; }
}

/// <summary>The heap at one moment.</summary>
public sealed record HeapMoment
{
    /// <summary>"peak", "end" or "op N".</summary>
    public string At { get; init; } = "";

    /// <summary>Ops of the prepared trace replayed before the moment.</summary>
    public long Ops { get; init; }

    /// <summary>The trace event of the last op replayed (-1 at op 0).</summary>
    public long EventIndex { get; init; }

    /// <summary>Committed footprint (break extent + arena heaps' read/write bytes + mmapped chunks).</summary>
    public ulong CommittedBytes { get; init; }

    /// <summary>Bytes in chunks allocated to the program (arena heaps; headers included).</summary>
    public ulong InUseBytes { get; init; }

    /// <summary>Bytes in free chunks of any kind (tcache, fastbins, bins); top excluded.</summary>
    public ulong FreeBytes { get; init; }

    /// <summary>Bytes in the arenas' top chunks.</summary>
    public ulong TopBytes { get; init; }

    /// <summary>Bytes in mmapped chunks.</summary>
    public ulong MmappedBytes { get; init; }

    /// <summary>Free bytes by bin kind (tcache, fastbin, unsorted, small_bin, large_bin), all arenas.</summary>
    public IReadOnlyList<HeapMapBinRow> FreeByKind { get; init; } = [];

    /// <summary>The size classes holding the most free bytes (bin kind and chunk size), all arenas, at most 10.</summary>
    public IReadOnlyList<HeapMapBinRow> FreeBySize { get; init; } = [];

    /// <summary>Per chunk size class: requested against chunk bytes of the live chunks, and the free chunks' bytes.</summary>
    public IReadOnlyList<SizeClassFigures> SizeClasses { get; init; } = [];

    /// <summary>What malloc_trim(0) would give back at the moment.</summary>
    public HeapMapTrim Trim { get; init; } = new();

    /// <summary>The live chunks that keep the most free memory below them from going back to the kernel, largest first.</summary>
    public IReadOnlyList<HeapPin> Pins { get; init; } = [];

    /// <summary>Live chunks with free memory below them (pins), listed or not.</summary>
    public long PinCount { get; init; }

    /// <summary>Free bytes held by the pins <see cref="Pins"/> leaves out.</summary>
    public ulong PinnedBytesNotListed { get; init; }

    /// <summary>Free bytes pinned below live chunks in all: the listed pins' hostage bytes and those not listed.</summary>
    public ulong PinnedBytes() => Pins.Aggregate(PinnedBytesNotListed, (sum, p) => sum + p.HostageBytes);
}

/// <summary>
/// A live chunk that pins free memory: the free bytes between it and the next live chunk below it in the same heap can go
/// back to the kernel only once it (and every pin above it in that heap) is freed.
/// </summary>
public sealed record HeapPin
{
    /// <summary>The arena (0: main arena).</summary>
    public int Arena { get; init; }

    /// <summary>"brk" or "heap" (a thread arena's heap).</summary>
    public string Heap { get; init; } = "";

    /// <summary>Its place in its heap's chain: 1 for the live chunk highest in the heap.</summary>
    public int Rank { get; init; }

    /// <summary>The user pointer the program holds.</summary>
    public ulong Address { get; init; }

    /// <summary>Chunk size (header included).</summary>
    public ulong ChunkBytes { get; init; }

    /// <summary>Free bytes directly below it, down to the next live chunk: what it holds hostage.</summary>
    public ulong HostageBytes { get; init; }

    /// <summary>Hostage bytes of this pin and every pin above it in the heap: what freeing all of them would release.</summary>
    public ulong CumulativeHostageBytes { get; init; }

    /// <summary>
    /// The trace event that allocated it (-1 when the replay did not allocate it from the trace): an index into the
    /// explained trace, or, when <see cref="AllocatedInTrace"/> is set, into that trace.
    /// </summary>
    public long AllocatedAtEvent { get; init; }

    /// <summary>
    /// Null when the explained trace allocated it; for a forked child's block inherited from its heap at the fork, the
    /// path of the ancestor's trace whose event <see cref="AllocatedAtEvent"/> is.
    /// </summary>
    public string? AllocatedInTrace { get; init; }

    /// <summary>Its age at the moment, in trace events (-1 when unknown, or allocated in another trace).</summary>
    public long AgeEvents { get; init; }

    /// <summary>Recorded time of its allocation, ns after the trace's first op (null when unknown).</summary>
    public long? AllocatedAtNs { get; init; }

    /// <summary>Where it was allocated (null when the trace has no stack for that call).</summary>
    public AllocationSite? Site { get; init; }
}

/// <summary>The model's committed footprint with one set of tunables.</summary>
public sealed record FootprintPrediction
{
    /// <summary>Largest after any op.</summary>
    public ulong PeakCommittedBytes { get; init; }

    /// <summary>After the last op.</summary>
    public ulong EndCommittedBytes { get; init; }
}

/// <summary>A tunable tried on the model, with what it predicts.</summary>
public sealed record TunableSuggestion
{
    /// <summary>The setting, as GLIBC_TUNABLES takes it (appended to the run's own tunables).</summary>
    public string Tunable { get; init; } = "";

    /// <summary>Why it was tried, from the findings.</summary>
    public string Why { get; init; } = "";

    /// <summary>The model's footprint with it.</summary>
    public FootprintPrediction Predicted { get; init; } = new();

    /// <summary>Set when the model could not run with it (an abort); the prediction is then empty.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// One chunk size class at a moment: internal fragmentation (chunk bytes of live chunks beyond what their callers
/// requested) against external (bytes of free chunks of the class).
/// </summary>
public sealed record SizeClassFigures
{
    /// <summary>Smallest chunk size of the class.</summary>
    public ulong MinChunkBytes { get; init; }

    /// <summary>Largest chunk size of the class.</summary>
    public ulong MaxChunkBytes { get; init; }

    /// <summary>Live chunks (allocated from the trace).</summary>
    public long LiveChunks { get; init; }

    /// <summary>Bytes their callers requested (a realloc's new size for a reallocated block).</summary>
    public ulong RequestedBytes { get; init; }

    /// <summary>Their chunk bytes (headers and rounding included).</summary>
    public ulong LiveChunkBytes { get; init; }

    /// <summary>Free chunks (tcache, fastbins, bins).</summary>
    public long FreeChunks { get; init; }

    /// <summary>Their bytes.</summary>
    public ulong FreeBytes { get; init; }
}
