namespace PtReplay.Traces.Format;

/// <summary>
/// One ordered source of events for the reader: the blocks of one kernel thread of a raw recording
/// (non-mixed blocks with that tid, in file order), or the mixed blocks of a packed file.
/// <para>Invariants: <see cref="Raw"/> holds the decoded payload of the block at <see cref="BlockOffset"/>
/// (padded, <see cref="BlockDecoder.Padding"/> zero bytes after it) while <see cref="BlockActive"/>;
/// <see cref="State"/> says how far it has been decoded. In merge mode, <c>Events[Position..Count]</c> are the
/// decoded, not yet delivered events (a chunk of at most <see cref="ChunkEvents"/>, small enough to stay in cache).</para>
/// </summary>
internal sealed class BlockCursor
{
    /// <summary>Events decoded at a time in merge mode.</summary>
    public const int ChunkEvents = 2048;

    /// <summary>Offsets of this source's blocks not loaded yet; null for the sequential cursor of a file of only mixed blocks (it walks the file instead).</summary>
    public Queue<long>? Pending;
    /// <summary>Next offset to examine (sequential cursor only).</summary>
    public long NextOffset;
    /// <summary>The current block's raw payload.</summary>
    public byte[] Raw = [];
    /// <summary>Decoding position inside <see cref="Raw"/>.</summary>
    public DecoderState State;
    /// <summary>True while the current block has events left to decode.</summary>
    public bool BlockActive;
    /// <summary>Decoded events of the current chunk (merge mode; Thread = kernel tid).</summary>
    public AllocEvent[] Events = [];
    public int Position;
    public int Count;
    /// <summary>File offset of the current block: the tie-break between equal timestamps (file order).</summary>
    public long BlockOffset;

    /// <summary>Timestamp of the next event.</summary>
    public long HeadTimestamp => Events[Position].Timestamp;
}
