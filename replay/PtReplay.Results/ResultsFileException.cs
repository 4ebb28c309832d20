namespace PtReplay.Results;

/// <summary>A results file (summary.json, a series or latency CSV) is missing, unreadable or not of this layout; the message starts with its path.</summary>
public sealed class ResultsFileException : Exception
{
    public ResultsFileException()
    {
    }

    public ResultsFileException(string message)
        : base(message)
    {
    }

    public ResultsFileException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
