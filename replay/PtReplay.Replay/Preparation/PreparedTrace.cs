using PtReplay.Results;
using PtReplay.Traces;

namespace PtReplay.Replay.Preparation;

/// <summary>A live-bytes sample point of a prepared trace: after op <see cref="Seq"/>, <see cref="LiveBytes"/> were live.</summary>
/// <param name="Seq">Global op position.</param>
/// <param name="LiveBytes">Requested bytes live after that op, as recorded.</param>
/// <param name="TimestampNs">Recorded time of that op's event (ns after the trace's start, on the recorded clock).</param>
public readonly record struct LiveSample(long Seq, ulong LiveBytes, long TimestampNs);

/// <summary>
/// The result of <see cref="TracePreparer"/>: the prepared file plus what the preparation learned
/// from the recorded stream (live bytes over time, its peak, skipped events).
/// </summary>
public sealed class PreparedTrace
{
    /// <summary>Path of the prepared file.</summary>
    public required string Path { get; init; }
    /// <summary>Replay threads (recorded thread numbers 0..ThreadCount-1).</summary>
    public required int ThreadCount { get; init; }

    /// <summary>
    /// Replay threads besides the main one that the native replayer creates before the replay: the most threads (other
    /// than thread 0) ever alive at once in the recording. The others are created at a <see cref="PreparedKind.Start"/> op.
    /// </summary>
    public int PrecreatedThreads { get; init; }

    /// <summary>The most threads alive at once, thread 0 included, before and after any fork.</summary>
    public int ThreadsAtOnce { get; init; } = 1;

    /// <summary>True when the trace holds a <see cref="PreparedKind.Fork"/> (a forked child replayed from its parent's heap).</summary>
    public bool HasFork { get; init; }

    /// <summary>
    /// Threads the native replayer creates before the first replayed call, each leaving a TLS DTV in glibc's main heap:
    /// <see cref="PrecreatedThreads"/>, or with a fork as many as are ever alive at once (their stacks wait in glibc's stack
    /// cache for the child's threads).
    /// </summary>
    public int SetupThreads => HasFork ? ThreadsAtOnce : PrecreatedThreads;
    /// <summary>Ops in the file (calls plus thread exits and joins).</summary>
    public required long OpCount { get; init; }
    /// <summary>Malloc-family calls in the file.</summary>
    public required long CallCount { get; init; }
    /// <summary>Calls by kind (index = <see cref="EventKind"/> value).</summary>
    public required long[] CallsByKind { get; init; }
    /// <summary>Slot table size the native replayer needs (bounded by the live set).</summary>
    public required long SlotCount { get; init; }
    /// <summary>Sample points indexed by sample id (not necessarily in seq order).</summary>
    public required IReadOnlyList<LiveSample> Samples { get; init; }
    /// <summary>
    /// Live requested bytes by <see cref="Traces.Analysis.RequestSizeClass"/> at each sample: <c>Count</c> figures per sample id,
    /// sample i's at [i × Count, (i + 1) × Count); they sum to the sample's <see cref="LiveSample.LiveBytes"/>.
    /// </summary>
    public IReadOnlyList<ulong> SamplesByClass { get; init; } = [];

    /// <summary>Live requested bytes by <see cref="Traces.Analysis.RequestSizeClass"/> at the end; they sum to <see cref="FinalLiveBytes"/>.</summary>
    public IReadOnlyList<ulong> FinalLiveByClass { get; init; } = [];

    /// <summary>Recorded time of the last event (ns after the trace's start): the time of the final sample.</summary>
    public long FinalTimestampNs { get; init; }

    /// <summary>Peak requested bytes live at once, as recorded (skipped events excluded).</summary>
    public required ulong PeakLiveBytes { get; init; }
    /// <summary>Op position at which the peak was first reached (-1 if nothing was allocated).</summary>
    public required long PeakLiveSeq { get; init; }
    /// <summary>Requested bytes still live at the end.</summary>
    public required ulong FinalLiveBytes { get; init; }
    /// <summary>Events read from the trace.</summary>
    public required long EventCount { get; init; }
    /// <summary>The first <see cref="PreparationOptions.MaxIssuesKept"/> issues (skip policy).</summary>
    public required IReadOnlyList<TraceIssue> Issues { get; init; }
    /// <summary>Issues found in total.</summary>
    public required long IssueCount { get; init; }
    /// <summary>
    /// Issues by kind (index = <see cref="TraceIssueKind"/> value) among the replayed trace's own events: for a forked
    /// child, those after its inherited heap's last fork; otherwise all.
    /// </summary>
    public IReadOnlyList<long> IssueCountsByKind { get; init; } = new long[Enum.GetValues<TraceIssueKind>().Length];
    /// <summary>Events that rebuilt a forked child's inherited heap (its ancestors' events up to the last fork); 0 for other traces.</summary>
    public long PrefixEventCount { get; init; }

    /// <summary>Requested sizes of the allocating calls (after an inherited prefix: the child's own).</summary>
    public Distribution? Sizes { get; init; }

    /// <summary>Lifetimes of the freed blocks, in calls.</summary>
    public Distribution? LifetimeCalls { get; init; }

    /// <summary>Lifetimes of the freed blocks, in recorded ns.</summary>
    public Distribution? LifetimeNs { get; init; }

    /// <summary>The tables' layout, from a planning pass (no file written yet); null when the file was written whole.</summary>
    internal PreparedLayout? Layout { get; init; }
}
