using PtReplay.Replay.GcProof;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Replay.GcProof;

/// <summary>
/// The EventPipe session on the own process counts each marked window's collections from the runtime's own GC events:
/// a window that forces collections shows exactly those, a window that allocates nothing shows none, the markers
/// themselves allocate nothing, and no event is lost.
/// </summary>
[Collection(RunAlone.Name)]
[Trait("Category", "Fast")]
public sealed class GcWindowSessionTests : IDisposable
{
    private const int Busy = 101;
    private const int Quiet = 102;

    private readonly TempDir _dir = new("ptreplay-gcwindow-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ForcedCollections_AreCountedInTheirWindow_AndTheQuietWindowHasNone()
    {
        const int Forced = 3;
        using var session = GcWindowSession.Start(_dir.File("windows.nettrace"));

        // A fresh allocation budget first, so the test host's own threads are unlikely to cause a collection in the window.
        GC.Collect();
        int gc0 = GC.CollectionCount(0);
        ReplayPhaseEvents.Log.PhaseBegin(Busy, 0);
        var kept = new List<byte[]>();
        for (int i = 0; i < Forced; i++)
        {
            kept.Add(new byte[4096]);
            GC.Collect();
        }

        ReplayPhaseEvents.Log.PhaseEnd(Busy, 0);
        int busyInProcess = GC.CollectionCount(0) - gc0;
        GC.KeepAlive(kept);

        // A fresh allocation budget, so the test host's own threads (runner, logger) do not exhaust it inside the quiet window.
        GC.Collect();
        long allocated0 = GC.GetAllocatedBytesForCurrentThread();
        int gc1 = GC.CollectionCount(0);
        ReplayPhaseEvents.Log.PhaseBegin(Quiet, 0);
        ulong x = 1;
        for (int i = 0; i < 5_000_000; i++)
        {
            x = (x * 6364136223846793005UL) + 1442695040888963407UL;
        }

        ReplayPhaseEvents.Log.PhaseEnd(Quiet, 0);
        int quietInProcess = GC.CollectionCount(0) - gc1;
        long allocatedQuiet = GC.GetAllocatedBytesForCurrentThread() - allocated0;
        Assert.NotEqual(0UL, x);

        GcWindowReport report = session.Stop();

        Assert.Equal(0, report.EventsLost);
        Assert.Equal(0, report.UnclosedWindows);
        PhaseWindow busy = Assert.Single(report.Windows, w => w.Phase == Busy);
        PhaseWindow quiet = Assert.Single(report.Windows, w => w.Phase == Quiet);
        // The forced ones, and (rarely) one the test host's other threads caused meanwhile: the runtime's events must
        // count exactly what the in-process counter saw.
        Assert.InRange(busyInProcess, Forced, Forced + 1);
        Assert.Equal(busyInProcess, busy.Collections);
        Assert.Equal(0, quietInProcess);
        Assert.Equal(0, quiet.Collections);
        Assert.True(busy.EndMs <= quiet.BeginMs, "the windows are read back in the order they were marked");
        Assert.True(report.CollectionsInSession >= Forced);
        // The markers, enabled, allocate nothing: they cannot cause what they watch for.
        Assert.Equal(0, allocatedQuiet);
    }
}
