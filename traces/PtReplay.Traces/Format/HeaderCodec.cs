using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace PtReplay.Traces.Format;

/// <summary>
/// Reads and writes the file header (traces/FORMAT.md "Header fields"):
/// <code>
/// "PTRTRACE" · u16 version · u16 flags · u32 body_len · body · u32 crc32(body)
/// body := (u16 tag · u32 len · len bytes)*
/// </code>
/// </summary>
internal static class HeaderCodec
{
    /// <summary>The file magic.</summary>
    public static ReadOnlySpan<byte> Magic => "PTRTRACE"u8;

    /// <summary>Bytes before the body: magic, version, flags, body_len.</summary>
    public const int PrefixSize = 16;

    /// <summary>Header bodies larger than this are rejected as corrupt (argv and environment fit easily).</summary>
    public const int MaxBodyLength = 64 << 20;

    private enum Tag : ushort
    {
        RecorderVersion = 1,
        GlibcVersion = 2,
        PageSize = 3,
        OnlineCpus = 4,
        Brk0 = 5,
        MallocEnvironment = 6,
        ExecutablePath = 7,
        Argv = 8,
        Pid = 9,
        ParentPid = 10,
        StartRealtime = 11,
        StartClock = 12,
        ClockName = 13,
        ClockResolution = 14,
        Origin = 15,
        ParentTrace = 16,
        ForkThreadTid = 17,
        ForkThreadEvents = 18,
        AddressSpaceLimit = 19,
        DataLimit = 20,
    }

    /// <summary>The complete header bytes for <paramref name="h"/>.</summary>
    public static byte[] Encode(TraceHeader h)
    {
        var body = new MemoryStream();
        Text(body, Tag.RecorderVersion, h.RecorderVersion);
        Text(body, Tag.GlibcVersion, h.GlibcVersion);
        U64(body, Tag.PageSize, (ulong)h.PageSize);
        U32(body, Tag.OnlineCpus, (uint)h.OnlineCpus);
        U64(body, Tag.Brk0, h.Brk0);
        Strings(body, Tag.MallocEnvironment, h.MallocEnvironment);
        Text(body, Tag.ExecutablePath, h.ExecutablePath);
        Strings(body, Tag.Argv, h.Argv);
        U32(body, Tag.Pid, (uint)h.Pid);
        U32(body, Tag.ParentPid, (uint)h.ParentPid);
        U64(body, Tag.StartRealtime, (ulong)h.StartRealtimeNs);
        U64(body, Tag.StartClock, (ulong)h.StartClockNs);
        Text(body, Tag.ClockName, h.ClockName);
        U64(body, Tag.ClockResolution, (ulong)h.ClockResolutionNs);
        if (h.Origin != TraceOrigin.StartedProgram)
        {
            U32(body, Tag.Origin, (uint)h.Origin);
        }

        if (h.ParentTrace.Length > 0)
        {
            Text(body, Tag.ParentTrace, h.ParentTrace);
        }

        if (h.ForkThreadTid != 0)
        {
            U32(body, Tag.ForkThreadTid, (uint)h.ForkThreadTid);
            U64(body, Tag.ForkThreadEvents, (ulong)h.ForkThreadEvents);
        }

        if (h.AddressSpaceLimit is { } addressSpace)
        {
            U64(body, Tag.AddressSpaceLimit, addressSpace);
        }

        if (h.DataLimit is { } data)
        {
            U64(body, Tag.DataLimit, data);
        }

        byte[] bodyBytes = body.ToArray();
        byte[] all = new byte[PrefixSize + bodyBytes.Length + 4];
        Magic.CopyTo(all);
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(8), (ushort)TraceFormat.CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(all.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(all.AsSpan(12), (uint)bodyBytes.Length);
        bodyBytes.CopyTo(all, PrefixSize);
        BinaryPrimitives.WriteUInt32LittleEndian(all.AsSpan(PrefixSize + bodyBytes.Length), Crc32.HashToUInt32(bodyBytes));
        return all;
    }

    /// <summary>Reads the header from the start of <paramref name="stream"/>; returns it and the offset of the first block.</summary>
    public static (TraceHeader Header, long FirstBlockOffset) Read(Stream stream, string path)
    {
        Span<byte> prefix = stackalloc byte[PrefixSize];
        int got = stream.ReadAtLeast(prefix, PrefixSize, throwOnEndOfStream: false);
        if (got < 8 || !prefix[..8].SequenceEqual(Magic))
        {
            throw new TraceCorruptException(path, 0, -1, got < 8 && Magic[..got].SequenceEqual(prefix[..got])
                ? $"file has {got} bytes, shorter than the trace magic (cut short?)"
                : "not a PtReplay trace (the file does not start with the magic \"PTRTRACE\")");
        }

        if (got < PrefixSize)
        {
            throw new TraceCorruptException(path, got, -1, "file ends inside the header (cut short)");
        }

        int version = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
        if (version is 0 or > TraceFormat.NewestReadable)
        {
            throw new TraceCorruptException(path, 8, -1, $"format version {version} is not supported (this reader reads versions 1..{TraceFormat.NewestReadable})");
        }

        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[12..]);
        if (bodyLength > MaxBodyLength)
        {
            throw new TraceCorruptException(path, 12, -1, $"header body length {bodyLength} is implausible (more than {MaxBodyLength})");
        }

        byte[] body = new byte[bodyLength + 4];
        got = stream.ReadAtLeast(body, body.Length, throwOnEndOfStream: false);
        if (got < body.Length)
        {
            throw new TraceCorruptException(path, PrefixSize + got, -1, $"file ends inside the header ({PrefixSize + body.Length} bytes expected, cut short)");
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan((int)bodyLength));
        uint computed = Crc32.HashToUInt32(body.AsSpan(0, (int)bodyLength));
        if (stored != computed)
        {
            throw new TraceCorruptException(path, PrefixSize, -1, $"header CRC mismatch (stored 0x{stored:x8}, computed 0x{computed:x8})");
        }

        var header = new TraceHeader { FormatVersion = version };
        ReadOnlySpan<byte> rest = body.AsSpan(0, (int)bodyLength);
        long offset = PrefixSize;
        while (rest.Length > 0)
        {
            if (rest.Length < 6)
            {
                throw new TraceCorruptException(path, offset, -1, "header field is cut inside its tag and length");
            }

            var tag = (Tag)BinaryPrimitives.ReadUInt16LittleEndian(rest);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(rest[2..]);
            if (len > rest.Length - 6)
            {
                throw new TraceCorruptException(path, offset, -1, $"header field {(int)tag} claims {len} bytes, only {rest.Length - 6} remain");
            }

            Apply(header, tag, rest.Slice(6, (int)len));
            rest = rest[(6 + (int)len)..];
            offset += 6 + len;
        }

        return (header, PrefixSize + bodyLength + 4);
    }

