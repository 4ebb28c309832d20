using PtReplay.Replay.Parity;
using PtReplay.Results;

namespace PtReplay.Replay.Metrics;

/// <summary>
/// Everything one engine measured on one trace: the series, the summaries the report and
/// summary.json use, or the reason it could not run.
/// <para>Invariants: <see cref="Error"/> is null exactly when the figures are meaningful; <see cref="Memory"/> is
/// computed from <see cref="Series"/> by <see cref="ResultBuilder"/> (<see cref="MemoryFigures.FromSeries"/>).</para>
/// </summary>
public sealed record EngineResult
{
    /// <summary>Engine name: sim, glibc, jemalloc, tcmalloc, mimalloc.</summary>
    public required string Engine { get; init; }
    /// <summary>Why the engine could not run, or null.</summary>
    public string? Error { get; init; }
    /// <summary>Samples in op order; the last one is the state after the last op.</summary>
    public IReadOnlyList<SeriesPoint> Series { get; init; } = [];
    /// <summary>Latency histogram (null for failed engines).</summary>
    public LatencyHistogram? Latency { get; init; }
    /// <summary>Peaks, finals, fragmentation and Johnstone-Wilson ratios of <see cref="Series"/>.</summary>
    public MemoryFigures Memory { get; init; } = new();
    /// <summary>Calls executed.</summary>
    public long Calls { get; init; }
    /// <summary>Replay wall time in ns (all threads), sampling excluded.</summary>
    public long WallNs { get; init; }
    /// <summary>Time spent taking samples, in ns (excluded from <see cref="WallNs"/> and from the latency).</summary>
    public long SamplingNs { get; init; }
    /// <summary>
    /// Time the engine spent warming up before the timed replay, in ns (the sim engine's <c>SimWarmUp</c>), or null
    /// when it did not; never part of <see cref="WallNs"/> nor of the latency.
    /// </summary>
    public long? WarmupNs { get; init; }
    /// <summary>Calls timed apart from the latency percentiles: each thread's first call (heap, tcache and arena set-up).</summary>
    public long FirstCalls { get; init; }
    /// <summary>The slowest of those first calls in ns, or null when none was timed.</summary>
    public double? FirstCallMaxNs { get; init; }
    /// <summary>The sim engine's garbage collections around its timed replay; null for native engines.</summary>
    public PtReplay.Results.GcFigures? Gc { get; init; }
    /// <summary>The pace the calls were replayed at: "max", "recorded" or a factor.</summary>
    public string Pace { get; init; } = "max";
    /// <summary>Where the footprint figure comes from.</summary>
    public string FootprintSource { get; init; } = "";
    /// <summary>Where the RSS figure comes from.</summary>
    public string RssSource { get; init; } = "";
    /// <summary>Where the address-space figure comes from ("" when not measured).</summary>
    public string AddressSpaceSource { get; init; } = "";
    /// <summary>What the allocator-reported column holds for this engine ("" when none).</summary>
    public string AllocatorBytesSource { get; init; } = "";
    /// <summary>The clock that timed each call (name, how it is read, ticks/ns), or "none (--no-timing)".</summary>
    public string LatencyClock { get; init; } = "";
    /// <summary>The model's address parity with the recording (sim engine with <see cref="ReplayOptions.CheckAddresses"/>), else null.</summary>
    public AddressParity? Parity { get; init; }
    /// <summary>Engine-specific extra figures (cross-thread waits, mallinfo2 fields, ...).</summary>
    public IReadOnlyDictionary<string, double> Extra { get; init; } = new Dictionary<string, double>();
    /// <summary>
    /// Every run of an engine replayed more than once (<see cref="ReplayOptions.Repeat"/>), run 1 first; empty for an engine
    /// run once. The rest of this result (series, histogram, memory) is run 1's.
    /// </summary>
    public IReadOnlyList<EngineRun> Runs { get; init; } = [];

    /// <summary>Peak requested bytes live (from the trace).</summary>
    public ulong PeakLiveBytes => Memory.PeakLiveBytes;
    /// <summary>Requested bytes live at the end.</summary>
    public ulong FinalLiveBytes => Memory.FinalLiveBytes;
    /// <summary>Largest sampled footprint.</summary>
    public ulong PeakFootprintBytes => Memory.PeakFootprintBytes;
    /// <summary>Footprint sampled at the moment live bytes peaked.</summary>
    public ulong FootprintAtPeakLiveBytes => Memory.FootprintAtPeakLiveBytes;
    /// <summary>Largest sampled RSS.</summary>
    public ulong PeakRssBytes => Memory.PeakRssBytes;
    /// <summary>Footprint after the last op.</summary>
    public ulong FinalFootprintBytes => Memory.FinalFootprintBytes;
    /// <summary>RSS after the last op.</summary>
    public ulong FinalRssBytes => Memory.FinalRssBytes;

    /// <summary>A result for an engine that could not run.</summary>
    public static EngineResult Failed(string engine, string error) => new() { Engine = engine, Error = error };

    /// <summary>
    /// An engine that was not run because this machine lacks what it needs (the allocator's library is not installed):
    /// <see cref="Error"/> says what is missing and how to get it; reports show it as skipped, not as an error.
    /// </summary>
    public static EngineResult Skip(string engine, string reason) => new() { Engine = engine, Error = reason, Skipped = true };

    /// <summary>True when the engine was not run because this machine lacks it (<see cref="Skip"/>); <see cref="Error"/> says why.</summary>
    public bool Skipped { get; init; }
}
