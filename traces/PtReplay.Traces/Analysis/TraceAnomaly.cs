namespace PtReplay.Traces.Analysis;

/// <summary>Something in a trace that a correct, complete recording of a correct program does not contain.</summary>
public enum TraceAnomalyKind
{
    /// <summary>free(p) of a non-NULL p that was never returned by an allocating call in the trace (or was allocated before recording started).</summary>
    FreeOfUnknownPointer,
    /// <summary>free(p) of a p that was already freed and not returned again since.</summary>
    DoubleFree,
    /// <summary>realloc/reallocarray of a non-NULL pointer that is not live.</summary>
    ReallocOfUnknownPointer,
    /// <summary>An allocating call returned an address that is still live (a free is missing from the trace).</summary>
    AllocationOfLiveAddress,
    /// <summary>A call the trace says succeeded asked for more bytes than any process can hold (or calloc's count × size overflowed): counted as failed.</summary>
    ImpossibleSize,
}

/// <summary>One anomaly, with where it happened.</summary>
/// <param name="Kind">What is wrong.</param>
/// <param name="EventIndex">Index of the event in delivery order.</param>
/// <param name="Event">The event itself.</param>
public readonly record struct TraceAnomaly(TraceAnomalyKind Kind, long EventIndex, AllocEvent Event)
{
    /// <summary>The name used in `info --json`: free_of_unknown_pointer, double_free, realloc_of_unknown_pointer, allocation_of_live_address, impossible_size.</summary>
    public static string JsonName(TraceAnomalyKind kind) => kind switch
    {
        TraceAnomalyKind.FreeOfUnknownPointer => "free_of_unknown_pointer",
        TraceAnomalyKind.DoubleFree => "double_free",
        TraceAnomalyKind.ReallocOfUnknownPointer => "realloc_of_unknown_pointer",
        TraceAnomalyKind.AllocationOfLiveAddress => "allocation_of_live_address",
        TraceAnomalyKind.ImpossibleSize => "impossible_size",
        _ => kind.ToString(),
    };
}
