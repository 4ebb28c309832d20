using System.Globalization;

namespace PtReplay.Replay.Sim;

/// <summary>How the user asked for the sim engine's preamble (<c>replay --sim-preamble</c>).</summary>
public enum SimPreambleMode
{
    /// <summary>
    /// Use <see cref="ReplayOptions.SimPreambleBytes"/> as given (0 = none): <c>--sim-preamble none</c> or <c>BYTES</c>,
    /// and every programmatic replay that does not ask for <see cref="Auto"/>.
    /// </summary>
    Explicit,

    /// <summary>
    /// The runner chooses: the native replayer's own heap use before the first replayed call (glibc's
    /// <c>setup_heap_bytes</c> minus the main thread's tcache block, which the model allocates itself),
    /// measured in this run's glibc engine, or in a probe run of the native replayer when glibc is not
    /// among the engines; 0 for a single-thread trace (the replayer then creates no threads).
    /// </summary>
    Auto,
}

/// <summary>Where the preamble the sim engine got comes from (summary.json <c>options.sim_preamble.source</c>).</summary>
public enum SimPreambleSource
{
    /// <summary>No preamble: <c>--sim-preamble none</c> (or 0).</summary>
    None,
    /// <summary>The user's byte count.</summary>
    Explicit,
    /// <summary>Auto on a single-thread trace: the native replayer creates no threads, glibc's heap starts empty.</summary>
    SingleThread,
    /// <summary>Auto: measured in this run's glibc engine (run before sim).</summary>
    GlibcRun,
    /// <summary>Auto without the glibc engine: measured by a probe run of the native replayer with as many threads.</summary>
    Probe,
    /// <summary>Auto, but neither the glibc run nor the probe could measure it: no preamble was applied.</summary>
    Unavailable,
    /// <summary>The sim engine was not among the engines.</summary>
    SimNotRun,
}

/// <summary>
/// The preamble the sim engine replayed with and why: one chunk of <see cref="Bytes"/> on thread 0 before
/// op 0 (see <see cref="ReplayOptions.SimPreambleBytes"/>). Invariant: <see cref="Bytes"/> is 0 or a chunk
/// size (a multiple of 16, at least 32); it is 0 for every source but Explicit, GlibcRun and Probe.
/// </summary>
/// <param name="Mode">What was asked for.</param>
/// <param name="Bytes">The chunk size the model allocated first (0 = none).</param>
/// <param name="Source">Where <see cref="Bytes"/> comes from.</param>
/// <param name="SetupHeapBytes">The native replayer's measured in-use heap bytes before the first call (glibc <c>setup_heap_bytes</c>), when measured.</param>
/// <param name="Reason">One sentence for people: what was applied and why.</param>
public sealed record SimPreambleDecision(SimPreambleMode Mode, ulong Bytes, SimPreambleSource Source, ulong? SetupHeapBytes, string Reason)
{
    /// <summary>The mode's name as the CLI spells it: auto, none, or bytes.</summary>
    public string ModeName => Mode == SimPreambleMode.Auto ? "auto" : Bytes == 0 ? "none" : "bytes";

    /// <summary>The source's name in summary.json (snake case).</summary>
    public string SourceName => Source switch
    {
        SimPreambleSource.None => "none",
        SimPreambleSource.Explicit => "explicit",
        SimPreambleSource.SingleThread => "single_thread",
        SimPreambleSource.GlibcRun => "glibc_run",
        SimPreambleSource.Probe => "probe",
        SimPreambleSource.Unavailable => "unavailable",
        _ => "sim_not_run",
    };

    /// <summary>One line for the console: "sim preamble: 3040 B (auto, glibc_run): ...".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"sim preamble: {Bytes} B ({ModeName}, {SourceName}): {Reason}");
}
