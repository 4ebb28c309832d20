namespace PtReplay.Traces.Import;

/// <summary>
/// An LTTng trace cannot be imported: the folder is missing or holds no CTF trace, the metadata is not what
/// LTTng-UST's libc wrapper writes (or lacks the context the reader needs), a file is damaged, or the trace has
/// no lttng_ust_libc events. The message names the file (with the byte offset or event index where it applies)
/// and says what to do.
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
}
