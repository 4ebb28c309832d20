using System.Text.Json;
using PtReplay.Cli.Commands;
using PtReplay.Replay;
using PtReplay.Replay.Preparation;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `replay --repeat N` on a real recording: every native engine runs N times, interleaved with the other native
/// engines (visible in each run's start order); the model runs once; summary.json keeps each run, its top-level latency is
/// the median over the runs and its memory figures are run 1's; a single run writes no runs at all (the file as before).
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class RepeatTests(Recordings recordings)
{
    [SkippableFact]
    public void Repeat_RunsEachNativeEngineNTimesInterleaved_AndKeepsEveryRun()
    {
        Requires.Engines(["glibc", "jemalloc"]);
        string dir = recordings.NewFolder("repeat");
        var (code, stdout, stderr) = CliRunner.Run("replay", recordings.Sqlite, "--out", dir, "--engine", "sim,glibc,jemalloc", "--repeat", "3");
        Assert.True(code == 0, stderr);
        Assert.Contains("glibc      3 runs", stdout, StringComparison.Ordinal);

        ReplaySummary summary = SummaryFile.Read(Path.Combine(dir, "summary.json"));
        EngineSummary sim = summary.Engines.Single(e => e.Engine == "sim");
        Assert.Null(sim.Runs);
        var native = summary.Engines.Where(e => e.Engine != "sim").ToList();
        foreach (EngineSummary e in native)
        {
            Assert.True(e.Error is null, e.Error);
            IReadOnlyList<EngineRun> runs = e.Runs!;
            Assert.Equal([1, 2, 3], runs.Select(r => r.Index));

            // Every run replays the same calls: the trace's figures agree; the top-level memory is run 1's.
            Assert.All(runs, r => Assert.Equal(e.Memory!.PeakLiveBytes, r.Memory!.PeakLiveBytes));
            Assert.All(runs, r => Assert.Equal(e.Timing!.LatencyNs["malloc"].Count, r.LatencyNs["malloc"].Count));
            Assert.Equal(runs[0].Memory, e.Memory);

            // The top-level percentiles are the middle of the three runs' values.
            foreach (string kind in new[] { "malloc", "free" })
            {
                double[] p99 = [.. runs.Select(r => r.LatencyNs[kind].P99).Order()];
                Assert.Equal(p99[1], e.Timing!.LatencyNs[kind].P99, 3);
                double[] p50 = [.. runs.Select(r => r.LatencyNs[kind].P50).Order()];
                Assert.Equal(p50[1], e.Timing.LatencyNs[kind].P50, 3);
            }
        }

        // The printed line per engine says whether its footprint and RSS were the same in every run.
        foreach (EngineSummary e in native)
        {
            string line = stdout.Split('\n').Single(l => l.StartsWith(e.Engine + " ", StringComparison.Ordinal) && l.Contains(" 3 runs", StringComparison.Ordinal));
            bool differ = new Func<MemoryFigures, ulong>[] { m => m.PeakFootprintBytes, m => m.FinalFootprintBytes, m => m.PeakRssBytes, m => m.FinalRssBytes }
                .Any(f => e.Runs!.Select(r => f(r.Memory!)).Distinct().Count() > 1);
            Assert.Equal(differ, line.Contains("memory differs between runs", StringComparison.Ordinal));
            Assert.Equal(!differ, line.Contains("memory figures equal in every run", StringComparison.Ordinal));
        }

        // Interleaved: glibc run 1, jemalloc run 1, glibc run 2, jemalloc run 2, ...
        var order = native.SelectMany(e => e.Runs!.Select(r => (e.Engine, r.Index, r.StartOrder)))
            .OrderBy(r => r.StartOrder).Select(r => $"{r.Engine}{r.Index}");
        Assert.Equal(["glibc1", "jemalloc1", "glibc2", "jemalloc2", "glibc3", "jemalloc3"], order);
        Assert.Equal(6, native.SelectMany(e => e.Runs!).Select(r => r.StartOrder).Distinct().Count());
    }

    [Fact]
    public void SingleRun_WritesNoRuns_AndABadRepeatIsAUsageError()
    {
        string dir = recordings.NewFolder("repeat-once");
        var (code, _, stderr) = CliRunner.Run("replay", recordings.Sqlite, "--out", dir, "--engine", "glibc");
        Assert.True(code == 0, stderr);
        using (JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))))
        {
            Assert.False(doc.RootElement.GetProperty("engines")[0].TryGetProperty("runs", out _));
        }

        Assert.Null(SummaryFile.Read(Path.Combine(dir, "summary.json")).Engines[0].Runs);

        var bad = CliRunner.Run("replay", recordings.Sqlite, "--out", recordings.NewFolder("repeat-zero"), "--repeat", "0");
        Assert.Equal(ExitCodes.Usage, bad.ExitCode);
        Assert.Contains("--repeat", bad.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Each run reports its own progress step, named after the engine and the run; the model runs once.</summary>
    [Fact]
    public void Progress_NamesEachRun()
    {
        var ended = new List<string>();
        using var dir = new TempDir("ptreplay-repeat-");
        var options = new ReplayOptions
        {
            Repeat = 2,
            Progress = (step, fraction) =>
            {
                if (fraction >= 1)
                {
                    lock (ended)
                    {
                        ended.Add(step);
                    }
                }
            },
        };
        ReplayRunner.RunFile(recordings.Sqlite, ["sim", "glibc"], dir.Path, options, new PreparationOptions());
        Assert.Equal(["sim", "glibc run 1/2", "glibc run 2/2"], ended.Distinct());
    }
}
