namespace PtReplay.Traces.ProcessTrees;

/// <summary>
/// Follows a trace's link to the trace it continues (header fields 15-18, traces/FORMAT.md "Process trees"):
/// finds the parent's file and, for a fork child, the position of the fork in the parent's event stream.
/// </summary>
public static class ProcessLink
{
    /// <summary>
    /// The file of <paramref name="header"/>'s parent trace, or null when it names none or the file is gone.
    /// Looked up beside <paramref name="tracePath"/> first (recordings are moved as a folder), then at the
    /// path the recorder wrote.
    /// </summary>
    public static string? ParentFile(string tracePath, TraceHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header.ParentTrace.Length == 0)
        {
            return null;
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(tracePath)) ?? ".";
        string beside = Path.Combine(dir, Path.GetFileName(header.ParentTrace));
        if (File.Exists(beside))
        {
            return beside;
        }

        return File.Exists(header.ParentTrace) ? header.ParentTrace : null;
    }

    /// <summary>
    /// For a fork child: the parent's trace and the number of its events before the fork; null when the trace
    /// is not a fork child, or its parent's trace is missing or holds no trace of the fork.
    /// </summary>
    /// <remarks>
    /// The fork happened after the forking thread's first <see cref="TraceHeader.ForkThreadEvents"/> events
    /// (header fields 17-18), so the prefix ends right before that thread's next event; the parent's fork
    /// marker naming the child's pid confirms it (and stands in for it when the child's header lacks those fields).
    /// Reads the parent once, up to its fork marker.
    /// </remarks>
    public static ForkPoint? FindFork(string tracePath, TraceHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header.Origin != TraceOrigin.ForkedChild || ParentFile(tracePath, header) is not { } parent)
        {
            return null;
        }

        using TraceReader reader = TraceReader.Open(parent);
        return Scan(reader, parent, header.Pid, header.ForkThreadTid, header.ForkThreadEvents);
    }

    /// <summary>The fork of child <paramref name="childPid"/> in <paramref name="reader"/>'s stream (see <see cref="FindFork"/>).</summary>
    public static ForkPoint? Scan(TraceReader reader, string parentPath, int childPid, int forkTid, long forkThreadEvents)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var perThread = new List<long>();      // events delivered so far, per thread number
        var reachedAt = new List<long>();      // global index at which the thread had delivered forkThreadEvents events
        long candidate = -1;                   // the forking thread's position, before any marker is seen
        int candidateThread = -1;
        var batch = new AllocEvent[4096];
        long index = 0;
        int n;
        while ((n = reader.ReadBatch(batch)) > 0)
        {
            for (int i = 0; i < n; i++, index++)
            {
                ref readonly AllocEvent e = ref batch[i];
                while (perThread.Count <= e.Thread)
                {
                    perThread.Add(0);
                    reachedAt.Add(-1);
                }

                bool isForkThread = forkTid != 0 && reader.ThreadTids[e.Thread] == forkTid;
                if (isForkThread && perThread[e.Thread] == forkThreadEvents && reachedAt[e.Thread] < 0)
                {
                    reachedAt[e.Thread] = index;
                    if (candidate < 0)
                    {
                        candidate = index;
                        candidateThread = e.Thread;
                    }
                }

                if (e.Kind == EventKind.Fork && e.Size == (ulong)childPid)
                {
                    // The marker's own thread, when it had reached the recorded count, places the fork exactly.
                    long at = forkTid != 0 && reader.ThreadTids[e.Thread] == forkTid && reachedAt[e.Thread] >= 0
                        ? reachedAt[e.Thread]
                        : index;
                    return new ForkPoint(parentPath, at, index, e.Thread);
                }

                perThread[e.Thread]++;
            }
        }

        if (candidate >= 0)
        {
            return new ForkPoint(parentPath, candidate, -1, candidateThread);
        }

        // The forking thread had written all its events before the fork and nothing of it followed (the parent
        // was cut short right after): the whole parent is the prefix.
        for (int t = 0; forkTid != 0 && t < perThread.Count; t++)
        {
            if (reader.ThreadTids[t] == forkTid && perThread[t] == forkThreadEvents)
            {
                return new ForkPoint(parentPath, index, -1, t);
            }
        }

        return null;
    }
}
