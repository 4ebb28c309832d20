using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Cli;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Output;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Replay.Timing;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Sim;

/// <summary>
/// The sim engine's warm-up: it changes none of the model's figures (series, memory figures, every address the replay
/// returned, the glibc addresses the model reproduces), its time is reported on its own and its calls stay out of the latency, and its script reaches
/// every call kind and the allocator paths behind them under any tunables.
/// </summary>
[Trait("Category", "Fast")]
public sealed class SimWarmUpTests : IDisposable
{
    /// <summary>Extra figures that are times (they differ run to run); every other extra figure is the model's state.</summary>
    private static readonly HashSet<string> TimeFigures = new(StringComparer.Ordinal) { "sampling_ns", "elapsed_ns", "timed_jit_methods", "timed_jit_ns" };

    private static readonly PreparedKind[] ExecutedKinds =
    [
        PreparedKind.Malloc, PreparedKind.Calloc, PreparedKind.Realloc, PreparedKind.ReallocArray, PreparedKind.Free,
        PreparedKind.Memalign, PreparedKind.PosixMemalign, PreparedKind.AlignedAlloc, PreparedKind.Valloc,
        PreparedKind.Pvalloc, PreparedKind.ThreadExit, PreparedKind.Fork,
    ];

    private readonly TempDir _dir = new("ptreplay-warmup-");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Samples() => new(RepoFiles.SampleTraces.Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Samples))]
    public void WarmUp_LeavesTheSeriesFiguresAndAddressesOfARecordedProgramUnchanged(string sample)
    {
        using var reader = TraceReader.Open(RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == sample));
        PreparedTrace trace = TracePreparer.Prepare(reader.ReadAll(), _dir.File(sample + ".prep"), new PreparationOptions { SampleEvery = 200 });

        var coldAddresses = new List<ulong>();
        var warmAddresses = new List<ulong>();
        EngineResult cold = SimEngine.Run(trace, reader.Header, new ReplayOptions { SimWarmUp = false }, null, ModelTimer.Default, coldAddresses);
        EngineResult warm = SimEngine.Run(trace, reader.Header, new ReplayOptions(), null, ModelTimer.Default, warmAddresses);

        AssertSameFigures(cold, warm);
        Assert.Equal(trace.CallCount, coldAddresses.Count);
        Assert.Contains(coldAddresses, a => a != 0);
        Assert.Equal(coldAddresses, warmAddresses);
    }

    /// <summary>
    /// A multi-thread trace longer than the rehearsal, with reallocs and frees of blocks whose slots the rehearsal used,
    /// thread exits and cross-thread frees: the rehearsal borrows the replay's slot table, which must come back empty.
    /// </summary>
    [Fact]
    public void WarmUp_LeavesAMultiThreadReplayAndItsAddressesUnchanged_PastTheRehearsedOps()
    {
        var b = new TraceBuilder();
        ulong next = 0x1000;
        var live = new List<(int Thread, ulong Ptr)>();
        for (int i = 0; i < 400; i++)
        {
            int thread = i % 3;
            ulong size = (ulong)(16 + (i * 37 % 3000));
            ulong p = next += 0x10000;
            b.Malloc(thread, size, p);
            live.Add((thread, p));
            if (i % 4 == 3)
            {
                (int _, ulong victim) = live[i / 2];
                if (victim != 0)
                {
                    ulong moved = next += 0x10000;
                    b.Realloc(thread, victim, size * 3, moved);
                    live[i / 2] = (thread, moved);
                }
            }

            if (i % 5 == 4)
            {
                (int _, ulong victim) = live[i - 2];
                b.Free((thread + 1) % 3, victim);
                live[i - 2] = (thread, 0);
            }
        }

        foreach ((int thread, ulong p) in live.Where(l => l.Ptr != 0).Take(150))
        {
            b.Free(thread, p);
        }

        b.Exit(2).Exit(1);
        PreparedTrace trace = TracePreparer.Prepare(b.Events, _dir.File("mt.prep"), new PreparationOptions { SampleEvery = 25 });
        Assert.True(trace.OpCount > SimWarmUp.RehearsalOps * 2);

        var header = new TraceHeader();
        var coldAddresses = new List<ulong>();
        var warmAddresses = new List<ulong>();
        EngineResult cold = SimEngine.Run(trace, header, new ReplayOptions { SimWarmUp = false }, null, ModelTimer.Default, coldAddresses);
        EngineResult warm = SimEngine.Run(trace, header, new ReplayOptions(), null, ModelTimer.Default, warmAddresses);

        AssertSameFigures(cold, warm);
        Assert.Contains(coldAddresses, a => a != 0);
        Assert.Equal(coldAddresses, warmAddresses);
    }

    /// <summary>
    /// After a full warm-up in this process, the model still gives glibc's recorded address for every call of a
    /// recorded program (the recorder's addresses are the reference), and the slot table the warm-up borrowed is empty.
    /// </summary>
    [Fact]
    public void AfterAWarmUp_TheModelStillReproducesEveryRecordedAddress()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "python.trace");
        using var reader = TraceReader.Open(sample);
        List<AllocEvent> events = [.. reader.ReadAll()];
        PreparedTrace trace = TracePreparer.Prepare(events, _dir.File("py.prep"));
        ModelOptions options = ModelSetup.Options(reader.Header, ModelSetup.Tunables(null, reader.Header), TouchMode.Page);

        using (var file = new PreparedFile(trace.Path))
        {
            var slots = new ulong[file.Header.SlotCount];
            SimWarmUpReport report = SimWarmUp.Run(options, ModelTimer.Select(TimerPreference.Stopwatch), file, slots);
            Assert.Equal(SimWarmUp.RehearsalOps, report.RehearsedOps);
            Assert.All(slots, s => Assert.Equal(0UL, s));
        }

        ParityReport parity = TraceVerifier.Run(reader.Header, events);
        Assert.True(parity.Allocations > 0);
        Assert.True(parity.FullParity, parity.Summary);
    }

    [Fact]
    public void WarmUpTime_IsReportedApart_AndItsCallsStayOutOfTheLatency()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "sqlite.trace");
        using var reader = TraceReader.Open(sample);
        PreparedTrace trace = TracePreparer.Prepare(reader.ReadAll(), _dir.File("sq.prep"));

        ModelTimer timer = ModelTimer.Select(TimerPreference.Stopwatch);
        EngineResult warm = SimEngine.Run(trace, reader.Header, new ReplayOptions(), null, timer);
        EngineResult cold = SimEngine.Run(trace, reader.Header, new ReplayOptions { SimWarmUp = false }, null, timer);
        EngineResult untimed = SimEngine.Run(trace, reader.Header, new ReplayOptions { NoTiming = true }, null);

        Assert.True(warm.WarmupNs > 0, $"warmup_ns {warm.WarmupNs}");
        Assert.True(untimed.WarmupNs > 0, $"warmup_ns {untimed.WarmupNs}");
        Assert.Null(cold.WarmupNs);

        // The warm-up made thousands of timed calls of every kind into its own histogram: none is in the replay's.
        long TimedCalls(EngineResult r, EventKind kind) => r.Latency!.Summarize((int)kind)?.Count ?? 0;
        // (Each thread's first call is timed apart, FirstCalls, in both runs.)
        foreach (EventKind kind in EventKinds.Calls)
        {
            Assert.InRange(trace.CallsByKind[(int)kind] - TimedCalls(warm, kind), 0, warm.FirstCalls);
            Assert.Equal(TimedCalls(cold, kind), TimedCalls(warm, kind));
        }

        Assert.Equal(trace.CallCount, EventKinds.Calls.Sum(k => TimedCalls(warm, k)) + warm.FirstCalls);
        Assert.Equal(cold.FirstCalls, warm.FirstCalls);

        Assert.Equal(trace.CallCount, warm.Calls);

        // summary.json carries it as timing.warmup_ns, and leaves it out for a replay without a warm-up.
        string withWarmUp = _dir.File("warm.json"), without = _dir.File("cold.json");
        SummaryWriter.Write(withWarmUp, sample, trace, new ReplayOptions(), 1000, null, [warm]);
        SummaryWriter.Write(without, sample, trace, new ReplayOptions(), 1000, null, [cold]);
        EngineSummary written = SummaryFile.Read(withWarmUp).Engines.Single();
        Assert.Equal(warm.WarmupNs, written.Timing!.WarmupNs);
        Assert.Equal((double)warm.WarmupNs!.Value, written.Figure("warmup_ns"));
        Assert.Null(SummaryFile.Read(without).Engines.Single().Timing!.WarmupNs);
        Assert.DoesNotContain("warmup_ns", File.ReadAllText(without), StringComparison.Ordinal);
    }

    [Fact]
    public void NoSimWarmUpOption_ReplaysWithoutAWarmUp()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "perl.trace");
        string cold = _dir.NewFolder("cold"), warm = _dir.NewFolder("warm");
        Assert.Equal(0, Program.Main(["replay", sample, "--out", cold, "--engine", "sim", "--no-sim-warm-up"]));
        Assert.Equal(0, Program.Main(["replay", sample, "--out", warm, "--engine", "sim"]));

        EngineSummary c = SummaryFile.Read(Path.Combine(cold, SummaryFile.FileName)).Engines.Single();
        EngineSummary w = SummaryFile.Read(Path.Combine(warm, SummaryFile.FileName)).Engines.Single();
        Assert.Null(c.Timing!.WarmupNs);
        Assert.True(w.Timing!.WarmupNs > 0);
        Assert.Equal(c.Memory, w.Memory);
        Assert.Equal(File.ReadAllText(SeriesCsv.PathIn(cold, "sim")), File.ReadAllText(SeriesCsv.PathIn(warm, "sim")));
    }

    /// <summary>Every call kind the replay executes, thread exits and forks, under the default tunables and others (none aborts the model).</summary>
    [Theory]
    [InlineData(null)]
    [InlineData("glibc.malloc.tcache_count=0")]
    [InlineData("glibc.malloc.arena_max=1")]
    [InlineData("glibc.malloc.mmap_threshold=4096:glibc.malloc.trim_threshold=0")]
    [InlineData("glibc.malloc.perturb=165:glibc.malloc.mxfast=0")]
    public void Script_ExecutesEveryCallKind(string? tunables)
    {
        var options = new ModelOptions
        {
            Tunables = tunables is null ? MallocTunables.Default : MallocTunables.Parse(tunables),
            Touch = TouchModel.Page,
        };
        SimWarmUpReport report = SimWarmUp.RunScript(options, null, rounds: 2);

        foreach (PreparedKind kind in ExecutedKinds)
        {
            Assert.True(report.CallsOf(kind) > 0, $"{kind} never executed");
        }

        // Every op of every round ran to the end (a model abort would have stopped the round).
        Assert.Equal(0, report.AbortedRounds);
        Assert.Equal(report.Rounds * (long)report.OpsPerRound, ExecutedKinds.Where(k => k != PreparedKind.Fork).Sum(report.CallsOf));
        Assert.Equal(report.Rounds, report.CallsOf(PreparedKind.Fork));
    }

    /// <summary>Under the default tunables the script reaches the states behind the allocator's slower paths.</summary>
    [Fact]
    public void Script_ReachesTrimMmapAndThreadArenaPaths()
    {
        WarmUpEvidence e = SimWarmUp.RunScript(new ModelOptions { Touch = TouchModel.Page }, null, rounds: 1).Evidence;
        Assert.True(e.PeakMmappedBytes > 0, "no mmapped chunk");
        Assert.True(e.MainHeapShrank, "the break never shrank (no trim)");
        Assert.True(e.PeakArenaHeapBytes > 0, "no thread arena heap");
        Assert.True(e.ArenaHeapShrank, "no arena heap shrank");
        Assert.Equal(WarmUpScript.LastThread, e.Arenas); // main + threads 1..3; thread 4 took a freed arena
    }

    /// <summary>The script frees only what it allocated, once: a model that checks every chunk finds its heaps intact.</summary>
    [Fact]
    public void Script_LeavesAValidHeap()
    {
        var script = WarmUpScript.Build(4096);
        var model = new Ptmalloc(new ModelOptions());
        var slots = new ulong[script.SlotCount];
        foreach (WarmUpOp step in script.Ops)
        {
            PreparedOp op = step.Op;
            SimEngine.Execute<StopwatchTicks>(model, step.Thread, in op, slots, null, out _);
        }

        model.Validate();
        Assert.All(slots, s => Assert.Equal(0UL, s));
    }

    private static void AssertSameFigures(EngineResult cold, EngineResult warm)
    {
        Assert.True(cold.Error is null, cold.Error);
        Assert.True(warm.Error is null, warm.Error);
        Assert.Equal(cold.Calls, warm.Calls);
        Assert.Equal(cold.Series, warm.Series);
        Assert.Equal(cold.Memory, warm.Memory);
        var coldState = cold.Extra.Where(kv => !TimeFigures.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var warmState = warm.Extra.Where(kv => !TimeFigures.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(coldState);
        Assert.Equal(coldState, warmState);
    }
}
