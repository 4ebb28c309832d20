namespace PtReplay.Results;

/// <summary>
/// One run of an engine replayed several times (`replay --repeat N`), in summary.json <c>engines[].runs[]</c>:
/// <code>{ "index": 2, "start_order": 5, "wall_ns": ..., "memory": {...}, "latency_ns": { "malloc": {...}, ... } }</code>
/// Invariants: <see cref="Index"/> runs 1..N within an engine; <see cref="StartOrder"/> is unique within a replay and
/// increases with the time the run started, so the runs of all engines can be put back in the order they ran
/// (interleaved: every engine's run k starts before any engine's run k + 1).
/// </summary>
public sealed record EngineRun
{
    /// <summary>Which run of this engine, from 1.</summary>
    public int Index { get; init; }

    /// <summary>Position of this run among every engine run of the replay, from 0, in the order they started.</summary>
    public int StartOrder { get; init; }

    /// <summary>This run's replay wall time in ns, sampling excluded.</summary>
    public long WallNs { get; init; }

    /// <summary>This run's memory figures (those of run 1 are the engine's <see cref="EngineSummary.Memory"/>).</summary>
    public MemoryFigures? Memory { get; init; }

    /// <summary>This run's latency per call kind, kinds never called left out.</summary>
    public IReadOnlyDictionary<string, LatencyFigures> LatencyNs { get; init; } = new Dictionary<string, LatencyFigures>();
}
