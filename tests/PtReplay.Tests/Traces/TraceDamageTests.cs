using PtReplay.Traces;
using PtReplay.Traces.Format;

namespace PtReplay.Tests.Traces;

/// <summary>Truncated and corrupted files give the documented result (traces/FORMAT.md "End block", "Errors").</summary>
[Trait("Category", "Fast")]
public class TraceDamageTests
{
    private static readonly int[] Tids = [500, 501, 502];

    private static (AllocEvent[] Events, byte[] File, List<TraceFiles.BlockInfo> Blocks) Sample(BlockCodec codec = BlockCodec.Zstd)
    {
        AllocEvent[] events = RandomEvents.Generate(11, 3000, Tids.Length);
        byte[] file = TraceFiles.Write(TraceRoundTripTests.Header(), events, Tids, new TraceWriterOptions { Codec = codec, Level = 1, EventsPerBlock = 400 });
        return (events, file, TraceFiles.Blocks(file));
    }

    [Fact]
    public void CutAtSeveralOffsets_ReadsUpToLastCompleteBlock_AndReportsTruncated()
    {
        (AllocEvent[] events, byte[] file, List<TraceFiles.BlockInfo> blocks) = Sample();
        var r = new Random(3);
        long firstBlock = blocks[0].Offset;
        var cuts = new List<long> { firstBlock, file.Length - 1, blocks[1].Offset, blocks[1].Offset + 5, blocks[1].Offset + 40 };
        for (int i = 0; i < 6; i++)
        {
            cuts.Add(r.NextInt64(firstBlock, file.Length));
        }

        foreach (long cut in cuts)
        {
            using TraceReader reader = TraceReader.Open(new MemoryStream(file[..(int)cut]));
            (List<AllocEvent> read, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);

            Assert.Null(error);
            Assert.True(reader.IsTruncated, $"cut at {cut}");
            // Complete blocks before the cut are delivered, nothing after.
            List<TraceFiles.BlockInfo> whole = blocks.Where(b => b.End <= cut && b.EventCount > 0).ToList();
            long expected = whole.Sum(b => b.EventCount);
            Assert.Equal(expected, read.Count);
            Assert.Equal(events.Take((int)expected), read);
            TraceFiles.BlockInfo[] straddling = blocks.Where(b => b.Offset < cut && b.End > cut).ToArray();
            Assert.Equal(straddling.Length == 1 ? straddling[0].Offset : cut, reader.TruncatedAtOffset);
        }
    }

    [Fact]
    public void NoEndBlock_ReadsEverything_AndReportsTruncatedAtTheFileEnd()
    {
        AllocEvent[] events = RandomEvents.Generate(5, 1000, 2);
        byte[] file = TraceFiles.Write(TraceRoundTripTests.Header(), events, Tids, new TraceWriterOptions { EventsPerBlock = 300 }, complete: false);

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(events, reader.ReadAll());
        Assert.True(reader.IsTruncated);
        Assert.False(reader.IsComplete);
        Assert.Equal(file.Length, reader.TruncatedAtOffset);
    }

