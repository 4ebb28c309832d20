namespace PtReplay.Traces.Recording;

/// <summary>
/// What a recorded trace holds, for the one-line report of `record`: events, threads, traced time,
/// file size. Read with <see cref="TraceReader"/> (streaming, bounded memory).
/// </summary>
/// <param name="LostEvents">Events the recorder could not write (disk full, file size limit): see <see cref="TraceReader.LostEvents"/>.</param>
public sealed record RecordingSummary(string Path, long Events, int Threads, long DurationNs, long FileBytes, bool Truncated, long LostEvents = 0)
{
    /// <summary>File bytes per event (header included); 0 for an empty trace.</summary>
    public double BytesPerEvent => Events == 0 ? 0 : (double)FileBytes / Events;

    /// <summary>
    /// Reads the trace at <paramref name="path"/> once (a complete single-thread recording: only its block headers and
    /// its first and last block). A multi-threaded recording of format version 5 is merged by timestamp alone: the
    /// counts and the time span do not depend on the order across threads, and the lifecycle order costs more.
    /// </summary>
    public static RecordingSummary Of(string path)
    {
        using var reader = TraceReader.Open(path);
        reader.TimestampOrderOnly = true;
        if (reader.TryQuickSpan(out long count, out long start, out long end))
        {
            return new RecordingSummary(path, count, 1, count == 0 ? 0 : end - start, reader.FileLength, false, reader.LostEvents);
        }

        var batch = new AllocEvent[8192];
        long events = 0, first = long.MaxValue, last = long.MinValue;
        int n;
        while ((n = reader.ReadBatch(batch)) > 0)
        {
            events += n;
            first = Math.Min(first, batch[0].Timestamp);
            last = Math.Max(last, batch[n - 1].Timestamp);
        }

        return new RecordingSummary(path, events, reader.ThreadTids.Count, events == 0 ? 0 : last - first,
            new FileInfo(path).Length, reader.IsTruncated, reader.LostEvents);
    }
}
