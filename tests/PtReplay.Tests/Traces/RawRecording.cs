using PtReplay.Traces;
using PtReplay.Traces.Format;

namespace PtReplay.Tests.Traces;

/// <summary>
/// Writes files in the recorder's layout (one run of single-thread blocks per thread, interleaved in the
/// file in a random order that keeps each thread's blocks in order) so the reader's merge can be tested
/// without the native recorder.
/// </summary>
internal static class RawRecording
{
    /// <summary>An event as written and the file offset of its block (the merge's tie-break).</summary>
    public readonly record struct Placed(AllocEvent Event, int Tid, long BlockOffset, int IndexInBlock);

    public static (byte[] File, List<Placed> Placed) Write(TraceHeader header, IReadOnlyList<(int Tid, AllocEvent[] Events)> threads, int eventsPerBlock, int seed,
        bool endBlock = true, bool timedTags = false)
    {
        var ms = new MemoryStream();
        ms.Write(HeaderCodec.Encode(header));
        var r = new Random(seed);
        int[] next = new int[threads.Count];
        var placed = new List<Placed>();
        var encoder = new BlockEncoder();
        byte[] head = new byte[BlockHeader.Size];
        while (true)
        {
            int[] open = Enumerable.Range(0, threads.Count).Where(t => next[t] < threads[t].Events.Length).ToArray();
            if (open.Length == 0)
            {
                break;
            }

            int t = open[r.Next(open.Length)];
            (int tid, AllocEvent[] events) = threads[t];
            int n = Math.Min(r.Next(1, eventsPerBlock + 1), events.Length - next[t]);
            long offset = ms.Position;
            encoder.Reset(events[next[t]].Timestamp - r.Next(0, 3), mixed: false, (uint)tid, timedTags);
            for (int i = 0; i < n; i++)
            {
                encoder.Append(events[next[t] + i], (uint)tid);
                placed.Add(new Placed(events[next[t] + i], tid, offset, i));
            }

            next[t] += n;
            byte[] payload = encoder.Buffer.AsSpan(0, encoder.Length).ToArray();
            new BlockHeader
            {
                BlockMagic = BlockHeader.Magic,
                Codec = 0,
                Flags = timedTags ? BlockHeader.FlagTimedTags : (byte)0,
                Tid = (uint)tid,
                EventCount = (uint)n,
                StoredLength = (uint)payload.Length,
                RawLength = (uint)payload.Length,
                BaseTimestamp = encoder.BaseTimestamp,
            }.WithCrc(payload).Write(head);
            ms.Write(head);
            ms.Write(payload);
        }

        if (endBlock)
        {
            new BlockHeader { BlockMagic = BlockHeader.Magic, Flags = BlockHeader.FlagEnd }.WithCrc([]).Write(head);
            ms.Write(head);
        }

        return (ms.ToArray(), placed);
    }

    /// <summary>The order the format promises: timestamp, then file order.</summary>
    public static List<Placed> MergeOrder(IEnumerable<Placed> placed) =>
        [.. placed.OrderBy(p => p.Event.Timestamp).ThenBy(p => p.BlockOffset).ThenBy(p => p.IndexInBlock)];
}
