using System.Globalization;
using PtReplay.Allocator;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Replay.Sim;

/// <summary>
/// Chooses the sim engine's preamble (<see cref="ReplayOptions.SimPreambleBytes"/>) so that the model's
/// heap starts like glibc's under the native replayer.
/// <para>Why: before the first replayed call the replayer creates P worker threads (the most ever alive at once besides
/// thread 0, or with a fork every thread ever alive at once; <see cref="Preparation.PreparedTrace.SetupThreads"/>), and each
/// <c>pthread_create</c> callocs a TLS DTV (0x130 bytes here) at the bottom of glibc's main heap, never
/// freed; the first of those callocs also creates the main thread's tcache block. The recorded program's
/// own DTVs are in the trace and replayed as calls, so the replayer's are extra: every later main-heap
/// address is shifted and glibc's brk grows and trims at other points than an empty model's.</para>
/// <code>
///   glibc under the replayer:  [tcache 0x290][DTV][DTV]...[DTV][recorded program's heap ...]
///   model with the preamble:   [tcache 0x290][preamble chunk  ][recorded program's heap ...]
///   preamble = setup_heap_bytes − tcache chunk = P × DTV       (0 when P = 0: no thread, no calloc)
/// </code>
/// The tcache chunk is what the model itself allocates on thread 0's first call (0x290 on glibc 2.36
/// x86_64), so it is subtracted: the model makes it before the preamble chunk, as glibc did before the
/// first DTV. Thread mode (serial or concurrent) does not matter: the threads are created the same way.
/// </summary>
public static class SimPreambleResolver
{
    private const ulong ProbeRequest = 16;

    private static readonly Lazy<ulong> TcacheChunk = new(MeasureModelTcacheChunk);

    /// <summary>The chunk the model allocates for thread 0's tcache on its first call (0x290 on glibc 2.36 x86_64).</summary>
    public static ulong ModelTcacheChunkBytes => TcacheChunk.Value;

    /// <summary>
    /// Parses the CLI value: "auto", "none", or a byte count (decimal or 0x hex) that is 0 or a chunk size.
    /// Returns an error message (what is wrong and what is accepted) or null.
    /// </summary>
    public static string? TryParse(string text, out SimPreambleMode mode, out ulong bytes)
    {
        mode = SimPreambleMode.Explicit;
        bytes = 0;
        string t = text.Trim();
        if (t.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            mode = SimPreambleMode.Auto;
            return null;
        }

        if (t.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        bool parsed = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out bytes);
        if (!parsed)
        {
            return $"'{text}' is not auto, none or a byte count (e.g. 3040 or 0xbe0)";
        }

        return CheckBytes(bytes);
    }

