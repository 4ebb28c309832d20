using PtReplay.Allocator;

namespace PtReplay.Tests.Allocator.Diagnostics;

[Trait("Category", "Fast")]
public class HeapValidatorTests
{
    [Fact]
    public void Validate_PassesOnAHealthyHeap_AndCatchesAFreeChunkThatLostItsBin()
    {
        var model = new Ptmalloc(new ModelOptions { Tunables = PtReplay.Allocator.Tunables.MallocTunables.Parse("glibc.malloc.tcache_count=0") });
        var p = new ulong[8];
        for (int i = 0; i < p.Length; i++)
            p[i] = model.Malloc(0, 2000);
        model.Free(0, p[2]);
        model.Free(0, p[5]);
        model.Validate();
        Assert.Equal(0UL, model.UsableSize(p[2])); // free chunks have no usable size

        // Corrupt: mark p[3] free in its successor's P bit, as a stray write would; the chunk walk now sees a
        // free chunk that no bin holds (and two adjacent free chunks).
        var corrupt = new Ptmalloc(new ModelOptions());
        ulong a = corrupt.Malloc(0, 2000), b = corrupt.Malloc(0, 2000);
        _ = corrupt.Malloc(0, 2000);
        corrupt.Validate();
        corrupt.CorruptForTests(b - 16 + 8, corrupt.PeekForTests(b - 16 + 8) & ~1UL); // b's P bit: "a is free"
        var ex = Assert.Throws<InvalidOperationException>(corrupt.Validate);
        Assert.Contains("heap invariant violated", ex.Message, StringComparison.Ordinal);
        _ = a;
    }
}
