using PtReplay.Traces.Format;

namespace PtReplay.Traces;

/// <summary>
/// The lifecycle order of a multi-threaded raw recording of format version 5 (traces/FORMAT.md "Order"): the threads'
/// timestamps are hints (the recorder reads the clock unfenced, and most events repeat the thread's last reading), so
/// the merge by timestamp is repaired with the address lifecycles. A thread's next event waits while it frees or
/// reallocs an address that is not live, or returns an address that is still live, and another thread could still
/// deliver the event it needs: one whose head timestamp is at most the waiting event's upper bound (the thread's next
/// clock reading after it, plus <see cref="ReadingSlackNs"/>), which is where that event's own reading must lie.
/// <para>A ready event whose address another thread also needs in the same state within the event's bound is a
/// <em>choice</em> (<see cref="Contested"/>): one order is tried first (the one that goes on in time, else timestamp
/// order) and the choice is remembered. When a waiting event reaches the root with no thread left to release it, the
/// order is taken back to the latest choice on its address (or the latest choice) and that choice is tried the other
/// way: a bounded depth-first search. Ordered events go to the caller once no choice before them can be taken back
/// (every thread's next event is stamped past the choice's bound, or <see cref="MaxWindowEvents"/> were ordered after
/// it); until then each thread keeps them in its chunk (<see cref="BlockCursor.Kept"/>).</para>
/// <para>Invariants: <c>_addresses</c> holds exactly the addresses the ordered events (delivered or logged) left
/// live, and <c>_log</c> lists the ordered, undelivered events with what each changed, so taking one back restores
/// the live set and <c>_addresses</c>; the heap holds every cursor with events left, keyed by its head's timestamp, or
/// by the end of its wait while <see cref="BlockCursor.Waiting"/> (then it is also in the chain of <c>_waiters</c>
/// under its address), ties broken by block offset, so the result depends on the file alone. When no choice is left
/// to take back (or <see cref="MaxBacktracks"/> are spent), a free or realloc of a pointer that is not live is
/// delivered as it is (a block from outside the recording, as a fork child's inherited heap), and an allocation
/// returning a live address is corrupt (no valid order was found). Memory: the live addresses, the addresses of the
/// decoded, undelivered events, and the events ordered since the oldest open choice.</para>
/// </summary>
public sealed partial class TraceReader
{
    /// <summary>
    /// Added to a waiting event's upper bound: the unfenced TSC read of the thread's next reading may run ahead of the
    /// event's own work by a few hundred cycles; a wider margin only delays an event that no thread releases.
    /// </summary>
    public const long ReadingSlackNs = 100_000;

    private readonly AddressStates _addresses = new();
    private readonly Dictionary<ulong, BlockCursor> _waiters = [];

    /// <summary>A contested event (<see cref="Contested"/>) looks this far past its thread's next reading (unfenced reads run ahead by far less).</summary>
    private const long ContestSlackNs = 1_000;

