using PtReplay.Traces.Format;

namespace PtReplay.Traces;

/// <summary>
/// The lifecycle order of a multi-threaded raw recording of format version 5 (traces/FORMAT.md "Order"): the threads'
/// timestamps are hints (the recorder reads the clock unfenced, and most events repeat the thread's last reading), so
/// the merge by timestamp is repaired with the address lifecycles. A thread's next event waits while it frees or
/// reallocs an address that is not live, or returns an address that is still live, and another thread could still
/// deliver the event it needs: one whose head timestamp is at most the waiting event's upper bound (the thread's next
/// clock reading after it, plus <see cref="ReadingSlackNs"/>), which is where that event's own reading must lie.
/// <para>Invariants: <c>_liveAddresses</c> holds exactly the addresses the delivered events left live; the heap holds
/// every cursor with events left, keyed by its head's timestamp, or by the end of its wait while
/// <see cref="BlockCursor.Waiting"/> (then it is also in the chain of <c>_waiters</c> under its address), ties broken
/// by block offset, so the result depends on the file alone. When a waiting cursor reaches the root, no other thread
/// can release it any more: a free or realloc of a pointer that is not live is delivered as it is (a block from
/// outside the recording, as a fork child's inherited heap), an allocation returning a live address is corrupt (no
/// valid order exists). A ready event whose address another thread also has among its decoded events may wait too
/// (<see cref="Contested"/>). Memory: the live addresses, the addresses of the decoded, undelivered events (with up to
/// two threads each) and one entry per waiting thread; a step is O(log threads), plus a look-ahead of at most
/// <see cref="LookaheadEvents"/> events of the threads involved for a waiting or contested event.</para>
/// </summary>
public sealed partial class TraceReader
{
    /// <summary>
    /// Added to a waiting event's upper bound: the unfenced TSC read of the thread's next reading may run ahead of the
    /// event's own work by a few hundred cycles; a wider margin only delays an event that no thread releases.
    /// </summary>
    public const long ReadingSlackNs = 100_000;

    private readonly HashSet<ulong> _liveAddresses = [];
    private readonly Dictionary<ulong, Pending> _pending = [];
    private readonly Dictionary<ulong, BlockCursor> _waiters = [];

    /// <summary>A contested event (<see cref="Contested"/>) looks this far past its thread's next reading (unfenced reads run ahead by far less).</summary>
    private const long ContestSlackNs = 1_000;

    /// <summary>How far ahead of its head a thread's events are looked at (a bound on the work per ambiguous event).</summary>
    private const int LookaheadEvents = 8192;

    private readonly Stack<int> _contestStack = new();
    private int _contestWaiters;
    private readonly List<Touches> _rivals = [];

    private BlockCursor? _peek;
    private AllocEvent[] _peekEvents = [];

    /// <summary>True when the reader orders a multi-threaded recording by its address lifecycles (format version 5), not by timestamps alone.</summary>
    public bool IsLifecycleOrdered { get; private set; }

    /// <summary>Events the lifecycle order held back behind events of other threads with later timestamps (each counted once per wait).</summary>
    public long LifecycleWaits { get; private set; }

    /// <summary>Frees and reallocs of a pointer no event of the recording returned (delivered once no thread could still return it).</summary>
    public long UnmatchedPointers { get; private set; }

