using PtReplay.Allocator;
using PtReplay.Replay.Preparation;

namespace PtReplay.Replay.Parity;

/// <summary>
/// The sim engine's address check (<see cref="ReplayOptions.CheckAddresses"/>): compares every address the model
/// returns with the one glibc returned in the recording (the prepared file's recorded-address table).
/// Main-heap chunks are compared by offset from brk0 (the model starts at the recorded brk0, so the addresses themselves
/// must be equal); chunks of non-main arenas by (arena creation order, heap index, offset in the heap), binding each
/// recorded 64 MiB heap to the model heap at its first use; mmapped chunks by their offset inside the page (the kernel
/// chooses the mapping, glibc the layout inside it).
/// <para>
/// Invariants: every call op but free counts once in <see cref="ParityReport.Allocations"/> of the part it belongs to;
/// a <see cref="PreparedKind.Fork"/> op closes the part before it (a forked child's inherited heap) and starts the
/// child's; the first divergence and the abort of each part are kept, with the recorded event index.
/// </para>
/// </summary>
public sealed class AddressCheck
{
    private const ulong HeapMaxSize = 64UL * 1024 * 1024;

    private readonly Ptmalloc _model;
    private readonly ulong _brk0;
    private readonly string _limits;
    private readonly Dictionary<ulong, (int Arena, int Heap)> _recordedHeaps = [];
    private ParityReport _report = new();
    private ParityReport? _inherited;

    /// <summary>
    /// Checks the results of <paramref name="model"/>, set up at the recorded <paramref name="brk0"/>;
    /// <paramref name="limits"/> (e.g. "ulimit -v 400000 KiB") names the memory limits the recorded process ran under,
    /// for the divergence of a call that failed in the recording; null or empty when none was recorded.
    /// </summary>
    public AddressCheck(Ptmalloc model, ulong brk0, string? limits = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _brk0 = brk0;
        _limits = limits ?? "";
    }

    /// <summary>
    /// Compares the model's result <paramref name="mine"/> of a call op (not a free) with the recorded
    /// <paramref name="recorded"/>; <paramref name="eventIndex"/> is the op's recorded event index and
    /// <paramref name="op"/> names the call in a divergence until the caller replaces it with the recorded event.
    /// </summary>
    public void Compare(long eventIndex, in PreparedOp op, int thread, ulong recorded, ulong mine)
    {
        _report.Allocations++;
        string? why = Reason(recorded, mine);
        if (why is null)
        {
            _report.Identical++;
            return;
        }

        _report.First ??= new Divergence(eventIndex, Describe(in op, thread, recorded), why, _model.DescribeAround(mine));
    }

    /// <summary>A <see cref="PreparedKind.Fork"/> op: the report so far is the inherited heap's; the child's starts empty.</summary>
    public void ForkChild()
    {
        _inherited = _inherited is null ? _report : ParityReport.Sum(_inherited, _report);
        _report = new ParityReport();
    }

    /// <summary>The model stopped where glibc would have aborted, at recorded event <paramref name="eventIndex"/>.</summary>
    public void Aborted(long eventIndex, string glibcMessage) => _report.Abort ??= (eventIndex, glibcMessage);

    /// <summary>
    /// The outcome: the trace's own part (with <paramref name="events"/> events replayed,
    /// <paramref name="unknownPointers"/> frees/reallocs of pointers the trace never returned or had freed, and
    /// <paramref name="skippedEvents"/> other events the preparation skipped) and, for a forked child, the inherited
    /// part (<paramref name="prefixEvents"/> events).
    /// </summary>
    public AddressParity Finish(long events, long unknownPointers, long skippedEvents, long prefixEvents)
    {
        if (prefixEvents > 0 && _inherited is null)
        {
            // The model stopped before the fork: what was checked is the inherited heap's; the child's events never ran.
            _report.Events = prefixEvents;
            return new AddressParity(new ParityReport(), _report);
        }

        _report.Events = _report.Abort is { } a && a.EventIndex < events ? a.EventIndex + 1 : events;
        _report.UnknownPointers = unknownPointers;
        _report.SkippedEvents = skippedEvents;
        if (_inherited is not null)
        {
            _inherited.Events = prefixEvents;
        }

        return new AddressParity(_report, _inherited);
    }

