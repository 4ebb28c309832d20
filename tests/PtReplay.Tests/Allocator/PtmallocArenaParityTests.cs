namespace PtReplay.Tests.Allocator;

/// <summary>
/// Threads and arenas against the real glibc: the driver runs its threads one at a time in the scripted
/// order, so glibc's arena choices are deterministic; chunks of non-main arenas are compared by their
/// offset inside their 64 MiB-aligned heap.
/// </summary>
public class PtmallocArenaParityTests
{
    [Theory]
    [InlineData(31, 3, "", 3)]
    [InlineData(32, 5, "glibc.malloc.arena_max=2", 2)]
    [InlineData(33, 4, "glibc.malloc.arena_max=1", 1)]
    [InlineData(34, 4, "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=3", 3)]
    public void ThreadScripts_MatchGlibc(int seed, int threads, string tunables, int expectedArenas)
    {
        var script = ThreadScriptGenerator.Random(seed, threads, 3000);
        var outcome = ParityHarness.Run(script, tunables);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Equal(outcome.Compared, outcome.Identical);
        Assert.Equal(expectedArenas, outcome.Arenas);
        if (expectedArenas > 1)
            Assert.True(outcome.Regions.GetValueOrDefault(PtReplay.Allocator.AddressRegion.ArenaHeap) > 100);
    }

    [Fact]
    public void ArenaGrowsPastOneHeap_ThenTrimsAndDeletesHeaps_MatchesGlibc()
    {
        var s = new DriverScript { Threads = 2 };
        for (int i = 0; i < 700; i++)
            s.Add(DriverOp.Malloc, i, 120_000 + (ulong)(i % 7) * 16, thread: 1);
        s.Add(DriverOp.MallInfo, 0);
        for (int i = 699; i >= 0; i -= 2)
            s.Add(DriverOp.Free, i, thread: 1);
        for (int i = 0; i < 700; i += 2)
            s.Add(DriverOp.Free, i, thread: 1);
        s.Add(DriverOp.MallInfo, 0);
        for (int i = 0; i < 50; i++)
            s.Add(DriverOp.Malloc, i, 5000, thread: 1);
        s.Add(DriverOp.ThreadExit, 0, thread: 1);
        s.Add(DriverOp.MallInfo, 0);
        var outcome = ParityHarness.Run(s);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Equal(outcome.Compared, outcome.Identical);
        Assert.Equal(2, outcome.Arenas);
    }
}
