using System.Numerics;

namespace PtReplay.Traces.Analysis;

/// <summary>
/// What `ptreplay info` reports about a trace: counts per call kind, threads, duration, live and peak live
/// requested bytes, a size histogram and anomalies. Feed events in delivery order with <see cref="Add"/>, or
/// use <see cref="Compute(string)"/>.
/// <para><b>Live requested bytes</b> and the anomalies follow <see cref="LiveSet"/>'s rules (the replay's preparation
/// uses the same); <see cref="PeakLiveBytes"/> is the maximum after each event (0 for an empty trace). Anomalies:
/// a pointer that is not live is a <see cref="TraceAnomalyKind.DoubleFree"/> when it was freed before (except for a
/// realloc that failed, which is a <see cref="TraceAnomalyKind.ReallocOfUnknownPointer"/>), else a free or realloc of
/// an unknown pointer; an allocation returning a live address is <see cref="TraceAnomalyKind.AllocationOfLiveAddress"/>.
/// Every freed address is remembered (no <c>rememberedFrees</c> limit).</para>
/// </summary>
public sealed class TraceStatistics
{
    /// <summary>Anomalies kept as examples (counts are always complete).</summary>
    public const int MaxAnomalyExamples = 20;

    /// <summary>Histogram buckets: bucket 0 holds requests of 0 bytes, bucket k (1..64) requests in [2^(k-1), 2^k).</summary>
    public const int HistogramBuckets = 65;

    private readonly LiveSet _live = new();
    private readonly long[] _counts = new long[32];
    private readonly long[] _anomalyCounts = new long[Enum.GetValues<TraceAnomalyKind>().Length];
    private readonly List<TraceAnomaly> _examples = [];
    private readonly HashSet<int> _threads = [];

    /// <summary>Events seen.</summary>
    public long Events { get; private set; }

    /// <summary>Distinct thread numbers seen (set from the reader's thread table by <see cref="Compute(TraceReader)"/>).</summary>
    public int Threads { get; set; }

    /// <summary>Calls (or markers) of <paramref name="kind"/>.</summary>
    public long Count(EventKind kind) => (int)kind < _counts.Length ? _counts[(int)kind] : 0;

    /// <summary>Allocating calls that returned NULL (failed), realloc(p, 0) not included.</summary>
    public long FailedCalls { get; private set; }

    /// <summary>free(NULL) calls.</summary>
    public long FreesOfNull { get; private set; }

    /// <summary>Smallest timestamp seen (0 when no events).</summary>
    public long FirstTimestamp { get; private set; }

    /// <summary>Largest timestamp seen.</summary>
    public long LastTimestamp { get; private set; }

    /// <summary>Last minus first timestamp, ns.</summary>
    public long DurationNs => Events == 0 ? 0 : LastTimestamp - FirstTimestamp;

    /// <summary>Live requested bytes now (see the class comment).</summary>
    public ulong LiveBytes => _live.LiveBytes;

    /// <summary>Live blocks now.</summary>
    public long LiveBlocks => _live.LiveBlocks;

    /// <summary>Maximum of <see cref="LiveBytes"/> after any event.</summary>
    public ulong PeakLiveBytes => _live.PeakLiveBytes;

    /// <summary>Index of the event after which <see cref="PeakLiveBytes"/> was first reached (-1 when none).</summary>
    public long PeakEventIndex { get; private set; } = -1;

    /// <summary>Maximum number of live blocks after any event.</summary>
    public long PeakLiveBlocks => _live.PeakLiveBlocks;

    /// <summary>Requested sizes of allocating calls (failed ones included), in power-of-two buckets (see <see cref="HistogramBuckets"/>).</summary>
    public long[] SizeHistogram { get; } = new long[HistogramBuckets];

    /// <summary>Number of anomalies of <paramref name="kind"/>.</summary>
    public long AnomalyCount(TraceAnomalyKind kind) => _anomalyCounts[(int)kind];

    /// <summary>The first <see cref="MaxAnomalyExamples"/> anomalies.</summary>
    public IReadOnlyList<TraceAnomaly> AnomalyExamples => _examples;

    /// <summary>Whether the trace is truncated (set by <see cref="Compute(TraceReader)"/>).</summary>
    public bool Truncated { get; set; }

    /// <summary>Where the readable part ends when truncated, else -1.</summary>
    public long TruncatedAtOffset { get; set; } = -1;

    /// <summary>Events the recorder could not write (disk full, file size limit), as the end block says.</summary>
    public long LostEvents { get; private set; }

    /// <summary>A cut raw recording is read up to this timestamp (see <see cref="TraceReader.PrefixEndTimestamp"/>); -1 when not.</summary>
    public long PrefixEndTimestamp { get; private set; } = -1;

