using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>What a recording says about its threads, computed from the events alone (not by the preparation).</summary>
internal static class RecordedThreads
{
    /// <summary>
    /// The most threads other than thread 0 alive at once: a thread is alive from its first call to its last call when it
    /// has a thread-exit event (glibc ran the exit just after its last call), else to the end of the recording.
    /// </summary>
    public static int MaxAliveAtOnce(IReadOnlyList<AllocEvent> events)
    {
        var first = new Dictionary<int, int>();
        var last = new Dictionary<int, int>();
        var exited = new HashSet<int>();
        for (int i = 0; i < events.Count; i++)
        {
            AllocEvent e = events[i];
            if (e.Thread == 0)
            {
                continue;
            }

            if (e.Kind == EventKind.ThreadExit)
            {
                exited.Add(e.Thread);
            }
            else if (e.Kind.IsCall())
            {
                first.TryAdd(e.Thread, i);
                last[e.Thread] = i;
            }
        }

        // +1 at a thread's first call, -1 just after the last call of a thread that exited.
        var steps = new List<(int At, int Delta)>();
        foreach (var (thread, start) in first)
        {
            steps.Add((start, 1));
            if (exited.Contains(thread))
            {
                steps.Add((last[thread] + 1, -1));
            }
        }

        int alive = 0, most = 0;
        foreach (var (_, delta) in steps.OrderBy(s => s.At).ThenBy(s => s.Delta))
        {
            alive += delta;
            most = Math.Max(most, alive);
        }

        return most;
    }
}
