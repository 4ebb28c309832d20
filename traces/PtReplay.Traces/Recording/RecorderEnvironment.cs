namespace PtReplay.Traces.Recording;

/// <summary>
/// The environment variables through which <see cref="Recorder"/> controls the native recorder
/// (traces/recorder/process.c documents their meaning on the C side).
/// </summary>
public static class RecorderEnvironment
{
    /// <summary>Path of the started program's trace; other processes write "OUT.&lt;pid&gt;[.&lt;n&gt;]".</summary>
    public const string Out = "PTRECORD_OUT";

    /// <summary>"root" marks the started program (the recorder rewrites it to "chld" for what it execs).</summary>
    public const string Role = "PTRECORD_ROLE";

    /// <summary>"0": children (fork, exec) do not record.</summary>
    public const string Follow = "PTRECORD_FOLLOW";

    /// <summary>Call stacks of at most this many frames for every allocating call ("0" or unset: none; traces/FORMAT.md "Stacks").</summary>
    public const string Stacks = "PTRECORD_STACKS";

    /// <summary>The dynamic loader's preload list.</summary>
    public const string Preload = "LD_PRELOAD";
}
