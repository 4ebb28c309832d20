namespace PtReplay.Results;

/// <summary>
/// DIR/sweep.json of `ptreplay sweep` (snake_case names, <see cref="SweepFile"/>): the model's memory figures for every
/// point of a tunables grid on every trace.
/// <code>
/// { "format": 1,
///   "axes":   [ { name, values: [ ... ] } ],          // the grid: the cartesian product of the axes, first axis slowest
///   "point_count": n,                                 // points in the whole grid
///   "shard":  { k, n }?,                              // set when only points with point % n == k - 1 ran
///   "traces": [ { path, events, calls, peak_live_bytes } ],
///   "points": [ { trace, point, tunables, summary?, error?, memory? } ],   // by trace, then point
///   "best":   [ { trace, figure, point, value } ],    // per trace, the smallest of each <see cref="SweepBest.Figures"/>
///   "validation": [ { trace, point, tunables, figure, model, glibc, equal } ]?,  // with --validate (<see cref="SweepCheck"/>)
///   "validation_notes": [ { trace, point?, message, cannot_run } ]? }        // traces or points not compared, and why
/// </code>
/// Invariants: points are ordered by (trace, point) and each pair appears once; a point has either an error or its
/// memory figures; best is computed from points (<see cref="SweepBest.Of"/>), ties going to the lowest point index;
/// validation and validation_notes are null when the sweep ran without --validate (and after a merge of shards).
/// </summary>
public sealed record SweepResults
{
    /// <summary>The layout of this file; bumped when a field changes meaning or name.</summary>
    public const int CurrentFormat = 1;

    /// <summary>The file name `ptreplay sweep -o DIR` writes into DIR.</summary>
    public const string FileName = "sweep.json";

    /// <summary>Layout version (<see cref="CurrentFormat"/> when written by this build).</summary>
    public int Format { get; init; } = CurrentFormat;

    /// <summary>The tunables varied, in command-line order.</summary>
    public required IReadOnlyList<SweepAxis> Axes { get; init; }

    /// <summary>Points in the whole grid (the product of the axes' lengths), whether or not this file holds them all.</summary>
    public int PointCount { get; init; }

    /// <summary>The shard these results come from, or null when every point ran.</summary>
    public SweepShard? Shard { get; init; }

    /// <summary>The traces, in command-line order (<see cref="SweepPoint.Trace"/> indexes this list).</summary>
    public required IReadOnlyList<SweepTrace> Traces { get; init; }

    /// <summary>One entry per trace and point that ran.</summary>
    public required IReadOnlyList<SweepPoint> Points { get; init; }

    /// <summary>Per trace, the point with the smallest value of each of <see cref="SweepBest.Figures"/>.</summary>
    public required IReadOnlyList<SweepBest> Best { get; init; }

    /// <summary>With --validate: per validated point and figure, the model's prediction against glibc's measurement; else null.</summary>
    public IReadOnlyList<SweepCheck>? Validation { get; init; }

    /// <summary>With --validate: the traces or points not compared and why (multi-thread trace, glibc could not run); else null.</summary>
    public IReadOnlyList<SweepCheckNote>? ValidationNotes { get; init; }
}

/// <summary>One tunable of the grid and the values it takes.</summary>
/// <param name="Name">The glibc tunable name (glibc.malloc.x).</param>
/// <param name="Values">Its values, in command-line order.</param>
public sealed record SweepAxis(string Name, IReadOnlyList<ulong> Values);

/// <summary>Which share of the grid ran: the points with <c>point % N == K - 1</c>.</summary>
/// <param name="K">This shard, 1-based.</param>
/// <param name="N">How many shards the grid was cut into.</param>
public sealed record SweepShard(int K, int N);

/// <summary>A trace of the sweep.</summary>
/// <param name="Path">The trace file.</param>
/// <param name="Events">Events read.</param>
/// <param name="Calls">Allocator calls replayed.</param>
/// <param name="PeakLiveBytes">Largest requested bytes live.</param>
public sealed record SweepTrace(string Path, long Events, long Calls, ulong PeakLiveBytes);

/// <summary>The model's run of one trace under one point of the grid. Invariant: exactly one of <see cref="Error"/> and <see cref="Memory"/> is set.</summary>
public sealed record SweepPoint
{
    /// <summary>Index into <see cref="SweepResults.Traces"/>.</summary>
    public int Trace { get; init; }

    /// <summary>Index of the point in the grid (0-based, first axis slowest).</summary>
    public int Point { get; init; }

    /// <summary>The point as GLIBC_TUNABLES: NAME=VALUE joined with ':'.</summary>
    public required string Tunables { get; init; }

    /// <summary>The point's summary.json, relative to the folder of sweep.json (null without an output folder).</summary>
    public string? Summary { get; init; }

    /// <summary>Why the model could not run this point (e.g. it aborted as glibc would), or null.</summary>
    public string? Error { get; init; }

    /// <summary>The model's memory figures, or null when it failed.</summary>
    public MemoryFigures? Memory { get; init; }
}
