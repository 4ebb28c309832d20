using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

[Trait("Category", "Fast")]
public class TraceRoundTripTests
{
    private static readonly int[] Tids = [4242, 4250, 4251, 70000, 1];

    public static TheoryData<BlockCodec, int> CodecsAndSeeds()
    {
        var data = new TheoryData<BlockCodec, int>();
        foreach (BlockCodec codec in Enum.GetValues<BlockCodec>())
        {
            data.Add(codec, 1);
            data.Add(codec, 2);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CodecsAndSeeds))]
    public void RandomEvents_WriteThenRead_ReturnsTheSameEvents(BlockCodec codec, int seed)
    {
        AllocEvent[] events = RandomEvents.Generate(seed, 5000, Tids.Length, allowTimeGoingBack: true);
        var options = new TraceWriterOptions { Codec = codec, Level = codec == BlockCodec.Zstd ? 3 : 0, EventsPerBlock = 97 + seed };
        byte[] file = TraceFiles.Write(Header(), events, Tids, options);

        using TraceReader reader = TraceReader.Open(new MemoryStream(file), "mem");
        List<AllocEvent> read = TraceFiles.ReadAllMixed(reader, seed);

        Assert.Equal(events.Length, read.Count);
        for (int i = 0; i < events.Length; i++)
        {
            Assert.True(events[i] == read[i], $"event {i}: wrote {events[i]}, read {read[i]}");
        }

        Assert.False(reader.IsTruncated);
        Assert.True(reader.IsComplete);
        Assert.False(reader.IsMerged);
        Assert.Equal(events.Length, reader.EventsRead);
        Assert.Equal(Tids.Take(events.Max(e => e.Thread) + 1), reader.ThreadTids);
        Assert.All(TraceFiles.Blocks(file).SkipLast(1), b => Assert.Equal((byte)codec, b.Codec));
    }

    [Fact]
    public void Header_WriteThenRead_KeepsEveryField()
    {
        TraceHeader h = Header();
        byte[] file = TraceFiles.Write(h, [], []);
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        TraceHeader r = reader.Header;
        Assert.Equal(h.RecorderVersion, r.RecorderVersion);
        Assert.Equal(h.GlibcVersion, r.GlibcVersion);
        Assert.Equal(h.PageSize, r.PageSize);
        Assert.Equal(h.OnlineCpus, r.OnlineCpus);
        Assert.Equal(h.Brk0, r.Brk0);
        Assert.Equal(h.MallocEnvironment, r.MallocEnvironment);
        Assert.Equal(h.ExecutablePath, r.ExecutablePath);
        Assert.Equal(h.Argv, r.Argv);
        Assert.Equal(h.Pid, r.Pid);
        Assert.Equal(h.ParentPid, r.ParentPid);
        Assert.Equal(h.StartRealtimeNs, r.StartRealtimeNs);
        Assert.Equal(h.StartClockNs, r.StartClockNs);
        Assert.Equal(h.ClockName, r.ClockName);
        Assert.Equal(h.ClockResolutionNs, r.ClockResolutionNs);
        Assert.Equal(0, reader.ReadBatch(new AllocEvent[4]));
        Assert.False(reader.IsTruncated);
    }

    [Fact]
    public void ThreadExit_ThenSameTidAgain_GetsANewThreadNumber()
    {
        AllocEvent[] events =
        [
            new() { Kind = EventKind.Malloc, Size = 10, Count = 1, Result = 0x1000, Timestamp = 1, Thread = 0 },
            new() { Kind = EventKind.Malloc, Size = 20, Count = 1, Result = 0x2000, Timestamp = 2, Thread = 1 },
            new() { Kind = EventKind.ThreadExit, Size = 200, Timestamp = 3, Thread = 1 },
            new() { Kind = EventKind.Free, Ptr = 0x2000, Timestamp = 4, Thread = 2 },
        ];
        byte[] file = TraceFiles.Write(Header(), events, [100, 200, 200]);

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        List<AllocEvent> read = [.. reader.ReadAll()];

        Assert.Equal([0, 1, 1, 2], read.Select(e => e.Thread));
        Assert.Equal([100, 200, 200], reader.ThreadTids);
    }

    [Fact]
    public void WriteWithUndeclaredThread_Throws()
    {
        using var w = new TraceWriter(new MemoryStream(), Header());
        var e = new AllocEvent { Kind = EventKind.Malloc, Size = 1, Count = 1, Result = 16, Thread = 3 };
        Assert.Throws<InvalidOperationException>(() => w.Write(e));
    }

    [Fact]
    public void TraceFromFile_OpenByPath_ReadsLikeAStream()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ptreplay-rt-{Environment.ProcessId}-{Guid.NewGuid():N}.trace");
        try
        {
            AllocEvent[] events = RandomEvents.Generate(7, 2000, 2);
            using (TraceWriter w = TraceWriter.Create(path, Header(), new TraceWriterOptions { EventsPerBlock = 500 }))
            {
                w.DeclareThreads(Tids);
                w.Write(events);
                w.Complete();
            }

            using TraceReader reader = TraceReader.Open(path);
            Assert.Equal(events, reader.ReadAll());
            Assert.Equal(path, reader.Path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static TraceHeader Header() => new()
    {
        RecorderVersion = "test 1.0",
        GlibcVersion = "2.36",
        PageSize = 4096,
        OnlineCpus = 2,
        Brk0 = 0x5555_5556_0000,
        MallocEnvironment = ["MALLOC_ARENA_MAX=2", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"],
        ExecutablePath = "/usr/bin/python3.11",
        Argv = ["python3", "-c", "print('é')", ""],
        Pid = 12345,
        ParentPid = 12000,
        StartRealtimeNs = 1_764_000_000_000_000_000,
        StartClockNs = 987_654_321,
        ClockName = "CLOCK_MONOTONIC",
        ClockResolutionNs = 1,
    };
}
