namespace PtReplay.Results;

/// <summary>
/// One engine of a replay in summary.json. Invariant: either <see cref="Error"/> is set and the figures are null, or
/// <see cref="Error"/> is null and <see cref="Memory"/>, <see cref="Timing"/> and <see cref="Sources"/> are set.
/// </summary>
public sealed record EngineSummary
{
    /// <summary>sim, glibc, jemalloc, tcmalloc, mimalloc.</summary>
    public required string Engine { get; init; }

    /// <summary>Why the engine could not run, or null.</summary>
    public string? Error { get; init; }

    /// <summary>True when the engine was not run because the machine lacks it (its allocator library); <see cref="Error"/> says what is missing.</summary>
    public bool Skipped { get; init; }

    /// <summary>Memory figures.</summary>
    public MemoryFigures? Memory { get; init; }

    /// <summary>Calls, time and latency.</summary>
    public TimingFigures? Timing { get; init; }

    /// <summary>Where each memory column comes from for this engine.</summary>
    public FigureSources? Sources { get; init; }

    /// <summary>Engine-specific figures with their own names (mallinfo2 fields, cross-thread waits, ...).</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }

    /// <summary>
    /// Every run of an engine replayed more than once (`replay --repeat N`, native engines), in run order; null (left out)
    /// for an engine run once, so files of single runs, and those written before repeats existed, read the same.
    /// With runs, <see cref="Memory"/> is run 1's and <see cref="Timing"/>'s wall time and latency percentiles are the
    /// medians over the runs (<see cref="RunStatistics"/>).
    /// </summary>
    public IReadOnlyList<EngineRun>? Runs { get; init; }

    /// <summary>A failed engine.</summary>
    public static EngineSummary Failed(string engine, string error) => new() { Engine = engine, Error = error };

    /// <summary>
    /// Every numeric memory and timing figure by its summary.json name (peak_rss_bytes, ..., calls, wall_ns, sampling_ns),
    /// in file order; empty for a failed engine.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, double>> NumericFigures() =>
        [.. SummaryFile.Numbers(Memory), .. SummaryFile.Numbers(Timing)];

    /// <summary>A numeric figure by its summary.json name, or null.</summary>
    public double? Figure(string name)
    {
        foreach (var (key, value) in NumericFigures())
        {
            if (key == name)
            {
                return value;
            }
        }

        return null;
    }
}

/// <summary>How long the engine ran and how long its calls took.</summary>
public sealed record TimingFigures
{
    /// <summary>Calls executed.</summary>
    public long Calls { get; init; }

    /// <summary>Replay wall time in ns, sampling excluded.</summary>
    public long WallNs { get; init; }

    /// <summary>Time spent taking samples, in ns (not in <see cref="WallNs"/> nor in the latency).</summary>
    public long SamplingNs { get; init; }

    /// <summary>
    /// Time spent warming the engine's code up before the timed replay, in ns (the model's warm-up on a scratch
    /// instance); not in <see cref="WallNs"/> nor in the latency. Null (left out) for engines without a warm-up.
    /// </summary>
    public long? WarmupNs { get; init; }

    /// <summary>
    /// Calls timed apart from <see cref="LatencyNs"/>: each thread's first call, which sets up the heap, the thread's tcache
    /// and its arena (a one-time cost, so a 40-call trace and a 40 M-call trace give comparable percentiles).
    /// </summary>
    public long FirstCalls { get; init; }

    /// <summary>The slowest of those first calls in ns, or null when none was timed (--no-timing).</summary>
    public double? FirstCallMaxNs { get; init; }

    /// <summary>The sim engine's garbage collections around its timed replay; null for native engines.</summary>
    public GcFigures? Gc { get; init; }

    /// <summary>"max", "recorded" or a factor: the pace the calls were replayed at.</summary>
    public string Pace { get; init; } = "max";

    /// <summary>The clock that timed each call, or "none (--no-timing)".</summary>
    public string LatencyClock { get; init; } = "";

    /// <summary>Latency per call kind (malloc, free, ...), kinds never called left out.</summary>
    public IReadOnlyDictionary<string, LatencyFigures> LatencyNs { get; init; } = new Dictionary<string, LatencyFigures>();
}

/// <summary>Where an engine's memory columns come from (README, "What each figure means").</summary>
public sealed record FigureSources
{
    /// <summary>Source of rss_bytes.</summary>
    public string Rss { get; init; } = "";

    /// <summary>Source of footprint_bytes.</summary>
    public string Footprint { get; init; } = "";

    /// <summary>Source of address_space_bytes ("" when the engine does not measure it).</summary>
    public string AddressSpace { get; init; } = "";

    /// <summary>What allocator_bytes is for this engine ("" when the engine reports none).</summary>
    public string AllocatorBytes { get; init; } = "";
}
