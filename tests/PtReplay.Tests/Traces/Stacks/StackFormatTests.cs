using System.Buffers.Binary;
using PtReplay.Traces;
using PtReplay.Traces.Stacks;

namespace PtReplay.Tests.Traces.Stacks;

/// <summary>
/// Format version 4 (traces/FORMAT.md "Stacks"): stack-table blocks (modules, stack definitions) and allocating
/// events that carry a stack id, written by <see cref="TraceWriter.WriteStacks"/> and read into <see cref="TraceReader.Stacks"/>.
/// </summary>
[Trait("Category", "Fast")]
public class StackFormatTests
{
    private static readonly ModuleMapping Exe = new(0x5555_0000_1000, 0x5555_0000_9000, 0x1000, "/usr/bin/prog", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567");
    private static readonly ModuleMapping Libc = new(0x7f00_0002_8000, 0x7f00_001a_0000, 0x28000, "/lib/x86_64-linux-gnu/libc.so.6", null);

    private static StackTable Table()
    {
        var t = new StackTable();
        t.AddModule(Exe);
        t.AddModule(Libc);
        t.Add([0x5555_0000_1234, 0x5555_0000_2000, 0x7f00_0002_9abc]);
        t.Add([0x5555_0000_1300]);
        return t;
    }

    private static AllocEvent[] Events() =>
    [
        new() { Kind = EventKind.Malloc, Size = 24, Count = 1, Result = 0x1000, Timestamp = 1, Stack = 1 },
        new() { Kind = EventKind.Calloc, Size = 8, Count = 3, Result = 0x2000, Timestamp = 2, Stack = 2 },
        new() { Kind = EventKind.Free, Ptr = 0x1000, Timestamp = 3 },
        new() { Kind = EventKind.Realloc, Ptr = 0x2000, Size = 100, Count = 1, Result = 0x3000, Timestamp = 4, Stack = 1 },
        new() { Kind = EventKind.Malloc, Size = 7, Count = 1, Result = 0x4000, Timestamp = 5 },
        new() { Kind = EventKind.PosixMemalign, Alignment = 64, Size = 7, Count = 1, Result = 0x5000, Timestamp = 6, Stack = 2 },
    ];

    private static byte[] Write(StackTable table, AllocEvent[] events, TraceWriterOptions? options = null)
    {
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, new TraceHeader { Pid = 9 }, options, leaveOpen: true))
        {
            writer.WriteStacks(table);
            foreach (AllocEvent e in events)
            {
                writer.Write(e, 9);
            }

            writer.Complete();
        }

