namespace PtReplay.Cli.Commands;

/// <summary>
/// The exit codes of every verb. One meaning per number, whatever the verb: scripts can tell a "no" answer (1)
/// from a mistake on the command line (2), a bad input (3), an output that cannot be written (4) and a program
/// or engine that could not run (5). `record` is the exception for 0 and 1: it exits with the recorded program's code.
/// </summary>
public static class ExitCodes
{
    /// <summary>The verb did what it was asked.</summary>
    public const int Ok = 0;
    /// <summary>The verb ran and its result says no: parity below 100 %, a gate or compare limit exceeded, a sweep's validated figure that differs from glibc's, a failed benchmark run.</summary>
    public const int No = 1;
    /// <summary>Bad command line: unknown option or value, out-of-range number, unknown or out-of-range tunable.</summary>
    public const int Usage = 2;
    /// <summary>An input is missing, unreadable (permission, a directory), not a trace, damaged or malformed.</summary>
    public const int BadInput = 3;
    /// <summary>An output cannot be written: its folder cannot be created, permission, a read-only or full disk (for `record`: also events lost to a full disk or the file size limit while the program ran).</summary>
    public const int OutputFailed = 4;
    /// <summary>An engine, the native replayer or the program to record could not be started or run.</summary>
    public const int CannotRun = 5;

    /// <summary>The paragraph every verb's help ends with (and the root help shows).</summary>
    public const string Help =
        "Exit codes: 0 ok; 1 the result says no (parity < 100 %, a gate or compare limit exceeded); 2 usage error " +
        "(bad option, value or tunable); 3 input missing, unreadable or corrupt (the message names the file, and for a " +
        "damaged trace the byte offset and event index); 4 output cannot be written; 5 an engine or program could not run.";
}
