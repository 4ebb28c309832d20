using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Reports.Input;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Results;

/// <summary>
/// The results contract end to end: a real replay of a committed recording (traces/samples, real python3 and sqlite3
/// runs) writes summary.json and the CSVs; the reports' reader gives back exactly the figures the engines computed.
/// </summary>
public sealed class ResultsRoundTripTests
{
    private static string Sample(string name) => RepoFiles.SampleTraces.First(t => Path.GetFileName(t) == name);

    [Theory]
    [InlineData("python.trace")]
    [InlineData("sqlite.trace")]
    public void ReplayOutput_ReadBackByTheReports_HasTheEngineResultsFigures(string trace)
    {
        using var dir = new TempDir("ptreplay-results-");
        ReplayReport report = ReplayRunner.RunFile(Sample(trace), ["sim", "glibc"], dir.Path, new ReplayOptions(), new PreparationOptions());
        ReplayOutput output = ReplayOutputReader.Read(dir.Path);

        Assert.Equal(report.Prepared.PeakLiveBytes, output.Trace.PeakLiveBytes);
        Assert.Equal(report.Prepared.CallCount, output.Trace.Calls);
        Assert.Equal(report.Results.Count, output.Engines.Count);
        for (int i = 0; i < report.Results.Count; i++)
        {
            EngineResult r = report.Results[i];
            EngineOutput o = output.Engines[i];
            Assert.Equal(r.Engine, o.Engine);
            Assert.True(r.Error is null, $"{r.Engine}: {r.Error}");
            Assert.Null(o.Error);
            Assert.Equal(r.Memory, o.Summary.Memory);
            Assert.Equal(r.Calls, o.Summary.Timing!.Calls);
            Assert.Equal(r.WallNs, o.Summary.Timing.WallNs);
            Assert.Equal(r.RssSource, o.Summary.Sources!.Rss);
            Assert.Equal(r.Latency!.Summarize((int)PtReplay.Traces.EventKind.Malloc)!.Count, o.Summary.Timing.LatencyNs["malloc"].Count);
            Assert.Equal(r.Series.Select(p => p.ToRow()), o.Series);
            Assert.Equal((double)r.PeakRssBytes, o.Figure("peak_rss_bytes"));
        }

        // The model and glibc replayed the same calls: the figures of the trace agree between engines.
        Assert.Equal(output.Engines[0].Summary.Memory!.PeakLiveBytes, output.Engines[1].Summary.Memory!.PeakLiveBytes);
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void SeriesCsv_RoundTrips_AndItsFragmentationColumnIsTheDefinedOne()
    {
        using var dir = new TempDir("ptreplay-results-");
        ReplayReport report = ReplayRunner.RunFile(Sample("python.trace"), ["sim"], dir.Path, new ReplayOptions(), new PreparationOptions());
        string path = SeriesCsv.PathIn(dir.Path, "sim");
        IReadOnlyList<SeriesRow> rows = SeriesCsv.Read(path);
        Assert.Equal(report.Results[0].Series.Select(p => p.ToRow()), rows);

        // The written fragmentation column is (rss - live) / rss of the same line; a tool reading the file sees it.
        string[] header = File.ReadLines(path).First().Split(',');
        Assert.Equal(["seq", "live_bytes", "rss_bytes", "footprint_bytes", "address_space_bytes", "allocator_bytes", "ts_ns", "fragmentation"], header);
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            string[] f = line.Split(',');
            double live = double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
            double rss = double.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture);
            double written = double.Parse(f[7], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(rss == 0 || live >= rss ? 0 : (rss - live) / rss, written, 9);
        }
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void LatencyCsv_RoundTrips()
    {
        using var dir = new TempDir("ptreplay-results-");
        ReplayReport report = ReplayRunner.RunFile(Sample("sqlite.trace"), ["sim"], dir.Path, new ReplayOptions(), new PreparationOptions());
        IReadOnlyList<LatencyRow> rows = LatencyCsv.Read(LatencyCsv.PathIn(dir.Path, "sim"));
        Assert.Equal(PtReplay.Replay.Output.SeriesCsvWriter.LatencyRows(report.Results[0].Latency!), rows);
        Assert.Contains(rows, r => r.Kind == "malloc" && r.SizeClass == "all" && r.Count > 1000);
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void UntouchedReplay_WhereLiveExceedsRss_NeverHasNegativeFragmentation()
    {
        // With --touch none the model faults in only the chunk headers it writes: live bytes exceed resident memory.
        using var dir = new TempDir("ptreplay-results-");
        ReplayReport report = ReplayRunner.RunFile(Sample("python.trace"), ["sim"], dir.Path, new ReplayOptions { Touch = TouchMode.None },
            new PreparationOptions());
        EngineResult sim = report.Results[0];
        Assert.Null(sim.Error);
        Assert.Contains(sim.Series, p => p.LiveBytes > p.RssBytes);
        ReplayOutput output = ReplayOutputReader.Read(dir.Path);
        Assert.All(output.Engines[0].Series, r => Assert.InRange(r.Fragmentation, 0, 1));
        MemoryFigures m = output.Engines[0].Summary.Memory!;
        Assert.InRange(m.PeakFragmentation, 0, 1);
        Assert.InRange(m.FinalFragmentation, 0, 1);
        Assert.True(m.PeakRssBytes >= m.RssAtPeakLiveBytes && m.PeakRssBytes >= m.FinalRssBytes);
        Assert.Equal((double)m.PeakRssBytes / m.PeakLiveBytes, m.JwPeakRssOverPeakLive, 4);
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void SummaryOfAnOlderLayout_IsAClearError()
    {
        using var dir = new TempDir("ptreplay-results-");
        File.WriteAllText(dir.File("summary.json"), """{ "trace": { "path": "x" }, "options": {}, "engines": { "sim": { "peak_rss_bytes": 1 } } }""");
        var ex = Assert.Throws<ReportInputException>(() => ReplayOutputReader.Read(dir.Path));
        Assert.StartsWith(dir.File("summary.json"), ex.Message, StringComparison.Ordinal);
    }
}
