namespace PtReplay.Traces.Recording;

/// <summary>What one <see cref="Recorder.Run"/> produced.</summary>
public sealed class RecordingResult
{
    /// <summary>The program's exit code; 128 + signal number when a signal killed it.</summary>
    public int ExitCode { get; init; }

    /// <summary>The started program's process id.</summary>
    public int ProcessId { get; init; }

    /// <summary>The started program's trace (absolute path); empty when not recording.</summary>
    public string TracePath { get; init; } = "";

    /// <summary>Traces the program's children (and earlier images of an exec) wrote beside it, sorted by name.</summary>
    public IReadOnlyList<string> ChildTraces { get; init; } = [];

    /// <summary>
    /// Programs that ran without the recorder (statically linked, set-id, started without its LD_PRELOAD): none of their
    /// calls are recorded. The started program first when it is one (it then left no trace).
    /// </summary>
    public IReadOnlyList<UnrecordedProgram> Unrecorded { get; init; } = [];

    /// <summary>
    /// Descendants still running (and recording) when `record` stopped waiting for them
    /// (<see cref="RecordingOptions.ChildrenGrace"/> after the started program exited): their newest traces are incomplete
    /// and still being written.
    /// </summary>
    public IReadOnlyList<int> StillRunning { get; init; } = [];

    /// <summary>Wall time from start to exit.</summary>
    public TimeSpan WallTime { get; init; }

    /// <summary>Captured stdout (only with <see cref="RecordingOptions.CaptureOutput"/>).</summary>
    public byte[] StandardOutput { get; init; } = [];

    /// <summary>Captured stderr (only with <see cref="RecordingOptions.CaptureOutput"/>).</summary>
    public byte[] StandardError { get; init; } = [];

    /// <summary>True when <see cref="RecordingOptions.Timeout"/> expired and the program was killed.</summary>
    public bool TimedOut { get; init; }
}
