using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Turns a trace's events (in the reader's global order) into a prepared file for the native
/// replayer and the model (PREPARED-FORMAT.md): addresses become object slots, each recorded
/// thread gets its own op stream, and every op carries what serial and concurrent replay need.
/// <para>
/// The live set (which addresses are live, their requested bytes, double frees, live and peak live bytes) is a
/// <see cref="LiveSet"/>, with the same rules as `ptreplay info`; each live block's tag is its slot.
/// Invariants of the output: an op only names a slot that is live in the recording at that point
/// (bad events are skipped or stop the preparation, see <see cref="PreparationOptions.Strict"/>);
/// slots are reused through free lists, so the slot table is bounded by the live set (plus
/// leaked slots of <see cref="TraceIssueKind.AddressStillLive"/>); a slot freed by a thread is
/// reused first by that thread, so fresh allocations never wait.
/// </para>
/// Usage: <c>using var p = new TracePreparer(path, options); p.Add(events); var prepared = p.Finish();</c>
/// Memory use is bounded by the live set and the thread count; ops go through a temporary file.
/// <para>Streaming (<see cref="Plan"/>, <see cref="Streaming"/>): a planning pass writes nothing and learns the tables'
/// layout (<see cref="PreparedLayout"/>); a second pass over the same events makes the same ops (the preparation is
/// deterministic) and writes each to its place in a file that is replayed while it is written
/// (<see cref="PreparedStreamWriter"/>): no temporary file, and disk bounded by the stream's window.</para>
/// </summary>
public sealed class TracePreparer : IDisposable
{
    private const int TempRecordSize = 64;
    private const int RememberedFrees = 1 << 20;

    private string? _outputPath;
    private readonly PreparationOptions _options;
    private readonly FileStream? _temp;
    private readonly PreparedStreamWriter? _writer;
    private readonly List<bool> _startedByOp = [];
    private readonly byte[] _record = new byte[TempRecordSize];

    private readonly LiveSet _live = new(rememberedFrees: RememberedFrees);
    private readonly List<uint> _slotOps = [0];
    private readonly List<int> _slotLastThread = [-1];
    // Per slot: the call count and recorded time when its block was allocated (for the lifetime distributions).
    private readonly List<long> _slotBornCall = [0];
    private readonly List<long> _slotBornNs = [0];
    private readonly Log2Histogram _sizes = new();
    private readonly Log2Histogram _lifetimeCalls = new();
    private readonly Log2Histogram _lifetimeNs = new();
    private readonly List<Stack<uint>> _freeSlots = [];
    private readonly Stack<uint> _orphanSlots = new();
    private readonly List<long> _threadOps = [];
    private readonly List<long> _threadSamples = [];
    private readonly List<bool> _threadExited = [];
    private readonly List<bool> _threadStarted = [];
    private readonly List<int> _pendingJoins = [];
    private readonly List<LiveSample> _samples = [];
    private readonly List<ulong> _samplesByClass = []; // RequestSizeClass.Count live-byte figures per sample, in sample id order
    private readonly ulong[] _peakByClass = new ulong[RequestSizeClass.Count]; // live bytes by class at _peakSeq
    private long _peakNs;
    private readonly List<TraceIssue> _issues = [];
    private readonly long[] _callsByKind = new long[32];
    private readonly long[] _issuesByKind = new long[Enum.GetValues<TraceIssueKind>().Length];

    private PendingOp _pending;
    private bool _hasPending;
    private long _seq;
    private long _events;
    private long _calls;
    private long _issueCount;
    private long _peakSeq = -1;
    private int _peakThread;
    private bool _peakSampled;
    private ulong _lastPeakSampleLive;
    private int _firstThread = -1;
    private bool _finished;
    private long _eventTime;
    private long _opTime = long.MinValue;
    private long _firstOpTime;
    private int _aliveWorkers;
    private int _mostAlive;
    private bool _afterFork;
    private long _joins;
    private int _precreatedWorkers;
    private long _prefixEvents;

