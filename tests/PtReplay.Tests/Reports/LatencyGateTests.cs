using System.Globalization;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The latency gate over repeated runs, on a small C program recorded at test time and replayed into glibc five times a
/// side. The regression is real: the same trace replayed with <c>glibc.malloc.perturb</c> set, which makes glibc fill
/// every block it hands out or takes back outside the tcache (these blocks, 4 to 32 KiB, are all outside it), so malloc
/// and free really cost more. The gate fails naming the figures and the test; two repeated replays of the same
/// configuration pass; the p-value in the Markdown table is the one an independent Mann-Whitney computation gives for
/// the runs in summary.json; with a single run on one side the gate says it compared single values.
/// The tests run alone, after the parallel ones: two batches of one configuration replayed while other tests come and go
/// differ by the machine's load, not by the allocator.
/// </summary>
[Collection(PtReplay.Tests.Replay.GcProof.RunAlone.Name)]
public sealed class LatencyGateTests : IDisposable
{
    /// <summary>Keeps 64 blocks of 4 to 32 KiB, replacing one per step.</summary>
    private const string Source = """
        #include <stdlib.h>
        int main(void) {
            void *slot[64] = {0};
            for (int i = 0; i < 20000; i++) {
                int k = (i * 7) % 64;
                free(slot[k]);
                slot[k] = malloc(4096 + (size_t)((i * 37) % 28672));
            }
            for (int k = 0; k < 64; k++) free(slot[k]);
            return 0;
        }
        """;

    /// <summary>
    /// Generous on purpose: two batches of runs of the same configuration on a shared machine differ by tens of percent at
    /// the median, while the perturbed replay costs several times more.
    /// </summary>
    private const string Limits = "glibc:malloc.p50=+50%,glibc:free.p50=+50%,glibc:peak_footprint=+0%";

    private readonly TempDir _dir = new("ptreplay-latency-gate-");

    public void Dispose() => _dir.Dispose();

