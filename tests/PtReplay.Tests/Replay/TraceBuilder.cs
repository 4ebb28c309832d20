using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>Builds small event streams for unit-level checks of the preparation (addresses are made up).</summary>
internal sealed class TraceBuilder
{
    private readonly List<AllocEvent> _events = [];
    private long _ts;

    public IReadOnlyList<AllocEvent> Events => _events;

    public TraceBuilder Malloc(int thread, ulong size, ulong result) =>
        Add(new AllocEvent { Kind = EventKind.Malloc, Thread = thread, Size = size, Count = 1, Result = result });

    public TraceBuilder Calloc(int thread, ulong count, ulong size, ulong result) =>
        Add(new AllocEvent { Kind = EventKind.Calloc, Thread = thread, Size = size, Count = count, Result = result });

    public TraceBuilder Realloc(int thread, ulong ptr, ulong size, ulong result) =>
        Add(new AllocEvent { Kind = EventKind.Realloc, Thread = thread, Ptr = ptr, Size = size, Count = 1, Result = result });

    public TraceBuilder Free(int thread, ulong ptr) =>
        Add(new AllocEvent { Kind = EventKind.Free, Thread = thread, Ptr = ptr });

    public TraceBuilder Exit(int thread) =>
        Add(new AllocEvent { Kind = EventKind.ThreadExit, Thread = thread, Size = (ulong)(1000 + thread) });

    private TraceBuilder Add(AllocEvent e)
    {
        e.Timestamp = ++_ts;
        _events.Add(e);
        return this;
    }
}
