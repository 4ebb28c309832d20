using System.Buffers.Binary;
using System.IO.Hashing;

namespace PtReplay.Traces.Format;

/// <summary>
/// The fixed 36-byte header in front of every block (traces/FORMAT.md "Blocks"):
/// <code>
///  0      4     5     6        8     12            16           20        24        32     36
///  | PBLK | codec| flags| reserved| tid | event_count | stored_len | raw_len | base_ts | crc32 | payload...
/// </code>
/// All little-endian. The CRC (format version 2) covers the 32 header bytes before it, then the stored payload, so a
/// changed tid, base_ts, count, length or flag is found like a damaged payload; in format version 1 it covered the
/// payload only (<see cref="ComputeCrc"/> reads both).
/// </summary>
internal struct BlockHeader
{
    /// <summary>The bytes "PBLK" read as a little-endian u32.</summary>
    public const uint Magic = 0x4B4C4250;
    /// <summary>Bytes in front of the payload.</summary>
    public const int Size = 36;
    /// <summary>Offset of the crc32 field: the header bytes before it are covered by the CRC from format version 2 on.</summary>
    public const int CrcOffset = 32;
    /// <summary>The first format version whose block CRC covers the header.</summary>
    public const int HeaderCrcVersion = 2;
    /// <summary>flags bit 0: events of several threads, with thread switches.</summary>
    public const byte FlagMixed = 1;
    /// <summary>flags bit 1: the end block written at normal process exit.</summary>
    public const byte FlagEnd = 2;
    /// <summary>flags bit 2 (single-thread blocks only): tag bit 6 says a dt follows; without it dt is 0 and absent.</summary>
    public const byte FlagTimedTags = 4;
    /// <summary>Flag bit 3 (format version 4): every allocating event ends with a varint stack id.</summary>
    public const byte FlagStacks = 8;
    /// <summary>Flag bit 4 (format version 4): the payload is stack-table records (modules, stacks), not events.</summary>
    public const byte FlagTable = 16;

    public uint BlockMagic;
    public byte Codec;
    public byte Flags;
    public ushort Reserved;
    public uint Tid;
    public uint EventCount;
    public uint StoredLength;
    public uint RawLength;
    public long BaseTimestamp;
    public uint Crc;

    public readonly bool IsMixed => (Flags & FlagMixed) != 0;
    public readonly bool IsEnd => (Flags & FlagEnd) != 0;
    public readonly bool IsTimedTags => (Flags & FlagTimedTags) != 0;
    /// <summary>Allocating events carry a stack id (version 4).</summary>
    public readonly bool HasStacks => (Flags & FlagStacks) != 0;
    /// <summary>A stack-table block: module and stack records instead of events (version 4).</summary>
    public readonly bool IsTable => (Flags & FlagTable) != 0;

    /// <summary>
    /// The CRC this header must carry over <paramref name="stored"/> in a file of <paramref name="formatVersion"/>:
    /// version 1 covers the stored payload only; version 2 the 32 header bytes before the crc field, then the payload.
    /// </summary>
    public readonly uint ComputeCrc(ReadOnlySpan<byte> stored, int formatVersion = TraceFormat.CurrentVersion)
    {
        if (formatVersion < HeaderCrcVersion)
        {
            return Crc32.HashToUInt32(stored);
        }

        Span<byte> head = stackalloc byte[Size];
        Write(head);
        var crc = new Crc32();
        crc.Append(head[..CrcOffset]);
        crc.Append(stored);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>This header with the CRC of the current format version over <paramref name="stored"/>.</summary>
    public readonly BlockHeader WithCrc(ReadOnlySpan<byte> stored)
    {
        BlockHeader h = this;
        h.Crc = ComputeCrc(stored);
        return h;
    }

    public static BlockHeader Read(ReadOnlySpan<byte> b) => new()
    {
        BlockMagic = BinaryPrimitives.ReadUInt32LittleEndian(b),
        Codec = b[4],
        Flags = b[5],
        Reserved = BinaryPrimitives.ReadUInt16LittleEndian(b[6..]),
        Tid = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        EventCount = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
        StoredLength = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        RawLength = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BaseTimestamp = BinaryPrimitives.ReadInt64LittleEndian(b[24..]),
        Crc = BinaryPrimitives.ReadUInt32LittleEndian(b[32..]),
    };

    public readonly void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b, BlockMagic);
        b[4] = Codec;
        b[5] = Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(b[6..], Reserved);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Tid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], EventCount);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], StoredLength);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], RawLength);
        BinaryPrimitives.WriteInt64LittleEndian(b[24..], BaseTimestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Crc);
    }
}
