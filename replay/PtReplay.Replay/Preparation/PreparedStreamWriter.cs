using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Writes a prepared file while it is being replayed (header <see cref="PreparedHeader.StreamWindow"/> set): the
/// header, thread table, samples and thread flags first (from a planning pass, <see cref="PreparedLayout"/>), then each
/// op straight to its place in its thread's stretch of the tables, in the global order. The file is sparse: only
/// what is written takes disk, and the reader punches out what it has replayed (fallocate PUNCH_HOLE).
/// <para>
/// Invariants: an op's table entries are stored before its kind, and the kind with release semantics, so a reader
/// that sees a non-zero kind sees the whole op. The writer writes <see cref="Window"/> ops at a time, each batch only
/// once the reader has finished every op written before (<see cref="PreparedHeader.Consumed"/> equals the ops written;
/// it sleeps until then), and stores the batch's kinds only once the whole batch is written: the preparation and the
/// replay take turns, never run at once, so the replay's timed calls share the processors with no preparation. The
/// time from the reader's finishing a batch to the next batch's kinds being stored (the reader waits through it) adds
/// up in the u64 after the thread flags table (<see cref="PreparedTables.StallOffset"/>, for diagnosis: the engines
/// measure their own waits). The file's allocated blocks stay within a window plus what the reader
/// has not punched yet (PREPARED-FORMAT.md, "Streamed files"), and this process's resident share of the mapping within
/// <see cref="ResidentPages.Window"/>, whatever the trace's length.
/// </para>
/// </summary>
internal sealed unsafe class PreparedStreamWriter : IDisposable
{
    /// <summary>The smallest window: the sim engine's warm-up reads the first ops before it consumes any.</summary>
    public const long MinWindow = 1024;

    /// <summary>The largest window (the writer keeps a batch's positions and kinds: 9 bytes per op).</summary>
    public const long MaxWindow = 1L << 22;

    private const int KindOffset = 28;
    private const long ReleaseMask = (1L << 20) - 1;
    private const long MeasureMask = (1L << 16) - 1;

    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly PreparedTables _tables;
    private readonly PreparedHeader* _header;
    private readonly long[] _opCursor;
    private readonly long[] _sampleCursor;
    private readonly PreparedLayout _layout;
    private readonly SafeHandle _file;
    private readonly string _path;
    private long _written;
    private long _batchEnd;
    private long _batchStart;
    private long _stallTicks;
    private readonly long[] _batchAt;
    private readonly byte[] _batchKind;
    private readonly long[] _published;
    private int _batchCount;
    private volatile bool _cancelled;

