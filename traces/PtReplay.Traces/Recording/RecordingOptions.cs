namespace PtReplay.Traces.Recording;

/// <summary>
/// What <see cref="Recorder.Run"/> starts and how. <see cref="Command"/>[0] is the program (looked up
/// on PATH when it has no slash), the rest its arguments.
/// </summary>
public sealed class RecordingOptions
{
    /// <summary>The program and its arguments. Must not be empty.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Trace of the started program; children write beside it. Ignored when <see cref="Record"/> is false.</summary>
    public string OutputPath { get; init; } = "";

    /// <summary>False runs the program exactly the same way but without the recorder (for comparisons).</summary>
    public bool Record { get; init; } = true;

    /// <summary>The default of <see cref="StackDepth"/> with <c>record --stacks</c>: deep enough to reach the program's own code from inside an interpreter or a container library (measured on python3), cheap enough to unwind.</summary>
    public const int DefaultStackDepth = 24;

    /// <summary>The deepest stack the recorder keeps (its PTR_STACK_MAX_DEPTH).</summary>
    public const int MaxStackDepth = 128;

    /// <summary>Record the call stack of every allocating call, at most this many frames (1..<see cref="MaxStackDepth"/>); 0 = no stacks (the recorder's cost is then unchanged).</summary>
    public int StackDepth { get; init; }

    /// <summary>Trace forked and exec'd children too (`--no-follow` turns this off).</summary>
    public bool FollowChildren { get; init; } = true;

    /// <summary>
    /// When set, the program gets exactly these variables (plus the recorder's) instead of this
    /// process's environment: what tests use for reproducible runs.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Variables added to (or, with a null value, removed from) the environment.</summary>
    public IReadOnlyDictionary<string, string?>? ExtraEnvironment { get; init; }

    /// <summary>
    /// False (the CLI): the program shares this process's stdin, stdout and stderr.
    /// True (tests): stdin comes from <see cref="StandardInput"/> (empty when null) and stdout/stderr are captured.
    /// </summary>
    public bool CaptureOutput { get; init; }

    /// <summary>Bytes fed to the program's stdin when <see cref="CaptureOutput"/> is set.</summary>
    public ReadOnlyMemory<byte>? StandardInput { get; init; }

    /// <summary>Working directory; null = this process's.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The recorder library; null = <see cref="NativeArtifacts.Find"/>(<see cref="NativeArtifacts.Recorder"/>).</summary>
    public string? RecorderLibrary { get; init; }

    /// <summary>Kill the program after this long (null = wait forever).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// After the started program exits, how long to wait for descendants that are still recording (a background job, a
    /// daemon it started): until they exit too, at most this long. Those still running then are in
    /// <see cref="RecordingResult.StillRunning"/>. Zero: do not wait.
    /// </summary>
    public TimeSpan ChildrenGrace { get; init; } = DefaultChildrenGrace;

    /// <summary>The default of <see cref="ChildrenGrace"/>.</summary>
    public static readonly TimeSpan DefaultChildrenGrace = TimeSpan.FromSeconds(10);

    /// <summary>Called once, with their pids, when the started program has exited and descendants are still recording.</summary>
    public Action<IReadOnlyList<int>>? WaitingForChildren { get; init; }

    /// <summary>Called with the program's pid as soon as it runs (the CLI forwards signals to it).</summary>
    public Action<int>? Started { get; init; }
}