    private string Replay(string trace, string name, int repeat, params string[] extra)
    {
        string output = _dir.File(name);
        var run = CliRunner.Run(["replay", trace, "--out", output, "--engine", "glibc", "--repeat", repeat.ToString(CultureInfo.InvariantCulture), .. extra]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return output;
    }

    [Fact]
    public void RepeatedRuns_FailARealLatencyRegression_PassTheSameConfiguration()
    {
        string exe = Gcc.CompileSource(_dir.Path, "churn", Source, Gcc.Flags("-O1 -fno-builtin"));
        string trace = _dir.File("churn.trace");
        RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());
        string before = Replay(trace, "before", 5);
        string again = Replay(trace, "again", 5);
        string perturbed = Replay(trace, "perturbed", 5, "--tunables", "glibc.malloc.perturb=165");

        var pass = CliRunner.Run("compare", before, again, "--fail-on", Limits);
        Assert.True(pass.ExitCode == 0, pass.Stdout + pass.Stderr);
        Assert.Contains("pass glibc latency.malloc.p50: medians", pass.Stdout, StringComparison.Ordinal);
        Assert.Contains("Mann-Whitney, 5 vs 5 runs", pass.Stdout, StringComparison.Ordinal);
        Assert.Contains("note: glibc: 5 run(s) in A, 5 in B; latency and wall time are medians over the runs", pass.Stdout, StringComparison.Ordinal);

        string markdown = _dir.File("summary.md");
        var fail = CliRunner.Run("compare", before, perturbed, "--fail-on", Limits, "--markdown", markdown);
        Assert.Equal(1, fail.ExitCode);
        Assert.Contains("FAIL glibc latency.malloc.p50", fail.Stdout, StringComparison.Ordinal);
        Assert.Contains("FAIL glibc latency.free.p50", fail.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL glibc peak_footprint", fail.Stdout, StringComparison.Ordinal);

        // The table's test column names the test and its p-value; the p-value is the reference's for the recorded runs.
        string[] lines = File.ReadAllLines(markdown);
        int header = Array.FindIndex(lines, l => l.StartsWith("| engine |", StringComparison.Ordinal));
        var rows = lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();
        Assert.All(rows, r => Assert.Equal(8, r.Length));
        Assert.Equal("exact", rows.Single(r => r[1] == "peak_footprint_bytes")[6]);
        foreach (string kind in new[] { "malloc", "free" })
        {
            string[] row = rows.Single(r => r[1] == $"latency.{kind}.p50");
            Assert.Equal("**fail**", row[7]);
            Assert.StartsWith("Mann-Whitney, 5 vs 5 runs, p = ", row[6], StringComparison.Ordinal);
            double p = double.Parse(row[6]["Mann-Whitney, 5 vs 5 runs, p = ".Length..], CultureInfo.InvariantCulture);

            double[] a = P50s(before, kind), b = P50s(perturbed, kind);
            double u = MannWhitneyReference.U(b, [.. a.Select(v => v * 1.5)]);
            Assert.True(u == Math.Floor(u), $"U {u}: a tie between the runs, the reference assumes none");
            Assert.Equal(MannWhitneyReference.PGreaterOrEqual(5, 5, (int)u), p, 4);
            Assert.True(p < 0.05, $"{kind}: p {p}");
        }

        // --json lists each run's value beside the medians.
        var json = CliRunner.Run("compare", before, perturbed, "--json");
        using (var doc = System.Text.Json.JsonDocument.Parse(json.Stdout))
        {
            var malloc = doc.RootElement.GetProperty("engines").GetProperty("glibc").GetProperty("latency.malloc.p50");
            Assert.Equal(P50s(before, "malloc"), malloc.GetProperty("runs_a").EnumerateArray().Select(v => v.GetDouble()));
            Assert.Equal(P50s(perturbed, "malloc"), malloc.GetProperty("runs_b").EnumerateArray().Select(v => v.GetDouble()));
        }

        // One run on one side: no test, and the output says so.
        string once = Replay(trace, "once", 1);
        var single = CliRunner.Run("compare", before, once, "--fail-on", "glibc:malloc.p50=+50%", "--markdown", "-");
        Assert.Contains("note: glibc latency.malloc.p50 varies from run to run but has 5 run(s) in A and 1 in B", single.Stdout, StringComparison.Ordinal);
        Assert.Contains("| single value (5 vs 1 runs, the test needs 5 a side) |", single.Stdout, StringComparison.Ordinal);
    }

    /// <summary>The p50 of <paramref name="kind"/> in each run of the glibc engine of a replay output.</summary>
    private static double[] P50s(string output, string kind) =>
        [.. SummaryFile.Read(Path.Combine(output, SummaryFile.FileName)).Engines.Single(e => e.Engine == "glibc").Runs!.Select(r => r.LatencyNs[kind].P50)];

    /// <summary>
    /// A memory figure whose runs differ (as jemalloc's do) is judged over the runs too, with the medians as A and B; one
    /// whose runs are all equal on both sides (a serial glibc replay's) is compared exactly. B here is a real repeated
    /// replay whose runs' peak RSS is raised by 20 to 24 %, one run differently from the next.
    /// </summary>
    [Fact]
    public void MemoryFiguresThatDifferBetweenRuns_AreJudgedOverTheRuns_EqualOnesExactly()
    {
        string exe = Gcc.CompileSource(_dir.Path, "churn", Source, Gcc.Flags("-O1 -fno-builtin"));
        string trace = _dir.File("churn.trace");
        RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());
        string before = Replay(trace, "before", 5);
        ReplaySummary summary = SummaryFile.Read(Path.Combine(before, SummaryFile.FileName));
        EngineSummary glibc = summary.Engines.Single(e => e.Engine == "glibc");
        Assert.Single(glibc.Runs!.Select(r => r.Memory!.PeakRssBytes).Distinct());
        var raised = glibc.Runs!.Select(r => r with { Memory = r.Memory! with { PeakRssBytes = r.Memory.PeakRssBytes * (120UL + (ulong)r.Index) / 100 } }).ToList();
        string after = _dir.File("after.json");
        SummaryFile.Write(after, summary with { Engines = [glibc with { Runs = raised, Memory = raised[0].Memory }] });

        var fail = CliRunner.Run("compare", before, after, "--fail-on", "glibc:peak_rss=+10%,glibc:peak_footprint=+0%", "--markdown", "-");
        Assert.Equal(1, fail.ExitCode);
        Assert.Contains("FAIL glibc peak_rss_bytes: medians", fail.Stdout, StringComparison.Ordinal);
        Assert.Contains("| glibc | peak_rss_bytes |", fail.Stdout, StringComparison.Ordinal);
        // Every run of B above every run of A raised by 10 %: the smallest p of 5 against 5, 1 / C(10, 5) = 0.0040.
        Assert.Contains("| Mann-Whitney, 5 vs 5 runs, p = 0.0040 | **fail** |", fail.Stdout, StringComparison.Ordinal);
        Assert.Contains("| exact | pass |", fail.Stdout, StringComparison.Ordinal);   // peak_footprint: equal in every run

        var pass = CliRunner.Run("compare", before, after, "--fail-on", "glibc:peak_rss=+30%");
        Assert.True(pass.ExitCode == 0, pass.Stdout);
    }
}
