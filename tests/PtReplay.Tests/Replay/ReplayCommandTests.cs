using System.Text.Json;
using PtReplay.Cli;
using PtReplay.Replay;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `ptreplay replay` end to end on real recordings: the summary of every engine has its fields with
/// plausible values, and bad events are reported with their event index (skipped, or --strict stops).
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class ReplayCommandTests(Recordings recordings)
{
    private static readonly string[] LatencyFields = ["p50", "p90", "p99", "p999", "max"];

    [SkippableFact]
    public void Summary_HasEveryEngineWithPlausibleFigures()
    {
        Requires.Engines(ReplayRunner.AllEngines);
        string outDir = recordings.NewFolder("summary");
        int code = Program.Main(["replay", recordings.Python, "--out", outDir, "--sample-every", "500"]);
        Assert.Equal(0, code);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "summary.json")));
        JsonElement engines = doc.RootElement.GetProperty("engines");
        ulong expectedPeakLive = PeakLiveFromTrace(recordings.Python);
        foreach (string name in new[] { "sim", "glibc", "jemalloc", "tcmalloc", "mimalloc" })
        {
            JsonElement e = engines.GetProperty(name);
            Assert.False(e.TryGetProperty("error", out JsonElement error), $"{name}: {error}");
            ulong peakLive = e.GetProperty("peak_live_bytes").GetUInt64();
            Assert.Equal(expectedPeakLive, peakLive);
            Assert.True(e.GetProperty("peak_footprint_bytes").GetUInt64() >= peakLive, $"{name}: footprint below live");
            Assert.True(e.GetProperty("final_footprint_bytes").GetUInt64() > 0, name);
            Assert.True(e.GetProperty("peak_rss_bytes").GetUInt64() > 0, name);
            Assert.True(e.GetProperty("final_rss_bytes").GetUInt64() > 0, name);
            JsonElement malloc = e.GetProperty("latency_ns").GetProperty("malloc");
            double previous = 0;
            foreach (string f in LatencyFields)
            {
                double v = malloc.GetProperty(f).GetDouble();
                Assert.True(v > 0 && v >= previous, $"{name} malloc {f} = {v}");
                previous = v;
            }

            Assert.True(e.GetProperty("latency_ns").TryGetProperty("free", out _), name);
            Assert.True(File.Exists(Path.Combine(outDir, $"series-{name}.csv")), name);
        }
    }

    [Fact]
    public void BadEvents_AreReportedWithTheirIndex_SkippedByDefault_AndStopUnderStrict()
    {
        string dir = recordings.NewFolder("bad");
        string bad = Path.Combine(dir, "bad.trace");
        var (unknownIndex, doubleFreeIndex) = WriteTraceWithBadFrees(recordings.Sqlite, bad);

        string outDir = Path.Combine(dir, "out");
        Assert.Equal(0, Program.Main(["replay", bad, "--out", outDir, "--engine", "glibc"]));
        using (JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "summary.json"))))
        {
            JsonElement trace = doc.RootElement.GetProperty("trace");
            var issues = trace.GetProperty("issues").EnumerateArray()
                .Select(i => (Index: i.GetProperty("event_index").GetInt64(), Kind: i.GetProperty("kind").GetString())).OrderBy(i => i.Index).ToList();
            var expected = new[] { (Index: unknownIndex, Kind: (string?)"UnknownPointer"), (Index: doubleFreeIndex, Kind: (string?)"DoubleFree") }.OrderBy(i => i.Index).ToList();
            Assert.Equal(expected, issues);
            Assert.False(doc.RootElement.GetProperty("engines").GetProperty("glibc").TryGetProperty("error", out _));
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

        using JsonDocument a = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(timed, "summary.json")));
        using JsonDocument b = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(untimed, "summary.json")));
        JsonElement simTimed = a.RootElement.GetProperty("engines").GetProperty("sim");
        JsonElement simUntimed = b.RootElement.GetProperty("engines").GetProperty("sim");
        Assert.True(simTimed.GetProperty("latency_ns").TryGetProperty("malloc", out _));
        bool hasLatency = simUntimed.TryGetProperty("latency_ns", out JsonElement untimedLatency);
        Assert.False(hasLatency && untimedLatency.TryGetProperty("malloc", out _), "--no-timing still measured the model's latency");
        foreach (string f in new[] { "peak_footprint_bytes", "peak_rss_bytes", "final_footprint_bytes", "final_rss_bytes" })
        {
            Assert.Equal(simTimed.GetProperty(f).GetUInt64(), simUntimed.GetProperty(f).GetUInt64());
        }
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
        using (JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "summary.json"))))
        {
            JsonElement trace = doc.RootElement.GetProperty("trace");
            JsonElement issue = Assert.Single(trace.GetProperty("issues").EnumerateArray());
            Assert.Equal("Truncated", issue.GetProperty("kind").GetString());
            Assert.Equal(trace.GetProperty("events").GetInt64(), issue.GetProperty("event_index").GetInt64());
            Assert.True(trace.GetProperty("events").GetInt64() > 0);
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
