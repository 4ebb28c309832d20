namespace PtReplay.Traces;

/// <summary>
/// Everything a trace says about the recorded process before its first event (traces/FORMAT.md, "Header").
/// Fields a recorder did not write keep their defaults (0, empty string, empty list).
/// </summary>
public sealed class TraceHeader
{
    /// <summary>Format version of the file (currently 1).</summary>
    public int FormatVersion { get; set; } = TraceFormat.CurrentVersion;
    /// <summary>Name and version of the program that wrote the file, e.g. "ptrecord 0.2.0" or "ptreplay import-mtrace".</summary>
    public string RecorderVersion { get; set; } = "";
    /// <summary>gnu_get_libc_version() of the recorded process, e.g. "2.36".</summary>
    public string GlibcVersion { get; set; } = "";
    /// <summary>sysconf(_SC_PAGESIZE).</summary>
    public long PageSize { get; set; } = 4096;
    /// <summary>Online CPUs (what glibc's arena limit counts).</summary>
    public int OnlineCpus { get; set; }
    /// <summary>The program break before the first allocation (sbrk(0)); 0 when unknown (e.g. imported traces).</summary>
    public ulong Brk0 { get; set; }
    /// <summary>The malloc-related environment, "NAME=value": GLIBC_TUNABLES and every MALLOC_* variable.</summary>
    public IList<string> MallocEnvironment { get; init; } = [];
    /// <summary>Path of the executable (/proc/self/exe).</summary>
    public string ExecutablePath { get; set; } = "";
    /// <summary>The program's argv.</summary>
    public IList<string> Argv { get; init; } = [];
    /// <summary>Recorded process id.</summary>
    public int Pid { get; set; }
    /// <summary>Its parent's process id.</summary>
    public int ParentPid { get; set; }
    /// <summary>Wall-clock start, nanoseconds since the Unix epoch (CLOCK_REALTIME).</summary>
    public long StartRealtimeNs { get; set; }
    /// <summary>The recorded clock's reading at start, in ns; event timestamps are relative to it.</summary>
    public long StartClockNs { get; set; }
    /// <summary>The clock event timestamps come from, e.g. "CLOCK_MONOTONIC".</summary>
    public string ClockName { get; set; } = "";
    /// <summary>Its resolution in nanoseconds (clock_getres).</summary>
    public long ClockResolutionNs { get; set; }
    /// <summary>How the recorded process image began: the started program, a fork child, or an exec'd image.</summary>
    public TraceOrigin Origin { get; set; }
    /// <summary>
    /// The trace this one continues, as the recorder wrote its path ("" when none): for a fork child the
    /// forking process's trace (its fork marker names this pid); for an exec'd image the image that exec'd it.
    /// <see cref="ProcessTrees.ProcessLink"/> resolves it.
    /// </summary>
    public string ParentTrace { get; set; } = "";
    /// <summary>Fork child: kernel tid of the parent's thread that forked; 0 when unknown.</summary>
    public int ForkThreadTid { get; set; }
    /// <summary>Fork child: events that thread had written to the parent's trace before the fork (its thread start included).</summary>
    public long ForkThreadEvents { get; set; }

    /// <summary>The recorded process's soft address-space limit in bytes (RLIMIT_AS, `ulimit -v`), null when unlimited or not recorded.</summary>
    public ulong? AddressSpaceLimit { get; set; }

    /// <summary>The recorded process's soft data-segment limit in bytes (RLIMIT_DATA, `ulimit -d`), null when unlimited or not recorded.</summary>
    public ulong? DataLimit { get; set; }

    /// <summary>The memory limits the recorded process ran under, in ulimit's words ("ulimit -v 400000 KiB (address space)"), or "".</summary>
    public string MemoryLimits => string.Join(", ", new[]
    {
        AddressSpaceLimit is { } v ? FormattableString.Invariant($"ulimit -v {v / 1024} KiB (address space)") : null,
        DataLimit is { } d ? FormattableString.Invariant($"ulimit -d {d / 1024} KiB (data)") : null,
    }.OfType<string>());

    /// <summary>The command line, argv joined by spaces ("" when the trace has none).</summary>
    public string CommandLine => string.Join(' ', Argv);
}
