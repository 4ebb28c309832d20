namespace PtReplay.Results;

/// <summary>
/// The trace section of summary.json: which program was replayed and what its trace holds.
/// Process identity (pid, parent pid, command line) is null when the trace header does not carry it.
/// </summary>
public sealed record TraceSummary
{
    /// <summary>The trace file replayed.</summary>
    public string Path { get; init; } = "";

    /// <summary>Process id of the recorded program.</summary>
    public int? Pid { get; init; }

    /// <summary>Process id of its parent.</summary>
    public int? ParentPid { get; init; }

    /// <summary>The recorded program's command line (argv joined by spaces).</summary>
    public string? CommandLine { get; init; }

    /// <summary>Events in the trace.</summary>
    public long Events { get; init; }

    /// <summary>Allocator calls in the trace.</summary>
    public long Calls { get; init; }

    /// <summary>Ops replayed (calls and thread exits that survived preparation).</summary>
    public long Ops { get; init; }

    /// <summary>Recorded threads.</summary>
    public int Threads { get; init; }

    /// <summary>Object slots the replay needs (largest live set plus leaks).</summary>
    public long Slots { get; init; }

    /// <summary>Largest requested bytes live.</summary>
    public ulong PeakLiveBytes { get; init; }

    /// <summary>Requested bytes live after the last op.</summary>
    public ulong FinalLiveBytes { get; init; }

    /// <summary>Problems found in the trace (the list below holds the first ones).</summary>
    public long IssuesTotal { get; init; }

    /// <summary>The first problems found in the trace.</summary>
    public IReadOnlyList<TraceIssueSummary> Issues { get; init; } = [];

    /// <summary>Calls per kind (malloc, free, ...), every kind present (zeros included).</summary>
    public IReadOnlyDictionary<string, long> Counts { get; init; } = new Dictionary<string, long>();

    /// <summary>Requested sizes of the allocating calls (null in files written before it was recorded).</summary>
    public Distribution? Sizes { get; init; }

    /// <summary>Lifetimes of the freed blocks in calls of the trace.</summary>
    public Distribution? LifetimeCalls { get; init; }

    /// <summary>Lifetimes of the freed blocks in recorded ns.</summary>
    public Distribution? LifetimeNs { get; init; }

    /// <summary>Every numeric fact (events, calls, ..., pid when known) by its summary.json name, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> NumericFacts() => [.. SummaryFile.Numbers(this)];
}

/// <summary>One problem found in the trace.</summary>
/// <param name="EventIndex">0-based index of the event in the recording.</param>
/// <param name="Kind">What kind of problem.</param>
/// <param name="Message">What was found and what the replay did about it.</param>
public sealed record TraceIssueSummary(long EventIndex, string Kind, string Message);
