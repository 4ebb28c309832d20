using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>Exit markers move back to just after their thread's last event, within the window only.</summary>
[Trait("Category", "Fast")]
public class ThreadExitPlacementTests
{
    private static AllocEvent E(int thread, EventKind kind) => new() { Thread = thread, Kind = kind };

    [Fact]
    public void ExitMarker_MovesBehindTheThreadsLastEvent_IndicesKept()
    {
        AllocEvent[] events = [E(1, EventKind.Malloc), E(1, EventKind.Free), E(0, EventKind.Malloc), E(0, EventKind.Free), E(1, EventKind.ThreadExit), E(2, EventKind.ThreadStart)];
        var order = ThreadExitPlacement.Reorder(events).Select(x => x.Index).ToArray();
        Assert.Equal([0L, 1, 4, 2, 3, 5], order);
    }

    [Fact]
    public void ExitMarker_BeyondTheWindow_StaysWhereItIs()
    {
        AllocEvent[] events = [E(1, EventKind.Malloc), E(0, EventKind.Malloc), E(0, EventKind.Free), E(1, EventKind.ThreadExit)];
        var order = ThreadExitPlacement.Reorder(events, window: 2).Select(x => x.Index).ToArray();
        Assert.Equal([0L, 1, 2, 3], order);
    }
}
