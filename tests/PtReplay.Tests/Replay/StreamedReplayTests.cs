using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// Streamed replay (the prepared file written while the engines replay it, a window ahead): the same figures as a
/// replay of the whole file, disk use bounded by the window, bad events still reported, and no more replay threads
/// alive at once than the recording had.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class StreamedReplayTests(Recordings recordings) : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-streamed-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TinyWindow_GivesTheFiguresOfTheWholeFile()
    {
        var options = new ReplayOptions { NoTiming = true };
        ReplayReport whole = ReplayRunner.RunFile(recordings.MultiThread, ["sim", "glibc"], _dir.NewFolder("whole"),
            options with { StreamWindow = 0 }, new PreparationOptions { SampleEvery = 500 });
        ReplayReport streamed = ReplayRunner.RunFile(recordings.MultiThread, ["sim", "glibc"], _dir.NewFolder("streamed"),
            options with { StreamWindow = PreparedStreamWriter.MinWindow }, new PreparationOptions { SampleEvery = 500 });

        Assert.Equal(0, whole.StreamedFileHighWater);
        Assert.True(streamed.StreamedFileHighWater > 0, "the replay did not stream");
        Assert.True(streamed.Prepared.OpCount > 8 * PreparedStreamWriter.MinWindow, $"{streamed.Prepared.OpCount} ops: too few to stream through the window");
        for (int e = 0; e < 2; e++)
        {
            EngineResult a = whole.Results[e], b = streamed.Results[e];
            Assert.True(a.Error is null && b.Error is null, a.Error ?? b.Error);
            Assert.True(a.Series.Count > 10);
            Assert.Equal(a.Series.Select(p => (p.Seq, p.LiveBytes, p.FootprintBytes, p.AddressSpaceBytes)),
                b.Series.Select(p => (p.Seq, p.LiveBytes, p.FootprintBytes, p.AddressSpaceBytes)));
            Assert.Equal(a.PeakFootprintBytes, b.PeakFootprintBytes);
            Assert.Equal(a.Extra["mallinfo2_arena"], b.Extra["mallinfo2_arena"]);
            Assert.Equal(a.Extra["mallinfo2_uordblks"], b.Extra["mallinfo2_uordblks"]);
        }

        // The model's resident pages are its own (no harness): they match too.
        Assert.Equal(whole.Results[0].Series.Select(p => p.RssBytes), streamed.Results[0].Series.Select(p => p.RssBytes));
    }

    [Fact]
    public void SmallWindow_ScratchDiskStaysWithinTheBound()
    {
        const long Pairs = 1_000_000;   // 2 M ops over 4 threads, a whole prepared file of about 80 MB
        const long Window = 4096;
        string outDir = _dir.NewFolder("long");
        string prepared = Path.Combine(outDir, "work", "trace.prepared");
        long observed = 0;
        using var stop = new CancellationTokenSource();
        var poller = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    observed = Math.Max(observed, ScratchDisk.AllocatedBytes(prepared));
                }
                catch (IOException)
                {
                    // Not there yet, or deleted between two engines.
                }

                Thread.Sleep(2);
            }
        });
        poller.Start();
        ReplayReport report;
        try
        {
            report = ReplayRunner.Run("churn", new TraceHeader(), Churn(Pairs, 4), ["sim", "glibc"], outDir,
                new ReplayOptions { NoTiming = true, Touch = TouchMode.None, StreamWindow = Window }, new PreparationOptions(),
                reopen: () => Churn(Pairs, 4));
        }
        finally
        {
            stop.Cancel();
            poller.Join();
        }

        foreach (EngineResult r in report.Results)
        {
            Assert.True(r.Error is null, r.Error);
        }

        // Ops and event indexes (40 B per op), the window plus a quarter window per thread not punched yet, plus the
        // pages at each thread's stretch ends (3 tables, 2 pages each), the header, thread table and samples.
        const int Threads = 5;
        long bound = ((Window + (Threads * Window / 4)) * 40) + (Threads * 3 * 2 * 4096) + (64 << 10);
        long whole = report.Prepared.OpCount * 40;
        Assert.True(observed > 0, "the poller never saw the streamed file");
        Assert.True(observed <= bound, $"the streamed file held {observed} B (bound {bound} B)");
        Assert.True(report.StreamedFileHighWater <= bound, $"the writer measured {report.StreamedFileHighWater} B (bound {bound} B)");
        Assert.True(whole > 50 * bound, $"whole file {whole} B: too small to show the bound");
        Assert.Equal(report.Results[1].Calls, report.Prepared.CallCount);
    }

    [Fact]
    public void UnknownPointerFree_IsReportedAndTheStreamedReplayGoesOn()
    {
        IEnumerable<AllocEvent> Events()
        {
            foreach (AllocEvent e in Churn(20_000, 2))
            {
                if (e.Timestamp == 10_001)
                {
                    yield return new AllocEvent { Kind = EventKind.Free, Ptr = 0xdead0000, Timestamp = e.Timestamp };
                }

                yield return e;
            }
        }

        ReplayReport report = ReplayRunner.Run("bad-free", new TraceHeader(), Events(), ["sim", "glibc"], _dir.NewFolder("bad"),
            new ReplayOptions { NoTiming = true, StreamWindow = PreparedStreamWriter.MinWindow }, new PreparationOptions(), reopen: Events);
        Assert.True(report.StreamedFileHighWater > 0, "the replay did not stream");
        Assert.Equal(1, report.Prepared.IssueCount);
        Assert.Equal(TraceIssueKind.UnknownPointer, report.Prepared.Issues.Single().Kind);
        foreach (EngineResult r in report.Results)
        {
            Assert.True(r.Error is null, r.Error);
        }
    }

    [Theory]
    [InlineData(ThreadMode.Serial)]
    [InlineData(ThreadMode.Concurrent)]
    public void ThreadsOfEveryLength_ExitWhereverTheirLastOpLies(ThreadMode mode)
    {
        // Threads 1..400 one after another, thread k with k malloc/free pairs: some thread's exit op is the last op of a
        // page of its stretch, which the thread punches out as it exits (after its last read of the op).
        IEnumerable<AllocEvent> Events()
        {
            long ts = 0;
            for (int k = 1; k <= 400; k++)
            {
                yield return new AllocEvent { Kind = EventKind.ThreadStart, Thread = k, Timestamp = ++ts };
                for (int i = 0; i < k; i++)
                {
                    ulong address = 0x10000UL + ((ulong)i * 0x40);
                    yield return new AllocEvent { Kind = EventKind.Malloc, Thread = k, Size = 24, Result = address, Timestamp = ++ts };
                    yield return new AllocEvent { Kind = EventKind.Free, Thread = k, Ptr = address, Timestamp = ++ts };
                }

                yield return new AllocEvent { Kind = EventKind.ThreadExit, Thread = k, Timestamp = ++ts };
            }
        }

        ReplayReport report = ReplayRunner.Run("lengths", new TraceHeader(), Events(), ["sim", "glibc"], _dir.NewFolder("lengths-" + mode),
            new ReplayOptions { NoTiming = true, Threads = mode, StreamWindow = PreparedStreamWriter.MinWindow }, new PreparationOptions(),
            reopen: Events);
        Assert.True(report.StreamedFileHighWater > 0, "the replay did not stream");
        foreach (EngineResult r in report.Results)
        {
            Assert.True(r.Error is null, r.Error);
            Assert.Equal(report.Prepared.CallCount, r.Calls);
        }
    }

    [Theory]
    [InlineData(ThreadMode.Serial)]
    [InlineData(ThreadMode.Concurrent)]
    public void ShortLivedThreads_NeverMoreReplayThreadsThanTheRecordingHadAlive(ThreadMode mode)
    {
        const int Workers = 2000;
        ReplayReport report = ReplayRunner.Run("threads", new TraceHeader(), ShortLivedThreads(Workers), ["glibc"], _dir.NewFolder("threads-" + mode),
            new ReplayOptions { NoTiming = true, Threads = mode }, new PreparationOptions(), reopen: () => ShortLivedThreads(Workers));
        EngineResult glibc = report.Results.Single();
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.Equal(Workers + 1, report.Prepared.ThreadCount);
        Assert.Equal(5, report.Prepared.ThreadsAtOnce);   // main + 4 workers, as generated
        Assert.Equal(report.Prepared.CallCount, glibc.Calls);
        double peak = glibc.Extra["threads_peak"];
        Assert.InRange(peak, 2, report.Prepared.ThreadsAtOnce);
        Assert.Equal(Workers - 4, glibc.Extra["thread_starts"]);   // all but the first 4 reuse a joined thread's place
    }

    /// <summary>
    /// Thread 0 allocates a block; workers 1..<paramref name="workers"/> each start, allocate two blocks, free the previous
    /// worker's second block (a cross-thread free), and exit three workers later after freeing their first: at most 4
    /// workers alive at once.
    /// </summary>
    private static IEnumerable<AllocEvent> ShortLivedThreads(int workers)
    {
        long ts = 0;
        AllocEvent E(EventKind kind, int thread, ulong size = 0, ulong ptr = 0, ulong result = 0) =>
            new() { Kind = kind, Thread = thread, Size = size, Ptr = ptr, Result = result, Timestamp = ++ts };
        static ulong A(int k) => 0x100000UL + ((ulong)k * 0x100);
        static ulong B(int k) => 0x10000000UL + ((ulong)k * 0x100);
        yield return E(EventKind.Malloc, 0, 64, result: 0x50);
        for (int k = 1; k <= workers + 3; k++)
        {
            if (k <= workers)
            {
                yield return E(EventKind.ThreadStart, k);
                yield return E(EventKind.Malloc, k, 48, result: A(k));
                yield return E(EventKind.Malloc, k, 200, result: B(k));
                if (k > 1)
                {
                    yield return E(EventKind.Free, k, ptr: B(k - 1));
                }
            }

            if (k > 3)
            {
                yield return E(EventKind.Free, k - 3, ptr: A(k - 3));
                yield return E(EventKind.ThreadExit, k - 3);
            }
        }

        yield return E(EventKind.Free, 0, ptr: B(workers));
        yield return E(EventKind.Free, 0, ptr: 0x50);
    }

    /// <summary>malloc/free pairs over 64 live blocks spread over <paramref name="threads"/> threads (1..n), each block freed by the next thread.</summary>
    private static IEnumerable<AllocEvent> Churn(long pairs, int threads)
    {
        var live = new ulong[64];
        for (long i = 0; i < pairs; i++)
        {
            int k = (int)(i % 64);
            int thread = 1 + (int)(i / 64 % threads);
            ulong address = 0x10000UL + ((ulong)k * 0x1000UL) + ((ulong)(i / 64 % 2) * 0x100000UL);
            if (live[k] != 0)
            {
                yield return new AllocEvent { Kind = EventKind.Free, Thread = thread, Ptr = live[k], Timestamp = (2 * i) + 1 };
            }

            yield return new AllocEvent { Kind = EventKind.Malloc, Thread = thread, Size = (ulong)(16 + (k * 8)), Result = address, Timestamp = (2 * i) + 2 };
            live[k] = address;
        }
    }
}