    /// <summary>How far ahead of its head a thread's events are looked at (a bound on the work per ambiguous event).</summary>
    private const int LookaheadEvents = 8192;

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
        while (n < dest.Length)
        {
            if (_logCommitted < CommitLimit())
            {
                n += Commit(dest[n..]);
                continue;
            }

            if (_heapCount == 0)
            {
                if (_logEnd > _logCommitted)
                {
                    DropChoices(); // nothing left to order: the events ordered so far stand
                    continue;
                }

                if (_lifecycleFailure is not null)
                {
                    Fail(_lifecycleFailure);
                    _lifecycleFailure = null;
                }

                break;
            }

            if (_choiceStart < _choiceEnd)
            {
                SettleChoices();
            }

            BlockCursor s = _heap[0];
            AllocEvent e = s.Events[s.Position];
            bool expired = s.Waiting;
            bool contestExpired = expired && s.Contest;
            if (expired)
            {
                Unwait(s);
            }

            byte flags = 0;
            if (LifecycleReady(e))
            {
                if (!expired && !s.NoContest && _heapCount > 1)
                {
                    if (Contested(s, e, out ulong address, out bool waitFirst))
                    {
                        PushChoice(s, e, address, waitFirst);
                        if (waitFirst)
                        {
                            Wait(s, address, contest: true);
                            continue;
                        }
                    }
                    else if (StaleReuse(s, e, out address))
                    {
                        PushChoice(s, e, address, waitFirst: false);
                    }
                }
            }
            else
            {
                if ((!expired || contestExpired) && _heapCount > 1)
                {
                    Wait(s, e.Kind.TakesPointer() && e.Ptr != 0 && !_addresses.IsLive(e.Ptr) ? e.Ptr : e.Result, contest: false);
                    continue;
                }

                // No other thread can release this event any more: an earlier choice was wrong, or the event is one
                // whose pointer is from outside the recording, or the recording has no valid order.
                bool allocatesLive = AllocatesLive(e);
                ulong needed = allocatesLive ? e.Result : e.Ptr;
                if (Backtrack(needed, anyChoice: allocatesLive || SeveralPending(needed, s, returns: true)))
                {
                    continue;
                }

                if (allocatesLive)
                {
                    if (_contestWaiters > 0)
                    {
                        // Held back by a guess: the threads waiting on a contest go on first, without contesting again.
                        Wait(s, e.Result, contest: false, keepKey: true);
                        ReleaseContests();
                        continue;
                    }

                    if (_prefixGuard is not null)
                    {
                        // A cut recording: the free this allocation needs is in a thread's missing tail; reading stops here.
                        StoppedAtTimestamp = e.Timestamp;
                        _heapCount = 0;
                        continue;
                    }

                    long index = _produced + (_logEnd - _logCommitted);
                    _lifecycleFailure = new TraceCorruptException(_path, s.EventBlocks[s.Position], index,
                        $"{e.Kind.CName()} returning 0x{e.Result:x} in thread tid {e.Thread} at {e.Timestamp} ns: that address is still live and no other thread frees it before this thread's next clock reading (no order of the threads' events is valid)");
                    _heapCount = 0;
                    continue;
                }

                flags = LogUnmatched;
            }

            s.NoContest = false;
            Unindex(s, e);
            flags |= ApplyLifecycle(e, s.Number);
            s.Position++;
            if (_logEnd == _logCommitted && _choiceStart == _choiceEnd)
            {
                // Nothing can be taken back: the event goes straight to the caller.
                if (!Deliver(s, ref dest[n]))
                {
                    break;
                }

                n++;
                if ((flags & LogUnmatched) != 0)
                {
                    UnmatchedPointers++;
                }
            }
            else
            {
                Log(s, flags);
            }

            if (s.Position == s.Count)
            {
                bool more;
                try
                {
                    more = RefillKept(s);
                }
                catch (TraceCorruptException ex)
                {
                    // Reported after the ordered events still to be handed out: its index counts them.
                    _lifecycleFailure = new TraceCorruptException(_path, ex.ByteOffset, _produced + (_logEnd - _logCommitted), ex.Problem);
                    _heapCount = 0;
                    continue;
                }

                if (!more)
                {
                    RemoveAt(s.HeapIndex);
                    continue;
                }
            }

            s.Key = s.HeadTimestamp;
            Fix(s.HeapIndex);
        }