    private int ProduceLifecycle(Span<AllocEvent> dest)
    {
        int n = 0;
        while (n < dest.Length && _heapCount > 0)
        {
            BlockCursor s = _heap[0];
            AllocEvent e = s.Events[s.Position];
            bool expired = s.Waiting;
            bool contestExpired = expired && s.Contest;
            if (expired)
            {
                Unwait(s);
            }

            if (LifecycleReady(e))
            {
                ulong contested = expired || s.NoContest || _heapCount == 1 ? 0 : Contested(s, e);
                if (contested != 0)
                {
                    Wait(s, contested, contest: true);
                    continue;
                }
            }
            else
            {
                if ((!expired || contestExpired) && _heapCount > 1)
                {
                    Wait(s, e.Kind.TakesPointer() && e.Ptr != 0 && !_liveAddresses.Contains(e.Ptr) ? e.Ptr : e.Result, contest: false);
                    continue;
                }

                if (AllocatesLive(e))
                {
                    if (_contestWaiters > 0)
                    {
                        // Held back by a guess: the threads waiting on a contest go on first, without contesting again.
                        Wait(s, e.Result, contest: false, keepKey: true);
                        ReleaseContests();
                        continue;
                    }

                    Fail(Corrupt(s.BlockOffset, $"{e.Kind.CName()} returning 0x{e.Result:x} in thread tid {e.Thread} at {e.Timestamp} ns: that address is still live and no other thread frees it before this thread's next clock reading (no order of the threads' events is valid)"));
                    break;
                }

                UnmatchedPointers++;
            }


            s.NoContest = false;
            if (_prefixGuard is not null && !_prefixGuard.Accept(e, PrefixEndTimestamp))
            {
                StoppedAtTimestamp = e.Timestamp;
                _heapCount = 0;
                break;
            }

            dest[n] = e;
            _threads.Assign(dest.Slice(n, 1));
            n++;
            _produced++;
            Unindex(s, e);
            ApplyLifecycle(e);
            s.Position++;
            if (s.Position == s.Count)
            {
                bool more;
                try
                {
                    more = Refill(s);
                }
                catch (TraceCorruptException ex)
                {
                    Fail(ex);
                    break;
                }

                if (!more)
                {
                    RemoveAt(s.HeapIndex);
                    continue;
                }

                IndexChunk(s);
            }

            s.Key = s.HeadTimestamp;
            Fix(s.HeapIndex);
        }

        return n;
    }

    /// <summary>Builds the lifecycle heap from the cursors that have events.</summary>
    private void StartLifecycle()
    {
        IsLifecycleOrdered = true;
        _peekEvents = new AllocEvent[BlockCursor.ChunkEvents];
        for (int i = 0; i < _heapCount; i++)
        {
            _heap[i].Key = _heap[i].HeadTimestamp;
            _heap[i].HeapIndex = i;
            IndexChunk(_heap[i]);
        }

        for (int i = (_heapCount / 2) - 1; i >= 0; i--)
        {
            LifecycleSiftDown(i);
        }
    }

    /// <summary>The delivered events leave every address <paramref name="e"/> needs in the state it needs.</summary>
    private bool LifecycleReady(in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return true;
        }

        if (e.Kind == EventKind.Free)
        {
            return e.Ptr == 0 || _liveAddresses.Contains(e.Ptr);
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0 && !_liveAddresses.Contains(e.Ptr))
        {
            return false;
        }

