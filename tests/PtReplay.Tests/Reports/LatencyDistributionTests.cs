using System.Text.RegularExpressions;
using System.Xml.Linq;
using PtReplay.Reports.Input;
using PtReplay.Reports.Plots;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The latency distribution: a replay writes each engine's histogram buckets (latency-buckets-ENGINE.csv), and the report
/// draws a CDF per call kind from them. Every call the trace holds is in the buckets once (except each thread's first call,
/// timed apart), and the percentiles of latency-ENGINE.csv fall in the bucket where the cumulative count crosses them.
/// </summary>
public sealed class LatencyDistributionTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-latency-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheBuckets_HoldEveryTimedCall_AndTheReportDrawsTheirCdf()
    {
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("sqlite.trace", StringComparison.Ordinal));
        long mallocs, frees;
        using (var reader = TraceReader.Open(trace))
        {
            var events = reader.ReadAll().ToList();
            mallocs = events.Count(e => e.Kind == EventKind.Malloc);
            frees = events.Count(e => e.Kind == EventKind.Free);
        }

        string outDir = _dir.File("replay-sqlite");
        var run = CliRunner.Run("replay", trace, "--engine", "sim,glibc", "--out", outDir);
        Assert.True(run.ExitCode == 0, run.Stderr);
        ReplayOutput output = ReplayOutputReader.Read(outDir);
        foreach (EngineOutput engine in output.Engines)
        {
            Assert.Null(engine.Error);
            long firstCalls = engine.Summary.Timing!.FirstCalls;
            long bucketMallocs = engine.LatencyBuckets.Where(r => r.Kind == "malloc" && r.SizeClass == "all").Sum(r => r.Count);
            long bucketFrees = engine.LatencyBuckets.Where(r => r.Kind == "free" && r.SizeClass == "all").Sum(r => r.Count);
            // Each thread's first call (one thread here) is timed apart, whatever its kind.
            Assert.InRange(mallocs + frees - (bucketMallocs + bucketFrees), 0, firstCalls);
            Assert.InRange(mallocs - bucketMallocs, 0, firstCalls);

            // The size classes split the "all" rows exactly.
            Assert.Equal(bucketMallocs, engine.LatencyBuckets.Where(r => r.Kind == "malloc" && r.SizeClass != "all").Sum(r => r.Count));

            // latency-ENGINE.csv's median lies in the bucket where the cumulative count reaches half the calls.
            LatencyRow median = LatencyCsv.Read(LatencyCsv.PathIn(outDir, engine.Engine)).Single(r => r.Kind == "malloc" && r.SizeClass == "all");
            var rows = engine.LatencyBuckets.Where(r => r.Kind == "malloc" && r.SizeClass == "all").OrderBy(r => r.LowNs).ToList();
            long seen = 0;
            LatencyBucketRow crossing = rows.First(r => (seen += r.Count) * 2 >= bucketMallocs);
            Assert.InRange(median.P50Ns, crossing.LowNs - 0.06, crossing.HighNs + 0.06); // the table rounds to 0.1 ns, the buckets to 0.01

            (double[] xs, double[] ys) = LatencyCdfPlot.Cumulative(rows);
            Assert.Equal(100, ys[^1], 6);
            Assert.True(xs.Zip(xs.Skip(1)).All(p => p.First <= p.Second) && ys.Zip(ys.Skip(1)).All(p => p.First < p.Second));
        }

        string html = _dir.File("report.html");
        Assert.Equal(0, CliRunner.Run("report", Path.Combine(outDir, "summary.json"), "-o", html).ExitCode);
        string text = File.ReadAllText(html);
        foreach (string kind in (string[])["malloc", "free"])
        {
            Match img = Regex.Match(text, $"<img alt=\"sqlite: {kind} latency distribution\"[^>]*src=\"data:image/svg\\+xml;base64,([^\"]+)\"");
            Assert.True(img.Success, $"no {kind} CDF in the report");
            XDocument svg = XDocument.Parse(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(img.Groups[1].Value)));
            string drawn = svg.ToString();
            Assert.Contains("sim", drawn, StringComparison.Ordinal);     // the legend names both engines
            Assert.Contains("glibc", drawn, StringComparison.Ordinal);

            // Latency by request size: a p50 and a p99 line per engine, one tick per size class the trace has calls in.
            Match bySize = Regex.Match(text, $"<img alt=\"sqlite: {kind} latency by request size\"[^>]*src=\"data:image/svg\\+xml;base64,([^\"]+)\"");
            Assert.True(bySize.Success, $"no {kind} latency-by-size plot in the report");
            string sized = XDocument.Parse(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(bySize.Groups[1].Value))).Root!.Value;
            foreach (string legend in (string[])["sim p50", "sim p99", "glibc p50", "glibc p99"])
            {
                Assert.Contains(legend, sized, StringComparison.Ordinal);
            }

            foreach (string sizeClass in LatencyCsv.Read(LatencyCsv.PathIn(outDir, "sim")).Where(r => r.Kind == kind && r.SizeClass != "all").Select(r => r.SizeClass))
            {
                Assert.Contains(sizeClass + " B", sized, StringComparison.Ordinal);
            }
        }
    }
}
