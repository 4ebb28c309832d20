using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Reports.Html;
using PtReplay.Reports.Input;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Sim;

/// <summary>
/// Garbage collections around the model's timed replay are counted and reported, in process and from the runtime's own
/// events (--gc-proof): none on real recordings (the model allocates nothing per call, its heap's growth included), and
/// a collection that does fall in the timed replay is counted by both and flagged in the report.
/// They run alone: the harness's phase markers are process-wide, so another test replaying in this process at the same
/// time would mark windows of its own into the session these tests read.
/// </summary>
[Collection(PtReplay.Tests.Replay.GcProof.RunAlone.Name)]
public sealed class SimGcTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-simgc-");

    public void Dispose() => _dir.Dispose();

    private (PreparedTrace Trace, TraceHeader Header) Prepare(string name)
    {
        using var reader = TraceReader.Open(RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == name));
        return (TracePreparer.Prepare(reader.ReadAll(), _dir.File(name + ".prepared")), reader.Header);
    }

    /// <summary>
    /// Run as `ptreplay replay` in a process of its own: the counts are the process's, and in the test host other tests
    /// running beside this one allocate too.
    /// </summary>
    [Fact]
    public void RealRecording_HasNoCollectionInTheTimedReplay()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "python.trace");
        string outDir = _dir.File("cli");
        (int code, string stdout, string stderr) = ChildProcess.Run(RealPrograms.Dotnet,
            [Path.Combine(AppContext.BaseDirectory, "ptreplay.dll"), "replay", sample, "-o", outDir, "--engine", "sim"], null);
        Assert.True(code == 0, stdout + stderr);
        GcFigures gc = Assert.IsType<GcFigures>(SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines.Single().Timing!.Gc);
        Assert.Equal(0, gc.CollectionsInTimedReplay);
        Assert.Equal(0, gc.PauseNsInTimedReplay);
        Assert.True(gc.CollectionsTotal >= gc.CollectionsInTimedReplay);
        Assert.True(gc.HeapBytes > 0);
    }

    /// <summary>
    /// A recording whose heap grows to tens of MB: the model writes thousands of new simulated pages inside its timed
    /// calls, and their host memory must not come from the managed heap (it once did, and such a replay had collections
    /// in its timed window). The runtime's own GC events, read under `--gc-proof`, prove none ran there.
    /// </summary>
    [Fact]
    public void GrowingHeap_UnderTheGcProof_HasNoCollectionInItsTimedWindow()
    {
        string trace = _dir.File("growing.trace");
        RecordedRun.RecordOrThrow([RealPrograms.Python, "-c", "keep = [str(i) * 6 for i in range(300000)]\nprint(len(keep))\n"], trace,
            CleanEnvironment.With(RealPrograms.PythonEnvironment()));
        string outDir = _dir.File("growing");
        (int code, string stdout, string stderr) = ChildProcess.Run(RealPrograms.Dotnet,
            [Path.Combine(AppContext.BaseDirectory, "ptreplay.dll"), "replay", trace, "-o", outDir, "--engine", "sim", "--gc-proof"], null);
        Assert.True(code == 0, stdout + stderr);

        EngineSummary sim = SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines.Single();
        GcFigures gc = Assert.IsType<GcFigures>(sim.Timing!.Gc);
        Assert.Equal(0, gc.EventsLost);
        Assert.Equal(1, gc.TimedWindows); // --gc-proof replays from the whole prepared file: no wait splits the window
        Assert.Equal(0, gc.CollectionsInTimedWindows);
        Assert.Equal(0, gc.CollectionsInTimedWindowsInProcess);
        Assert.True(gc.ProofHolds);
        // The simulated heap's pages are not managed memory: what the replay thread allocated is a small part of them.
        Assert.True((ulong)gc.AllocatedBytesInTimedWindows < sim.Memory!.PeakFootprintBytes / 4,
            $"{gc.AllocatedBytesInTimedWindows} managed bytes allocated in the timed window for a peak footprint of {sim.Memory.PeakFootprintBytes}");
        Assert.Contains($"gc proof: 0 collection(s) in {gc.TimedWindows} timed window(s)", stdout, StringComparison.Ordinal);

        // The proof changes nothing the replay measures: same memory figures and calls as a replay without it, and
        // reading the session's events (which compiles hundreds of methods) stays out of what was compiled while timed.
        string plainDir = _dir.File("growing-plain");
        (code, stdout, stderr) = ChildProcess.Run(RealPrograms.Dotnet,
            [Path.Combine(AppContext.BaseDirectory, "ptreplay.dll"), "replay", trace, "-o", plainDir, "--engine", "sim"], null);
        Assert.True(code == 0, stdout + stderr);
        EngineSummary plain = SummaryFile.Read(Path.Combine(plainDir, "summary.json")).Engines.Single();
        Assert.Equal(plain.Memory, sim.Memory);
        Assert.Equal(plain.Timing!.Calls, sim.Timing.Calls);
        Assert.Null(plain.Timing.Gc!.CollectionsInTimedWindows);
        double jitPlain = plain.Extra!["timed_jit_methods"], jitProof = sim.Extra!["timed_jit_methods"];
        Assert.True(jitProof <= jitPlain + 16, $"{jitProof} methods compiled while timed under the proof, {jitPlain} without");
    }

    [Fact]
    public void GcProof_WithTheDiagnosticsPortOff_FailsTheEngineSayingWhy()
    {
        string sample = RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "perl.trace");
        string outDir = _dir.File("portoff");
        var environment = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        environment["DOTNET_EnableDiagnostics"] = "0";
        (int code, string stdout, string stderr) = ChildProcess.Run(RealPrograms.Dotnet,
            [Path.Combine(AppContext.BaseDirectory, "ptreplay.dll"), "replay", sample, "-o", outDir, "--engine", "sim", "--gc-proof"], environment);
        Assert.True(code == 5, stdout + stderr);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        string error = Assert.IsType<string>(SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines.Single().Error);
        Assert.Contains("--gc-proof", error, StringComparison.Ordinal);
        Assert.Contains("DOTNET_EnableDiagnostics=0", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ACollectionInTheTimedReplay_IsCountedAndFlaggedInTheReport()
    {
        var (trace, header) = Prepare("sqlite.trace");
        int forced = 0;
        // The progress callback runs inside the timed loop (every 1 % of the ops): a collection there is one the count must see.
        var options = new ReplayOptions
        {
            GcProof = true,
            Progress = (_, fraction) =>
            {
                if (fraction > 0 && fraction < 0.5)
                {
                    GC.Collect();
                    forced++;
                }
            },
        };
        EngineResult sim = SimEngine.Run(trace, header, options, null);
        Assert.True(sim.Error is null, sim.Error);
        Assert.True(forced > 0, "the progress callback never ran inside the replay");
        Assert.True(sim.Gc!.CollectionsInTimedReplay >= forced, $"{sim.Gc.CollectionsInTimedReplay} collections counted, {forced} forced");
        // The runtime's own events see them too (other tests' collections in this process may add to both counts).
        Assert.True(sim.Gc.CollectionsInTimedWindows >= forced, $"{sim.Gc.CollectionsInTimedWindows} collections in the runtime's events, {forced} forced");
        Assert.Equal(0, sim.Gc.EventsLost);

        string outDir = _dir.File("out");
        using (var reader = TraceReader.Open(RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "sqlite.trace")))
        {
            ReplayRunner.Run("sqlite.trace", reader.Header, reader.ReadAll(), ["sim"], outDir, options,
                new PreparationOptions());
        }

        ReplaySummary written = SummaryFile.Read(Path.Combine(outDir, "summary.json"));
        Assert.True(written.Engines.Single().Timing!.Gc!.CollectionsInTimedReplay >= 1);
        string page = HtmlReport.Build([ReplayOutputReader.Read(outDir)]);
        Assert.Contains("class=\"gc warn\"", page, StringComparison.Ordinal);
        Assert.Contains("garbage collection(s) during the timed replay", page, StringComparison.Ordinal);
        Assert.Contains("Runtime events (--gc-proof):", page, StringComparison.Ordinal);
    }

    /// <summary>A replay whose runtime events lost some: no collection counted, but the report does not call it proven.</summary>
    [Fact]
    public void AProofThatDoesNotHold_IsFlaggedInTheReport()
    {
        string outDir = _dir.File("lost");
        using (var reader = TraceReader.Open(RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == "sqlite.trace")))
        {
            ReplayRunner.Run("sqlite.trace", reader.Header, reader.ReadAll(), ["sim"], outDir, new ReplayOptions(), new PreparationOptions());
        }

        string path = Path.Combine(outDir, "summary.json");
        ReplaySummary summary = SummaryFile.Read(path);
        EngineSummary sim = summary.Engines.Single();
        GcFigures clean = sim.Timing!.Gc! with { CollectionsInTimedReplay = 0, CollectionsInTimedWindowsInProcess = 0 };
        GcFigures lost = clean with { CollectionsInTimedWindows = 0, EventsLost = 2, ProofHolds = false };

        SummaryFile.Write(path, summary with { Engines = [sim with { Timing = sim.Timing with { Gc = lost } }] });
        string page = HtmlReport.Build([ReplayOutputReader.Read(outDir)]);
        Assert.Contains("class=\"gc warn\"", page, StringComparison.Ordinal);
        Assert.Contains("the runtime's events do not prove it", page, StringComparison.Ordinal);
        Assert.Contains("2 event(s) lost", page, StringComparison.Ordinal);

        SummaryFile.Write(path, summary with { Engines = [sim with { Timing = sim.Timing with { Gc = lost with { EventsLost = 0, ProofHolds = true } } }] });
        page = HtmlReport.Build([ReplayOutputReader.Read(outDir)]);
        Assert.DoesNotContain("class=\"gc warn\"", page, StringComparison.Ordinal);
        Assert.Contains("the proof holds", page, StringComparison.Ordinal);
    }
}