    /// <summary>Where a cut recording stopped because an event refers to a missing one (see <see cref="TraceReader.StoppedAtTimestamp"/>); -1 when not.</summary>
    public long StoppedAtTimestamp { get; private set; } = -1;

    /// <summary>Tids of the threads whose tails may be missing (see <see cref="TraceReader.ThreadsWithoutEnd"/>).</summary>
    public IReadOnlyList<int> ThreadsWithoutEnd { get; private set; } = [];

    /// <summary>The corruption that stopped reading, or null.</summary>
    public TraceCorruptException? Corruption { get; set; }

    /// <summary>Lower bound of histogram bucket <paramref name="bucket"/>.</summary>
    public static ulong BucketLowerBound(int bucket) => bucket == 0 ? 0 : 1UL << (bucket - 1);

    /// <summary>The histogram bucket of a requested size.</summary>
    public static int BucketOf(ulong size) => size == 0 ? 0 : 64 - BitOperations.LeadingZeroCount(size);

    /// <summary>Reads the whole trace at <paramref name="path"/> (up to any corruption, which is recorded, not thrown).</summary>
    public static TraceStatistics Compute(string path)
    {
        using TraceReader reader = TraceReader.Open(path);
        return Compute(reader);
    }

    /// <summary>Reads the rest of <paramref name="reader"/> (up to any corruption, which is recorded in <see cref="Corruption"/>).</summary>
    public static TraceStatistics Compute(TraceReader reader, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var stats = new TraceStatistics();
        var buffer = new AllocEvent[8192];
        try
        {
            int n;
            while ((n = reader.ReadBatch(buffer)) > 0)
            {
                stats.Add(buffer.AsSpan(0, n));
                progress?.Report(stats.Events);
            }
        }
        catch (TraceCorruptException ex)
        {
            stats.Corruption = ex;
        }

        stats.Threads = reader.ThreadTids.Count;
        stats.Truncated = reader.IsTruncated;
        stats.TruncatedAtOffset = reader.TruncatedAtOffset;
        stats.LostEvents = reader.LostEvents;
        stats.PrefixEndTimestamp = reader.PrefixEndTimestamp;
        stats.StoppedAtTimestamp = reader.StoppedAtTimestamp;
        stats.ThreadsWithoutEnd = reader.ThreadsWithoutEnd;
        return stats;
    }

    /// <summary>Adds events in delivery order.</summary>
    public void Add(ReadOnlySpan<AllocEvent> events)
    {
        foreach (ref readonly AllocEvent e in events)
        {
            Add(e);
        }
    }

    /// <summary>Adds one event (the next in delivery order).</summary>
    public void Add(in AllocEvent e)
    {
        long index = Events++;
        if (index == 0 || e.Timestamp < FirstTimestamp)
        {
            FirstTimestamp = index == 0 ? e.Timestamp : Math.Min(FirstTimestamp, e.Timestamp);
        }

        LastTimestamp = index == 0 ? e.Timestamp : Math.Max(LastTimestamp, e.Timestamp);
        if ((int)e.Kind < _counts.Length)
        {
            _counts[(int)e.Kind]++;
        }

        if (Threads <= e.Thread)
        {
            Threads = e.Thread + 1;
        }

        if (e.Kind.Allocates())
        {
            SizeHistogram[BucketOf(e.RequestedBytes)]++;
        }

        LiveChange change = _live.Apply(in e);
        if (change.Kind == LiveChangeKind.Failed)
        {
            FailedCalls++;
        }
        else if (e.Kind == EventKind.Free && e.Ptr == 0)
        {
            FreesOfNull++;
        }

        if (change.BadPointer)
        {
            Anomaly(PointerAnomaly(e.Kind, change), index, e);
        }

        if (change.ResultWasLive)
        {
            Anomaly(TraceAnomalyKind.AllocationOfLiveAddress, index, e);
        }

        if (change.ImpossibleSize)
        {
            Anomaly(TraceAnomalyKind.ImpossibleSize, index, e);
        }

        if (change.NewPeak)
        {
            PeakEventIndex = index;
        }
    }

    // A pointer freed before (even by a realloc that then failed) is a double free, as the replay's preparation calls it.
    private static TraceAnomalyKind PointerAnomaly(EventKind kind, LiveChange change) =>
        change.Pointer == PointerState.Freed ? TraceAnomalyKind.DoubleFree
        : kind == EventKind.Free ? TraceAnomalyKind.FreeOfUnknownPointer
        : TraceAnomalyKind.ReallocOfUnknownPointer;

    private void Anomaly(TraceAnomalyKind kind, long index, in AllocEvent e)
    {
        _anomalyCounts[(int)kind]++;
        if (_examples.Count < MaxAnomalyExamples)
        {
            _examples.Add(new TraceAnomaly(kind, index, e));
        }
    }
}
