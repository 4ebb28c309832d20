namespace PtReplay.Traces.ProcessTrees;

/// <summary>
/// The heap a forked child started with, as a replay rebuilds it: the events of each ancestor up to its
/// fork, oldest first (a child of a fork child inherits its grandparent's heap too), each followed by the fork.
/// Replaying <see cref="Stages"/> in order, each stage's events then a fork of its <see cref="ForkPoint.ForkingThread"/>,
/// and then the child's own events reproduces what the child ran on.
/// <para>Invariant: <see cref="Stages"/> is non-empty; the first stage's trace is not itself a fork child whose parent was found.</para>
/// </summary>
public sealed class InheritedHeap
{
    /// <summary>Longest chain of forks followed (a guard against links that loop).</summary>
    public const int MaxDepth = 64;

    private InheritedHeap(IReadOnlyList<ForkPoint> stages, TraceHeader oldest)
    {
        Stages = stages;
        OldestHeader = oldest;
    }

    /// <summary>The forks from the oldest ancestor to the child's own parent.</summary>
    public IReadOnlyList<ForkPoint> Stages { get; }

    /// <summary>Header of the oldest ancestor: the process image whose start (brk0, malloc environment) the model starts from.</summary>
    public TraceHeader OldestHeader { get; }

    /// <summary>Events replayed before the child's own: the sum of the stages' prefixes.</summary>
    public long PrefixEvents => Stages.Sum(s => s.ParentEvents);

    /// <summary>The immediate parent's fork point (the last stage).</summary>
    public ForkPoint Parent => Stages[^1];

    /// <summary>
    /// The inherited heap of the trace at <paramref name="tracePath"/>; null when it is no fork child or its
    /// parent's trace (or the fork in it) cannot be found; <paramref name="note"/> then says why for a fork child.
    /// </summary>
    public static InheritedHeap? Find(string tracePath, TraceHeader header, out string? note)
    {
        ArgumentNullException.ThrowIfNull(header);
        note = null;
        if (header.Origin != TraceOrigin.ForkedChild)
        {
            return null;
        }

        var stages = new List<ForkPoint>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { Path.GetFullPath(tracePath) };
        string path = tracePath;
        TraceHeader h = header;
        while (h.Origin == TraceOrigin.ForkedChild && stages.Count < MaxDepth)
        {
            ForkPoint? fork = ProcessLink.FindFork(path, h);
            if (fork is null)
            {
                if (stages.Count == 0)
                {
                    note = h.ParentTrace.Length == 0
                        ? "it was forked by a process that was not recorded"
                        : $"its parent's trace {h.ParentTrace} is missing or holds no trace of the fork";
                    return null;
                }

                break; // an ancestor's own parent is missing: its inherited part starts empty
            }

            if (!seen.Add(Path.GetFullPath(fork.ParentPath)))
            {
                break;
            }

            stages.Insert(0, fork);
            path = fork.ParentPath;
            using TraceReader parent = TraceReader.Open(path);
            h = parent.Header;
        }

        return new InheritedHeap(stages, h);
    }

    /// <summary>The first <see cref="ForkPoint.ParentEvents"/> events of a stage's trace, in delivery order.</summary>
    public static IEnumerable<AllocEvent> ReadPrefix(ForkPoint stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        using TraceReader reader = TraceReader.Open(stage.ParentPath);
        long left = stage.ParentEvents;
        foreach (AllocEvent e in reader.ReadAll())
        {
            if (left-- <= 0)
            {
                yield break;
            }

            yield return e;
        }
    }
}
