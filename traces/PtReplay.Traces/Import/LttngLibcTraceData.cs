using Microsoft.Diagnostics.Tracing;

namespace PtReplay.Traces.Import;

/// <summary>
/// TraceEvent's view of one event a <see cref="LttngLibcTraceEventParser"/> maps: the event id tells which
/// libc call it is (<see cref="LttngLibcEventKind"/>; <see cref="LttngLibcEventKind.Other"/> for any other
/// event of the trace), the payload is read by <see cref="LttngLibcLayout"/> from the raw bytes
/// (<see cref="TraceEvent.DataStart"/>, <see cref="TraceEvent.EventDataLength"/>). The reader reuses one
/// instance per id: its data is valid only inside the callback.
/// </summary>
public sealed class LttngLibcTraceData : TraceEvent
{
    private Action<LttngLibcTraceData>? _action;

    internal LttngLibcTraceData(Action<LttngLibcTraceData>? action, LttngLibcEventKind kind)
        : base((int)kind + LttngLibcTraceEventParser.FirstEventId, 0, kind.ToString(), Guid.Empty, 0, "",
            LttngLibcTraceEventParser.ProviderGuid, LttngLibcTraceEventParser.ProviderName)
    {
        _action = action;
        Kind = kind;
    }

    /// <summary>Which libc call (Other: an event of another provider).</summary>
    public LttngLibcEventKind Kind { get; }

    /// <summary>No named payload fields: the importer reads the raw bytes at the offsets the metadata gives.</summary>
    public override string[] PayloadNames => [];

    /// <summary>No named payload fields (see <see cref="PayloadNames"/>).</summary>
    public override object PayloadValue(int index) => throw new ArgumentOutOfRangeException(nameof(index), index, "no named payload fields");

    /// <summary>The callback of this template.</summary>
    protected override Delegate? Target
    {
        get => _action;
        set => _action = (Action<LttngLibcTraceData>?)value;
    }

    /// <summary>Calls the callback.</summary>
    protected override void Dispatch() => _action?.Invoke(this);
}
