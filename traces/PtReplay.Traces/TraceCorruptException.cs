namespace PtReplay.Traces;

/// <summary>
/// A trace file is damaged: a bad magic, a header or block CRC mismatch, an unknown codec or event kind,
/// or a payload that does not decode to what its block header says. Every event before the damaged
/// block has been delivered when the reader throws this.
/// </summary>
public sealed class TraceCorruptException : IOException
{
    /// <summary>Creates the exception.</summary>
    public TraceCorruptException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TraceCorruptException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public TraceCorruptException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for damage found at <paramref name="byteOffset"/>.</summary>
    /// <param name="path">The file (or a description of the stream) for the message.</param>
    /// <param name="byteOffset">Byte offset of the damaged block (or header) in the file.</param>
    /// <param name="eventIndex">Index of the first event the reader could not deliver (= events delivered so far); -1 for the header.</param>
    /// <param name="what">What is wrong, e.g. "block CRC mismatch (stored 0x1234abcd, computed 0x0badf00d)".</param>
    /// <param name="innerException">The decoder's exception, if any.</param>
    public TraceCorruptException(string path, long byteOffset, long eventIndex, string what, Exception? innerException = null)
        : base(Describe(path, byteOffset, eventIndex, what), innerException)
    {
        Path = path;
        ByteOffset = byteOffset;
        EventIndex = eventIndex;
        Problem = what;
    }

    /// <summary>The file (or stream description) that is damaged.</summary>
    public string Path { get; } = "";

    /// <summary>Byte offset of the damaged block, or of the damaged header part.</summary>
    public long ByteOffset { get; }

    /// <summary>Index of the first event that could not be delivered (events before it were delivered); -1 for header damage.</summary>
    public long EventIndex { get; } = -1;

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; } = "";

    private static string Describe(string path, long byteOffset, long eventIndex, string what) =>
        eventIndex < 0
            ? $"{path}: corrupt trace at byte offset {byteOffset}: {what}"
            : $"{path}: corrupt trace at byte offset {byteOffset} (event index {eventIndex}; all {eventIndex} events before it were read): {what}";
}
