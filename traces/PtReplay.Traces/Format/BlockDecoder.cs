using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// Decodes one block's raw payload into events (traces/FORMAT.md "Events"). The hot path of every reader.
/// <para>Contract: the payload array holds at least <c>rawLength + <see cref="Padding"/></c> bytes and the
/// padding is zero, so decoding one event never reads outside the array even in a damaged payload (zero
/// bytes decode as kind 0, which is rejected); positions are checked against <c>rawLength</c> before
/// each event and at the end.</para>
/// <para>Decoding is resumable (<see cref="DecoderState"/>), so a block can be decoded straight into the
/// caller's buffer in pieces. A payload whose CRC matches but does not decode is reported at the event that
/// fails; the events before it are valid.</para>
/// <para>Decoded events carry the kernel tid in <see cref="AllocEvent.Thread"/>; the reader replaces it
/// by the thread number in delivery order (<see cref="ThreadNumbering"/>).</para>
/// </summary>
internal static class BlockDecoder
{
    /// <summary>Zero bytes required after the payload.</summary>
    public const int Padding = 128;

    /// <summary>
    /// Decodes the next events of the block described by <paramref name="st"/> into <paramref name="dest"/>: as many
    /// as fit, up to the block's count. Returns null on success, or what is wrong; <paramref name="produced"/> events
    /// were decoded correctly either way (on error the bad event is number <c>st.Decoded</c> of the block).
    /// After the block's last event it checks that the payload ends exactly there.
    /// </summary>
    public static unsafe string? DecodeSome(byte[] payload, ref DecoderState st, Span<AllocEvent> dest, out int produced)
    {
        int count = Math.Min(dest.Length, st.Count - st.Decoded);
        int rawLength = st.RawLength;
        bool mixed = st.Mixed;
        bool timedTags = st.TimedTags;
        bool stacked = st.Stacks;
        uint blockTid = st.BlockTid;
        if (payload.Length < rawLength + Padding)
        {
            throw new ArgumentException("payload must be padded");
        }

        produced = 0;
        long ts = st.Timestamp;
        ulong addr = st.Address;
        int tid = st.Tid;
        string? error = null;
        fixed (byte* p = payload)
        fixed (AllocEvent* d = dest)
        {
            nint pos = st.Position;
            int i = 0;
            for (; i < count; i++)
            {
                if (pos >= rawLength)
                {
                    error = $"payload of {rawLength} bytes ends before event {st.Decoded + i} of {st.Count}";
                    break;
                }

                int tag = p[pos++];
                int status = 0;
                if (tag >= EventTag.ThreadSwitch)
                {
                    if ((tag & EventTag.ThreadSwitch) != 0 && !timedTags)
                    {
                        if (!mixed)
                        {
                            error = $"thread switch in the single-thread block of tid {blockTid}";
                            break;
                        }

                        tid = (int)(uint)ReadVarint(p, ref pos);
                    }

                    if ((tag & EventTag.Status) != 0)
                    {
                        status = (int)(uint)ReadVarint(p, ref pos);
                    }
                }

                if (tid == 0)
                {
                    error = "event without a thread (a mixed block must start with a thread switch)";
                    break;
                }

                if (!timedTags || (tag & EventTag.TimeAdvanced) != 0)
                {
                    ts += (long)ReadVarint(p, ref pos);
                }

                AllocEvent* e = d + i;
                e->Timestamp = ts;
                e->Thread = tid;
                e->Status = status;
                EventKind kind = (EventKind)(tag & EventTag.KindMask);
                e->Kind = kind;
                bool isNull = (tag & EventTag.NullResult) != 0;
                switch (kind)
                {
                    case EventKind.Malloc or EventKind.Valloc or EventKind.Pvalloc:
                        e->Ptr = 0;
                        e->Size = ReadVarint(p, ref pos);
                        e->Count = 1;
                        e->Alignment = 0;
                        e->Result = isNull ? 0 : ReadAddress(p, ref pos, ref addr);
                        break;
                    case EventKind.Free:
                        if (isNull)
                        {
                            error = "null-result flag on free";
                            goto Stop;
                        }

                        e->Ptr = ReadAddress(p, ref pos, ref addr);
                        e->Size = 0;
                        e->Count = 0;
                        e->Alignment = 0;
                        e->Result = 0;
                        break;
                    case EventKind.Calloc:
                        e->Ptr = 0;
                        e->Count = ReadVarint(p, ref pos);
                        e->Size = ReadVarint(p, ref pos);
                        e->Alignment = 0;
                        e->Result = isNull ? 0 : ReadAddress(p, ref pos, ref addr);
                        break;
                    case EventKind.Realloc:
                        e->Ptr = ReadAddress(p, ref pos, ref addr);
                        e->Size = ReadVarint(p, ref pos);
                        e->Count = 1;
                        e->Alignment = 0;
                        e->Result = isNull ? 0 : ReadAddress(p, ref pos, ref addr);
                        break;
                    case EventKind.ReallocArray:
                        e->Ptr = ReadAddress(p, ref pos, ref addr);
                        e->Count = ReadVarint(p, ref pos);
                        e->Size = ReadVarint(p, ref pos);
                        e->Alignment = 0;
                        e->Result = isNull ? 0 : ReadAddress(p, ref pos, ref addr);
                        break;
                    case EventKind.Memalign or EventKind.PosixMemalign or EventKind.AlignedAlloc:
                        e->Ptr = 0;
                        e->Alignment = ReadVarint(p, ref pos);
                        e->Size = ReadVarint(p, ref pos);
                        e->Count = 1;
                        e->Result = isNull ? 0 : ReadAddress(p, ref pos, ref addr);
                        break;
                    case EventKind.Mallopt:
                        e->Ptr = 0;
                        e->Count = unchecked((ulong)Varint.UnZigZag(ReadVarint(p, ref pos)));
                        e->Size = unchecked((ulong)Varint.UnZigZag(ReadVarint(p, ref pos)));
                        e->Alignment = 0;
                        e->Result = isNull ? 0UL : 1UL;
                        break;
                    case EventKind.MallocTrim:
                        e->Ptr = 0;
                        e->Size = ReadVarint(p, ref pos);
                        e->Count = 1;
                        e->Alignment = 0;
                        e->Result = isNull ? 0UL : 1UL;
                        break;
                    case EventKind.ThreadStart or EventKind.ThreadExit or EventKind.Fork or EventKind.Exec:
                        if (isNull)
                        {
                            error = $"null-result flag on a {kind.CName()} marker";
                            goto Stop;
                        }

                        e->Ptr = 0;
                        e->Size = kind == EventKind.Exec ? 0 : ReadVarint(p, ref pos);
                        e->Count = 0;
                        e->Alignment = 0;
                        e->Result = 0;
                        break;
                    default:
                        error = $"unknown event kind {(int)kind} (tag byte 0x{tag:x2})";
                        goto Stop;
                }

                int stack = 0;
                if (stacked && kind <= EventKind.Pvalloc && kind != EventKind.Free)
                {
                    ulong id = ReadVarint(p, ref pos);
                    if (id > (ulong)st.MaxStack)
                    {
                        error = $"{kind.CName()} event refers to stack {id}, but the file defines {st.MaxStack} stacks";
                        goto Stop;
                    }

                    stack = (int)id;
                }

                e->Stack = stack;
            }

        Stop:
            produced = i;
            st.Decoded += i;
            st.Position = pos;
            st.Timestamp = ts;
            st.Address = addr;
            st.Tid = tid;
            if (error is null && st.Decoded == st.Count && pos != rawLength)
            {
                error = pos < rawLength
                    ? $"{st.Count} events end at payload byte {pos} but the payload has {rawLength} bytes"
                    : $"payload of {rawLength} bytes ends inside event {st.Count - 1}";
            }

            if (error is not null)
            {
                error += $" (event {st.Decoded} of the block's {st.Count})";
            }
        }

        return error;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ulong ReadAddress(byte* p, ref nint pos, ref ulong addr)
    {
        addr = unchecked(addr + (ulong)Varint.UnZigZag(ReadVarint(p, ref pos)));
        return addr;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ulong ReadVarint(byte* p, ref nint pos)
    {
        ulong b = p[pos];
        if (b < 0x80)
        {
            pos++;
            return b;
        }

        // Two-byte values (sizes 128..16383, most address deltas) stay inline; the padding makes p[pos + 1] readable.
        ulong b1 = p[pos + 1];
        if (b1 < 0x80)
        {
            pos += 2;
            return (b & 0x7F) | (b1 << 7);
        }

        return ReadVarintSlow(p, ref pos);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe ulong ReadVarintSlow(byte* p, ref nint pos)
    {
        ulong value = 0;
        int shift = 0;
        for (int n = 0; n < Varint.MaxLength; n++)
        {
            ulong b = p[pos++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }

            shift += 7;
        }

        return value;
    }
}
