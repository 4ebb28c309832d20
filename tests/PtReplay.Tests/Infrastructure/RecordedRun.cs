using System.Text;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// Runs a real program under the LD_PRELOAD recorder the way every test does: output captured (never a
/// tty), the environment given whole (build it with <see cref="CleanEnvironment"/>), a timeout so a hung
/// program fails the test instead of the run.
/// </summary>
internal static class RecordedRun
{
    /// <summary>Runs <paramref name="command"/>, recorded into <paramref name="trace"/> (or, when it is null, not recorded).</summary>
    /// <param name="workingDirectory">Where the program runs; null keeps the test host's folder.</param>
    public static RecordingResult Run(IReadOnlyList<string> command, string? trace, IReadOnlyDictionary<string, string> environment,
        byte[]? stdin = null, bool followChildren = false, string? workingDirectory = null, TimeSpan? timeout = null, int stackDepth = 0) =>
        Recorder.Run(new RecordingOptions
        {
            Command = command,
            OutputPath = trace ?? "",
            Record = trace is not null,
            FollowChildren = followChildren,
            Environment = environment,
            CaptureOutput = true,
            StandardInput = stdin,
            WorkingDirectory = workingDirectory,
            Timeout = timeout ?? TimeSpan.FromMinutes(2),
            StackDepth = stackDepth,
        });

    /// <summary>
    /// Records <paramref name="command"/> into <paramref name="trace"/>; throws, with the program's stderr,
    /// unless it exited 0 in time and the trace exists.
    /// </summary>
    public static RecordingResult RecordOrThrow(IReadOnlyList<string> command, string trace, IReadOnlyDictionary<string, string> environment,
        byte[]? stdin = null, bool followChildren = false, string? workingDirectory = null, TimeSpan? timeout = null, int stackDepth = 0)
    {
        RecordingResult result = Run(command, trace, environment, stdin, followChildren, workingDirectory, timeout, stackDepth);
        if (result.ExitCode != 0 || result.TimedOut || !File.Exists(trace))
        {
            throw new InvalidOperationException(
                $"Recording {string.Join(' ', command)} failed (exit {result.ExitCode}{(result.TimedOut ? ", timed out" : "")}): {Encoding.UTF8.GetString(result.StandardError)}");
        }

        return result;
    }

    /// <summary>UTF-8 bytes of <paramref name="text"/> for a program's stdin (null stays null: no input).</summary>
    public static byte[]? Input(string? text) => text is null ? null : Encoding.UTF8.GetBytes(text);
}
