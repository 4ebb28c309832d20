using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PtReplay.Allocator.Parity;
using PtReplay.Traces;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Turns a trace's events (in the reader's global order) into a prepared file for the native
/// replayer and the model (PREPARED-FORMAT.md): addresses become object slots, each recorded
/// thread gets its own op stream, and every op carries what serial and concurrent replay need.
/// <para>
/// Invariants of the output: an op only names a slot that is live in the recording at that point
/// (bad events are skipped or stop the preparation, see <see cref="PreparationOptions.Strict"/>);
/// slots are reused through free lists, so the slot table is bounded by the live set (plus
/// leaked slots of <see cref="TraceIssueKind.AddressStillLive"/>); a slot freed by a thread is
/// reused first by that thread, so fresh allocations never wait.
/// </para>
/// Usage: <c>using var p = new TracePreparer(path, options); p.Add(events); var prepared = p.Finish();</c>
/// Memory use is bounded by the live set and the thread count; ops go through a temporary file.
/// </summary>
public sealed class TracePreparer : IDisposable
{
    private const int TempRecordSize = 48;
    private const int DoubleFreeMemory = 1 << 20;

    private readonly string _outputPath;
    private readonly string _tempPath;
    private readonly PreparationOptions _options;
    private readonly FileStream _temp;
    private readonly byte[] _record = new byte[TempRecordSize];

    private readonly Dictionary<ulong, LiveBlock> _live = [];
    private readonly HashSet<ulong> _recentlyFreed = [];
    private readonly List<uint> _slotOps = [0];
    private readonly List<int> _slotLastThread = [-1];
    private readonly List<Stack<uint>> _freeSlots = [];
    private readonly Stack<uint> _orphanSlots = new();
    private readonly List<long> _threadOps = [];
    private readonly List<long> _threadSamples = [];
    private readonly List<bool> _threadExited = [];
    private readonly List<int> _pendingJoins = [];
    private readonly List<LiveSample> _samples = [];
    private readonly List<TraceIssue> _issues = [];
    private readonly long[] _callsByKind = new long[32];

    private PendingOp _pending;
    private bool _hasPending;
    private long _seq;
    private long _events;
    private long _calls;
    private long _issueCount;
    private ulong _liveBytes;
    private ulong _peakLive;
    private long _peakSeq = -1;
    private int _peakThread;
    private bool _peakSampled;
    private ulong _lastPeakSampleLive;
    private int _firstThread = -1;
    private bool _finished;

    /// <summary>Starts a preparation that will write <paramref name="outputPath"/>.</summary>
    public TracePreparer(string outputPath, PreparationOptions? options = null)
    {
        _outputPath = outputPath;
        _options = options ?? new PreparationOptions();
        if (_options.SampleEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "SampleEvery must be at least 1.");
        }

