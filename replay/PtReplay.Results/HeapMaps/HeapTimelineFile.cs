namespace PtReplay.Results.HeapMaps;

/// <summary>
/// The model's heap over a whole replay (`heapmap --over-time`): per heap, at evenly spaced moments, which chunk state
/// holds the most bytes in each address bucket. Aggregated to cells, never one entry per chunk, so a 16 M-call trace with
/// a 1 GiB heap costs the same to store and draw as a small one.
/// Invariant: every panel has <c>Moments.Count</c> rows of <c>Buckets</c> cells; a cell is an index into
/// <see cref="States"/>, or -1 where the heap did not reach at that moment.
/// </summary>
public sealed record HeapTimelineFile
{
    /// <summary>The trace replayed.</summary>
    public string Trace { get; init; } = "";

    /// <summary>Ops of the prepared trace.</summary>
    public long TotalOps { get; init; }

    /// <summary>The chunk states cells refer to, in order.</summary>
    public IReadOnlyList<string> States { get; init; } = [];

    /// <summary>The ops after which the heap was looked at (increasing).</summary>
    public IReadOnlyList<long> Moments { get; init; } = [];

    /// <summary>Recorded time of each moment, ns after the trace's first op (empty when the preparation kept no times).</summary>
    public IReadOnlyList<long> MomentTimesNs { get; init; } = [];

    /// <summary>One panel per heap: the main arena's break heap first, then thread-arena heaps by arena and address.</summary>
    public IReadOnlyList<HeapTimelinePanel> Panels { get; init; } = [];

    /// <summary>Heaps left out (beyond the panel limit).</summary>
    public int PanelsLeftOut { get; init; }

    /// <summary>Largest bytes in mmapped chunks at any moment (they lie outside every heap and are not drawn).</summary>
    public ulong PeakMmappedBytes { get; init; }
}

/// <summary>One heap of <see cref="HeapTimelineFile"/>.</summary>
public sealed record HeapTimelinePanel
{
    /// <summary>The arena (0: main arena).</summary>
    public int Arena { get; init; }

    /// <summary>"brk" or "heap".</summary>
    public string Kind { get; init; } = "";

    /// <summary>Address of the heap's first chunk.</summary>
    public ulong Start { get; init; }

    /// <summary>Bytes the address axis spans (the heap's largest extent over the replay).</summary>
    public ulong SpanBytes { get; init; }

    /// <summary>Bytes per address bucket.</summary>
    public ulong BucketBytes { get; init; }

    /// <summary>Cells[moment][bucket]: the state holding the most bytes there, or -1.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Cells { get; init; } = [];
}
