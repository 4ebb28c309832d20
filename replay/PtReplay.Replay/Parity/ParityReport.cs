namespace PtReplay.Replay.Parity;

/// <summary>The first place where the model returned something other than the recording.</summary>
/// <param name="EventIndex">0-based index of the event in the trace.</param>
/// <param name="Event">The recorded event, readable ("malloc(24) = 0x... [t0 @...]"), as the trace file has it (<see cref="TraceVerifier.NameFirstDivergence"/>).</param>
/// <param name="Reason">What differs.</param>
/// <param name="ModelState">Bins, top and neighbouring chunks of the model right after the event.</param>
public sealed record Divergence(long EventIndex, string Event, string Reason, string ModelState);

/// <summary>
/// Outcome of replaying one trace into the model with the sim engine's address check (<see cref="AddressCheck"/>).
/// Invariant: <see cref="Identical"/> ≤ <see cref="Allocations"/>; <see cref="First"/> is null when they are equal.
/// </summary>
public sealed class ParityReport
{
    /// <summary>Allocating events compared.</summary>
    public long Allocations { get; internal set; }

    /// <summary>Allocating events whose result matched.</summary>
    public long Identical { get; internal set; }

    /// <summary>Events replayed (including frees and markers).</summary>
    public long Events { get; internal set; }

    /// <summary>
    /// Frees/reallocs the preparation found bad: of pointers the recording never returned (allocated before recording
    /// started) or had already freed (double frees). Skipped, except a realloc that returned memory, replayed as an allocation.
    /// </summary>
    public long UnknownPointers { get; internal set; }

    /// <summary>Events the preparation skipped for another reason: on a thread after its exit, or beyond the thread limit.</summary>
    public long SkippedEvents { get; internal set; }

    /// <summary>The first divergence, or null.</summary>
    public Divergence? First { get; internal set; }

    /// <summary>Set when the model stopped like glibc would have aborted: event index and glibc's message.</summary>
    public (long EventIndex, string Message)? Abort { get; internal set; }

    /// <summary>True when every allocation matched and the replay ran to the end.</summary>
    public bool FullParity => Identical == Allocations && Abort is null;

    /// <summary>Two consecutive reports as one (counts added; the first divergence and abort of the earlier one win).</summary>
    public static ParityReport Sum(ParityReport earlier, ParityReport later)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(later);
        return new ParityReport
        {
            Allocations = earlier.Allocations + later.Allocations,
            Identical = earlier.Identical + later.Identical,
            Events = earlier.Events + later.Events,
            UnknownPointers = earlier.UnknownPointers + later.UnknownPointers,
            SkippedEvents = earlier.SkippedEvents + later.SkippedEvents,
            First = earlier.First ?? later.First,
            Abort = earlier.Abort ?? later.Abort,
        };
    }

    /// <summary>"parity: M/N allocations identical".</summary>
    public string Summary => $"parity: {Identical}/{Allocations} allocations identical";
}
