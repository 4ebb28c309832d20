namespace PtReplay.Traces;

/// <summary>
/// A temporary file the work needs cannot be written (no room, no permission in TMPDIR, a read-only disk): an output-side
/// failure, never a fault of the input. The message names the file and says how to give it room.
/// </summary>
public sealed class ScratchFileException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ScratchFileException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ScratchFileException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ScratchFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