    [Theory]
    [InlineData(BlockCodec.Zstd, 40)]
    [InlineData(BlockCodec.Raw, 37)]
    [InlineData(BlockCodec.Deflate, 50)]
    public void FlippedPayloadByte_DeliversEarlierBlocks_ThenThrowsWithOffsetAndIndex(BlockCodec codec, int byteInBlock)
    {
        (AllocEvent[] events, byte[] file, List<TraceFiles.BlockInfo> blocks) = Sample(codec);
        for (int k = 0; k < 3; k++)
        {
            TraceFiles.BlockInfo bad = blocks[k * 2];
            byte[] damaged = (byte[])file.Clone();
            damaged[bad.Offset + byteInBlock] ^= 0x10;

            using TraceReader reader = TraceReader.Open(new MemoryStream(damaged), "damaged.trace");
            (List<AllocEvent> read, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);

            long before = blocks.TakeWhile(b => b.Offset < bad.Offset).Sum(b => b.EventCount);
            Assert.NotNull(error);
            Assert.Equal(bad.Offset, error.ByteOffset);
            Assert.Equal(before, error.EventIndex);
            Assert.Contains("CRC", error.Message, StringComparison.Ordinal);
            Assert.Contains("damaged.trace", error.Message, StringComparison.Ordinal);
            Assert.Contains(bad.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
            Assert.Equal(events.Take((int)before), read);
            // The reader stays failed.
            Assert.Throws<TraceCorruptException>(() => reader.ReadBatch(new AllocEvent[8]));
        }
    }

    [Fact]
    public void BadBlockMagic_DeliversEarlierBlocks_ThenThrows()
    {
        (AllocEvent[] events, byte[] file, List<TraceFiles.BlockInfo> blocks) = Sample();
        TraceFiles.BlockInfo bad = blocks[3];
        file[bad.Offset + 1] = (byte)'X';

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        (List<AllocEvent> read, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);

        long before = blocks.Take(3).Sum(b => b.EventCount);
        Assert.NotNull(error);
        Assert.Equal(bad.Offset, error.ByteOffset);
        Assert.Equal(before, error.EventIndex);
        Assert.Contains("magic", error.Message, StringComparison.Ordinal);
        Assert.Equal(events.Take((int)before), read);
    }

    [Fact]
    public void UnknownCodec_IsCorruptAndNamesTheCodec()
    {
        (_, byte[] file, List<TraceFiles.BlockInfo> blocks) = Sample();
        file[blocks[2].Offset + 4] = 9;
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        (_, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);
        Assert.NotNull(error);
        Assert.Equal(blocks[2].Offset, error.ByteOffset);
        Assert.Contains("codec 9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MixedBlockWithTimedTags_IsCorruptAtThatBlock()
    {
        (_, byte[] file, List<TraceFiles.BlockInfo> blocks) = Sample();
        TraceFiles.BlockInfo bad = blocks[2];
        Assert.Equal(BlockHeader.FlagMixed, bad.Flags);
        file[bad.Offset + 5] = BlockHeader.FlagMixed | BlockHeader.FlagTimedTags;
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        (_, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);
        Assert.NotNull(error);
        Assert.Equal(bad.Offset, error.ByteOffset);
        Assert.Contains("mixed block with the timed-tags flag", error.Message, StringComparison.Ordinal);
    }

    /// <summary>In a timed-tags block an event can be one byte (an exec marker repeating the last reading).</summary>
    [Fact]
    public void TimedTagsBlockOfOneByteEvents_IsRead()
    {
        var encoder = new BlockEncoder();
        encoder.Reset(500, mixed: false, 41, timedTags: true);
        for (int i = 0; i < 3; i++)
        {
            encoder.Append(new AllocEvent { Kind = EventKind.Exec, Timestamp = 500 }, 41);
        }

        Assert.Equal(3, encoder.Length); // a tag each
        byte[] payload = encoder.Buffer.AsSpan(0, encoder.Length).ToArray();
        var file = new MemoryStream();
        file.Write(HeaderCodec.Encode(TraceRoundTripTests.Header()));
        byte[] head = new byte[BlockHeader.Size];
        new BlockHeader
        {
            BlockMagic = BlockHeader.Magic, Flags = BlockHeader.FlagTimedTags, Tid = 41, EventCount = 3,
            StoredLength = (uint)payload.Length, RawLength = (uint)payload.Length, BaseTimestamp = 500,
        }.WithCrc(payload).Write(head);
        file.Write(head);
        file.Write(payload);
        new BlockHeader { BlockMagic = BlockHeader.Magic, Flags = BlockHeader.FlagEnd }.WithCrc([]).Write(head);
        file.Write(head);

        using TraceReader reader = TraceReader.Open(new MemoryStream(file.ToArray()));
        List<AllocEvent> read = reader.ReadAll().ToList();
        Assert.False(reader.IsTruncated);
        Assert.Equal(3, read.Count);
        Assert.All(read, e => Assert.Equal((EventKind.Exec, 500L), (e.Kind, e.Timestamp)));
    }

    [Fact]
    public void BadHeaderCrc_IsRejectedAtOpen()
    {
        (_, byte[] file, _) = Sample();
        file[20] ^= 1;
        TraceCorruptException error = Assert.Throws<TraceCorruptException>(() => TraceReader.Open(new MemoryStream(file), "h.trace"));
        Assert.Contains("header CRC", error.Message, StringComparison.Ordinal);
        Assert.Equal(16, error.ByteOffset);
    }

    [Fact]
    public void NotATrace_IsRejectedAtOpen()
    {
        TraceCorruptException error = Assert.Throws<TraceCorruptException>(() => TraceReader.Open(new MemoryStream("@ ./a.out:[0x4011] + 0x1 0x2\n"u8.ToArray())));
        Assert.Contains("PTRTRACE", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, error.ByteOffset);
    }
}
