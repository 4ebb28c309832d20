namespace PtReplay.Replay.Timing;

/// <summary>Which clock the sim engine should time model calls with (<see cref="ModelTimer.Select(TimerPreference)"/>).</summary>
public enum TimerPreference
{
    /// <summary>The TSC where it is usable (x86, kernel clocksource "tsc", library built), else Stopwatch.</summary>
    Auto,
    /// <summary>Always <see cref="System.Diagnostics.Stopwatch"/>.</summary>
    Stopwatch,
    /// <summary>The TSC whenever the library loads on x86, even if the kernel does not use it as its clocksource.</summary>
    Tsc,
}
