namespace PtReplay.Reports.Input;

/// <summary>A replay output (summary.json or a CSV beside it) is missing or unreadable; the message names the file.</summary>
public sealed class ReportInputException : Exception
{
    public ReportInputException()
    {
    }

    public ReportInputException(string message)
        : base(message)
    {
    }

    public ReportInputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
