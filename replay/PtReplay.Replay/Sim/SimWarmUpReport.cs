using PtReplay.Replay.Preparation;

namespace PtReplay.Replay.Sim;

/// <summary>
/// What a warm-up (<see cref="SimWarmUp"/>) did: its time, and the calls and model states it went through.
/// Invariant: <see cref="Calls"/> has one entry per <see cref="PreparedKind"/> value up to <see cref="PreparedKind.Fork"/>.
/// </summary>
/// <param name="ElapsedNs">Wall time of the whole warm-up (what summary.json reports as warmup_ns).</param>
/// <param name="Rounds">Rounds of the script run (one fresh scratch model each).</param>
/// <param name="OpsPerRound">Ops of the script.</param>
/// <param name="Calls">Ops of the script executed, by <see cref="PreparedKind"/> value (calls, thread exits and forks).</param>
/// <param name="Evidence">Model states the script reached.</param>
internal sealed record SimWarmUpReport(long ElapsedNs, int Rounds, int OpsPerRound, IReadOnlyList<long> Calls, WarmUpEvidence Evidence)
{
    /// <summary>Rounds a model abort ended early (0 when the script ran as written).</summary>
    public int AbortedRounds { get; init; }

    /// <summary>Ops of the trace rehearsed on a scratch model after the script.</summary>
    public int RehearsedOps { get; init; }

    /// <summary>Ops of <paramref name="kind"/> the script executed.</summary>
    public long CallsOf(PreparedKind kind) => Calls[(int)kind];
}
