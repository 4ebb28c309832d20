namespace PtReplay.Tests.Allocator;

/// <summary>
/// A broader sweep than <see cref="PtmallocParityTests"/>: longer random scripts (single- and multi-thread,
/// with mallopt calls) under assorted tunables, all compared with the real glibc call by call.
/// </summary>
public class PtmallocBroadParityTests
{
    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int i = 300; i < 310; i++)
            data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void LongScripts_MatchGlibc(int seed)
    {
        string[] tunables = ["", "glibc.malloc.hugetlb=1", "glibc.malloc.mxfast=0", "glibc.malloc.tcache_count=20", "glibc.malloc.top_pad=0", "glibc.malloc.mmap_threshold=4096", "glibc.malloc.tcache_unsorted_limit=1"];
        var script = seed % 3 == 0
            ? ThreadScriptGenerator.Random(seed, 2 + seed % 6, 8000, 80, exits: 3)
            : ScriptGenerator.Random(seed, 10000, 400, mallopt: seed % 2 == 0);
        var outcome = ParityHarness.Run(script, tunables[seed % tunables.Length], validateEachStep: seed % 2 == 0);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Equal(outcome.Compared, outcome.Identical);
    }
}