        return !AllocatesLive(e);
    }

    /// <summary>The call returns an address the delivered events hold live (other than the pointer it reallocs).</summary>
    private bool AllocatesLive(in AllocEvent e) =>
        e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr && _liveAddresses.Contains(e.Result);

    private void ApplyLifecycle(in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0)
        {
            bool released = e.Kind == EventKind.Free || e.Result != 0 || e.RequestedBytes == 0;
            if (!released)
            {
                return; // a failed realloc: the block stays
            }

            _liveAddresses.Remove(e.Ptr);
            Wake(e.Ptr);
        }

        if (e.Kind.Allocates() && e.Result != 0)
        {
            _liveAddresses.Add(e.Result);
            Wake(e.Result);
        }
    }

    /// <summary>Holds cursor <paramref name="s"/> (the root) back until the event its head needs, or until no other thread can deliver it.</summary>
    private void Wait(BlockCursor s, ulong address, bool contest, bool keepKey = false)
    {
        if (!keepKey)
        {
            LifecycleWaits++;
            long next = NextReading(s);
            long slack = contest ? ContestSlackNs : ReadingSlackNs;
            s.Key = next > long.MaxValue - slack ? long.MaxValue : next + slack;
        }

        s.Waiting = true;
        s.Contest = contest;
        _contestWaiters += contest ? 1 : 0;
        s.WaitAddress = address;
        s.NextWaiter = _waiters.TryGetValue(address, out BlockCursor? first) ? first : null;
        _waiters[address] = s;
        Fix(s.HeapIndex);
    }

    /// <summary>Every thread waiting on a contest takes its head's timestamp again and delivers its head without contesting it.</summary>
    private void ReleaseContests()
    {
        var released = new List<BlockCursor>();
        foreach (BlockCursor first in _waiters.Values)
        {
            for (BlockCursor? c = first; c is not null; c = c.NextWaiter)
            {
                if (c.Contest)
                {
                    released.Add(c);
                }
            }
        }

        foreach (BlockCursor c in released)
        {
            Unwait(c);
            c.NoContest = true;
            c.Key = c.HeadTimestamp;
            Fix(c.HeapIndex);
        }
    }

    /// <summary>Takes a waiting cursor out of its address's chain.</summary>
    private void Unwait(BlockCursor s)
    {
        s.Waiting = false;
        _contestWaiters -= s.Contest ? 1 : 0;
        s.Contest = false;
        ulong address = s.WaitAddress;
        BlockCursor? c = _waiters[address];
        if (c == s)
        {
            if (s.NextWaiter is null)
            {
                _waiters.Remove(address);
            }
            else
            {
                _waiters[address] = s.NextWaiter;
            }
        }
        else
        {
            while (c!.NextWaiter != s)
            {
                c = c.NextWaiter;
            }

            c.NextWaiter = s.NextWaiter;
        }

        s.NextWaiter = null;
    }

    /// <summary>The delivered events changed <paramref name="address"/>: the threads waiting on it take their head's timestamp again.</summary>
    private void Wake(ulong address)
    {
        if (_waiters.Count == 0 || !_waiters.Remove(address, out BlockCursor? c))
        {
            return;
        }

        while (c is not null)
        {
            BlockCursor? next = c.NextWaiter;
            c.NextWaiter = null;
            c.Waiting = false;
            _contestWaiters -= c.Contest ? 1 : 0;
            c.Contest = false;
            c.Key = c.HeadTimestamp;
            Fix(c.HeapIndex);
            c = next;
        }
    }

    /// <summary>
    /// Address reuse makes a ready event ambiguous: the block <paramref name="e"/> frees (or the address it returns) may
    /// be one generation of its address while another thread's event on it (within this event's time bound) needs the
    /// same generation. Either goes first, and the other then needs the address's state restored by a later event: the
    /// first one's thread's next event on the address, or another thread's. The other thread goes first when only that
    /// order can go on in time (the restoring event is stamped within the waiting event's bound); this event then
    /// waits for the address to change. Only addresses that more than one thread changed are looked at. Returns the
    /// address to wait on, or 0.
    /// </summary>
    private ulong Contested(BlockCursor s, in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return 0;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0 && SeveralPending(e.Ptr, s) && Contests(s, e.Ptr, e.Result == e.Ptr ? Touch.Keep : Touch.Release))
        {
            return e.Ptr;
        }

        if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr && SeveralPending(e.Result, s) && Contests(s, e.Result, Touch.Acquire))
        {
            return e.Result;
        }

        return 0;
    }

    /// <summary>More than one thread has an event on <paramref name="address"/> among its decoded, undelivered events.</summary>
    private bool SeveralPending(ulong address, BlockCursor s) =>
        _pending.TryGetValue(address, out Pending p) && (p.Other > 0 || (p.A is not null && p.A != s) || (p.B is not null && p.B != s));

    /// <summary>Counts the addresses of a cursor's freshly decoded chunk in <c>_pending</c>.</summary>
    private void IndexChunk(BlockCursor c)
    {
        for (int i = c.Position; i < c.Count; i++)
        {
            ref AllocEvent e = ref c.Events[i];
            if (!e.Kind.IsCall())
            {
                continue;
            }

            if (e.Kind.TakesPointer() && e.Ptr != 0)
            {
                AddPending(e.Ptr, c);
            }

            if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr)
            {
                AddPending(e.Result, c);
            }
        }
    }

    private void AddPending(ulong address, BlockCursor c)
    {
        ref Pending p = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_pending, address, out _);
        if (p.A == c)
        {
            p.CountA++;
        }
        else if (p.B == c)
        {
            p.CountB++;
        }
        else if (p.A is null)
        {
            p.A = c;
            p.CountA = 1;
        }
        else if (p.B is null)
        {
            p.B = c;
            p.CountB = 1;
        }
        else
        {
            p.Other++;
        }
    }

    /// <summary>Takes a delivered event's addresses out of <c>_pending</c>.</summary>
    private void Unindex(BlockCursor s, in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0)
        {
            RemovePending(e.Ptr, s);
        }

        if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr)
        {
            RemovePending(e.Result, s);
        }
    }

    private void RemovePending(ulong address, BlockCursor c)
    {
        ref Pending p = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_pending, address);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref p))
        {
            return;
        }

        if (p.A == c)
        {
            p.A = --p.CountA == 0 ? null : c;
        }
        else if (p.B == c)
        {
            p.B = --p.CountB == 0 ? null : c;
        }
        else if (p.Other > 0)
        {
            p.Other--;
        }

        if (p.A is null && p.B is null && p.Other == 0)
        {
            _pending.Remove(address);
        }
    }

    /// <summary>Decoded, undelivered events on one address: up to two threads that have some and how many each, and how many more of any other threads.</summary>
    private struct Pending
    {
        public BlockCursor? A;
        public int CountA;
        public BlockCursor? B;
        public int CountB;
        public int Other;
    }

    private enum Touch
    {
        None,
        /// <summary>free, or a realloc that moved the block: needs it live, leaves it dead.</summary>
        Release,
        /// <summary>A realloc in place: needs it live, leaves it live.</summary>
        Keep,
        /// <summary>An allocation returns the address: needs it dead, leaves it live.</summary>
        Acquire,
    }

    /// <summary>One thread's next two events on an address, for <see cref="Contests"/>.</summary>
    private struct Touches
    {
        public Touch First;
        public long FirstTs;
        /// <summary>The thread's next reading after the first touch: its upper bound.</summary>
        public long FirstHi;
        public Touch Second;
        public long SecondTs;
    }

    private static bool NeedsLive(Touch t) => t != Touch.Acquire;

    private static bool LeavesLive(Touch t) => t != Touch.Release;

    /// <summary>Whether another thread's event on <paramref name="address"/> must go before the head of <paramref name="s"/>, whose step is <paramref name="mine"/> (see <see cref="Contested"/>).</summary>
    private bool Contests(BlockCursor s, ulong address, Touch mine)
    {
        if (_waiters.ContainsKey(address))
        {
            return false; // a waiting thread needs the change first
        }

        long next = NextReading(s);
        long horizon = next > long.MaxValue - ContestSlackNs ? long.MaxValue : next + ContestSlackNs;
        _rivals.Clear();

        // The threads with decoded events on the address, or with more than two such threads every other thread whose
        // head is stamped within the bound (the heap's keys only grow downwards).
        Pending pending = _pending.GetValueOrDefault(address);
        if (pending.Other == 0)
        {
            AddRival(s, pending.A, address, horizon);
            AddRival(s, pending.B, address, horizon);
        }

        _contestStack.Clear();
        _contestStack.Push(0);
        while (pending.Other > 0 && _contestStack.Count > 0)
        {
            int i = _contestStack.Pop();
            if (i >= _heapCount || _heap[i].Key > horizon)
            {
                continue;
            }

            BlockCursor c = _heap[i];
            _contestStack.Push((2 * i) + 1);
            _contestStack.Push((2 * i) + 2);
            if (c != s && !c.Waiting)
            {
                Touches t = TouchesOf(c, 0, address, horizon);
                if (t.First != Touch.None)
                {
                    _rivals.Add(t);
                }
            }
        }

        if (_rivals.Count == 0)
        {
            return false;
        }

        bool needLive = NeedsLive(mine);
        long ownHorizon = -1;
        foreach (Touches y in _rivals)
        {
            if (NeedsLive(y.First) == needLive)
            {
                ownHorizon = Math.Max(ownHorizon, y.FirstHi > long.MaxValue - ContestSlackNs ? long.MaxValue : y.FirstHi + ContestSlackNs);
            }
        }

        if (ownHorizon < 0)
        {
            return false; // no other thread needs the same state now
        }

        Touches own = TouchesOf(s, 1, address, ownHorizon); // this thread's next touch after the head
        for (int r = 0; r < _rivals.Count; r++)
        {
            Touches y = _rivals[r];
            if (NeedsLive(y.First) != needLive)
            {
                continue; // not ready now: it waits for a change anyway
            }

            bool mineFirst = CanFollow(LeavesLive(mine), y.First, y.FirstHi, own.First, own.FirstTs, r);
            bool rivalFirst = CanFollow(LeavesLive(y.First), mine, next, y.Second, y.SecondTs, r);
            if (rivalFirst && !mineFirst)
            {
                return true; // only the other order goes on in time
            }
        }

        return false;
    }

    /// <summary>
    /// Whether an event <paramref name="later"/> bounded by <paramref name="laterHi"/> can still happen once the address
    /// is left live (<paramref name="state"/>) by another: at once, or after a restoring event, either the next one of
    /// the first event's thread (<paramref name="restore"/> at <paramref name="restoreTs"/>) or a third thread's first.
    /// </summary>
    private bool CanFollow(bool state, Touch later, long laterHi, Touch restore, long restoreTs, int exclude)
    {
        bool needLive = NeedsLive(later);
        if (state == needLive)
        {
            return true;
        }

        long bound = laterHi > long.MaxValue - ContestSlackNs ? long.MaxValue : laterHi + ContestSlackNs;
        for (int r = 0; r < _rivals.Count; r++)
        {
            Touches z = _rivals[r];
            if (r != exclude && NeedsLive(z.First) == state && LeavesLive(z.First) == needLive && z.FirstTs <= bound)
            {
                return true;
            }
        }

        return restore != Touch.None && NeedsLive(restore) == state && LeavesLive(restore) == needLive && restoreTs <= bound;
    }

    /// <summary>Adds thread <paramref name="c"/>'s touches of <paramref name="address"/> to the rivals when it is another running thread whose head is within the bound.</summary>
    private void AddRival(BlockCursor s, BlockCursor? c, ulong address, long horizon)
    {
        if (c is null || c == s || c.Waiting || c.HeapIndex < 0 || c.Key > horizon)
        {
            return;
        }

        Touches t = TouchesOf(c, 0, address, horizon);
        if (t.First != Touch.None)
        {
            _rivals.Add(t);
        }
    }

    /// <summary>
    /// The next two events of thread <paramref name="c"/> on <paramref name="address"/> after its first
    /// <paramref name="skip"/>, the first stamped up to <paramref name="horizon"/>, within its next
    /// <see cref="LookaheadEvents"/> events; and the first one's upper bound (the thread's next reading after it).
    /// </summary>
    private Touches TouchesOf(BlockCursor c, int skip, ulong address, long horizon)
    {
        var v = new TouchVisitor { Address = address, Horizon = horizon };
        v.T.FirstHi = long.MaxValue;
        AllocEvent[] events = c.Events;
        for (int i = c.Position + skip; i < c.Count; i++)
        {
            int r = v.Visit(events[i]);
            if (r != 0)
            {
                return v.T;
            }
        }

        // Past the decoded chunk (rare: the bound reaches beyond it).
        Scan(c, Math.Max(skip, c.Count - c.Position), e => v.Visit(e));
        return v.T;
    }

    /// <summary>The state of <see cref="TouchesOf"/>'s walk: 0 to go on, otherwise done.</summary>
    private struct TouchVisitor
    {
        public ulong Address;
        public long Horizon;
        public Touches T;

        public int Visit(in AllocEvent e)
        {
            if (T.First != Touch.None && T.FirstHi == long.MaxValue && e.Timestamp > T.FirstTs)
            {
                T.FirstHi = e.Timestamp;
            }

            if (e.Timestamp > Horizon && (T.First == Touch.None || T.FirstHi != long.MaxValue))
            {
                return -1; // a second touch later than the bound restores nothing in time
            }

            Touch touch = e.Kind.TakesPointer() && e.Ptr == Address ? (e.Result == Address ? Touch.Keep : Touch.Release)
                : e.Kind.Allocates() && e.Result == Address ? Touch.Acquire
                : Touch.None;
            if (touch == Touch.None)
            {
                return 0;
            }

            if (T.First == Touch.None)
            {
                T.First = touch;
                T.FirstTs = e.Timestamp;
                return 0;
            }

            if (T.Second == Touch.None)
            {
                T.Second = touch;
                T.SecondTs = e.Timestamp;
            }

            return T.FirstHi != long.MaxValue ? 1 : 0;
        }
    }

    /// <summary>
    /// The upper bound of the head's time: the first later timestamp of the same thread (its next clock reading), looked
    /// for in the decoded chunk, the rest of the block and the thread's next blocks; <see cref="long.MaxValue"/> when the
    /// thread has none (within <see cref="LookaheadEvents"/>).
    /// </summary>
    private long NextReading(BlockCursor s)
    {
        long ts = s.Events[s.Position].Timestamp;
        if (s.NextReadingOf == ts && s.NextReadingBlock == s.BlockOffset && s.NextReadingFrom <= s.Position)
        {
            return s.NextReading; // the same reading as the last event asked about: the same next one
        }

        long found = long.MaxValue;
        for (int i = s.Position + 1; i < s.Count; i++)
        {
            if (s.Events[i].Timestamp > ts)
            {
                found = s.Events[i].Timestamp;
                break;
            }
        }

        if (found == long.MaxValue)
        {
            Scan(s, s.Count - s.Position, e =>
            {
                if (e.Timestamp > ts)
                {
                    found = e.Timestamp;
                    return 1;
                }

                return 0;
            });
        }

        s.NextReadingOf = ts;
        s.NextReadingBlock = s.BlockOffset;
        s.NextReadingFrom = s.Position;
        s.NextReading = found;
        return found;
    }

    /// <summary>
    /// Visits the undelivered events of <paramref name="c"/> after its first <paramref name="skip"/>, in its order, without
    /// moving it: the decoded chunk, the rest of its block, then its next blocks, at most <see cref="LookaheadEvents"/>.
    /// <paramref name="visit"/> returns 0 to go on, 1 to stop (found: returns the index), -1 to stop (returns -1).
    /// </summary>
    private int Scan(BlockCursor c, int skip, Func<AllocEvent, int> visit)
    {
        int index = 0;
        for (int i = c.Position + skip; i < c.Count; i++, index++)
        {
            int v = visit(c.Events[i]);
            if (v != 0)
            {
                return v > 0 ? index : -1;
            }
        }

        if (c.BlockActive)
        {
            DecoderState st = c.State;
            int r = ScanBlock(c.Raw, ref st, visit, ref index);
            if (r != 0)
            {
                return r > 0 ? index : -1;
            }
        }

        if (c.Pending is null)
        {
            return -1;
        }

        Span<byte> hb = stackalloc byte[BlockHeader.Size];
        _peek ??= new BlockCursor();
        foreach (long offset in c.Pending)
        {
            if (index >= LookaheadEvents)
            {
                break;
            }

            ReadAt(offset, hb);
            BlockHeader h = BlockHeader.Read(hb);
            if (h.IsEnd || h.IsTable || h.EventCount == 0)
            {
                continue;
            }

            try
            {
                Load(offset, h, _peek);
            }
            catch (TraceCorruptException)
            {
                return -1; // reading stops at that block anyway
            }

            int r = ScanBlock(_peek.Raw, ref _peek.State, visit, ref index);
            if (r != 0)
            {
                return r > 0 ? index : -1;
            }
        }

        return -1;
    }

    /// <summary>Decodes the rest of a block into scratch space for <see cref="Scan"/>; 0 when the visit goes on past it.</summary>
    private int ScanBlock(byte[] raw, ref DecoderState st, Func<AllocEvent, int> visit, ref int index)
    {
        while (!st.Done && index < LookaheadEvents)
        {
            string? bad = BlockDecoder.DecodeSome(raw, ref st, _peekEvents, out int got);
            for (int i = 0; i < got; i++, index++)
            {
                int v = visit(_peekEvents[i]);
                if (v != 0)
                {
                    return v;
                }
            }

            if (bad is not null || got == 0)
            {
                return -1;
            }
        }

        return index >= LookaheadEvents ? -1 : 0;
    }

    private static bool KeyLess(BlockCursor a, BlockCursor b) =>
        a.Key < b.Key || (a.Key == b.Key && a.BlockOffset < b.BlockOffset);

    private void Fix(int i)
    {
        if (i > 0 && KeyLess(_heap[i], _heap[(i - 1) / 2]))
        {
            LifecycleSiftUp(i);
        }
        else
        {
            LifecycleSiftDown(i);
        }
    }

    private void RemoveAt(int i)
    {
        BlockCursor gone = _heap[i];
        gone.HeapIndex = -1;
        BlockCursor last = _heap[--_heapCount];
        _heap[_heapCount] = null!;
        if (i < _heapCount)
        {
            _heap[i] = last;
            last.HeapIndex = i;
            Fix(i);
        }
    }

    private void LifecycleSiftUp(int i)
    {
        BlockCursor x = _heap[i];
        while (i > 0)
        {
            int p = (i - 1) / 2;
            if (!KeyLess(x, _heap[p]))
            {
                break;
            }

            _heap[i] = _heap[p];
            _heap[i].HeapIndex = i;
            i = p;
        }

        _heap[i] = x;
        x.HeapIndex = i;
    }

    private void LifecycleSiftDown(int i)
    {
        BlockCursor x = _heap[i];
        while (true)
        {
            int c = (2 * i) + 1;
            if (c >= _heapCount)
            {
                break;
            }

            if (c + 1 < _heapCount && KeyLess(_heap[c + 1], _heap[c]))
            {
                c++;
            }

            if (!KeyLess(_heap[c], x))
            {
                break;
            }

            _heap[i] = _heap[c];
            _heap[i].HeapIndex = i;
            i = c;
        }

        _heap[i] = x;
        x.HeapIndex = i;
    }
}