    /// <summary>Creates <paramref name="path"/> for the ops that <paramref name="plan"/> counted.</summary>
    public PreparedStreamWriter(string path, PreparedTrace plan, PreparationOptions tables, long window)
    {
        _layout = plan.Layout ?? throw new ArgumentException("the trace has no layout (not a planning pass)", nameof(plan));
        Window = Math.Clamp(window, MinWindow, MaxWindow);
        _path = path;
        int threads = _layout.ThreadOps.Length;
        _tables = PreparedTables.For(threads, plan.OpCount, plan.Samples.Count, tables.RecordedTimes, tables.RecordedAddresses);
        File.Delete(path);
        var fs = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        fs.SetLength(_tables.Total);   // sparse: blocks are allocated as ops are written
        _mmf = MemoryMappedFile.CreateFromFile(fs, null, _tables.Total, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        _file = fs.SafeFileHandle;
        _view = _mmf.CreateViewAccessor(0, _tables.Total, MemoryMappedFileAccess.ReadWrite);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
        _header = (PreparedHeader*)_base;
        ResidentPages.AdviseRandom(_base, _tables.Total);
        _opCursor = new long[threads];
        _sampleCursor = new long[threads];
        _published = new long[threads];
        _batchAt = new long[Window];
        _batchKind = new byte[Window];
        var threadTable = (PreparedThread*)(_base + _tables.ThreadsOffset);
        var flags = (uint*)(_base + _tables.ThreadFlagsOffset);
        long ops = 0, samples = 0;
        for (int t = 0; t < threads; t++)
        {
            threadTable[t] = new PreparedThread
            {
                OpStart = (ulong)ops, OpCount = (ulong)_layout.ThreadOps[t],
                SampleStart = (ulong)samples, SampleCount = (ulong)_layout.ThreadSamples[t],
            };
            _opCursor[t] = ops;
            _published[t] = ops;
            _sampleCursor[t] = samples;
            ops += _layout.ThreadOps[t];
            samples += _layout.ThreadSamples[t];
            flags[t] = (uint)_layout.Flags[t];
        }

        var sampleTable = (ulong*)(_base + _tables.SamplesOffset);
        for (int i = 0; i < plan.Samples.Count; i++)
        {
            sampleTable[2 * i] = (ulong)plan.Samples[i].Seq;
            sampleTable[(2 * i) + 1] = plan.Samples[i].LiveBytes;
        }

        _tables.WriteHeader(_header, plan.OpCount, plan.SlotCount, plan.Samples.Count, _layout.FirstThread, plan.ThreadsAtOnce);
        _header->StreamWindow = (ulong)Window;
        _header->Consumed = 0;
        AllocatedHighWater = ScratchDisk.AllocatedBytes(_file);
    }

    /// <summary>Ops written at a time, once the reader has finished those before: the most ops written ahead of the reader.</summary>
    public long Window { get; }

    /// <summary>Ops written so far.</summary>
    public long Written => _written;

    /// <summary>The most disk blocks (bytes) the file held, measured every 65,536 ops written and at the end.</summary>
    public long AllocatedHighWater { get; private set; }

    /// <summary>The reader is gone: the next wait for it throws <see cref="OperationCanceledException"/>.</summary>
    public void Cancel() => _cancelled = true;

    /// <summary>Writes the next op of the global order (the op the planning pass counted at this position).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(PreparedOp op, int thread, int sampleId, long eventIndex, long time, ulong address)
    {
        if (_written == _batchEnd)
        {
            PublishBatch();
            WaitForReader();
            _batchStart = System.Diagnostics.Stopwatch.GetTimestamp();
            _batchEnd = _written + Window;
        }

        if (_written == _layout.PatchSeq)
        {
            op.Flags |= OpMarks.Sample;
            sampleId = _layout.PatchSampleId;
        }

        long at = _opCursor[thread]++;
        ((long*)(_base + _tables.EventIndexOffset))[at] = eventIndex;
        if (_tables.TimesOffset != 0)
        {
            ((long*)(_base + _tables.TimesOffset))[at] = time;
        }

        if (_tables.AddressesOffset != 0)
        {
            ((ulong*)(_base + _tables.AddressesOffset))[at] = address;
        }

        if ((op.Flags & OpMarks.Sample) != 0)
        {
            ((uint*)(_base + _tables.SampleIdsOffset))[_sampleCursor[thread]++] = (uint)sampleId;
        }

        var slot = (PreparedOp*)(_base + _tables.OpsOffset) + at;
        _batchAt[_batchCount] = at;
        _batchKind[_batchCount++] = (byte)op.Kind;
        op.Kind = PreparedKind.None;
        *slot = op;
        _written++;
        if ((_written & MeasureMask) == 0)
        {
            Measure();
            if ((_written & ReleaseMask) == 0)
            {
                // Written pages stay in the page cache (or are punched by the reader): out of this process's resident memory.
                ResidentPages.Release(_base, _tables.Total);
            }
        }
    }

    /// <summary>
    /// The writing failed: each thread's next op slot gets <see cref="PreparedFormat.AbortKind"/>, so a reader waiting
    /// for it stops with an error instead of waiting for ever.
    /// </summary>
    public void Abort()
    {
        for (int t = 0; t < _opCursor.Length; t++)
        {
            long end = StartOf(t) + _layout.ThreadOps[t];
            if (_published[t] < end)
            {
                var slot = (PreparedOp*)(_base + _tables.OpsOffset) + _published[t];
                Volatile.Write(ref *((byte*)slot + KindOffset), PreparedFormat.AbortKind);
            }
        }
    }

    private long StartOf(int thread) => (long)((PreparedThread*)(_base + _tables.ThreadsOffset))[thread].OpStart;

    /// <summary>
    /// After the last op: stores the last batch's kinds, takes the last measurement, and waits until the reader has
    /// replayed everything or is gone (<see cref="Cancel"/>), so that what the preparation does after its last op (its
    /// figures and distributions, managed allocations that could start a garbage collection) never runs beside the
    /// engine's last timed window.
    /// </summary>
    public void Complete()
    {
        PublishBatch();
        Measure();
        var spin = new SpinWait();
        while (!_cancelled && (long)Volatile.Read(ref _header->Consumed) < _written)
        {
            if (spin.NextSpinWillYield)
            {
                Thread.Sleep(1);
            }
            else
            {
                spin.SpinOnce();
            }
        }
    }

    /// <summary>Stores the kinds of the ops written since the last batch (release, in order), then the stall time so far.</summary>
    private void PublishBatch()
    {
        var ops = (PreparedOp*)(_base + _tables.OpsOffset);
        for (int i = 0; i < _batchCount; i++)
        {
            long at = _batchAt[i];
            Volatile.Write(ref *((byte*)(ops + at) + KindOffset), _batchKind[i]);
        }

        // Each thread's next op to publish (where a failed writer leaves its abort mark).
        for (int i = 0; i < _batchCount; i++)
        {
            long at = _batchAt[i];
            int t = ThreadAt(at);
            _published[t] = Math.Max(_published[t], at + 1);
        }

        _batchCount = 0;
        if (_batchStart != 0)
        {
            _stallTicks += System.Diagnostics.Stopwatch.GetTimestamp() - _batchStart;
            _batchStart = 0;
            Volatile.Write(ref *(long*)(_base + _tables.StallOffset), (long)(_stallTicks * (1e9 / System.Diagnostics.Stopwatch.Frequency)));
        }
    }

    /// <summary>The thread whose stretch holds op position <paramref name="at"/> (binary search in the thread table).</summary>
    private int ThreadAt(long at)
    {
        int lo = 0, hi = _opCursor.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (StartOf(mid) <= at)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private void Measure() => AllocatedHighWater = Math.Max(AllocatedHighWater, ScratchDisk.AllocatedBytes(_file));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitForReader()
    {
        var spin = new SpinWait();
        while (true)
        {
            if ((long)Volatile.Read(ref _header->Consumed) >= _written)
            {
                return;
            }

            if (_cancelled)
            {
                throw new OperationCanceledException($"the replay of {_path} stopped before its last op");
            }

            if (spin.NextSpinWillYield)
            {
                Thread.Sleep(1);
            }
            else
            {
                spin.SpinOnce();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}
