using System.Buffers.Binary;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Replay;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>
/// Format version 2: the block CRC covers the block header as well as the payload. A raw recording by the real
/// recorder whose block header was changed (thread id, base timestamp) reads as corrupt at that block, with its byte
/// offset and the index of the first event not delivered; version 1 files (the committed samples) still read.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class BlockHeaderCrcTests(Recordings recordings)
{
    public static TheoryData<string> Fields => ["tid", "base_ts", "event_count"];

    [Theory]
    [MemberData(nameof(Fields))]
    public void AChangedBlockHeaderField_IsCorruption_AtThatBlock(string field)
    {
        byte[] file = File.ReadAllBytes(recordings.MultiThread);
        // Multi-threaded with the default clock: version 5, whose blocks are checked as version 2's.
        Assert.Equal(TraceFormat.MultiThreadOrderVersion, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)));
        List<TraceFiles.BlockInfo> blocks = TraceFiles.Blocks(file);
        List<TraceFiles.BlockInfo> events = blocks.Where(b => b.EventCount > 1 && (b.Flags & 2) == 0).ToList();
        Assert.True(events.Count >= 3, "the recording must have several event blocks");
        TraceFiles.BlockInfo target = events[events.Count / 2];
        uint otherTid = events.First(b => b.Tid != target.Tid).Tid;
        Span<byte> header = file.AsSpan((int)target.Offset, 36);
        switch (field)
        {
            case "tid":
                BinaryPrimitives.WriteUInt32LittleEndian(header[8..], otherTid);
                break;
            case "base_ts":
                BinaryPrimitives.WriteInt64LittleEndian(header[24..], BinaryPrimitives.ReadInt64LittleEndian(header[24..]) + 1000);
                break;
            default:
                BinaryPrimitives.WriteUInt32LittleEndian(header[12..], target.EventCount - 1);
                break;
        }

        long delivered = 0;
        using TraceReader reader = TraceReader.Open(new MemoryStream(file), "changed.trace");
        var e = Assert.Throws<TraceCorruptException>(() =>
        {
            foreach (AllocEvent _ in reader.ReadAll())
            {
                delivered++;
            }
        });

        Assert.Equal(target.Offset, e.ByteOffset);
        Assert.Equal(delivered, e.EventIndex);
        Assert.Contains("CRC", e.Problem, StringComparison.Ordinal);
        Assert.Contains($"byte offset {target.Offset}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Version1Samples_StillReadComplete()
    {
        foreach (string sample in RepoFiles.SampleTraces)
        {
            using TraceReader reader = TraceReader.Open(sample);
            Assert.Equal(1, reader.Header.FormatVersion);
            Assert.True(reader.ReadAll().Count() > 1000, sample);
            Assert.False(reader.IsTruncated, sample);
        }
    }

    [Fact]
    public void TheRecorderAndTheWriter_WriteVersion2_AndReadBack()
    {
        using TraceReader recorded = TraceReader.Open(recordings.Sqlite);
        Assert.Equal(2, recorded.Header.FormatVersion);
        List<AllocEvent> all = recorded.ReadAll().ToList();
        Assert.False(recorded.IsTruncated);
        byte[] written = TraceFiles.Write(recorded.Header, all, recorded.ThreadTids);
        using TraceReader again = TraceReader.Open(new MemoryStream(written));
        Assert.Equal(2, again.Header.FormatVersion);
        Assert.Equal(all, again.ReadAll().ToList());
    }
}
