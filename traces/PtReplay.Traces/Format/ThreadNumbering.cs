using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// Replaces kernel tids by thread numbers in delivery order (traces/FORMAT.md "Threads"): 0, 1, 2, ... in
/// order of first appearance; after a thread-exit event naming tid T, the next event of T starts a new number.
/// <para>Invariant: <see cref="Tids"/>[n] is the kernel tid of thread number n; <c>_live</c> maps each tid
/// whose thread has not exited to its current number.</para>
/// </summary>
internal sealed class ThreadNumbering
{
    private readonly List<int> _tids = [];
    private readonly Dictionary<int, int> _live = [];
    private int _lastTid = -1;
    private int _lastNumber;

    /// <summary>Kernel tid of each thread number.</summary>
    public IReadOnlyList<int> Tids => _tids;

    /// <summary>Rewrites <see cref="AllocEvent.Thread"/> (a kernel tid on input) of each event, in order.</summary>
    public void Assign(Span<AllocEvent> events)
    {
        for (int i = 0; i < events.Length; i++)
        {
            ref AllocEvent e = ref events[i];
            int tid = e.Thread;
            if (tid == _lastTid)
            {
                e.Thread = _lastNumber;
            }
            else
            {
                e.Thread = Lookup(tid);
            }

            if (e.Kind == EventKind.ThreadExit)
            {
                Exit(e.Size != 0 ? (int)e.Size : tid);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Lookup(int tid)
    {
        if (!_live.TryGetValue(tid, out int number))
        {
            number = _tids.Count;
            _tids.Add(tid);
            _live.Add(tid, number);
        }

        _lastTid = tid;
        _lastNumber = number;
        return number;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Exit(int tid)
    {
        _live.Remove(tid);
        if (tid == _lastTid)
        {
            _lastTid = -1;
        }
    }
}
