using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>Raw per-thread recordings are delivered in global timestamp order (FORMAT.md "Order").</summary>
[Trait("Category", "Fast")]
public class TraceMergeTests
{
    private static (int Tid, AllocEvent[] Events)[] Threads(int seed, int threads, int perThread)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, threads).Select(t =>
        {
            AllocEvent[] ev = RandomEvents.Generate(seed * 31 + t, perThread, 1);
            long ts = r.Next(0, 5000);
            for (int i = 0; i < ev.Length; i++)
            {
                ts += r.Next(0, 4) == 0 ? 0 : r.Next(1, 400);   // equal timestamps across threads happen
                ev[i].Timestamp = ts;
            }

            return (1000 + (t * 7), ev);
        })];
    }

    /// <summary>Timed tags: the recorder's blocks, where a dt of 0 is left out (FORMAT.md "Blocks").</summary>
    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(2, 3, false)]
    [InlineData(3, 8, false)]
    [InlineData(4, 1, true)]
    [InlineData(5, 3, true)]
    public void InterleavedThreadBlocks_AreMergedByTimestampThenFileOrder(int seed, int threadCount, bool timedTags)
    {
        (int Tid, AllocEvent[] Events)[] threads = Threads(seed, threadCount, 700);
        (byte[] file, List<RawRecording.Placed> placed) = RawRecording.Write(TraceRoundTripTests.Header(), threads, 90, seed, timedTags: timedTags);
        Assert.True(placed.Zip(placed.Skip(1)).Count(p => p.First.Event.Timestamp == p.Second.Event.Timestamp) > 10, "the events must repeat timestamps");
        List<RawRecording.Placed> expected = RawRecording.MergeOrder(placed);

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        List<AllocEvent> read = TraceFiles.ReadAllMixed(reader, seed);

        Assert.True(reader.IsMerged);
        Assert.Equal(expected.Count, read.Count);
        // Thread numbers follow first appearance in delivery order.
        int[] firstSeenTids = [.. expected.Select(p => p.Tid).Distinct()];
        Assert.Equal(firstSeenTids, reader.ThreadTids);
        for (int i = 0; i < expected.Count; i++)
        {
            AllocEvent want = expected[i].Event;
            want.Thread = Array.IndexOf(firstSeenTids, expected[i].Tid);
            Assert.True(want == read[i], $"event {i}: expected {want}, read {read[i]}");
        }

        Assert.False(reader.IsTruncated);
    }

    [Fact]
    public void CorruptBlockOfOneThread_DeliversWhatCanBeOrderedBeforeIt_ThenThrows()
    {
        (int Tid, AllocEvent[] Events)[] threads = Threads(9, 3, 600);
        (byte[] file, List<RawRecording.Placed> placed) = RawRecording.Write(TraceRoundTripTests.Header(), threads, 80, 9);
        List<TraceFiles.BlockInfo> blocks = TraceFiles.Blocks(file);
        TraceFiles.BlockInfo bad = blocks[blocks.Count / 2];
        file[bad.Offset + 36] ^= 0xFF;

        using TraceReader reader = TraceReader.Open(new MemoryStream(file), "raw.trace");
        (List<AllocEvent> read, TraceCorruptException? error) = TraceFiles.ReadUntilError(reader);

        Assert.NotNull(error);
        Assert.Equal(bad.Offset, error.ByteOffset);
        Assert.Equal(read.Count, error.EventIndex);
        // What was delivered is exactly a prefix of the true merge order, and stops before the bad block's events.
        List<RawRecording.Placed> expected = RawRecording.MergeOrder(placed);
        int firstBad = expected.FindIndex(p => p.BlockOffset == bad.Offset);
        Assert.True(read.Count <= firstBad);
        Assert.Equal(expected.Take(read.Count).Select(p => p.Event.Timestamp), read.Select(e => e.Timestamp));
    }

    [Fact]
    public void RawRecordingWithoutEndBlock_IsTruncatedButFullyReadable_WhenEveryThreadEnded()
    {
        // Each thread ends with its exit marker: no thread's tail can be missing, so nothing is held back.
        (int Tid, AllocEvent[] Events)[] threads = [.. Threads(4, 2, 300).Select(t => (t.Tid, (AllocEvent[])[.. t.Events,
            new AllocEvent { Kind = EventKind.ThreadExit, Size = (ulong)t.Tid, Timestamp = t.Events[^1].Timestamp }]))];
        (byte[] file, List<RawRecording.Placed> placed) = RawRecording.Write(TraceRoundTripTests.Header(), threads, 50, 4, endBlock: false);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(placed.Count, reader.ReadAll().Count());
        Assert.True(reader.IsTruncated);
        Assert.Equal(file.Length, reader.TruncatedAtOffset);
        Assert.Equal(-1, reader.PrefixEndTimestamp);
        Assert.Empty(reader.ThreadsWithoutEnd);
    }

    [Fact]
    public void RawRecordingWithoutEndBlock_IsReadWhole_UpToWhereTheFirstUnendedThreadStops()
    {
        (int Tid, AllocEvent[] Events)[] threads = Threads(4, 2, 300);
        (byte[] file, List<RawRecording.Placed> placed) = RawRecording.Write(TraceRoundTripTests.Header(), threads, 50, 4, endBlock: false);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        long prefixEnd = threads.Min(t => t.Events[^1].Timestamp);
        Assert.Equal(prefixEnd, reader.PrefixEndTimestamp);
        Assert.Equal(threads.Select(t => t.Tid).Order(), reader.ThreadsWithoutEnd);
        List<AllocEvent> read = reader.ReadAll().ToList();
        Assert.True(read.Count >= placed.Count(p => p.Event.Timestamp <= prefixEnd));
        Assert.True(reader.IsTruncated);
    }
}