        return stream.ToArray();
    }

    [Theory]
    [InlineData(BlockCodec.Raw)]
    [InlineData(BlockCodec.Zstd)]
    public void StacksAndModules_RoundTrip_AsVersion4(BlockCodec codec)
    {
        byte[] file = Write(Table(), Events(), new TraceWriterOptions { Codec = codec });
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(TraceFormat.StacksVersion, reader.Header.FormatVersion);
        List<AllocEvent> read = reader.ReadAll().ToList();
        Assert.Equal(Events().Select(e => e.Stack), read.Select(e => e.Stack));
        Assert.Equal(Events().Select(e => e.Result), read.Select(e => e.Result));
        Assert.Equal(2, reader.Stacks.Count);
        Assert.Equal([0x5555_0000_1234UL, 0x5555_0000_2000, 0x7f00_0002_9abc], reader.Stacks.Frames(1));
        Assert.Equal([0x5555_0000_1300UL], reader.Stacks.Frames(2));
        Assert.Equal([Exe, Libc], reader.Stacks.Modules);
        Assert.Equal(Libc, reader.Stacks.ModuleOf(0x7f00_0002_9abc));
    }

    [Fact]
    public void ABigTable_IsSplitIntoBlocks_AndReadWhole()
    {
        var table = new StackTable();
        table.AddModule(Exe);
        for (int i = 0; i < 500; i++)
        {
            table.Add([0x5555_0000_1000 + (ulong)i, 0x5555_0000_2000, 0x7f00_0002_9abc]);
        }

        AllocEvent[] events = [.. Enumerable.Range(1, 500).Select(i => new AllocEvent { Kind = EventKind.Malloc, Size = 8, Count = 1, Result = (ulong)i * 16, Timestamp = i, Stack = i })];
        byte[] file = Write(table, events, new TraceWriterOptions { Codec = BlockCodec.Raw, MaxBlockBytes = 256 });
        Assert.True(TraceFiles.Blocks(file).Count(b => (b.Flags & 0x10) != 0) > 10);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(Enumerable.Range(1, 500), reader.ReadAll().Select(e => e.Stack));
        Assert.Equal(500, reader.Stacks.Count);
        Assert.Equal([0x5555_0000_1000UL + 499, 0x5555_0000_2000, 0x7f00_0002_9abc], reader.Stacks.Frames(500));
    }

    [Fact]
    public void WithoutStacks_TheFileStaysVersion2_AndEventsCarryNone()
    {
        AllocEvent[] plain = Events().Select(e => e with { Stack = 0 }).ToArray();
        byte[] file = TraceFiles.Write(new TraceHeader { Pid = 9 }, plain, [9]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.All(reader.ReadAll(), e => Assert.Equal(0, e.Stack));
        Assert.Equal(0, reader.Stacks.Count);
        Assert.Empty(reader.Stacks.Modules);
    }

    [Fact]
    public void OlderTraces_StillRead_WithoutStacks()
    {
        foreach (string sample in PtReplay.Tests.Infrastructure.RepoFiles.SampleTraces)
        {
            using TraceReader reader = TraceReader.Open(sample);
            Assert.True(reader.Header.FormatVersion < TraceFormat.StacksVersion, sample);
            Assert.True(reader.ReadAll().Count(e => e.Stack == 0) > 1000, sample);
            Assert.False(reader.IsTruncated, sample);
            Assert.Equal(0, reader.Stacks.Count);
            Assert.Empty(reader.Stacks.Modules);
        }
    }

    [Fact]
    public void AnEventWithAnUndefinedStack_IsRefusedByTheWriter()
    {
        using var stream = new MemoryStream();
        using var writer = new TraceWriter(stream, new TraceHeader { Pid = 9 }, leaveOpen: true);
        Assert.Throws<InvalidOperationException>(() => writer.Write(new AllocEvent { Kind = EventKind.Malloc, Size = 1, Count = 1, Result = 16, Stack = 1 }, 9));
    }

    [Fact]
    public void ADamagedStackTable_IsCorruptionAtItsOffset()
    {
        byte[] file = Write(Table(), Events(), new TraceWriterOptions { Codec = BlockCodec.Raw });
        TraceFiles.BlockInfo table = TraceFiles.Blocks(file).First(b => (b.Flags & 0x10) != 0);
        file[table.Offset + 36 + 3] ^= 0x40;
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(table.Offset, reader.DamagedBlockOffset);
        TraceCorruptException e = Assert.Throws<TraceCorruptException>(() => reader.ReadAll().ToList());
        Assert.Equal(table.Offset, e.ByteOffset);
        Assert.Contains("stack-table block CRC", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AStackTableThatDoesNotDecode_NamesTheRecord()
    {
        byte[] file = Write(Table(), Events(), new TraceWriterOptions { Codec = BlockCodec.Raw });
        TraceFiles.BlockInfo table = TraceFiles.Blocks(file).First(b => (b.Flags & 0x10) != 0);
        // Claim one record more than the payload holds, and fix the CRC so only the decoding can tell.
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan((int)table.Offset + 12), table.EventCount + 1);
        FixCrc(file, table);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        TraceCorruptException e = Assert.Throws<TraceCorruptException>(() => reader.ReadAll().ToList());
        Assert.Equal(table.Offset, e.ByteOffset);
        Assert.Contains($"ends before record {table.EventCount}", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AStackIdBeyondTheTable_IsCorruptionAtTheEventsBlock()
    {
        var small = new StackTable();
        small.Add([0x1234]);
        AllocEvent[] events = [new() { Kind = EventKind.Malloc, Size = 24, Count = 1, Result = 0x1000, Timestamp = 1, Stack = 1 }];
        byte[] file = Write(small, events, new TraceWriterOptions { Codec = BlockCodec.Raw });
        TraceFiles.BlockInfo block = TraceFiles.Blocks(file).First(b => (b.Flags & 0x08) != 0);
        file[block.End - 1] = 5; // the event's stack id, its last byte
        FixCrc(file, block);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        TraceCorruptException e = Assert.Throws<TraceCorruptException>(() => reader.ReadAll().ToList());
        Assert.Equal(block.Offset, e.ByteOffset);
        Assert.Contains("refers to stack 5, but the file defines 1", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ACutStackTable_IsTruncationAtItsOffset()
    {
        byte[] file = Write(Table(), Events(), new TraceWriterOptions { Codec = BlockCodec.Raw });
        TraceFiles.BlockInfo table = TraceFiles.Blocks(file).First(b => (b.Flags & 0x10) != 0);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file[..(int)(table.End - 2)]));
        Assert.True(reader.IsTruncated);
        Assert.Equal(table.Offset, reader.TruncatedAtOffset);
        Assert.Empty(reader.ReadAll());
    }

    [Fact]
    public void StackFlagsInAVersion2File_AreCorrupt()
    {
        byte[] file = Write(Table(), Events(), new TraceWriterOptions { Codec = BlockCodec.Raw });
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), 2);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        TraceCorruptException e = Assert.Throws<TraceCorruptException>(() => reader.ReadAll().ToList());
        Assert.Contains("need version 4", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Packing_KeepsEveryEventsStack()
    {
        string input = Path.Combine(Path.GetTempPath(), "ptreplay-stacks-" + Guid.NewGuid().ToString("N") + ".trace");
        string output = input + ".packed";
        try
        {
            File.WriteAllBytes(input, Write(Table(), Events(), new TraceWriterOptions { Codec = BlockCodec.Raw }));
            TracePacker.Pack(input, output);
            using TraceReader before = TraceReader.Open(input);
            using TraceReader after = TraceReader.Open(output);
            Assert.Equal(before.ReadAll().ToList(), after.ReadAll().ToList());
            Assert.Equal(before.Stacks.Modules, after.Stacks.Modules);
            Assert.Equal(before.Stacks.Count, after.Stacks.Count);
            for (int id = 1; id <= before.Stacks.Count; id++)
            {
                Assert.Equal(before.Stacks.Frames(id), after.Stacks.Frames(id));
            }
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    /// <summary>Recomputes a block's CRC (format version 2 and later: header bytes, then the stored payload).</summary>
    internal static void FixCrc(byte[] file, TraceFiles.BlockInfo block)
    {
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(file.AsSpan((int)block.Offset, 32));
        crc.Append(file.AsSpan((int)block.Offset + 36, (int)block.StoredLength));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan((int)block.Offset + 32), crc.GetCurrentHashAsUInt32());
    }
}
