using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>Shared exit codes and error printing of the trace verbs (info, pack, import-mtrace).</summary>
internal static class TraceProblem
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>The trace (or input file) is missing, unreadable, damaged or malformed.</summary>
    public const int TraceError = 1;
    /// <summary>Bad command line (System.CommandLine also uses 2... via its own parse errors).</summary>
    public const int Usage = 2;

    /// <summary>The exit-code paragraph every trace verb's help ends with.</summary>
    public const string ExitCodesHelp = "Exit codes: 0 ok; 1 trace problem (missing, not a trace, corrupt: the message names the file, byte offset and event index); 2 usage error.";

    /// <summary>Prints a one-line error for <paramref name="verb"/> and returns the exit code.</summary>
    public static int Report(string verb, Exception e)
    {
        string message = e switch
        {
            TraceCorruptException c => c.Message,
            FileNotFoundException f => $"{f.FileName ?? "file"}: no such file",
            DirectoryNotFoundException d => d.Message,
            UnauthorizedAccessException u => u.Message,
            _ => e.Message,
        };
        Console.Error.WriteLine($"ptreplay {verb}: {message}");
        return TraceError;
    }

    /// <summary>True for the exceptions the trace verbs turn into exit code 1.</summary>
    public static bool IsTraceProblem(Exception e) =>
        e is TraceCorruptException or IOException or UnauthorizedAccessException or FormatException;
}
