using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace PtReplay.Replay.Timing;

/// <summary>
/// The clock the sim engine times each model call with, and its ticks-per-ns factor.
/// <code>
///  Select(Auto):  x86/x64? ── no ──────────────────────────────┐
///                   │ yes                                        │
///                 clocksource0 == "tsc"? ── no ─────────────────┤
///                   │ yes                                        ├─> Stopwatch (ticks/ns = Frequency / 1e9)
///                 libptreplay-clock.so loads? ── no ────────────┤    FallbackReason says why
///                   │ yes                                        │
///                 calibration sane? ── no ──────────────────────┘
///                   │ yes
///                   └─> Tsc (ticks/ns = rdtsc ticks over Stopwatch ns across a 20 ms sleep, once per process)
/// </code>
/// The kernel only keeps "tsc" as its clocksource when it found the counter invariant and synchronised
/// across CPUs, which is what makes a calibrated TSC a valid clock. The model's calls are timed in
/// the clock's ticks; the latency histogram converts to ns with <see cref="TicksPerNs"/>.
/// <para>The environment variable <c>PTREPLAY_SIM_TIMER</c> (auto, stopwatch, tsc) overrides the default.</para>
/// </summary>
public sealed class ModelTimer
{
    /// <summary>Environment variable that picks the default timer's <see cref="TimerPreference"/>.</summary>
    public const string EnvironmentVariable = "PTREPLAY_SIM_TIMER";

    /// <summary>Where Linux names its current clocksource.</summary>
    public const string ClocksourcePath = "/sys/devices/system/clocksource/clocksource0/current_clocksource";

    private static readonly TimeSpan CalibrationSpan = TimeSpan.FromMilliseconds(20);
    private static readonly Lazy<double> TscPerNs = new(() => Calibrate(CalibrationSpan));
    private static readonly Lazy<ModelTimer> DefaultTimer = new(() => Select(PreferenceFromEnvironment()));

    private ModelTimer(TimerKind kind, double ticksPerNs, string description, string? fallbackReason)
    {
        Kind = kind;
        TicksPerNs = ticksPerNs;
        Description = description;
        FallbackReason = fallbackReason;
    }

    /// <summary>The clock read.</summary>
    public TimerKind Kind { get; }

    /// <summary>Short name for summaries: "tsc" or "stopwatch".</summary>
    public string Name => Kind == TimerKind.Tsc ? "tsc" : "stopwatch";

    /// <summary>Clock ticks per nanosecond.</summary>
    public double TicksPerNs { get; }

    /// <summary>One line naming the clock, how it is read and calibrated (and why the TSC was not used).</summary>
    public string Description { get; }

    /// <summary>Why the TSC was not used, or null.</summary>
    public string? FallbackReason { get; }

    /// <summary>The process's timer: <see cref="Select(TimerPreference)"/> of <c>PTREPLAY_SIM_TIMER</c> (default auto), chosen once.</summary>
    public static ModelTimer Default => DefaultTimer.Value;

    /// <summary>Picks and calibrates a timer on this machine.</summary>
    public static ModelTimer Select(TimerPreference preference) =>
        Select(preference, ClocksourcePath, RuntimeInformation.ProcessArchitecture);

    /// <summary>Picks a timer given the clocksource file and architecture to judge (tests force the fallback with these).</summary>
    internal static ModelTimer Select(TimerPreference preference, string clocksourcePath, Architecture architecture)
    {
        if (preference == TimerPreference.Stopwatch)
        {
            return StopwatchTimer("stopwatch requested");
        }

        if (architecture is not (Architecture.X64 or Architecture.X86))
        {
            return StopwatchTimer($"no TSC on {architecture}");
        }

        if (preference == TimerPreference.Auto)
        {
            string source = ReadClocksource(clocksourcePath);
            if (source != "tsc")
            {
                return StopwatchTimer($"the kernel's clocksource is '{source}' ({clocksourcePath}), not tsc");
            }
        }

        if (!CycleCounter.TryLoad(out string? error))
        {
            return StopwatchTimer(error);
        }

        double perNs = TscPerNs.Value;
        if (!double.IsFinite(perNs) || perNs <= 0.01)
        {
            return StopwatchTimer(string.Create(CultureInfo.InvariantCulture, $"TSC calibration gave {perNs} ticks/ns"));
        }

        return new ModelTimer(TimerKind.Tsc, perNs, string.Create(CultureInfo.InvariantCulture,
            $"tsc: rdtsc via {CycleCounter.LibraryName}, {perNs:F4} ticks/ns calibrated against Stopwatch over {CalibrationSpan.TotalMilliseconds:F0} ms"),
            null);
    }

    /// <summary>The current reading in this timer's ticks (not for hot paths: they use <see cref="ITickSource"/> structs).</summary>
    public long Now() => Kind == TimerKind.Tsc ? TscTicks.Now() : StopwatchTicks.Now();

    /// <summary>Ticks of this timer in nanoseconds.</summary>
    public double ToNs(long ticks) => ticks / TicksPerNs;

    /// <summary>The preference <c>PTREPLAY_SIM_TIMER</c> asks for (auto when unset or unknown).</summary>
    public static TimerPreference PreferenceFromEnvironment() =>
        Enum.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), ignoreCase: true, out TimerPreference p) ? p : TimerPreference.Auto;

    private static ModelTimer StopwatchTimer(string? reason) =>
        new(TimerKind.Stopwatch, Stopwatch.Frequency / 1e9,
            $"stopwatch: Stopwatch.GetTimestamp (clock_gettime CLOCK_MONOTONIC); TSC not used: {reason}", reason);

    private static string ReadClocksource(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"unreadable: {ex.Message}";
        }
    }

    /// <summary>TSC ticks per Stopwatch nanosecond across a sleep of <paramref name="span"/>.</summary>
    internal static double Calibrate(TimeSpan span)
    {
        (long tsc0, long sw0) = ReadPair();
        Thread.Sleep(span);
        (long tsc1, long sw1) = ReadPair();
        double ns = (sw1 - sw0) * 1e9 / Stopwatch.Frequency;
        return ns > 0 ? (tsc1 - tsc0) / ns : 0;
    }

    /// <summary>
    /// A TSC reading and a Stopwatch reading taken at the same moment: the Stopwatch read bracketed by two
    /// TSC reads, the tightest bracket of a few tries (a preemption between the reads would skew one pair).
    /// </summary>
    private static (long Tsc, long Stopwatch) ReadPair()
    {
        long bestGap = long.MaxValue, tsc = 0, sw = 0;
        for (int i = 0; i < 7; i++)
        {
            long before = TscTicks.Now();
            long s = Stopwatch.GetTimestamp();
            long after = TscTicks.Now();
            if (after - before < bestGap)
            {
                bestGap = after - before;
                tsc = before + ((after - before) / 2);
                sw = s;
            }
        }

        return (tsc, sw);
    }
}
