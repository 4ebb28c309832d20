using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Traces;

namespace PtReplay.Replay.Parity;

/// <summary>
/// Replays a recorded trace into the model and compares every returned address with the recorded one
/// main-heap chunks by offset from brk0 (the model starts at the recorded brk0, so the
/// addresses themselves must be equal); chunks of non-main arenas by (arena creation order, heap index,
/// offset in the heap), binding each recorded 64 MiB heap to the model heap at its first use; mmapped
/// chunks by their offset inside the page (the kernel chooses the mapping, glibc the layout inside it).
/// Recorded pointers given to free/realloc are translated to the model's pointers for the same block.
/// </summary>
public sealed class TraceVerifier
{
    private const ulong HeapMaxSize = 64UL * 1024 * 1024;

    private readonly TraceHeader _header;
    private readonly Ptmalloc _model;
    private readonly Dictionary<ulong, ulong> _recordedToModel = [];
    private readonly Dictionary<ulong, (int Arena, int Heap)> _recordedHeaps = [];
    private ParityReport _report = new();
    private long _index;

    /// <summary>Prepares a model for the recorded process: brk0, page size, CPUs and malloc environment from the header.</summary>
    public TraceVerifier(TraceHeader header, MallocTunables? tunablesOverride = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        _header = header;
        _model = new Ptmalloc(ModelSetup.Options(header, tunablesOverride ?? ModelSetup.Tunables(null, header), TouchMode.None));
    }

    /// <summary>The model being driven.</summary>
    public Ptmalloc Model => _model;

    /// <summary>The report so far.</summary>
    public ParityReport Report => _report;

