using System.Text.Json;
using PtReplay.Results;
using PtReplay.Tests.Replay;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Reports;

/// <summary>
/// `ptreplay compare` on two replay outputs of a real recording: a figure doubled in B shows ratio 2, an unchanged one
/// ratio 1, and an engine missing from B is noted.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class CompareCommandTests(Recordings recordings)
{
    [Fact]
    public void Compare_GivesRatiosPerEngineAndFigure()
    {
        string dir = recordings.NewFolder("compare");
        string a = Path.Combine(dir, "a");
        Assert.Equal(0, CliRunner.Run("replay", recordings.Sqlite, "--out", a, "--engine", "sim,glibc").ExitCode);
        ReplaySummary summary = SummaryFile.Read(Path.Combine(a, "summary.json"));
        EngineSummary glibc = summary.Engines.Single(e => e.Engine == "glibc");
        long rss = (long)glibc.Memory!.PeakRssBytes;
        glibc = glibc with { Memory = glibc.Memory with { PeakRssBytes = (ulong)rss * 2 } };
        string b = Path.Combine(dir, "b.json");
        SummaryFile.Write(b, summary with { Engines = [glibc] });

        var (code, stdout, stderr) = CliRunner.Run("compare", a, b, "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement g = doc.RootElement.GetProperty("engines").GetProperty("glibc");
        Assert.Equal(rss, g.GetProperty("peak_rss_bytes").GetProperty("a").GetInt64());
        Assert.Equal(rss * 2, g.GetProperty("peak_rss_bytes").GetProperty("b").GetInt64());
        Assert.Equal(2.0, g.GetProperty("peak_rss_bytes").GetProperty("ratio").GetDouble());
        Assert.Equal(1.0, g.GetProperty("peak_footprint_bytes").GetProperty("ratio").GetDouble());
        Assert.True(g.TryGetProperty("latency.malloc.p50", out _));
        Assert.Contains("sim: only in A", doc.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()));

        var text = CliRunner.Run("compare", a, b);
        Assert.Equal(0, text.ExitCode);
        Assert.Matches(@"glibc\s+peak_rss_bytes\s+[\d,]+\s+[\d,]+\s+2\.000", text.Stdout);

        var missing = CliRunner.Run("compare", a, Path.Combine(dir, "nope"));
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains(Path.Combine(dir, "nope"), missing.Stderr, StringComparison.Ordinal);
    }
}
