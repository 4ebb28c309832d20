using PtReplay.Traces;

namespace PtReplay.Tests.Traces;

/// <summary>
/// Format version 5 (traces/FORMAT.md "Order"): the threads' timestamps are hints; the reader orders the per-thread
/// blocks by the address lifecycles where the timestamps disagree with them, and reports a trace whose events admit
/// no order as corrupt at the event that cannot go. Version 2 files with the same blocks stay merged by timestamp.
/// </summary>
[Trait("Category", "Fast")]
public class LifecycleOrderTests
{
    private const int T1 = 4101;
    private const int T2 = 4102;
    private const ulong A = 0x5000_1000;
    private const ulong B = 0x5000_2000;

    private static AllocEvent Malloc(ulong size, ulong result, long ts) =>
        new() { Kind = EventKind.Malloc, Size = size, Count = 1, Result = result, Timestamp = ts };

    private static AllocEvent Free(ulong ptr, long ts) => new() { Kind = EventKind.Free, Ptr = ptr, Timestamp = ts };

    /// <summary>Writes each thread's events as one per-thread block (T1's first), the order of the real program being the one the test states.</summary>
    private static byte[] Write(bool lifecycle, params (int Tid, AllocEvent[] Events)[] threads)
    {
        var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, new TraceHeader { Pid = T1 }, TraceWriterOptions.Default, leaveOpen: true))
        {
            foreach ((int tid, AllocEvent[] events) in threads)
            {
                writer.WriteThreadBlock(tid, events);
            }

            if (lifecycle)
            {
                writer.MarkLifecycleOrder();
            }

            writer.Complete();
        }

        return stream.ToArray();
    }

    private static string Show(IEnumerable<AllocEvent> events, TraceReader reader) =>
        string.Join(" ; ", events.Select(e => $"{reader.ThreadTids[e.Thread]} {e.Kind} {e.Ptr:x}->{e.Result:x}"));

    /// <summary>
    /// The program ran: T1 malloc(32) = A; T2 (handed A) free(A); T2 malloc(32) = A again (its cache); T1 malloc(64) = B;
    /// T2 free(A). T2's first two events carry a reading from before T1's call (it had not read the clock since), so by
    /// timestamp the free comes before the malloc that returned A.
    /// </summary>
    [Fact]
    public void TimestampsAgainstLifecycles_TheReaderRepairsTheOrder()
    {
        AllocEvent[] t1 = [Malloc(32, A, 500), Malloc(64, B, 500)];
        AllocEvent[] t2 = [Free(A, 100), Malloc(32, A, 100), Free(A, 900)];
        byte[] file = Write(lifecycle: true, (T1, t1), (T2, t2));

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(TraceFormat.MultiThreadOrderVersion, reader.Header.FormatVersion);
        var events = reader.ReadAll().ToList();
        Assert.True(reader.IsLifecycleOrdered);
        Assert.True(reader.LifecycleWaits >= 1);
        Assert.Equal(0, reader.UnmatchedPointers);
        AllocEvent[] expected = [t1[0], t2[0], t2[1], t1[1], t2[2]];
        int[] expectedTids = [T1, T2, T2, T1, T2];
        Assert.True(events.Count == expected.Length, Show(events, reader));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(events[i].Kind == expected[i].Kind && events[i].Ptr == expected[i].Ptr && events[i].Result == expected[i].Result &&
                        events[i].Timestamp == expected[i].Timestamp && reader.ThreadTids[events[i].Thread] == expectedTids[i], Show(events, reader));
        }
    }

    /// <summary>The same blocks in a version 2 file are merged by timestamp, as before version 5: the free of A comes first.</summary>
    [Fact]
    public void Version2_SameBlocks_StayMergedByTimestamp()
    {
        byte[] file = Write(lifecycle: false, (T1, [Malloc(32, A, 500), Malloc(64, B, 500)]), (T2, [Free(A, 100), Malloc(32, A, 100), Free(A, 900)]));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        Assert.Equal(TraceFormat.CurrentVersion, reader.Header.FormatVersion);
        var events = reader.ReadAll().ToList();
        Assert.False(reader.IsLifecycleOrdered);
        Assert.Equal([100L, 100, 500, 500, 900], events.Select(e => e.Timestamp));
        Assert.Equal(EventKind.Free, events[0].Kind);
    }

    /// <summary>
    /// A free whose pointer no event returns (a block from before the recording) is delivered once no thread can return
    /// it any more: the other threads' next events are stamped past its bound (its thread's next reading plus the margin
    /// for unfenced reads, <see cref="TraceReader.ReadingSlackNs"/>).
    /// </summary>
    [Fact]
    public void FreeOfAPointerNoEventReturns_IsDeliveredInTimestampOrder()
    {
        const ulong foreign = 0x7000_0000;
        byte[] file = Write(lifecycle: true, (T1, [Malloc(32, A, 100), Free(A, 1_000_000)]), (T2, [Free(foreign, 200), Malloc(16, B, 300)]));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        var events = reader.ReadAll().ToList();
        Assert.Equal(4, events.Count);
        Assert.Equal(1, reader.UnmatchedPointers);
        Assert.Contains(events, e => e.Kind == EventKind.Free && e.Ptr == foreign);
        Assert.True(events.FindIndex(e => e.Ptr == foreign) < events.FindIndex(e => e.Kind == EventKind.Free && e.Ptr == A), Show(events, reader));
    }

    /// <summary>
    /// T1 allocates A then B, T2 allocates B then A, and nobody frees either: each second allocation returns an address
    /// still live, so no order exists. The reader delivers what can go, then reports the event that cannot, with the
    /// offset of its block and its index.
    /// </summary>
    [Fact]
    public void NoValidOrder_IsCorruptAtTheEventThatCannotGo()
    {
        byte[] file = Write(lifecycle: true, (T1, [Malloc(32, A, 100), Malloc(32, B, 300)]), (T2, [Malloc(32, B, 200), Malloc(32, A, 400)]));
        using TraceReader reader = TraceReader.Open(new MemoryStream(file), "cycle.trace");
        var delivered = new List<AllocEvent>();
        var ex = Assert.Throws<TraceCorruptException>(() =>
        {
            foreach (AllocEvent e in reader.ReadAll())
            {
                delivered.Add(e);
            }
        });
        Assert.Equal(2, delivered.Count);
        Assert.Equal([A, B], delivered.Select(e => e.Result));
        Assert.Equal(2, ex.EventIndex);
        Assert.Contains("still live", ex.Problem, StringComparison.Ordinal);
        Assert.Contains("cycle.trace", ex.Message, StringComparison.Ordinal);

        // Both threads wait with no later reading to bound them; the tie goes to the earlier block, T1's, the first
        // in the file: its malloc returning B (live, from T2) is the event named.
        Assert.Equal(FirstBlockOffset(file), ex.ByteOffset);
        Assert.Contains($"tid {T1}", ex.Problem, StringComparison.Ordinal);
        Assert.Contains($"0x{B:x}", ex.Problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// A contested reuse that only a later event shows to be wrong. The program ran: T3 malloc = A (handed to T4); T4
    /// frees A, takes it again, allocates B (handed to T2) and frees A; then T2, whose last reading (1.5 ms) is from
    /// before it was descheduled, takes A, frees B and A, and reads the clock again at its next call. When T4 frees A,
    /// T2's malloc (the earliest timestamp) and T4's both fit, and either thread's next event on A would release it in
    /// time, so the first guess goes by timestamp: T2's. Then T2 waits for B and T4's malloc returns a live address
    /// that no thread frees in time. The reader takes the guess back, tries the other order, and delivers the one valid
    /// order.
    /// </summary>
    [Fact]
    public void ContestedReuse_AWrongGuessIsTakenBack_TheValidOrderIsDelivered()
    {
        const int T3 = 4103;
        const int T4 = 4104;
        const ulong C = 0x5000_3000;
        const long Ms = 1_000_000;
        AllocEvent[] t1 = [Malloc(8, C + 64, 1 * Ms)];
        AllocEvent[] t2 = [Malloc(32, A, 3 * Ms / 2), Free(B, 3 * Ms / 2), Free(A, 3 * Ms / 2), Malloc(16, C, 7 * Ms)];
        AllocEvent[] t3 = [Malloc(32, A, 1 * Ms)];
        AllocEvent[] t4 = [Free(A, 2 * Ms), Malloc(32, A, 21 * Ms / 10), Malloc(48, B, 43 * Ms / 20), Free(A, 23 * Ms / 10)];
        byte[] file = Write(lifecycle: true, (T1, t1), (T2, t2), (T3, t3), (T4, t4));

        using TraceReader reader = TraceReader.Open(new MemoryStream(file));
        var events = reader.ReadAll().ToList();
        Assert.Equal(0, reader.UnmatchedPointers);
        Assert.True(reader.LifecycleBacktracks >= 1);
        string Name(AllocEvent e) => $"{reader.ThreadTids[e.Thread] - 4100}{(e.Kind == EventKind.Free ? "f" : "m")}{(e.Kind == EventKind.Free ? e.Ptr : e.Result) switch { A => "A", B => "B", _ => "C" }}";
        var order = events.Select(Name).ToList();
        // T1's block is the first in the file and its one event is independent of the others.
        order.Remove("1mC");
        Assert.Equal("3mA 4fA 4mA 4mB 4fA 2mA 2fB 2fA 2mC", string.Join(" ", order));
    }

    /// <summary>The offset of the first block: after the 16 header bytes, the header body and its CRC.</summary>
    private static long FirstBlockOffset(byte[] file) => 16 + BitConverter.ToUInt32(file, 12) + 4;
}