        return n;
    }

    /// <summary>Hands the cursor's oldest ordered event to the caller; false when a cut recording stops before it.</summary>
    private bool Deliver(BlockCursor c, ref AllocEvent slot)
    {
        AllocEvent e = c.Events[c.Kept];
        if (_prefixGuard is not null && !_prefixGuard.Accept(e, PrefixEndTimestamp))
        {
            StoppedAtTimestamp = e.Timestamp;
            _heapCount = 0;
            _logEnd = _logCommitted = 0;
            _choiceStart = _choiceEnd = 0;
            _lifecycleFailure = null;
            return false;
        }

        c.Kept++;
        slot = e;
        _threads.Assign(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref slot, 1));
        _produced++;
        return true;
    }

    /// <summary>Builds the lifecycle heap from the cursors that have events.</summary>
    private void StartLifecycle()
    {
        IsLifecycleOrdered = true;
        _peekEvents = new AllocEvent[BlockCursor.ChunkEvents];
        _lifecycleCursors = new BlockCursor[_heapCount];
        for (int i = 0; i < _heapCount; i++)
        {
            BlockCursor c = _heap[i];
            _lifecycleCursors[i] = c;
            c.Number = i + 1;
            c.Key = c.HeadTimestamp;
            c.HeapIndex = i;
            c.EventBlocks = new long[c.Events.Length];
            c.EventBlocks.AsSpan(0, c.Count).Fill(c.BlockOffset);
            IndexChunk(c, c.Position);
        }

        for (int i = (_heapCount / 2) - 1; i >= 0; i--)
        {
            LifecycleSiftDown(i);
        }
    }

    /// <summary>
    /// Lifecycle order: decodes the cursor's next chunk after the events it still keeps (ordered, not handed to the
    /// caller: they can be taken back), loading its next block when needed; false when the thread has no events left.
    /// </summary>
    private bool RefillKept(BlockCursor c)
    {
        if (c.Drained)
        {
            return false;
        }

        if (c.Kept > 0)
        {
            int keep = c.Count - c.Kept;
            Array.Copy(c.Events, c.Kept, c.Events, 0, keep);
            Array.Copy(c.EventBlocks, c.Kept, c.EventBlocks, 0, keep);
            c.Position -= c.Kept;
            c.Count = keep;
            c.Kept = 0;
            c.NextReadingOf = -1;
        }

        while (true)
        {
            if (!c.BlockActive && !LoadNext(c))
            {
                c.Drained = true;
                return false;
            }

            if (c.Events.Length < c.Count + BlockCursor.ChunkEvents)
            {
                int size = Math.Max(c.Events.Length * 2, c.Count + BlockCursor.ChunkEvents);
                Array.Resize(ref c.Events, size);
                Array.Resize(ref c.EventBlocks, size);
            }

            string? bad = BlockDecoder.DecodeSome(c.Raw, ref c.State, c.Events.AsSpan(c.Count, BlockCursor.ChunkEvents), out int got);
            if (bad is not null)
            {
                throw Corrupt(c.BlockOffset, bad);
            }

            c.BlockActive = !c.State.Done;
            c.EventBlocks.AsSpan(c.Count, got).Fill(c.BlockOffset);
            int from = c.Count;
            c.Count += got;
            if (got > 0)
            {
                IndexChunk(c, from);
                return true;
            }
        }
    }

    /// <summary>Log flags: the event took its pointer out of the live set, put its result in, or freed a pointer that was not live.</summary>
    private const byte LogRemovedPtr = 1;
    private const byte LogAddedResult = 2;
    private const byte LogUnmatched = 4;

    /// <summary>A choice is settled once this many events were ordered after it.</summary>
    private const int MaxWindowEvents = 1 << 18;

    /// <summary>How many times the order is taken back to a choice before the reader gives up on a recording (reset once every choice is settled).</summary>
    private const int MaxBacktracks = 256;

    private LogEntry[] _log = new LogEntry[1024];
    private int _logCommitted;
    private int _logEnd;
    private Choice[] _choices = new Choice[64];
    private int _choiceStart;
    private int _choiceEnd;
    private int _backtracks;
    private BlockCursor[] _lifecycleCursors = [];
    private TraceCorruptException? _lifecycleFailure;

    /// <summary>An event ordered but not handed to the caller: its thread (the event is that cursor's next kept one) and what it did to the live set.</summary>
    private struct LogEntry
    {
        public BlockCursor C;
        public byte Flags;
    }

    /// <summary>A contested event (<see cref="Contested"/>): the order was taken one way at <see cref="LogIndex"/>; a backtrack takes the other.</summary>
    private struct Choice
    {
        public int LogIndex;
        public BlockCursor C;
        public ulong Address;
        public bool WaitFirst;
        /// <summary>The contested event's upper bound (its thread's next reading, plus the margin): an event of another thread that had to go before it is stamped at most this.</summary>
        public long Bound;
    }

    /// <summary>Choices taken back and tried the other way (a diagnostic, like <see cref="LifecycleWaits"/>).</summary>
    public long LifecycleBacktracks { get; private set; }

    /// <summary>The log index up to which the ordered events can no longer be taken back.</summary>
    private int CommitLimit() => _choiceStart < _choiceEnd ? _choices[_choiceStart].LogIndex : _logEnd;

    /// <summary>Hands the events that can no longer be taken back to the caller.</summary>
    private int Commit(Span<AllocEvent> dest)
    {
        int limit = CommitLimit();
        int n = 0;
        while (n < dest.Length && _logCommitted < limit)
        {
            LogEntry le = _log[_logCommitted];
            if (!Deliver(le.C, ref dest[n]))
            {
                return n;
            }

            if ((le.Flags & LogUnmatched) != 0)
            {
                UnmatchedPointers++;
            }

            _log[_logCommitted].C = null!;
            _logCommitted++;
            n++;
        }

        if (_logCommitted == _logEnd && _choiceStart == _choiceEnd)
        {
            _logCommitted = _logEnd = 0;
            _choiceStart = _choiceEnd = 0;
        }

        return n;
    }

    private void Log(BlockCursor c, byte flags)
    {
        if (_logEnd == _log.Length)
        {
            if (_logCommitted > _log.Length / 4)
            {
                int shift = _logCommitted;
                Array.Copy(_log, shift, _log, 0, _logEnd - shift);
                Array.Clear(_log, _logEnd - shift, shift);
                _logEnd -= shift;
                _logCommitted = 0;
                for (int i = _choiceStart; i < _choiceEnd; i++)
                {
                    _choices[i].LogIndex -= shift;
                }
            }
            else
            {
                Array.Resize(ref _log, _log.Length * 2);
            }
        }

        _log[_logEnd++] = new LogEntry { C = c, Flags = flags };
    }

    private void PushChoice(BlockCursor s, in AllocEvent e, ulong address, bool waitFirst)
    {
        if (_choiceEnd == _choices.Length)
        {
            if (_choiceStart > 0)
            {
                Array.Copy(_choices, _choiceStart, _choices, 0, _choiceEnd - _choiceStart);
                _choiceEnd -= _choiceStart;
                _choiceStart = 0;
            }
            else
            {
                Array.Resize(ref _choices, _choices.Length * 2);
            }
        }

        long next = NextReading(s);
        long bound = next > long.MaxValue - ReadingSlackNs ? long.MaxValue : next + ReadingSlackNs;
        _choices[_choiceEnd++] = new Choice { LogIndex = _logEnd, C = s, Address = address, WaitFirst = waitFirst, Bound = bound };
    }

    /// <summary>
    /// Settles the oldest choices that every thread has left behind (their events can then go to the caller): every
    /// thread's next event, waiting or not, is stamped past the choice's bound, or the window is full.
    /// </summary>
    private void SettleChoices()
    {
        long now = long.MaxValue;
        for (int i = 0; i < _heapCount; i++)
        {
            now = Math.Min(now, _heap[i].HeadTimestamp);
        }

        while (_choiceStart < _choiceEnd)
        {
            ref Choice ch = ref _choices[_choiceStart];
            if (ch.Bound < now || _logEnd - ch.LogIndex > MaxWindowEvents)
            {
                ch.C = null!;
                _choiceStart++;
            }
            else
            {
                break;
            }
        }

        if (_choiceStart == _choiceEnd)
        {
            _choiceStart = _choiceEnd = 0;
            _backtracks = 0;
        }
    }

    /// <summary>Settles every choice: the events ordered so far stand.</summary>
    private void DropChoices()
    {
        Array.Clear(_choices, _choiceStart, _choiceEnd - _choiceStart);
        _choiceStart = _choiceEnd = 0;
    }

    /// <summary>
    /// An event no thread can release any more: takes the order back to the latest choice on <paramref name="address"/>
    /// (or, with <paramref name="anyChoice"/>, the latest choice when none is on it) and tries that choice the other
    /// way. False when there is none, or the backtracks allowed are spent.
    /// </summary>
    private bool Backtrack(ulong address, bool anyChoice)
    {
        if (_choiceStart == _choiceEnd || _backtracks >= MaxBacktracks)
        {
            return false;
        }

        int target = -1;
        for (int i = _choiceEnd - 1; i >= _choiceStart; i--)
        {
            if (_choices[i].Address == address)
            {
                target = i;
                break;
            }
        }

        if (target < 0)
        {
            if (!anyChoice)
            {
                return false;
            }

            target = _choiceEnd - 1;
        }

        _backtracks++;
        LifecycleBacktracks++;
        Choice ch = _choices[target];
        Array.Clear(_choices, target, _choiceEnd - target);
        _choiceEnd = target;
        while (_logEnd > ch.LogIndex)
        {
            LogEntry le = _log[--_logEnd];
            _log[_logEnd].C = null!;
            BlockCursor c = le.C;
            c.Position--;
            AllocEvent e = c.Events[c.Position];
            if ((le.Flags & LogAddedResult) != 0)
            {
                _addresses.ClearLive(e.Result, c.Number);
            }

            if ((le.Flags & LogRemovedPtr) != 0)
            {
                _addresses.SetLive(e.Ptr, c.Number);
            }

            Reindex(c, e);
        }

        // Every thread takes its head's timestamp again; the choice's thread goes the other way.
        _waiters.Clear();
        _contestWaiters = 0;
        _heapCount = 0;
        foreach (BlockCursor c in _lifecycleCursors)
        {
            c.Waiting = false;
            c.Contest = false;
            c.NoContest = false;
            c.NextWaiter = null;
            c.HeapIndex = -1;
            if (c.Position < c.Count)
            {
                c.Key = c.HeadTimestamp;
                c.HeapIndex = _heapCount;
                _heap[_heapCount++] = c;
            }
        }

        for (int i = (_heapCount / 2) - 1; i >= 0; i--)
        {
            LifecycleSiftDown(i);
        }

        if (ch.WaitFirst)
        {
            ch.C.NoContest = true;
        }
        else
        {
            Wait(ch.C, ch.Address, contest: true);
        }

        return true;
    }

    /// <summary>Puts a taken-back event's addresses back in <c>_addresses</c>.</summary>
    private void Reindex(BlockCursor c, in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0)
        {
            _addresses.AddPending(e.Ptr, c.Number, returns: false);
        }

        if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr)
        {
            _addresses.AddPending(e.Result, c.Number, returns: true);
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
            return e.Ptr == 0 || _addresses.IsLive(e.Ptr);
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0 && !_addresses.IsLive(e.Ptr))
        {
            return false;
        }

        return !AllocatesLive(e);
    }

    /// <summary>The call returns an address the delivered events hold live (other than the pointer it reallocs).</summary>
    private bool AllocatesLive(in AllocEvent e) =>
        e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr && _addresses.IsLive(e.Result);

    /// <summary>Applies a delivered event to the live set; returns what it changed (<c>Log*</c> flags).</summary>
    private byte ApplyLifecycle(in AllocEvent e, int number)
    {
        if (!e.Kind.IsCall())
        {
            return 0;
        }

        byte flags = 0;
        if (e.Kind.TakesPointer() && e.Ptr != 0)
        {
            bool released = e.Kind == EventKind.Free || e.Result != 0 || e.RequestedBytes == 0;
            if (!released)
            {
                return 0; // a failed realloc: the block stays
            }

            if (_addresses.ClearLive(e.Ptr, number))
            {
                flags |= LogRemovedPtr;
            }

            Wake(e.Ptr);
        }

        if (e.Kind.Allocates() && e.Result != 0)
        {
            if (_addresses.SetLive(e.Result, number))
            {
                flags |= LogAddedResult;
            }

            Wake(e.Result);
        }

        return flags;
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
    private bool Contested(BlockCursor s, in AllocEvent e, out ulong address, out bool waitFirst)
    {
        address = 0;
        waitFirst = false;
        if (!e.Kind.IsCall())
        {
            return false;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0 && SeveralPending(e.Ptr, s, returns: false) && Contests(s, e.Ptr, e.Result == e.Ptr ? Touch.Keep : Touch.Release, out waitFirst))
        {
            address = e.Ptr;
            return true;
        }

        if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr && SeveralPending(e.Result, s, returns: true) && Contests(s, e.Result, Touch.Acquire, out waitFirst))
        {
            address = e.Result;
            return true;
        }

        return false;
    }

    /// <summary>
    /// A ready event on an address another thread changed last, whose thread's next reading is more than
    /// <see cref="StaleNs"/> away (it was descheduled around it): it may belong after events of other threads that are
    /// too far ahead to be decoded yet, so delivering it now is a choice too (taken back if an event on the address
    /// later cannot go). Returns the address.
    /// </summary>
    private bool StaleReuse(BlockCursor s, in AllocEvent e, out ulong address)
    {
        address = !e.Kind.IsCall() ? 0
            : e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr ? e.Result
            : e.Kind.TakesPointer() ? e.Ptr
            : 0;
        if (address == 0)
        {
            return false;
        }

        int last = _addresses.LastThread(address);
        return last != 0 && last != s.Number && NextReading(s) - e.Timestamp > StaleNs;
    }

    /// <summary>A reading interval longer than this marks a thread that was descheduled or waited (readings are about 1 us apart while calls are dense).</summary>
    private const long StaleNs = 20_000;

    /// <summary>Another thread has, among its decoded, undelivered events, one that returns <paramref name="address"/> (<paramref name="returns"/>) or one that frees or reallocs it.</summary>
    private bool SeveralPending(ulong address, BlockCursor s, bool returns) => _addresses.OthersPending(address, s.Number, returns);

    /// <summary>Counts the addresses of a cursor's freshly decoded chunk in <c>_addresses</c>.</summary>
    private void IndexChunk(BlockCursor c, int from)
    {
        for (int i = from; i < c.Count; i++)
        {
            ref AllocEvent e = ref c.Events[i];
            if (!e.Kind.IsCall())
            {
                continue;
            }

            if (e.Kind.TakesPointer() && e.Ptr != 0)
            {
                _addresses.AddPending(e.Ptr, c.Number, returns: false);
            }

            if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr)
            {
                _addresses.AddPending(e.Result, c.Number, returns: true);
            }
        }
    }

    /// <summary>Takes a delivered event's addresses out of <c>_addresses</c>.</summary>
    private void Unindex(BlockCursor s, in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0)
        {
            _addresses.RemovePending(e.Ptr, s.Number, returns: false);
        }

        if (e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr)
        {
            _addresses.RemovePending(e.Result, s.Number, returns: true);
        }
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

    /// <summary>
    /// Whether another thread's event on <paramref name="address"/> needs the state the head of <paramref name="s"/>
    /// (whose step is <paramref name="mine"/>) needs, within its bound: a choice (see <see cref="Contested"/>);
    /// <paramref name="waitFirst"/>: the other thread goes first as the first try, when only that order goes on in time.
    /// </summary>
    private bool Contests(BlockCursor s, ulong address, Touch mine, out bool waitFirst)
    {
        waitFirst = false;
        bool waited = _waiters.ContainsKey(address); // a waiting thread needs the change first

        long next = NextReading(s);
        long horizon = next > long.MaxValue - ContestSlackNs ? long.MaxValue : next + ContestSlackNs;
        _rivals.Clear();

        // Every other thread with decoded events on the address whose next event, waiting or not, is stamped within the
        // bound (when more than four threads have some: every other thread).
        Span<int> holders = stackalloc int[4];
        if (_addresses.PendingThreads(address, holders))
        {
            for (int i = 0; i < holders.Length; i++)
            {
                int h = holders[i];
                if (h != 0 && holders[..i].IndexOf(h) < 0)
                {
                    AddRival(s, _lifecycleCursors[h - 1], address, horizon);
                }
            }
        }
        else
        {
            for (int i = 0; i < _heapCount; i++)
            {
                AddRival(s, _heap[i], address, horizon);
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
                waitFirst = !waited; // only the other order goes on in time
                break;
            }
        }

        return true;
    }

    /// <summary>Adds the touches of <paramref name="address"/> by thread <paramref name="c"/> when it is another thread with events left whose next event is stamped within the bound.</summary>
    private void AddRival(BlockCursor s, BlockCursor c, ulong address, long horizon)
    {
        if (c != s && c.HeapIndex >= 0 && c.HeadTimestamp <= horizon)
        {
            Touches t = TouchesOf(c, 0, address, horizon);
            if (t.First != Touch.None)
            {
                _rivals.Add(t);
            }
        }
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
