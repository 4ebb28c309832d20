namespace PtReplay.Results;

/// <summary>
/// DIR/summary.json of `ptreplay replay` (JSON names are the snake_case of the property names, <see cref="SummaryFile"/>):
/// <code>
/// { "format": 2,
///   "trace":   { path, pid?, parent_pid?, command_line?, events, calls, ops, threads, slots, peak_live_bytes,
///                final_live_bytes, issues_total, issues: [ { event_index, kind, message } ], counts: { malloc: n, ... } },
///   "options": { threads, touch, tunables, sample_every, pace, sim_preamble? },
///   "engines": [ { engine, error? } | { engine, memory: {...}, timing: {...}, sources: {...}, extra: {...} } ] }
/// </code>
/// Invariant: engines are in the order they were requested; a failed engine has only its name and error.
/// </summary>
public sealed record ReplaySummary
{
    /// <summary>The layout of this file; bumped when a field changes meaning or name.</summary>
    public const int CurrentFormat = 2;

    /// <summary>Layout version (<see cref="CurrentFormat"/> when written by this build).</summary>
    public int Format { get; init; } = CurrentFormat;

    /// <summary>Facts about the replayed trace.</summary>
    public required TraceSummary Trace { get; init; }

    /// <summary>The replay's settings.</summary>
    public required ReplaySettings Options { get; init; }

    /// <summary>One entry per engine, in request order.</summary>
    public required IReadOnlyList<EngineSummary> Engines { get; init; }
}