    /// <summary>
    /// Replays all events in the reader's order, except that each thread's exit is replayed right after
    /// that thread's last event (<see cref="ThreadExitPlacement"/>); stops early only when the model aborts
    /// like glibc would. Event indices in the report are indices in <paramref name="events"/>.
    /// </summary>
    public ParityReport Run(IEnumerable<AllocEvent> events, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var (e, index) in ThreadExitPlacement.Reorder(events))
        {
            if (!Step(in e, index))
                break;
            if (progress is not null && (_report.Events & 0xFFFFF) == 0)
                progress.Report(_report.Events);
        }
        return _report;
    }

    /// <summary>
    /// Forks the model (<see cref="Ptmalloc.ForkChild"/>) after the parent's events up to the fork were replayed:
    /// <paramref name="forkingThread"/> becomes the child's thread 0, the blocks the parent held stay known, and a
    /// new report starts for the child's events (indices from 0 again). Returns the report of the events so far.
    /// </summary>
    public ParityReport ForkChild(int forkingThread)
    {
        ParityReport before = _report;
        _model.ForkChild(forkingThread);
        _report = new ParityReport();
        _index = 0;
        return before;
    }

    /// <summary>Replays one event (the next in order); false once the model has aborted.</summary>
    public bool Step(in AllocEvent e) => Step(in e, _index);

    private bool Step(in AllocEvent e, long index)
    {
        if (_report.Abort is not null)
            return false;
        _index = index + 1;
        _report.Events++;
        try
        {
            Apply(in e, index);
        }
        catch (MallocAbortException ex)
        {
            _report.Abort = (index, ex.GlibcMessage);
            return false;
        }
        return true;
    }

    private ulong Translate(ulong recorded)
    {
        if (recorded == 0)
            return 0;
        if (_recordedToModel.Remove(recorded, out var mine))
            return mine;
        _report.UnknownPointers++;
        return ulong.MaxValue;
    }

    private void Apply(in AllocEvent e, long index)
    {
        int t = e.Thread;
        ulong result;
        switch (e.Kind)
        {
            case EventKind.Malloc: result = _model.Malloc(t, e.Size); break;
            case EventKind.Calloc: result = _model.Calloc(t, e.Count, e.Size); break;
            case EventKind.Memalign: result = _model.Memalign(t, e.Alignment, e.Size); break;
            case EventKind.AlignedAlloc: result = _model.AlignedAlloc(t, e.Alignment, e.Size); break;
            case EventKind.PosixMemalign: _model.PosixMemalign(t, e.Alignment, e.Size, out result); break;
            case EventKind.Valloc: result = _model.Valloc(t, e.Size); break;
            case EventKind.Pvalloc: result = _model.Pvalloc(t, e.Size); break;
            case EventKind.Free:
            {
                ulong p = Translate(e.Ptr);
                if (p != ulong.MaxValue)
                    _model.Free(t, p);
                return;
            }
            case EventKind.Realloc:
            case EventKind.ReallocArray:
            {
                ulong p = Translate(e.Ptr);
                if (p == ulong.MaxValue)
                    return;
                result = e.Kind == EventKind.Realloc ? _model.Realloc(t, p, e.Size) : _model.ReallocArray(t, p, e.Count, e.Size);
                bool freed = e.Kind == EventKind.Realloc && e.Size == 0 && p != 0;
                if (result == 0 && !freed && p != 0 && e.Ptr != 0)
                    _recordedToModel[e.Ptr] = p; // failed realloc keeps the old block
                break;
            }
            case EventKind.ThreadExit:
                _model.ThreadExit(t);
                return;
            default:
                return;
        }
        if (e.Result != 0 && result != 0)
            _recordedToModel[e.Result] = result;
        _report.Allocations++;
        string? why = Compare(e.Result, result);
        if (why is null)
        {
            _report.Identical++;
            return;
        }
        _report.First ??= new Divergence(index, e.ToString(), why, _model.DescribeAround(result));
    }

    private string? Compare(ulong recorded, ulong mine)
    {
        if (recorded == 0 || mine == 0)
            return recorded == mine ? null : $"recorded 0x{recorded:x}, model 0x{mine:x}";
        var info = _model.Classify(mine);
        ulong brk0 = _header.Brk0;
        switch (info.Region)
        {
            case AddressRegion.MainHeap:
                return recorded == mine ? null
                    : $"recorded brk0+0x{recorded - brk0:x} (0x{recorded:x}), model brk0+0x{info.Offset:x}";
            case AddressRegion.ArenaHeap:
            {
                ulong offset = recorded & (HeapMaxSize - 1);
                if (offset != info.Offset)
                    return $"recorded heap offset 0x{offset:x}, model arena {info.ArenaIndex} heap {info.HeapIndex} offset 0x{info.Offset:x}";
                ulong recordedHeap = recorded & ~(HeapMaxSize - 1);
                if (_recordedHeaps.TryGetValue(recordedHeap, out var bound))
                {
                    if (bound != (info.ArenaIndex, info.HeapIndex))
                    {
                        // heaps can be unmapped and the address reused: rebind when that heap is a new one
                        _recordedHeaps[recordedHeap] = (info.ArenaIndex, info.HeapIndex);
                        return bound.Arena != info.ArenaIndex
                            ? $"recorded heap 0x{recordedHeap:x} belonged to arena {bound.Arena}, model uses arena {info.ArenaIndex}"
                            : null;
                    }
                    return null;
                }
                _recordedHeaps[recordedHeap] = (info.ArenaIndex, info.HeapIndex);
                return null;
            }
            case AddressRegion.Mmapped:
                if (recorded >= brk0 && recorded - brk0 < (1UL << 36) && brk0 != 0)
                    return $"recorded heap chunk brk0+0x{recorded - brk0:x}, model mmapped chunk of {info.ChunkSize} bytes";
                return (recorded & (_model.Options.PageSize - 1)) == (mine & (_model.Options.PageSize - 1))
                    ? null
                    : $"mmapped chunk: recorded page offset 0x{recorded & (_model.Options.PageSize - 1):x}, model 0x{mine & (_model.Options.PageSize - 1):x}";
            default:
                return $"model pointer 0x{mine:x} is in no known region";
        }
    }
}
