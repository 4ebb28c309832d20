namespace PtReplay.Replay.Preparation;

/// <summary>What is wrong with one trace event, as found while preparing a replay.</summary>
public enum TraceIssueKind
{
    /// <summary>free/realloc of an address that was never returned (or was already given back long ago).</summary>
    UnknownPointer,
    /// <summary>free/realloc of an address that was freed before and not returned again since.</summary>
    DoubleFree,
    /// <summary>An allocation returned an address that is still live in the trace (a free was missed): the old block is leaked.</summary>
    AddressStillLive,
    /// <summary>An event on a thread after that thread's exit marker.</summary>
    EventAfterThreadExit,
    /// <summary>The trace file ends early (no end block, or a block cut short).</summary>
    Truncated,
    /// <summary>The trace file is damaged from this event on (the events before it are replayed).</summary>
    Corrupt,
    /// <summary>More threads than the prepared format can name.</summary>
    TooManyThreads,
    /// <summary>A call the trace says succeeded asked for more bytes than any process can hold (or calloc's count × size overflowed): replayed as the failed call it must have been.</summary>
    ImpossibleSize,
}

/// <summary>
/// One problem in a trace, with the index of the event (0-based, in the reader's global order)
/// and what the replay does about it under the skip policy.
/// </summary>
/// <param name="EventIndex">Index of the offending event.</param>
/// <param name="Kind">What is wrong.</param>
/// <param name="Message">A readable description, naming the call and the address.</param>
public sealed record TraceIssue(long EventIndex, TraceIssueKind Kind, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"event {EventIndex}: {Message}";
}

/// <summary>Thrown under the strict policy at the first <see cref="TraceIssue"/>.</summary>
public sealed class TraceIssueException : Exception
{
    /// <summary>Creates the exception for an issue.</summary>
    public TraceIssueException(TraceIssue issue)
        : base($"Bad trace at event {issue.EventIndex}: {issue.Message} (--strict stops here; without it the event is skipped)")
    {
        Issue = issue;
    }

    /// <summary>Creates an exception with a message.</summary>
    public TraceIssueException() : base("Bad trace") => Issue = new TraceIssue(-1, TraceIssueKind.UnknownPointer, "bad trace");

    /// <summary>Creates an exception with a message.</summary>
    public TraceIssueException(string message) : base(message) => Issue = new TraceIssue(-1, TraceIssueKind.UnknownPointer, message);

    /// <summary>Creates an exception with a message and cause.</summary>
    public TraceIssueException(string message, Exception inner) : base(message, inner) =>
        Issue = new TraceIssue(-1, TraceIssueKind.UnknownPointer, message);

    /// <summary>The issue that stopped preparation.</summary>
    public TraceIssue Issue { get; }
}
