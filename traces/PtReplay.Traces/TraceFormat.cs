namespace PtReplay.Traces;

/// <summary>Constants of the on-disk format; traces/FORMAT.md is the specification they follow.</summary>
public static class TraceFormat
{
    /// <summary>The format version this code writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;
}
