namespace PtReplay.Traces.Import;

/// <summary>
/// An LTTng trace cannot be imported: the folder is missing or holds no CTF trace, babeltrace2 is not
/// installed or could not read the trace (damaged file), or the trace has no lttng_ust_libc events. The
/// message names the path and says what to do.
/// </summary>
public sealed class LttngImportException : IOException
{
    /// <summary>Creates the exception.</summary>
    public LttngImportException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public LttngImportException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public LttngImportException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>True when the reading program (babeltrace2) is missing or could not be started, rather than the trace being bad.</summary>
    public bool ToolCannotRun { get; init; }
}
