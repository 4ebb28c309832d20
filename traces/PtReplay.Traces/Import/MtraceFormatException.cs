namespace PtReplay.Traces.Import;

/// <summary>A line of an mtrace file does not have any of the forms glibc 2.36 writes.</summary>
public sealed class MtraceFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public MtraceFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public MtraceFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public MtraceFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for line <paramref name="line"/> of <paramref name="path"/>.</summary>
    public MtraceFormatException(string path, long line, string text, string what)
        : base($"{path}:{line}: {what}: \"{text}\"")
    {
        Path = path;
        Line = line;
    }

    /// <summary>The file.</summary>
    public string Path { get; } = "";

    /// <summary>1-based line number.</summary>
    public long Line { get; }
}
