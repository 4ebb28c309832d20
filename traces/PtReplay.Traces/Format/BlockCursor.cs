namespace PtReplay.Traces.Format;

/// <summary>
/// One ordered source of events for the reader's merge: the blocks of one kernel thread of a raw recording
/// (non-mixed blocks with that tid, in file order), or the mixed blocks of a packed file.
/// <para>Invariant: <c>Events[Position..Count]</c> are the not yet delivered events of the block at
/// <see cref="BlockOffset"/>, in order; when Position == Count the cursor needs its next block.</para>
/// </summary>
internal sealed class BlockCursor
{
    /// <summary>Offsets of this source's blocks not loaded yet; null for the sequential cursor of a file of only mixed blocks (it walks the file instead).</summary>
    public Queue<long>? Pending;
    /// <summary>Next offset to examine (sequential cursor only).</summary>
    public long NextOffset;
    /// <summary>The decoded events of the current block (Thread = kernel tid).</summary>
    public AllocEvent[] Events = [];
    public int Position;
    public int Count;
    /// <summary>File offset of the current block: the tie-break between equal timestamps (file order).</summary>
    public long BlockOffset;

    /// <summary>Timestamp of the next event.</summary>
    public long HeadTimestamp => Events[Position].Timestamp;
}
