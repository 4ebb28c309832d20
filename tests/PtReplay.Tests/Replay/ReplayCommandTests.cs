using PtReplay.Cli;
using PtReplay.Replay;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `ptreplay replay` end to end on real recordings: the summary of every engine has its fields with
/// plausible values, and bad events are reported with their event index (skipped, or --strict stops).
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class ReplayCommandTests(Recordings recordings)
{
    [SkippableFact]
    public void Summary_HasEveryEngineWithPlausibleFigures()
    {
        Requires.Engines(ReplayRunner.AllEngines);
        string outDir = recordings.NewFolder("summary");
        int code = Program.Main(["replay", recordings.Python, "--out", outDir, "--sample-every", "500"]);
        Assert.Equal(0, code);

        ReplaySummary summary = SummaryFile.Read(Path.Combine(outDir, "summary.json"));
        ulong expectedPeakLive = PeakLiveFromTrace(recordings.Python);
        Assert.Equal(["sim", "glibc", "jemalloc", "tcmalloc", "mimalloc"], summary.Engines.Select(e => e.Engine));
        foreach (EngineSummary e in summary.Engines)
        {
            string name = e.Engine;
            Assert.True(e.Error is null, $"{name}: {e.Error}");
            MemoryFigures m = e.Memory!;
            Assert.Equal(expectedPeakLive, m.PeakLiveBytes);
            Assert.True(m.PeakFootprintBytes >= m.PeakLiveBytes, $"{name}: footprint below live");
            Assert.True(m.FinalFootprintBytes > 0, name);
            Assert.True(m.PeakRssBytes > 0, name);
            Assert.True(m.FinalRssBytes > 0, name);
            LatencyFigures malloc = e.Timing!.LatencyNs["malloc"];
            double previous = 0;
            foreach (double v in new[] { malloc.P50, malloc.P90, malloc.P99, malloc.P999, malloc.Max })
            {
                Assert.True(v > 0 && v >= previous, $"{name} malloc latency {v} after {previous}");
                previous = v;
            }

            Assert.True(e.Timing.LatencyNs.ContainsKey("free"), name);
            Assert.True(File.Exists(Path.Combine(outDir, $"series-{name}.csv")), name);
        }
    }

    [Fact]
    public void EngineAll_NamesEveryEngine_AndAnUnknownOneIsAUsageError()
    {
        string outDir = recordings.NewFolder("engine-all");
        var replay = CliRunner.Run("replay", recordings.Sqlite, "--out", outDir, "--engine", "all", "--no-timing");
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        ReplaySummary summary = SummaryFile.Read(Path.Combine(outDir, "summary.json"));
        // The engines `replay --help` lists, in its order (an engine whose library is missing is there with its error).
        Assert.Equal(["sim", "glibc", "jemalloc", "tcmalloc", "mimalloc"], summary.Engines.Select(e => e.Engine));

        var bad = CliRunner.Run("replay", recordings.Sqlite, "--out", recordings.NewFolder("engine-bad"), "--engine", "glibc,nosuch");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("unknown engine(s) 'nosuch'", bad.Stderr, StringComparison.Ordinal);
        Assert.Contains("or all", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BadEvents_AreReportedWithTheirIndex_SkippedByDefault_AndStopUnderStrict()
    {
        string dir = recordings.NewFolder("bad");
        string bad = Path.Combine(dir, "bad.trace");
        var (unknownIndex, doubleFreeIndex) = WriteTraceWithBadFrees(recordings.Sqlite, bad);

        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, Program.Main(["replay", bad, "--out", outDir, "--engine", "glibc"]));
        {
            ReplaySummary summary = SummaryFile.Read(Path.Combine(outDir, "summary.json"));
            var issues = summary.Trace.Issues.Select(i => (Index: i.EventIndex, i.Kind)).OrderBy(i => i.Index).ToList();
            var expected = new[] { (Index: unknownIndex, Kind: "UnknownPointer"), (Index: doubleFreeIndex, Kind: "DoubleFree") }.OrderBy(i => i.Index).ToList();
            Assert.Equal(expected, issues);
            Assert.Null(summary.Engines.Single(e => e.Engine == "glibc").Error);
        }

        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        int strictCode;
        try
        {
            strictCode = Program.Main(["replay", bad, "--out", Path.Combine(dir, "strict"), "--engine", "glibc", "--strict"]);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Equal(3, strictCode);
        Assert.Contains($"event {Math.Min(unknownIndex, doubleFreeIndex)}", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void NoTiming_ModelSkipsItsClock_AndKeepsItsDeterministicFigures()
    {
        string timed = recordings.NewFolder("timed");
        string untimed = recordings.NewFolder("untimed");
        Assert.Equal(0, Program.Main(["replay", recordings.Sqlite, "--out", timed, "--engine", "sim"]));
        Assert.Equal(0, Program.Main(["replay", recordings.Sqlite, "--out", untimed, "--engine", "sim", "--no-timing"]));

        EngineSummary simTimed = SummaryFile.Read(Path.Combine(timed, "summary.json")).Engines.Single();
        EngineSummary simUntimed = SummaryFile.Read(Path.Combine(untimed, "summary.json")).Engines.Single();
        Assert.True(simTimed.Timing!.LatencyNs.ContainsKey("malloc"));
        Assert.False(simUntimed.Timing!.LatencyNs.ContainsKey("malloc"), "--no-timing still measured the model's latency");
        Assert.Equal(simTimed.Memory, simUntimed.Memory);
    }

    /// <summary>`replay --engine sim --check-addresses` is `verify`'s run: on a real recording it prints verify's parity line.</summary>
    [Fact]
    public void CheckAddresses_PrintsTheParityVerifyPrints()
    {
        string outDir = recordings.NewFolder("check");
        var replay = CliRunner.Run("replay", recordings.Sqlite, "--out", outDir, "--engine", "sim", "--check-addresses");
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        var verify = CliRunner.Run("verify", recordings.Sqlite);
        Assert.True(verify.ExitCode == 0, verify.Stdout);
        string parity = verify.Stdout.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("parity: ", parity, StringComparison.Ordinal);
        Assert.Contains("sim " + parity, replay.Stdout, StringComparison.Ordinal);
        EngineSummary sim = SummaryFile.Read(Path.Combine(outDir, "summary.json")).Engines.Single();
        string[] counts = parity["parity: ".Length..].Split(' ')[0].Split('/');
        Assert.Equal(double.Parse(counts[0], System.Globalization.CultureInfo.InvariantCulture), sim.Extra!["parity_identical"]);
        Assert.Equal(double.Parse(counts[1], System.Globalization.CultureInfo.InvariantCulture), sim.Extra!["parity_allocations"]);
    }

    [Fact]
    public void TruncatedTrace_IsReplayedUpToTheCut_AndStopsUnderStrict()
    {
        string dir = recordings.NewFolder("cut");
        string cut = Path.Combine(dir, "cut.trace");
        // Rewrite the recording in small blocks, so that a cut two thirds in leaves many complete blocks before it.
        string small = Path.Combine(dir, "small-blocks.trace");
        using (var reader = TraceReader.Open(recordings.Sqlite))
        using (var writer = TraceWriter.Create(small, reader.Header, new TraceWriterOptions { EventsPerBlock = 4096 }))
        {
            List<AllocEvent> events = reader.ReadAll().ToList(); // the thread table fills as events are read
            writer.DeclareThreads(reader.ThreadTids);
            foreach (AllocEvent e in events)
            {
                writer.Write(in e);
            }

            writer.Complete();
        }

        byte[] bytes = File.ReadAllBytes(small);
        File.WriteAllBytes(cut, bytes.AsSpan(0, bytes.Length * 2 / 3).ToArray());

        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, Program.Main(["replay", cut, "--out", outDir, "--engine", "glibc"]));
        {
            TraceSummary trace = SummaryFile.Read(Path.Combine(outDir, "summary.json")).Trace;
            TraceIssueSummary issue = Assert.Single(trace.Issues);
            Assert.Equal("Truncated", issue.Kind);
            Assert.Equal(trace.Events, issue.EventIndex);
            Assert.True(trace.Events > 0);
        }

        Assert.Equal(3, Program.Main(["replay", cut, "--out", Path.Combine(dir, "strict"), "--engine", "glibc", "--strict"]));
    }

    /// <summary>Copies a recording, adding a free of a pointer never returned and a second free of a freed block.</summary>
    private static (long Unknown, long DoubleFree) WriteTraceWithBadFrees(string source, string target)
    {
        using var reader = TraceReader.Open(source);
        List<AllocEvent> events = reader.ReadAll().ToList();
        int firstFree = events.FindIndex(e => e.Kind == EventKind.Free && e.Ptr != 0);
        Assert.True(firstFree > 0);
        var output = new List<AllocEvent>(events.Count + 2);
        long unknown = -1, doubleFree = -1;
        for (int i = 0; i < events.Count; i++)
        {
            output.Add(events[i]);
            if (i == 5)
            {
                unknown = output.Count;
                output.Add(events[i] with { Kind = EventKind.Free, Ptr = 0x7ead_beef_0010, Size = 0, Count = 0, Alignment = 0, Result = 0, Status = 0 });
            }

            if (i == firstFree)
            {
                doubleFree = output.Count;
                output.Add(events[i]);
            }
        }

        using var writer = TraceWriter.Create(target, reader.Header);
        writer.DeclareThreads(reader.ThreadTids);
        foreach (AllocEvent e in output)
        {
            writer.Write(in e);
        }

        writer.Complete();
        return (unknown, doubleFree);
    }

    /// <summary>Peak requested bytes live as `ptreplay info` computes it from the trace.</summary>
    private static ulong PeakLiveFromTrace(string path) => PtReplay.Traces.Analysis.TraceStatistics.Compute(path).PeakLiveBytes;
}
