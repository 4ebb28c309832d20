namespace PtReplay.Replay.Timing;

/// <summary>The clock a <see cref="ModelTimer"/> reads.</summary>
public enum TimerKind
{
    /// <summary><see cref="StopwatchTicks"/>.</summary>
    Stopwatch,
    /// <summary><see cref="TscTicks"/>.</summary>
    Tsc,
}
