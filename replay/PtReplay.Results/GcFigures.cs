namespace PtReplay.Results;

/// <summary>
/// Garbage collections of the .NET runtime around the model's (sim engine's) timed replay, counted in process
/// (<c>GC.CollectionCount</c> deltas): the model's latency and wall time are the model's only when no collection fell
/// inside them. Invariant: <see cref="CollectionsInTimedReplay"/> ≤ <see cref="CollectionsTotal"/>. The model's steady
/// state allocates nothing per call, so a replay is expected to show none in its timed part; one there is a finding
/// (the report flags it), not a figure to hide.
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
}