        _tempPath = outputPath + ".ops.tmp";
        _temp = new FileStream(_tempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
    }

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
            case EventKind.Malloc or EventKind.Calloc or EventKind.Memalign or EventKind.PosixMemalign
                or EventKind.AlignedAlloc or EventKind.Valloc or EventKind.Pvalloc:
                AddAllocation(in e, index);
                break;
            case EventKind.Realloc or EventKind.ReallocArray:
                AddRealloc(in e, index);
                break;
            case EventKind.Free:
                AddFree(in e, index);
                break;
            case EventKind.ThreadExit:
                AddThreadExit(t, index);
                break;
            default:
                break; // thread start, fork, exec: nothing to replay
        }
    }

    private void AddAllocation(in AllocEvent e, long index)
    {
        var op = NewCallOp(in e);
        if (e.Result == 0)
        {
            op.Flags |= OpMarks.ExpectFail;
            EmitCall(e.Thread, op, index, e.Kind);
            return;
        }

        uint slot = AllocateSlot(e.Thread);
        BindAddress(in e, index, slot, e.RequestedBytes);
        StampSlot(ref op, slot, e.Thread);
        _liveBytes += e.RequestedBytes;
        EmitCall(e.Thread, op, index, e.Kind);
    }

    private void AddRealloc(in AllocEvent e, long index)
    {
        var op = NewCallOp(in e);
        if (e.Ptr == 0)
        {
            // realloc(NULL, n) allocates.
            AddAllocation(in e, index);
            return;
        }

        if (!_live.TryGetValue(e.Ptr, out LiveBlock old))
        {
            BadPointer(in e, index, e.Result != 0 ? "replayed as an allocation of the new size" : "skipped");
            if (e.Result != 0)
            {
                var asAlloc = e;
                asAlloc.Ptr = 0;
                AddAllocation(in asAlloc, index);
            }

            return;
        }

        if (e.Result == 0)
        {
            if (e.RequestedBytes == 0)
            {
                // realloc(p, 0): p was freed.
                op.Flags |= OpMarks.Release;
                StampSlot(ref op, old.Slot, e.Thread);
                Unbind(e.Ptr, old, e.Thread);
            }
            else
            {
                // Failed: p stays live and unchanged.
                StampSlot(ref op, old.Slot, e.Thread);
            }

            EmitCall(e.Thread, op, index, e.Kind);
            return;
        }

        _live.Remove(e.Ptr);
        _recentlyFreed.Add(e.Ptr);
        _liveBytes -= old.Size;
        BindAddress(in e, index, old.Slot, e.RequestedBytes);
        _liveBytes += e.RequestedBytes;
        StampSlot(ref op, old.Slot, e.Thread);
        EmitCall(e.Thread, op, index, e.Kind);
    }

    private void AddFree(in AllocEvent e, long index)
    {
        var op = new PreparedOp { Kind = PreparedKind.Free };
        if (e.Ptr == 0)
        {
            op.Flags = OpMarks.NullPtr;
            EmitCall(e.Thread, op, index, e.Kind);
            return;
        }

        if (!_live.TryGetValue(e.Ptr, out LiveBlock block))
        {
            BadPointer(in e, index, "skipped");
            return;
        }

        op.Size = block.Size;
        StampSlot(ref op, block.Slot, e.Thread);
        Unbind(e.Ptr, block, e.Thread);
        EmitCall(e.Thread, op, index, e.Kind);
    }

    private void AddThreadExit(int thread, long index)
    {
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

    private void BindAddress(in AllocEvent e, long index, uint slot, ulong size)
    {
        if (_live.TryGetValue(e.Result, out LiveBlock stale))
        {
            // The recording missed a free: the old block stays allocated (leaked) in the replay.
            Issue(new TraceIssue(index, TraceIssueKind.AddressStillLive, string.Create(CultureInfo.InvariantCulture,
                $"{e} returned 0x{e.Result:x}, which is still live in the trace (a free is missing); the old block is leaked")));
            _liveBytes -= stale.Size;
        }

        _live[e.Result] = new LiveBlock(slot, size);
        _recentlyFreed.Remove(e.Result);
    }

    private void Unbind(ulong address, LiveBlock block, int thread)
    {
        _live.Remove(address);
        if (_recentlyFreed.Count >= DoubleFreeMemory)
        {
            _recentlyFreed.Clear();
        }

        _recentlyFreed.Add(address);
        _liveBytes -= block.Size;
        _freeSlots[thread].Push(block.Slot);
    }

    private void BadPointer(in AllocEvent e, long index, string action)
    {
        bool doubleFree = _recentlyFreed.Contains(e.Ptr);
        string what = doubleFree ? "double free: the block was already freed" : "pointer was never returned by an allocation in the trace";
        Issue(new TraceIssue(index, doubleFree ? TraceIssueKind.DoubleFree : TraceIssueKind.UnknownPointer,
            string.Create(CultureInfo.InvariantCulture, $"{e}: {what} (0x{e.Ptr:x}); {action}")));
    }

    private void Issue(TraceIssue issue)
    {
        _issueCount++;
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

    private void EmitCall(int thread, PreparedOp op, long index, EventKind kind)
    {
        Emit(thread, op, index);
        _calls++;
        _callsByKind[(int)kind]++;
        long seq = _seq - 1;
        bool sample = _calls % _options.SampleEvery == 0;
        if (_liveBytes > _peakLive)
        {
            _peakLive = _liveBytes;
            _peakSeq = seq;
            _peakThread = thread;
            _peakSampled = false;
            if (_liveBytes >= _lastPeakSampleLive + Math.Max(1UL, (ulong)(_lastPeakSampleLive * _options.PeakStep)))
            {
                sample = true;
                _lastPeakSampleLive = _liveBytes;
            }
        }

        if (sample)
        {
            _pending.SampleId = _samples.Count;
            _pending.Op.Flags |= OpMarks.Sample;
            _samples.Add(new LiveSample(seq, _liveBytes));
            _threadSamples[thread]++;
            if (_peakSeq == seq)
            {
                _peakSampled = true;
            }
        }
    }

    private void Emit(int thread, PreparedOp op, long index)
    {
        if (_pendingJoins.Count > 0)
        {
            foreach (int exited in _pendingJoins)
            {
                EmitRaw(thread, new PreparedOp { Kind = PreparedKind.Join, Arg = (ulong)exited }, index);
            }

            _pendingJoins.Clear();
        }

        EmitRaw(thread, op, index);
    }

    private void EmitRaw(int thread, PreparedOp op, long index)
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
        _pending = new PendingOp { Op = op, Thread = thread, SampleId = -1, EventIndex = index };
        _hasPending = true;
        _seq++;
        _threadOps[thread]++;
    }

    private void FlushPending()
    {
        Span<byte> r = _record;
        MemoryMarshal.Write(r, in _pending.Op);
        MemoryMarshal.Write(r[32..], in _pending.Thread);
        MemoryMarshal.Write(r[36..], in _pending.SampleId);
        MemoryMarshal.Write(r[40..], in _pending.EventIndex);
        _temp.Write(r);
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
            _samples.Add(new LiveSample(_peakSeq, _peakLive));
            _threadSamples[_peakThread]++;
        }

        WriteOutput(patchSampleId);
        return new PreparedTrace
        {
            Path = _outputPath,
            ThreadCount = _threadOps.Count,
            OpCount = _seq,
            CallCount = _calls,
            CallsByKind = _callsByKind,
            SlotCount = _slotOps.Count,
            Samples = _samples,
            PeakLiveBytes = _peakLive,
            PeakLiveSeq = _peakSeq,
            FinalLiveBytes = _liveBytes,
            EventCount = _events,
            Issues = _issues,
            IssueCount = _issueCount,
        };
    }

    private unsafe void WriteOutput(int patchSampleId)
    {
        int threads = _threadOps.Count;
        long threadsOffset = PreparedFormat.HeaderSize;
        long opsOffset = threadsOffset + (32L * threads);
        long sampleIdsOffset = opsOffset + (32L * _seq);
        long samplesOffset = Align8(sampleIdsOffset + (4L * _samples.Count));
        long eventIndexOffset = samplesOffset + (16L * _samples.Count);
        long total = eventIndexOffset + (8L * _seq);

        var opStart = new long[threads];
        var sampleStart = new long[threads];
        for (int t = 1; t < threads; t++)
        {
            opStart[t] = opStart[t - 1] + _threadOps[t - 1];
            sampleStart[t] = sampleStart[t - 1] + _threadSamples[t - 1];
        }

        File.Delete(_outputPath);
        using var mmf = MemoryMappedFile.CreateFromFile(_outputPath, FileMode.CreateNew, null, total, MemoryMappedFileAccess.ReadWrite);
        using var view = mmf.CreateViewAccessor(0, total, MemoryMappedFileAccess.ReadWrite);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            byte* b = basePtr + view.PointerOffset;
            var header = (PreparedHeader*)b;
            PreparedFormat.Magic.CopyTo(new Span<byte>(header->Magic, 8));
            header->Version = PreparedFormat.Version;
            header->ThreadCount = (uint)threads;
            header->OpCount = (ulong)_seq;
            header->SlotCount = (ulong)_slotOps.Count;
            header->SampleCount = (ulong)_samples.Count;
            header->FirstThread = (uint)Math.Max(0, _firstThread);
            header->ThreadsOffset = (ulong)threadsOffset;
            header->OpsOffset = (ulong)opsOffset;
            header->SampleIdsOffset = (ulong)sampleIdsOffset;
            header->SamplesOffset = (ulong)samplesOffset;
            header->EventIndexOffset = (ulong)eventIndexOffset;

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
            var opCursor = (long[])opStart.Clone();
            var sampleCursor = (long[])sampleStart.Clone();
            _temp.Flush();
            _temp.Position = 0;
            var buffer = new byte[TempRecordSize * 4096];
            long tempIndex = 0;
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
                    if ((op.Flags & OpMarks.Sample) != 0)
                    {
                        sampleIds[sampleCursor[thread]++] = (uint)sampleId;
                    }
                }
            }
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    private static long Align8(long v) => (v + 7) & ~7L;

    /// <inheritdoc />
    public void Dispose() => _temp.Dispose();

    private readonly record struct LiveBlock(uint Slot, ulong Size);

    private struct PendingOp
    {
        public PreparedOp Op;
        public int Thread;
        public int SampleId;
        public long EventIndex;
    }
}
