namespace PtReplay.Traces.Format;

/// <summary>
/// Where <see cref="BlockDecoder.DecodeSome"/> is inside one block: the payload position and the decoding
/// state of FORMAT.md "Events" (ts, addr, tid), plus the block's header values it needs.
/// <para>Invariant: <see cref="Decoded"/> events (of <see cref="Count"/>) occupy payload bytes [0, <see cref="Position"/>).</para>
/// </summary>
internal struct DecoderState
{
    public nint Position;
    public long Timestamp;
    public ulong Address;
    public int Tid;
    public int Decoded;
    public int Count;
    public int RawLength;
    public uint BlockTid;
    public bool Mixed;
    public bool TimedTags;
    /// <summary>Allocating events end with a varint stack id (block flag bit 3).</summary>
    public bool Stacks;
    /// <summary>The largest stack id the file defines: a larger one is corrupt.</summary>
    public int MaxStack;

    /// <summary>The state at the start of a block.</summary>
    public static DecoderState Start(in BlockHeader h, int maxStack = 0) => new()
    {
        Stacks = h.HasStacks,
        MaxStack = maxStack,
        Timestamp = h.BaseTimestamp,
        Tid = (int)h.Tid,
        Count = (int)h.EventCount,
        RawLength = (int)h.RawLength,
        BlockTid = h.Tid,
        Mixed = h.IsMixed,
        TimedTags = h.IsTimedTags,
    };

    /// <summary>True when every event of the block has been decoded.</summary>
    public readonly bool Done => Decoded == Count;
}
