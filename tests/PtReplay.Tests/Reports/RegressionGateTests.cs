using PtReplay.Reports.Compare;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Reports;

/// <summary>
/// `compare --fail-on` as a user's CI gate, the README's worked example: a small C program recorded at test time, then
/// changed to keep 10 % more memory alive. The gate fails naming the figure; the unchanged program passes; the Markdown
/// table for the job summary parses, one row per checked figure with its verdict.
/// </summary>
public sealed class RegressionGateTests : IDisposable
{
    /// <summary>Keeps argv[1] blocks of 1 KiB alive while it churns smaller ones, then frees everything.</summary>
    private const string Source = """
        #include <stdlib.h>
        #include <string.h>
        int main(int argc, char **argv) {
            int keep = argc > 1 ? atoi(argv[1]) : 1000;
            void **kept = malloc(sizeof(void *) * (size_t)keep);
            for (int i = 0; i < keep; i++) {
                kept[i] = malloc(1024);
                memset(kept[i], 1, 1024);
                void *t = malloc(16 + (size_t)(i % 300));
                free(t);
            }
            for (int i = 0; i < keep; i++) free(kept[i]);
            free(kept);
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-gate-");

    public void Dispose() => _dir.Dispose();

    private string RecordAndReplay(string exe, int keep, string name)
    {
        string trace = _dir.File(name + ".trace");
        RecordedRun.RecordOrThrow([exe, keep.ToString(System.Globalization.CultureInfo.InvariantCulture)], trace, CleanEnvironment.With());
        string output = _dir.File(name);
        var replay = CliRunner.Run("replay", trace, "--out", output, "--engine", "sim,glibc");
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        return output;
    }

    [Fact]
    public void KeepingTenPercentMore_FailsTheGateNamingTheFigure_TheUnchangedProgramPasses()
    {
        string exe = Gcc.CompileSource(_dir.Path, "keeper", Source, Gcc.Flags("-O1 -fno-builtin"));
        string before = RecordAndReplay(exe, 4000, "before");
        string again = RecordAndReplay(exe, 4000, "again");
        string grown = RecordAndReplay(exe, 4400, "grown");
        const string Limits = "peak_footprint=+5%,sim:final_rss=+5%,peak_rss=+5%";

        var pass = CliRunner.Run("compare", before, again, "--fail-on", Limits);
        Assert.True(pass.ExitCode == 0, pass.Stdout + pass.Stderr);
        Assert.Contains("regression check passed", pass.Stdout, StringComparison.Ordinal);

        string markdown = _dir.File("summary.md");
        var fail = CliRunner.Run("compare", before, grown, "--fail-on", Limits, "--markdown", markdown);
        Assert.Equal(1, fail.ExitCode);
        Assert.Contains("FAIL sim peak_rss_bytes", fail.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL glibc peak_rss_bytes", fail.Stdout, StringComparison.Ordinal);
        Assert.Contains("regression check failed", fail.Stdout, StringComparison.Ordinal);

        // The table: a header, a separator, then one row per checked figure: engine, figure, A, B, change, allowed, test, verdict.
        string[] lines = File.ReadAllLines(markdown);
        Assert.StartsWith("### PtReplay regression check: failed", lines[0], StringComparison.Ordinal);
        int header = Array.FindIndex(lines, l => l.StartsWith("| engine |", StringComparison.Ordinal));
        Assert.True(header > 0, "no table");
        Assert.Matches(@"^\|(-+:?\|)+$", lines[header + 1].Replace("---:", "---", StringComparison.Ordinal));
        var rows = lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();
        Assert.All(rows, r => Assert.Equal(8, r.Length));
        // peak_footprint and peak_rss for both engines, final_rss for sim only.
        Assert.Equal(5, rows.Count);
        string[] rss = rows.Single(r => r[0] == "sim" && r[1] == "peak_rss_bytes");
        Assert.Equal("**fail**", rss[7]);
        Assert.Equal("exact", rss[6]);
        Assert.Equal("+5%", rss[5]);
        Assert.StartsWith("+", rss[4], StringComparison.Ordinal);
        Assert.Contains(rows, r => r[0] == "sim" && r[1] == "final_rss_bytes");
        Assert.DoesNotContain(rows, r => r[0] == "glibc" && r[1] == "final_rss_bytes");
    }

    [Fact]
    public void MisspeltOrMalformedLimits_AreUsageErrorsOrFailures_NeverSilentPasses()
    {
        string exe = Gcc.CompileSource(_dir.Path, "keeper", Source, Gcc.Flags("-O1 -fno-builtin"));
        string a = RecordAndReplay(exe, 100, "a");

        var unknown = CliRunner.Run("compare", a, a, "--fail-on", "peak_footprnt=+5%");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("peak_footprnt: no such figure", unknown.Stdout, StringComparison.Ordinal);

        foreach (string bad in new[] { "peak_footprint", "peak_footprint=5%", "peak_footprint=+x%", "=+5%" })
        {
            var run = CliRunner.Run("compare", a, a, "--fail-on", bad);
            Assert.True(run.ExitCode == 2, $"{bad}: exit {run.ExitCode}");
            Assert.Contains("--fail-on", run.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(2, CliRunner.Run("compare", a, a, "--markdown", _dir.File("x.md")).ExitCode);
    }

    [Trait("Category", "Fast")]
    [Theory]
    [InlineData("peak_footprint=+5%", null, "peak_footprint", 5.0, true)]
    [InlineData("glibc:malloc.p99=+10%", "glibc", "malloc.p99", 10.0, true)]
    [InlineData(" final_rss = +1048576 ", null, "final_rss", 1048576.0, false)]
    public void Limits_Parse(string text, string? engine, string figure, double amount, bool relative)
    {
        FigureLimit limit = Assert.Single(FigureLimit.ParseList(text));
        Assert.Equal(new FigureLimit(engine, figure, amount, relative), limit);
        Assert.True(limit.Matches("glibc", figure.StartsWith("malloc", StringComparison.Ordinal) ? "latency." + figure : figure + "_bytes"));
    }
}
