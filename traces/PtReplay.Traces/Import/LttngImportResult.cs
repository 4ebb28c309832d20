namespace PtReplay.Traces.Import;

/// <summary>One process of an imported LTTng trace and the PtReplay trace written for it.</summary>
/// <param name="Path">The trace file: the output path for the first process, OUT.&lt;vpid&gt; for the others.</param>
/// <param name="Pid">The vpid context of its events (0 when the trace has none).</param>
/// <param name="Events">Events written.</param>
/// <param name="Threads">Distinct vtids seen (1 when the trace has no vtid context).</param>
public sealed record LttngImportedProcess(string Path, int Pid, long Events, int Threads);

/// <summary>What `import-lttng` did: one trace per process, and what it could not keep.</summary>
/// <param name="Processes">The traces written, the first process (first event) first.</param>
/// <param name="OtherEvents">Events of other providers, skipped.</param>
/// <param name="DiscardedEvents">Events the tracer discarded (ring buffer full), from the packet contexts: they are missing from the trace.</param>
/// <param name="LostPackets">Packets lost in transit (network streaming): gaps in the packet sequence numbers.</param>
/// <param name="HasVtid">The events carried the vtid context (real threads); without it every event is one thread.</param>
/// <param name="HasVpid">The events carried the vpid context; without it every event is one process.</param>
public sealed record LttngImportResult(IReadOnlyList<LttngImportedProcess> Processes, long OtherEvents, long DiscardedEvents,
    long LostPackets, bool HasVtid, bool HasVpid)
{
    /// <summary>Events written over all processes.</summary>
    public long Events => Processes.Sum(p => p.Events);
}
