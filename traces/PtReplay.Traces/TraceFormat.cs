namespace PtReplay.Traces;

/// <summary>Constants of the on-disk format; traces/FORMAT.md is the specification they follow.</summary>
public static class TraceFormat
{
    /// <summary>
    /// The format version this code writes and the newest it reads. 2: the block CRC covers the block header too
    /// (version 1 files, whose block CRC covers the payload only, are still read).
    /// </summary>
    public const int CurrentVersion = 2;
}
