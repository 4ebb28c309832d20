using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Tests.Traces.Analysis;

/// <summary>The live-set rules (<see cref="LiveSet"/>'s comment), one event at a time, on made-up addresses.</summary>
[Trait("Category", "Fast")]
public class LiveSetTests
{
    private static AllocEvent Malloc(ulong size, ulong result) => new() { Kind = EventKind.Malloc, Size = size, Count = 1, Result = result };

    private static AllocEvent Calloc(ulong count, ulong size, ulong result) => new() { Kind = EventKind.Calloc, Size = size, Count = count, Result = result };

    private static AllocEvent Free(ulong ptr) => new() { Kind = EventKind.Free, Ptr = ptr };

    private static AllocEvent Realloc(ulong ptr, ulong size, ulong result) => new() { Kind = EventKind.Realloc, Ptr = ptr, Size = size, Count = 1, Result = result };

    private static AllocEvent ReallocArray(ulong ptr, ulong count, ulong size, ulong result) =>
        new() { Kind = EventKind.ReallocArray, Ptr = ptr, Size = size, Count = count, Result = result };

    private static void AssertChange(LiveChangeKind kind, PointerState pointer, LiveChange change)
    {
        Assert.Equal(kind, change.Kind);
        Assert.Equal(pointer, change.Pointer);
    }

    private static LiveSet With(params AllocEvent[] events)
    {
        var live = new LiveSet();
        foreach (AllocEvent e in events)
        {
            live.Apply(in e);
        }

        return live;
    }

    [Fact]
    public void ReallocToZero_ReturningNull_FreesThePointer_SoALaterFreeIsADoubleFree()
    {
        LiveSet live = With(Malloc(100, 0x1000), Malloc(7, 0x2000));

        LiveChange change = live.Apply(Realloc(0x1000, 0, 0));

        AssertChange(LiveChangeKind.Freed, PointerState.Live, change);
        Assert.Equal(100UL, change.Block.Bytes);
        Assert.Equal(7UL, live.LiveBytes);
        Assert.Equal(1, live.LiveBlocks);
        Assert.False(live.TryGetLive(0x1000, out _));
        Assert.Equal(PointerState.Freed, live.Apply(Free(0x1000)).Pointer);
    }

    [Fact]
    public void FailedRealloc_KeepsTheBlockLiveWithItsOldSize()
    {
        LiveSet live = With(Malloc(100, 0x1000));

        AssertChange(LiveChangeKind.Failed, PointerState.Live, live.Apply(Realloc(0x1000, 1UL << 40, 0)));
        Assert.Equal(100UL, live.LiveBytes);
        Assert.True(live.TryGetLive(0x1000, out LiveBlock block));
        Assert.Equal(100UL, block.Bytes);
        Assert.Equal(LiveChangeKind.Freed, live.Apply(Free(0x1000)).Kind);
        Assert.Equal(0UL, live.LiveBytes);
    }

    [Fact]
    public void FreeOfAnUnknownPointer_ChangesNothing_AndIsReportedUnknown()
    {
        LiveSet live = With(Malloc(100, 0x1000));

        LiveChange change = live.Apply(Free(0x9990));

        Assert.Equal(PointerState.Unknown, change.Pointer);
        Assert.True(change.BadPointer);
        Assert.Equal(100UL, live.LiveBytes);
        Assert.Equal(1, live.LiveBlocks);
        Assert.Equal(0, live.RememberedFrees);   // an unknown pointer is not remembered as freed
        Assert.Equal(PointerState.Unknown, live.Apply(Free(0x9990)).Pointer);
    }

    [Fact]
    public void DoubleFree_IsReportedFreed_UntilTheAddressIsReturnedAgain()
    {
        LiveSet live = With(Malloc(100, 0x1000), Free(0x1000));

        AssertChange(LiveChangeKind.Freed, PointerState.Freed, live.Apply(Free(0x1000)));
        Assert.Equal(0UL, live.LiveBytes);

        live.Apply(Malloc(30, 0x1000));
        Assert.Equal(0, live.RememberedFrees);
        LiveChange again = live.Apply(Free(0x1000));
        Assert.Equal(PointerState.Live, again.Pointer);
        Assert.Equal(30UL, again.Block.Bytes);
    }

