using PtReplay.Traces;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Moves each thread-exit marker back to just after the exiting thread's last event, the point where
/// glibc really ran that thread's exit (tcache flush into its arena, arena onto the free list).
/// </summary>
/// <remarks>
/// The recorder cannot time a thread's exit: glibc still frees after the thread's last key destructor,
/// so the marker is written only once the thread is seen gone (when a new thread starts or the process
/// ends), often after other threads' calls. Replayed at the marker, the exit would come too late: a
/// thread that reused the dead thread's chunks or arena would see them still held in its tcache.
/// <code>
///   recorded:  ... t3 free(0) | t0 malloc | t0 free | exit(t3) | start(t5) ...
///   replayed:  ... t3 free(0) | exit(t3)  | t0 malloc | t0 free | start(t5) ...
/// </code>
/// Invariants: events of one thread keep their order; no event of a thread follows its exit; the
/// look-back is bounded by <see cref="DefaultWindow"/> events (older markers stay where they are), so the
/// stream stays a stream. Each event keeps its index in the recorded order (what reports cite).
/// </remarks>
public static class ThreadExitPlacement
{
    /// <summary>How many events a marker may move back over.</summary>
    public const int DefaultWindow = 1 << 16;

    /// <summary>The events with exit markers moved back, each with its index in <paramref name="events"/>.</summary>
    public static IEnumerable<(AllocEvent Event, long Index)> Reorder(IEnumerable<AllocEvent> events, int window = DefaultWindow)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        var pending = new Queue<(AllocEvent Event, long Index)>();
        var lastOfThread = new Dictionary<int, long>();
        var exitAfter = new Dictionary<long, (AllocEvent Event, long Index)>();
        long index = 0;
        foreach (var e in events)
        {
            long i = index++;
            if (e.Kind == EventKind.ThreadExit
                && lastOfThread.TryGetValue(e.Thread, out long last)
                && pending.Count > 0 && last >= pending.Peek().Index)
            {
                exitAfter[last] = (e, i);
            }
            else
            {
                pending.Enqueue((e, i));
                lastOfThread[e.Thread] = i;
            }
            while (pending.Count > window)
            {
                var head = pending.Dequeue();
                yield return head;
                if (exitAfter.Remove(head.Index, out var marker))
                    yield return marker;
            }
        }
        while (pending.Count > 0)
        {
            var head = pending.Dequeue();
            yield return head;
            if (exitAfter.Remove(head.Index, out var marker))
                yield return marker;
        }
    }
}
