namespace PtReplay.Replay.GcProof;

/// <summary>
/// A phase of an engine run that <see cref="ReplayPhaseEvents"/> marks. The values are the events' payload: a reader of
/// the events (<see cref="GcWindowReader"/>, or any EventPipe tool) tells the phases apart by these numbers.
/// </summary>
public enum ReplayPhase
{
    /// <summary>The sim engine's warm-up on scratch models (not timed per call; its time is warmup_ns).</summary>
    WarmUp = 1,

    /// <summary>A timed window: the sim engine's replay from the first timed call to the last (a forked child's replay starts a new one).</summary>
    TimedReplay = 2,
}
