using System.Text.Json.Nodes;
using PtReplay.Reports.Gate;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The model's regression gate on the committed sample traces (traces/samples, real python3/sqlite3/perl recordings)
/// against the committed baseline (reports/baseline/model-baseline.json): any change of the model's deterministic
/// figures fails here; a baseline with one figure changed makes the gate fail naming that figure.
/// </summary>
public sealed class GateTests
{
    [Fact]
    public void CommittedSamples_MatchTheCommittedBaseline()
    {
        string[] traces = RepoFiles.SampleTraces;
        Assert.True(traces.Length >= 3, $"expected the sample traces in {RepoFiles.Root}/traces/samples");
        foreach (string t in traces)
        {
            Assert.True(new FileInfo(t).Length < 500_000, $"{t} is over 500 KB");
        }

        var (code, stdout, stderr) = CliRunner.Run(["gate", "--baseline", RepoFiles.Baseline, .. traces]);
        Assert.True(code == 0, $"gate failed (exit {code}); if the model changed on purpose, run traces/samples/regenerate.sh or `ptreplay gate --update`.\n{stdout}\n{stderr}");
        Assert.Contains("gate: PASS", stdout, StringComparison.Ordinal);

        // Each sample is a real recording the model reproduces address for address.
        ModelBaseline baseline = ModelBaseline.Read(RepoFiles.Baseline);
        foreach (string t in traces)
        {
            var figures = baseline.Traces[ModelBaseline.Key(t)];
            Assert.True(figures["parity_allocations"] > 1000, t);
            Assert.Equal(figures["parity_allocations"], figures["parity_identical"]);
        }
    }

    [Fact]
    public void ChangedBaselineFigure_FailsWithADiffNamingIt()
    {
        using var dir = new TempDir("ptreplay-gate-test-");
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("sqlite.trace", StringComparison.Ordinal));
        JsonNode root = JsonNode.Parse(File.ReadAllText(RepoFiles.Baseline))!;
        JsonNode figures = root["traces"]!["sqlite.trace"]!;
        long peak = figures["peak_footprint_bytes"]!.GetValue<long>();
        figures["peak_footprint_bytes"] = peak + 4096;
        string modified = dir.File("baseline.json");
        File.WriteAllText(modified, root.ToJsonString());

        var (code, stdout, _) = CliRunner.Run("gate", "--baseline", modified, trace);
        Assert.Equal(1, code);
        Assert.Contains($"sqlite.trace: peak_footprint_bytes: baseline {peak + 4096}, now {peak} (-4096)", stdout, StringComparison.Ordinal);
        Assert.Contains("gate: FAIL (1 figure(s) differ", stdout, StringComparison.Ordinal);

        // --update puts the measured figure back; the gate then passes.
        Assert.Equal(0, CliRunner.Run("gate", "--baseline", modified, "--update", trace).ExitCode);
        Assert.Equal(peak, ModelBaseline.Read(modified).Traces["sqlite.trace"]["peak_footprint_bytes"]);
        Assert.Equal(0, CliRunner.Run("gate", "--baseline", modified, trace).ExitCode);
    }
}
