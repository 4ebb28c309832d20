using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// Builds the raw payload of one block, event by event (traces/FORMAT.md "Events").
/// <para>Invariants: <see cref="Count"/> events occupy <see cref="Length"/> bytes of <see cref="Buffer"/>;
/// timestamps appended since <see cref="Reset"/> never decrease (callers check <see cref="Accepts"/>);
/// in a mixed block every event whose thread differs from the previous one carries a thread switch,
/// so the first event always does.</para>
/// </summary>
internal sealed class BlockEncoder
{
    /// <summary>The longest encoding of one event: tag, tid, status, dt, four 10-byte varints and a stack id.</summary>
    private const int MaxEventBytes = 1 + (8 * Varint.MaxLength);

    private byte[] _buffer = new byte[1 << 16];
    private long _ts;
    private ulong _addr;
    private uint _tid;

    /// <summary>The encoded events.</summary>
    public byte[] Buffer => _buffer;
    /// <summary>Bytes used in <see cref="Buffer"/>.</summary>
    public int Length { get; private set; }
    /// <summary>Events encoded since the last reset.</summary>
    public int Count { get; private set; }
    /// <summary>Timestamp the first delta is taken from.</summary>
    public long BaseTimestamp { get; private set; }
    /// <summary>True for a block of several threads.</summary>
    public bool Mixed { get; private set; }
    /// <summary>Kernel tid of a single-thread block (0 when mixed).</summary>
    public uint BlockTid { get; private set; }
    /// <summary>True when time deltas of 0 are left out (tag bit 6 marks the others): the recorder's blocks.</summary>
    public bool TimedTags { get; private set; }
    /// <summary>True when allocating events end with their stack id (block flag bit 3, format version 4).</summary>
    public bool Stacks { get; private set; }

    /// <summary>Starts a new, empty block (<paramref name="timedTags"/>: single-thread blocks only).</summary>
    public void Reset(long baseTimestamp, bool mixed, uint blockTid, bool timedTags = false, bool stacks = false)
    {
        Stacks = stacks;
        if (mixed && timedTags)
        {
            throw new ArgumentException("a mixed block cannot have timed tags", nameof(timedTags));
        }

        TimedTags = timedTags;
        Length = 0;
        Count = 0;
        BaseTimestamp = baseTimestamp;
        _ts = baseTimestamp;
        _addr = 0;
        Mixed = mixed;
        BlockTid = mixed ? 0 : blockTid;
        _tid = BlockTid;
    }

    /// <summary>True when an event at <paramref name="timestamp"/> can follow the block's events (no time going back).</summary>
    public bool Accepts(long timestamp) => timestamp >= _ts;

    /// <summary>Appends one event recorded by kernel thread <paramref name="tid"/>.</summary>
    public void Append(in AllocEvent e, uint tid)
    {
        if (Length + MaxEventBytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        byte[] b = _buffer;
        int tagPos = Length;
        int pos = tagPos + 1;
        int tag = (int)e.Kind;
        if (tid != _tid)
        {
            if (!Mixed)
            {
                ThrowThreadInSingleBlock(tid);
            }

            tag |= EventTag.ThreadSwitch;
            Varint.Write(b, ref pos, tid);
            _tid = tid;
        }

        if (e.Status != 0)
        {
            tag |= EventTag.Status;
            Varint.Write(b, ref pos, (uint)e.Status);
        }

        ulong dt = (ulong)(e.Timestamp - _ts);
        if (!TimedTags)
        {
            Varint.Write(b, ref pos, dt);
        }
        else if (dt != 0)
        {
            tag |= EventTag.TimeAdvanced;
            Varint.Write(b, ref pos, dt);
        }

        _ts = e.Timestamp;
        switch (e.Kind)
        {
            case EventKind.Malloc or EventKind.Valloc or EventKind.Pvalloc:
                Varint.Write(b, ref pos, e.Size);
                tag |= WriteResult(b, ref pos, e.Result);
                break;
            case EventKind.Calloc:
                Varint.Write(b, ref pos, e.Count);
                Varint.Write(b, ref pos, e.Size);
                tag |= WriteResult(b, ref pos, e.Result);
                break;
            case EventKind.Realloc:
                WriteAddress(b, ref pos, e.Ptr);
                Varint.Write(b, ref pos, e.Size);
                tag |= WriteResult(b, ref pos, e.Result);
                break;
            case EventKind.ReallocArray:
                WriteAddress(b, ref pos, e.Ptr);
                Varint.Write(b, ref pos, e.Count);
                Varint.Write(b, ref pos, e.Size);
                tag |= WriteResult(b, ref pos, e.Result);
                break;
            case EventKind.Free:
                WriteAddress(b, ref pos, e.Ptr);
                break;
            case EventKind.Memalign or EventKind.PosixMemalign or EventKind.AlignedAlloc:
                Varint.Write(b, ref pos, e.Alignment);
                Varint.Write(b, ref pos, e.Size);
                tag |= WriteResult(b, ref pos, e.Result);
                break;
            case EventKind.Mallopt:
                Varint.Write(b, ref pos, Varint.ZigZag(unchecked((long)e.Count)));
                Varint.Write(b, ref pos, Varint.ZigZag(unchecked((long)e.Size)));
                if (e.Result == 0)
                {
                    tag |= EventTag.NullResult;
                }

                break;
            case EventKind.MallocTrim:
                Varint.Write(b, ref pos, e.Size);
                if (e.Result == 0)
                {
                    tag |= EventTag.NullResult;
                }

                break;
            case EventKind.ThreadStart or EventKind.ThreadExit or EventKind.Fork:
                Varint.Write(b, ref pos, e.Size);
                break;
            case EventKind.Exec:
                break;
            default:
                ThrowUnknownKind(e.Kind);
                break;
        }

        if (Stacks && e.Kind.Allocates())
        {
            Varint.Write(b, ref pos, (uint)e.Stack);
        }

        b[tagPos] = (byte)tag;
        Length = pos;
        Count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteAddress(byte[] b, ref int pos, ulong value)
    {
        Varint.Write(b, ref pos, Varint.ZigZag(unchecked((long)(value - _addr))));
        _addr = value;
    }

    /// <summary>Writes a result address, or nothing and returns the null-result flag for NULL.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int WriteResult(byte[] b, ref int pos, ulong result)
    {
        if (result == 0)
        {
            return EventTag.NullResult;
        }

        WriteAddress(b, ref pos, result);
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowUnknownKind(EventKind kind) =>
        throw new ArgumentException($"Cannot write an event of unknown kind {(byte)kind}.", nameof(kind));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowThreadInSingleBlock(uint tid) =>
        throw new InvalidOperationException($"Event of thread {tid} in the single-thread block of thread {BlockTid}.");
}
