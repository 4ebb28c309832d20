using PtReplay.Replay;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// The native replayer on a made-up stream (unit level): every engine runs it without crashing, and
/// cross-thread frees are executed in both thread modes.
/// </summary>
public sealed class NativeSyntheticTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-native-");

    public void Dispose() => _dir.Dispose();

    private static IReadOnlyList<AllocEvent> TwoThreadProducerConsumer(int rounds)
    {
        var t = new TraceBuilder();
        var rng = new Random(42);
        ulong next = 0x10000;
        var live0 = new List<ulong>();
        for (int i = 0; i < rounds; i++)
        {
            ulong a = next += 0x1000;
            t.Malloc(0, (ulong)rng.Next(1, 5000), a);
            live0.Add(a);
            if (live0.Count > 50)
            {
                int k = rng.Next(live0.Count);
                t.Free(1 + (i % 2), live0[k]); // freed on threads 1 and 2
                live0.RemoveAt(k);
            }

            ulong b = next += 0x1000;
            t.Malloc(1, 24, b).Free(1, b);
        }

        t.Exit(2);
        return t.Events;
    }

    [Theory]
    [InlineData(ThreadMode.Serial)]
    [InlineData(ThreadMode.Concurrent)]
    public void EveryCrossThreadFree_IsExecuted(ThreadMode mode)
    {
        var events = TwoThreadProducerConsumer(3000);
        PreparedTrace p = TracePreparer.Prepare(events, _dir.File("t.prepared"), new PreparationOptions { SampleEvery = 500 });
        var (result, raw) = NativeEngine.Run("glibc", p, new ReplayOptions { Threads = mode, LogAddresses = true }, _dir.File("r"), null);

        Assert.Null(result.Error);
        Assert.NotNull(raw);
        Assert.Equal((ulong)p.CallCount, raw.Header.Calls);
        Assert.Equal(0UL, raw.Header.ReplayNulls);
        Assert.True(raw.Header.CrossThreadOps > 0);
        Assert.Equal((ulong)CountCrossThread(p), raw.Header.CrossThreadOps);
        Assert.Equal(0UL, raw.Header.EmptySlotFrees);

        Assert.True(result.PeakFootprintBytes >= result.PeakLiveBytes);
        Assert.True(result.PeakRssBytes > 0);
    }

    /// <summary>The recorded-address table (for the model's address check) leaves the native replayer's run as it was.</summary>
    [Fact]
    public void APreparedFileWithRecordedAddresses_IsReplayedByTheNativeReplayer()
    {
        var events = TwoThreadProducerConsumer(500);
        PreparedTrace p = TracePreparer.Prepare(events, _dir.File("a.prepared"),
            new PreparationOptions { SampleEvery = 100, RecordedAddresses = true, RecordedTimes = true });
        using (var file = new PreparedFile(p.Path))
        {
            Assert.True(file.HasRecordedAddresses);
        }

        var (result, raw) = NativeEngine.Run("glibc", p, new ReplayOptions(), _dir.File("ra"), null);
        Assert.True(result.Error is null, result.Error);
        Assert.NotNull(raw);
        Assert.Equal((ulong)p.CallCount, raw.Header.Calls);
    }

    [SkippableFact]
    public void Runner_WritesASummaryForEveryEngine()
    {
        Requires.Engines(ReplayRunner.AllEngines);
        var events = TwoThreadProducerConsumer(2000);
        string outDir = _dir.File("out");
        ReplayReport report = ReplayRunner.Run("synthetic", new TraceHeader(), events, ReplayRunner.AllEngines, outDir,
            new ReplayOptions(), new PreparationOptions { SampleEvery = 500 });
        Assert.True(File.Exists(Path.Combine(outDir, "summary.json")));
        Assert.Equal(5, report.Results.Count);
        Assert.All(report.Results, r => Assert.True(r.Error is null, $"{r.Engine}: {r.Error}"));
        Assert.All(report.Results, r => Assert.True(r.PeakFootprintBytes >= r.PeakLiveBytes, r.Engine));
    }

    private static long CountCrossThread(PreparedTrace p)
    {
        using var file = new PreparedFile(p.Path);
        long n = 0;
        for (long i = 0; i < (long)file.Header.OpCount; i++)
        {
            n += (file.Op(i).Flags & OpMarks.Wait) != 0 ? 1 : 0;
        }

        return n;
    }
}

/// <summary>Engines that cannot run are reported, never a crash.</summary>
public sealed class EngineAvailabilityTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-avail-");

    public void Dispose() => _dir.Dispose();

    [Trait("Category", "Fast")]
    [Fact]
    public void MissingPreloadLibrary_NamesTheFileAndThePackage()
    {
        var (path, error) = AllocatorLibraries.Resolve("tcmalloc", [_dir.Path]);
        Assert.Null(path);
        Assert.Contains("libtcmalloc_minimal.so.4", error, StringComparison.Ordinal);
        Assert.Contains("apt-get install libtcmalloc-minimal4", error, StringComparison.Ordinal);
    }

    [Fact]
    public void UninstalledAllocator_IsSkippedNamingItsPackage_AndTheOthersStillRun()
    {
        var t = new TraceBuilder().Malloc(0, 100, 0x1000).Free(0, 0x1000);
        string outDir = _dir.File("skipped");
        ReplayReport report = ReplayRunner.Run("t", new TraceHeader(), t.Events, ["tcmalloc", "glibc"], outDir,
            new ReplayOptions { AllocatorLibraryDirectories = [_dir.Path] }, new PreparationOptions());
        Assert.True(report.Results[0].Skipped);
        Assert.Null(report.Results[1].Error);
        var tcmalloc = PtReplay.Results.SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines.Single(e => e.Engine == "tcmalloc");
        Assert.True(tcmalloc.Skipped);
        Assert.Null(tcmalloc.Memory);
        Assert.Contains("apt-get install libtcmalloc-minimal4", tcmalloc.Error, StringComparison.Ordinal);

        string page = PtReplay.Reports.Html.HtmlReport.Build([PtReplay.Reports.Input.ReplayOutputReader.Read(outDir)]);
        Assert.Contains("skipped: ", page, StringComparison.Ordinal);
        Assert.DoesNotContain("error: ", page, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownEngine_GetsAnErrorEntry_AndTheOthersStillRun()
    {
        var t = new TraceBuilder().Malloc(0, 100, 0x1000).Malloc(0, 5000, 0x2000).Free(0, 0x1000);
        string outDir = _dir.File("out");
        ReplayReport report = ReplayRunner.Run("t", new TraceHeader(), t.Events, ["nosuch", "glibc"], outDir,
            new ReplayOptions(), new PreparationOptions());
        Assert.NotNull(report.Results[0].Error);
        Assert.Null(report.Results[1].Error);
        var engines = PtReplay.Results.SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines;
        Assert.Contains("unknown engine", engines.Single(e => e.Engine == "nosuch").Error, StringComparison.Ordinal);
        Assert.False(engines.Single(e => e.Engine == "nosuch").Skipped);
        Assert.Equal(5100UL, engines.Single(e => e.Engine == "glibc").Memory!.PeakLiveBytes);
    }
}
