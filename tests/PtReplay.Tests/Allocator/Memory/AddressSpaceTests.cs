using PtReplay.Allocator.Memory;

namespace PtReplay.Tests.Allocator.Memory;

[Trait("Category", "Fast")]
public class AddressSpaceTests
{
    private const ulong Base = 0x7f00_0000_0000;

    [Fact]
    public void Mmap_IsTopDown_PageRounded_AndHugeMultiplesAre2MiBAligned()
    {
        var space = new AddressSpace(0x5555_0000_0000, 4096, Base);
        ulong a = space.Mmap(5000);
        ulong b = space.Mmap(4096);
        Assert.Equal(Base - 8192, a);
        Assert.Equal(a - 4096, b);
        ulong huge = space.Mmap(4UL << 20);
        Assert.Equal(0UL, huge % (2UL << 20));
        Assert.True(huge + (4UL << 20) <= b);
        Assert.Equal(8192UL + 4096 + (4UL << 20), space.MappedBytes);
    }

    [Fact]
    public void Munmap_FreesTheGap_ForTheNextMapping_AndDropsContents()
    {
        var space = new AddressSpace(0x5555_0000_0000, 4096, Base);
        ulong a = space.Mmap(4096);
        space.Memory.Write(a + 8, 42);
        Assert.True(space.Residency.IsResident(a));
        space.Munmap(a, 4096);
        Assert.False(space.Residency.IsResident(a));
        Assert.Equal(0UL, space.Memory.Read(a + 8));
        Assert.Equal(a, space.Mmap(4096));
    }

    [Fact]
    public void Mremap_GrowsInPlaceWhenFree_OtherwiseMovesContents()
    {
        var space = new AddressSpace(0x5555_0000_0000, 4096, Base);
        ulong low = space.Mmap(4096);
        ulong lower = space.Mmap(4096);
        space.Memory.Write(lower, 7);
        ulong moved = space.Mremap(lower, 4096, 3 * 4096);  // 'low' sits right above: must move
        Assert.NotEqual(lower, moved);
        Assert.Equal(7UL, space.Memory.Read(moved));
        Assert.Equal(0UL, space.Memory.Read(lower));
        space.Munmap(low, 4096);
        Assert.Equal(moved, space.Mremap(moved, 3 * 4096, 4096)); // shrink in place
    }

    [Fact]
    public void Sbrk_ShrinkDiscardsWholePagesAbove()
    {
        var space = new AddressSpace(0x5555_0000_0000, 4096, Base);
        ulong old = space.Sbrk(3 * 4096);
        Assert.Equal(0x5555_0000_0000UL, old);
        space.Memory.Write(old + 2 * 4096 + 16, 5);
        space.Memory.Write(old + 16, 6);
        space.Sbrk(-2 * 4096);
        Assert.Equal(old + 4096, space.Brk);
        Assert.Equal(0UL, space.Memory.Read(old + 2 * 4096 + 16));
        Assert.Equal(6UL, space.Memory.Read(old + 16));
        Assert.Equal(4096UL, space.Residency.CountRange(old, 3 * 4096) * 4096);
    }
}
