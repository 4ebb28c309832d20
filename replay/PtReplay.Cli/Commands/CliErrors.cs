using System.CommandLine;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Preparation;
using PtReplay.Reports.Input;
using PtReplay.Traces;
using PtReplay.Traces.Import;

namespace PtReplay.Cli.Commands;

/// <summary>
/// The one place where exceptions become a message and an exit code (<see cref="ExitCodes"/>): every verb's action
/// runs through <see cref="Guard"/>, so no verb prints a stack trace and the same mistake gives the same code everywhere.
/// </summary>
public static class CliErrors
{
    // Linux errno values that only writing can cause: no space, read-only file system, file too large, quota.
    private const int ENOSPC = 28;
    private const int EROFS = 30;
    private const int EFBIG = 27;
    private const int EDQUOT = 122;

    /// <summary>Wraps a verb's action: its exceptions are printed as `ptreplay VERB: message` and mapped to an exit code.</summary>
    public static Func<ParseResult, int> Guard(string verb, Func<ParseResult, int> action) =>
        parse => Run(verb, () => action(parse), Console.Error);

    /// <summary>Runs <paramref name="action"/>; an exception is reported on <paramref name="error"/> and returns its exit code.</summary>
    public static int Run(string verb, Func<int> action, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            return action();
        }
        catch (Exception e)
        {
            (int code, string message) = Classify(e);
            error.WriteLine($"ptreplay {verb}: {message}");
            return code;
        }
    }

    /// <summary>The exit code and one-line message for an exception that escaped a verb.</summary>
    public static (int Code, string Message) Classify(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e switch
        {
            CliException c => (c.ExitCode, c.Message),
            InvalidTunablesException t => (ExitCodes.Usage, t.Message),
            TraceCorruptException c => (ExitCodes.BadInput, c.Message),
            TraceIssueException i => (ExitCodes.BadInput, i.Message),
            ReportInputException r => (ExitCodes.BadInput, r.Message),
            ScratchFileException s => (ExitCodes.OutputFailed, s.Message),
            IOException io when IsOutputErrno(io.HResult) => (ExitCodes.OutputFailed, $"cannot write: {io.Message}"),
            FileNotFoundException f => (ExitCodes.BadInput, $"{f.FileName ?? "file"}: no such file"),
            DirectoryNotFoundException d => (ExitCodes.BadInput, d.Message),
            UnauthorizedAccessException u => (ExitCodes.BadInput, $"permission denied: {u.Message}"),
            IOException or InvalidDataException or FormatException or EndOfStreamException => (ExitCodes.BadInput, e.Message),
            _ => (ExitCodes.CannotRun, $"internal error ({e.GetType().Name}): {e.Message}"),
        };
    }

    /// <summary>True for an <see cref="IOException"/> errno that only writing produces (full or read-only disk, quota, file too large).</summary>
    public static bool IsOutputErrno(int hresult) => hresult is ENOSPC or EROFS or EFBIG or EDQUOT;
}
