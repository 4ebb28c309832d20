using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// The lifecycle order's record of each address it tracks (format version 5, <see cref="TraceReader"/>): whether the
/// ordered events left it live, and which threads have decoded, unordered events on it, apart for the events that
/// return it (they need it not live) and the ones that free or realloc it (they need it live): per kind up to two
/// threads by number with their counts, any others counted together.
/// <para>Invariants: an entry exists exactly while its address is live or has pending events; address 0 is never
/// tracked, so key 0 marks an empty slot. Open addressing with linear probing at most half full; removal shifts the
/// following entries back, so a probe ends at the first empty slot.</para>
/// </summary>
internal sealed class AddressStates
{
    private Entry[] _entries = new Entry[1 << 12];
    private int _count;
    private int _shift = 64 - 12;

    /// <summary>One address: live or not, and its pending events of each kind.</summary>
    private struct Entry
    {
        public ulong Key;
        /// <summary>The thread (from 1) whose ordered event last made the address live or not live; 0 = none yet.</summary>
        public int Last;
        public Threads Frees;
        public Threads Returns;
        public bool Live;
    }

    /// <summary>Pending events of one kind: of up to two threads (numbers from 1; 0 = none) and of the others.</summary>
    private struct Threads
    {
        public int A;
        public int CountA;
        public int B;
        public int CountB;
        public int Other;

        public readonly bool None => A == 0 && B == 0 && Other == 0;

        public void Add(int thread)
        {
            if (A == thread)
            {
                CountA++;
            }
            else if (B == thread)
            {
                CountB++;
            }
            else if (A == 0)
            {
                A = thread;
                CountA = 1;
            }
            else if (B == 0)
            {
                B = thread;
                CountB = 1;
            }
            else
            {
                Other++;
            }
        }

        public void Remove(int thread)
        {
            if (A == thread)
            {
                if (--CountA == 0)
                {
                    A = 0;
                }
            }
            else if (B == thread)
            {
                if (--CountB == 0)
                {
                    B = 0;
                }
            }
            else if (Other > 0)
            {
                Other--;
            }
        }

        public readonly bool Others(int thread) => Other > 0 || (A != 0 && A != thread) || (B != 0 && B != thread);
    }

    /// <summary>The ordered events left <paramref name="address"/> live.</summary>
    public bool IsLive(ulong address)
    {
        ref Entry e = ref Find(address);
        return !Unsafe.IsNullRef(ref e) && e.Live;
    }

    /// <summary>Marks the address live by an event of <paramref name="thread"/>; false when it already was.</summary>
    public bool SetLive(ulong address, int thread)
    {
        ref Entry e = ref GetOrAdd(address);
        e.Last = thread;
        if (e.Live)
        {
            return false;
        }

        e.Live = true;
        return true;
    }

    /// <summary>Marks the address not live by an event of <paramref name="thread"/>; false when it was not.</summary>
    public bool ClearLive(ulong address, int thread)
    {
        ref Entry e = ref Find(address);
        if (Unsafe.IsNullRef(ref e) || !e.Live)
        {
            return false;
        }

        e.Last = thread;
        e.Live = false;
        if (Idle(e))
        {
            Remove(address);
        }

        return true;
    }

    /// <summary>Counts one decoded, unordered event of thread <paramref name="thread"/> (from 1) that returns the address (<paramref name="returns"/>) or frees or reallocs it.</summary>
    public void AddPending(ulong address, int thread, bool returns)
    {
        ref Entry e = ref GetOrAdd(address);
        if (returns)
        {
            e.Returns.Add(thread);
        }
        else
        {
            e.Frees.Add(thread);
        }
    }

    /// <summary>Takes back one event counted by <see cref="AddPending"/> (it was ordered).</summary>
    public void RemovePending(ulong address, int thread, bool returns)
    {
        ref Entry e = ref Find(address);
        if (Unsafe.IsNullRef(ref e))
        {
            return;
        }

        if (returns)
        {
            e.Returns.Remove(thread);
        }
        else
        {
            e.Frees.Remove(thread);
        }

        if (Idle(e))
        {
            Remove(address);
        }
    }

    /// <summary>The thread (from 1) whose ordered event last changed the address, while it is tracked; 0 when none or untracked.</summary>
    public int LastThread(ulong address)
    {
        ref Entry e = ref Find(address);
        return Unsafe.IsNullRef(ref e) ? 0 : e.Last;
    }

    /// <summary>A thread other than <paramref name="thread"/> has a decoded, unordered event of that kind on the address.</summary>
    public bool OthersPending(ulong address, int thread, bool returns)
    {
        ref Entry e = ref Find(address);
        return !Unsafe.IsNullRef(ref e) && (returns ? e.Returns.Others(thread) : e.Frees.Others(thread));
    }

    /// <summary>
    /// The threads with decoded, unordered events of either kind on the address: up to four numbers (0 = none, a number
    /// may repeat); false when more threads have some (then any thread may).
    /// </summary>
    public bool PendingThreads(ulong address, Span<int> threads)
    {
        ref Entry e = ref Find(address);
        if (Unsafe.IsNullRef(ref e))
        {
            threads.Clear();
            return true;
        }

        threads[0] = e.Frees.A;
        threads[1] = e.Frees.B;
        threads[2] = e.Returns.A;
        threads[3] = e.Returns.B;
        return e.Frees.Other == 0 && e.Returns.Other == 0;
    }

    private static bool Idle(in Entry e) => !e.Live && e.Frees.None && e.Returns.None;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    private ref Entry Find(ulong key)
    {
        Entry[] t = _entries;
        int mask = t.Length - 1;
        int i = Slot(key);
        while (true)
        {
            ref Entry e = ref t[i];
            if (e.Key == key)
            {
                return ref e;
            }

            if (e.Key == 0)
            {
                return ref Unsafe.NullRef<Entry>();
            }

            i = (i + 1) & mask;
        }
    }

    private ref Entry GetOrAdd(ulong key)
    {
        if (_count * 2 >= _entries.Length)
        {
            Grow();
        }

        Entry[] t = _entries;
        int mask = t.Length - 1;
        int i = Slot(key);
        while (true)
        {
            ref Entry e = ref t[i];
            if (e.Key == key)
            {
                return ref e;
            }

            if (e.Key == 0)
            {
                e.Key = key;
                _count++;
                return ref e;
            }

            i = (i + 1) & mask;
        }
    }

    private void Remove(ulong key)
    {
        Entry[] t = _entries;
        int mask = t.Length - 1;
        int i = Slot(key);
        while (t[i].Key != key)
        {
            i = (i + 1) & mask;
        }

        // Shift back every following entry of the run whose home slot is not between the hole and it.
        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            if (t[j].Key == 0)
            {
                break;
            }

            int home = Slot(t[j].Key);
            bool stays = i <= j ? i < home && home <= j : i < home || home <= j;
            if (!stays)
            {
                t[i] = t[j];
                i = j;
            }
        }

        t[i] = default;
        _count--;
    }

    private void Grow()
    {
        Entry[] old = _entries;
        _entries = new Entry[old.Length * 2];
        _shift--;
        _count = 0;
        foreach (Entry e in old)
        {
            if (e.Key != 0)
            {
                GetOrAdd(e.Key) = e;
            }
        }
    }
}
