using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Tests.Traces;

public sealed class TracePackerTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-pack-");

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// A real multi-thread recording (threads handing blocks to each other): the merged order must allocate
    /// every block before any thread frees it (no anomalies), and packing must keep every event and thread.
    /// </summary>
    [Fact]
    public void RealMultiThreadRecording_MergesWithoutAnomalies_AndPacksToTheSameEvents()
    {
        string raw = _dir.File("mt.trace"), packed = _dir.File("mt.packed.trace");
        var run = RecordingRuns.Run(RecordingRuns.Get("mt"), raw, _dir.Path);
        Assert.Equal(0, run.ExitCode);

        TraceStatistics rawStats;
        List<AllocEvent> rawEvents;
        IReadOnlyList<int> rawTids;
        bool lifecycle;
        using (TraceReader reader = TraceReader.Open(raw))
        {
            Assert.True(reader.IsMerged);
            rawEvents = [.. reader.ReadAll()];
            rawTids = [.. reader.ThreadTids];
            lifecycle = reader.IsLifecycleOrdered;
        }

        rawStats = TraceStatistics.Compute(raw);
        PackResult result = TracePacker.Pack(raw, packed);

        Assert.True(rawTids.Count >= 5, $"threads: {rawTids.Count}");
        Assert.Equal(0, rawStats.AnomalyCount(TraceAnomalyKind.FreeOfUnknownPointer));
        Assert.Equal(0, rawStats.AnomalyCount(TraceAnomalyKind.DoubleFree));
        Assert.Equal(0, rawStats.AnomalyCount(TraceAnomalyKind.ReallocOfUnknownPointer));
        // A version 5 recording (the default clock) is merged by lifecycles: each thread's events stay in time order.
        Assert.True(rawEvents.GroupBy(e => e.Thread).All(g => g.Zip(g.Skip(1)).All(p => p.First.Timestamp <= p.Second.Timestamp)),
            "merged order is not timestamp order");
        Assert.True(lifecycle || rawEvents.Zip(rawEvents.Skip(1)).All(p => p.First.Timestamp <= p.Second.Timestamp), "merged order is not timestamp order");
        Assert.Equal(rawEvents.Count, result.Events);
        Assert.True(result.OutputBytes < result.InputBytes);
        using TraceReader after = TraceReader.Open(packed);
        Assert.False(after.IsMerged);
        Assert.Equal(rawEvents, after.ReadAll());
        Assert.Equal(rawTids, after.ThreadTids);
        Assert.Equal(rawStats.PeakLiveBytes, TraceStatistics.Compute(packed).PeakLiveBytes);
    }

    [Trait("Category", "Fast")]
    [Fact]
    public void TruncatedInput_GivesATruncatedOutput_WithTheSameEvents()
    {
        AllocEvent[] events = RandomEvents.Generate(8, 2000, 2);
        string input = _dir.File("t.trace"), output = _dir.File("t.packed.trace");
        File.WriteAllBytes(input, TraceFiles.Write(TraceRoundTripTests.Header(), events, [7, 8], new TraceWriterOptions { Codec = BlockCodec.Raw, EventsPerBlock = 300 }, complete: false));

        PackResult r = TracePacker.Pack(input, output);

        Assert.True(r.Truncated);
        Assert.Null(r.Corruption);
        using TraceReader reader = TraceReader.Open(output);
        Assert.Equal(events, reader.ReadAll());
        Assert.True(reader.IsTruncated);
    }

    [Trait("Category", "Fast")]
    [Fact]
    public void CorruptInput_KeepsEveryEventBeforeTheDamage_AndReportsIt()
    {
        AllocEvent[] events = RandomEvents.Generate(9, 2000, 2);
        byte[] file = TraceFiles.Write(TraceRoundTripTests.Header(), events, [7, 8], new TraceWriterOptions { Codec = BlockCodec.Raw, EventsPerBlock = 300 });
        TraceFiles.BlockInfo bad = TraceFiles.Blocks(file)[3];
        file[bad.Offset + 50] ^= 0x01;
        string input = _dir.File("c.trace"), output = _dir.File("c.packed.trace");
        File.WriteAllBytes(input, file);

        PackResult r = TracePacker.Pack(input, output);

        Assert.NotNull(r.Corruption);
        Assert.Equal(bad.Offset, r.Corruption.ByteOffset);
        Assert.Equal(900, r.Events);
        using TraceReader reader = TraceReader.Open(output);
        Assert.Equal(events.Take(900), reader.ReadAll());
    }
}