    [Fact]
    public void FreeOfNull_AndMarkers_ChangeNothing()
    {
        LiveSet live = With(Malloc(10, 0x1000));

        Assert.Equal(default, live.Apply(Free(0)));
        Assert.Equal(default, live.Apply(new AllocEvent { Kind = EventKind.ThreadExit, Size = 42 }));
        Assert.Equal(10UL, live.LiveBytes);
    }

    [Fact]
    public void Calloc_CountsCountTimesSize_AndAnOverflowingOneFails()
    {
        var live = new LiveSet();
        live.Apply(Calloc(3, 40, 0x1000));
        Assert.Equal(120UL, live.LiveBytes);

        // 2^33 × 2^33 overflows 64 bits: glibc fails it, so a trace claiming a block is impossible and adds nothing.
        LiveChange claimed = live.Apply(Calloc(1UL << 33, 1UL << 33, 0x2000));
        Assert.Equal(LiveChangeKind.Failed, claimed.Kind);
        Assert.True(claimed.ImpossibleSize);
        Assert.False(live.TryGetLive(0x2000, out _));

        LiveChange honest = live.Apply(Calloc(1UL << 33, 1UL << 33, 0));
        Assert.Equal(LiveChangeKind.Failed, honest.Kind);
        Assert.False(honest.ImpossibleSize);
        Assert.Equal(120UL, live.LiveBytes);
        Assert.Equal(120UL, live.PeakLiveBytes);
    }

    [Fact]
    public void ReallocArray_MovesTheBlockWithCountTimesSize_AndItsTag()
    {
        var live = new LiveSet();
        live.Apply(Malloc(16, 0x1000));
        live.TagResult(7);

        LiveChange moved = live.Apply(ReallocArray(0x1000, 10, 24, 0x5000));

        Assert.Equal(LiveChangeKind.Reallocated, moved.Kind);
        Assert.Equal(new LiveBlock(16, 7), moved.Block);
        Assert.True(live.TryGetLive(0x5000, out LiveBlock block));
        Assert.Equal(new LiveBlock(240, 7), block);
        Assert.Equal(240UL, live.LiveBytes);
        Assert.Equal(PointerState.Freed, live.Apply(Free(0x1000)).Pointer);

        // reallocarray(p, 0, n) asks for 0 bytes: returning NULL it frees p, as realloc(p, 0) does.
        Assert.Equal(LiveChangeKind.Freed, live.Apply(ReallocArray(0x5000, 0, 24, 0)).Kind);
        Assert.Equal(0UL, live.LiveBytes);

        // Overflowing count × size saturates; NULL returned: a failed call, nothing freed.
        live.Apply(Malloc(8, 0x6000));
        Assert.Equal(LiveChangeKind.Failed, live.Apply(ReallocArray(0x6000, 1UL << 40, 1UL << 40, 0)).Kind);
        Assert.Equal(8UL, live.LiveBytes);
    }

    [Fact]
    public void ReallocInPlace_ReplacesTheSize_AndReallocOfNull_Allocates()
    {
        LiveSet live = With(Malloc(100, 0x1000));

        Assert.Equal(LiveChangeKind.Reallocated, live.Apply(Realloc(0x1000, 40, 0x1000)).Kind);
        Assert.Equal(40UL, live.LiveBytes);
        Assert.Equal(0, live.RememberedFrees);
        Assert.Equal(100UL, live.PeakLiveBytes);

        AssertChange(LiveChangeKind.Allocated, PointerState.None, live.Apply(Realloc(0, 64, 0x2000)));
        Assert.Equal(104UL, live.LiveBytes);
    }

    [Fact]
    public void ReallocOfAnUnknownPointer_AllocatesTheResult_AndReportsThePointer()
    {
        LiveSet live = With(Malloc(10, 0x1000), Free(0x1000));

        AssertChange(LiveChangeKind.Allocated, PointerState.Unknown, live.Apply(Realloc(0x7770, 50, 0x2000)));
        AssertChange(LiveChangeKind.Failed, PointerState.Freed, live.Apply(Realloc(0x1000, 20, 0)));
        Assert.Equal(50UL, live.LiveBytes);
    }

