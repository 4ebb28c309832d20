using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// A multi-threaded runtime whose worker threads live until the process ends (the .NET host running
/// <c>dotnet --info</c>, recorded at test time): each recorded thread must exist in a serial replay until its
/// recorded exit, and one that never exited must not exit when its calls run out. Otherwise glibc puts its arena
/// on the free list, a thread that starts later reuses it where the recorded thread got an arena of its own, and
/// the glibc replay holds fewer arena heaps than the program (and the model) did.
/// </summary>
public sealed class RuntimeThreadsReplayTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-runtime-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DotnetInfo_SimAndSerialGlibcAgreeAtEverySample()
    {
        (string trace, TraceHeader header, List<AllocEvent> events) = RecordVerified();
        var threadsWithoutExit = events.Select(e => e.Thread).Distinct()
            .Where(t => t != 0 && !events.Any(e => e.Thread == t && e.Kind == EventKind.ThreadExit))
            .ToList();
        Assert.True(threadsWithoutExit.Count >= 2,
            $"the recording has {threadsWithoutExit.Count} threads that outlive their calls: nothing to test");

        ReplayReport report = ReplayRunner.Run(trace, header, events, ["glibc", "sim"], _dir.NewFolder("out"),
            new ReplayOptions { NoTiming = true, Threads = ThreadMode.Serial, SimPreamble = SimPreambleMode.Auto },
            new PreparationOptions { SampleEvery = 200 });
        Assert.Equal(0, report.Prepared.IssueCount);
        EngineResult glibc = report.Results.Single(r => r.Engine == "glibc");
        EngineResult sim = report.Results.Single(r => r.Engine == "sim");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(sim.Error is null, sim.Error);

        Assert.True(sim.Series.Count > 20, $"only {sim.Series.Count} samples");
        Assert.Equal(glibc.Series.Select(p => p.Seq), sim.Series.Select(p => p.Seq));
        SeriesAgreement.AssertSameRssAndFootprint(sim, glibc);
        Assert.Equal(sim.PeakFootprintBytes, glibc.PeakFootprintBytes);
        Assert.Equal(sim.FinalFootprintBytes, glibc.FinalFootprintBytes);
    }

    /// <summary>
    /// Records <c>dotnet --info</c> until the model reproduces every address glibc returned (the runtime's threads
    /// race; a recording where two threads' first calls interleave differently from the model's arena choice is
    /// rare but possible), at most three times.
    /// </summary>
    private (string Trace, TraceHeader Header, List<AllocEvent> Events) RecordVerified()
    {
        var environment = CleanEnvironment.With(new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOME"] = _dir.NewFolder("home"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        });
        string last = "";
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            string trace = _dir.File($"dotnet-info-{attempt}.trace");
            RecordedRun.RecordOrThrow([RealPrograms.Dotnet, "--info"], trace, environment);
            using var reader = TraceReader.Open(trace);
            TraceHeader header = reader.Header;
            List<AllocEvent> events = [.. reader.ReadAll()];
            ParityReport parity = TraceVerifier.Run(header, events);
            if (parity.FullParity)
            {
                return (trace, header, events);
            }

            last = parity.Summary;
        }

        throw new InvalidOperationException($"no recording of dotnet --info verified at 100 % in three tries (last: {last})");
    }
}
