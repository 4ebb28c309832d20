using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// Decodes one block's raw payload into events (traces/FORMAT.md "Events"). The hot path of every reader.
/// <para>Contract: the payload array holds at least <c>rawLength + <see cref="Padding"/></c> bytes and the
/// padding is zero, so decoding one event never reads outside the array even in a damaged payload (zero
/// bytes decode as kind 0, which is rejected); positions are checked against <c>rawLength</c> before
/// each event and at the end.</para>
/// <para>Decoded events carry the kernel tid in <see cref="AllocEvent.Thread"/>; the reader replaces it
/// by the thread number in delivery order (<see cref="ThreadNumbering"/>).</para>
/// </summary>
internal static class BlockDecoder
{
    /// <summary>Zero bytes required after the payload.</summary>
    public const int Padding = 128;

    /// <summary>Decodes <paramref name="count"/> events; returns null on success or what is wrong (and the event index in <paramref name="badEvent"/>).</summary>
    public static unsafe string? Decode(byte[] payload, int rawLength, Span<AllocEvent> dest, int count, long baseTimestamp, uint blockTid, bool mixed, out int badEvent)
    {
        if (payload.Length < rawLength + Padding || dest.Length < count)
        {
            throw new ArgumentException("payload must be padded and dest large enough");
        }

        badEvent = 0;
        long ts = baseTimestamp;
        ulong addr = 0;
        int tid = (int)blockTid;
        fixed (byte* p = payload)
        fixed (AllocEvent* d = dest)
        {
            nint pos = 0;
            for (int i = 0; i < count; i++)
            {
                if (pos >= rawLength)
                {
                    badEvent = i;
                    return $"payload of {rawLength} bytes ends before event {i} of {count}";
                }

                int tag = p[pos++];
                int status = 0;
                if (tag >= EventTag.ThreadSwitch)
                {
                    if ((tag & EventTag.ThreadSwitch) != 0)
                    {
                        if (!mixed)
                        {
                            badEvent = i;
                            return $"thread switch in the single-thread block of tid {blockTid}";
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
                    badEvent = i;
                    return "event without a thread (a mixed block must start with a thread switch)";
                }

                ts += (long)ReadVarint(p, ref pos);
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
                            badEvent = i;
                            return "null-result flag on free";
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
                    case EventKind.ThreadStart or EventKind.ThreadExit or EventKind.Fork or EventKind.Exec:
                        if (isNull)
                        {
                            badEvent = i;
                            return $"null-result flag on a {kind.CName()} marker";
                        }

                        e->Ptr = 0;
                        e->Size = kind == EventKind.Exec ? 0 : ReadVarint(p, ref pos);
                        e->Count = 0;
                        e->Alignment = 0;
                        e->Result = 0;
                        break;
                    default:
                        badEvent = i;
                        return $"unknown event kind {(int)kind} (tag byte 0x{tag:x2})";
                }
            }

            if (pos != rawLength)
            {
                badEvent = count;
                return pos < rawLength
                    ? $"{count} events end at payload byte {pos} but the payload has {rawLength} bytes"
                    : $"payload of {rawLength} bytes ends inside event {count - 1}";
            }
        }

        return null;
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
