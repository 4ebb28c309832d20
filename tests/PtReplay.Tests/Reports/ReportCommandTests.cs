using System.Text;
using System.Text.RegularExpressions;
using PtReplay.Reports.Html;
using PtReplay.Reports.Input;
using PtReplay.Results;
using PtReplay.Tests.Replay;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Reports;

/// <summary>
/// `ptreplay report` on a replay made at test time (real sqlite3 recording, engines sim and glibc): the page carries
/// every engine's figures as summary.json has them, embeds its plots, references nothing outside itself, shows a failed
/// engine's error, and refuses a missing or garbled summary.json naming the file.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed partial class ReportCommandTests(Recordings recordings)
{
    private static readonly string[] ByteFigures =
        ["peak_live_bytes", "peak_rss_bytes", "final_rss_bytes", "peak_footprint_bytes", "final_footprint_bytes"];

    private static readonly string[] RatioFigures =
        ["jw_rss_at_peak_live_over_peak_live", "jw_peak_rss_over_peak_live", "peak_fragmentation", "final_fragmentation"];

    [Fact]
    public void Report_HasEveryEnginesFiguresAndEmbeddedPlots_AndNoExternalReference()
    {
        string dir = recordings.NewFolder("report");
        string replayDir = Path.Combine(dir, "replay-sqlite");
        var replay = CliRunner.Run("replay", recordings.Sqlite, "--out", replayDir, "--engine", "sim,glibc", "--sample-every", "200");
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        string html = Path.Combine(dir, "report.html");
        var report = CliRunner.Run("report", replayDir, "-o", html);
        Assert.True(report.ExitCode == 0, report.Stderr);
        string page = File.ReadAllText(html);

        ReplaySummary summary = SummaryFile.Read(Path.Combine(replayDir, "summary.json"));
        Assert.Equal(2, summary.Engines.Count);
        foreach (EngineSummary engine in summary.Engines)
        {
            Assert.True(engine.Error is null, $"{engine.Engine}: {engine.Error}");
            string row = Row(page, engine.Engine);
            foreach (string f in ByteFigures.Concat(RatioFigures))
            {
                string expected = ByteFigures.Contains(f) ? Grouped(engine.Figure(f)!.Value) : Decimals(engine.Figure(f)!.Value);
                Assert.True(row.Contains($"<td>{expected}</td>", StringComparison.Ordinal), $"{engine.Engine} {f} = {expected} not in its row: {row}");
            }

            // The model's warm-up time has its own column (outside its wall time); the native engines have none.
            string warmUp = engine.Figure("warmup_ns") is { } w ? Grouped(w) : "&ndash;";
            Assert.Equal(engine.Engine == "sim", engine.Timing!.WarmupNs is not null);
            Assert.True(row.EndsWith($"<td>{warmUp}</td>", StringComparison.Ordinal), $"{engine.Engine} warm-up {warmUp} not last in its row: {row}");

            // The overview row of the workload: peak RSS / peak footprint in MiB.
            string overview = $"{Mib(engine.Memory!.PeakRssBytes)} / {Mib(engine.Memory.PeakFootprintBytes)}";
            Assert.Contains(overview, page, StringComparison.Ordinal);

            LatencyFigures malloc = engine.Timing!.LatencyNs["malloc"];
            Assert.Contains($"<td class=\"engine\">{engine.Engine}</td><td>{LatencyText(malloc.P50)}</td>", page, StringComparison.Ordinal);
            Assert.Contains($"<td>{LatencyText(malloc.P99)}</td>", page, StringComparison.Ordinal);
        }

        Assert.Contains(Grouped(summary.Trace.Events), page, StringComparison.Ordinal);

        // The workload is titled by the recorded command line.
        Assert.NotNull(summary.Trace.CommandLine);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(summary.Trace.CommandLine), page, StringComparison.Ordinal);

        // The options line says which preamble the model got (FORMAT: "<bytes> B (<mode>, <source>)").
        SimPreambleSummary preamble = summary.Options.SimPreamble!;
        Assert.Contains($"sim_preamble={preamble.Bytes} B ({preamble.Mode}, {preamble.Source})", page, StringComparison.Ordinal);

        // Twelve plots: the trace's request sizes and block lifetimes (in calls and in time), four over time (RSS, footprint,
        // fragmentation, and address space, which every engine's series carries), live bytes by request size, and for malloc and for free the latency
        // distribution and the latency by request size.
        Assert.All(summary.Engines.Where(e => e.Error is null), e => Assert.True(e.Memory!.PeakAddressSpaceBytes > 0, e.Engine));
        MatchCollection plots = EmbeddedSvg().Matches(page);
        Assert.Equal(12, plots.Count);
        foreach (Match m in plots)
        {
            string svg = Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value));
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
            Assert.True(Regex.Count(svg, "<path") > 10, "plot has too few paths");
        }

        // Self-contained: nothing fetched from elsewhere.
        Assert.DoesNotContain("http://", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", page, StringComparison.OrdinalIgnoreCase);
        foreach (Match m in Reference().Matches(page))
        {
            string target = m.Groups[1].Value;
            Assert.True(target.StartsWith("data:", StringComparison.Ordinal) || target.StartsWith('#'), $"external reference {target}");
        }
    }

    [Fact]
    public void FailedEngine_IsShownWithItsError()
    {
        string dir = recordings.NewFolder("report-error");
        string replayDir = Path.Combine(dir, "replay-sqlite");
        Assert.Equal(0, CliRunner.Run("replay", recordings.Sqlite, "--out", replayDir, "--engine", "sim").ExitCode);
        string summaryPath = Path.Combine(replayDir, "summary.json");
        ReplaySummary written = SummaryFile.Read(summaryPath);
        const string Why = "libjemalloc.so.2 not installed (test)";
        SummaryFile.Write(summaryPath, written with { Engines = [.. written.Engines, EngineSummary.Failed("jemalloc", Why)] });

        ReplayOutput output = ReplayOutputReader.Read(replayDir);
        string page = HtmlReport.Build([output]);
        Assert.Contains($"error: {Why}", Row(page, "jemalloc"), StringComparison.Ordinal);
        Assert.Contains(Grouped(output.Engines[0].Figure("peak_rss_bytes")!.Value), Row(page, "sim"), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingOrGarbledSummary_FailsNamingTheFile()
    {
        string dir = recordings.NewFolder("report-bad");
        string empty = Directory.CreateDirectory(Path.Combine(dir, "replay-empty")).FullName;
        var missing = CliRunner.Run("report", empty, "-o", Path.Combine(dir, "r.html"));
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains(Path.Combine(empty, "summary.json"), missing.Stderr, StringComparison.Ordinal);
        Assert.Contains("not found", missing.Stderr, StringComparison.Ordinal);

        string garbled = Directory.CreateDirectory(Path.Combine(dir, "replay-garbled")).FullName;
        File.WriteAllText(Path.Combine(garbled, "summary.json"), "{ \"trace\": { \"events\": 12, ");
        var bad = CliRunner.Run("report", garbled, "-o", Path.Combine(dir, "r.html"));
        Assert.Equal(3, bad.ExitCode);
        Assert.Contains(Path.Combine(garbled, "summary.json"), bad.Stderr, StringComparison.Ordinal);
        Assert.Contains("not a summary.json", bad.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "r.html")));

        File.WriteAllText(Path.Combine(garbled, "summary.json"), "{ \"engines\": [] }");
        var ex = Assert.Throws<ReportInputException>(() => ReplayOutputReader.Read(garbled));
        Assert.StartsWith(Path.Combine(garbled, "summary.json"), ex.Message, StringComparison.Ordinal);
        Assert.Contains("trace", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>An engine replayed with --repeat shows the median of its runs, each run's value in the cell's title.</summary>
    [Fact]
    public void RepeatedEngine_ShowsTheMedianOfItsRuns_AndEachRunsValue()
    {
        string dir = recordings.NewFolder("report-repeat");
        string replayDir = Path.Combine(dir, "replay-sqlite");
        var replay = CliRunner.Run("replay", recordings.Sqlite, "--out", replayDir, "--engine", "sim,glibc", "--repeat", "3");
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        string html = Path.Combine(dir, "report.html");
        Assert.Equal(0, CliRunner.Run("report", replayDir, "-o", html).ExitCode);
        string page = File.ReadAllText(html);

        EngineSummary glibc = SummaryFile.Read(Path.Combine(replayDir, "summary.json")).Engines.Single(e => e.Engine == "glibc");
        string row = Row(page, "glibc <small>(median of 3 runs)</small>");
        string runs = System.Net.WebUtility.HtmlEncode(string.Join(", ", glibc.Runs!.Select(r => LatencyText(r.LatencyNs["malloc"].P99))));
        Assert.Contains($"<td title=\"runs: {runs}\">{LatencyText(glibc.Timing!.LatencyNs["malloc"].P99)}</td>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("sim <small>", page, StringComparison.Ordinal);
        Assert.NotEmpty(row);
    }

    // The page's number formats as README's "Reading the report" states them, written here independently of the report's
    // own formatter: byte and event counts as integers with "," between thousands, ratios and latencies with up to 4
    // decimals and no trailing zeros.
    // A latency as README's "Reports" section states it: three significant digits, trailing zeros dropped, in the
    // largest of ns, µs, ms, s that keeps the rounded value below 1000 (a no-break space before the unit).
    private static string LatencyText(double ns)
    {
        (double Scale, string Unit)[] units = [(1, "ns"), (1e3, "µs"), (1e6, "ms"), (1e9, "s")];
        for (int i = 0; ; i++)
        {
            string digits = (ns / units[i].Scale).ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
            if (i == units.Length - 1 || double.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) < 1000)
            {
                return digits + "\u00a0" + units[i].Unit;
            }
        }
    }

    private static string Grouped(double value)
    {
        string digits = Math.Round(value).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        var grouped = new StringBuilder();
        for (int i = 0; i < digits.Length; i++)
        {
            if (i > 0 && (digits.Length - i) % 3 == 0)
            {
                grouped.Append(',');
            }

            grouped.Append(digits[i]);
        }

        return grouped.ToString();
    }

    private static string Decimals(double value) =>
        decimal.Round((decimal)value, 4, MidpointRounding.AwayFromZero).ToString(System.Globalization.CultureInfo.InvariantCulture) is var t && t.Contains('.')
            ? t.TrimEnd('0').TrimEnd('.')
            : t;

    private static string Mib(double bytes) => (bytes / 1048576.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The summary-table row of <paramref name="engine"/> (the first row naming it).</summary>
    private static string Row(string page, string engine)
    {
        int start = page.IndexOf($"<tr><td class=\"engine\">{engine}</td>", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no row for {engine}");
        int end = page.IndexOf("</tr>", start, StringComparison.Ordinal);
        return page[start..end];
    }

    [GeneratedRegex("data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)")]
    private static partial Regex EmbeddedSvg();

    [GeneratedRegex("(?:src|href)\\s*=\\s*\"([^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex Reference();
}
