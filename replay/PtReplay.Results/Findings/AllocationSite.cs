namespace PtReplay.Results.Findings;

/// <summary>
/// Where the program allocated, from a call stack recorded with <c>record --stacks</c>: the first frame outside the
/// allocator's plumbing (libc's malloc family, libstdc++'s operator new, the recorder) and the whole stack.
/// <para>Invariant: <see cref="Function"/> is "?" when the frame could not be named (<see cref="StackFrame.Problem"/> of
/// the site's frame says why); <see cref="File"/> and <see cref="Line"/> come from DWARF line information only.</para>
/// </summary>
public sealed record AllocationSite
{
    /// <summary>The function that called the allocator (demangled), or "?".</summary>
    public string Function { get; init; } = "?";

    /// <summary>Source file of the call, or null when the binary has no line information for it.</summary>
    public string? File { get; init; }

    /// <summary>Source line of the call (0 when unknown).</summary>
    public int Line { get; init; }

    /// <summary>The binary the function is in (null when no recorded mapping held the address).</summary>
    public string? Module { get; init; }

    /// <summary>The site frame's recorded address.</summary>
    public ulong Address { get; init; }

    /// <summary>Why <see cref="Function"/> is "?" (null when named).</summary>
    public string? Problem { get; init; }

    /// <summary>The whole stack, innermost frame first (the allocator's frames included).</summary>
    public IReadOnlyList<StackFrame> Stack { get; init; } = [];

    /// <summary>"function (file:line)", "function (module)", or "? 0xADDR (why)".</summary>
    public string Describe() =>
        Problem is not null ? $"? 0x{Address:x} ({Problem})"
        : File is not null ? $"{Function} ({Path.GetFileName(File)}:{Line})"
        : Module is not null ? $"{Function} ({Path.GetFileName(Module)})"
        : Function;
}

/// <summary>One symbolised return address of a recorded stack.</summary>
public sealed record StackFrame
{
    /// <summary>The recorded address.</summary>
    public ulong Address { get; init; }

    /// <summary>Function name, or "?".</summary>
    public string Function { get; init; } = "?";

    /// <summary>Source file, or null.</summary>
    public string? File { get; init; }

    /// <summary>Source line (0 when unknown).</summary>
    public int Line { get; init; }

    /// <summary>The mapped binary, or null.</summary>
    public string? Module { get; init; }

    /// <summary>Why the function is "?" (null when named).</summary>
    public string? Problem { get; init; }
}

/// <summary>
/// One allocation site over the whole trace: calls, bytes requested, live bytes at the trace's peak of live requested
/// bytes, and the free bytes its live blocks pin in the model's heap at each moment explained.
/// </summary>
public sealed record SiteFigures
{
    /// <summary>The site.</summary>
    public AllocationSite Site { get; init; } = new();

    /// <summary>Allocating calls made from it (realloc included).</summary>
    public long Calls { get; init; }

    /// <summary>Bytes those calls requested.</summary>
    public ulong RequestedBytes { get; init; }

    /// <summary>Requested bytes of its blocks live when the trace's live requested bytes peaked (as `info` counts them).</summary>
    public ulong PeakLiveBytes { get; init; }

    /// <summary>Requested bytes of its blocks live at the end of the trace.</summary>
    public ulong EndLiveBytes { get; init; }

    /// <summary>Per moment explained (same order as the findings' moments): free bytes pinned below its live chunks.</summary>
    public IReadOnlyList<ulong> PinnedBytes { get; init; } = [];

    /// <summary>The largest of <see cref="PinnedBytes"/>.</summary>
    public ulong MostPinnedBytes() => PinnedBytes.Count == 0 ? 0 : PinnedBytes.Max();
}

/// <summary>`info --sites --json`: the allocation sites of a trace, with the moments their pinned bytes are taken at.</summary>
public sealed record SiteListFile
{
    /// <summary>The trace.</summary>
    public string Trace { get; init; } = "";

    /// <summary>True when the trace has call stacks.</summary>
    public bool StacksRecorded { get; init; }

    /// <summary>The moments of <see cref="SiteFigures.PinnedBytes"/>, in order.</summary>
    public IReadOnlyList<string> Moments { get; init; } = [];

    /// <summary>Distinct sites in the trace.</summary>
    public long SiteCount { get; init; }

    /// <summary>The sites listed: the union of the top N by peak live bytes, by calls and by pinned bytes.</summary>
    public IReadOnlyList<SiteFigures> Sites { get; init; } = [];
}
