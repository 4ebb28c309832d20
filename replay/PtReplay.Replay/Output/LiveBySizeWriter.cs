using PtReplay.Replay.Preparation;
using PtReplay.Results;
using PtReplay.Traces.Analysis;

namespace PtReplay.Replay.Output;

/// <summary>
/// Writes live-by-size.csv (<see cref="LiveBySizeRow"/>): the recording's live bytes by request size class at each of the
/// prepared trace's sample points, in seq order (sample ids are not), closed by a row at the end of the trace (seq = the op
/// count, as the engines' final series sample).
/// </summary>
public static class LiveBySizeWriter
{
    /// <summary>Writes the file for <paramref name="prepared"/>; nothing when the preparation kept no class figures.</summary>
    public static void Write(string path, PreparedTrace prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (prepared.SamplesByClass.Count != prepared.Samples.Count * RequestSizeClass.Count || prepared.Samples.Count == 0)
        {
            return;
        }

        LiveBySizeCsv.Write(path, Rows(prepared));
    }

    /// <summary>The rows, in seq order.</summary>
    public static IEnumerable<LiveBySizeRow> Rows(PreparedTrace prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        int[] order = [.. Enumerable.Range(0, prepared.Samples.Count).OrderBy(i => prepared.Samples[i].Seq)];
        var byClass = new ulong[RequestSizeClass.Count];
        long lastSeq = long.MinValue;
        foreach (int id in order)
        {
            LiveSample sample = prepared.Samples[id];
            if (sample.Seq == lastSeq)
            {
                continue; // a peak sample patched onto a seq that already has one
            }

            lastSeq = sample.Seq;
            for (int c = 0; c < byClass.Length; c++)
            {
                byClass[c] = prepared.SamplesByClass[(id * RequestSizeClass.Count) + c];
            }

            yield return LiveBySizeRow.From(sample.Seq, sample.TimestampNs, byClass);
        }

        if (prepared.FinalLiveByClass.Count == RequestSizeClass.Count && lastSeq != prepared.OpCount)
        {
            yield return LiveBySizeRow.From(prepared.OpCount, prepared.FinalTimestampNs, [.. prepared.FinalLiveByClass]);
        }
    }
}
