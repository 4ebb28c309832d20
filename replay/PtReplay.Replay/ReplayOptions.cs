using PtReplay.Replay.Sim;

namespace PtReplay.Replay;

/// <summary>How replay threads are scheduled.</summary>
public enum ThreadMode
{
    /// <summary>The recorded global order, one call at a time: deterministic.</summary>
    Serial,
    /// <summary>Per-thread order only; a cross-thread free waits for its allocation: real contention.</summary>
    Concurrent,
}

/// <summary>What the replay writes into each returned block, so that RSS reflects a program that uses its memory.</summary>
public enum TouchMode
{
    /// <summary>Nothing.</summary>
    None,
    /// <summary>One byte in every page the block spans (the default).</summary>
    Page,
    /// <summary>Every byte.</summary>
    Full,
}

/// <summary>Options shared by every engine of one replay (a record: the runner derives the sim engine's options with <c>with</c>).</summary>
public sealed record ReplayOptions
{
    /// <summary>Thread scheduling for the native engines (the model always replays the global order).</summary>
    public ThreadMode Threads { get; init; } = ThreadMode.Serial;
    /// <summary>Touch model.</summary>
    public TouchMode Touch { get; init; } = TouchMode.Page;
    /// <summary>
    /// glibc tunables ("glibc.malloc.x=v:..."), passed as GLIBC_TUNABLES to glibc and applied to the model.
    /// Null: use the recorded process's malloc environment from the trace header.
    /// </summary>
    public string? Tunables { get; init; }
    /// <summary>Replace every allocator call by a do-nothing function (harness overhead measurement).</summary>
    public bool NullAllocator { get; init; }
    /// <summary>Native engines log every returned address in their results file (for the glibc parity check).</summary>
    public bool LogAddresses { get; init; }

    /// <summary>
    /// Streamed replay (when the trace can be read twice, see <see cref="ReplayRunner.Run"/>): the most ops the
    /// preparation writes ahead of the engine replaying them; the prepared file's disk use is bounded by it, not by the
    /// trace's length. 0: the whole prepared file is written before the first engine runs. Default: 2^20 ops, or the
    /// environment variable PTREPLAY_STREAM_WINDOW (ops; 1,024 to 4,194,304).
    /// </summary>
    public long StreamWindow { get; init; } = DefaultStreamWindow();

    private static long DefaultStreamWindow() =>
        long.TryParse(Environment.GetEnvironmentVariable("PTREPLAY_STREAM_WINDOW"), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out long ops) ? ops : 1L << 20;
    /// <summary>
    /// The sim engine compares every address the model returns with the one the recording returned
    /// (<see cref="Parity.AddressCheck"/>, result in <see cref="Metrics.EngineResult.Parity"/>); the preparation then
    /// keeps each op's recorded address. What `ptreplay verify` and `ptreplay gate` run.
    /// </summary>
    public bool CheckAddresses { get; init; }
    /// <summary>Skip the per-call cycle counter reads (harness overhead measurement).</summary>
    public bool NoTiming { get; init; }
    /// <summary>The pace of the native engines' calls (the model ignores it: it has no timers).</summary>
    public ReplayPace Pace { get; init; }

    /// <summary>Folders searched for the allocators' libraries (jemalloc, tcmalloc, mimalloc); null: the system's library folders.</summary>
    public IReadOnlyList<string>? AllocatorLibraryDirectories { get; init; }
    /// <summary>
    /// Bytes the sim engine allocates on thread 0 (one chunk of exactly this size, from the main heap)
    /// before the first op. The native replayer is not a blank process: creating its worker threads
    /// calloc's one TLS dtv per thread in glibc's main arena (304 bytes each on this system) before
    /// the first replayed call, so glibc's brk heap grows and trims a page earlier or later than a
    /// model that starts empty. Set this to the replayer's own in-use bytes (e.g. glibc's final
    /// mallinfo2 uordblks minus the model's) to compare sim and glibc footprints sample by sample.
    /// 0 (the default): the model replays the recorded program alone. Must be 0 or a multiple of
    /// 16 of at least 32.
    /// </summary>
    public ulong SimPreambleBytes { get; init; }
    /// <summary>
    /// Explicit (the default): use <see cref="SimPreambleBytes"/> as given. Auto: <see cref="ReplayRunner"/>
    /// sets it from the native replayer's measured setup (<see cref="SimPreambleResolver"/>; glibc then runs
    /// before sim) and reports the choice in <see cref="ReplayReport.SimPreamble"/> and summary.json.
    /// </summary>
    public SimPreambleMode SimPreamble { get; init; } = SimPreambleMode.Explicit;
    /// <summary>
    /// Whether the sim engine warms its code up on scratch models before the timed replay (<see cref="Sim.SimWarmUp"/>;
    /// the default). Off: the first calls of the replay pay the model's one-time costs (JIT compilation, type
    /// loading) inside their latency. The warm-up never changes the model's addresses or series.
    /// </summary>
    public bool SimWarmUp { get; init; } = true;
    /// <summary>
    /// Also explain the trace from the model's heap (<see cref="Findings.HeapFindingsBuilder"/>): DIR/findings.json with
    /// where the free memory sits, the live chunks pinning it and the tunables predicted to lower the footprint.
    /// </summary>
    public bool Explain { get; init; }
    /// <summary>
    /// The sim engine runs under an EventPipe session on its own process that records the runtime's garbage collections
    /// (<see cref="GcProof.GcWindowSession"/>), and summary.json says how many ran inside its timed windows
    /// (timing.gc.collections_in_timed_windows, cross-checked with the in-process count). Off by default.
    /// </summary>
    public bool GcProof { get; init; }
    /// <summary>
    /// How many times each native engine replays the trace (at least 1; the default 1). The runs are interleaved: every
    /// native engine's run k before any engine's run k + 1, so a slow spell of the machine spreads over all engines. The
    /// model (sim) runs once: its memory figures are deterministic and its latency is the C# model's, not an allocator's.
    /// </summary>
    public int Repeat { get; init; } = 1;
    /// <summary>Progress callback of the engines: (engine, fraction done 0..1); called with 1 when an engine ends.</summary>
    public Action<string, double>? Progress { get; init; }
    /// <summary>Progress callback of the preparation: events read so far (every million, and the total when it ends).</summary>
    public Action<long>? PrepareProgress { get; init; }
}
