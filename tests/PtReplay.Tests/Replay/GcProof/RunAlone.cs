namespace PtReplay.Tests.Replay.GcProof;

/// <summary>
/// Tests that count the garbage collections of the test host's own process, or compare latencies measured at different
/// moments: they run alone, after the parallel tests, so no other test's allocations trigger a collection inside the
/// windows they watch, no other replay in the process writes phase markers into their sessions, and no other test's load
/// comes and goes between the batches they compare.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "GC windows (run alone)";
}
