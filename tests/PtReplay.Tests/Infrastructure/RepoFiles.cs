namespace PtReplay.Tests.Infrastructure;

/// <summary>Files checked into the repository (found by walking up from the test assembly to bench.sln).</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    /// <summary>traces/workloads: the bundled workload scripts and SQL.</summary>
    public static string Workloads => Path.Combine(Root, "traces", "workloads");

    public static string Baseline => Path.Combine(Root, "reports", "baseline", "model-baseline.json");

    public static string[] SampleTraces => Directory.GetFiles(Path.Combine(Root, "traces", "samples"), "*.trace").Order(StringComparer.Ordinal).ToArray();

    private static string FindRoot() =>
        Path.GetDirectoryName(PtReplay.Traces.RepositoryFiles.FindAbove("bench.sln", AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"bench.sln not found above {AppContext.BaseDirectory}"))!;
}
