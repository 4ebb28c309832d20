using System.Globalization;
using PtReplay.Cli;
using PtReplay.Results;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>
/// `ptreplay sweep` end to end on a real recording: the parallel grid gives the same figures as a serial one point by
/// point and as a plain `replay --engine sim` of the same point; the best points it reports are the smallest figures;
/// bad tunables exit 2; shards merged give the output of one run.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class SweepCommandTests(Recordings recordings)
{
    // mmap_threshold moves the Python script's large strings in and out of the heap; top_pad changes how far the heap grows.
    private static readonly string[] Grid =
        ["--tunable", "glibc.malloc.mmap_threshold=64K,1M", "--tunable", "glibc.malloc.top_pad=0,64K,1M"];

    [Fact]
    public void ParallelGrid_EqualsSerialRuns_AndPlainReplayOfAPoint()
    {
        string serialDir = recordings.NewFolder("sweep-serial");
        string parallelDir = recordings.NewFolder("sweep-parallel");
        // Two traces: the runs of both go through one parallel loop.
        Assert.Equal(0, Sweep(recordings.Python, serialDir, recordings.Sqlite, "--parallel", "1").Code);
        Assert.Equal(0, Sweep(recordings.Python, parallelDir, recordings.Sqlite, "--parallel", "4").Code);

        SweepResults serial = SweepFile.Read(Path.Combine(serialDir, SweepResults.FileName));
        SweepResults parallel = SweepFile.Read(Path.Combine(parallelDir, SweepResults.FileName));
        Assert.Equal(6, serial.PointCount);
        Assert.Equal([recordings.Python, recordings.Sqlite], serial.Traces.Select(t => t.Path));
        Assert.Equal(12, serial.Points.Count);
        Assert.Equal(serial.Points.Count, parallel.Points.Count);
        foreach ((SweepPoint s, SweepPoint p) in serial.Points.Zip(parallel.Points))
        {
            Assert.Equal((s.Trace, s.Point, s.Tunables), (p.Trace, p.Point, p.Tunables));
            Assert.True(s.Error is null, s.Error);
            Assert.Equal(s.Memory, p.Memory);
            // Each point's summary.json holds the same figures as the index.
            ReplaySummary summary = SummaryFile.Read(Path.Combine(parallelDir, p.Summary!));
            Assert.Equal(p.Memory, summary.Engines.Single().Memory);
            Assert.Equal("GLIBC_TUNABLES=" + p.Tunables, summary.Options.Tunables);
        }

        // The tunables reach the model: the points do not all have the same footprint.
        Assert.True(serial.Points.Where(p => p.Trace == 0).Select(p => p.Memory!.PeakFootprintBytes).Distinct().Count() > 1,
            "every point has the same peak footprint");

        // Every point is a distinct combination of the axes' values, with K and M read as 1024 and 1024².
        var expected = from m in new[] { 64 * 1024, 1024 * 1024 }
                       from t in new[] { 0, 64 * 1024, 1024 * 1024 }
                       select string.Create(CultureInfo.InvariantCulture, $"glibc.malloc.mmap_threshold={m}:glibc.malloc.top_pad={t}");
        Assert.Equal(expected.Order(StringComparer.Ordinal), serial.Points.Where(p => p.Trace == 1).Select(p => p.Tunables).Order(StringComparer.Ordinal));

        SweepPoint point = serial.Points.Single(p => p.Trace == 0 && p.Point == 4);
        string replayDir = recordings.NewFolder("sweep-replay");
        Assert.Equal(0, Program.Main(["replay", recordings.Python, "--out", replayDir, "--engine", "sim", "--sim-preamble", "none",
            "--tunables", point.Tunables]));
        ReplaySummary replay = SummaryFile.Read(Path.Combine(replayDir, SummaryFile.FileName));
        Assert.Equal(point.Memory, replay.Engines.Single().Memory);
    }

    [Fact]
    public void BestPoints_AreTheSmallestFigures()
    {
        string dir = recordings.NewFolder("sweep-best");
        (int code, string stdout) = Sweep(recordings.Python, dir, "--parallel", "2");
        Assert.Equal(0, code);
        SweepResults results = SweepFile.Read(Path.Combine(dir, SweepResults.FileName));
        var figures = new (string Name, Func<MemoryFigures, double> Of)[]
        {
            ("peak_footprint_bytes", m => m.PeakFootprintBytes),
            ("final_rss_bytes", m => m.FinalRssBytes),
            ("jw_peak_rss_over_peak_live", m => (double)m.PeakRssBytes / m.PeakLiveBytes),
        };
        foreach ((string name, Func<MemoryFigures, double> of) in figures)
        {
            double smallest = results.Points.Min(p => of(p.Memory!));
            SweepBest best = results.Best.Single(b => b.Figure == name);
            SweepPoint chosen = results.Points.Single(p => p.Point == best.Point);
            Assert.Equal(smallest, of(chosen.Memory!), 3);
            // Among equal figures the lowest point index wins.
            int first = results.Points.Where(p => Math.Abs(of(p.Memory!) - smallest) < 1e-9).Min(p => p.Point);
            Assert.Equal(first, best.Point);
            Assert.Contains($"best {name}: point {best.Point} ({chosen.Tunables})", stdout, StringComparison.Ordinal);
        }

        // --json without an output folder prints the same results (no summaries written).
        var json = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(json);
        try
        {
            Assert.Equal(0, Program.Main(["sweep", recordings.Python, .. Grid, "--json"]));
        }
        finally
        {
            Console.SetOut(saved);
        }

        string jsonFile = Path.Combine(recordings.NewFolder("sweep-json"), "stdout.json");
        File.WriteAllText(jsonFile, json.ToString());
        SweepResults printed = SweepFile.Read(jsonFile);
        Assert.Equal(results.Points.Select(p => p with { Summary = null }), printed.Points);
        Assert.Equal(results.Best, printed.Best);
    }

    [Theory]
    [InlineData("glibc.malloc.no_such_tunable=1", "unknown tunable 'glibc.malloc.no_such_tunable'")]
    [InlineData("glibc.malloc.arena_max=1,two", "'two' is not a number")]
    [InlineData("glibc.malloc.mmap_threshold=16E", "'16E' is not a number")]
    [InlineData("glibc.malloc.arena_max=2,0", "glibc.malloc.arena_max=0: the value must be a whole number in [1, SIZE_MAX]")]
    [InlineData("glibc.malloc.perturb=1K", "glibc.malloc.perturb=1024: the value must be a whole number in [0, 255]")]
    [InlineData("glibc.malloc.top_pad=99999999999G", "is not a number")]
    [InlineData("glibc.malloc.arena_max", "is not NAME=V1,V2")]
    [InlineData("glibc.malloc.arena_max=", "'' is not a number")]
    public void BadTunable_Exits2_NamingIt(string tunable, string message)
    {
        string dir = recordings.NewFolder("sweep-bad");
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = Program.Main(["sweep", recordings.Python, "--tunable", tunable, "-o", dir]);
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Equal(2, code);
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, SweepResults.FileName)));
    }

    [Fact]
    public void RepeatedAxis_Exits2()
    {
        string dir = recordings.NewFolder("sweep-repeat");
        Assert.Equal(2, Program.Main(["sweep", recordings.Python, "-t", "glibc.malloc.top_pad=0", "-t", "glibc.malloc.top_pad=1M", "-o", dir]));
    }

    [Fact]
    public void Shards_MergedEqualOneRun()
    {
        string whole = recordings.NewFolder("sweep-whole");
        Assert.Equal(0, Sweep(recordings.Python, whole).Code);
        var shards = new List<string>();
        for (int k = 1; k <= 3; k++)
        {
            string shard = recordings.NewFolder($"sweep-shard{k}");
            Assert.Equal(0, Sweep(recordings.Python, shard, "--shard", $"{k}/3").Code);
            SweepResults part = SweepFile.Read(Path.Combine(shard, SweepResults.FileName));
            Assert.Equal(new SweepShard(k, 3), part.Shard);
            Assert.All(part.Points, p => Assert.Equal(k - 1, p.Point % 3));
            shards.Add(shard);
        }

        // Missing a shard: the merge names it and exits 3.
        Assert.Equal(3, Program.Main(["sweep", "--merge", shards[0], shards[2], "-o", recordings.NewFolder("sweep-partial")]));

        string mergedDir = recordings.NewFolder("sweep-merged");
        Assert.Equal(0, Program.Main(["sweep", "--merge", shards[2], shards[0], shards[1], "-o", mergedDir]));
        SweepResults one = SweepFile.Read(Path.Combine(whole, SweepResults.FileName));
        SweepResults merged = SweepFile.Read(Path.Combine(mergedDir, SweepResults.FileName));
        Assert.Null(merged.Shard);
        Assert.Equal(one.PointCount, merged.PointCount);
        Assert.Equal(one.Axes.Select(a => (a.Name, string.Join(',', a.Values))), merged.Axes.Select(a => (a.Name, string.Join(',', a.Values))));
        Assert.Equal(one.Traces, merged.Traces);
        Assert.Equal(one.Points, merged.Points);
        Assert.Equal(one.Best, merged.Best);
        foreach (SweepPoint p in merged.Points)
        {
            Assert.Equal(p.Memory, SummaryFile.Read(Path.Combine(mergedDir, p.Summary!)).Engines.Single().Memory);
        }
    }

    private static (int Code, string Stdout) Sweep(string trace, string outDir, params string[] args)
    {
        var stdout = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(stdout);
        try
        {
            int code = Program.Main(["sweep", trace, .. args, .. Grid, "-o", outDir]);
            return (code, stdout.ToString());
        }
        finally
        {
            Console.SetOut(saved);
        }
    }
}