    private static void Apply(TraceHeader h, Tag tag, ReadOnlySpan<byte> v)
    {
        switch (tag)
        {
            case Tag.RecorderVersion: h.RecorderVersion = Encoding.UTF8.GetString(v); break;
            case Tag.GlibcVersion: h.GlibcVersion = Encoding.UTF8.GetString(v); break;
            case Tag.PageSize: h.PageSize = (long)Number(v); break;
            case Tag.OnlineCpus: h.OnlineCpus = (int)Number(v); break;
            case Tag.Brk0: h.Brk0 = Number(v); break;
            case Tag.MallocEnvironment: Split(v, h.MallocEnvironment); break;
            case Tag.ExecutablePath: h.ExecutablePath = Encoding.UTF8.GetString(v); break;
            case Tag.Argv: Split(v, h.Argv); break;
            case Tag.Pid: h.Pid = (int)Number(v); break;
            case Tag.ParentPid: h.ParentPid = (int)Number(v); break;
            case Tag.StartRealtime: h.StartRealtimeNs = (long)Number(v); break;
            case Tag.StartClock: h.StartClockNs = (long)Number(v); break;
            case Tag.ClockName: h.ClockName = Encoding.UTF8.GetString(v); break;
            case Tag.ClockResolution: h.ClockResolutionNs = (long)Number(v); break;
            case Tag.Origin: h.Origin = Number(v) switch { 1 => TraceOrigin.ForkedChild, 2 => TraceOrigin.ExecutedImage, _ => TraceOrigin.StartedProgram }; break;
            case Tag.ParentTrace: h.ParentTrace = Encoding.UTF8.GetString(v); break;
            case Tag.ForkThreadTid: h.ForkThreadTid = (int)Number(v); break;
            case Tag.ForkThreadEvents: h.ForkThreadEvents = (long)Math.Min(Number(v), long.MaxValue); break;
            case Tag.AddressSpaceLimit: h.AddressSpaceLimit = Number(v); break;
            case Tag.DataLimit: h.DataLimit = Number(v); break;
            default: break; // unknown tags are skipped: fields can be added without a new version
        }
    }

    /// <summary>A little-endian integer of 1..8 bytes (writers use 4 or 8).</summary>
    private static ulong Number(ReadOnlySpan<byte> v)
    {
        ulong x = 0;
        for (int i = Math.Min(v.Length, 8) - 1; i >= 0; i--)
        {
            x = (x << 8) | v[i];
        }

        return x;
    }

    private static void Split(ReadOnlySpan<byte> v, IList<string> into)
    {
        into.Clear();
        while (v.Length > 0)
        {
            int nul = v.IndexOf((byte)0);
            int end = nul < 0 ? v.Length : nul;
            into.Add(Encoding.UTF8.GetString(v[..end]));
            v = nul < 0 ? [] : v[(nul + 1)..];
        }
    }

    private static void Field(Stream s, Tag tag, ReadOnlySpan<byte> value)
    {
        Span<byte> head = stackalloc byte[6];
        BinaryPrimitives.WriteUInt16LittleEndian(head, (ushort)tag);
        BinaryPrimitives.WriteUInt32LittleEndian(head[2..], (uint)value.Length);
        s.Write(head);
        s.Write(value);
    }

    private static void Text(Stream s, Tag tag, string value) => Field(s, tag, Encoding.UTF8.GetBytes(value));

    private static void U32(Stream s, Tag tag, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Field(s, tag, b);
    }

    private static void U64(Stream s, Tag tag, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        Field(s, tag, b);
    }

    private static void Strings(Stream s, Tag tag, IList<string> values)
    {
        var ms = new MemoryStream();
        foreach (string v in values)
        {
            ms.Write(Encoding.UTF8.GetBytes(v));
            ms.WriteByte(0);
        }

        Field(s, tag, ms.ToArray());
    }
}