    private static string Describe(in PreparedOp op, int thread, ulong recorded)
    {
        string call = op.Kind switch
        {
            PreparedKind.Calloc => $"calloc({op.Arg}, {op.Size})",
            PreparedKind.Realloc => $"realloc(slot {op.Slot}, {op.Size})",
            PreparedKind.ReallocArray => $"reallocarray(slot {op.Slot}, {op.Arg}, {op.Size})",
            PreparedKind.Memalign => $"memalign({op.Arg}, {op.Size})",
            PreparedKind.PosixMemalign => $"posix_memalign({op.Arg}, {op.Size})",
            PreparedKind.AlignedAlloc => $"aligned_alloc({op.Arg}, {op.Size})",
            _ => $"{op.Kind.ToString().ToLowerInvariant()}({op.Size})",
        };
        return $"{call} = 0x{recorded:x} [t{thread}]";
    }

    private string? Reason(ulong recorded, ulong mine)
    {
        if (recorded == 0 || mine == 0)
        {
            if (recorded == mine)
            {
                return null;
            }

            return recorded != 0 ? $"recorded 0x{recorded:x}, model 0x{mine:x}"
                : _limits.Length > 0
                    ? $"recorded 0x0, model 0x{mine:x}: the call failed in the recording, which ran under {_limits}; the model has no such limit (replays serve such a call and free the block at once)"
                    : $"recorded 0x0, model 0x{mine:x}: the call failed in the recording but the model had room (a limit the recording does not name: a cgroup's memory limit, strict overcommit, memory exhausted); replays serve such a call and free the block at once";
        }

        var info = _model.Classify(mine);
        ulong brk0 = _brk0;
        ulong pageMask = _model.Options.PageSize - 1;
        switch (info.Region)
        {
            case AddressRegion.MainHeap:
                return recorded == mine ? null
                    : $"recorded brk0+0x{recorded - brk0:x} (0x{recorded:x}), model brk0+0x{info.Offset:x}";
            case AddressRegion.ArenaHeap:
            {
                ulong offset = recorded & (HeapMaxSize - 1);
                if (offset != info.Offset)
                {
                    return $"recorded heap offset 0x{offset:x}, model arena {info.ArenaIndex} heap {info.HeapIndex} offset 0x{info.Offset:x}";
                }

                ulong recordedHeap = recorded & ~(HeapMaxSize - 1);
                if (_recordedHeaps.TryGetValue(recordedHeap, out var bound) && bound != (info.ArenaIndex, info.HeapIndex))
                {
                    // heaps can be unmapped and the address reused: rebind when that heap is a new one
                    _recordedHeaps[recordedHeap] = (info.ArenaIndex, info.HeapIndex);
                    return bound.Arena != info.ArenaIndex
                        ? $"recorded heap 0x{recordedHeap:x} belonged to arena {bound.Arena}, model uses arena {info.ArenaIndex}"
                        : null;
                }

                _recordedHeaps[recordedHeap] = (info.ArenaIndex, info.HeapIndex);
                return null;
            }

            case AddressRegion.Mmapped:
                if (recorded >= brk0 && recorded - brk0 < (1UL << 36) && brk0 != 0)
                {
                    return $"recorded heap chunk brk0+0x{recorded - brk0:x}, model mmapped chunk of {info.ChunkSize} bytes";
                }

                return (recorded & pageMask) == (mine & pageMask)
                    ? null
                    : $"mmapped chunk: recorded page offset 0x{recorded & pageMask:x}, model 0x{mine & pageMask:x}";
            default:
                return $"model pointer 0x{mine:x} is in no known region";
        }
    }
}