    [Fact]
    public void AllocationOfALiveAddress_ReplacesTheOldBlock()
    {
        LiveSet live = With(Malloc(100, 0x1000));

        LiveChange change = live.Apply(Malloc(30, 0x1000));

        Assert.True(change.ResultWasLive);
        Assert.Equal(30UL, live.LiveBytes);
        Assert.Equal(1, live.LiveBlocks);
        Assert.False(change.NewPeak);
    }

    [Fact]
    public void Peaks_AreTheMaximaAfterAnyEvent_AndNewPeakMarksTheEventsThatRaiseThem()
    {
        var live = new LiveSet();
        bool[] raised = [.. new[] { Malloc(10, 0x1000), Malloc(0, 0x2000), Free(0x1000), Malloc(5, 0x3000), Malloc(6, 0x4000), Realloc(0x4000, 1, 0x4000) }
            .Select(e => live.Apply(in e).NewPeak)];

        Assert.Equal([true, false, false, false, true, false], raised);
        Assert.Equal(11UL, live.PeakLiveBytes);
        Assert.Equal(3, live.PeakLiveBlocks);
        Assert.Equal(6UL, live.LiveBytes);
    }

    [Fact]
    public void RememberedFrees_AreForgottenAllAtOnce_WhenTheLimitIsReached()
    {
        var live = new LiveSet(rememberedFrees: 2);
        foreach (ulong a in new ulong[] { 0x1000, 0x2000, 0x3000, 0x4000 })
        {
            live.Apply(Malloc(8, a));
        }

        live.Apply(Free(0x1000));
        live.Apply(Free(0x2000));
        Assert.Equal(2, live.RememberedFrees);
        live.Apply(Free(0x3000));   // two remembered: both forgotten, then 0x3000 remembered

        Assert.Equal(1, live.RememberedFrees);
        Assert.Equal(PointerState.Unknown, live.Apply(Free(0x1000)).Pointer);
        Assert.Equal(PointerState.Freed, live.Apply(Free(0x3000)).Pointer);
        Assert.True(live.TryGetLive(0x4000, out _));
        Assert.Equal(8UL, live.LiveBytes);
    }

    /// <summary>Many addresses at once (the table grows several times): every block, size and freed mark survives.</summary>
    [Fact]
    public void GrowingTable_KeepsEveryBlockAndEveryRememberedFree()
    {
        var live = new LiveSet(expectedAddresses: 1);
        const int N = 50_000;
        for (ulong i = 1; i <= N; i++)
        {
            live.Apply(Malloc(i, i * 16));
            if (i % 2 == 0)
            {
                live.Apply(Free(i * 16));
            }
        }

        Assert.Equal(N / 2, live.LiveBlocks);
        Assert.Equal(N / 2, live.RememberedFrees);
        ulong odd = (ulong)(N / 2) * (ulong)(N / 2);   // 1 + 3 + ... + (N - 1) = (N/2)^2
        Assert.Equal(odd, live.LiveBytes);
        for (ulong i = 1; i <= N; i++)
        {
            Assert.Equal(i % 2 == 0 ? PointerState.Freed : PointerState.Live, live.Apply(Free(i * 16)).Pointer);
        }

        Assert.Equal(0UL, live.LiveBytes);
        Assert.Equal(0, live.LiveBlocks);
    }

    [Fact]
    public void LiveBytesByClass_FollowEachBlockToTheClassOfItsCurrentSize()
    {
        // Classes: <=64, <=256, <=1024, <=4096, <=32768, <=131072, <=1048576, larger.
        LiveSet live = With(
            Malloc(64, 0x1000),           // class 0 (64 is the edge: included)
            Malloc(65, 0x2000),           // class 1
            Calloc(3, 1000, 0x3000),      // 3000 B: class 3
            Malloc(2 << 20, 0x4000),      // 2 MiB: class 7
            Realloc(0x1000, 300, 0x5000), // 64 B leaves class 0, 300 B enter class 2
            Free(0x2000),                 // class 1 empties
            Free(0x9999));                // unknown pointer: nothing changes
        Assert.Equal(new ulong[] { 0, 0, 300, 3000, 0, 0, 0, 2 << 20 }, live.LiveBytesByClass.ToArray());
        Assert.Equal(live.LiveBytes, live.LiveBytesByClass.ToArray().Aggregate(0UL, (a, b) => a + b));
    }
}
