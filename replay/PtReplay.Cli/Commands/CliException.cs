namespace PtReplay.Cli.Commands;

/// <summary>
/// A problem the command line reports as one line and an exit code (<see cref="ExitCodes"/>): thrown by the
/// argument and path checks, turned into output by <see cref="CliErrors"/>.
/// </summary>
public sealed class CliException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CliException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public CliException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with its exit code.</summary>
    public CliException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException) => ExitCode = exitCode;

    /// <summary>The process exit code (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = ExitCodes.Usage;

    /// <summary>A usage error (exit code 2).</summary>
    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    /// <summary>An input problem (exit code 3).</summary>
    public static CliException BadInput(string message, Exception? inner = null) => new(ExitCodes.BadInput, message, inner);

    /// <summary>An output problem (exit code 4).</summary>
    public static CliException OutputFailed(string message, Exception? inner = null) => new(ExitCodes.OutputFailed, message, inner);
}
