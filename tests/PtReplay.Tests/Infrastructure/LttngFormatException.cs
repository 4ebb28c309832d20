namespace PtReplay.Tests.Infrastructure;

/// <summary>A line of babeltrace2 text does not have the form babeltrace2's pretty-printer writes.</summary>
public sealed class LttngFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public LttngFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public LttngFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public LttngFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for line <paramref name="line"/> of <paramref name="path"/>.</summary>
    public LttngFormatException(string path, long line, string text, string what)
        : base($"{path}:{line}: {what}: \"{(text.Length > 200 ? text[..200] + "..." : text)}\"")
    {
        Path = path;
        Line = line;
    }

    /// <summary>The file (or the trace folder babeltrace2 read).</summary>
    public string Path { get; } = "";

    /// <summary>1-based line number of babeltrace2's output.</summary>
    public long Line { get; }
}
