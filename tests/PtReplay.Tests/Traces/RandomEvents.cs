using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>
/// Property-style generator of arbitrary but valid events (every kind, NULL results, statuses, extreme
/// sizes and addresses), respecting the <see cref="AllocEvent"/> invariants so that a round trip must
/// return them unchanged.
/// </summary>
internal static class RandomEvents
{
    private static readonly EventKind[] Kinds =
    [
        .. EventKinds.Calls, EventKind.ThreadStart, EventKind.ThreadExit, EventKind.Fork, EventKind.Exec,
    ];

    /// <summary><paramref name="count"/> events over threads 0..threads-1; timestamps never decrease unless <paramref name="allowTimeGoingBack"/>.</summary>
    public static AllocEvent[] Generate(int seed, int count, int threads, bool allowTimeGoingBack = false)
    {
        var r = new Random(seed);
        var events = new AllocEvent[count];
        long ts = r.Next(0, 1000);
        for (int i = 0; i < count; i++)
        {
            ts += r.Next(8) switch
            {
                0 => 0,
                < 6 => r.Next(1, 300),
                6 => r.Next(1, 1_000_000),
                _ => allowTimeGoingBack && r.Next(4) == 0 ? -r.Next(1, 500) : r.NextInt64(1, 1L << 40),
            };
            ts = Math.Max(ts, 0);
            events[i] = One(r, Kinds[r.Next(Kinds.Length)], ts, r.Next(threads));
        }

        // Thread numbers as a reader assigns them: first appearance first.
        var renumber = new Dictionary<int, int>();
        for (int i = 0; i < count; i++)
        {
            if (!renumber.TryGetValue(events[i].Thread, out int n))
            {
                renumber.Add(events[i].Thread, n = renumber.Count);
            }

            events[i].Thread = n;
            // Thread-exit markers would renumber the thread; keep them naming another tid.
            if (events[i].Kind == EventKind.ThreadExit)
            {
                events[i].Size = 999_999;
            }
        }

        return events;
    }

    /// <summary>A random value of a kind the encoder must carry exactly: small, mid, or full 64-bit.</summary>
    public static ulong Value(Random r) => r.Next(4) switch
    {
        0 => (ulong)r.Next(0, 128),
        1 => (ulong)r.Next(0, 1 << 20),
        2 => (ulong)r.NextInt64(),
        _ => ulong.MaxValue - (ulong)r.Next(0, 3),
    };

    private static ulong Address(Random r) => r.Next(5) switch
    {
        0 => 0x5555_5555_0000UL + ((ulong)r.Next(0, 1 << 20) << 4),
        1 => 0x7f00_0000_0000UL + ((ulong)r.Next() << 4),
        2 => (ulong)r.NextInt64() | 1,
        3 => ulong.MaxValue - (ulong)r.Next(0, 16),
        _ => 0x5555_5555_0000UL + ((ulong)r.Next(0, 64) << 4),
    };

    private static AllocEvent One(Random r, EventKind kind, long ts, int thread)
    {
        var e = new AllocEvent { Kind = kind, Timestamp = ts, Thread = thread };
        bool fails = r.Next(10) == 0;
        switch (kind)
        {
            case EventKind.Malloc or EventKind.Valloc or EventKind.Pvalloc:
                e.Size = Value(r);
                e.Count = 1;
                e.Result = fails ? 0 : Address(r);
                break;
            case EventKind.Calloc:
                e.Count = Value(r);
                e.Size = Value(r);
                e.Result = fails ? 0 : Address(r);
                break;
            case EventKind.Realloc:
                e.Ptr = r.Next(6) == 0 ? 0 : Address(r);
                e.Size = Value(r);
                e.Count = 1;
                e.Result = fails ? 0 : Address(r);
                break;
            case EventKind.ReallocArray:
                e.Ptr = r.Next(6) == 0 ? 0 : Address(r);
                e.Count = Value(r);
                e.Size = Value(r);
                e.Result = fails ? 0 : Address(r);
                break;
            case EventKind.Free:
                e.Ptr = r.Next(10) == 0 ? 0 : Address(r);
                break;
            case EventKind.Memalign or EventKind.PosixMemalign or EventKind.AlignedAlloc:
                e.Alignment = 1UL << r.Next(0, 63);
                e.Size = Value(r);
                e.Count = 1;
                e.Result = fails ? 0 : Address(r);
                break;
            case EventKind.ThreadStart or EventKind.ThreadExit or EventKind.Fork:
                e.Size = (ulong)r.Next(1, int.MaxValue);
                break;
            case EventKind.Exec:
                break;
        }

        if (fails && kind.Allocates())
        {
            e.Status = r.Next(3) switch { 0 => 0, 1 => 12, _ => r.Next(1, int.MaxValue) };
        }
        else if (r.Next(50) == 0)
        {
            e.Status = r.Next(1, 200);
        }

        return e;
    }
}
