using System.Text.RegularExpressions;
using PtReplay.Cli;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>
/// The CI examples in docs/ci (a GitHub Actions matrix and a Kubernetes Indexed Job) run the sweep they show: their grid
/// and shard count, taken from the files, run shard by shard and merged, equal one run of the whole grid.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed partial class SweepCiExampleTests(Recordings recordings)
{
    [GeneratedRegex(@"--tunable\s+(\S+)")]
    private static partial Regex TunableArgument();

    [GeneratedRegex(@"--shard\s+\S+/(\d+)")]
    private static partial Regex ShardCount();

    [Fact]
    public void DocumentedShardedSweeps_MergeToOneRun()
    {
        string workflow = File.ReadAllText(Path.Combine(RepoFiles.Root, "docs", "ci", "sweep-matrix.github-actions.yml"));
        string job = File.ReadAllText(Path.Combine(RepoFiles.Root, "docs", "ci", "sweep-indexed-job.k8s.yaml"));
        string[] grid = [.. TunableArgument().Matches(workflow).Select(m => m.Groups[1].Value)];
        Assert.Equal(3, grid.Length);
        Assert.Equal(grid, TunableArgument().Matches(job).Select(m => m.Groups[1].Value));
        int shards = int.Parse(ShardCount().Match(workflow).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(shards, int.Parse(ShardCount().Match(job).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains($"shard: [{string.Join(", ", Enumerable.Range(1, shards))}]", workflow, StringComparison.Ordinal);
        Assert.Contains($"completions: {shards}", job, StringComparison.Ordinal);

        string[] tunables = [.. grid.SelectMany(g => new[] { "--tunable", g })];
        string whole = recordings.NewFolder("ci-whole");
        Assert.Equal(0, Program.Main(["sweep", recordings.Sqlite, .. tunables, "-o", whole]));
        var parts = new List<string>();
        for (int k = 1; k <= shards; k++)
        {
            string part = recordings.NewFolder($"ci-shard{k}");
            Assert.Equal(0, Program.Main(["sweep", recordings.Sqlite, .. tunables, "--shard", $"{k}/{shards}", "-o", part]));
            parts.Add(part);
        }

        string merged = recordings.NewFolder("ci-merged");
        Assert.Equal(0, Program.Main(["sweep", "--merge", .. parts, "-o", merged]));
        SweepResults one = SweepFile.Read(Path.Combine(whole, SweepResults.FileName));
        SweepResults all = SweepFile.Read(Path.Combine(merged, SweepResults.FileName));
        Assert.Equal(grid.Aggregate(1, (n, g) => n * g.Split('=')[1].Split(',').Length), one.PointCount);
        Assert.Equal(one.Points, all.Points);
        Assert.Equal(one.Best, all.Best);
    }
}
