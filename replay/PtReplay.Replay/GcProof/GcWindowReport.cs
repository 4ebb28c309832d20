namespace PtReplay.Replay.GcProof;

/// <summary>
/// What an EventPipe session with the runtime's GC events and the phase markers proves. The proof holds only when
/// <see cref="EventsLost"/> is 0 and <see cref="UnclosedWindows"/> is 0: then every collection of the session is
/// in <see cref="CollectionsInSession"/> and each window's count is complete.
/// </summary>
public sealed record GcWindowReport
{
    /// <summary>Every closed window, in the order its end marker was read.</summary>
    public required IReadOnlyList<PhaseWindow> Windows { get; init; }

    /// <summary>Collections that began while the session ran (GCStart events).</summary>
    public required int CollectionsInSession { get; init; }

    /// <summary>Events the runtime dropped (its buffers were full): counts may be short when not 0.</summary>
    public required long EventsLost { get; init; }

    /// <summary>Begin markers without their end marker (a phase that ended by an exception, or lost events).</summary>
    public required int UnclosedWindows { get; init; }

    /// <summary>
    /// Managed bytes the thread that copied the event stream to its file allocated while the session ran (the in-process
    /// session's own cost on the managed heap), or null when the events were not copied in this process.
    /// </summary>
    public long? CopierAllocatedBytes { get; init; }

    /// <summary>The windows of one phase.</summary>
    public IEnumerable<PhaseWindow> Of(ReplayPhase phase) => Windows.Where(w => w.Phase == (int)phase);

    /// <summary>Collections inside the windows of one phase, summed.</summary>
    public int CollectionsIn(ReplayPhase phase) => Of(phase).Sum(w => w.Collections);
}