    /// <summary>Starts a preparation that will write <paramref name="outputPath"/>.</summary>
    public TracePreparer(string outputPath, PreparationOptions? options = null)
    {
        _outputPath = outputPath;
        _options = options ?? new PreparationOptions();
        if (_options.SampleEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "SampleEvery must be at least 1.");
        }

        _temp = new FileStream(outputPath + ".ops.tmp", FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
    }

    private TracePreparer(PreparationOptions options, PreparedStreamWriter? writer)
    {
        _options = options;
        _writer = writer;
        if (_options.SampleEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "SampleEvery must be at least 1.");
        }
    }

    /// <summary>A planning pass: writes nothing; its <see cref="Finish"/> gives the trace's figures and layout (<see cref="PreparedTrace.Layout"/>).</summary>
    internal static TracePreparer Plan(PreparationOptions options, string path)
    {
        var plan = new TracePreparer(options, null);
        plan._outputPath = path;
        return plan;
    }

    /// <summary>The second pass after <see cref="Plan"/> over the same events: each op goes to <paramref name="writer"/>.</summary>
    internal static TracePreparer Streaming(PreparationOptions options, PreparedStreamWriter writer) => new(options, writer);

    /// <summary>Events read so far.</summary>
    public long EventCount => _events;

    /// <summary>Prepares a whole event sequence into <paramref name="outputPath"/>.</summary>
    public static PreparedTrace Prepare(IEnumerable<AllocEvent> events, string outputPath, PreparationOptions? options = null)
    {
        using var preparer = new TracePreparer(outputPath, options);
        foreach (var (e, index) in preparer.InReplayOrder(events))
        {
            preparer.Add(in e, index);
        }

        return preparer.Finish();
    }

    /// <summary>
    /// <paramref name="events"/> (recorded order) in the order this preparation replays them, each with its
    /// recorded index: thread exits moved back to their thread's last event unless
    /// <see cref="PreparationOptions.PlaceThreadExitsAtLastEvent"/> is off. Feed the pairs to
    /// <see cref="Add(in AllocEvent, long)"/>.
    /// </summary>
    public IEnumerable<(AllocEvent Event, long Index)> InReplayOrder(IEnumerable<AllocEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        return _options.PlaceThreadExitsAtLastEvent ? ThreadExitPlacement.Reorder(events) : events.Select((e, i) => (e, (long)i));
    }

    /// <summary>Adds a batch of events (global order).</summary>
    public void Add(ReadOnlySpan<AllocEvent> events)
    {
        foreach (ref readonly AllocEvent e in events)
        {
            Add(in e);
        }
    }

    /// <summary>Records an issue found outside the event stream (e.g. a truncated file) under the same policy.</summary>
    public void ReportIssue(TraceIssue issue) => Issue(issue);

    /// <summary>Adds one event (global order, placed as recorded); its index is the count of events added before it.</summary>
    public void Add(in AllocEvent e) => Add(in e, _events);

    /// <summary>Adds one event (replay order) whose index in the recording is <paramref name="index"/> (what issues cite).</summary>
    public void Add(in AllocEvent e, long index)
    {
        _events++;
        _eventTime = e.Timestamp;
        int t = e.Thread;
        if (t < 0 || t >= PreparedFormat.MaxThreads)
        {
            Issue(new TraceIssue(index, TraceIssueKind.TooManyThreads,
                $"thread number {t} exceeds the {PreparedFormat.MaxThreads} threads a prepared trace can hold; event skipped"));
            return;
        }

        EnsureThread(t);
        if (_threadExited[t] && e.Kind != EventKind.ThreadStart)
        {
            Issue(new TraceIssue(index, TraceIssueKind.EventAfterThreadExit, $"{e} comes after thread {t} exited; skipped"));
            return;
        }

        switch (e.Kind)
        {
            case EventKind.ThreadExit:
                AddThreadExit(t, index);
                break;
            case EventKind.Mallopt or EventKind.MallocTrim:
                // A setting or a trim: later calls depend on it, so every engine makes it where the program did.
                Emit(t, new PreparedOp
                {
                    Kind = e.Kind == EventKind.Mallopt ? PreparedKind.Mallopt : PreparedKind.MallocTrim, Size = e.Size, Arg = e.Count,
                }, index);
                break;
            default:
                if (e.Kind.IsCall())
                {
                    AddCall(in e, index, _live.Apply(in e));
                }

                break; // thread start, fork, exec: nothing to replay
        }
    }

    /// <summary>Emits the op of call <paramref name="e"/>, whose effect on the live set is <paramref name="change"/>.</summary>
    private void AddCall(in AllocEvent e, long index, in LiveChange change)
    {
        if (change.ImpossibleSize)
        {
            ImpossibleSize(in e, index);
        }

        if (change.BadPointer && !BadPointer(in e, index, in change))
        {
            return;
        }

        PreparedOp op = e.Kind == EventKind.Free ? new PreparedOp { Kind = PreparedKind.Free } : NewCallOp(in e);
        switch (change.Kind)
        {
            case LiveChangeKind.Allocated:
                uint slot = AllocateSlot(e.Thread);
                _live.TagResult(slot);
                _slotBornCall[(int)slot] = _calls;
                _slotBornNs[(int)slot] = e.Timestamp;
                if (!_inheritedPrefix)
                {
                    _sizes.Add(e.RequestedBytes);
                }

                if (change.ResultWasLive)
                {
                    // A realloc of a pointer that was not live is replayed (and named) as the allocation realloc(NULL, n).
                    AddressStillLive(change.BadPointer ? e with { Ptr = 0 } : e, index);
                }

                StampSlot(ref op, slot, e.Thread);
                break;
            case LiveChangeKind.Reallocated:
                if (!_inheritedPrefix)
                {
                    _sizes.Add(e.RequestedBytes); // a block's lifetime runs from its first allocation, through reallocs
                }

                if (change.ResultWasLive)
                {
                    AddressStillLive(e, index);
                }

                StampSlot(ref op, change.Block.Tag, e.Thread);
                break;
            case LiveChangeKind.Freed:
                // free(p), or realloc(p, 0) which freed p: the slot goes back to this thread's free list.
                if (e.Kind == EventKind.Free)
                {
                    op.Size = change.Block.Bytes;
                }
                else
                {
                    op.Flags |= OpMarks.Release;
                }

                StampSlot(ref op, change.Block.Tag, e.Thread);
                _freeSlots[e.Thread].Push(change.Block.Tag);
                if (!_inheritedPrefix)
                {
                    _lifetimeCalls.Add((ulong)(_calls - _slotBornCall[(int)change.Block.Tag]));
                    _lifetimeNs.Add((ulong)Math.Max(0, e.Timestamp - _slotBornNs[(int)change.Block.Tag]));
                }

                break;
            case LiveChangeKind.Failed when change.Pointer == PointerState.Live:
                // A failed realloc: p stays live and unchanged.
                StampSlot(ref op, change.Block.Tag, e.Thread);
                break;
            case LiveChangeKind.Failed:
                op.Flags |= OpMarks.ExpectFail;
                break;
            default:
                op.Flags = OpMarks.NullPtr;   // free(NULL)
                break;
        }

        // What the recorded call returned (0 = it failed), for the model's address check.
        EmitCall(e.Thread, op, index, e.Kind, change.NewPeak, e.Kind.Allocates() ? e.Result : 0);
    }

    /// <summary>
    /// The events added so far rebuilt a forked child's inherited heap (its parent's events up to the fork):
    /// <paramref name="thread"/> forks here (a <see cref="PreparedKind.Fork"/> op, sampled: the figures the
    /// child starts with). No samples are taken before it and the call counts start again after it.
    /// </summary>
    public void AddFork(int thread, long index)
    {
        EnsureThread(thread);
        Emit(thread, new PreparedOp { Kind = PreparedKind.Fork }, index);
        _inheritedPrefix = false;
        _prefixEvents = _events;
        Array.Clear(_issuesByKind);
        // The child's threads other than the forking one are new threads, whatever their numbers were in the parent;
        // each starts at a Start op (see StartThread).
        for (int t = 0; t < _threadExited.Count; t++)
        {
            _threadExited[t] = false;
            _threadStarted[t] = false;
        }

        _aliveWorkers = 0;
        _afterFork = true;

        _calls = 0;
        Array.Clear(_callsByKind);
        _peakSeq = -1;
        _peakSampled = false;
        _lastPeakSampleLive = _live.LiveBytes;
        _pending.SampleId = _samples.Count;
        _pending.Op.Flags |= OpMarks.Sample;
        AddSample(_seq - 1, _live.LiveBytes, _eventTime, _live.LiveBytesByClass);
        _threadSamples[thread]++;
    }

    /// <summary>Events from now on rebuild an inherited heap (until <see cref="AddFork"/>): no samples are taken.</summary>
    public void BeginInheritedPrefix() => _inheritedPrefix = true;

    private bool _inheritedPrefix;

    private void AddThreadExit(int thread, long index)
    {
        if (thread != 0 && _threadStarted[thread])
        {
            _aliveWorkers--;
        }

        _threadExited[thread] = true;
        Emit(thread, new PreparedOp { Kind = PreparedKind.ThreadExit }, index);
        if (thread != 0)
        {
            _pendingJoins.Add(thread);
        }

        // Its free slots go to whichever thread allocates next (their ops then wait on the stamp).
        foreach (uint slot in _freeSlots[thread])
        {
            _orphanSlots.Push(slot);
        }

        _freeSlots[thread].Clear();
    }

    private static PreparedOp NewCallOp(in AllocEvent e) => new()
    {
        Kind = (PreparedKind)e.Kind,
        Size = e.Size,
        Arg = e.Kind switch
        {
            EventKind.Calloc or EventKind.ReallocArray => e.Count,
            EventKind.Memalign or EventKind.PosixMemalign or EventKind.AlignedAlloc => e.Alignment,
            _ => 0,
        },
    };

    /// <summary>Reports a free/realloc of a pointer that is not live; true when the call is still replayed (as an allocation).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool BadPointer(in AllocEvent e, long index, in LiveChange change)
    {
        bool replayed = change.Kind == LiveChangeKind.Allocated;
        bool doubleFree = change.Pointer == PointerState.Freed;
        string what = doubleFree ? "double free: the block was already freed" : "pointer was never returned by an allocation in the trace";
        string action = replayed ? "replayed as an allocation of the new size" : "skipped";
        Issue(new TraceIssue(index, doubleFree ? TraceIssueKind.DoubleFree : TraceIssueKind.UnknownPointer,
            string.Create(CultureInfo.InvariantCulture, $"{e}: {what} (0x{e.Ptr:x}); {action}")));
        return replayed;
    }

    /// <summary>The trace says a call succeeded that cannot: it is replayed as failed (the engines get the same request and fail it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ImpossibleSize(in AllocEvent e, long index) =>
        Issue(new TraceIssue(index, TraceIssueKind.ImpossibleSize, string.Create(CultureInfo.InvariantCulture,
            $"{e} returned 0x{e.Result:x} for a request of more than {LiveSet.MaxBlockBytes} bytes (or count × size overflowed), which never succeeds; replayed as a failed call")));

    /// <summary>The recording missed a free: the old block at the returned address stays allocated (leaked) in the replay.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddressStillLive(AllocEvent e, long index) =>
        Issue(new TraceIssue(index, TraceIssueKind.AddressStillLive, string.Create(CultureInfo.InvariantCulture,
            $"{e} returned 0x{e.Result:x}, which is still live in the trace (a free is missing); the old block is leaked")));

    private void Issue(TraceIssue issue)
    {
        _issueCount++;
        _issuesByKind[(int)issue.Kind]++;
        if (_options.Strict)
        {
            throw new TraceIssueException(issue);
        }

        if (_issues.Count < _options.MaxIssuesKept)
        {
            _issues.Add(issue);
        }
    }

    private void EnsureThread(int t)
    {
        while (_freeSlots.Count <= t)
        {
            _freeSlots.Add(new Stack<uint>());
            _threadOps.Add(0);
            _threadSamples.Add(0);
            _threadExited.Add(false);
            _threadStarted.Add(false);
            _startedByOp.Add(false);
        }
    }

    private uint AllocateSlot(int thread)
    {
        if (_freeSlots[thread].TryPop(out uint slot) || _orphanSlots.TryPop(out slot))
        {
            return slot;
        }

        slot = (uint)_slotOps.Count;
        _slotOps.Add(0);
        _slotLastThread.Add(thread);
        _slotBornCall.Add(0);
        _slotBornNs.Add(0);
        return slot;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void StampSlot(ref PreparedOp op, uint slot, int thread)
    {
        op.Slot = slot;
        op.Dep = _slotOps[(int)slot];
        if (op.Dep != 0 && _slotLastThread[(int)slot] != thread)
        {
            op.Flags |= OpMarks.Wait;
        }

        _slotOps[(int)slot] = op.Dep + 1;
        _slotLastThread[(int)slot] = thread;
    }

    private void EmitCall(int thread, PreparedOp op, long index, EventKind kind, bool newPeak, ulong recordedAddress)
    {
        Emit(thread, op, index, recordedAddress);
        _calls++;
        _callsByKind[(int)kind]++;
        long seq = _seq - 1;
        bool sample = _calls % _options.SampleEvery == 0 && !_inheritedPrefix;
        ulong liveBytes = _live.LiveBytes;
        if (_inheritedPrefix)
        {
            return;
        }

        if (newPeak)
        {
            _peakSeq = seq;
            _peakThread = thread;
            _peakNs = _eventTime;
            _live.LiveBytesByClass.CopyTo(_peakByClass);
            _peakSampled = false;
            if (liveBytes >= _lastPeakSampleLive + Math.Max(1UL, (ulong)(_lastPeakSampleLive * _options.PeakStep)))
            {
                sample = true;
                _lastPeakSampleLive = liveBytes;
            }
        }

        if (sample)
        {
            _pending.SampleId = _samples.Count;
            _pending.Op.Flags |= OpMarks.Sample;
            AddSample(seq, liveBytes, _eventTime, _live.LiveBytesByClass);
            _threadSamples[thread]++;
            if (_peakSeq == seq)
            {
                _peakSampled = true;
            }
        }
    }

    private void Emit(int thread, PreparedOp op, long index, ulong recordedAddress = 0)
    {
        if (thread != 0 && !_threadStarted[thread])
        {
            StartThread(thread, index);
        }

        if (_pendingJoins.Count > 0)
        {
            foreach (int exited in _pendingJoins)
            {
                EmitRaw(thread, new PreparedOp { Kind = PreparedKind.Join, Arg = (ulong)exited }, index);
                _joins++;
            }

            _pendingJoins.Clear();
        }

        if (op.Kind == PreparedKind.Start)
        {
            // Free-running replay: the thread starts only once every join before it in the global order is done.
            op.Dep = (uint)_joins;
        }

        EmitRaw(thread, op, index, recordedAddress);
    }

    /// <summary>
    /// Thread rules: recorded thread 0 is the replayer's main thread. Every other thread starts at its first op, in one of
    /// two ways. When more threads are alive than ever before (alive: started and not exited), its replay thread is
    /// created before the replay; otherwise a <see cref="PreparedKind.Start"/> op on a thread that is alive (the one that
    /// ran the op before, else thread 0, else any) creates it there, after the joins of the threads that exited before.
    /// So the replayer never runs more threads at once than the recording had alive, and at each Start at least one
    /// joined thread's stack is in glibc's stack cache (stacks made = threads created before the replay, which is the most
    /// ever alive; in use = alive, which is fewer at a Start): creating it maps nothing and callocs no DTV.
    /// </summary>
    private void StartThread(int thread, long index)
    {
        EnsureThread(0);
        _threadStarted[thread] = true;
        _aliveWorkers++;
        _mostAlive = Math.Max(_mostAlive, _aliveWorkers);
        // A forked child's threads all start at a Start op: the child process has only the thread that forked.
        int host = _aliveWorkers > _precreatedWorkers && !_afterFork ? -1 : AliveHost();
        if (host < 0)
        {
            _precreatedWorkers++;
            return;
        }

        if (!_afterFork)
        {
            _startedByOp[thread] = true;
        }

        Emit(host, new PreparedOp { Kind = PreparedKind.Start, Arg = (ulong)thread }, index);
    }

    /// <summary>A started thread that has not exited to run a Start op on: the previous op's, else thread 0, else any; -1 if none.</summary>
    private int AliveHost()
    {
        // Thread 0 is the replayer's main thread: it exists from the start.
        static bool Alive(TracePreparer p, int t) => t >= 0 && t < p._threadStarted.Count && (t == 0 || p._threadStarted[t]) && !p._threadExited[t];
        if (_hasPending && Alive(this, _pending.Thread))
        {
            return _pending.Thread;
        }

        if (Alive(this, 0))
        {
            return 0;
        }

        for (int t = 1; t < _threadStarted.Count; t++)
        {
            if (Alive(this, t))
            {
                return t;
            }
        }

        return -1;
    }

    private void EmitRaw(int thread, PreparedOp op, long index, ulong recordedAddress = 0)
    {
        if (_hasPending)
        {
            _pending.Op.NextThread = (ushort)thread;
            FlushPending();
        }
        else
        {
            _firstThread = thread;
        }

        op.Seq = unchecked((uint)_seq);
        // The op's recorded time never decreases in the global order; a thread exit (placed back at the thread's last
        // event, while its marker was written later) and a join take the time of the op before them.
        bool marker = op.Kind is PreparedKind.ThreadExit or PreparedKind.Join or PreparedKind.Start;
        long time = _opTime == long.MinValue ? _eventTime : marker ? _opTime : Math.Max(_opTime, _eventTime);
        if (_opTime == long.MinValue)
        {
            _firstOpTime = time;
        }

        _opTime = time;
        _pending = new PendingOp
        {
            Op = op, Thread = thread, SampleId = -1, EventIndex = index, Time = time - _firstOpTime, RecordedAddress = recordedAddress,
        };
        _hasPending = true;
        _seq++;
        _threadOps[thread]++;
    }

    private void FlushPending()
    {
        if (_writer is not null)
        {
            _writer.Write(_pending.Op, _pending.Thread, _pending.SampleId, _pending.EventIndex, _pending.Time, _pending.RecordedAddress);
            return;
        }

        if (_temp is null)
        {
            return;   // a planning pass
        }

        Span<byte> r = _record;
        MemoryMarshal.Write(r, in _pending.Op);
        MemoryMarshal.Write(r[32..], in _pending.Thread);
        MemoryMarshal.Write(r[36..], in _pending.SampleId);
        MemoryMarshal.Write(r[40..], in _pending.EventIndex);
        MemoryMarshal.Write(r[48..], in _pending.Time);
        MemoryMarshal.Write(r[56..], in _pending.RecordedAddress);
        _temp.Write(r);
    }

    private void AddSample(long seq, ulong liveBytes, long timestampNs, ReadOnlySpan<ulong> byClass)
    {
        _samples.Add(new LiveSample(seq, liveBytes, timestampNs));
        foreach (ulong bytes in byClass)
        {
            _samplesByClass.Add(bytes);
        }
    }

    /// <summary>Writes the prepared file and returns what was learned. Call once, after the last event.</summary>
    public PreparedTrace Finish()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _finished = true;
        EnsureThread(0);
        if (_hasPending)
        {
            _pending.Op.NextThread = PreparedFormat.NoThread;
            FlushPending();
        }

        int patchSampleId = -1;
        if (_peakSeq >= 0 && !_peakSampled)
        {
            patchSampleId = _samples.Count;
            AddSample(_peakSeq, _live.PeakLiveBytes, _peakNs, _peakByClass);
            _threadSamples[_peakThread]++;
        }

        var flags = new ThreadMarks[_threadOps.Count];
        for (int t = 0; t < flags.Length; t++)
        {
            flags[t] = (_startedByOp[t] ? ThreadMarks.StartedByOp : 0) | (_threadExited[t] ? ThreadMarks.EndsWithExit : 0);
        }

        if (_temp is not null)
        {
            WriteOutput(patchSampleId, flags);
        }

        _writer?.Complete();
        return new PreparedTrace
        {
            Path = _outputPath ?? "",
            Layout = _temp is null && _writer is null
                ? new PreparedLayout
                {
                    ThreadOps = [.. _threadOps], ThreadSamples = [.. _threadSamples], Flags = flags,
                    FirstThread = Math.Max(0, _firstThread), PatchSeq = patchSampleId >= 0 ? _peakSeq : -1, PatchSampleId = patchSampleId,
                }
                : null,
            ThreadCount = _threadOps.Count,
            PrecreatedThreads = _precreatedWorkers,
            ThreadsAtOnce = _mostAlive + 1,
            HasFork = _afterFork,
            OpCount = _seq,
            CallCount = _calls,
            CallsByKind = _callsByKind,
            SlotCount = _slotOps.Count,
            Samples = _samples,
            SamplesByClass = _samplesByClass,
            FinalTimestampNs = _eventTime,
            FinalLiveByClass = _live.LiveBytesByClass.ToArray(),
            PeakLiveBytes = _live.PeakLiveBytes,
            PeakLiveSeq = _peakSeq,
            FinalLiveBytes = _live.LiveBytes,
            EventCount = _events,
            Issues = _issues,
            IssueCount = _issueCount,
            IssueCountsByKind = _issuesByKind,
            PrefixEventCount = _prefixEvents,
            Sizes = _sizes.ToDistribution("requested bytes of each allocating call (realloc included)"),
            LifetimeCalls = _lifetimeCalls.ToDistribution("lifetime of each freed block, in calls of the trace (all threads) from its allocation to its free"),
            LifetimeNs = _lifetimeNs.ToDistribution("lifetime of each freed block, in ns of recorded time from its allocation to its free"),
        };
    }

    private unsafe void WriteOutput(int patchSampleId, ThreadMarks[] flags)
    {
        int threads = _threadOps.Count;
        PreparedTables tables = PreparedTables.For(threads, _seq, _samples.Count, _options.RecordedTimes, _options.RecordedAddresses);
        long threadsOffset = tables.ThreadsOffset;
        long opsOffset = tables.OpsOffset;
        long sampleIdsOffset = tables.SampleIdsOffset;
        long samplesOffset = tables.SamplesOffset;
        long eventIndexOffset = tables.EventIndexOffset;
        long timesOffset = tables.TimesOffset;
        long addressesOffset = tables.AddressesOffset;
        long total = tables.Total;

        var opStart = new long[threads];
        var sampleStart = new long[threads];
        for (int t = 1; t < threads; t++)
        {
            opStart[t] = opStart[t - 1] + _threadOps[t - 1];
            sampleStart[t] = sampleStart[t - 1] + _threadSamples[t - 1];
        }

        File.Delete(_outputPath!);
        using var mmf = MemoryMappedFile.CreateFromFile(_outputPath!, FileMode.CreateNew, null, total, MemoryMappedFileAccess.ReadWrite);
        using var view = mmf.CreateViewAccessor(0, total, MemoryMappedFileAccess.ReadWrite);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            byte* b = basePtr + view.PointerOffset;
            tables.WriteHeader((PreparedHeader*)b, _seq, _slotOps.Count, _samples.Count, _firstThread, _mostAlive + 1);
            var flagTable = (uint*)(b + tables.ThreadFlagsOffset);
            for (int t = 0; t < threads; t++)
            {
                flagTable[t] = (uint)flags[t];
            }

            var threadTable = (PreparedThread*)(b + threadsOffset);
            for (int t = 0; t < threads; t++)
            {
                threadTable[t] = new PreparedThread
                {
                    OpStart = (ulong)opStart[t], OpCount = (ulong)_threadOps[t],
                    SampleStart = (ulong)sampleStart[t], SampleCount = (ulong)_threadSamples[t],
                };
            }

            var samples = (ulong*)(b + samplesOffset);
            for (int i = 0; i < _samples.Count; i++)
            {
                samples[2 * i] = (ulong)_samples[i].Seq;
                samples[(2 * i) + 1] = _samples[i].LiveBytes;
            }

            var ops = (PreparedOp*)(b + opsOffset);
            var sampleIds = (uint*)(b + sampleIdsOffset);
            var eventIndex = (long*)(b + eventIndexOffset);
            var times = timesOffset != 0 ? (long*)(b + timesOffset) : null;
            var addresses = addressesOffset != 0 ? (ulong*)(b + addressesOffset) : null;
            var opCursor = (long[])opStart.Clone();
            var sampleCursor = (long[])sampleStart.Clone();
            _temp!.Flush();
            _temp.Position = 0;
            var buffer = new byte[TempRecordSize * 4096];
            long tempIndex = 0;
            long writtenSinceRelease = 0;
            int read;
            while ((read = _temp.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
            {
                for (int off = 0; off + TempRecordSize <= read; off += TempRecordSize, tempIndex++)
                {
                    var rec = buffer.AsSpan(off, TempRecordSize);
                    var op = MemoryMarshal.Read<PreparedOp>(rec);
                    int thread = MemoryMarshal.Read<int>(rec[32..]);
                    int sampleId = MemoryMarshal.Read<int>(rec[36..]);
                    if (tempIndex == _peakSeq && patchSampleId >= 0)
                    {
                        op.Flags |= OpMarks.Sample;
                        sampleId = patchSampleId;
                    }

                    long at = opCursor[thread]++;
                    ops[at] = op;
                    eventIndex[at] = MemoryMarshal.Read<long>(rec[40..]);
                    if (times != null)
                    {
                        times[at] = MemoryMarshal.Read<long>(rec[48..]);
                    }

                    if (addresses != null)
                    {
                        addresses[at] = MemoryMarshal.Read<ulong>(rec[56..]);
                    }

                    if ((op.Flags & OpMarks.Sample) != 0)
                    {
                        sampleIds[sampleCursor[thread]++] = (uint)sampleId;
                    }
                }

                // The pages written so far go to the page cache, out of this process's resident memory.
                writtenSinceRelease += read;
                if (writtenSinceRelease >= ResidentPages.Window)
                {
                    ResidentPages.Release(b, total);
                    writtenSinceRelease = 0;
                }
            }
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _temp?.Dispose();

    private struct PendingOp
    {
        public PreparedOp Op;
        public int Thread;
        public int SampleId;
        public long EventIndex;
        public long Time;
        public ulong RecordedAddress;
    }
}
