using PtReplay.Traces.Analysis;

namespace PtReplay.Traces.Format;

/// <summary>
/// Keeps the live set of the events a cut recording delivers (<see cref="TraceReader.PrefixEndTimestamp"/>) and says
/// whether the next one still fits: after the prefix end, an event that frees or reallocs a pointer the delivered
/// events never allocated (or already freed), or that returns an address they still hold, refers to an event in a
/// missing tail, and reading stops there.
/// Invariant: every accepted event has been applied to the live set, in delivery order.
/// Memory: the live set (about 16 bytes a live block); only cut multi-thread recordings have one.
/// </summary>
internal sealed class PrefixGuard
{
    private readonly LiveSet _live = new();

    /// <summary>Applies <paramref name="e"/> and returns true when it may be delivered; false leaves the live set as it was.</summary>
    public bool Accept(in AllocEvent e, long prefixEnd)
    {
        if (e.Timestamp > prefixEnd && Conflicts(e))
        {
            return false;
        }

        _live.Apply(e);
        return true;
    }

    private bool Conflicts(in AllocEvent e)
    {
        if (!e.Kind.IsCall())
        {
            return false;
        }

        if (e.Kind.TakesPointer() && e.Ptr != 0 && !_live.TryGetLive(e.Ptr, out _))
        {
            return true;
        }

        return e.Kind.Allocates() && e.Result != 0 && e.Result != e.Ptr && _live.TryGetLive(e.Result, out _);
    }
}
