using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Replay;

[Trait("Category", "Fast")]
public sealed class PreparationTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-prep-");

    public void Dispose() => _dir.Dispose();

    private string Out => _dir.File("t.prepared");

    [Fact]
    public void UnknownFreeAndDoubleFree_AreReportedWithTheirEventIndex_AndSkipped()
    {
        var t = new TraceBuilder()
            .Malloc(0, 100, 0x1000)      // 0
            .Free(0, 0x9999)             // 1: unknown
            .Free(0, 0x1000)             // 2
            .Free(0, 0x1000)             // 3: double free
            .Malloc(0, 10, 0x2000);      // 4

        PreparedTrace p = TracePreparer.Prepare(t.Events, Out);

        Assert.Equal(2, p.IssueCount);
        Assert.Equal(1, p.Issues[0].EventIndex);
        Assert.Equal(TraceIssueKind.UnknownPointer, p.Issues[0].Kind);
        Assert.Equal(3, p.Issues[1].EventIndex);
        Assert.Equal(TraceIssueKind.DoubleFree, p.Issues[1].Kind);
        Assert.Equal(3, p.CallCount); // the two bad frees are not replayed
        using var file = new PreparedFile(Out);
        var events = Enumerable.Range(0, (int)file.Header.OpCount).Select(i => file.EventIndex(i)).ToArray();
        Assert.Equal([0L, 2L, 4L], events);
    }

    [Fact]
    public void RecordedAddresses_StandBesideEachOp_OnlyWhenAsked()
    {
        var t = new TraceBuilder()
            .Malloc(0, 100, 0x1000)          // 0
            .Malloc(1, 50, 0x2000)           // 1
            .Realloc(1, 0x2000, 80, 0x3000)  // 2
            .Malloc(0, 1UL << 50, 0)         // 3: failed
            .Free(1, 0x1000)                 // 4: cross-thread free
            .Exit(1)                         // 5
            .Calloc(0, 4, 8, 0x4000);        // 6

        TracePreparer.Prepare(t.Events, Out);
        using (var plain = new PreparedFile(Out))
        {
            Assert.False(plain.HasRecordedAddresses);
        }

        TracePreparer.Prepare(t.Events, Out, new PreparationOptions { RecordedAddresses = true, RecordedTimes = true });
        using var file = new PreparedFile(Out);
        Assert.True(file.HasRecordedAddresses);
        int calls = 0;
        foreach (var (_, index) in file.GlobalOrder())
        {
            PreparedOp op = file.Op(index);
            bool allocates = op.Kind is >= PreparedKind.Malloc and <= PreparedKind.Pvalloc and not PreparedKind.Free;
            ulong expected = allocates ? t.Events[(int)file.EventIndex(index)].Result : 0;
            Assert.Equal(expected, file.RecordedAddress(index));
            calls += allocates ? 1 : 0;
        }

        Assert.Equal(5, calls);
    }

    [Fact]
    public void ThreadExit_IsPlacedAfterTheThreadsLastEvent_AndIssuesCiteRecordedIndices()
    {
        var t = new TraceBuilder()
            .Malloc(1, 64, 0x1000)       // 0
            .Free(1, 0x1000)             // 1: thread 1's last call
            .Malloc(0, 32, 0x2000)       // 2
            .Free(0, 0x9999)             // 3: unknown
            .Exit(1)                     // 4: written late by the recorder
            .Free(0, 0x2000);            // 5

        PreparedTrace p = TracePreparer.Prepare(t.Events, Out);
        Assert.Equal(3, p.Issues.Single().EventIndex);
        using (var file = new PreparedFile(Out))
        {
            // Distinct: a join op carries the index of the event it precedes.
            Assert.Equal([0L, 1L, 4L, 2L, 5L], file.GlobalOrder().Select(x => file.EventIndex(x.Index)).Distinct().ToArray());
        }

        TracePreparer.Prepare(t.Events, Out, new PreparationOptions { PlaceThreadExitsAtLastEvent = false });
        using (var file = new PreparedFile(Out))
        {
            Assert.Equal([0L, 1L, 2L, 4L, 5L], file.GlobalOrder().Select(x => file.EventIndex(x.Index)).Distinct().ToArray());
        }
    }

    [Fact]
    public void Strict_StopsAtTheFirstBadEvent()
    {
        var t = new TraceBuilder().Malloc(0, 8, 0x1000).Free(0, 0x1000).Free(0, 0x1000);
        var ex = Assert.Throws<TraceIssueException>(() =>
            TracePreparer.Prepare(t.Events, Out, new PreparationOptions { Strict = true }));
        Assert.Equal(2, ex.Issue.EventIndex);
        Assert.Contains("event 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossThreadFree_WaitsOnTheSlotStamp_AndSameThreadOpsDoNot()
    {
        var t = new TraceBuilder()
            .Malloc(0, 64, 0x1000)       // slot 1 on thread 0
            .Malloc(1, 32, 0x2000)       // slot 2 on thread 1
            .Free(1, 0x1000)             // cross-thread: waits for dep 1
            .Free(1, 0x2000);            // same thread: no wait
        PreparedTrace p = TracePreparer.Prepare(t.Events, Out);
        using var file = new PreparedFile(Out);
        var ops = file.GlobalOrder().Select(x => file.Op(x.Index)).ToArray();
        Assert.Equal(4, ops.Length);
        Assert.Equal(OpMarks.Wait, ops[2].Flags & OpMarks.Wait);
        Assert.Equal(1u, ops[2].Dep);
        Assert.Equal(ops[0].Slot, ops[2].Slot);
        Assert.Equal(OpMarks.None, ops[3].Flags & OpMarks.Wait);
        Assert.Equal(2, p.ThreadCount);
        Assert.Equal((ushort)1, ops[0].NextThread); // serial hand-off from thread 0 to 1
    }

    [Fact]
    public void SlotTable_IsBoundedByTheLiveSet()
    {
        var t = new TraceBuilder();
        for (ulong i = 0; i < 10_000; i++)
        {
            t.Malloc(0, 16, 0x10000 + (i * 32)).Malloc(0, 16, 0x90000000 + (i * 32)).Free(0, 0x10000 + (i * 32)).Free(0, 0x90000000 + (i * 32));
        }

        PreparedTrace p = TracePreparer.Prepare(t.Events, Out);
        Assert.Equal(0, p.IssueCount);
        Assert.Equal(3, p.SlotCount); // slot 0 (none) + two live at most
        Assert.Equal(32UL, p.PeakLiveBytes);
        Assert.Equal(0UL, p.FinalLiveBytes);
    }

    [Fact]
    public void ReallocKeepsTheSlot_AndReallocToZeroReleasesIt()
    {
        var t = new TraceBuilder()
            .Malloc(0, 10, 0x1000)
            .Realloc(0, 0x1000, 5000, 0x8000)
            .Realloc(0, 0x8000, 0, 0)
            .Free(0, 0x8000); // freed by realloc(p, 0): a double free
        PreparedTrace p = TracePreparer.Prepare(t.Events, Out);
        Assert.Equal(5000UL, p.PeakLiveBytes);
        Assert.Equal(0UL, p.FinalLiveBytes);
        Assert.Single(p.Issues);
        Assert.Equal(TraceIssueKind.DoubleFree, p.Issues[0].Kind);
        using var file = new PreparedFile(Out);
        Assert.Equal(file.Op(0).Slot, file.Op(1).Slot);
        Assert.Equal(OpMarks.Release, file.Op(2).Flags & OpMarks.Release);
    }
}
