using System.Buffers.Binary;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>Test helpers over trace bytes: an independent walk of the block layout of traces/FORMAT.md.</summary>
internal static class TraceFiles
{
    /// <summary>One block as the spec lays it out: offset, header fields, and where its payload is.</summary>
    public readonly record struct BlockInfo(long Offset, byte Codec, byte Flags, uint Tid, uint EventCount, uint StoredLength, long End);

    /// <summary>Every block of a well-formed trace, in file order.</summary>
    public static List<BlockInfo> Blocks(byte[] file)
    {
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        long offset = 16 + bodyLength + 4;
        var blocks = new List<BlockInfo>();
        while (offset < file.Length)
        {
            ReadOnlySpan<byte> h = file.AsSpan((int)offset, 36);
            Assert.Equal("PBLK"u8.ToArray(), h[..4].ToArray());
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long end = offset + 36 + stored;
            blocks.Add(new BlockInfo(offset, h[4], h[5], BinaryPrimitives.ReadUInt32LittleEndian(h[8..]), BinaryPrimitives.ReadUInt32LittleEndian(h[12..]), stored, end));
            offset = end;
        }

        return blocks;
    }

    /// <summary>Writes <paramref name="events"/> with <paramref name="options"/> and returns the file bytes.</summary>
    public static byte[] Write(TraceHeader header, IReadOnlyList<AllocEvent> events, IReadOnlyList<int> tids, TraceWriterOptions? options = null, bool complete = true)
    {
        var ms = new MemoryStream();
        using (var w = new TraceWriter(ms, header, options, leaveOpen: true))
        {
            w.DeclareThreads(tids);
            foreach (AllocEvent e in events)
            {
                w.Write(e);
            }

            if (complete)
            {
                w.Complete();
            }
        }

        return ms.ToArray();
    }

    /// <summary>Reads every event with batches of varying size mixed with single reads.</summary>
    public static List<AllocEvent> ReadAllMixed(TraceReader reader, int seed)
    {
        var r = new Random(seed);
        var all = new List<AllocEvent>();
        var buffer = new AllocEvent[300];
        while (true)
        {
            if (r.Next(3) == 0)
            {
                if (!reader.TryRead(out AllocEvent e))
                {
                    break;
                }

                all.Add(e);
                continue;
            }

            int n = reader.ReadBatch(buffer.AsSpan(0, r.Next(1, buffer.Length)));
            if (n == 0)
            {
                break;
            }

            all.AddRange(buffer.AsSpan(0, n));
        }

        return all;
    }

    /// <summary>Events read until the reader throws; the exception (or null at a clean end).</summary>
    public static (List<AllocEvent> Events, TraceCorruptException? Error) ReadUntilError(TraceReader reader)
    {
        var all = new List<AllocEvent>();
        var buffer = new AllocEvent[257];
        try
        {
            int n;
            while ((n = reader.ReadBatch(buffer)) > 0)
            {
                all.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (TraceCorruptException ex)
        {
            return (all, ex);
        }

        return (all, null);
    }
}
