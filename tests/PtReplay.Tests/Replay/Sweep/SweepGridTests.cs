using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Sweep;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>The tunables grid of `ptreplay sweep`: suffixes, the cartesian product, and what it refuses.</summary>
public sealed class SweepGridTests
{
    [Theory]
    [Trait("Category", "Fast")]
    [InlineData("64K", 64UL << 10)]
    [InlineData("3m", 3UL << 20)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("0x10K", 16UL << 10)]
    [InlineData("010", 8UL)]
    [InlineData("4096", 4096UL)]
    public void Sizes_ReadSuffixesAsPowersOf1024(string text, ulong expected)
    {
        Assert.True(SweepGrid.TryParseSize(text, out ulong value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [Trait("Category", "Fast")]
    [InlineData("")]
    [InlineData("K")]
    [InlineData("1.5M")]
    [InlineData("-1")]
    [InlineData("1T")]
    [InlineData("17179869184G")]
    public void Sizes_RefuseWhatIsNotANumber(string text) => Assert.False(SweepGrid.TryParseSize(text, out _));

    [Fact]
    [Trait("Category", "Fast")]
    public void Points_AreEveryCombination_EachAValidTunablesString()
    {
        SweepGrid grid = SweepGrid.Parse(["glibc.malloc.arena_max=1,2,8", "glibc.malloc.mmap_threshold=64K,1M"]);
        Assert.Equal(6, grid.Count);
        var points = Enumerable.Range(0, grid.Count).Select(grid.Tunables).ToList();
        Assert.Equal(6, points.Distinct(StringComparer.Ordinal).Count());
        var combinations = new HashSet<(ulong, ulong)>();
        foreach (string point in points)
        {
            MallocTunables t = MallocTunables.ParseChecked(point);
            combinations.Add((t.Get(TunableId.ArenaMax)!.Value, t.Get(TunableId.MmapThreshold)!.Value));
        }

        var expected = from a in new ulong[] { 1, 2, 8 } from m in new ulong[] { 65536, 1048576 } select (a, m);
        Assert.True(combinations.SetEquals(expected));
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void NoAxis_IsRefused() => Assert.Throws<InvalidTunablesException>(() => SweepGrid.Parse([]));
}