    /// <summary>Null when <paramref name="bytes"/> can be a preamble (0, or a multiple of 16 of at least 32), else why not.</summary>
    public static string? CheckBytes(ulong bytes) =>
        bytes == 0 || (bytes >= 32 && bytes % 16 == 0)
            ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"{bytes} bytes is not a chunk size: the preamble is one malloc chunk, so it must be 0 or a multiple of 16 of at least 32 (e.g. {RoundToChunk(bytes)})");

    /// <summary>True when auto mode should take the preamble from this run's glibc engine, which must then run before sim.</summary>
    public static bool WantsGlibcFirst(ReplayOptions options, IReadOnlyList<string> engines, PreparedTrace prepared) =>
        options.SimPreamble == SimPreambleMode.Auto && prepared.ThreadCount > 1 && engines.Contains("sim") && engines.Contains("glibc");

    /// <summary>The decision for an explicit request (<c>none</c> or <c>BYTES</c>).</summary>
    public static SimPreambleDecision Explicit(ulong bytes) => bytes == 0
        ? new(SimPreambleMode.Explicit, 0, SimPreambleSource.None, null,
            "none asked for: the model starts with an empty heap; on a multi-thread trace glibc's main-heap addresses and brk steps are shifted by the replayer's thread setup")
        : new(SimPreambleMode.Explicit, bytes, SimPreambleSource.Explicit, null,
            "the byte count given with --sim-preamble: one chunk on thread 0 before the first replayed call");

    /// <summary>The decision when the sim engine does not run.</summary>
    public static SimPreambleDecision NotRun(SimPreambleMode mode) =>
        new(mode, 0, SimPreambleSource.SimNotRun, null, "the sim engine was not among the engines");

    /// <summary>
    /// The auto decision for a trace of <paramref name="threads"/> replay threads, given this run's glibc
    /// results (null when glibc did not run or failed). Without a glibc measurement on a multi-thread trace
    /// this runs a probe of the native replayer (<see cref="Probe"/>) in <paramref name="workDir"/>.
    /// </summary>
    public static SimPreambleDecision Auto(int threads, NativeResults? glibcRun, ReplayOptions options,
        IReadOnlyDictionary<string, string> mallocEnvironment, string workDir)
    {
        if (threads <= 1)
        {
            return new(SimPreambleMode.Auto, 0, SimPreambleSource.SingleThread, glibcRun?.Header.SetupHeapBytes,
                "single-thread trace: the native replayer creates no threads, so glibc's heap starts empty like the model's");
        }

        if (glibcRun is not null)
        {
            return FromSetup(glibcRun.Header.SetupHeapBytes, threads, SimPreambleSource.GlibcRun, "measured in this run's glibc replay");
        }

        var (setup, error) = Probe(threads, options, mallocEnvironment, workDir);
        return setup is ulong s
            ? FromSetup(s, threads, SimPreambleSource.Probe, "measured by a probe run of the native replayer on glibc with as many threads (glibc was not among the engines)")
            : new(SimPreambleMode.Auto, 0, SimPreambleSource.Unavailable, null,
                $"NO preamble applied: the native replayer's setup could not be measured ({error}); sim and glibc footprints of this trace are not comparable sample by sample");
    }

    /// <summary>
    /// Runs the native replayer on glibc over a tiny prepared trace with <paramref name="threads"/> threads (one
    /// malloc each), so it creates its worker threads exactly as a real replay would, and returns its
    /// <c>setup_heap_bytes</c>, or the reason it could not.
    /// </summary>
    public static (ulong? SetupHeapBytes, string? Error) Probe(int threads, ReplayOptions options,
        IReadOnlyDictionary<string, string> mallocEnvironment, string workDir)
    {
        string preparedPath = Path.Combine(workDir, "preamble-probe.prepared");
        string resultsPath = Path.Combine(workDir, "preamble-probe.results");
        try
        {
            var events = new AllocEvent[threads];
            for (int t = 0; t < threads; t++)
            {
                events[t] = new AllocEvent
                {
                    Kind = EventKind.Malloc, Thread = t, Size = ProbeRequest, Count = 1, Result = 0x10_0000UL * (ulong)(t + 1), Timestamp = t,
                };
            }

            PreparedTrace probe = TracePreparer.Prepare(events, preparedPath);
            var (result, raw) = NativeEngine.Run("glibc", probe,
                new ReplayOptions { Threads = options.Threads, Touch = TouchMode.None, NoTiming = true }, resultsPath, mallocEnvironment);
            if (raw is null)
            {
                return (null, result.Error ?? "no results");
            }

            return raw.Header.ThreadCount == (uint)threads
                ? (raw.Header.SetupHeapBytes, null)
                : (null, string.Create(CultureInfo.InvariantCulture, $"the probe ran {raw.Header.ThreadCount} threads, not {threads}"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return (null, ex.Message);
        }
        finally
        {
            File.Delete(preparedPath);
            File.Delete(resultsPath);
        }
    }

    private static SimPreambleDecision FromSetup(ulong setup, int threads, SimPreambleSource source, string how)
    {
        ulong tcache = ModelTcacheChunkBytes;
        ulong bytes = setup > tcache ? setup - tcache : 0;
        string? bad = CheckBytes(bytes);
        if (bad is not null)
        {
            return new(SimPreambleMode.Auto, 0, SimPreambleSource.Unavailable, setup, string.Create(CultureInfo.InvariantCulture,
                $"NO preamble applied: the replayer's setup use ({setup} B, {how}) minus the tcache block ({tcache} B) is not a chunk size: {bad}"));
        }

        return new(SimPreambleMode.Auto, bytes, source, setup, string.Create(CultureInfo.InvariantCulture,
            $"{how}: setup_heap_bytes {setup} B minus the main thread's tcache block ({tcache} B, the model makes its own) = the TLS DTVs of the {threads - 1} thread(s) the replayer creates before the first call, at the bottom of glibc's main heap"));
    }

    private static ulong MeasureModelTcacheChunk()
    {
        const ulong smallest = 32;
        var model = new Ptmalloc(new ModelOptions());
        model.Malloc(0, smallest - 8);
        return model.MallInfo2().Uordblks - smallest;
    }

    private static ulong RoundToChunk(ulong bytes) => Math.Max(32, (bytes + 15) & ~15UL);
}
