namespace PtReplay.Replay.GcProof;

/// <summary>
/// One marked window of a phase, as read back from the session's events. Invariant: <see cref="BeginMs"/> ≤
/// <see cref="EndMs"/>; <see cref="Collections"/> counts each collection at most once.
/// </summary>
/// <param name="Phase">The phase (a <see cref="ReplayPhase"/> value; kept as the number the event carried).</param>
/// <param name="Window">The window's number within its phase.</param>
/// <param name="BeginMs">The begin marker's time, in ms from the session's start.</param>
/// <param name="EndMs">The end marker's time, in ms from the session's start.</param>
/// <param name="Collections">Collections that ran at some moment inside the window (began before its end and ended after its begin).</param>
public sealed record PhaseWindow(int Phase, int Window, double BeginMs, double EndMs, int Collections);
