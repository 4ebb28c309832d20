namespace PtReplay.Results;

/// <summary>
/// Garbage collections of the .NET runtime around the model's (sim engine's) timed replay: the model's latency and wall
/// time are the model's only when no collection fell inside them. Counted in process (<c>GC.CollectionCount</c> deltas)
/// always and, with <c>replay --gc-proof</c>, from the runtime's own GC events (an EventPipe session with the GC keyword
/// at Informational level, the timed windows marked by the harness's phase events).
/// Invariants: <see cref="CollectionsInTimedReplay"/> ≤ <see cref="CollectionsTotal"/>; when the proof ran and holds
/// (<see cref="EventsLost"/> = 0), <see cref="CollectionsInTimedWindows"/> equals
/// <see cref="CollectionsInTimedWindowsInProcess"/>. The model's steady state allocates nothing per call, so a replay is
/// expected to show none in its timed windows; one there is a finding (the report flags it), not a figure to hide.
/// </summary>
public sealed record GcFigures
{
    /// <summary>Collections (of any generation) from the first timed call to the last: each may have fallen inside a timed call.</summary>
    public long CollectionsInTimedReplay { get; init; }

    /// <summary>Collections over the whole engine run: preparation excluded, warm-up and sampling included.</summary>
    public long CollectionsTotal { get; init; }

    /// <summary>Time the runtime was paused for collections during the timed replay, in ns.</summary>
    public long PauseNsInTimedReplay { get; init; }

    /// <summary>The managed heap's size after the replay, in bytes (<c>GC.GetTotalMemory(false)</c>).</summary>
    public long HeapBytes { get; init; }

    /// <summary>How the counts were taken.</summary>
    public string Source { get; init; } = "";

    /// <summary>
    /// Timed windows of the replay: one from the first timed call to the last; a trace that forks starts a new one for the
    /// child (what came before the fork was timed too, then discarded).
    /// </summary>
    public int TimedWindows { get; init; }

    /// <summary>
    /// Collections that ran at some moment inside a timed window, counted from the runtime's GCStart/GCStop events
    /// (<c>--gc-proof</c>); null when the replay ran without the proof.
    /// </summary>
    public long? CollectionsInTimedWindows { get; init; }

    /// <summary>The same windows' collections counted in process (<c>GC.CollectionCount</c> deltas, summed): the cross-check.</summary>
    public long CollectionsInTimedWindowsInProcess { get; init; }

    /// <summary>Collections during the model's warm-up, from the runtime's events (<c>--gc-proof</c>); null without the proof.</summary>
    public long? CollectionsInWarmUp { get; init; }

    /// <summary>Events the session lost (its buffers were full): the proof holds only at 0; null without the proof.</summary>
    public long? EventsLost { get; init; }

    /// <summary>
    /// Managed bytes the thread that copied the session's events to a file allocated while it ran (the in-process
    /// session's own share of the heap); null without the proof.
    /// </summary>
    public long? SessionAllocatedBytes { get; init; }

    /// <summary>
    /// Managed bytes the replay thread allocated inside its timed windows (<c>GC.GetAllocatedBytesForCurrentThread</c>):
    /// the model's calls, sampling and progress reports; the model's calls alone allocate nothing in steady state.
    /// </summary>
    public long AllocatedBytesInTimedWindows { get; init; }

    /// <summary>The managed heap's size at the last collection, in bytes (<c>GCMemoryInfo.HeapSizeBytes</c>); null when none ran.</summary>
    public long? HeapSizeBytes { get; init; }

    /// <summary>The managed heap's committed memory at the last collection, in bytes; null when none ran.</summary>
    public long? HeapCommittedBytes { get; init; }

    /// <summary>Free space inside the managed heap at the last collection, in bytes; null when none ran.</summary>
    public long? HeapFragmentedBytes { get; init; }

    /// <summary>
    /// True when the proof ran and holds: no event lost, every window closed, and the runtime's count equal to the in-process
    /// count. Null without the proof.
    /// </summary>
    public bool? ProofHolds { get; init; }
}
