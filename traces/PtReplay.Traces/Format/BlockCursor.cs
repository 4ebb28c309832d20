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

    /// <summary>Lifecycle order (format version 5): the cursor's place in the reader's heap.</summary>
    public int HeapIndex = -1;
    /// <summary>Lifecycle order: the heap key, the head's timestamp, or while <see cref="Waiting"/> the time after which no other thread can still release the head.</summary>
    public long Key;
    /// <summary>Lifecycle order: the head waits for an event of another thread on <see cref="WaitAddress"/>.</summary>
    public bool Waiting;
    /// <summary>Lifecycle order: the wait is a guess (another thread's claim on a ready event's address), not a need.</summary>
    public bool Contest;
    /// <summary>Lifecycle order: the head is delivered when ready, without a contest (set when contests were released).</summary>
    public bool NoContest;
    /// <summary>Lifecycle order: the address whose next event the head waits for.</summary>
    public ulong WaitAddress;
    /// <summary>Lifecycle order: the next cursor waiting on the same address.</summary>
    public BlockCursor? NextWaiter;

    /// <summary>Lifecycle order: the thread's next reading after the reading <see cref="NextReadingOf"/>, found for an event at or after <see cref="NextReadingFrom"/> of the chunk of the block at <see cref="NextReadingBlock"/> (a cache).</summary>
    public long NextReading;
    public long NextReadingOf = -1;
    public long NextReadingBlock = -1;
    public int NextReadingFrom;

    /// <summary>Lifecycle order: index in <see cref="Events"/> of the first event ordered but not handed to the caller yet (events from here to <see cref="Position"/> can be taken back).</summary>
    public int Kept;
    /// <summary>Lifecycle order: the file offset of each decoded event's block (parallel to <see cref="Events"/>).</summary>
    public long[] EventBlocks = [];
    /// <summary>Lifecycle order: the cursor's number (from 1) in the reader's address records.</summary>
    public int Number;
    /// <summary>Lifecycle order: the thread has no events left to decode (its last ones may still be taken back).</summary>
    public bool Drained;

    /// <summary>Timestamp of the next event.</summary>
    public long HeadTimestamp => Events[Position].Timestamp;
}
