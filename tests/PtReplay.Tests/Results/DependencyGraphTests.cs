namespace PtReplay.Tests.Results;

/// <summary>
/// The projects form a diamond: the trace library at the bottom; the allocator model and the results contract beside
/// it, knowing nothing of traces; the replay on all three; the reports on the results contract only.
/// </summary>
[Trait("Category", "Fast")]
public sealed class DependencyGraphTests
{
    private static string[] References(Type inAssembly) =>
        [.. inAssembly.Assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("PtReplay.", StringComparison.Ordinal))];

    [Fact]
    public void Allocator_AndResults_ReferenceNoOtherProject()
    {
        Assert.Empty(References(typeof(PtReplay.Allocator.Ptmalloc)));
        Assert.Empty(References(typeof(PtReplay.Results.ReplaySummary)));
    }

    [Fact]
    public void Reports_ReferenceTheResultsContractOnly()
    {
        Assert.Equal(["PtReplay.Results"], References(typeof(PtReplay.Reports.Input.ReplayOutputReader)));
    }
}
