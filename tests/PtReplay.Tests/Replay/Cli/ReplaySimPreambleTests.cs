using System.Globalization;
using PtReplay.Cli;
using PtReplay.Replay.Native;
using PtReplay.Replay.Sim;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>A <c>--lockstep</c> recording of the bundled multi-thread workload (11 threads), made once for the class.</summary>
public sealed class LockstepRecording : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-preamble-");
    private readonly Lazy<string> _trace;

    public LockstepRecording()
    {
        _trace = new(() =>
        {
            string path = _dir.File("lockstep.trace");
            RecordedRun.RecordOrThrow([NativeArtifacts.Find(NativeArtifacts.MtWorkload), "--lockstep", "3", "150", "5"], path,
                CleanEnvironment.With(), workingDirectory: _dir.Path);
            return path;
        });
    }

    /// <summary>The trace (one thread calls at a time in a fixed schedule, so a serial glibc replay is deterministic).</summary>
    public string Trace => _trace.Value;

    /// <summary>A fresh output folder.</summary>
    public string NewFolder(string name) => _dir.NewFolder(name);

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// <c>replay --sim-preamble</c>: on a multi-thread trace the native replayer's own thread setup leaves TLS
/// DTVs at the bottom of glibc's main heap. With auto (the default) the model gets the same bytes first and
/// its footprint equals glibc's at every sample of a serial replay, whether the bytes were measured in the
/// glibc run or by a probe run; with none the two differ by that shift. Single-thread traces get nothing.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class ReplaySimPreambleTests(Recordings recordings, LockstepRecording lockstep) : IClassFixture<LockstepRecording>
{
    [Fact]
    public void MultiThread_Auto_SimMatchesGlibcAtEverySample_NoneDiffersByTheShift()
    {
        string auto = lockstep.NewFolder("auto");
        string none = lockstep.NewFolder("none");
        // sim is requested first: auto must still run glibc first and keep the summary in request order.
        var (code, stdout) = Replay(lockstep.Trace, auto, "--engine", "sim,glibc");
        Assert.Equal(0, code);
        Assert.Equal(0, Replay(lockstep.Trace, none, "--engine", "sim,glibc", "--sim-preamble", "none").Code);

        ReplaySummary a = Summary(auto);
        SimPreambleSummary preamble = a.Options.SimPreamble!;
        Assert.Equal("auto", preamble.Mode);
        Assert.Equal("glibc_run", preamble.Source);
        ulong bytes = preamble.Bytes;
        ulong setup = preamble.SetupHeapBytes!.Value;
        // One DTV per replay thread created before the replay: as many as the recording ever had alive at once (the
        // others start later, on a stack a joined thread left in glibc's cache, and calloc nothing).
        int threads;
        using (var reader = TraceReader.Open(lockstep.Trace))
        {
            threads = RecordedThreads.MaxAliveAtOnce([.. reader.ReadAll()]);
        }

        Assert.True(threads < a.Trace.Threads - 1, $"{threads} of {a.Trace.Threads - 1} threads alive at once: nothing starts later");
        Assert.Equal(setup - SimPreambleResolver.ModelTcacheChunkBytes, bytes);
        Assert.True(bytes > 0 && bytes % (ulong)threads == 0, $"preamble {bytes} B is not one DTV per replay thread ({threads})");
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"sim preamble: {bytes} B (auto, glibc_run)"), stdout, StringComparison.Ordinal);
        Assert.Equal(["sim", "glibc"], a.Engines.Select(x => x.Engine));

        var glibc = Footprints(auto, "glibc");
        Assert.True(glibc.Count > 10, $"only {glibc.Count} samples");
        Assert.Equal(glibc, Footprints(auto, "sim"));
        Assert.Equal(InUse(a, "glibc"), InUse(a, "sim"));

        ReplaySummary n = Summary(none);
        SimPreambleSummary nonePreamble = n.Options.SimPreamble!;
        Assert.Equal("none", nonePreamble.Mode);
        Assert.Equal(0UL, nonePreamble.Bytes);
        Assert.Equal(glibc, Footprints(none, "glibc")); // glibc itself is not affected by the option
        var empty = Footprints(none, "sim");
        Assert.Equal(glibc.Select(p => p.Seq), empty.Select(p => p.Seq));
        Assert.True(glibc.Zip(empty).Any(p => p.First.Footprint != p.Second.Footprint), "without the preamble no sample differs: the shift is gone?");
        Assert.Equal(bytes, InUse(n, "glibc") - InUse(n, "sim"));

        // The same bytes given explicitly (hex) do what auto did.
        string explicitDir = lockstep.NewFolder("explicit");
        Assert.Equal(0, Replay(lockstep.Trace, explicitDir, "--engine", "sim", "--sim-preamble", "0x" + bytes.ToString("x", CultureInfo.InvariantCulture)).Code);
        ReplaySummary e = Summary(explicitDir);
        Assert.Equal("explicit", e.Options.SimPreamble!.Source);
        Assert.Equal(glibc, Footprints(explicitDir, "sim"));
    }

    [Fact]
    public void MultiThread_AutoWithoutGlibc_ProbesTheReplayer_AndMatchesAGlibcRun()
    {
        string simOnly = lockstep.NewFolder("sim-only");
        string glibcOnly = lockstep.NewFolder("glibc-only");
        Assert.Equal(0, Replay(lockstep.Trace, simOnly, "--engine", "sim").Code);
        Assert.Equal(0, Replay(lockstep.Trace, glibcOnly, "--engine", "glibc", "--keep-work").Code);

        ReplaySummary s = Summary(simOnly);
        SimPreambleSummary preamble = s.Options.SimPreamble!;
        Assert.Equal("probe", preamble.Source);
        ulong glibcSetup = NativeResults.Read(Path.Combine(glibcOnly, "work", "glibc.results")).Header.SetupHeapBytes;
        Assert.Equal(glibcSetup, preamble.SetupHeapBytes!.Value);
        Assert.Equal(glibcSetup - SimPreambleResolver.ModelTcacheChunkBytes, preamble.Bytes);
        Assert.Equal(Footprints(glibcOnly, "glibc"), Footprints(simOnly, "sim"));
    }

    [Fact]
    public void SingleThread_Auto_AppliesNothing_AndGlibcHasNoSetupUse()
    {
        string auto = recordings.NewFolder("preamble-auto");
        string none = recordings.NewFolder("preamble-none");
        Assert.Equal(0, Replay(recordings.Sqlite, auto, "--engine", "glibc,sim", "--keep-work").Code);
        Assert.Equal(0, Replay(recordings.Sqlite, none, "--engine", "sim", "--sim-preamble", "none").Code);

        ReplaySummary a = Summary(auto);
        SimPreambleSummary preamble = a.Options.SimPreamble!;
        Assert.Equal("single_thread", preamble.Source);
        Assert.Equal(0UL, preamble.Bytes);
        // The reason auto applies nothing: without threads to create the replayer leaves glibc's heap untouched.
        Assert.Equal(0UL, NativeResults.Read(Path.Combine(auto, "work", "glibc.results")).Header.SetupHeapBytes);
        Assert.Equal(Footprints(none, "sim"), Footprints(auto, "sim"));
        Assert.Equal(Footprints(auto, "glibc"), Footprints(auto, "sim"));
    }

    [Theory]
    [InlineData("100", "100 bytes is not a chunk size")]
    [InlineData("16", "16 bytes is not a chunk size")]
    [InlineData("lots", "'lots' is not auto, none or a byte count")]
    public void Bytes_ThatAreNotAChunkSize_AreRefused(string value, string message)
    {
        string outDir = Path.Combine(lockstep.NewFolder("refused"), "out");
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = Program.Main(["replay", lockstep.Trace, "--out", outDir, "--engine", "sim", "--sim-preamble", value]);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Equal(2, code);
        Assert.Contains("--sim-preamble: " + message, error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(outDir, "summary.json")));
    }

    private static (int Code, string Stdout) Replay(string trace, string outDir, params string[] args)
    {
        var stdout = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(stdout);
        try
        {
            int code = Program.Main(["replay", trace, "--out", outDir, "--sample-every", "200", "--no-timing", .. args]);
            return (code, stdout.ToString());
        }
        finally
        {
            Console.SetOut(saved);
        }
    }

    private static ReplaySummary Summary(string outDir) => SummaryFile.Read(Path.Combine(outDir, SummaryFile.FileName));

    private static ulong InUse(ReplaySummary summary, string engine) =>
        (ulong)summary.Engines.Single(e => e.Engine == engine).Extra!["mallinfo2_uordblks"];

    /// <summary>(seq, footprint bytes) of every sample in DIR/series-ENGINE.csv.</summary>
    private static List<(long Seq, ulong Footprint)> Footprints(string outDir, string engine)
    {
        string path = SeriesCsv.PathIn(outDir, engine);
        Assert.True(File.Exists(path), $"{path} missing (engine failed?)");
        return [.. SeriesCsv.Read(path).Select(r => (r.Seq, r.FootprintBytes))];
    }
}
