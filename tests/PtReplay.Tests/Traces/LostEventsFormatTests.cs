using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>Format version 3: an end block whose payload counts the events the recorder could not write.</summary>
[Trait("Category", "Fast")]
public class LostEventsFormatTests
{
    private static byte[] Write(long lost)
    {
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, new TraceHeader { Pid = 7 }, leaveOpen: true))
        {
            writer.Write(new AllocEvent { Kind = EventKind.Malloc, Size = 24, Result = 0x1000, Count = 1, Timestamp = 1 }, 7);
            writer.Write(new AllocEvent { Kind = EventKind.Free, Ptr = 0x1000, Timestamp = 2 }, 7);
            writer.Complete(lost);
        }

        return stream.ToArray();
    }

    [Theory]
    [InlineData(0L, 2)]
    [InlineData(1L, 3)]
    [InlineData(1_000_000_000_000L, 3)]
    public void TheLostCount_RoundTrips_AndMarksVersion3(long lost, int version)
    {
        byte[] file = Write(lost);
        Assert.Equal(version, System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(version, reader.Header.FormatVersion);
        Assert.False(reader.IsTruncated);
        Assert.Equal(lost, reader.LostEvents);
        Assert.Equal(2, reader.ReadAll().Count());
    }

    [Fact]
    public void ADamagedLostCount_IsCorruptionAtTheEndBlock()
    {
        byte[] file = Write(300);
        int endBlock = file.Length - 36 - 2; // the end block: 36 header bytes, a 2-byte varint
        file[^1] ^= 0x01;
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(endBlock, reader.DamagedBlockOffset);
        TraceCorruptException e = Assert.Throws<TraceCorruptException>(() => reader.ReadAll().ToList());
        Assert.Equal(endBlock, e.ByteOffset);
    }

    [Fact]
    public void PackingKeepsTheLostCount()
    {
        string input = Path.Combine(Path.GetTempPath(), "ptreplay-lost-" + Guid.NewGuid().ToString("N") + ".trace");
        string output = input + ".packed";
        try
        {
            File.WriteAllBytes(input, Write(42));
            TracePacker.Pack(input, output);
            using TraceReader reader = TraceReader.Open(output);
            Assert.Equal(42, reader.LostEvents);
            Assert.Equal(TraceFormat.LostEventsVersion, reader.Header.FormatVersion);
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }
}
