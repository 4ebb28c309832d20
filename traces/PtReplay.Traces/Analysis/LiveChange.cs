namespace PtReplay.Traces.Analysis;

/// <summary>What one event did to a <see cref="LiveSet"/> (the rules are in <see cref="LiveSet"/>'s comment).</summary>
public enum LiveChangeKind : byte
{
    /// <summary>Nothing: a marker (thread start/exit, fork, exec) or free(NULL).</summary>
    None,
    /// <summary>A new block is live at the result: an allocating call, realloc(NULL, n), or a realloc whose pointer was not live.</summary>
    Allocated,
    /// <summary>realloc/reallocarray of a live pointer returned a block: the pointer's block is gone and the result's block carries its tag.</summary>
    Reallocated,
    /// <summary>free(p), or realloc(p, 0) returning NULL: p's block is gone (when <see cref="LiveChange.Pointer"/> is <see cref="PointerState.Live"/>; else nothing changed).</summary>
    Freed,
    /// <summary>An allocating call returned NULL; a realloc's pointer stays live with its old size.</summary>
    Failed,
}

/// <summary>What the pointer argument of free/realloc/reallocarray named just before the event.</summary>
public enum PointerState : byte
{
    /// <summary>No pointer argument, or NULL.</summary>
    None,
    /// <summary>A live block (<see cref="LiveChange.Block"/>).</summary>
    Live,
    /// <summary>An address never returned by an allocating call in the trace (or forgotten, see <see cref="LiveSet"/>'s remembered frees).</summary>
    Unknown,
    /// <summary>An address freed before and not returned again since: a double free (or a realloc after free).</summary>
    Freed,
}

/// <summary>A live block: the bytes its caller requested and the caller's 32-bit tag (e.g. a replay slot; 0 until set).</summary>
/// <param name="Bytes">Requested bytes (<see cref="AllocEvent.RequestedBytes"/>).</param>
/// <param name="Tag">The tag given with <see cref="LiveSet.TagResult"/>, carried over by a realloc.</param>
public readonly record struct LiveBlock(ulong Bytes, uint Tag);

/// <summary>
/// The effect of one event on a <see cref="LiveSet"/>, returned by <see cref="LiveSet.Apply"/> (a small value: no allocation).
/// <para>Invariants: <see cref="Block"/> is set exactly when <see cref="Pointer"/> is <see cref="PointerState.Live"/>;
/// <see cref="ResultWasLive"/> only with <see cref="LiveChangeKind.Allocated"/> or <see cref="LiveChangeKind.Reallocated"/>;
/// <see cref="NewPeak"/> only when live bytes grew.</para>
/// </summary>
/// <param name="Kind">What happened to the live set.</param>
/// <param name="Pointer">What the pointer argument named before the event (<see cref="PointerState.Unknown"/> and
/// <see cref="PointerState.Freed"/> are anomalies: the live set was not changed for the pointer).</param>
/// <param name="Block">The pointer's block before the event, when it was live.</param>
/// <param name="ResultWasLive">The returned address was still live (the trace misses a free): its old block was dropped.</param>
/// <param name="NewPeak">Live bytes after the event exceed their value after every earlier event.</param>
/// <param name="ImpossibleSize">The trace says the call succeeded, but it asked for more than <see cref="LiveSet.MaxBlockBytes"/>
/// (or count × size overflowed), which never succeeds: the call counts as <see cref="LiveChangeKind.Failed"/>.</param>
public readonly record struct LiveChange(LiveChangeKind Kind, PointerState Pointer, LiveBlock Block, bool ResultWasLive, bool NewPeak, bool ImpossibleSize = false)
{
    /// <summary>True when the pointer argument was not live (<see cref="PointerState.Unknown"/> or <see cref="PointerState.Freed"/>).</summary>
    public bool BadPointer => Pointer >= PointerState.Unknown;
}
